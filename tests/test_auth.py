"""Login, logout, lock-out, the address limit, passwords and sessions."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD
from trainer.extensions import db
from trainer.models import AuditEvent, Role
from trainer.dates import utcnow

GENERIC = "ログインIDまたはパスワードが正しくありません。"


def _events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_login_success_redirects_to_role_home_and_is_audited(app, client, make_user, login):
    user = make_user(Role.TRAINEE)
    response = login(user)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/home")
    assert client.get("/home").headers["Location"].endswith("/learn/")
    [event] = _events(app, "login.success")
    assert event.actor_id == user.id and event.ip == "127.0.0.1"


@pytest.mark.parametrize("login_id,password", [("user001", "wrong-password"), ("nobody", PASSWORD)])
def test_login_failure_message_is_generic(app, client, make_user, login_id, password):
    make_user(Role.TRAINEE)
    response = client.post("/auth/login", data={"login_id": login_id, "password": password})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert GENERIC in body
    assert "存在しません" not in body
    assert len(_events(app, "login.failure")) == 1


def test_inactive_user_cannot_log_in(app, client, make_user, login):
    user = make_user(Role.TRAINEE)
    with app.app_context():
        db.session.get(type(user), user.id).active = False
        db.session.commit()
    assert GENERIC in login(user).get_data(as_text=True)


@pytest.mark.parametrize("target,expected", [
    ("/admin/users", "/admin/users"),
    ("https://evil.example/", "/home"),
    ("//evil.example/", "/home"),
    ("/\\evil.example", "/home"),
    ("javascript:alert(1)", "/home"),
])
def test_next_is_followed_only_when_local(client, make_user, target, expected):
    user = make_user(Role.ADMIN)
    response = client.post(f"/auth/login?next={target}", data={"login_id": user.login_id, "password": PASSWORD})
    assert response.headers["Location"] == expected


def test_logout_requires_post_and_ends_session(client, make_user, login):
    login(make_user(Role.TRAINEE))
    assert client.get("/auth/logout").status_code == 405
    assert client.post("/auth/logout").status_code == 302
    assert client.get("/learn/").status_code == 302


def test_password_change_validates_in_japanese_and_logs_out_other_sessions(app, client, make_user, login):
    user = make_user(Role.TRAINEE)
    login(user)
    other = app.test_client()
    other.post("/auth/login", data={"login_id": user.login_id, "password": PASSWORD})
    assert other.get("/learn/").status_code == 200
    body = client.post("/auth/password", data={"current": PASSWORD, "new": "short", "confirm": "short"}).get_data(as_text=True)
    assert "10文字以上" in body
    body = client.post("/auth/password", data={"current": PASSWORD, "new": "a-new-password-1", "confirm": "different-one-1"}).get_data(as_text=True)
    assert "一致しません" in body
    response = client.post("/auth/password", data={"current": PASSWORD, "new": "a-new-password-1", "confirm": "a-new-password-1"})
    assert response.status_code == 302
    assert client.get("/learn/").status_code == 200  # this session continues
    assert other.get("/learn/").status_code == 302  # the other one ended
    client.post("/auth/logout")
    assert client.post("/auth/login", data={"login_id": user.login_id, "password": "a-new-password-1"}).status_code == 302


def test_passwords_are_hashed_with_a_kdf(make_user, app_ctx):
    from trainer.services.accounts import hash_password

    user = make_user(Role.TRAINEE)
    assert PASSWORD not in user.password_hash
    app_ctx.config["PASSWORD_HASH_METHOD"] = "scrypt"
    try:
        assert hash_password("x" * 12).startswith("scrypt:")
    finally:
        app_ctx.config["PASSWORD_HASH_METHOD"] = "pbkdf2:sha256:1000"


def test_must_change_password_after_admin_reset(app, client, make_user):
    from trainer.models import User
    from trainer.services.accounts import reset_password

    user = make_user(Role.TRAINEE)
    with app.app_context():
        reset_password(db.session.get(User, user.id), "temporary-pass-9", actor=None)
        db.session.commit()
    response = client.post("/auth/login", data={"login_id": user.login_id, "password": "temporary-pass-9"})
    assert response.headers["Location"].endswith("/auth/password")
    assert len(_events(app, "password.reset")) == 1
