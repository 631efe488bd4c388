"""Server-side records of sign-ins and of failed sign-ins.

``user_sessions``: one row per sign-in. The browser's (signed) cookie carries a random token whose
hash is the row's key; the row ends at logout, password change or deactivation, and expires at an
absolute lifetime, so a copied cookie stops working with the session it came from.

``login_throttles``: failed sign-ins counted per (account, address), per account and per address,
each key one row updated atomically (services/throttle.py).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from trainer.dates import utcnow
from trainer.extensions import db
from trainer.models.types import UTCDateTime


class UserSession(db.Model):
    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: sha256 of the token in the cookie (the token itself is never stored)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ip: Mapped[str | None] = mapped_column(String(45))


class LoginThrottle(db.Model):
    __tablename__ = "login_throttles"

    #: "p:<login id> <address>", "a:<login id>" or "i:<address>"
    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: the earliest time the next attempt on this key is evaluated (progressive delay)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
