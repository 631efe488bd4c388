"""The reviewers' period map per organization, summed in advance for every span of months.

A period map adds up, per trainee and point, the trainee's mastery_months rows of the period and then
classifies them (services/mastery: 定着 needs MIN_SECURE_QUESTIONS and a mean of SECURE_SCORE): at
10,000 trainees that groups ~330,000 rows per view. Here the same figures are kept per organization,
point and span of months (``mastery_orgs``), so a view reads one row per organization and point.

Invariant, kept by the refresh that rebuilds mastery_months (in its transaction, under its lock)::

    mastery_orgs[since, until, org, point] = sum over mastery_members m of org:
        contribution(m's mastery_months rows with since <= month <= until, point)

for every pair of months since <= until in ``mastery_spans`` (every month of the members' rows).
A member's contribution to a span: ``answered`` 1 when they have a row of the point in it and ``secure``
1 when the rows add up to 定着 — except for a trainee *flagged* in the span (a month total with
``repeats`` in it after its first month: they may have answered a question in two of its months, so
the rows may not add up; such trainees are computed apart by the reader, as before). Pseudo-points:
``*`` counts who practised (a month total in the span, flagged or not); ``+`` who answered a question
tagged with any point (not when flagged: the all-time map's rule, services/mastery_report).

How it is kept: a trainee's contribution is constant over rectangles of spans (since between two of
their months, until between two others), so each change adds or removes a few rectangles (2-D
differences, four corners each), and the spans' rows are updated with the sums of those corners.
Changes: a rebuilt trainee (old rows out, new rows in), and a difference between the members and the
counted trainees (moved to another organization, left, joined: ``reconcile``). A month after the last
one copies the last month's spans first (nobody has rows in it yet); a month before it (answers dated
in the past, `refresh --all`) empties the three tables, and ``reconcile`` builds them again from every
trainee's rows. The reader uses them only while the members equal the counted trainees of the scope
(``usable``); otherwise the map is computed from mastery_months as before, until the next refresh.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timezone

from sqlalchemy import Date, and_, delete, exists, func, insert, literal, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from trainer.dates import JST
from trainer.extensions import db
from trainer.models import MasteryMember as Member
from trainer.models import MasteryMonth as Month
from trainer.models import MasteryOrg as Org
from trainer.models import MasterySpan as Span
from trainer.models import User
from trainer.services.counted import counted_trainee

ALL_POINTS = "*"  # as in mastery_months: who practised (a month total)
ANY_POINT = "+"  # who answered a question tagged with a point (the all-time map's "practised")
CHUNK = 2000
INFINITY = None  # an open end of a rectangle: up to the last month, whatever it is when summed

Row = tuple[date, str, int, float, int]  # mastery_months: month, point, answered, score_sum, repeats


def _secure(n: int, total: float) -> bool:
    from trainer.services import mastery

    return n >= mastery.MIN_SECURE_QUESTIONS and total >= mastery.SECURE_SCORE * n - mastery.EPSILON


def _month_of(moment: datetime) -> date:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(JST).date().replace(day=1)


# --- reading ---------------------------------------------------------------------------------

def months() -> list[date]:
    return list(db.session.scalars(select(Span.month).order_by(Span.month)))


def usable(org_ids: Iterable[int]) -> bool:
    """Whether mastery_orgs holds exactly the counted trainees of these organizations: every counted
    trainee is a member with the same organization and registration (and no rows before it), and
    every member of them is still a counted trainee there."""
    ids = list(org_ids)
    if not ids:
        return True
    member = exists().where(Member.user_id == User.id, Member.org_id == User.organization_id,
                            Member.registered_at == User.created_at, Member.early.is_(False))
    unknown = select(User.id).where(User.organization_id.in_(ids), counted_trainee(), ~member)
    still = exists().where(User.id == Member.user_id, User.organization_id == Member.org_id,
                           User.created_at == Member.registered_at, counted_trainee())
    gone = select(Member.user_id).where(Member.org_id.in_(ids), ~still)
    return not db.session.scalar(select(or_(unknown.exists(), gone.exists())))


def span(spans: list[date], since: date | None, until: date | None) -> tuple[date, date] | None:
    """The span of a whole-month period: its first and last months that are span months (None: the
    period holds none, so nobody answered in it)."""
    inside = [m for m in spans if (since is None or m >= since) and (until is None or m <= until)]
    return (inside[0], inside[-1]) if inside else None


def figures(org_ids: list[int], since: date, until: date, points: list[str] | None = None):
    """(org_id, point_id, answered, secure) of a span (only the given points when ``points``)."""
    stmt = select(Org.org_id, Org.point_id, Org.answered, Org.secure).where(
        Org.since == since, Org.until == until, Org.org_id.in_(org_ids), Org.answered > 0)
    if points is not None:
        stmt = stmt.where(Org.point_id.in_(points))
    return db.session.execute(stmt).all()


def flagged(user_ids, since: date, until: date):
    """Select: the trainees (of ``user_ids``, a select) flagged in the span, whom mastery_orgs leaves out."""
    return select(Month.user_id).where(Month.point_id == ALL_POINTS, Month.repeats > 0, Month.month > since,
                                       Month.month <= until, Month.user_id.in_(user_ids)).distinct()


def practising_per_month(org_ids: list[int]) -> list[tuple[date, int]]:
    """Per span month with practising trainees of these organizations: how many (one-month spans)."""
    total = func.sum(Org.answered)
    stmt = (select(Org.since, total).where(Org.since == Org.until, Org.point_id == ALL_POINTS, Org.org_id.in_(org_ids))
            .group_by(Org.since).having(total > 0).order_by(Org.since))
    return [(month, int(n)) for month, n in db.session.execute(stmt)]


# --- keeping it ------------------------------------------------------------------------------

class Deltas:
    """Changes to mastery_orgs as 2-D differences per (organization, point): a contribution over the
    spans since in [a0, a1], until in [b0, b1] (indexes of span months; b1 may be open) adds +1 at
    (a0, b0), -1 at (a1 + 1, b0) and at (a0, b1 + 1), +1 at (a1 + 1, b1 + 1); the change of a span
    (a, b) is the sum of the corners at or below both."""

    def __init__(self, spans: list[date]):
        self.spans = list(spans)
        self.index = {m: i for i, m in enumerate(self.spans)}
        self.corners: dict[tuple[int, str], dict[tuple[int, int], list[int]]] = defaultdict(dict)

    def extend(self, month: date) -> None:
        """A month after the last one (the rectangles computed so far stay valid: open ones grow)."""
        self.index[month] = len(self.spans)
        self.spans.append(month)

    def _cells(self, rows: list[Row]) -> tuple[dict[str, dict[int, tuple[int, float]]], list[int]]:
        """Per point, (answered, score_sum) by month index; and the months with repeats."""
        index = self.index
        cells: dict[str, dict[int, tuple[int, float]]] = defaultdict(dict)
        repeats = sorted({index[m] for m, p, _, _, r in rows if p == ALL_POINTS and r > 0})
        for m, p, n, total, _ in rows:
            cells[p][index[m]] = (n, total)
            if p != ALL_POINTS:
                cells[ANY_POINT][index[m]] = (1, 0.0)
        return cells, repeats

    def add(self, org_id: int, rows: list[Row], sign: int) -> None:
        """Add (sign 1) or remove (-1) the contribution of one trainee's rows to their organization."""
        if not rows:
            return
        cells, repeats = self._cells(rows)
        for point, by_month in cells.items():
            self._add_point(org_id, point, by_month, [] if point == ALL_POINTS else repeats, sign)

    def change(self, org_id: int, old_rows: list[Row], new_rows: list[Row]) -> None:
        """One trainee of the same organization, from ``old_rows`` to ``new_rows``: only the points
        whose rows (or whose repeats, for the flags) differ are taken out and put in again."""
        old, old_repeats = self._cells(old_rows)
        new, new_repeats = self._cells(new_rows)
        for point in old.keys() | new.keys():
            before, after = old.get(point, {}), new.get(point, {})
            flags = ([], []) if point == ALL_POINTS else (old_repeats, new_repeats)
            if before == after and flags[0] == flags[1]:
                continue
            if before:
                self._add_point(org_id, point, before, flags[0], -1)
            if after:
                self._add_point(org_id, point, after, flags[1], 1)

    def _add_point(self, org_id: int, point: str, by_month: dict[int, tuple[int, float]], repeats: list[int],
                   sign: int) -> None:
        # since in (starts[i-1], starts[i]] and until in [ends[j], ends[j+1]) hold the same rows and flags
        own = sorted(by_month)
        starts = sorted(set(own) | {r - 1 for r in repeats})
        ends = sorted(set(own) | set(repeats))
        corners = self.corners[(org_id, point)]
        for i, first in enumerate(starts):
            a0 = starts[i - 1] + 1 if i else 0
            for j, last in enumerate(ends):
                if last < first:
                    continue
                n, total = 0, 0.0
                for m in own:
                    if first <= m <= last:
                        n += by_month[m][0]
                        total += by_month[m][1]
                if not n or any(first < r <= last for r in repeats):
                    continue
                if point in (ALL_POINTS, ANY_POINT):
                    value = (1, 0)
                else:
                    value = (1, 1 if _secure(n, total) else 0)
                b1 = ends[j + 1] - 1 if j + 1 < len(ends) else INFINITY
                self._rectangle(corners, a0, first, last, b1, sign * value[0], sign * value[1])

    @staticmethod
    def _rectangle(corners, a0: int, a1: int, b0: int, b1: int | None, answered: int, secure: int) -> None:
        for x, y, s in ((a0, b0, 1), (a1 + 1, b0, -1), (a0, None if b1 is None else b1 + 1, -1),
                        (a1 + 1, None if b1 is None else b1 + 1, 1)):
            if y is None:
                continue
            cell = corners.setdefault((x, y), [0, 0])
            cell[0] += s * answered
            cell[1] += s * secure

    def rows(self) -> list[dict]:
        """The non-zero changes per span (since <= until), organization and point."""
        size = len(self.spans)
        out = []
        for (org_id, point), corners in self.corners.items():
            grid = [[0, 0] * size for _ in range(size)]  # grid[a][2*b], grid[a][2*b+1]
            for (x, y), (d_answered, d_secure) in corners.items():
                if x < size and y < size and (d_answered or d_secure):
                    grid[x][2 * y] += d_answered
                    grid[x][2 * y + 1] += d_secure
            # prefix sums over both axes
            for a in range(size):
                row = grid[a]
                above = grid[a - 1] if a else None
                run_n = run_s = 0
                for b in range(size):
                    run_n += row[2 * b]
                    run_s += row[2 * b + 1]
                    row[2 * b] = run_n + (above[2 * b] if above else 0)
                    row[2 * b + 1] = run_s + (above[2 * b + 1] if above else 0)
            for a in range(size):
                row = grid[a]
                for b in range(a, size):
                    if row[2 * b] or row[2 * b + 1]:
                        out.append({"since": self.spans[a], "until": self.spans[b], "org_id": org_id,
                                    "point_id": point, "answered": row[2 * b], "secure": row[2 * b + 1]})
        return out


