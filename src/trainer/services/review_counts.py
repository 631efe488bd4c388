"""The reviewer home's figures from running totals instead of every attempt (issue 15).

services/figures.py counts, per organization: registered trainees, trainees who started, course
completions, per module first starts / finishes / passes — each limited to a period [since, until]
of whole Tokyo days — and the latest activity. Reading every attempt of a prefecture for that takes
seconds at 100,000 trainees, so the same figures are kept as running totals:

- ``review_people``: per counted trainee (services/counted.py) what they contribute — facts
  (kind, key, Tokyo day): ``reg`` (registration day), ``start`` per selection ("*" = all active
  modules, or one course's modules: the first start among them), ``done`` per course (the day the
  course was completed, services/completion), ``ms`` / ``mf`` / ``mp`` per active module (first
  start, first finish, first pass at the module's mark); and per selection the latest activity.
- ``review_counts``: per organization, (kind, key) and day the number of trainees (``n``) and the
  number through that day (``cum``), with a total row on 9999-12-31; for kind ``last`` (per
  registration day) the latest activity and the latest through that day. A period is
  ``cum(until) - cum(since - 1)``: two index probes per figure, however many trainees.

Trainees registered after the period are not counted (services/review.trainees). A fact never
precedes its trainee's registration day in practice, so "in the period" already implies
"registered by its end"; a trainee with an earlier fact (``odd``) is kept out of the totals and
counted exactly from ``review_people`` on every page.

Exact at every moment: triggers mark a trainee in ``review_dirty`` in the same transaction as any
change to their attempts, account or roles (migration 0014). The refresh (mastery_refresh's thread,
never a page view) moves the marked trainees' contributions; a page takes the totals, removes the
stored contribution of every trainee still marked and adds their contribution computed from the
attempts now. Until the totals are built for the current catalogue (``review_state.fingerprint``:
active modules, courses and pass marks), pages count the direct way (services/figures.py).
Tests compare both ways on random data (tests/test_review_counts.py).
"""
from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import and_, bindparam, case, delete, func, insert, or_, select, text, update
from sqlalchemy.orm import aliased

from trainer.extensions import db
from trainer.models import Attempt, ReviewCount, ReviewDirty, ReviewPerson, ReviewState, User
from trainer.services import completion
from trainer.services.counted import counted_trainee
from trainer.services.review import JST, Catalogue, Filters, module_marks

TOTAL = date(9999, 12, 31)  # the day of each figure's total row
ALL = "*"
CHUNK = 2000
REFRESH_LOCK = 0x72657663  # "revc"
DAY_KINDS = ("reg", "start", "done", "ms", "mf", "mp")


# --- the catalogue the totals are built for ----------------------------------------------------

def fingerprint(cat: Catalogue) -> str:
    """What the facts depend on: the active modules, the courses (modules, pass score), the marks."""
    shape = {"modules": sorted(m.id for m in cat.modules),
             "courses": sorted([c.id, list(c.module_ids), c.pass_score] for c in cat.courses),
             "marks": sorted(module_marks(cat).items())}
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()


# --- one trainee's contribution ----------------------------------------------------------------

@dataclass
class Person:
    org_id: int
    created_day: date
    facts: list[tuple[str, str, int]] = field(default_factory=list)  # (kind, key, day ordinal)
    lasts: dict[str, datetime] = field(default_factory=dict)

    @property
    def odd(self) -> bool:
        created = self.created_day.toordinal()
        return any(day < created for kind, _, day in self.facts if kind != "reg")

    def row(self, user_id: int) -> dict:
        return {"user_id": user_id, "org_id": self.org_id, "created_day": self.created_day, "odd": self.odd,
                "facts": [list(f) for f in self.facts],
                "lasts": {k: v.astimezone(timezone.utc).isoformat() for k, v in self.lasts.items()}}

    @classmethod
    def from_row(cls, row: ReviewPerson) -> Person:
        return cls(row.org_id, row.created_day, [tuple(f) for f in row.facts],
                   {k: datetime.fromisoformat(v) for k, v in row.lasts.items()})


