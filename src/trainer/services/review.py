"""Reviewer figures and records, always inside one jurisdiction (a prefecture or a designated city).

Everything starts from a :class:`Scope`, loaded from the reviewer's jurisdiction id: the
organizations whose ``jurisdiction_id`` is that id, and nothing else. Every query below selects
trainees through :func:`trainees`, which filters by the jurisdiction *and* by the scope's own list of
organization ids, so a foreign id in a filter can only ever select nothing.

How the period (since/until, days in Asia/Tokyo) is counted, in one place:

- 登録受講者: active trainee accounts registered before the end of the period;
- 受講開始: trainees whose first attempt at a module began in the period;
- モジュール修了: the module's first completion fell in the period;
- コース修了: the course was completed in the period, i.e. the last of its modules first reached the
  course's pass score in the period (the rule of ``progress.courses`` / ``progress.completion_date``);
- 最終学習: the latest activity of the trainees (not cut by the period).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.sql import Select

from trainer.extensions import db
from trainer.models import Attempt, Course, Module, Organization, OrgKind, Role, User, UserRole
from trainer.models.org import PROGRAMME_LABELS

JST = ZoneInfo("Asia/Tokyo")
UNSET = "unset"
PROGRAMME_CHOICES = {**{str(p): label for p, label in PROGRAMME_LABELS.items()}, UNSET: "（設定なし）"}
SORT_LABELS = {"code": "団体コード", "name": "名称", "registered": "登録受講者", "started": "受講開始",
               "last": "最終学習"}


# --- scope and filters -------------------------------------------------------------------------

@dataclass(frozen=True)
class Filters:
    """What the reviewer asked for; parsed and checked against the scope by review/forms.py."""

    since: date | None = None
    until: date | None = None
    municipality_id: int | None = None
    organization_id: int | None = None
    course_id: str | None = None
    programme: str | None = None
    sort: str = "code"
    descending: bool = False

    def window(self) -> tuple[datetime | None, datetime | None]:
        """The period as [start, end) in aware datetimes (whole days in Asia/Tokyo)."""
        start = datetime.combine(self.since, time(), JST) if self.since else None
        end = datetime.combine(self.until + timedelta(days=1), time(), JST) if self.until else None
        return start, end

    def args(self, **changes: Any) -> dict[str, str]:
        """Query-string arguments for links that keep these filters (None values left out)."""
        values = {"since": self.since, "until": self.until, "municipality": self.municipality_id,
                  "organization": self.organization_id, "course": self.course_id, "programme": self.programme,
                  "sort": self.sort if self.sort != "code" else None, "dir": "desc" if self.descending else None}
        values.update(changes)
        return {k: str(v) for k, v in values.items() if v not in (None, "")}


@dataclass
class Scope:
    """The organizations of one jurisdiction, with each one's municipality-level unit."""

    jurisdiction: Organization
    orgs: dict[int, Organization]
    unit_of: dict[int, int]
    units: list[Organization]

    @property
    def id(self) -> int:
        return self.jurisdiction.id

    def members(self, unit_id: int) -> list[Organization]:
        """The unit itself, then the offices under it."""
        offices = sorted((o for o in self.orgs.values() if self.unit_of[o.id] == unit_id and o.id != unit_id),
                         key=lambda o: o.name)
        return [self.orgs[unit_id], *offices]

    def programme(self, unit_id: int) -> str:
        return self.orgs[unit_id].programme or UNSET

    def org_ids(self, filters: Filters) -> list[int]:
        """The organizations a set of filters selects; never anything outside the scope."""
        ids = list(self.orgs)
        if filters.organization_id is not None:
            ids = [i for i in ids if i == filters.organization_id]
        if filters.municipality_id is not None:
            ids = [i for i in ids if self.unit_of[i] == filters.municipality_id]
        if filters.programme is not None:
            ids = [i for i in ids if self.programme(self.unit_of[i]) == filters.programme]
        return ids


def _unit_sort_key(org: Organization, jurisdiction_id: int) -> tuple:
    return (org.id != jurisdiction_id, org.code is None, org.code or "", org.name)


