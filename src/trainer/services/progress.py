"""What a trainee has done: module status for the catalogue, courses and their completion, in the
words services/completion defines."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from trainer.extensions import db
from trainer.models import Case, Course, Module, Point, Question, QuestionPoint, User
from trainer.services import completion

@dataclass
class ModuleStatus:
    """A module with the trainee's outcome in it (services/completion defines every word)."""

    module: Module
    points: list[str] = field(default_factory=list)
    outcome: completion.Outcome = completion.NOTHING

    @property
    def status(self) -> str:
        return self.outcome.status

    @property
    def status_label(self) -> str:
        return self.outcome.label

    @property
    def icon(self) -> str:
        return self.outcome.icon

    @property
    def best_score(self) -> float | None:
        return self.outcome.best_score

    @property
    def last_activity(self) -> datetime | None:
        return self.outcome.last_activity

    @property
    def attempts(self) -> int:
        return self.outcome.attempts

    @property
    def seconds(self) -> int:
        return self.outcome.seconds

    @property
    def in_progress(self) -> bool:
        """An attempt is open (the trainee can continue where they stopped)."""
        return self.outcome.open_attempt


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


def statuses(user: User, modules: list[Module] | None = None, points: dict[str, list[str]] | None = None,
             *, attempt_filter=None, marks: dict[str, int] | None = None) -> list[ModuleStatus]:
    """Every active module (or the given ones) with this trainee's outcome. ``attempt_filter``
    narrows the attempts that count (a workshop's view counts only its own)."""
    modules = modules if modules is not None else active_modules()
    points = points if points is not None else module_points()
    found = completion.outcomes([user.id], [m.id for m in modules], marks=marks, attempt_filter=attempt_filter)
    return [ModuleStatus(m, points.get(m.id, []), found.get((user.id, m.id), completion.NOTHING)) for m in modules]


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
    standing: completion.CourseStanding

    @property
    def done(self) -> int:
        return self.standing.counted

    @property
    def completed(self) -> bool:
        return self.standing.completed

    @property
    def completed_on(self) -> datetime | None:
        return self.standing.completed_on


def courses(user: User, rows: list[ModuleStatus] | None = None, active=None) -> list[CourseStatus]:
    """Each active course with the trainee's module statuses (reusing ``rows`` when given; ``active``:
    the active courses when the caller has them, e.g. from services/content_views)."""
    rows = {r.module.id: r for r in (rows if rows is not None else statuses(user))}
    out = []
    if active is None:
        active = db.session.scalars(select(Course).where(Course.retired_at.is_(None)).order_by(Course.sort))
    for course in active:
        mine = [rows[mid] for mid in course.module_ids if mid in rows]
        standing = completion.course_standing([r.module.id for r in mine], {r.module.id: r.outcome for r in mine})
        out.append(CourseStatus(course, [(r, r.outcome.counts is not None) for r in mine], standing))
    return out


def completion_date(user: User, course: Course) -> datetime | None:
    """When the course was completed (the day its last module first counted), or None."""
    status = next((c for c in courses(user) if c.course.id == course.id), None)
    return status.completed_on if status is not None else None