def _day(moment: datetime) -> int:
    return moment.astimezone(JST).date().toordinal()


def people(user_ids: list[int], cat: Catalogue) -> dict[int, Person]:
    """The contribution of these trainees now, from their account and attempts (counted trainees only)."""
    out: dict[int, Person] = {}
    active = [m.id for m in cat.modules]
    marks = module_marks(cat)
    all_marks = set(marks.values()) | {c.pass_score for c in cat.courses if c.pass_score is not None}
    for start in range(0, len(user_ids), CHUNK):
        chunk = user_ids[start:start + CHUNK]
        stmt = select(User.id, User.organization_id, User.created_at).where(User.id.in_(chunk), counted_trainee())
        found = {uid: Person(org, created.astimezone(JST).date()) for uid, org, created in db.session.execute(stmt)}
        if not found or not active:
            out.update(found)
            continue
        records: dict[int, dict[str, object]] = defaultdict(dict)
        stmt = (select(Attempt.user_id, Attempt.module_id, *completion.outcome_columns(all_marks))
                .where(Attempt.user_id.in_(list(found)), cat.attempts_in(active))
                .group_by(Attempt.user_id, Attempt.module_id))
        for row in db.session.execute(stmt):
            records[row.user_id][row.module_id] = row
        for uid, person in found.items():
            _contribution(person, records.get(uid, {}), cat, marks)
        out.update(found)
    return out


def _contribution(person: Person, records: dict, cat: Catalogue, marks: dict[str, int]) -> None:
    facts = person.facts
    facts.append(("reg", "", person.created_day.toordinal()))
    if not records:
        return
    selections = [(ALL, list(records))] + [(c.id, [m for m in c.module_ids if m in records]) for c in cat.courses]
    for key, mine in selections:
        if mine:
            facts.append(("start", key, _day(min(records[m].started for m in mine))))
            person.lasts[key] = max(records[m].last_activity for m in mine)
    for course in cat.courses:
        dates = []
        for module_id in course.module_ids:
            rec = records.get(module_id)
            counted = None if rec is None else (
                rec.finished if course.pass_score is None else rec._mapping[f"passed_{course.pass_score}"])
            dates.append(counted)
        if dates and all(d is not None for d in dates):
            facts.append(("done", course.id, _day(max(dates))))
    for module_id, rec in records.items():
        facts.append(("ms", module_id, _day(rec.started)))
        if rec.finished is not None:
            facts.append(("mf", module_id, _day(rec.finished)))
        mark = marks.get(module_id)
        if mark is not None and rec._mapping[f"passed_{mark}"] is not None:
            facts.append(("mp", module_id, _day(rec._mapping[f"passed_{mark}"])))


# --- the totals ----------------------------------------------------------------------------------

def _serialize() -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": REFRESH_LOCK})
    else:  # the first write takes SQLite's write lock
        db.session.execute(update(ReviewState).where(ReviewState.id == 1).values(version=ReviewState.version))


def _state() -> ReviewState | None:
    return db.session.execute(select(ReviewState).where(ReviewState.id == 1)).scalar_one_or_none()


def pending() -> int:
    return db.session.scalar(select(func.count()).select_from(ReviewDirty)) or 0


def refresh_pending(*, limit: int | None = None) -> int:
    """The refresher's round (mastery_refresh.refresh_once): one statement when the totals are built for
    the current content release's catalogue and no trainee is marked; else refresh(). The catalogue's
    fingerprint is kept per process and content release (services/content_views.py: content changes only
    with a new release), so an idle round reads no catalogue and takes no lock. A mark made after the
    check is for the next round, as a mark made during refresh()."""
    from trainer.services import review
    from trainer.services.content_views import RELEASE_ID
    from trainer.services.player import app_cache

    built = select(ReviewState.fingerprint).where(ReviewState.id == 1).scalar_subquery()
    rid, built_for, marked = db.session.execute(select(RELEASE_ID, built, select(ReviewDirty.user_id).exists())).one()
    known = app_cache("review_counts")
    if not marked and built_for is not None and known.get(rid) == built_for:
        return 0
    cat = review.catalogue()
    known.clear()
    known[rid] = fingerprint(cat)
    return refresh(cat, limit=limit)