def load_scope(jurisdiction_id: int) -> Scope:
    """Every organization whose jurisdiction is ``jurisdiction_id`` (a designated city inside a
    prefecture has its own jurisdiction and is therefore not part of the prefecture's scope)."""
    jurisdiction = db.session.get(Organization, jurisdiction_id)
    if jurisdiction is None or not jurisdiction.is_jurisdiction:
        raise LookupError("not a jurisdiction")
    rows = db.session.scalars(select(Organization).where(Organization.jurisdiction_id == jurisdiction_id)).all()
    orgs = {o.id: o for o in rows}
    unit_of = {o.id: (o.parent_id if o.kind == OrgKind.OFFICE and o.parent_id in orgs else o.id) for o in rows}
    units = sorted((orgs[i] for i in set(unit_of.values())), key=lambda o: _unit_sort_key(o, jurisdiction_id))
    return Scope(jurisdiction, orgs, unit_of, units)


# --- content: courses and modules ----------------------------------------------------------------

@dataclass(frozen=True)
class CourseInfo:
    id: str
    title: str
    module_ids: tuple[str, ...]
    pass_score: int | None


@dataclass(frozen=True)
class Catalogue:
    courses: list[CourseInfo]
    modules: list[Module]

    def course(self, course_id: str | None) -> CourseInfo | None:
        return next((c for c in self.courses if c.id == course_id), None)

    def selected(self, filters: Filters) -> tuple[list[CourseInfo], list[Module]]:
        """The courses and modules a report covers: one course's, or all active ones."""
        course = self.course(filters.course_id)
        if course is None:
            return self.courses, self.modules
        return [course], [m for m in self.modules if m.id in course.module_ids]

    def courses_of(self, module_id: str) -> str:
        return "・".join(c.title for c in self.courses if module_id in c.module_ids)


def catalogue() -> Catalogue:
    """Active courses (with their active modules, in course order) and all active modules."""
    modules = list(db.session.scalars(select(Module).where(Module.retired_at.is_(None)).order_by(Module.sort)))
    active = {m.id for m in modules}
    courses = [CourseInfo(c.id, c.title, tuple(m for m in c.module_ids if m in active), c.pass_score)
               for c in db.session.scalars(select(Course).where(Course.retired_at.is_(None)).order_by(Course.sort))]
    return Catalogue([c for c in courses if c.module_ids], modules)


# --- the trainees a report is about ----------------------------------------------------------------

def trainees(scope: Scope, filters: Filters, org_ids: list[int] | None = None) -> Select:
    """(user_id, org_id) of active trainees the filters select, registered before the period's end."""
    ids = scope.org_ids(filters) if org_ids is None else [i for i in org_ids if i in scope.orgs]
    _, end = filters.window()
    stmt = (
        select(User.id.label("user_id"), User.organization_id.label("org_id"))
        .join(Organization, Organization.id == User.organization_id)
        .where(Organization.jurisdiction_id == scope.id, User.organization_id.in_(ids), User.active.is_(True),
               exists().where(UserRole.user_id == User.id, UserRole.role == Role.TRAINEE))
    )
    if end is not None:
        stmt = stmt.where(User.created_at < end)
    return stmt


def in_window(column, start: datetime | None, end: datetime | None):
    conditions = [column.is_not(None)]
    if start is not None:
        conditions.append(column >= start)
    if end is not None:
        conditions.append(column < end)
    return and_(*conditions)


def _pass_column(name: str, pass_score: int | None):
    return f"{name}_{pass_score if pass_score is not None else 'any'}"


def module_records(people, module_ids: list[str], courses: list[CourseInfo]):
    """Subquery: one row per (trainee, module) attempted, with the dates the figures need.

    ``pass_<score>`` is the first completion reaching that pass score (``pass_any``: any completion).
    """
    columns = [
        Attempt.user_id, people.c.org_id, Attempt.module_id,
        func.min(Attempt.started_at).label("first_started"),
        func.min(Attempt.completed_at).label("first_completed"),
        func.max(Attempt.last_activity_at).label("last_activity"),
        func.max(case((Attempt.completed_at.is_not(None), Attempt.score))).label("best_score"),
        func.count().label("attempts"),
    ]
    for score in sorted({c.pass_score for c in courses if c.pass_score is not None}):
        columns.append(func.min(case((Attempt.score >= score, Attempt.completed_at))).label(_pass_column("pass", score)))
    return (select(*columns).join(people, people.c.user_id == Attempt.user_id)
            .where(Attempt.module_id.in_(module_ids))
            .group_by(Attempt.user_id, people.c.org_id, Attempt.module_id))


