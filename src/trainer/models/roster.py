"""Roster imports: one row per confirmed import, so a repeated confirmation (a double click, a
resent form) finds the import that already ran instead of running it again."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
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
