"""Sign-ins as server-side records: a random token in the (signed) cookie, its hash in user_sessions.

A sign-in is valid while its row is neither ended (logout, password change, deactivation, password
reset) nor past its absolute lifetime (``SESSION_ABSOLUTE_HOURS``, counted from the sign-in however
active the person is). The idle timeout stays in the cookie (its signature's age). Checking a
sign-in is part of the one query that loads the user (web._load_user) or, for the live poll, of the
one query that reads the live version (services/live.version_of).
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, delete, exists, or_, update

from trainer.dates import utcnow
from trainer.extensions import db
from trainer.models import User, UserSession


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def lifetime() -> timedelta:
    return timedelta(hours=current_app.config["SESSION_ABSOLUTE_HOURS"])


def start(user: User, *, ip: str | None) -> str:
    """Record a new sign-in of ``user``; returns the token for the cookie. Rows of the user that
    ended or expired more than a day ago are removed on the way (the table stays small)."""
    now = utcnow()
    db.session.execute(delete(UserSession).where(
        UserSession.user_id == user.id,
        or_(UserSession.expires_at < now - timedelta(days=1), UserSession.ended_at < now - timedelta(days=1))))
    token = secrets.token_urlsafe(32)
    db.session.add(UserSession(user_id=user.id, token_hash=token_hash(token), created_at=now,
                               expires_at=now + lifetime(), ip=ip))
    db.session.flush()
    return token


def end(token: str | None) -> None:
    """End one sign-in (logout). Unknown or already ended tokens change nothing."""
    if token:
        db.session.execute(update(UserSession).where(UserSession.token_hash == token_hash(token),
                                                     UserSession.ended_at.is_(None)).values(ended_at=utcnow()))


def end_all(user: User) -> None:
    """End every sign-in of ``user`` (password change or reset, deactivation)."""
    db.session.execute(update(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
                       .values(ended_at=utcnow()))


def is_valid(user_id, hashed, now):
    """SQL condition: sign-in ``hashed`` belongs to user ``user_id`` and is valid at ``now`` (values or
    bind parameters). Indexed: the token hash is unique."""
    return and_(UserSession.token_hash == hashed, UserSession.user_id == user_id, UserSession.ended_at.is_(None),
                UserSession.expires_at > now)


def usable(user_id, hashed, now):
    """SQL EXISTS: the sign-in is valid and its user may use the site now (active, no password change
    pending) — for reads that skip loading the user (the live poll)."""
    return exists().where(is_valid(user_id, hashed, now), User.id == UserSession.user_id, User.active.is_(True),
                          User.must_change_password.is_(False))
