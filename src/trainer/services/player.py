"""The guided player: pages of a module, attempts, answers (once each), completion.

A module is a sequence of pages: one per question, and one for a step with text but no question.
``Attempt.position`` is the page the trainee is on, so they resume exactly where they were.
"""
from __future__ import annotations

import random
import secrets
from collections import namedtuple
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, func, select

from trainer.extensions import db
from trainer.models import Answer, Attempt, Module, ModuleStep, Question, QuestionVersion, User
from trainer.dates import utcnow
from trainer.services import unique

#: Gaps longer than this between two actions are not counted as time spent.
IDLE_GAP = timedelta(minutes=10)


@dataclass(frozen=True)
class Page:
    index: int
    step: ModuleStep
    question: Question | None


def pages(module: Module) -> list[Page]:
    """The pages of a module, with their (non-retired) questions loaded in one query."""
    keys = [k for step in module.steps for k in step.question_keys]
    questions = {q.key: q for q in db.session.scalars(
        select(Question).where(Question.key.in_(keys), Question.retired_at.is_(None)))} if keys else {}
    out: list[Page] = []
    for step in module.steps:
        step_questions = [questions[k] for k in step.question_keys if k in questions]
        for question in step_questions or [None]:
            out.append(Page(len(out), step, question))
    return out


def new_seed() -> int:
    """A random order for a new attempt or live session."""
    return secrets.randbelow(2**31 - 1) + 1


def presented(data: dict[str, Any], seed: int | None, key: str) -> dict[str, Any]:
    """The version's data with its options (single, multiple) or items to order in the attempt's
    own order: the same ``seed`` always gives the same order, so a reload, a resume, the feedback
    and any later review show what was shown first. ``seed`` None (older attempts): file order."""
    choices = data.get("choices")
    if seed is None or not choices:
        return data
    order = list(choices)
    random.Random(f"{seed}:{key}").shuffle(order)
    return {**data, "choices": order}


def question_count(module: Module) -> int:
    return sum(1 for p in pages(module) if p.question is not None)


def latest_attempt(user: User, module_id: str) -> Attempt | None:
    stmt = select(Attempt).where(Attempt.user_id == user.id, Attempt.module_id == module_id)
    return db.session.scalar(stmt.order_by(Attempt.number.desc()).limit(1))


def attempts_of(user: User, module_id: str) -> list[Attempt]:
    stmt = select(Attempt).where(Attempt.user_id == user.id, Attempt.module_id == module_id)
    return list(db.session.scalars(stmt.order_by(Attempt.number)))


def start(user: User, module: Module, *, retake: bool = False) -> Attempt:
    """Continue the attempt in progress, or begin a new one (a new one after a finished attempt
    only when ``retake``). Two concurrent starts (a double click) give one attempt."""
    seen: list[Attempt | None] = []

    def find() -> Attempt | None:
        latest = latest_attempt(user, module.id)
        seen.append(latest)
        if latest is not None and (latest.completed_at is None or not retake):
            return latest  # an unfinished attempt is continued, never abandoned
        return None

    def create() -> Attempt:
        latest = seen[-1]
        return Attempt(user_id=user.id, module_id=module.id, number=(latest.number + 1) if latest else 1,
                       seed=new_seed())

    attempt, _ = unique.find_or_create(find, create)
    return attempt


#: A read-only copy of an attempt row and of an answer row (what the player page shows): named tuples,
#: built from the row's own tuple (no per-field work; they are read in every player request).
AttemptRecord = namedtuple("AttemptRecord", [c.name for c in Attempt.__table__.c])
AnswerRecord = namedtuple("AnswerRecord", [c.name for c in Answer.__table__.c])
_ATTEMPT_COLUMNS = len(Attempt.__table__.c)
_ANSWER_ID = _ATTEMPT_COLUMNS + [c.name for c in Answer.__table__.c].index("id")
_ATTEMPT_WITH_ANSWERS = (
    select(*Attempt.__table__.c, *(c.label(f"answer_{c.name}") for c in Answer.__table__.c))
    .outerjoin(Answer, Answer.attempt_id == Attempt.id).where(Attempt.id == bindparam("attempt_id"))
)


def attempt_with_answers(attempt_id: int) -> tuple[Any, dict[int, Any]] | None:
    """An attempt and its answers by question, in one statement (the player page's only read besides
    the user), as read-only records; None when there is no such attempt."""
    rows = db.session.connection().execute(_ATTEMPT_WITH_ANSWERS, {"attempt_id": attempt_id}).all()  # Core: no ORM step
    if not rows:
        return None
    attempt = AttemptRecord._make(tuple(rows[0])[:_ATTEMPT_COLUMNS])
    answers = {}
    for row in rows:
        if row[_ANSWER_ID] is not None:
            answer = AnswerRecord._make(tuple(row)[_ATTEMPT_COLUMNS:])
            answers[answer.question_id] = answer
    return attempt, answers