_UPSERT = {
    name: dialect.insert(Org.__table__).on_conflict_do_update(
        index_elements=["since", "until", "org_id", "point_id"],
        set_={"answered": Org.__table__.c.answered + dialect.insert(Org.__table__).excluded.answered,
              "secure": Org.__table__.c.secure + dialect.insert(Org.__table__).excluded.secure})
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}


def _write(deltas: Deltas) -> int:
    rows = deltas.rows()
    for start in range(0, len(rows), 5000):
        db.session.execute(_UPSERT[db.session.get_bind().dialect.name], rows[start:start + 5000])
    deltas.corners.clear()
    return len(rows)


def reset(deltas: Deltas | None = None) -> None:
    """Empty mastery_orgs and mastery_members and make every month of mastery_months a span month:
    ``reconcile`` then builds them again from every trainee's rows (pending ``deltas`` are dropped)."""
    db.session.execute(delete(Org))
    db.session.execute(delete(Member))
    db.session.execute(delete(Span))
    present = sorted(db.session.scalars(select(Month.month).where(Month.point_id == ALL_POINTS).distinct()))
    if present:
        db.session.execute(insert(Span), [{"month": m} for m in present])
    if deltas is not None:
        deltas.__init__(present)


def _append(deltas: Deltas, missing: list[date]) -> None:
    """Months after the last span month: their spans start as copies of the last month's (nobody has
    rows in them yet; rectangles left open in ``deltas`` grow over them)."""
    table = Org.__table__
    for month in missing:
        if deltas.spans:
            db.session.execute(insert(table).from_select(
                ["since", "until", "org_id", "point_id", "answered", "secure"],
                select(table.c.since, literal(month, Date), table.c.org_id, table.c.point_id, table.c.answered,
                       table.c.secure).where(table.c.until == deltas.spans[-1])))
        db.session.execute(insert(Span), [{"month": month}])
        deltas.extend(month)


