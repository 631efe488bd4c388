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

from flask import g
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from trainer.extensions import db
from trainer.content.schema import QUESTION_TYPE_LABELS
from trainer.models import (Answer, Attempt, LiveSession, Module, Point, Role, User, UserRole, Workshop,
                            WorkshopParticipant)
from trainer.dates import utcnow
from trainer.services import answering, content_views, disclosure, player, sessions, unique

ACTIONS = ("goto", "open", "close", "reveal", "wall_open", "wall_close", "end")
#: a post's wall state (answers.wall): not offered / offered, waiting / on the wall / taken off
WALL_NONE, WALL_QUEUED, WALL_SHOWN, WALL_HIDDEN = "none", "queued", "shown", "hidden"
WALL_LABELS = {WALL_QUEUED: "確認待ち", WALL_SHOWN: "投影中", WALL_HIDDEN: "投影しない"}
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


@dataclass(frozen=True)
class Seat:
    """A participant in a live session, as one statement found them (``seat``): the session, their
    attempt in it (None before they joined) and their answers in that attempt by question."""

    session: LiveSession
    user_id: int
    attempt_id: int | None
    answers: dict[int, Answer]

    @property
    def attempt(self) -> "AttemptRef":
        return AttemptRef(self.attempt_id, self.user_id)


@dataclass(frozen=True)
class AttemptRef:
    """What ``submit`` needs of an attempt (an Attempt row does as well)."""

    id: int
    user_id: int


_SEAT = (select(LiveSession, Attempt.id.label("attempt_id"), Answer, content_views.RELEASE_ID.label("release"))
         .outerjoin(Attempt, (Attempt.live_session_id == LiveSession.id) & (Attempt.user_id == bindparam("uid")))
         .outerjoin(Answer, Answer.attempt_id == Attempt.id)
         .where(LiveSession.id == bindparam("sid"),
                select(WorkshopParticipant.id).where(WorkshopParticipant.workshop_id == LiveSession.workshop_id,
                                                     WorkshopParticipant.user_id == bindparam("uid")).exists(),
                select(UserRole.id).where(UserRole.user_id == bindparam("uid"), UserRole.role == str(Role.TRAINEE)).exists(),
                sessions.usable(bindparam("uid"), bindparam("token_hash"), bindparam("now"))))


def seat(session_id: int, user_id: int, token: str) -> Seat | None:
    """The participant's seat in one statement, which is also the whole access check: the sign-in
    ``token`` is valid and theirs (not logged out, not expired, the account active and without a
    pending password change), they hold the trainee role and take part in the session's workshop.
    None otherwise. Their answers in the attempt (a module's handful) come along, so the panel needs
    no further query; the newest content release too (the key of the content cache)."""
    params = {"sid": session_id, "uid": user_id, "token_hash": sessions.token_hash(token), "now": utcnow()}
    rows = db.session.execute(_SEAT, params).all()
    if not rows:
        return None
    g.content_release = rows[0].release
    answers = {row.Answer.question_id: row.Answer for row in rows if row.Answer is not None}
    return Seat(rows[0].LiveSession, user_id, rows[0].attempt_id, answers)


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
        values |= {"page": page, "question_open": False, "revealed": False, "question_closed": False, "wall_open": False}
    elif action in ("open", "close", "reveal"):
        if pages[session.page].question is None:
            raise LiveError("このページには問いがありません。")
        values |= {"open": {"question_open": True, "revealed": False, "question_closed": False},
                   "close": {"question_open": False, "question_closed": True},
                   "reveal": {"question_open": False, "revealed": True, "question_closed": True}}[action]
    elif action in ("wall_open", "wall_close"):
        question = pages[session.page].question
        if question is None or question.type != "reflection":
            raise LiveError("振り返りの壁は、振り返り（記述）の問いでだけ使えます。")
        values |= {"wall_open": action == "wall_open"}
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




def participant_attempt(session: LiveSession, user: User | int) -> Attempt:
    """The participant's attempt for this session: their own from an earlier live session of the
    same module in this workshop if it is unfinished (a restarted session continues it: nobody is
    left with a dangling attempt), else a new one on first join (safe against a race). ``user``: the
    User or their id."""
    user_id = user if isinstance(user, int) else user.id
    stmt = select(Attempt).where(Attempt.live_session_id == session.id, Attempt.user_id == user_id)
    attempt = db.session.scalar(stmt)
    if attempt is not None:
        return attempt
    carried = db.session.scalar(
        select(Attempt).where(Attempt.user_id == user_id, Attempt.module_id == session.module_id,
                              Attempt.workshop_id == session.workshop_id, Attempt.completed_at.is_(None))
        .order_by(Attempt.number.desc()).limit(1))
    if carried is not None:
        carried.live_session_id = session.id
        db.session.flush()
        return carried
    for _ in range(3):
        number = (db.session.scalar(select(func.max(Attempt.number)).where(
            Attempt.user_id == user_id, Attempt.module_id == session.module_id)) or 0) + 1
        try:
            with unique.savepoint():
                attempt = Attempt(user_id=user_id, module_id=session.module_id, number=number,
                                  workshop_id=session.workshop_id, live_session_id=session.id, seed=session.seed)
                db.session.add(attempt)
            return attempt
        except IntegrityError:
            existing = db.session.scalar(stmt)
            if existing is not None:
                return existing
    raise LiveError("参加の記録に失敗しました。もう一度お試しください。")


