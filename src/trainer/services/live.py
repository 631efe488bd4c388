"""Live sessions: the facilitator paces a module; participants follow by polling a version number.

All state is in the ``live_sessions`` row (page, question open, revealed, version), so it works with
any number of gunicorn workers and app instances sharing the database. Every change is one UPDATE
that increments ``version``; a participant's browser asks for the version (one indexed read) and
fetches its panel only when the version moved. Live answers are ordinary Answer rows in an Attempt
tied to the session, so progress, mastery and certificates count them.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from trainer.extensions import db
from trainer.models import Answer, Attempt, LiveSession, Module, User, Workshop, WorkshopParticipant
from trainer.dates import utcnow
from trainer.services import answering, player, sessions, unique

ACTIONS = ("goto", "open", "close", "reveal", "end")
_VERSION = select(LiveSession.version, LiveSession.ended_at).where(
    LiveSession.id == bindparam("sid"),
    select(WorkshopParticipant.id).where(WorkshopParticipant.workshop_id == LiveSession.workshop_id,
                                         WorkshopParticipant.user_id == bindparam("uid")).exists(),
    sessions.usable(bindparam("uid"), bindparam("token_hash"), bindparam("now")))


class LiveError(ValueError):
    """The action cannot be taken now; the message is shown (Japanese)."""


def start(workshop: Workshop, module_id: str, user: User) -> LiveSession:
    if module_id not in {m.module_id for m in workshop.modules}:
        raise LiveError("この研修会で使うモジュールを選んでください。")
    earlier = db.session.scalar(select(LiveSession.seed).where(
        LiveSession.workshop_id == workshop.id, LiveSession.module_id == module_id, LiveSession.seed.is_not(None))
        .order_by(LiveSession.id.desc()).limit(1))  # a restart keeps the room's order of options
    session = LiveSession(workshop_id=workshop.id, module_id=module_id, started_by_id=user.id,
                          seed=earlier or player.new_seed())
    db.session.add(session)
    db.session.flush()
    return session


def session_for_participant(session_id: int, user_id: int) -> LiveSession | None:
    """The session, if the user takes part in its workshop (one query)."""
    stmt = select(LiveSession).where(LiveSession.id == session_id, select(WorkshopParticipant.id).where(
        WorkshopParticipant.workshop_id == LiveSession.workshop_id, WorkshopParticipant.user_id == user_id).exists())
    return db.session.scalar(stmt)


def version_of(session_id: int, user_id: int, token: str) -> tuple[int, bool] | None:
    """(version, ended) — the cheap read participants poll, one indexed query; None unless the user
    takes part and ``token`` is a valid sign-in of theirs (not logged out, not expired, the account
    active and without a pending password change)."""
    params = {"sid": session_id, "uid": user_id, "token_hash": sessions.token_hash(token), "now": utcnow()}
    row = db.session.connection().execute(_VERSION, params).first()
    return None if row is None else (row.version, row.ended_at is not None)


def successor(session_id: int) -> int | None:
    """The live session now running in the same workshop, if this one has ended (a restart): the
    participants' pages move to it by themselves."""
    ended = db.session.get(LiveSession, session_id)
    if ended is None or ended.ended_at is None:
        return None
    stmt = (select(LiveSession.id).where(LiveSession.workshop_id == ended.workshop_id, LiveSession.ended_at.is_(None),
                                         LiveSession.id != ended.id)
            .order_by(LiveSession.started_at.desc(), LiveSession.id.desc()).limit(1))
    return db.session.scalar(stmt)


def change(session: LiveSession, action: str, page: int | None = None) -> None:
    """Apply one facilitator action atomically and bump the version."""
    if session.ended_at is not None:
        raise LiveError("このライブ進行は終了しています。")
    pages = player.pages(db.session.get(Module, session.module_id))
    values: dict[str, Any] = {"version": LiveSession.version + 1}
    if action == "goto":
        if page is None or not 0 <= page < len(pages):
            raise LiveError("そのページはありません。")
        values |= {"page": page, "question_open": False, "revealed": False}
    elif action in ("open", "close", "reveal"):
        if pages[session.page].question is None:
            raise LiveError("このページには問いがありません。")
        values |= {"open": {"question_open": True, "revealed": False}, "close": {"question_open": False},
                   "reveal": {"question_open": False, "revealed": True}}[action]
    elif action == "end":
        values |= {"question_open": False, "ended_at": utcnow()}
    else:
        raise LiveError("その操作はできません。")
    db.session.execute(update(LiveSession).where(LiveSession.id == session.id).values(**values))
    db.session.expire(session)


def resume(session: LiveSession) -> None:
    """Run an ended session again from where it stopped (a mis-click on 「終了」 costs nothing)."""
    if session.ended_at is None:
        raise LiveError("このライブ進行は終了していません。")
    db.session.execute(update(LiveSession).where(LiveSession.id == session.id)
                       .values(ended_at=None, question_open=False, version=LiveSession.version + 1))
    db.session.expire(session)