def rows_of(user_ids: list[int]) -> dict[int, list[Row]]:
    """The mastery_months rows of these trainees (as they are now)."""
    out: dict[int, list[Row]] = {uid: [] for uid in user_ids}
    for start in range(0, len(user_ids), CHUNK):
        chunk = user_ids[start:start + CHUNK]
        stmt = select(Month.user_id, Month.month, Month.point_id, Month.answered, Month.score_sum,
                      Month.repeats).where(Month.user_id.in_(chunk))
        for uid, *row in db.session.execute(stmt):
            out[uid].append(tuple(row))
    return out


def apply(deltas: Deltas, old_rows: dict[int, list[Row]], new_rows: dict[int, list[Row]]) -> None:
    """These trainees' rows changed from ``old_rows`` (what their contribution was computed from) to
    ``new_rows`` (now in mastery_months), and their membership may have changed: record the
    difference in ``deltas`` and update their member rows. A month before the last span month (or
    rows that are not what the contribution was computed from) resets the tables first."""
    ids = sorted(new_rows)
    if not ids:
        return
    members, counted = {}, {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        members.update({uid: org for uid, org in db.session.execute(
            select(Member.user_id, Member.org_id).where(Member.user_id.in_(chunk)))})
        counted.update({uid: (org, created) for uid, org, created in db.session.execute(
            select(User.id, User.organization_id, User.created_at).where(User.id.in_(chunk), counted_trainee()))})
    if any(row[0] not in deltas.index for uid in members for row in old_rows.get(uid, ())):
        reset(deltas)  # cannot happen while the invariant holds; rebuilt from scratch if it did
        members = {}
    missing = sorted({row[0] for uid in counted for row in new_rows[uid]} - set(deltas.index))
    if missing and deltas.spans and missing[0] < deltas.spans[-1]:
        reset(deltas)  # a month in the past: every span changes
        members = {}
    elif missing:
        _append(deltas, missing)
    joined = []
    for uid in ids:
        old, new = old_rows.get(uid, []), new_rows[uid]
        if uid in members and uid in counted and members[uid] == counted[uid][0]:
            deltas.change(members[uid], old, new)  # the usual case: only what changed
        else:
            if uid in members:
                deltas.add(members[uid], old, -1)
            if uid in counted:
                deltas.add(counted[uid][0], new, 1)
        if uid in counted:
            org_id, created = counted[uid]
            registered = _month_of(created)
            early = any(row[0] < registered for row in new_rows[uid])
            joined.append({"user_id": uid, "org_id": org_id, "registered_at": created, "early": early})
    for start in range(0, len(ids), CHUNK):
        db.session.execute(delete(Member).where(Member.user_id.in_(ids[start:start + CHUNK])))
    if joined:
        db.session.execute(insert(Member), joined)


def _differing(limit: int) -> list[int]:
    """Trainees whose member row is not what the users say (moved, left, joined, re-registered)."""
    same = exists().where(Member.user_id == User.id, Member.org_id == User.organization_id,
                          Member.registered_at == User.created_at)
    joined = select(User.id).where(counted_trainee(), ~same)
    still = exists().where(User.id == Member.user_id, User.organization_id == Member.org_id,
                           User.created_at == Member.registered_at, counted_trainee())
    left = select(Member.user_id).where(~still)
    return sorted(set(db.session.scalars(joined.limit(limit))) | set(db.session.scalars(left.limit(limit))))


def _vanished() -> bool:
    """A member whose user row is gone (its mastery_months rows went with it: its contribution
    cannot be taken back)."""
    orphan = select(Member.user_id).where(~exists().where(User.id == Member.user_id).correlate(Member))
    return bool(db.session.scalar(select(orphan.exists())))


def reconcile(deltas: Deltas) -> int:
    """Apply the differences between the members and the counted trainees (after a reset: everyone).
    Returns how many trainees changed."""
    changed, done = 0, set()
    if _vanished():
        reset(deltas)
    while ids := _differing(CHUNK):
        if done.issuperset(ids):  # applied already and still differing: never loop on it
            raise RuntimeError(f"mastery_members: trainees {ids[:5]} differ after being applied")
        rows = rows_of(ids)
        apply(deltas, rows, rows)
        done.update(ids)
        changed += len(ids)
    return changed


def begin() -> Deltas:
    return Deltas(months())


def finish(deltas: Deltas) -> None:
    """After the rebuilt trainees were applied: the membership differences, then write everything."""
    reconcile(deltas)
    _write(deltas)


def check() -> dict[tuple, tuple[int, int]]:
    """mastery_orgs computed from scratch from the members' rows (tests; `trainer mastery check`):
    {(since, until, org_id, point_id): (answered, secure)}, non-zero only."""
    deltas = Deltas(months())
    members = dict(db.session.execute(select(Member.user_id, Member.org_id)).all())
    rows = rows_of(sorted(members))
    for uid, org_id in members.items():
        deltas.add(org_id, rows[uid], 1)
    return {(r["since"], r["until"], r["org_id"], r["point_id"]): (r["answered"], r["secure"]) for r in deltas.rows()}


def stored() -> dict[tuple, tuple[int, int]]:
    rows = db.session.execute(select(Org.since, Org.until, Org.org_id, Org.point_id, Org.answered, Org.secure))
    return {(s, u, o, p): (n, k) for s, u, o, p, n, k in rows if n or k}