def _course_pass(records, course: CourseInfo):
    if course.pass_score is None:
        return records.c.first_completed
    return records.c[_pass_column("pass", course.pass_score)]


def per_trainee(records, courses: list[CourseInfo], start, end) -> Select:
    """One row per trainee with attempts: started in the period, last activity, and per course the
    number of modules passed (``n_<i>``) and the date the last of them was first passed (``d_<i>``)."""
    columns = [records.c.user_id, records.c.org_id,
               func.max(case((in_window(records.c.first_started, start, end), 1), else_=0)).label("started"),
               func.max(records.c.last_activity).label("last_activity")]
    for i, course in enumerate(courses):
        passed = _course_pass(records, course)
        mine = records.c.module_id.in_(course.module_ids)
        columns.append(func.sum(case((and_(mine, passed.is_not(None)), 1), else_=0)).label(f"n_{i}"))
        columns.append(func.max(case((mine, passed))).label(f"d_{i}"))
    return select(*columns).group_by(records.c.user_id, records.c.org_id)


# --- figures -----------------------------------------------------------------------------------

@dataclass
class Figures:
    registered: int = 0
    started: int = 0
    completed: dict[str, int] = field(default_factory=dict)
    last_activity: datetime | None = None

    def rate(self, course_id: str) -> float | None:
        """Share of registered trainees who completed the course (percent), None when nobody is registered."""
        if not self.registered:
            return None
        return 100.0 * self.completed.get(course_id, 0) / self.registered

    def add(self, other: Figures) -> None:
        self.registered += other.registered
        self.started += other.started
        for key, value in other.completed.items():
            self.completed[key] = self.completed.get(key, 0) + value
        if other.last_activity and (self.last_activity is None or other.last_activity > self.last_activity):
            self.last_activity = other.last_activity


@dataclass
class Row:
    org: Organization
    figures: Figures

    @property
    def programme(self) -> str:
        return self.org.programme or UNSET


@dataclass
class ModuleRow:
    module: Module
    courses: str
    started: int = 0
    completed: int = 0


@dataclass
class Overview:
    courses: list[CourseInfo]
    rows: list[Row]
    total: Figures
    programmes: list[tuple[str, Figures]]
    modules: list[ModuleRow]


def org_figures(scope: Scope, filters: Filters, courses: list[CourseInfo], module_ids: list[str],
                org_ids: list[int] | None = None) -> dict[int, Figures]:
    """Figures per organization (registered, started, completed per course, last activity)."""
    start, end = filters.window()
    people = trainees(scope, filters, org_ids).subquery("people")
    out: dict[int, Figures] = defaultdict(Figures)
    for org_id, count in db.session.execute(select(people.c.org_id, func.count()).group_by(people.c.org_id)):
        out[org_id].registered = count
    if not module_ids:
        return out
    users = per_trainee(module_records(people, module_ids, courses).subquery("module_records"), courses, start, end).subquery("trainee_totals")
    columns = [users.c.org_id, func.sum(users.c.started), func.max(users.c.last_activity)]
    for i, course in enumerate(courses):
        done = and_(users.c[f"n_{i}"] == len(course.module_ids), in_window(users.c[f"d_{i}"], start, end))
        columns.append(func.sum(case((done, 1), else_=0)))
    for org_id, started, last, *done in db.session.execute(select(*columns).group_by(users.c.org_id)):
        figures = out[org_id]
        figures.started, figures.last_activity = int(started or 0), last
        figures.completed = {c.id: int(n or 0) for c, n in zip(courses, done)}
    return out


def module_counts(scope: Scope, filters: Filters, module_ids: list[str],
                  org_ids: list[int] | None = None) -> dict[tuple[int, str], tuple[int, int]]:
    """(org_id, module_id) -> (trainees who started it in the period, who first completed it in the period)."""
    if not module_ids:
        return {}
    start, end = filters.window()
    people = trainees(scope, filters, org_ids).subquery("people")
    records = module_records(people, module_ids, []).subquery("module_records")
    stmt = select(records.c.org_id, records.c.module_id,
                  func.sum(case((in_window(records.c.first_started, start, end), 1), else_=0)),
                  func.sum(case((in_window(records.c.first_completed, start, end), 1), else_=0)),
                  ).group_by(records.c.org_id, records.c.module_id)
    return {(o, m): (int(s or 0), int(c or 0)) for o, m, s, c in db.session.execute(stmt)}