def refresh(cat: Catalogue, *, limit: int | None = None, rebuild: bool = False) -> int:
    """Bring the totals up to date (the caller commits): everyone when they were built for another
    catalogue (or ``rebuild``), else the marked trainees (the oldest ``limit``). Consumes the marks
    it read (a mark made again meanwhile has a higher count and stays). Returns trainees processed."""
    _serialize()
    state = _state()
    if state is None:
        state = ReviewState(id=1, fingerprint=None, version=0)
        db.session.add(state)
    wanted = fingerprint(cat)
    everyone = rebuild or state.fingerprint != wanted
    stmt = select(ReviewDirty.user_id, ReviewDirty.marks)
    if limit and not everyone:
        stmt = stmt.order_by(ReviewDirty.user_id).limit(limit)
    marks = dict(db.session.execute(stmt).all())
    if everyone:
        done = _rebuild_all(cat)
    else:
        if not marks:
            return 0
        done = _apply(sorted(marks), cat)
    state.fingerprint, state.version = wanted, (state.version or 0) + 1
    consumed = [{"uid": uid, "seen": n} for uid, n in marks.items()]
    table = ReviewDirty.__table__
    stmt = table.delete().where(table.c.user_id == bindparam("uid"), table.c.marks == bindparam("seen"))
    for start in range(0, len(consumed), 5000):
        db.session.connection().execute(stmt, consumed[start:start + 5000])
    db.session.flush()
    return done


def _rebuild_all(cat: Catalogue) -> int:
    """Everyone's contribution and all totals again, a batch of organizations at a time (memory
    bounded by the batch, not by the number of trainees)."""
    db.session.execute(delete(ReviewPerson))
    db.session.execute(delete(ReviewCount))
    per_org = db.session.execute(select(User.organization_id, func.count()).where(counted_trainee())
                                 .group_by(User.organization_id).order_by(User.organization_id)).all()
    batches, batch, size = [], [], 0
    for org, n in per_org:
        batch.append(org)
        size += n
        if size >= 10 * CHUNK:
            batches.append(batch)
            batch, size = [], 0
    if batch:
        batches.append(batch)
    done = 0
    for orgs in batches:
        ids = list(db.session.scalars(select(User.id).where(User.organization_id.in_(orgs), counted_trainee())
                                      .order_by(User.id)))
        found = people(ids, cat)
        found = {uid: p for uid, p in found.items() if p.org_id in orgs}  # moved meanwhile: the next refresh
        done += len(found)
        rows = [p.row(uid) for uid, p in found.items()]
        for start in range(0, len(rows), 5000):
            db.session.execute(insert(ReviewPerson), rows[start:start + 5000])
        totals: dict[tuple, list] = {}
        for person in found.values():
            if not person.odd:
                _add(totals, person, +1)
        groups: dict[tuple, dict[date, list]] = defaultdict(dict)
        for (org, kind, key, day), cell in totals.items():
            groups[(org, kind, key)][day] = cell
        rows = [row for (org, kind, key), days in groups.items() for row in _group_rows(org, kind, key, days)]
        for start in range(0, len(rows), 20000):
            db.session.execute(insert(ReviewCount), rows[start:start + 20000])
    return done


def _add(totals: dict, person: Person, sign: int) -> None:
    """Add (sign +1) or take away (-1) a trainee's contribution: cells [n, set of last values or None]."""
    for kind, key, day in person.facts:
        cell = totals.setdefault((person.org_id, kind, key, date.fromordinal(day)), [0, None])
        cell[0] += sign
    for key, last in person.lasts.items():
        cell = totals.setdefault((person.org_id, "last", key, person.created_day), [0, None])
        cell[0] += sign
        if sign > 0:
            cell[1] = last if cell[1] is None or last > cell[1] else cell[1]


