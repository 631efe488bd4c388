"""Completion figures per municipality (or per organization inside one), as the reviewer home and
the drill-down show them: registered, started, completed per course, completion rate, last activity;
totals, totals per support programme, and started/completed per module.

The period is counted as described in services/review.py. Each figure comes from one pass over the
attempts of the selected trainees (grouped in index order), so the home stays fast at 100,000
attempts: see docs/benchmarks.md.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, case, distinct, func, null, select
from sqlalchemy.sql import Select

from trainer.extensions import db
from trainer.models import Attempt, Module, Organization, User
from trainer.services import completion, review_counts
from trainer.services.review import (
    JST, PROGRAMME_CHOICES, UNSET, Catalogue, CourseInfo, Filters, Scope, in_window, module_marks, module_records,
    trainees,
)

SORT_LABELS = {"code": "団体コード", "name": "名称", "registered": "登録受講者", "started": "受講開始",
               "last": "最終学習"}


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
    """Per module: trainees who first started, first finished (最後まで取り組んだ) and first passed
    (合格, when the module has a pass mark) in the period — over all their attempts."""

    module: Module
    courses: str
    mark: int | None = None
    started: int = 0
    finished: int = 0
    passed: int = 0

    def add(self, counts: tuple[int, int, int]) -> None:
        self.started += counts[0]
        self.finished += counts[1]
        self.passed += counts[2]


@dataclass
class Overview:
    courses: list[CourseInfo]
    rows: list[Row]
    total: Figures
    programmes: list[tuple[str, Figures]]
    modules: list[ModuleRow]


def _passed(course: CourseInfo):
    """An attempt that counts toward the course: completed (with the course's pass score, if any)."""
    done = and_(Attempt.module_id.in_(course.module_ids), Attempt.completed_at.is_not(None))
    return and_(done, Attempt.score >= course.pass_score) if course.pass_score is not None else done


def trainee_totals(people, modules, courses: list[CourseInfo], start, end) -> Select:
    """One row per trainee with attempts, in a single pass over the attempts: the first start, the
    last activity, and per course the number of its modules passed before the period's end
    (``n_<i>``) and before its start (``b_<i>``). The course was completed in the period exactly when
    all modules were passed before the end but not all before the start."""
    columns = [Attempt.user_id, func.min(Attempt.started_at).label("first_started"),
               func.max(Attempt.last_activity_at).label("last_activity")]
    for i, course in enumerate(courses):
        passed = _passed(course)
        by_end = and_(passed, Attempt.completed_at < end) if end is not None else passed
        columns.append(func.count(distinct(case((by_end, Attempt.module_id)))).label(f"n_{i}"))
        if start is not None:
            before = and_(passed, Attempt.completed_at < start)
            columns.append(func.count(distinct(case((before, Attempt.module_id)))).label(f"b_{i}"))
    # grouped by user alone, read in user order: no sort (the organization is joined afterwards)
    return (select(*columns).where(Attempt.user_id.in_(select(people.c.user_id)), modules)
            .group_by(Attempt.user_id))


def _selection(filters: Filters, cat: Catalogue) -> str:
    course = cat.course(filters.course_id)
    return course.id if course is not None else review_counts.ALL


def _wanted(filters: Filters, cat: Catalogue, courses: list[CourseInfo], module_ids: list[str]) -> dict[str, list[str]]:
    sel = _selection(filters, cat)
    return {"reg": [""], "start": [sel], "last": [sel], "done": [c.id for c in courses],
            "ms": list(module_ids), "mf": list(module_ids), "mp": list(module_ids)}


def _figures_from(counted: review_counts.Counted, filters: Filters, cat: Catalogue, courses: list[CourseInfo],
                  module_ids: list[str], org_ids: list[int]) -> dict[int, Figures]:
    sel = _selection(filters, cat)
    out: dict[int, Figures] = defaultdict(Figures)
    for org_id in org_ids:
        counts, last = counted.counts.get(org_id, {}), counted.lasts.get(org_id, {}).get(sel)
        if not counts and last is None:
            continue
        figures = out[org_id]
        figures.registered = counts.get(("reg", ""), 0)
        if module_ids:
            figures.started, figures.last_activity = counts.get(("start", sel), 0), last
            figures.completed = {c.id: counts.get(("done", c.id), 0) for c in courses}
    return out


def _module_counts_from(counted: review_counts.Counted, module_ids: list[str],
                        org_ids: list[int]) -> dict[tuple[int, str], tuple[int, int, int]]:
    out = {}
    for org_id in org_ids:
        counts = counted.counts.get(org_id, {})
        for module_id in module_ids:
            figures = tuple(counts.get((kind, module_id), 0) for kind in ("ms", "mf", "mp"))
            if any(figures):
                out[(org_id, module_id)] = figures
    return out


def org_figures(scope: Scope, filters: Filters, cat: Catalogue, courses: list[CourseInfo], module_ids: list[str],
                org_ids: list[int] | None = None) -> dict[int, Figures]:
    """Figures per organization (registered, started, completed per course, last activity): from the
    running totals (services/review_counts.py) when they are built, else directly."""
    ids = scope.org_ids(filters) if org_ids is None else [i for i in org_ids if i in scope.orgs]
    counted = review_counts.counted(ids, filters, cat, _wanted(filters, cat, courses, module_ids))
    if counted is not None:
        return _figures_from(counted, filters, cat, courses, module_ids, ids)
    return direct_org_figures(scope, filters, cat, courses, module_ids, org_ids)


def direct_org_figures(scope: Scope, filters: Filters, cat: Catalogue, courses: list[CourseInfo],
                       module_ids: list[str], org_ids: list[int] | None = None) -> dict[int, Figures]:
    """org_figures from the attempts themselves (one pass over the selected trainees' attempts)."""
    start, end = filters.window()
    people = trainees(scope, filters, org_ids).subquery("people")
    out: dict[int, Figures] = defaultdict(Figures)
    for org_id, count in db.session.execute(select(people.c.org_id, func.count()).group_by(people.c.org_id)):
        out[org_id].registered = count
    if not module_ids:
        return out
    users = trainee_totals(people, cat.attempts_in(module_ids), courses, start, end).subquery("trainee_totals")
    columns = [User.organization_id, func.sum(case((in_window(users.c.first_started, start, end), 1), else_=0)),
               func.max(users.c.last_activity)]
    for i, course in enumerate(courses):
        done = users.c[f"n_{i}"] == len(course.module_ids)
        if start is not None:
            done = and_(done, users.c[f"b_{i}"] < len(course.module_ids))
        columns.append(func.sum(case((done, 1), else_=0)))
    # the people were chosen inside; here only their organization is looked up (by primary key)
    stmt = select(*columns).join(User, User.id == users.c.user_id).group_by(User.organization_id)
    for org_id, started, last, *done in db.session.execute(stmt):
        figures = out[org_id]
        figures.started, figures.last_activity = int(started or 0), last
        figures.completed = {c.id: int(n or 0) for c, n in zip(courses, done)}
    return out


def module_counts(scope: Scope, filters: Filters, cat: Catalogue, module_ids: list[str],
                  org_ids: list[int] | None = None) -> dict[tuple[int, str], tuple[int, int, int]]:
    """(org_id, module_id) -> trainees whose first start, first finish and first pass fell in the
    period, each over ALL their attempts at the module (an abandoned attempt, a retake or a live
    restart changes nothing: services/completion). From the running totals when they are built."""
    if not module_ids:
        return {}
    ids = scope.org_ids(filters) if org_ids is None else [i for i in org_ids if i in scope.orgs]
    counted = review_counts.counted(ids, filters, cat, {"ms": module_ids, "mf": module_ids, "mp": module_ids})
    if counted is not None:
        return _module_counts_from(counted, module_ids, ids)
    return direct_module_counts(scope, filters, cat, module_ids, org_ids)


def direct_module_counts(scope: Scope, filters: Filters, cat: Catalogue, module_ids: list[str],
                         org_ids: list[int] | None = None) -> dict[tuple[int, str], tuple[int, int, int]]:
    """module_counts from the attempts themselves."""
    if not module_ids:
        return {}
    start, end = filters.window()
    marks = module_marks(cat)
    people = trainees(scope, filters, org_ids).subquery("people")
    rec = module_records(people, cat.attempts_in(module_ids), set(marks.values())).subquery("module_records")
    by_mark: dict[int, list[str]] = {}
    for module_id, mark in marks.items():
        by_mark.setdefault(mark, []).append(module_id)
    passed = case(*[(rec.c.module_id.in_(ids), completion.passed_column(rec, mark)) for mark, ids in by_mark.items()],
                  else_=None) if by_mark else null()
    stmt = (select(User.organization_id, rec.c.module_id,
                   func.sum(case((in_window(rec.c.started, start, end), 1), else_=0)),
                   func.sum(case((in_window(rec.c.finished, start, end), 1), else_=0)),
                   func.sum(case((in_window(passed, start, end), 1), else_=0)))
            .join(User, User.id == rec.c.user_id).group_by(User.organization_id, rec.c.module_id))
    return {(o, m): (int(s or 0), int(f or 0), int(p or 0)) for o, m, s, f, p in db.session.execute(stmt)}


def overview(scope: Scope, filters: Filters, cat: Catalogue, unit_id: int | None = None) -> Overview:
    """The home table (one row per municipality) or, with ``unit_id``, one municipality's organizations."""
    courses, modules = cat.selected(filters)
    module_ids = [m.id for m in modules]
    org_ids = scope.org_ids(filters)
    if unit_id is not None:
        org_ids = [i for i in org_ids if scope.unit_of[i] == unit_id]
    counted = review_counts.counted(org_ids, filters, cat, _wanted(filters, cat, courses, module_ids))
    if counted is not None:
        by_org = _figures_from(counted, filters, cat, courses, module_ids, org_ids)
        counts = _module_counts_from(counted, module_ids, org_ids)
    else:
        by_org = direct_org_figures(scope, filters, cat, courses, module_ids, org_ids)
        counts = direct_module_counts(scope, filters, cat, module_ids, org_ids)
    targets = scope.members(unit_id) if unit_id is not None else scope.selected_units(filters)
    rows = {o.id: Row(o, Figures(completed=dict.fromkeys((c.id for c in courses), 0))) for o in targets}
    for org_id, figures in by_org.items():
        key = org_id if unit_id is not None else scope.unit_of[org_id]
        if key in rows:
            rows[key].figures.add(figures)
    ordered = sort_rows(list(rows.values()), filters)
    marks = module_marks(cat)
    module_rows = {m.id: ModuleRow(m, cat.courses_of(m.id), marks.get(m.id)) for m in modules}
    for (_, module_id), figures in counts.items():
        module_rows[module_id].add(figures)
    return Overview(courses, ordered, _total(ordered, courses), _by_programme(ordered, courses),
                    list(module_rows.values()))


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
