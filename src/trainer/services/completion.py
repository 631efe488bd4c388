"""What the record words mean, defined once. Every screen, dashboard, debrief, export and certificate
takes them from here (docs/definitions.md says the same in Japanese, for the people who read them).

For one trainee and one module, over ALL their attempts at it (self-paced and live alike; inside a
workshop's view, only the attempts made in that workshop):

- 受講開始 (started): there is an attempt. Date: the first attempt's start.
- 最後まで取り組んだ (finished): an attempt has every question answered. Date: the first such finish.
- 合格 (passed): a finished attempt scored at least the module's pass mark. Date: the first such finish.
  The pass mark is the pass score of the course(s) the module belongs to (content check refuses two
  courses that give one module different marks). A module without a mark cannot be "passed": for
  courses without a pass score, finishing is what counts.
- 最高得点: the best score among finished attempts.

For one trainee and one course:

- a module counts toward the course when it is passed (or, for a course without a pass score,
  finished); コース修了 (course completed): every module of the course counts. Date: the day the last
  of them first counted. Only コース修了 is called 「修了」 anywhere; a certificate needs it.

An attempt that was never finished stays "started"; a retake never takes anything away (the best
result stands). The SQL columns below compute the same things for many trainees at once.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, select

from trainer.extensions import db
from trainer.models import Attempt, Course

#: Status of a module for a trainee, with its Japanese label (no 「修了」 at module level).
STATUS_LABELS = {
    "not_started": "未着手",
    "in_progress": "学習中",
    "finished": "最後まで取り組んだ",
    "below_pass": "合格点未満",
    "passed": "合格",
}
#: Icons beside the label (the label always says it in words too: no colour-only meaning).
STATUS_ICONS = {"not_started": "○", "in_progress": "◐", "finished": "●", "below_pass": "◑", "passed": "●"}

COURSE_LABELS = {"completed": "修了", "in_progress": "学習中", "not_started": "未着手"}


@dataclass(frozen=True)
class Outcome:
    """One trainee's standing in one module (see the module docstring for each word)."""

    mark: int | None = None
    started: datetime | None = None
    finished: datetime | None = None
    passed: datetime | None = None
    best_score: float | None = None
    attempts: int = 0
    open_attempt: bool = False
    last_activity: datetime | None = None
    seconds: int = 0

    @property
    def counts(self) -> datetime | None:
        """When the module first counted toward its course (passed, or finished without a mark)."""
        return self.finished if self.mark is None else self.passed

    @property
    def status(self) -> str:
        return status_of(self.mark, self.started, self.finished, self.passed)

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def icon(self) -> str:
        return STATUS_ICONS[self.status]


NOTHING = Outcome()


def status_of(mark: int | None, started: datetime | None, finished: datetime | None, passed: datetime | None) -> str:
    """The status (a key of STATUS_LABELS) of an Outcome with these fields — also for rows read
    without building one (a 100,000-row export)."""
    if passed is not None and mark is not None:
        return "passed"
    if finished is not None:
        return "finished" if mark is None else "below_pass"
    return "in_progress" if started is not None else "not_started"


def pass_marks(courses: Iterable[Course] | None = None) -> dict[str, int]:
    """module_id -> pass mark, from the active courses with a pass score."""
    if courses is None:
        courses = db.session.scalars(select(Course).where(Course.retired_at.is_(None)))
    marks: dict[str, int] = {}
    for course in courses:
        if course.pass_score is not None:
            for module_id in course.module_ids:
                marks[module_id] = max(marks.get(module_id, 0), course.pass_score)
    return marks


# --- SQL: the same definitions for many trainees --------------------------------------------

def mark_column(mark: int) -> str:
    return f"passed_{mark}"


def outcome_columns(marks: Iterable[int]) -> list:
    """Aggregate columns over Attempt rows grouped by (user, module): what an Outcome needs."""
    columns = [
        func.min(Attempt.started_at).label("started"),
        func.min(Attempt.completed_at).label("finished"),
        func.max(case((Attempt.completed_at.is_not(None), Attempt.score))).label("best_score"),
        func.count().label("attempts"),
        func.max(case((Attempt.completed_at.is_(None), 1), else_=0)).label("open_attempt"),
        func.max(Attempt.last_activity_at).label("last_activity"),
        func.sum(Attempt.seconds_spent).label("seconds"),
    ]
    for mark in sorted(set(marks)):
        passed = and_(Attempt.completed_at.is_not(None), Attempt.score >= mark)
        columns.append(func.min(case((passed, Attempt.completed_at))).label(mark_column(mark)))
    return columns


def passed_column(records, mark: int | None):
    """The column of a records subquery holding the date a module first counted (see Outcome.counts)."""
    return records.c.finished if mark is None else records.c[mark_column(mark)]


def outcome_from_row(row, mark: int | None) -> Outcome:
    mapping = row._mapping
    return Outcome(
        mark=mark, started=mapping["started"], finished=mapping["finished"],
        passed=mapping[mark_column(mark)] if mark is not None else None,
        best_score=mapping["best_score"], attempts=int(mapping["attempts"]),
        open_attempt=bool(mapping["open_attempt"]), last_activity=mapping["last_activity"],
        seconds=int(mapping["seconds"] or 0))


def outcomes(user_ids: Iterable[int], module_ids: Iterable[str] | None = None, *, marks: dict[str, int] | None = None,
             attempt_filter=None) -> dict[tuple[int, str], Outcome]:
    """(user_id, module_id) -> Outcome, in one query. ``attempt_filter`` narrows the attempts that
    count (e.g. ``Attempt.workshop_id == w.id`` for a workshop's own view)."""
    ids = list(user_ids)
    if not ids:
        return {}
    marks = pass_marks() if marks is None else marks
    stmt = (select(Attempt.user_id, Attempt.module_id, *outcome_columns(marks.values()))
            .where(Attempt.user_id.in_(ids)).group_by(Attempt.user_id, Attempt.module_id))
    if module_ids is not None:
        stmt = stmt.where(Attempt.module_id.in_(list(module_ids)))
    if attempt_filter is not None:
        stmt = stmt.where(attempt_filter)
    return {(row.user_id, row.module_id): outcome_from_row(row, marks.get(row.module_id))
            for row in db.session.execute(stmt)}


# --- courses -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class CourseStanding:
    """One trainee's standing in one course: how many modules count, and when it was completed."""

    counted: int
    total: int
    completed_on: datetime | None

    @property
    def completed(self) -> bool:
        return self.total > 0 and self.counted == self.total

    @property
    def state(self) -> str:
        if self.completed:
            return "completed"
        return "in_progress" if self.counted else "not_started"

    @property
    def label(self) -> str:
        if self.completed:
            return COURSE_LABELS["completed"]
        return f"学習中（{self.counted}/{self.total}）" if self.counted else "未修了"


def course_standing(module_ids: Iterable[str], by_module: dict[str, Outcome]) -> CourseStanding:
    """A course from its modules' outcomes (the module's own mark is the course's: see pass_marks)."""
    dates = [by_module.get(m, NOTHING).counts for m in module_ids]
    counted = [d for d in dates if d is not None]
    completed = bool(dates) and len(counted) == len(dates)
    return CourseStanding(len(counted), len(dates), max(counted) if completed else None)
