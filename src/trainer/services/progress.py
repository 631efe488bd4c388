"""What a trainee has done: module status for the catalogue, courses and their completion."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from trainer.extensions import db
from trainer.models import Attempt, Case, Course, Module, Point, Question, QuestionPoint, User

STATUS_LABELS = {"not_started": "未着手", "in_progress": "学習中", "completed": "修了"}


@dataclass
class ModuleStatus:
    module: Module
    points: list[str] = field(default_factory=list)
    status: str = "not_started"
    score: float | None = None
    best_score: float | None = None
    last_activity: datetime | None = None
    attempts: int = 0
    seconds: int = 0

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


def module_points() -> dict[str, list[str]]:
    """module_id -> the point IDs its current questions practise (in point order)."""
    stmt = (select(Question.module_id, QuestionPoint.point_id).distinct()
            .join(QuestionPoint, QuestionPoint.version_id == Question.current_version_id)
            .where(Question.retired_at.is_(None)).order_by(QuestionPoint.point_id))
    out: dict[str, list[str]] = defaultdict(list)
    for module_id, point_id in db.session.execute(stmt):
        out[module_id].append(point_id)
    return out


def active_modules() -> list[Module]:
    return list(db.session.scalars(select(Module).where(Module.retired_at.is_(None)).order_by(Module.sort)))


def statuses(user: User, modules: list[Module] | None = None,
             points: dict[str, list[str]] | None = None) -> list[ModuleStatus]:
    """Every active module with this trainee's status, score, last activity and time spent."""
    modules = modules if modules is not None else active_modules()
    points = points if points is not None else module_points()
    rows = {m.id: ModuleStatus(m, points.get(m.id, [])) for m in modules}
    attempts = db.session.scalars(select(Attempt).where(Attempt.user_id == user.id).order_by(Attempt.number))
    for attempt in attempts:
        row = rows.get(attempt.module_id)
        if row is None:
            continue
        row.attempts += 1
        row.seconds += attempt.seconds_spent
        row.last_activity = max(filter(None, [row.last_activity, attempt.last_activity_at]))
        if attempt.completed_at is not None:
            row.status = "completed"
            row.score = attempt.score
            if attempt.score is not None:
                row.best_score = max(attempt.score, row.best_score or 0)
        elif row.status == "not_started":
            row.status = "in_progress"
    return list(rows.values())


def filter_statuses(rows: list[ModuleStatus], *, item: str | None, pattern: str | None,
                    point: str | None) -> list[ModuleStatus]:
    item_points = None
    if item:
        item_points = set(db.session.scalars(select(Point.id).where(Point.item_id == item)))
    cases = {c.id: c for c in db.session.scalars(select(Case))}
    out = []
    for row in rows:
        case = cases.get(row.module.case_id) if row.module.case_id else None
        if pattern and (case is None or case.pattern_id != pattern):
            continue
        if point and point not in row.points:
            continue
        if item_points is not None and not item_points & set(row.points):
            continue
        out.append(row)
    return out


@dataclass
class CourseStatus:
    course: Course
    modules: list[tuple[ModuleStatus, bool]]  # (status, counts toward completion)

    @property
    def done(self) -> int:
        return sum(1 for _, ok in self.modules if ok)

    @property
    def completed(self) -> bool:
        return bool(self.modules) and self.done == len(self.modules)


def passes(row: ModuleStatus, pass_score: int | None) -> bool:
    """A module counts for a course when completed (with the course's minimum score, if any)."""
    if row.status != "completed":
        return False
    return pass_score is None or (row.best_score or 0) >= pass_score


def courses(user: User, rows: list[ModuleStatus] | None = None) -> list[CourseStatus]:
    """Each active course with the trainee's module statuses (reusing ``rows`` when given)."""
    rows = {r.module.id: r for r in (rows if rows is not None else statuses(user))}
    out = []
    for course in db.session.scalars(select(Course).where(Course.retired_at.is_(None)).order_by(Course.sort)):
        mods = [(rows[mid], passes(rows[mid], course.pass_score)) for mid in course.module_ids if mid in rows]
        out.append(CourseStatus(course, mods))
    return out


def completion_date(user: User, course: Course) -> datetime | None:
    """When the last module of the course was first completed to the course's standard."""
    dates = []
    for module_id in course.module_ids:
        stmt = select(func.min(Attempt.completed_at)).where(
            Attempt.user_id == user.id, Attempt.module_id == module_id, Attempt.completed_at.is_not(None))
        if course.pass_score is not None:
            stmt = stmt.where(Attempt.score >= course.pass_score)
        first = db.session.scalar(stmt)
        if first is None:
            return None
        dates.append(first)
    return max(dates) if dates else None