def _group_rows(org: int, kind: str, key: str, days: dict[date, list], *,
                cum: int = 0, cum_last: datetime | None = None) -> list[dict]:
    """The rows of one figure from its days' [n, last]: running count and running latest, and the total.
    ``cum``/``cum_last``: the running figures of the days before these (rows kept as they are)."""
    rows = []
    for day in sorted(days):
        n, last = days[day]
        if n <= 0:
            continue
        cum += n
        if last is not None and (cum_last is None or last > cum_last):
            cum_last = last
        rows.append({"org_id": org, "kind": kind, "key": key, "day": day, "n": n, "cum": cum,
                     "last_at": last, "cum_last": cum_last})
    if cum:
        rows.append({"org_id": org, "kind": kind, "key": key, "day": TOTAL, "n": 0, "cum": cum,
                     "last_at": None, "cum_last": cum_last})
    return rows


def _apply(user_ids: list[int], cat: Catalogue) -> int:
    """Move the contributions of these trainees: the stored one out, the current one in."""
    people_table = ReviewPerson.__table__  # Core rows and statements: no ORM step per trainee or statement
    old = {row.user_id: Person.from_row(row)
           for start in range(0, len(user_ids), CHUNK)
           for row in db.session.execute(select(people_table).where(
               people_table.c.user_id.in_(user_ids[start:start + CHUNK])))}
    new = people(user_ids, cat)
    deltas: dict[tuple, list] = {}
    changed, rows = [], []
    for uid in user_ids:
        row = new[uid].row(uid) if uid in new else None
        if row is not None and uid in old and _same(old[uid].row(uid), row):
            continue  # the same contribution (e.g. an answer that changed none of the facts or lasts)
        changed.append(uid)
        if row is not None:
            rows.append(row)
        if uid in old and not old[uid].odd:
            _add(deltas, old[uid], -1)
        if uid in new and not new[uid].odd:
            _add(deltas, new[uid], +1)
    for start in range(0, len(changed), CHUNK):
        db.session.execute(delete(people_table).where(people_table.c.user_id.in_(changed[start:start + CHUNK])))
    if rows:
        db.session.execute(insert(people_table), rows)
    by_group: dict[tuple, dict[date, list]] = defaultdict(dict)
    for (org, kind, key, day), cell in deltas.items():
        if cell[0] or kind == "last":  # a count that went out and in again changes nothing
            by_group[(org, kind, key)][day] = cell
    for (org, kind, key), changes in by_group.items():
        _rewrite_group(org, kind, key, changes)
    return len(user_ids)


def _same(a: dict, b: dict) -> bool:
    """Two review_people rows of one trainee say the same (the facts in any order)."""
    return ({k: v for k, v in a.items() if k != "facts"} == {k: v for k, v in b.items() if k != "facts"}
            and sorted(a["facts"]) == sorted(b["facts"]))


def _rewrite_group(org: int, kind: str, key: str, changes: dict[date, list]) -> None:
    """Apply one figure's changes: its rows from the first changed day on are written again."""
    t = ReviewCount.__table__.c  # Core statements: no ORM bulk step (session synchronisation) per figure
    where = and_(t.org_id == org, t.kind == kind, t.key == key)
    days = {day: [n, last] for day, n, last in db.session.execute(select(t.day, t.n, t.last_at).where(where, t.day != TOTAL))}
    for day, (dn, added_last) in changes.items():
        cell = days.setdefault(day, [0, None])
        cell[0] += dn
        if kind == "last":
            if dn < 0 or (added_last is not None and cell[1] is not None and added_last < cell[1]):
                # someone may have left: the latest of those registered that day, from their rows
                cell[1] = _latest(org, key, day)
            elif added_last is not None:
                cell[1] = added_last if cell[1] is None or added_last > cell[1] else cell[1]
    first = min(changes)
    db.session.execute(delete(ReviewCount.__table__).where(where, or_(t.day >= first)))
    kept = {d: v for d, v in days.items() if d < first}
    cum, cum_last = 0, None
    for d in sorted(kept):
        cum += kept[d][0]
        if kept[d][1] is not None and (cum_last is None or kept[d][1] > cum_last):
            cum_last = kept[d][1]
    rows = _group_rows(org, kind, key, {d: v for d, v in days.items() if d >= first}, cum=cum, cum_last=cum_last)
    if rows:
        db.session.execute(insert(ReviewCount.__table__), rows)