def submit(session: LiveSession, attempt: Attempt | AttemptRef, raw: dict[str, Any], token: str, version_id: int | None,
           to_wall: bool = False) -> bool:
    """Store a live answer (once) while the question is open. A reflection goes to the wall's
    moderation queue only when the facilitator opened the wall for this question AND its author
    ticked the consent box for this post (``to_wall``); it is shown only when a facilitator shows it."""
    if session.ended_at is not None or not session.question_open:
        raise LiveError("この問いの回答は締め切られました。")
    row = answering.load_attempt(attempt.id, attempt.user_id)
    version, total = answering.page_version(row, session.page, version_id, paced=True)
    created = answering.answer(row, session.page, version, total, raw, token)
    if created and to_wall and session.wall_open and version.type == "reflection":
        db.session.execute(update(Answer).where(Answer.attempt_id == attempt.id, Answer.question_id == version.question_id,
                                                Answer.wall == WALL_NONE).values(wall=WALL_QUEUED))
        _bump(session)
    return created


def own_answer(attempt_id: int, question_id: int) -> Answer | None:
    return db.session.scalar(select(Answer).where(Answer.attempt_id == attempt_id, Answer.question_id == question_id))


def _bump(session: LiveSession) -> None:
    db.session.execute(update(LiveSession).where(LiveSession.id == session.id).values(version=LiveSession.version + 1))
    db.session.expire(session)


@dataclass
class Stats:
    """What the facilitator and the projector see. Anonymous: counts and texts, no names."""

    joined: int
    answered: int
    question_type: str | None
    counts: dict[str, int] = field(default_factory=dict)
    wall: list[tuple[int, str, str]] = field(default_factory=list)  # (answer id, text, wall state)
    private: int = 0  # reflections not offered for the wall (kept in the record only)
    withheld: bool = False  # self-rating means withheld: fewer people than the minimum group
    ratings: dict[str, float] = field(default_factory=dict)
    ordering: dict[str, float] = field(default_factory=dict)  # mean rank per item


def stats(session: LiveSession, include_hidden: bool = False) -> Stats:
    """The current question's anonymous figures. The wall holds shown posts only, unless
    ``include_hidden`` (the facilitator's moderation view): then every post offered for the wall."""
    page = player.pages(db.session.get(Module, session.module_id))[session.page]
    joined = db.session.scalar(select(func.count()).select_from(Attempt).where(Attempt.live_session_id == session.id))
    if page.question is None:
        return Stats(joined, 0, None)
    rows = db.session.execute(
        select(Answer.id, Answer.response, Answer.wall).join(Attempt, Attempt.id == Answer.attempt_id)
        .where(Attempt.live_session_id == session.id, Answer.question_id == page.question.id)
        .order_by(Answer.id)).all()
    result = Stats(joined, len(rows), page.question.type)
    _tally(result, rows, include_hidden)
    return result


def _tally(result: Stats, rows, include_hidden: bool) -> None:
    counts: Counter = Counter()
    ranks: dict[str, list[int]] = {}
    ratings: dict[str, list[int]] = {}
    for answer_id, response, wall in rows:
        if result.question_type == "single":
            counts[response["choice"]] += 1
        elif result.question_type == "multiple":
            counts.update(response["choices"])
        elif result.question_type == "ordering":
            for rank, cid in enumerate(response["order"], start=1):
                ranks.setdefault(cid, []).append(rank)
        elif result.question_type == "reflection":
            if wall == WALL_SHOWN or (include_hidden and wall in (WALL_QUEUED, WALL_HIDDEN)):
                result.wall.append((answer_id, response["text"], wall))
            elif wall == WALL_NONE:
                result.private += 1
        elif result.question_type == "self_rating":
            for point, value in response["ratings"].items():
                ratings.setdefault(point, []).append(value)
    result.counts = dict(counts)
    result.ordering = {cid: round(sum(v) / len(v), 2) for cid, v in ranks.items()}
    result.ratings = {p: round(sum(v) / len(v), 2) for p, v in ratings.items()}
    if result.question_type == "self_rating" and disclosure.too_small(result.answered):
        result.ratings, result.withheld = {}, True  # point-level figures describe people (services/disclosure)


