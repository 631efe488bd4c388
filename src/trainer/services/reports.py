"""Reviewer reports built on services/review.py: trainee lists, completion records, one trainee's
record, and the point-level mastery aggregate with small-group suppression.

A reviewer sees records and aggregates only: nothing here reads an answer's response (the
free-text reflections) or returns a single trainee's answers or point mastery.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, case, exists, func, select

from trainer.extensions import db
from trainer.models import Answer, Certificate, Item, Module, Organization, Point, QuestionPoint, Role, User, UserRole
from trainer.services import certificates, mastery, progress
from trainer.services.review import (
    Catalogue, CourseInfo, Filters, Scope, in_window, module_records, per_trainee, trainees,
)

#: Groups with fewer trainees than this get no point-level figures (overridable per app:
#: REVIEW_MIN_GROUP_SIZE in the Flask config).
MIN_GROUP_SIZE = 5
STREAM_BATCH = 1000


# --- trainee lists -----------------------------------------------------------------------------

@dataclass(frozen=True)
class CourseState:
    course: CourseInfo
    passed: int
    completed_on: datetime | None
    in_period: bool

    @property
    def completed(self) -> bool:
        return self.passed == len(self.course.module_ids)

    @property
    def label(self) -> str:
        if self.completed:
            return "修了"
        return f"学習中（{self.passed}/{len(self.course.module_ids)}）" if self.passed else "未修了"


@dataclass(frozen=True)
class TraineeRow:
    user_id: int
    name: str
    furigana: str | None
    org: Organization
    unit: Organization
    started: bool
    last_activity: datetime | None
    courses: list[CourseState]


def _org_rank(scope: Scope, unit_id: int):
    """ORDER BY expression: the unit's own organization first, then its offices by name."""
    ranks = {org.id: rank for rank, org in enumerate(scope.members(unit_id))}
    return case(ranks, value=User.organization_id, else_=len(ranks))


def _unit_org_ids(scope: Scope, filters: Filters, unit_id: int) -> list[int]:
    return [i for i in scope.org_ids(filters) if scope.unit_of[i] == unit_id]


def _trainee_statement(scope: Scope, filters: Filters, cat: Catalogue, unit_id: int):
    courses, modules = cat.selected(filters)
    start, end = filters.window()
    people = trainees(scope, filters, _unit_org_ids(scope, filters, unit_id)).subquery("people")
    users = per_trainee(module_records(people, [m.id for m in modules], courses).subquery("module_records"),
                        courses, start, end).subquery("trainee_totals")
    columns = [users.c[f"{p}_{i}"] for i in range(len(courses)) for p in ("n", "d")]
    stmt = (select(User.id, User.display_name, User.furigana, User.organization_id, users.c.started,
                   users.c.last_activity, *columns)
            .join(people, people.c.user_id == User.id).outerjoin(users, users.c.user_id == User.id)
            .order_by(_org_rank(scope, unit_id), func.coalesce(User.furigana, User.display_name), User.id))
    return stmt, courses, (start, end)


def count_trainees(scope: Scope, filters: Filters, unit_id: int) -> int:
    people = trainees(scope, filters, _unit_org_ids(scope, filters, unit_id)).subquery()
    return db.session.scalar(select(func.count()).select_from(people))


def trainee_rows(scope: Scope, filters: Filters, cat: Catalogue, unit_id: int, *, limit: int | None = None,
                 offset: int = 0) -> Iterator[TraineeRow]:
    """The trainees of one municipality (the same people as its 登録受講者 figure), in list order."""
    stmt, courses, (start, end) = _trainee_statement(scope, filters, cat, unit_id)
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    for user_id, name, furigana, org_id, started, last, *pairs in _stream(stmt):
        states = []
        for i, course in enumerate(courses):
            passed, day = int(pairs[2 * i] or 0), pairs[2 * i + 1]
            done = passed == len(course.module_ids)
            inside = (done and day is not None and (start, end) != (None, None)
                      and (start is None or day >= start) and (end is None or day < end))
            states.append(CourseState(course, passed, day if done else None, inside))
        yield TraineeRow(user_id, name, furigana, scope.orgs[org_id], scope.orgs[scope.unit_of[org_id]],
                         bool(started), last, states)


