"""Sign-in: throttled per account and address (services/throttle.py), audited, and refused for an
initial password past its validity."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app

from trainer.dates import utcnow
from trainer.models import User
from trainer.services import audit, throttle
from trainer.services.accounts import find_by_login, normalise_login_id, verify_password


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    locked: bool = False
    retry_seconds: int = 0
    expired: bool = False


def initial_password_expired(user: User) -> bool:
    """An initial or reset password (one the person must change) is valid INITIAL_PASSWORD_DAYS."""
    if not user.must_change_password or user.password_changed_at is None:
        return False
    days = current_app.config["INITIAL_PASSWORD_DAYS"]
    return user.password_changed_at + timedelta(days=days) < utcnow()


def authenticate(login_id: str, password: str, ip: str | None) -> LoginResult:
    """Check credentials unless this address must wait for this account; record the outcome."""
    login_id = normalise_login_id(login_id)[:64]
    gate = throttle.reserve(login_id, ip)
    if not gate.allowed:
        return LoginResult(None, locked=True, retry_seconds=gate.wait_seconds)
    user = find_by_login(login_id)
    if verify_password(user, password) and user is not None and user.active:
        throttle.succeeded(login_id, ip)
        if initial_password_expired(user):
            audit.record("login.expired", actor=user, subject=login_id, ip=ip)
            return LoginResult(None, expired=True)
        audit.record("login.success", actor=user, subject=login_id, ip=ip)
        return LoginResult(user)
    throttle.failed(login_id, ip)
    audit.record("login.failure", subject=login_id, ip=ip)
    if gate.failures == current_app.config["LOGIN_FREE_FAILURES_PER_ADDRESS_AND_ACCOUNT"]:
        audit.record("login.locked", subject=login_id, ip=ip, detail={"failures": gate.failures})
    return LoginResult(None)


def wait_text(seconds: int) -> str:
    """「約N秒」 or 「約N分」 for a wait."""
    return f"約{seconds}秒" if seconds < 60 else f"約{-(-seconds // 60)}分"
