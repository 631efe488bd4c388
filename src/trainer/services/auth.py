"""Login with a per-account lock counted in the database (shared by every process)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import func, select

from trainer.extensions import db
from trainer.models import AuditEvent, User
from trainer.dates import utcnow
from trainer.services import audit
from trainer.services.accounts import find_by_login, normalise_login_id, verify_password


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    locked: bool = False
    retry_minutes: int = 0


def _window() -> timedelta:
    return timedelta(minutes=current_app.config["LOGIN_FAILURE_WINDOW_MINUTES"])


def recent_failures(login_id: str) -> tuple[int, datetime | None]:
    """Number of failed logins for this ID within the window, and the oldest one's time."""
    since = utcnow() - _window()
    stmt = select(func.count(), func.min(AuditEvent.at)).where(
        AuditEvent.action == "login.failure", AuditEvent.subject == login_id, AuditEvent.at >= since
    )
    count, oldest = db.session.execute(stmt).one()
    return count, oldest


def _retry_minutes(oldest: datetime | None) -> int:
    if oldest is None:
        return 0
    if oldest.tzinfo is None:  # aggregate results may bypass the column type
        oldest = oldest.replace(tzinfo=timezone.utc)
    remaining = (oldest + _window() - utcnow()).total_seconds()
    return max(1, math.ceil(remaining / 60))


def authenticate(login_id: str, password: str, ip: str | None) -> LoginResult:
    """Check credentials, record the outcome, and refuse while the account is locked."""
    login_id = normalise_login_id(login_id)[:64]
    limit = current_app.config["LOGIN_FAILURES_PER_ACCOUNT"]
    failures, oldest = recent_failures(login_id)
    if failures >= limit:
        return LoginResult(None, locked=True, retry_minutes=_retry_minutes(oldest))
    user = find_by_login(login_id)
    if verify_password(user, password) and user is not None and user.active:
        audit.record("login.success", actor=user, subject=login_id, ip=ip)
        return LoginResult(user)
    audit.record("login.failure", subject=login_id, ip=ip)
    if failures + 1 >= limit:
        audit.record("login.locked", subject=login_id, ip=ip, detail={"failures": failures + 1})
        db.session.flush()
        return LoginResult(None, locked=True, retry_minutes=_retry_minutes(oldest or utcnow()))
    return LoginResult(None)
