"""A trainee's attempts at modules, their answers, certificates and opinions on the handbook."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from trainer.extensions import db
from trainer.dates import utcnow
from trainer.models.types import UTCDateTime


class Attempt(db.Model):
    """One play-through of a module. ``position`` is the page the trainee is on (exact resume)."""

    __tablename__ = "attempts"
    __table_args__ = (
        UniqueConstraint("user_id", "module_id", "number"),
        Index("ix_attempts_user_module", "user_id", "module_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    module_id: Mapped[str] = mapped_column(ForeignKey("modules.id"), index=True)
    number: Mapped[int] = mapped_column(default=1)
    position: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    score: Mapped[float | None] = mapped_column(Float)
    seconds_spent: Mapped[int] = mapped_column(default=0)
    workshop_id: Mapped[int | None] = mapped_column(ForeignKey("workshops.id"), index=True)
    live_session_id: Mapped[int | None] = mapped_column(ForeignKey("live_sessions.id"), index=True)
    #: the order options are shown in, for every question of this attempt (player.presented);
    #: None for attempts made before options were shuffled: they keep the file's order
    seed: Mapped[int | None] = mapped_column(default=None)

    module: Mapped["Module"] = relationship()  # noqa: F821 (string: resolved by the registry)


class Answer(db.Model):
    """One answer to one question in one attempt: unique, so a resubmission records it once."""

    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("attempt_id", "question_id"),
        Index("ix_answers_user_question", "user_id", "question_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("question_versions.id"), index=True)
    token: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    score: Mapped[float | None] = mapped_column(Float)
    rating: Mapped[str | None] = mapped_column(String(16))
    hidden: Mapped[bool] = mapped_column(default=False)
    #: the reflection wall (docs/live.md): none = not offered by its author; queued = offered, waiting
    #: for the facilitator; shown = on the projector (anonymous); hidden = offered but taken off / not shown
    wall: Mapped[str] = mapped_column(String(8), default="none", server_default="none")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Certificate(db.Model):
    """A 修了証. Name, organization and course are kept as issued, for verification."""

    __tablename__ = "certificates"
    __table_args__ = (UniqueConstraint("user_id", "course_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    course_id: Mapped[str] = mapped_column(ForeignKey("courses.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    holder_name: Mapped[str] = mapped_column(String(80))
    organization_name: Mapped[str] = mapped_column(String(300))
    course_title: Mapped[str] = mapped_column(String(300))
    points: Mapped[list[str]] = mapped_column(JSON, default=list)
    completed_on: Mapped[datetime] = mapped_column(UTCDateTime())


class Opinion(db.Model):
    """A trainee's opinion or question about the handbook content, on a case or a point.

    ``client_token`` comes from the form that was sent: a resent form records the opinion once."""

    __tablename__ = "opinions"
    __table_args__ = (UniqueConstraint("user_id", "client_token"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"), index=True)
    point_id: Mapped[str | None] = mapped_column(ForeignKey("points.id"), index=True)
    module_id: Mapped[str | None] = mapped_column(ForeignKey("modules.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    client_token: Mapped[str | None] = mapped_column(String(32))
    # --- the editors' workflow (意見照会, services/opinions.py: STATUS_LABELS) ---
    #: the question whose feedback page it was sent from (None: on a case or point as a whole)
    question_id: Mapped[int | None] = mapped_column(ForeignKey("questions.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open", index=True)
    reply: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    replied_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    tags: Mapped[list[str] | None] = mapped_column(JSON)
    #: the content release that answered it (反映済)
    resolved_release_id: Mapped[int | None] = mapped_column(ForeignKey("content_releases.id"))


class PointMastery(db.Model):
    """Per trainee and point: how many scored questions tagged with the point they answered (their
    latest answer to each) and the sum of those scores — a summary for jurisdiction-wide mastery
    maps. Derived from the answers: the answer's own transaction marks the trainee in MasteryDirty
    and services/mastery.refresh_summary rebuilds the marked trainees (docs/mastery-summary.md)."""

    __tablename__ = "point_mastery"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    point_id: Mapped[str] = mapped_column(ForeignKey("points.id"), primary_key=True, index=True)
    answered: Mapped[int] = mapped_column(default=0)
    score_sum: Mapped[float] = mapped_column(Float, default=0.0)


class MasteryMonth(db.Model):
    """Per trainee, month (Asia/Tokyo, its first day) and point: the trainee's latest answer in that
    month to each scored question tagged with the point (count and score sum). The row with point
    ``*`` holds the month's totals: scored questions answered, and ``repeats``, how many of them the
    trainee had already answered in an earlier month (a period that holds both months is then
    computed from the answers for that trainee). Derived, like PointMastery."""

    __tablename__ = "mastery_months"
    __table_args__ = (
        Index("ix_mastery_months_month", "month", "point_id"),
        # the month totals alone (who practised when): a small covering index
        Index("ix_mastery_months_totals", "month", "user_id", postgresql_where=text("point_id = '*'"),
              sqlite_where=text("point_id = '*'")),
        # the few month totals with repeats (who must be computed apart in a period)
        Index("ix_mastery_months_repeats", "month", "user_id", postgresql_where=text("repeats > 0"),
              sqlite_where=text("repeats > 0")),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    point_id: Mapped[str] = mapped_column(String(8), primary_key=True)  # a point's id, or "*"
    answered: Mapped[int] = mapped_column(default=0)
    score_sum: Mapped[float] = mapped_column(Float, default=0.0)
    repeats: Mapped[int] = mapped_column(default=0)


class MasterySpan(db.Model):
    """A month (Asia/Tokyo, its first day) at which the spans of MasteryOrg start and end: every month
    of the members' mastery_months rows, in order. Empty: the per-organization figures are not built
    (the next refresh builds them; services/mastery_spans.py, docs/mastery-summary.md)."""

    __tablename__ = "mastery_spans"

    month: Mapped[date] = mapped_column(Date, primary_key=True)


class MasteryOrg(db.Model):
    """Per span of months (``since``..``until``, both MasterySpan months), organization and point: how
    many member trainees answered a question tagged with the point in the span, and how many of them
    are 定着 there — summed from their mastery_months rows, without the trainees who answered a
    question in two months of the span (those are computed apart). The row with point ``*`` counts
    who practised in the span (``answered``). Derived from mastery_months, kept up to date by the
    refresh that rebuilds them (services/mastery_spans.py)."""

    __tablename__ = "mastery_orgs"

    since: Mapped[date] = mapped_column(Date, primary_key=True)
    until: Mapped[date] = mapped_column(Date, primary_key=True)
    org_id: Mapped[int] = mapped_column(primary_key=True)  # no reference: derived, kept as counted
    point_id: Mapped[str] = mapped_column(String(8), primary_key=True)  # a point's id, or "*"
    answered: Mapped[int] = mapped_column(default=0)
    secure: Mapped[int] = mapped_column(default=0)


class MasteryMember(db.Model):
    """The counted trainees (services/counted.py) whose rows MasteryOrg adds up, with the organization
    and registration time they had then. Where it differs from the users (someone moved, left, was
    registered), the reviewers' map is computed without MasteryOrg until the next refresh has
    applied the difference. ``early``: has mastery_months rows in a month before the one they
    registered in (bulk-loaded answers; the map is then computed without MasteryOrg)."""

    __tablename__ = "mastery_members"

    user_id: Mapped[int] = mapped_column(primary_key=True)  # no reference: outlives nothing, checked
    org_id: Mapped[int] = mapped_column(index=True)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    early: Mapped[bool] = mapped_column(default=False)


class MasteryDirty(db.Model):
    """A trainee whose summaries must be rebuilt: marked (upsert, ``marks`` + 1) in the same transaction
    as their answer; refresh_summary deletes the marks it consumed, unless marked again meanwhile."""

    __tablename__ = "mastery_dirty"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    marks: Mapped[int] = mapped_column(default=1)