def _latest(org: int, key: str, day: date) -> datetime | None:
    """The latest activity (selection ``key``) of the organization's trainees registered on ``day``,
    from review_people (already holding the new contributions)."""
    latest = None
    stmt = select(ReviewPerson.lasts).where(ReviewPerson.org_id == org, ReviewPerson.created_day == day,
                                            ReviewPerson.odd.is_(False))
    for lasts in db.session.scalars(stmt):
        if key in lasts:
            value = datetime.fromisoformat(lasts[key])
            latest = value if latest is None or value > latest else latest
    return latest


# --- the page: totals, corrected by the trainees still marked ------------------------------------

@dataclass
class Counted:
    """Per organization: figures[(kind, key)] = count in the period; lasts[key] = latest activity."""

    counts: dict[int, dict[tuple[str, str], int]]
    lasts: dict[int, dict[str, datetime]]


def _in_period(kind: str, day: int, created: int, since: int | None, until: int | None) -> bool:
    """Would this fact be counted for the period? Registered by its end, and (but "reg") in it."""
    if until is not None and created > until:
        return False
    if kind == "reg":
        return True
    return (since is None or day >= since) and (until is None or day <= until)


def counted(org_ids: list[int], filters: Filters, cat: Catalogue, wanted: dict[str, list[str]]) -> Counted | None:
    """The figures ``wanted`` ({kind: [keys]}) per organization for the filters' period, from the
    totals; None when the totals are not built for this catalogue (count the direct way)."""
    version_now = select(ReviewState.version).where(ReviewState.id == 1)
    for _ in range(3):
        state = db.session.execute(select(ReviewState.fingerprint, ReviewState.version)
                                   .where(ReviewState.id == 1)).first()
        if state is None or state.fingerprint != fingerprint(cat):
            return None
        result = _counted(org_ids, filters, cat, wanted)
        if db.session.scalar(version_now) == state.version:
            return result
    return None  # refreshed under our feet three times: count directly


