"""Reviewer records built on services/review.py: a municipality's trainee list, completion records
(trainee x module), one trainee's record, and certificates — always inside the reviewer's scope.

A reviewer sees records only: nothing here reads an answer (its response, a free-text reflection,
or its score); module scores are the attempt scores a trainee sees on their own record.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select

from trainer.extensions import db
from trainer.models import Certificate, Module, Organization, User
from trainer.services import certificates, completion, progress
from trainer.services.counted import counted_trainee, is_counted
from trainer.services.review import (
    Catalogue, CourseInfo, Filters, Scope, course_marks, in_window, module_marks, module_records, per_trainee, trainees,
)

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
    records = module_records(people, cat.attempts_in([m.id for m in modules]), course_marks(courses)).subquery("module_records")
    users = per_trainee(records, courses).subquery("trainee_totals")
    columns = [users.c[f"{p}_{i}"] for i in range(len(courses)) for p in ("n", "d")]
    stmt = (select(User.id, User.display_name, User.furigana, User.organization_id, users.c.last_activity, *columns)
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
    for user_id, name, furigana, org_id, last, *pairs in _stream(stmt):
        states = []
        for i, course in enumerate(courses):
            passed, day = int(pairs[2 * i] or 0), pairs[2 * i + 1]
            done = passed == len(course.module_ids)
            inside = (done and day is not None and (start, end) != (None, None)
                      and (start is None or day >= start) and (end is None or day < end))
            states.append(CourseState(course, passed, day if done else None, inside))
        yield TraineeRow(user_id, name, furigana, scope.orgs[org_id], scope.orgs[scope.unit_of[org_id]], last, states)


def _stream(stmt, batch: int = STREAM_BATCH, scalars: bool = False, core: bool = False) -> Iterator:
    """Rows fetched ``batch`` at a time (a server-side cursor on PostgreSQL), closed even when the
    reader stops early (a client that disconnects in the middle of a download). ``core``: plain
    column rows executed on the session's connection, without the ORM's per-row work."""
    run = db.session.connection().execute if core else db.session.execute
    result = run(stmt, execution_options={"yield_per": batch})
    try:
        if core:
            for rows in result.partitions():  # a batch at a time, not a fetch call per row
                yield from rows
        else:
            yield from (result.scalars() if scalars else result)
    finally:
        result.close()


def all_trainee_rows(scope: Scope, filters: Filters, cat: Catalogue) -> Iterator[TraineeRow]:
    """Every selected municipality's trainee list, one municipality after another (bounded memory)."""
    for unit in scope.selected_units(filters):
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
    """One trainee's standing in one module (services/completion defines the words)."""

    user_id: int
    name: str
    furigana: str | None
    org: Organization
    unit: Organization
    module_id: str
    module_title: str
    outcome: completion.Outcome

    @property
    def status(self) -> str:
        return self.outcome.label

    @property
    def first_started(self) -> datetime | None:
        return self.outcome.started

    @property
    def first_finished(self) -> datetime | None:
        return self.outcome.finished

    @property
    def first_passed(self) -> datetime | None:
        return self.outcome.passed

    @property
    def best_score(self) -> float | None:
        return self.outcome.best_score

    @property
    def attempts(self) -> int:
        return self.outcome.attempts

    @property
    def last_activity(self) -> datetime | None:
        return self.outcome.last_activity


def _records_statement(people, cat: Catalogue, module_ids: list[str]):
    marks = module_marks(cat)
    rec = module_records(people, cat.attempts_in(module_ids), set(marks.values())).subquery("module_records")
    return rec, marks


#: The fields of a completion record as record_lines gives them, by position.
RECORD_LINE = ("user_id", "name", "furigana", "org_id", "module_id", "module_title", "mark", "started", "finished",
               "passed", "best_score", "attempts", "open_attempt", "last_activity", "seconds")
_OUTCOME = ("started", "finished", "best_score", "attempts", "open_attempt", "last_activity", "seconds")


