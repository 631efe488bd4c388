"""The one primary next step of a trainee, shown at the top of home, every result page and the course page.

In this order of priority:

1. ``certificate``: a course is completed (services/completion's word) and no certificate exists yet:
   issue it right there (the download follows on the same panel).
2. ``resume``: a module attempt is open: continue it (the most recently active one, course modules first).
3. ``start`` / ``retake``: the first module of the first uncompleted course that does not count yet, in
   the course's own order (so a new trainee starts with the values module of the basic course);
   ``retake`` when it was finished below the pass mark.
4. ``done``: every course completed with its certificate: choose freely from the catalogue.

Issued certificates are listed beside the step, so the download is never more than one tap away.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from trainer.models import Certificate, Module, User
from trainer.services import certificates, progress


@dataclass(frozen=True)
class NextStep:
    kind: str  # certificate | resume | start | retake | done
    module: Module | None = None
    course: progress.CourseStatus | None = None
    #: issued certificates with their course titles, newest first
    downloads: list[tuple[Certificate, str]] = field(default_factory=list)

    @property
    def course_id(self) -> str | None:
        return self.course.course.id if self.course else None


def decide(user: User, rows: list[progress.ModuleStatus] | None = None,
           courses: list[progress.CourseStatus] | None = None,
           issued_certificates: list[Certificate] | None = None) -> NextStep:
    """The trainee's next step (reuses ``rows``, ``courses`` and certificates when the page has them)."""
    rows = rows if rows is not None else progress.statuses(user)
    courses = courses if courses is not None else progress.courses(user, rows)
    mine = issued_certificates if issued_certificates is not None else certificates.of_user(user)
    issued = {c.course_id: c for c in mine}
    titles = {c.course.id: c.course.title for c in courses}
    downloads = sorted(((cert, titles[cid]) for cid, cert in issued.items() if cid in titles),
                       key=lambda pair: pair[0].issued_at, reverse=True)
    for status in courses:
        if status.completed and status.course.id not in issued:
            return NextStep("certificate", course=status, downloads=downloads)
    open_rows = [r for r in rows if r.in_progress]
    if open_rows:
        in_course = {mid for c in courses for mid in c.course.module_ids}
        row = max(open_rows, key=lambda r: (r.module.id in in_course,
                                           r.last_activity.timestamp() if r.last_activity else 0.0))
        course = next((c for c in courses if row.module.id in c.course.module_ids), None)
        return NextStep("resume", module=row.module, course=course, downloads=downloads)
    for status in courses:
        if status.completed:
            continue
        for row, counts in status.modules:
            if not counts:
                kind = "retake" if row.outcome.finished is not None else "start"
                return NextStep(kind, module=row.module, course=status, downloads=downloads)
    return NextStep("done", downloads=downloads)
