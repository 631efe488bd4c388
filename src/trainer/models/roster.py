"""Roster imports: one row per confirmed import, so a repeated confirmation (a double click, a
resent form) finds the import that already ran instead of running it again."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from trainer.dates import utcnow
from trainer.extensions import db
from trainer.models.types import UTCDateTime


class RosterImport(db.Model):
    __tablename__ = "roster_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: sha256 of the confirmation token the preview page carried (the token itself is never stored)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: [[login_id, password_generated], ...] in file order
    accounts: Mapped[list[list]] = mapped_column(JSON, default=list)


class RosterJob(db.Model):
    """The progress of one confirmed import, written by the background job in short transactions (one per
    batch of rows) and read by the progress page. Holds no passwords and no confirmation token."""

    __tablename__ = "roster_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("roster_imports.id", ondelete="CASCADE"), unique=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    #: queued -> running -> done | failed
    status: Mapped[str] = mapped_column(String(16), default="queued")
    total: Mapped[int] = mapped_column(Integer, default=0)
    done_rows: Mapped[int] = mapped_column(Integer, default=0)
    #: what went wrong, in Japanese, for the administrator (no personal data beyond login IDs)
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: when the administrator closed the page of initial passwords: they are not shown again after it
    passwords_closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