def answers_by_question(attempt: Attempt) -> dict[int, Answer]:
    rows = db.session.scalars(select(Answer).where(Answer.attempt_id == attempt.id))
    return {a.question_id: a for a in rows}


def reachable(attempt: Attempt, all_pages: list[Page], answered: set[int]) -> int:
    """The furthest page index the trainee may open: nothing after the first unanswered question."""
    for page in all_pages:
        if page.question is not None and page.question.id not in answered:
            return max(page.index, attempt.position) if attempt.completed_at else page.index
    return len(all_pages) - 1


def version_for(question: Question, version_id: int | None) -> QuestionVersion:
    """The version the trainee saw (if it is one of this question's), else the current one."""
    if version_id:
        version = db.session.get(QuestionVersion, version_id)
        if version is not None and version.question_id == question.id:
            return version
    return question.current_version


def touch(attempt: Attempt, now) -> None:
    """Note activity: add the gap since the last action to the time spent, unless it was idle."""
    gap = now - attempt.last_activity_at
    if gap <= IDLE_GAP:
        attempt.seconds_spent += int(gap.total_seconds())
    attempt.last_activity_at = now


def finish_if_complete(attempt: Attempt, module: Module) -> bool:
    """Mark the attempt completed (with its score) once every question is answered."""
    return finish_if_all_answered(attempt, outline(module).total)


def move_to(attempt: Attempt, index: int, last_index: int) -> None:
    attempt.position = max(0, min(index, last_index))
    touch(attempt, utcnow())


# --- the answer hot path -------------------------------------------------------------------
# Content rows are immutable once imported (a changed question gets a new version; a changed module
# gets a new content hash), so their shape can be cached per process without any live state.

@dataclass(frozen=True)
class Outline:
    """Per page, the question id (or None); and how many questions the module has."""

    question_ids: tuple[int | None, ...]
    total: int


@dataclass(frozen=True)
class VersionData:
    id: int
    question_id: int
    type: str
    data: dict[str, Any]


def app_cache(name: str) -> dict:
    """A per-application cache of immutable content (separate apps, e.g. in tests, never share it)."""
    return current_app.extensions.setdefault("trainer_cache", {}).setdefault(name, {})


def outline(module: Module) -> Outline:
    return outline_for(module.id, module.content_hash, module)


def outline_for(module_id: str, content_hash: str, module: Module | None = None) -> Outline:
    """The cached outline of a module version (loads the module only on a cache miss)."""
    key = (module_id, content_hash)
    outlines = app_cache("outlines")
    cached = outlines.get(key)
    if cached is None:
        from trainer.services import content_views

        snapshot = content_views.current()  # usually no query: the user loader read the release id
        known = snapshot.module(module_id)
        if known is not None and known.content_hash == content_hash:
            ids = tuple(p.question.id if p.question else None for p in snapshot.pages[module_id])
        else:
            module = module or db.session.get(Module, module_id)
            ids = tuple(p.question.id if p.question else None for p in pages(module))
        cached = Outline(ids, sum(1 for i in ids if i is not None))
        if len(outlines) > 1000:
            outlines.clear()
        outlines[key] = cached
    return cached


def clear_caches() -> None:
    """Forget the app's cached content (tests that rebuild the database call this; in a running
    deployment ids are never reused, since versions and modules are never deleted)."""
    current_app.extensions.pop("trainer_cache", None)


def version_data(question_id: int, version_id: int | None) -> VersionData:
    """The version the trainee saw if it belongs to the question, else the current one (cached)."""
    versions = app_cache("versions")
    if version_id and version_id in versions and versions[version_id].question_id == question_id:
        return versions[version_id]
    from trainer.services import content_views

    snapshot = content_views.current()  # usually no query: the user loader read the release id
    if question_id in snapshot.current_versions:
        version = snapshot.version_of(question_id, version_id)
    else:
        version = version_for(db.session.get(Question, question_id), version_id)
    found = VersionData(version.id, version.question_id, version.type, version.data)
    if len(versions) > 5000:
        versions.clear()
    versions[found.id] = found
    return found


def has_answer(attempt: Attempt, question_id: int) -> bool:
    stmt = select(Answer.id).where(Answer.attempt_id == attempt.id, Answer.question_id == question_id)
    return db.session.scalar(stmt.limit(1)) is not None


def finish_if_all_answered(attempt: Attempt, total: int) -> bool:
    """Complete the attempt when ``total`` answers are stored (one count query)."""
    if attempt.completed_at is not None:
        return True
    stmt = select(func.count(), func.avg(Answer.score)).where(Answer.attempt_id == attempt.id)
    answered, mean = db.session.execute(stmt).one()
    if answered < total:
        return False
    attempt.completed_at = utcnow()
    attempt.score = round(mean * 100, 1) if mean is not None else None
    return True
