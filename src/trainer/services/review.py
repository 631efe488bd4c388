"""The reviewer's scope and the building blocks of every reviewer query (a prefecture or a
designated city; figures in services/figures.py, records in services/reports.py, the mastery
aggregate in services/mastery_report.py).

Everything starts from a :class:`Scope`, loaded from the reviewer's jurisdiction id: the
organizations whose ``jurisdiction_id`` is that id, and nothing else (a designated city inside a
prefecture is its own jurisdiction). Every query selects trainees through :func:`trainees`, which
filters by the jurisdiction *and* by the scope's own list of organization ids, so a foreign id in a
filter can only ever select nothing.

How the period (since/until, whole days in Asia/Tokyo) is counted, in one place:

- 登録受講者: active trainee accounts registered before the end of the period;
- 受講開始: trainees whose first attempt (at any of the selected modules) began in the period;
- per module: the trainees whose first start, first finish (最後まで取り組んだ) and first pass (合格)
  fell in the period — over all their attempts (services/completion defines the words);
- コース修了: the course was completed in the period, i.e. the last of its modules first counted
  (合格, or finished for a course without a pass score) in the period (completion.course_standing);
- 最終学習: the latest activity of the trainees (not cut by the period).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select, true
from sqlalchemy.sql import Select

from trainer.extensions import db
from trainer.models import Attempt, Course, Module, Organization, OrgKind, User
from trainer.models.org import PROGRAMME_LABELS
from trainer.services import completion
from trainer.services.counted import counted_trainee

JST = ZoneInfo("Asia/Tokyo")
UNSET = "unset"
PROGRAMME_CHOICES = {**{str(p): label for p, label in PROGRAMME_LABELS.items()}, UNSET: "（設定なし）"}


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

    def selected_units(self, filters: Filters) -> list[Organization]:
        """The municipalities (in display order) that hold an organization the filters select."""
        wanted = {self.unit_of[i] for i in self.org_ids(filters)}
        return [u for u in self.units if u.id in wanted]

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
    retired: tuple[str, ...] = ()

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

    def attempts_in(self, module_ids: list[str]):
        """WHERE clause on Attempt.module_id for these modules. All active modules are written as
        "not a retired one", which lets the database read a trainee's attempts in one index range
        instead of one probe per module."""
        if set(module_ids) == {m.id for m in self.modules}:
            return Attempt.module_id.not_in(self.retired) if self.retired else true()
        return Attempt.module_id.in_(module_ids)


def module_marks(cat: Catalogue) -> dict[str, int]:
    """module_id -> pass mark (services/completion.pass_marks over the catalogue's courses)."""
    marks: dict[str, int] = {}
    for course in cat.courses:
        if course.pass_score is not None:
            for module_id in course.module_ids:
                marks[module_id] = max(marks.get(module_id, 0), course.pass_score)
    return marks


def catalogue() -> Catalogue:
    """Active courses (with their active modules, in course order) and all active modules."""
    modules = list(db.session.scalars(select(Module).where(Module.retired_at.is_(None)).order_by(Module.sort)))
    active = {m.id for m in modules}
    courses = [CourseInfo(c.id, c.title, tuple(m for m in c.module_ids if m in active), c.pass_score)
               for c in db.session.scalars(select(Course).where(Course.retired_at.is_(None)).order_by(Course.sort))]
    retired = tuple(db.session.scalars(select(Module.id).where(Module.retired_at.is_not(None))))
    return Catalogue([c for c in courses if c.module_ids], modules, retired)


# --- the trainees a report is about ----------------------------------------------------------------

def trainees(scope: Scope, filters: Filters, org_ids: list[int] | None = None) -> Select:
    """(user_id, org_id) of counted trainees (services/counted.py) the filters select, registered
    before the period's end."""
    ids = scope.org_ids(filters) if org_ids is None else [i for i in org_ids if i in scope.orgs]
    _, end = filters.window()
    stmt = (
        select(User.id.label("user_id"), User.organization_id.label("org_id"))
        .join(Organization, Organization.id == User.organization_id)
        .where(Organization.jurisdiction_id == scope.id, User.organization_id.in_(ids), counted_trainee())
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


def module_records(people, modules, marks: Iterable[int]):
    """Subquery: one row per (trainee, module) attempted, with services/completion's columns
    (started, finished, best_score, attempts, open_attempt, last_activity, seconds, and
    ``passed_<mark>`` for each pass mark given). ``modules`` is a clause on Attempt.module_id
    (Catalogue.attempts_in)."""
    columns = [Attempt.user_id, Attempt.module_id, *completion.outcome_columns(marks)]
    # grouped in the (user_id, module_id) index order, so without a sort; callers join the people
    return (select(*columns).where(Attempt.user_id.in_(select(people.c.user_id)), modules)
            .group_by(Attempt.user_id, Attempt.module_id))


def course_marks(courses: list[CourseInfo]) -> set[int]:
    return {c.pass_score for c in courses if c.pass_score is not None}


def _course_pass(records, course: CourseInfo):
    """When a module first counted toward the course (completion.Outcome.counts, in SQL)."""
    return completion.passed_column(records, course.pass_score)


def per_trainee(records, courses: list[CourseInfo]) -> Select:
    """One row per trainee with attempts: last activity, and per course the number of modules passed
    (``n_<i>``) and the date the last of them was first passed (``d_<i>``, the course's completion)."""
    columns = [records.c.user_id, func.max(records.c.last_activity).label("last_activity")]
    for i, course in enumerate(courses):
        passed = _course_pass(records, course)
        mine = records.c.module_id.in_(course.module_ids)
        columns.append(func.sum(case((and_(mine, passed.is_not(None)), 1), else_=0)).label(f"n_{i}"))
        columns.append(func.max(case((mine, passed))).label(f"d_{i}"))
    return select(*columns).group_by(records.c.user_id)


def programme_label(key: str) -> str:
    return PROGRAMME_CHOICES.get(key, key)
