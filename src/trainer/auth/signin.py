"""Signing a browser in and out: Flask-Login plus the server-side sign-in record.

The cookie holds the user id and a random token (``_sid``); the user loader accepts the cookie only
while the token's UserSession row is valid (services/sessions.py). The caller commits.
"""
from __future__ import annotations

from flask import request, session
from flask_login import login_user, logout_user

from trainer.dates import epoch_seconds
from trainer.models import User
from trainer.services import sessions

TOKEN_KEY = "_sid"


def sign_in(user: User) -> None:
    """Start a new sign-in for this browser (whatever the cookie held before is dropped)."""
    session.clear()
    token = sessions.start(user, ip=request.remote_addr)
    login_user(user)
    session[TOKEN_KEY] = token
    session["_seen"] = epoch_seconds()
    session.permanent = True


def sign_out() -> None:
    """End this browser's sign-in on the server, so a copy of the cookie stops working too."""
    sessions.end(session.get(TOKEN_KEY))
    logout_user()
    session.clear()


def current_token() -> str | None:
    return session.get(TOKEN_KEY)