def moderate(session: LiveSession, answer_id: int, state: str) -> None:
    """Show a post on the wall or take it off. Only posts their authors offered for the wall can be
    shown: a reflection kept private never reaches the projector, whoever asks."""
    if state not in (WALL_SHOWN, WALL_HIDDEN):
        raise LiveError("その操作はできません。")
    answer = db.session.get(Answer, answer_id)
    attempt = db.session.get(Attempt, answer.attempt_id) if answer else None
    if attempt is None or attempt.live_session_id != session.id or answer.wall == WALL_NONE:
        raise LiveError("その投稿はこのライブ進行の、壁への掲載に同意された投稿ではありません。")
    answer.wall = state
    _bump(session)


def shown_wall(session: LiveSession) -> dict[int, list[str]]:
    """Per question: the texts shown on this session's wall, in the order they were written."""
    rows = db.session.execute(
        select(Answer.question_id, Answer.response).join(Attempt, Attempt.id == Answer.attempt_id)
        .where(Attempt.live_session_id == session.id, Answer.wall == WALL_SHOWN).order_by(Answer.id)).all()
    out: dict[int, list[str]] = {}
    for question_id, response in rows:
        out.setdefault(question_id, []).append(response["text"])
    return out


def sessions_of(workshop: Workshop) -> list[LiveSession]:
    stmt = select(LiveSession).where(LiveSession.workshop_id == workshop.id).order_by(LiveSession.started_at.desc())
    return list(db.session.scalars(stmt))


def page_titles(module: Module, pages: list[player.Page]) -> list[str]:
    """What the facilitator's page selector and the debrief call each page: the scene's title and the
    question's number and kind, never an internal ID (場面1「電話での相談」・問い2 選択)."""
    current = [s for s in module.case.stages if s.retired_at is None] if module.case else []
    stages = {s.key: (n, s.title) for n, s in enumerate(current, start=1)}
    titles, number = [], 0
    for page in pages:
        n, title = stages.get(page.step.stage_key or "", (None, None))
        scene = f"場面{n}「{title}」" if title else f"ステップ{page.step.position + 1}"
        if page.question is None:
            titles.append(f"{scene}・説明")
        else:
            number += 1
            titles.append(f"{scene}・問い{number} {QUESTION_TYPE_LABELS.get(page.question.type, '')}".rstrip())
    return titles


@dataclass
class DebriefItem:
    """One question of a live session, as the debrief shows it."""

    title: str
    question_type: str
    data: dict[str, Any]
    answered: int
    counts: dict[str, int]
    group_order: list[tuple[str, float]]  # (item text, mean rank), the group's order (best first)
    ratings: list[tuple[str, str, float]]  # (point id, point title, mean)
    withheld: bool
    wall: list[str]  # the texts shown on the wall
    points: list[Point]


def debrief(session: LiveSession) -> list[DebriefItem]:
    """Every question of the session: the anonymous figures, the group's order, the self-rating
    means and the reflections that were shown on the wall (and only those)."""
    module = db.session.get(Module, session.module_id)
    pages = player.pages(module)
    titles = page_titles(module, pages)
    shown = shown_wall(session)
    questions = [p for p in pages if p.question is not None]
    rows = db.session.execute(
        select(Answer.question_id, Answer.id, Answer.response, Answer.wall).join(Attempt, Attempt.id == Answer.attempt_id)
        .where(Attempt.live_session_id == session.id, Answer.question_id.in_([p.question.id for p in questions]))
        .order_by(Answer.id)).all() if questions else []
    by_question: dict[int, list] = {}
    for question_id, *rest in rows:
        by_question.setdefault(question_id, []).append(tuple(rest))
    point_rows = {p.id: p for p in db.session.scalars(select(Point))}
    items = []
    for page in questions:
        version = page.question.current_version
        data = player.presented(version.data, session.seed, page.question.key)
        tally = Stats(0, len(by_question.get(page.question.id, [])), version.type)
        _tally(tally, by_question.get(page.question.id, []), False)
        texts = {c["id"]: c["text"] for c in data.get("choices", [])}
        order = sorted(tally.ordering.items(), key=lambda kv: (kv[1], kv[0]))
        items.append(DebriefItem(
            titles[page.index], version.type, data, tally.answered, tally.counts,
            [(texts.get(cid, cid), mean) for cid, mean in order],
            [(p, point_rows[p].title if p in point_rows else "", tally.ratings[p]) for p in data.get("points", [])
             if p in tally.ratings] if version.type == "self_rating" else [], tally.withheld,
            shown.get(page.question.id, []), [point_rows[p] for p in version.data.get("points", []) if p in point_rows]))
    return items
