"""Workshops (研修会): facilitators, modules, participants, and live sessions.

Live state is a database row with a version number that every change increments, so any number of
processes and app instances share it; participants poll the version cheaply.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from trainer.extensions import db
from trainer.dates import utcnow
from trainer.models.types import UTCDateTime


class Workshop(db.Model):
    __tablename__ = "workshops"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    venue: Mapped[str] = mapped_column(String(200), default="")
    online: Mapped[bool] = mapped_column(default=False)
    join_code: Mapped[str] = mapped_column(String(12), unique=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))  # where walk-ins register
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: set when a facilitator closes registration: the join code stops working before its time
    registration_closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    facilitators: Mapped[list["WorkshopFacilitator"]] = relationship(cascade="all, delete-orphan")
    modules: Mapped[list["WorkshopModule"]] = relationship(cascade="all, delete-orphan",
                                                          order_by="WorkshopModule.position")
    participants: Mapped[list["WorkshopParticipant"]] = relationship(cascade="all, delete-orphan")


class WorkshopFacilitator(db.Model):
    __tablename__ = "workshop_facilitators"
    __table_args__ = (UniqueConstraint("workshop_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshops.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)


class WorkshopModule(db.Model):
    __tablename__ = "workshop_modules"
    __table_args__ = (UniqueConstraint("workshop_id", "module_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshops.id", ondelete="CASCADE"), index=True)
    module_id: Mapped[str] = mapped_column(ForeignKey("modules.id"))
    position: Mapped[int] = mapped_column(default=0)


class WorkshopParticipant(db.Model):
    __tablename__ = "workshop_participants"
    __table_args__ = (UniqueConstraint("workshop_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshops.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    via: Mapped[str] = mapped_column(String(16), default="invite")  # invite | code | register
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LiveSession(db.Model):
    """A module run live by a facilitator. ``version`` increases with every change of state."""

    __tablename__ = "live_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshops.id", ondelete="CASCADE"), index=True)
    module_id: Mapped[str] = mapped_column(ForeignKey("modules.id"))
    page: Mapped[int] = mapped_column(default=0)
    question_open: Mapped[bool] = mapped_column(default=False)
    revealed: Mapped[bool] = mapped_column(default=False)
    #: the current question was open and is now closed (a latecomer is told so, not asked to wait)
    question_closed: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    #: the facilitator opened the reflection wall for the current question (opt-in, per question)
    wall_open: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    version: Mapped[int] = mapped_column(default=1)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    #: one order of options for everyone in the session and on the projector (player.presented)
    seed: Mapped[int | None] = mapped_column(default=None)
