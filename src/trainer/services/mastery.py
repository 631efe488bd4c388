"""Mastery of the 50 points, from the latest answer to each scored question tagged with a point.

Rule (shown to trainees): for each point, take the trainee's most recent answer to every scored
question tagged with it. No answer: 未練習. At least MIN_SECURE_QUESTIONS answers averaging
SECURE_SCORE or more: 定着. Otherwise: 学習中.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timezone

from sqlalchemy import and_, bindparam, delete, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import selectinload

from trainer.dates import JST
from trainer.extensions import db
from trainer.models import Answer, Item, Point, QuestionPoint
from trainer.models import MasteryDirty as Dirty
from trainer.models import MasteryMonth as Month
from trainer.models import PointMastery as Summary
from trainer.services import mastery_spans

SECURE_SCORE = 0.8
EPSILON = 1e-9  # sums of float scores added in another order may differ in the last bit
MIN_SECURE_QUESTIONS = 2
STATES = {
    "none": ("未練習", "○"),
    "learning": ("学習中", "◐"),
    "secure": ("定着", "●"),
}
RULE_TEXT = (f"各ポイントについて、そのポイントが付いた採点問題への最新の回答を見ます。"
             f"{MIN_SECURE_QUESTIONS}問以上に回答し、平均が{int(SECURE_SCORE * 100)}%以上なら「定着」、"
             "1問以上回答していれば「学習中」、まだ回答がなければ「未練習」です。")


@dataclass(frozen=True)
class PointMastery:
    point: Point
    answered: int
    mean: float | None

    @property
    def state(self) -> str:
        return classify(self.answered, self.mean)

    @property
    def label(self) -> str:
        return STATES[self.state][0]

    @property
    def symbol(self) -> str:
        return STATES[self.state][1]


def classify(answered: int, mean: float | None) -> str:
    if not answered:
        return "none"
    if answered >= MIN_SECURE_QUESTIONS and (mean or 0) >= SECURE_SCORE - EPSILON:
        return "secure"
    return "learning"


def latest_answers(user_ids: Iterable[int] | None = None, *, user_filter=None):
    """Subquery: the newest scored answer per (user, question)."""
    newest = select(func.max(Answer.id).label("id")).where(Answer.score.is_not(None))
    if user_ids is not None:
        newest = newest.where(Answer.user_id.in_(list(user_ids)))
    if user_filter is not None:
        newest = newest.where(user_filter)
    return newest.group_by(Answer.user_id, Answer.question_id).subquery()


def user_point_stats(user_id: int) -> dict[str, tuple[int, float]]:
    """point_id -> (questions answered, mean score) for one trainee."""
    return {pid: stats for uid, pid, stats in point_stats([user_id])}


def point_stats(user_ids: Iterable[int]):
    """(user_id, point_id, (answered, mean)) for the given trainees, from their latest answers."""
    ids = list(user_ids)
    if not ids:
        return []
    return [(uid, pid, (n, total / n)) for (uid, pid), (n, total) in computed_point_stats(ids).items() if n]


def computed_point_stats(user_ids: Iterable[int]) -> dict[tuple[int, str], tuple[int, float]]:
    """The same figures computed from every answer (slow; for rebuilding and checking the summary)."""
    newest = latest_answers(list(user_ids))
    stmt = (select(Answer.user_id, QuestionPoint.point_id, func.count(), func.sum(Answer.score))
            .select_from(Answer).join(newest, newest.c.id == Answer.id)
            .join(QuestionPoint, QuestionPoint.version_id == Answer.version_id)
            .group_by(Answer.user_id, QuestionPoint.point_id))
    return {(uid, pid): (n, float(total)) for uid, pid, n, total in db.session.execute(stmt)}


ALL_POINTS = "*"  # mastery_months: the row of a month's totals
CHUNK = 500

_MARK = {
    name: dialect.insert(Dirty).values(user_id=bindparam("uid"), marked_at=bindparam("now"), marks=1)
    .on_conflict_do_update(index_elements=["user_id"],
                           set_={"marked_at": bindparam("now"), "marks": Dirty.marks + 1})
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}


def mark_dirty(conn: Connection, user_id: int, now: datetime) -> None:
    """In the answer's own transaction: this trainee's summaries must be rebuilt (idempotent upsert;
    ``marks`` grows on every mark, so a refresh never clears a mark made after it read it)."""
    conn.execute(_MARK[conn.dialect.name], {"uid": user_id, "now": now})


def _month(moment: datetime) -> date:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(JST).date().replace(day=1)


def _points_of_versions() -> dict[int, list[str]]:
    points: dict[int, list[str]] = defaultdict(list)
    for version_id, point_id in db.session.execute(select(QuestionPoint.version_id, QuestionPoint.point_id)):
        points[version_id].append(point_id)
    return points


def rebuild(user_ids: Iterable[int], points_of: dict[int, list[str]] | None = None, *,
            deltas: mastery_spans.Deltas | None = None, spans: bool = True) -> None:
    """Recompute point_mastery and mastery_months for these trainees from their answers, and their
    part of the per-organization spans (services/mastery_spans; into ``deltas`` when given, which
    the caller writes, else written here; not at all with ``spans=False``: the caller resets them)."""
    ids = sorted(set(user_ids))
    points_of = _points_of_versions() if points_of is None else points_of
    own = deltas is None and spans
    if own:
        deltas = mastery_spans.begin()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        old = mastery_spans.rows_of(chunk)
        old_summary = {(uid, pid): (n, total) for uid, pid, n, total in db.session.execute(
            select(Summary.user_id, Summary.point_id, Summary.answered, Summary.score_sum)
            .where(Summary.user_id.in_(chunk)))}
        summary, months = _figures(chunk, points_of)
        # only the rows that changed are written (an answer this month leaves the other months alone)
        _write_changes(Summary.__table__, ("user_id", "point_id"), ("answered", "score_sum"), old_summary, summary)
        old_months = {(uid, m, p): (n, total, r) for uid, rows in old.items() for m, p, n, total, r in rows}
        _write_changes(Month.__table__, ("user_id", "month", "point_id"), ("answered", "score_sum", "repeats"),
                       old_months, months)
        if spans:
            new: dict[int, list] = {uid: [] for uid in chunk}
            for row in months:
                new[row["user_id"]].append((row["month"], row["point_id"], row["answered"], row["score_sum"],
                                            row["repeats"]))
            mastery_spans.apply(deltas, old, new)
    if own:
        mastery_spans.finish(deltas)


def _write_changes(table, keys: tuple[str, ...], values: tuple[str, ...], old: dict[tuple, tuple],
                   rows: list[dict]) -> None:
    """Make ``table`` hold ``rows`` where it held ``old`` (key -> values): delete the rows gone or
    changed, insert the changed and new ones; equal rows are left alone."""
    new = {tuple(row[k] for k in keys): row for row in rows}
    gone = [key for key, vals in old.items() if key not in new or tuple(new[key][v] for v in values) != vals]
    fresh = [row for key, row in new.items() if key not in old or tuple(row[v] for v in values) != old[key]]
    if gone:
        match = and_(*[table.c[k] == bindparam(f"k_{k}") for k in keys])
        db.session.connection().execute(delete(table).where(match),
                                        [{f"k_{k}": key[i] for i, k in enumerate(keys)} for key in gone])
    if fresh:
        db.session.execute(insert(table), fresh)


def _figures(user_ids: list[int], points_of: dict[int, list[str]]) -> tuple[list[dict], list[dict]]:
    """Rows of point_mastery and mastery_months for these trainees, from their scored answers."""
    stmt = (select(Answer.user_id, Answer.question_id, Answer.version_id, Answer.score, Answer.created_at)
            .where(Answer.user_id.in_(user_ids), Answer.score.is_not(None)).order_by(Answer.id))
    latest: dict[tuple[int, int], tuple[int, float]] = {}  # (user, question) -> (version, score)
    in_month: dict[tuple[int, date, int], tuple[int, float]] = {}  # (user, month, question) -> the same
    for uid, qid, vid, score, created in db.session.execute(stmt):  # by id: the last one wins
        latest[(uid, qid)] = (vid, score)
        in_month[(uid, _month(created), qid)] = (vid, score)
    summary: dict[tuple[int, str], list] = {}
    for (uid, _), (vid, score) in latest.items():
        for pid in points_of.get(vid, ()):
            cell = summary.setdefault((uid, pid), [0, 0.0])
            cell[0] += 1
            cell[1] += score
    months: dict[tuple[int, date, str], list] = {}
    seen: set[tuple[int, int]] = set()
    for (uid, month, qid), (vid, score) in sorted(in_month.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        total = months.setdefault((uid, month, ALL_POINTS), [0, 0.0, 0])
        total[0] += 1
        total[1] += score
        if (uid, qid) in seen:
            total[2] += 1
        seen.add((uid, qid))
        for pid in points_of.get(vid, ()):
            cell = months.setdefault((uid, month, pid), [0, 0.0, 0])
            cell[0] += 1
            cell[1] += score
    return ([{"user_id": u, "point_id": p, "answered": n, "score_sum": t} for (u, p), (n, t) in summary.items()],
            [{"user_id": u, "month": m, "point_id": p, "answered": n, "score_sum": t, "repeats": r}
             for (u, m, p), (n, t, r) in months.items()])


_CONSUME = delete(Dirty.__table__).where(Dirty.__table__.c.user_id == bindparam("uid"),
                                         Dirty.__table__.c.marks == bindparam("seen"))


def _serialize_refreshes() -> None:
    """One refresh at a time across processes: PostgreSQL's transaction-scoped advisory lock; on
    SQLite the first write takes the database's write lock (so the snapshot read after it is the
    newest, and no writer can commit in between)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": REFRESH_LOCK})
    else:
        db.session.execute(update(Dirty).where(Dirty.user_id == -1).values(marks=Dirty.marks))