def _stream(stmt, batch: int = STREAM_BATCH, scalars: bool = False) -> Iterator:
    """Rows fetched ``batch`` at a time (a server-side cursor on PostgreSQL), closed even when the
    reader stops early (a client that disconnects in the middle of a download)."""
    result = db.session.execute(stmt, execution_options={"yield_per": batch})
    try:
        yield from (result.scalars() if scalars else result)
    finally:
        result.close()


def selected_units(scope: Scope, filters: Filters) -> list[Organization]:
    wanted = {scope.unit_of[i] for i in scope.org_ids(filters)}
    return [u for u in scope.units if u.id in wanted]


def all_trainee_rows(scope: Scope, filters: Filters, cat: Catalogue) -> Iterator[TraineeRow]:
    """Every selected municipality's trainee list, one municipality after another (bounded memory)."""
    for unit in selected_units(scope, filters):
        yield from trainee_rows(scope, filters, cat, unit.id)


def certificate_codes(scope: Scope, user_ids: list[int]) -> dict[tuple[int, str], str]:
    """(user_id, course_id) -> certificate code, for trainees of the scope only."""
    if not user_ids:
        return {}
    stmt = (select(Certificate.user_id, Certificate.course_id, Certificate.code)
            .join(User, User.id == Certificate.user_id).join(Organization, Organization.id == User.organization_id)
            .where(Certificate.user_id.in_(user_ids), Organization.jurisdiction_id == scope.id))
    return {(u, c): code for u, c, code in db.session.execute(stmt)}


# --- completion records (trainee x module) -----------------------------------------------------

@dataclass(frozen=True)
class RecordRow:
    user_id: int
    name: str
    furigana: str | None
    org: Organization
    unit: Organization
    module_id: str
    module_title: str
    first_started: datetime
    first_completed: datetime | None
    best_score: float | None
    attempts: int
    last_activity: datetime

    @property
    def status(self) -> str:
        return "修了" if self.first_completed else "学習中"


def record_rows(scope: Scope, filters: Filters, cat: Catalogue, unit_id: int) -> Iterator[RecordRow]:
    """One row per trainee and module worked on (in the period, when one is given)."""
    _, modules = cat.selected(filters)
    start, end = filters.window()
    people = trainees(scope, filters, _unit_org_ids(scope, filters, unit_id)).subquery("people")
    rec = module_records(people, [m.id for m in modules], []).subquery("module_records")
    stmt = (select(User.id, User.display_name, User.furigana, User.organization_id, Module.id, Module.title,
                   rec.c.first_started, rec.c.first_completed, rec.c.best_score, rec.c.attempts, rec.c.last_activity)
            .join(rec, rec.c.user_id == User.id).join(Module, Module.id == rec.c.module_id)
            .order_by(_org_rank(scope, unit_id), func.coalesce(User.furigana, User.display_name), User.id, Module.sort))
    if end is not None:
        stmt = stmt.where(rec.c.first_started < end)
    if start is not None:
        stmt = stmt.where(rec.c.last_activity >= start)
    for row in _stream(stmt):
        org = scope.orgs[row[3]]
        yield RecordRow(row[0], row[1], row[2], org, scope.orgs[scope.unit_of[org.id]], *row[4:])


def all_record_rows(scope: Scope, filters: Filters, cat: Catalogue) -> Iterator[RecordRow]:
    for unit in selected_units(scope, filters):
        yield from record_rows(scope, filters, cat, unit.id)


# --- one trainee's record ----------------------------------------------------------------------

@dataclass
class TraineeRecord:
    user: User
    modules: list[RecordRow]
    latest_scores: dict[str, float | None]
    courses: list[tuple[progress.CourseStatus, datetime | None, Certificate | None]]


def trainee(scope: Scope, user_id: int) -> User | None:
    """A trainee of the scope's organizations (deactivated accounts included), or None."""
    stmt = (select(User).join(Organization, Organization.id == User.organization_id)
            .where(User.id == user_id, Organization.jurisdiction_id == scope.id,
                   exists().where(UserRole.user_id == User.id, UserRole.role == Role.TRAINEE)))
    return db.session.scalar(stmt)