def overview(scope: Scope, filters: Filters, cat: Catalogue, unit_id: int | None = None) -> Overview:
    """The home table (one row per municipality) or, with ``unit_id``, one municipality's organizations."""
    courses, modules = cat.selected(filters)
    module_ids = [m.id for m in modules]
    org_ids = scope.org_ids(filters)
    if unit_id is not None:
        org_ids = [i for i in org_ids if scope.unit_of[i] == unit_id]
    by_org = org_figures(scope, filters, courses, module_ids, org_ids)
    targets = scope.members(unit_id) if unit_id is not None else _selected_units(scope, filters)
    rows = {o.id: Row(o, Figures(completed=dict.fromkeys((c.id for c in courses), 0))) for o in targets}
    for org_id, figures in by_org.items():
        key = org_id if unit_id is not None else scope.unit_of[org_id]
        if key in rows:
            rows[key].figures.add(figures)
    ordered = sort_rows(list(rows.values()), filters)
    counts = module_counts(scope, filters, module_ids, org_ids)
    module_rows = {m.id: ModuleRow(m, cat.courses_of(m.id)) for m in modules}
    for (_, module_id), (started, completed) in counts.items():
        module_rows[module_id].started += started
        module_rows[module_id].completed += completed
    return Overview(courses, ordered, _total(ordered, courses), _by_programme(ordered, courses),
                    list(module_rows.values()))


def _selected_units(scope: Scope, filters: Filters) -> list[Organization]:
    wanted = {scope.unit_of[i] for i in scope.org_ids(filters)}
    if filters.organization_id is None and filters.programme is None and filters.municipality_id is None:
        wanted = {u.id for u in scope.units}
    return [u for u in scope.units if u.id in wanted]


def _total(rows: list[Row], courses: list[CourseInfo]) -> Figures:
    total = Figures(completed=dict.fromkeys((c.id for c in courses), 0))
    for row in rows:
        total.add(row.figures)
    return total


def _by_programme(rows: list[Row], courses: list[CourseInfo]) -> list[tuple[str, Figures]]:
    out = {key: Figures(completed=dict.fromkeys((c.id for c in courses), 0)) for key in PROGRAMME_CHOICES}
    present = set()
    for row in rows:
        out[row.programme].add(row.figures)
        present.add(row.programme)
    return [(key, figures) for key, figures in out.items() if key in present]


def sort_keys(courses: list[CourseInfo]) -> dict[str, str]:
    """Valid sort keys with their Japanese labels."""
    keys = dict(SORT_LABELS)
    for course in courses:
        keys[f"done-{course.id}"] = f"{course.title} 修了者"
        keys[f"rate-{course.id}"] = f"{course.title} 修了率"
    return keys


def sort_rows(rows: list[Row], filters: Filters) -> list[Row]:
    """Rows (given in code order) sorted by the filters' key; no registrations sort below 0%."""
    key = filters.sort
    if key.startswith("done-"):
        getter = lambda r: r.figures.completed.get(key[5:], 0)  # noqa: E731
    elif key.startswith("rate-"):
        getter = lambda r: -1.0 if r.figures.rate(key[5:]) is None else r.figures.rate(key[5:])  # noqa: E731
    elif key == "name":
        getter = lambda r: r.org.kana or r.org.name  # noqa: E731
    elif key in ("registered", "started"):
        getter = lambda r: getattr(r.figures, key)  # noqa: E731
    elif key == "last":
        getter = lambda r: r.figures.last_activity or datetime.min.replace(tzinfo=JST)  # noqa: E731
    else:
        getter = lambda r: (r.org.code is None, r.org.code or "", r.org.name)  # noqa: E731
    return sorted(rows, key=getter, reverse=filters.descending)  # stable: ties keep the code order


def programme_label(key: str) -> str:
    return PROGRAMME_CHOICES.get(key, key)