REFRESH_LOCK = 0x6D617374  # "mast"


def refresh_summary(*, all_trainees: bool = False, limit: int | None = None) -> int:
    """Rebuild point_mastery and mastery_months for the trainees marked dirty (every trainee with an
    answer when ``all_trainees``), and delete the marks consumed — a mark made again after it was read
    has a higher ``marks`` and stays for the next refresh. Returns how many trainees were rebuilt.
    The caller commits. Never called inside a page view (see docs/mastery-summary.md)."""
    _serialize_refreshes()
    stmt = select(Dirty.user_id, Dirty.marks).order_by(Dirty.marked_at)
    marks = {uid: n for uid, n in db.session.execute(stmt.limit(limit) if limit else stmt)}
    users = set(marks)
    if all_trainees:
        users |= set(db.session.scalars(select(Answer.user_id).distinct()))
        stale = select(Summary.user_id).distinct().union(select(Month.user_id).distinct())
        users |= set(db.session.scalars(stale))
    deltas = mastery_spans.begin()
    if all_trainees and db.session.get_bind().dialect.name == "postgresql":
        _rebuild_everyone_in_postgresql()  # millions of answers: set-based, not row by row in Python
    elif users:
        rebuild(users, deltas=deltas, spans=not all_trainees)
    if all_trainees:
        mastery_spans.reset(deltas)  # built again from everyone's rows by the reconciliation below
    # the per-organization spans: the rebuilt trainees' changes, then who joined, left or moved
    mastery_spans.finish(deltas)
    if not users:
        return 0
    consumed = [{"uid": uid, "seen": n} for uid, n in marks.items()]
    for start in range(0, len(consumed), 5000):
        db.session.connection().execute(_CONSUME, consumed[start:start + 5000])
    db.session.flush()
    return len(users)