def record_lines(scope: Scope, filters: Filters, cat: Catalogue, unit_id: int) -> Iterator[tuple]:
    """One row per trainee and module worked on (in the period, when one is given), in list order,
    as plain tuples (RECORD_LINE): read by position, through the Core (no ORM rows), so that a
    100,000-row export builds no object per row. ``passed`` is the first pass at the module's own
    mark (None without one), as in completion.outcome_from_row."""
    _, modules = cat.selected(filters)
    start, end = filters.window()
    people = trainees(scope, filters, _unit_org_ids(scope, filters, unit_id)).subquery("people")
    rec, marks = _records_statement(people, cat, [m.id for m in modules])
    place = {mark: i for i, mark in enumerate(sorted(set(marks.values())))}  # of each mark's passed column
    # the list order is ranked once per trainee (not once per trainee and module: ten times the text sorting)
    rank = func.row_number().over(order_by=(_org_rank(scope, unit_id), func.coalesce(User.furigana, User.display_name),
                                            User.id))
    listed = (select(User.id, User.display_name, User.furigana, User.organization_id, rank.label("rank"))
              .join(people, people.c.user_id == User.id)).subquery("listed")
    stmt = (select(listed.c.id, listed.c.display_name, listed.c.furigana, listed.c.organization_id, Module.id,
                   Module.title, *(rec.c[name] for name in _OUTCOME), *(rec.c[completion.mark_column(m)] for m in place))
            .join(rec, rec.c.user_id == listed.c.id).join(Module, Module.id == rec.c.module_id)
            .order_by(listed.c.rank, Module.sort))
    if end is not None:
        stmt = stmt.where(rec.c.started < end)
    if start is not None:
        stmt = stmt.where(rec.c.last_activity >= start)
    for (user_id, name, furigana, org_id, module_id, title, started, finished, best, attempts, open_attempt, last,
         seconds, *passed) in _stream(stmt, core=True):
        mark = marks.get(module_id)
        yield (user_id, name, furigana, org_id, module_id, title, mark, started, finished,
               None if mark is None else passed[place[mark]], best, attempts, open_attempt, last, seconds)


def all_record_lines(scope: Scope, filters: Filters, cat: Catalogue) -> Iterator[tuple]:
    """record_lines of every selected municipality, one after another."""
    for unit in scope.selected_units(filters):
        yield from record_lines(scope, filters, cat, unit.id)


def record_rows(scope: Scope, filters: Filters, cat: Catalogue, unit_id: int) -> Iterator[RecordRow]:
    """record_lines as RecordRows (with their Outcome)."""
    for (user_id, name, furigana, org_id, module_id, title, mark, started, finished, passed, best, attempts,
         open_attempt, last, seconds) in record_lines(scope, filters, cat, unit_id):
        outcome = completion.Outcome(mark=mark, started=started, finished=finished, passed=passed, best_score=best,
                                     attempts=int(attempts), open_attempt=bool(open_attempt), last_activity=last,
                                     seconds=int(seconds or 0))
        yield RecordRow(user_id, name, furigana, scope.orgs[org_id], scope.orgs[scope.unit_of[org_id]], module_id,
                        title, outcome)


def all_record_rows(scope: Scope, filters: Filters, cat: Catalogue) -> Iterator[RecordRow]:
    for unit in scope.selected_units(filters):
        yield from record_rows(scope, filters, cat, unit.id)


# --- one trainee's record ----------------------------------------------------------------------

@dataclass
class TraineeRecord:
    user: User
    modules: list[RecordRow]
    courses: list[tuple[progress.CourseStatus, datetime | None, Certificate | None]]


def trainee(scope: Scope, user_id: int) -> User | None:
    """A counted trainee (services/counted.py) of the scope's organizations, or None."""
    stmt = (select(User).join(Organization, Organization.id == User.organization_id)
            .where(User.id == user_id, Organization.jurisdiction_id == scope.id, counted_trainee()))
    return db.session.scalar(stmt)


def trainee_record(scope: Scope, user: User, cat: Catalogue) -> TraineeRecord:
    """Modules (dates, scores, attempts), courses (completion date) and certificates — no answers.
    The same outcomes the trainee sees on their own pages (progress.statuses / progress.courses)."""
    rows = progress.statuses(user, cat.modules)
    org = scope.orgs[user.organization_id]
    unit = scope.orgs[scope.unit_of[org.id]]
    modules = [RecordRow(user.id, user.display_name, user.furigana, org, unit, r.module.id, r.module.title, r.outcome)
               for r in rows if r.outcome.attempts]
    issued = {c.course_id: c for c in certificates.of_user(user)}
    courses = [(status, status.completed_on, issued.get(status.course.id)) for status in progress.courses(user, rows)]
    return TraineeRecord(user, modules, courses)


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
            .where(Organization.jurisdiction_id == scope.id, User.organization_id.in_(org_ids), counted_trainee(),
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
    return cert if owner is not None and owner.organization_id in scope.orgs and is_counted(owner) else None