def trainee_record(scope: Scope, user: User, cat: Catalogue) -> TraineeRecord:
    """Modules (dates, scores, attempts), courses (completion date) and certificates — no answers."""
    people = select(User.id.label("user_id"), User.organization_id.label("org_id")).where(User.id == user.id).subquery()
    rec = module_records(people, [m.id for m in cat.modules], []).subquery()
    stmt = (select(Module.id, Module.title, rec.c.first_started, rec.c.first_completed, rec.c.best_score,
                   rec.c.attempts, rec.c.last_activity).join(rec, rec.c.module_id == Module.id).order_by(Module.sort))
    org = scope.orgs[user.organization_id]
    unit = scope.orgs[scope.unit_of[org.id]]
    modules = [RecordRow(user.id, user.display_name, user.furigana, org, unit, *row) for row in db.session.execute(stmt)]
    latest = {s.module.id: s.score for s in progress.statuses(user, cat.modules)}
    issued = {c.course_id: c for c in certificates.of_user(user)}
    courses = []
    for status in progress.courses(user):
        day = progress.completion_date(user, status.course) if status.completed else None
        courses.append((status, day, issued.get(status.course.id)))
    return TraineeRecord(user, modules, latest, courses)


def certificates_for(scope: Scope, unit_id: int, filters: Filters) -> Iterator[Certificate]:
    """Certificates of one municipality's trainees, completed in the period, in date order."""
    return _stream(_certificates(scope, unit_id, filters), batch=100, scalars=True)


def has_certificates(scope: Scope, unit_id: int, filters: Filters) -> bool:
    return db.session.execute(_certificates(scope, unit_id, filters).limit(1)).first() is not None


def _certificates(scope: Scope, unit_id: int, filters: Filters):
    start, end = filters.window()
    org_ids = [i for i in scope.orgs if scope.unit_of[i] == unit_id]
    stmt = (select(Certificate).join(User, User.id == Certificate.user_id)
            .join(Organization, Organization.id == User.organization_id)
            .where(Organization.jurisdiction_id == scope.id, User.organization_id.in_(org_ids),
                   in_window(Certificate.completed_on, start, end))
            .order_by(Certificate.completed_on, Certificate.holder_name, Certificate.id))
    if filters.course_id:
        stmt = stmt.where(Certificate.course_id == filters.course_id)
    return stmt


def certificate_in_scope(scope: Scope, code: str) -> Certificate | None:
    cert = certificates.find(code)
    if cert is None:
        return None
    owner = db.session.get(User, cert.user_id)
    return cert if owner is not None and owner.organization_id in scope.orgs else None


# --- point-level mastery, with small groups suppressed --------------------------------------------

@dataclass
class GroupMastery:
    """Mastery of the 50 points in a group of trainees (a municipality, or the whole selection)."""

    org: Organization | None
    practised: int = 0
    secure: dict[str, int] = field(default_factory=dict)
    answered: dict[str, int] = field(default_factory=dict)
    suppressed: bool = False

    def counts(self, point_id: str) -> tuple[int, int, int]:
        """(定着, 学習中, 未練習) trainees for a point."""
        secure, answered = self.secure.get(point_id, 0), self.answered.get(point_id, 0)
        return secure, answered - secure, self.practised - answered

    def rate(self, point_ids: list[str]) -> float | None:
        """Percent of (trainee, point) pairs that are 定着, over the given points."""
        if not self.practised or not point_ids:
            return None
        return 100.0 * sum(self.secure.get(p, 0) for p in point_ids) / (self.practised * len(point_ids))

    @property
    def shown(self) -> bool:
        return self.practised > 0 and not self.suppressed


@dataclass
class MasteryReport:
    items: list[tuple[Item, list[Point]]]
    total: GroupMastery
    units: list[GroupMastery]
    min_group: int

    def weakest(self, n: int = 5) -> list[tuple[Point, float]]:
        """Practised points with the lowest share of 定着 in the selection (empty when suppressed)."""
        if not self.total.shown:
            return []
        rates = [(p, self.total.rate([p.id]) or 0.0) for _, points in self.items for p in points
                 if self.total.answered.get(p.id)]
        return sorted(rates, key=lambda pr: (pr[1], pr[0].sort))[:n]

    def unpractised(self) -> list[Point]:
        """Points nobody in the selection has practised yet (empty when suppressed)."""
        if not self.total.shown:
            return []
        return [p for _, points in self.items for p in points if not self.total.answered.get(p.id)]