_EVERYONE_SUMMARY = """
INSERT INTO point_mastery (user_id, point_id, answered, score_sum)
SELECT a.user_id, qp.point_id, count(*), sum(a.score)
FROM answers a
JOIN (SELECT max(id) AS id FROM answers WHERE score IS NOT NULL GROUP BY user_id, question_id) latest ON latest.id = a.id
JOIN question_points qp ON qp.version_id = a.version_id
GROUP BY a.user_id, qp.point_id
"""
# the latest answer per trainee, month (Asia/Tokyo) and question; a repeat: answered in an earlier month too
_EVERYONE_MONTHS = """
INSERT INTO mastery_months (user_id, month, point_id, answered, score_sum, repeats)
WITH latest AS (
  SELECT DISTINCT ON (user_id, month, question_id) user_id, month, question_id, version_id, score
  FROM (SELECT id, user_id, question_id, version_id, score,
               date_trunc('month', (created_at AT TIME ZONE 'UTC') AT TIME ZONE 'Asia/Tokyo')::date AS month
        FROM answers WHERE score IS NOT NULL) scored
  ORDER BY user_id, month, question_id, id DESC),
marked AS (
  SELECT latest.*, month > min(month) OVER (PARTITION BY user_id, question_id) AS repeat FROM latest)
SELECT user_id, month, :all_points, count(*), sum(score), count(*) FILTER (WHERE repeat)
FROM marked GROUP BY user_id, month
UNION ALL
SELECT m.user_id, m.month, qp.point_id, count(*), sum(m.score), 0
FROM marked m JOIN question_points qp ON qp.version_id = m.version_id
GROUP BY m.user_id, m.month, qp.point_id
"""


def _rebuild_everyone_in_postgresql() -> None:
    """The same rows as rebuild() for every trainee, in three statements (tests compare the two)."""
    db.session.execute(text("SET LOCAL work_mem = '256MB'"))
    db.session.execute(delete(Summary))
    db.session.execute(delete(Month))
    db.session.execute(text(_EVERYONE_SUMMARY))
    db.session.execute(text(_EVERYONE_MONTHS), {"all_points": ALL_POINTS})


def pending() -> int:
    """How many trainees wait for a refresh."""
    return db.session.scalar(select(func.count()).select_from(Dirty)) or 0


def mastery_grid(stats: dict[str, tuple[int, float]], items=None) -> list[tuple[Item, list[PointMastery]]]:
    """The 7 items with their points and each point's mastery (``items``: already loaded, e.g. from
    services/content_views, with their points)."""
    if items is None:
        items = db.session.scalars(select(Item).options(selectinload(Item.points)).order_by(Item.number)).all()
    grid = []
    for item in items:
        cells = [PointMastery(p, *stats.get(p.id, (0, None))) for p in item.points if p.retired_at is None]
        grid.append((item, cells))
    return grid


def summary(grid: list[tuple[Item, list[PointMastery]]]) -> dict[str, int]:
    counts = dict.fromkeys(STATES, 0)
    for _, cells in grid:
        for cell in cells:
            counts[cell.state] += 1
    return counts