def participant_attempt(session: LiveSession, user: User) -> Attempt:
    """The participant's attempt for this session: their own from an earlier live session of the
    same module in this workshop if it is unfinished (a restarted session continues it: nobody is
    left with a dangling attempt), else a new one on first join (safe against a race)."""
    stmt = select(Attempt).where(Attempt.live_session_id == session.id, Attempt.user_id == user.id)
    attempt = db.session.scalar(stmt)
    if attempt is not None:
        return attempt
    carried = db.session.scalar(
        select(Attempt).where(Attempt.user_id == user.id, Attempt.module_id == session.module_id,
                              Attempt.workshop_id == session.workshop_id, Attempt.completed_at.is_(None))
        .order_by(Attempt.number.desc()).limit(1))
    if carried is not None:
        carried.live_session_id = session.id
        db.session.flush()
        return carried
    for _ in range(3):
        number = (db.session.scalar(select(func.max(Attempt.number)).where(
            Attempt.user_id == user.id, Attempt.module_id == session.module_id)) or 0) + 1
        try:
            with unique.savepoint():
                attempt = Attempt(user_id=user.id, module_id=session.module_id, number=number,
                                  workshop_id=session.workshop_id, live_session_id=session.id, seed=session.seed)
                db.session.add(attempt)
            return attempt
        except IntegrityError:
            existing = db.session.scalar(stmt)
            if existing is not None:
                return existing
    raise LiveError("参加の記録に失敗しました。もう一度お試しください。")


def submit(session: LiveSession, attempt: Attempt, raw: dict[str, Any], token: str, version_id: int | None) -> bool:
    """Store a live answer (once) while the question is open."""
    if session.ended_at is not None or not session.question_open:
        raise LiveError("この問いの回答は締め切られました。")
    row = answering.load_attempt(attempt.id, attempt.user_id)
    version, total = answering.page_version(row, session.page, version_id, paced=True)
    created = answering.answer(row, session.page, version, total, raw, token)
    return created


@dataclass
class Stats:
    """What the facilitator and the projector see. Anonymous: counts and texts, no names."""

    joined: int
    answered: int
    question_type: str | None
    counts: dict[str, int] = field(default_factory=dict)
    wall: list[tuple[int, str, bool]] = field(default_factory=list)  # (answer id, text, hidden)
    ratings: dict[str, float] = field(default_factory=dict)
    ordering: dict[str, float] = field(default_factory=dict)  # mean rank per item


def stats(session: LiveSession, include_hidden: bool = False) -> Stats:
    page = player.pages(db.session.get(Module, session.module_id))[session.page]
    joined = db.session.scalar(select(func.count()).select_from(Attempt).where(Attempt.live_session_id == session.id))
    if page.question is None:
        return Stats(joined, 0, None)
    rows = db.session.execute(
        select(Answer.id, Answer.response, Answer.hidden).join(Attempt, Attempt.id == Answer.attempt_id)
        .where(Attempt.live_session_id == session.id, Answer.question_id == page.question.id)
        .order_by(Answer.id)).all()
    result = Stats(joined, len(rows), page.question.type)
    _tally(result, rows, include_hidden)
    return result


def _tally(result: Stats, rows, include_hidden: bool) -> None:
    counts: Counter = Counter()
    ranks: dict[str, list[int]] = {}
    ratings: dict[str, list[int]] = {}
    for answer_id, response, hidden in rows:
        if result.question_type == "single":
            counts[response["choice"]] += 1
        elif result.question_type == "multiple":
            counts.update(response["choices"])
        elif result.question_type == "ordering":
            for rank, cid in enumerate(response["order"], start=1):
                ranks.setdefault(cid, []).append(rank)
        elif result.question_type == "reflection" and (include_hidden or not hidden):
            result.wall.append((answer_id, response["text"], hidden))
        elif result.question_type == "self_rating":
            for point, value in response["ratings"].items():
                ratings.setdefault(point, []).append(value)
    result.counts = dict(counts)
    result.ordering = {cid: round(sum(v) / len(v), 2) for cid, v in ranks.items()}
    result.ratings = {p: round(sum(v) / len(v), 2) for p, v in ratings.items()}


def hide(session: LiveSession, answer_id: int, hidden: bool = True) -> None:
    """Moderate the anonymous wall: hide (or show again) one reflection of this session."""
    answer = db.session.get(Answer, answer_id)
    attempt = db.session.get(Attempt, answer.attempt_id) if answer else None
    if attempt is None or attempt.live_session_id != session.id:
        raise LiveError("その投稿はこのライブ進行のものではありません。")
    answer.hidden = hidden
    db.session.execute(update(LiveSession).where(LiveSession.id == session.id)
                       .values(version=LiveSession.version + 1))


def sessions_of(workshop: Workshop) -> list[LiveSession]:
    stmt = select(LiveSession).where(LiveSession.workshop_id == workshop.id).order_by(LiveSession.started_at.desc())
    return list(db.session.scalars(stmt))