def point_items() -> list[tuple[Item, list[Point]]]:
    items = db.session.scalars(select(Item).order_by(Item.number)).all()
    return [(item, [p for p in item.points if p.retired_at is None]) for item in items]


def mastery_report(scope: Scope, filters: Filters, min_group: int = MIN_GROUP_SIZE) -> MasteryReport:
    """The mastery rule of services/mastery (latest scored answer per question; 定着 = at least
    MIN_SECURE_QUESTIONS answered with a mean of SECURE_SCORE or more), counted per municipality."""
    by_org = _mastery_by_org(scope, filters)
    units = {u.id: GroupMastery(u) for u in selected_units(scope, filters)}
    total = GroupMastery(None)
    for org_id, group in by_org.items():
        for target in (units.get(scope.unit_of[org_id]), total):
            if target is not None:
                _merge(target, group)
    total.suppressed = 0 < total.practised < min_group
    hidden = suppressed_groups({u: g.practised for u, g in units.items()}, min_group)
    for unit_id in hidden:
        units[unit_id].suppressed = True
    return MasteryReport(point_items(), total, list(units.values()), min_group)


def _merge(target: GroupMastery, group: GroupMastery) -> None:
    target.practised += group.practised
    for key in group.answered:
        target.answered[key] = target.answered.get(key, 0) + group.answered[key]
        target.secure[key] = target.secure.get(key, 0) + group.secure.get(key, 0)


def suppressed_groups(sizes: dict[int, int], min_group: int) -> set[int]:
    """Groups with 1..min_group-1 trainees, plus the smallest others when the hidden ones together
    are still fewer than min_group (otherwise the total minus the shown groups would reveal them)."""
    hidden = {g for g, n in sizes.items() if 0 < n < min_group}
    others = sorted((n, g) for g, n in sizes.items() if n >= min_group)
    while hidden and sum(sizes[g] for g in hidden) < min_group and others:
        hidden.add(others.pop(0)[1])
    return hidden


def _mastery_by_org(scope: Scope, filters: Filters) -> dict[int, GroupMastery]:
    start, end = filters.window()
    people = trainees(scope, filters).subquery("people")
    scored = [Answer.user_id.in_(select(people.c.user_id))]
    if start is not None:
        scored.append(Answer.created_at >= start)
    if end is not None:
        scored.append(Answer.created_at < end)
    newest = mastery.latest_answers(user_filter=and_(*scored))
    per_user = (select(Answer.user_id, QuestionPoint.point_id, func.count().label("n"), func.avg(Answer.score).label("mean"))
                .join(newest, newest.c.id == Answer.id).join(QuestionPoint, QuestionPoint.version_id == Answer.version_id)
                .group_by(Answer.user_id, QuestionPoint.point_id).subquery("per_user"))
    secure = and_(per_user.c.n >= mastery.MIN_SECURE_QUESTIONS, per_user.c.mean >= mastery.SECURE_SCORE)
    stmt = (select(people.c.org_id, per_user.c.point_id, func.sum(case((secure, 1), else_=0)), func.count())
            .join(people, people.c.user_id == per_user.c.user_id).group_by(people.c.org_id, per_user.c.point_id))
    groups: dict[int, GroupMastery] = defaultdict(lambda: GroupMastery(None))
    for org_id, point_id, n_secure, n_answered in db.session.execute(stmt):
        groups[org_id].secure[point_id] = int(n_secure or 0)
        groups[org_id].answered[point_id] = int(n_answered)
    practised = (select(people.c.org_id, func.count(func.distinct(Answer.user_id)))
                 .join(people, people.c.user_id == Answer.user_id)
                 .where(Answer.score.is_not(None), *scored[1:]).group_by(people.c.org_id))
    for org_id, n in db.session.execute(practised):
        groups[org_id].practised = int(n)
    return groups
