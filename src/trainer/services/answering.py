"""The answer hot path, in SQLAlchemy Core with statements built once.

Three to five short statements and one commit per answer: read the attempt with its module's
content hash, insert the answer (ignored when the unique key exists: a double click, a resubmitted
form, a retry), then — only when it was new — update the attempt and check for completion. Module
outlines and question versions are immutable once imported and come from player's process cache.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from trainer.extensions import db
from trainer.models import Answer, Attempt, Module, Question, QuestionVersion
from trainer.dates import utcnow
from trainer.services import grading, mastery, player

_ATTEMPT = (
    select(Attempt.id, Attempt.user_id, Attempt.position, Attempt.completed_at, Attempt.last_activity_at,
           Attempt.seconds_spent, Module.id.label("module_id"), Module.content_hash, Module.retired_at)
    .join(Module, Module.id == Attempt.module_id).where(Attempt.id == bindparam("attempt_id"))
)
# RETURNING tells whether a row was inserted: psycopg 3 reports rowcount -1 for this statement.
_INSERT = {
    name: dialect.insert(Answer).on_conflict_do_nothing(index_elements=["attempt_id", "question_id"])
    .returning(Answer.id)
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}
_TOUCH = (update(Attempt).where(Attempt.id == bindparam("b_id"))
          .values(position=bindparam("b_position"), last_activity_at=bindparam("b_now"),
                  seconds_spent=bindparam("b_seconds")))
_TALLY = select(func.count(), func.avg(Answer.score)).where(Answer.attempt_id == bindparam("attempt_id"))
_COMPLETE = (update(Attempt).where(Attempt.id == bindparam("b_id"), Attempt.completed_at.is_(None))
             .values(completed_at=bindparam("b_now"), score=bindparam("b_score")))


class NotFound(LookupError):
    """No such attempt for this trainee, or a page that cannot be answered now."""


@dataclass(frozen=True)
class AttemptRow:
    id: int
    user_id: int
    position: int
    completed_at: datetime | None
    last_activity_at: datetime
    seconds_spent: int
    module_id: str
    content_hash: str


def load_attempt(attempt_id: int, user_id: int) -> AttemptRow:
    row = db.session.connection().execute(_ATTEMPT, {"attempt_id": attempt_id}).first()
    if row is None or row.user_id != user_id or row.retired_at is not None:
        raise NotFound
    return AttemptRow(row.id, row.user_id, row.position, row.completed_at, row.last_activity_at,
                      row.seconds_spent, row.module_id, row.content_hash)


def page_version(attempt: AttemptRow, index: int, version_id: int | None,
                 *, paced: bool = False) -> tuple[player.VersionData, int]:
    """The question version on page ``index`` (if the trainee may answer it) and the question count.

    ``paced``: a live session sets the page, so it need not be within the trainee's own reach.
    """
    shape = player.outline_for(attempt.module_id, attempt.content_hash)
    reachable = paced or attempt.completed_at is not None or index <= attempt.position
    if not 0 <= index < len(shape.question_ids) or shape.question_ids[index] is None or not reachable:
        raise NotFound
    return player.version_data(shape.question_ids[index], version_id), shape.total


_REFLECTIONS = (select(func.count()).select_from(Answer).join(QuestionVersion, QuestionVersion.id == Answer.version_id)
                .where(Answer.user_id == bindparam("uid"), Answer.created_at >= bindparam("since"),
                       QuestionVersion.type == "reflection"))


def check_reflection_limit(user_id: int) -> None:
    """Free text is what floods a wall or a record: at most REFLECTIONS_PER_HOUR per trainee."""
    per_hour = current_app.config["REFLECTIONS_PER_HOUR"]
    recent = db.session.connection().execute(_REFLECTIONS, {"uid": user_id, "since": utcnow() - timedelta(hours=1)}).scalar()
    if recent >= per_hour:
        raise grading.ResponseError(f"振り返りは1時間に{per_hour}件まで書けます。しばらく時間をおいてから書いてください。")


def store(attempt_id: int, user_id: int, version: player.VersionData, response: dict[str, Any],
          result: grading.Grade, token: str, now: datetime) -> bool:
    """Insert the answer once (unique attempt + question); True when it is new."""
    conn = db.session.connection()
    inserted = conn.execute(_INSERT[conn.dialect.name], {
        "attempt_id": attempt_id, "user_id": user_id, "question_id": version.question_id,
        "version_id": version.id, "token": token[:64], "response": response, "score": result.score,
        "rating": result.rating, "hidden": False, "created_at": now,
    }).first()
    if inserted is not None and result.score is not None:  # the reviewers' summary: rebuilt off the request
        mastery.mark_dirty(conn, user_id, now)
    return inserted is not None


def answer(attempt: AttemptRow, index: int, version: player.VersionData, total: int,
           raw: dict[str, Any], token: str) -> bool:
    """Store the answer once; returns True when it was new. Raises grading.ResponseError."""
    return answer_and_read(attempt, index, version, total, raw, token)[0]


def answer_and_read(attempt: AttemptRow, index: int, version: player.VersionData, total: int,
                    raw: dict[str, Any], token: str, *, read: bool = False) -> tuple[bool, Any]:
    """``answer``; with ``read``, also the attempt with its answers as this transaction leaves them
    (player.attempt_with_answers), read in place of the count of answers — the page that shows the
    feedback needs them, so it does not read them again. None when they were not read: the answer
    was already stored, the attempt was already complete, or this answer completed it."""
    response = grading.validate(version.type, version.data, raw)
    if version.type == "reflection":
        check_reflection_limit(attempt.user_id)
    result = grading.grade(version.type, version.data, response)
    now = utcnow()
    if not store(attempt.id, attempt.user_id, version, response, result, token, now):
        return False, None
    conn = db.session.connection()
    gap = (now - attempt.last_activity_at).total_seconds()
    seconds = attempt.seconds_spent + (int(gap) if gap <= player.IDLE_GAP.total_seconds() else 0)
    conn.execute(_TOUCH, {"b_id": attempt.id, "b_position": max(attempt.position, index), "b_now": now,
                          "b_seconds": seconds})
    found = None
    if attempt.completed_at is None:
        if read:
            found = player.attempt_with_answers(attempt.id)
            if found is not None and len(found[1]) < total:
                return True, found
            found = None  # the last answer: the score from the database's own average, as below
        answered, mean = conn.execute(_TALLY, {"attempt_id": attempt.id}).one()
        if answered >= total:
            score = round(mean * 100, 1) if mean is not None else None
            conn.execute(_COMPLETE, {"b_id": attempt.id, "b_now": now, "b_score": score})
    return True, found


def submit(attempt: Attempt, question: Question, raw: dict[str, Any], token: str,
           version_id: int | None = None) -> tuple[Answer, bool]:
    """The same, for callers holding ORM objects (services, tests). Returns (answer, created)."""
    version = player.version_data(question.id, version_id)
    response = grading.validate(version.type, version.data, raw)
    if version.type == "reflection":
        check_reflection_limit(attempt.user_id)
    result = grading.grade(version.type, version.data, response)
    now = utcnow()
    created = store(attempt.id, attempt.user_id, version, response, result, token, now)
    if created:
        player.touch(attempt, now)
    stmt = select(Answer).where(Answer.attempt_id == attempt.id, Answer.question_id == question.id)
    return db.session.scalar(stmt), created