def _counted(org_ids: list[int], filters: Filters, cat: Catalogue, wanted: dict[str, list[str]]) -> Counted:
    since = filters.since.toordinal() if filters.since else None
    until = filters.until.toordinal() if filters.until else None
    orgs = set(org_ids)
    counts: dict[int, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    lasts: dict[int, dict[str, datetime]] = defaultdict(dict)
    for org, kind, key, value, last in _totals(org_ids, filters, wanted):
        if kind == "last":
            if last is not None:
                lasts[org][key] = last
        else:
            counts[org][(kind, key)] += value

    marked = list(db.session.scalars(select(ReviewDirty.user_id)))
    old = {row.user_id: row for start in range(0, len(marked), CHUNK) for row in db.session.scalars(
        select(ReviewPerson).where(ReviewPerson.user_id.in_(marked[start:start + CHUNK])))}
    new = people(marked, cat) if marked else {}
    odd = {row.user_id: Person.from_row(row) for row in db.session.scalars(
        select(ReviewPerson).where(ReviewPerson.odd.is_(True), ReviewPerson.org_id.in_(org_ids)))
        if row.user_id not in old}
    wanted_keys = {(kind, key) for kind, keys in wanted.items() for key in keys}
    recompute_last: set[tuple[int, str]] = set()

    def superseded(uid: int, person: Person, key: str, last: datetime) -> bool:
        """Does the trainee's current contribution keep (at least) this latest activity in place?"""
        now = new.get(uid)
        return (now is not None and now.org_id == person.org_id and now.lasts.get(key) is not None
                and now.lasts[key] >= last and (until is None or now.created_day.toordinal() <= until))

    def add(person: Person, sign: int, uid: int | None = None) -> None:
        if person.org_id not in orgs:
            return
        created = person.created_day.toordinal()
        for kind, key, day in person.facts:
            if (kind, key) in wanted_keys and _in_period(kind, day, created, since, until):
                counts[person.org_id][(kind, key)] += sign
        if until is not None and created > until:
            return
        for key, last in person.lasts.items():
            if ("last", key) not in wanted_keys:
                continue
            current = lasts[person.org_id].get(key)
            if sign < 0:
                if current is not None and last >= current and not superseded(uid, person, key, last):
                    recompute_last.add((person.org_id, key))  # the latest may have gone: from the rows
            elif current is None or last > current:
                lasts[person.org_id][key] = last

    for uid in marked:
        if uid in old and not old[uid].odd:
            add(Person.from_row(old[uid]), -1, uid)
    for person in [*new.values(), *odd.values()]:
        add(person, +1)
    for org, key in recompute_last:
        lasts[org].pop(key, None)
        for uid, person in _org_people(org, marked):
            if uid in new:
                continue
            if (until is None or person.created_day.toordinal() <= until) and key in person.lasts:
                value = person.lasts[key]
                if lasts[org].get(key) is None or value > lasts[org][key]:
                    lasts[org][key] = value
        for person in new.values():
            if person.org_id == org and key in person.lasts and (
                    until is None or person.created_day.toordinal() <= until):
                value = person.lasts[key]
                if lasts[org].get(key) is None or value > lasts[org][key]:
                    lasts[org][key] = value
    return Counted({o: dict(c) for o, c in counts.items()}, {o: d for o, d in lasts.items() if d})


def _org_people(org: int, marked: list[int]):
    marked_set = set(marked)
    for row in db.session.scalars(select(ReviewPerson).where(ReviewPerson.org_id == org)):
        if row.user_id not in marked_set:
            yield row.user_id, Person.from_row(row)


def _totals(org_ids: list[int], filters: Filters, wanted: dict[str, list[str]]):
    """(org, kind, key, count in the period, latest activity) from the total rows and two probes each."""
    if not org_ids:
        return []
    t, r = ReviewCount, aliased(ReviewCount)
    same = and_(r.org_id == t.org_id, r.kind == t.kind, r.key == t.key)
    columns = [t.org_id, t.kind, t.key, t.cum, t.cum_last]
    if filters.until is not None:
        columns.append(case((t.kind != "last", select(r.cum).where(same, r.day <= filters.until)
                             .order_by(r.day.desc()).limit(1).scalar_subquery())))
        columns.append(case((t.kind == "last", select(r.cum_last).where(same, r.day <= filters.until)
                             .order_by(r.day.desc()).limit(1).scalar_subquery())))  # probed for "last" only
    if filters.since is not None:
        before = filters.since - timedelta(days=1)
        columns.append(case((t.kind.not_in(("reg", "last")), select(r.cum).where(same, r.day <= before)
                             .order_by(r.day.desc()).limit(1).scalar_subquery())))  # not for "reg", "last"
    which = or_(*[and_(t.kind == kind, t.key.in_(keys)) for kind, keys in wanted.items() if keys])
    stmt = select(*columns).where(t.day == TOTAL, t.org_id.in_(org_ids), which)
    out = []
    for row in db.session.execute(stmt):
        org, kind, key, cum, cum_last, *rest = row
        if filters.until is not None:
            cum, cum_last, rest = rest[0] or 0, rest[1], rest[2:]
        before = (rest[0] or 0) if filters.since is not None else 0
        if kind == "reg":
            before = 0
        out.append((org, kind, key, cum - before, cum_last))
    return out
