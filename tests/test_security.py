"""Headers, CSRF, error pages and the idle timeout."""
from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from trainer import create_app
from trainer.models import Role


def test_security_headers(client):
    response = client.get("/auth/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_pages_have_no_inline_script(client, make_user, login):
    login(make_user(Role.ADMIN))
    for path in ("/admin/", "/admin/users", "/admin/orgs", "/admin/roster", "/admin/audit"):
        body = client.get(path).get_data(as_text=True)
        assert "<script>" not in body and "onclick=" not in body and "style=" not in body, path


def test_session_cookie_flags_and_idle_timeout(client, make_user, login):
    response = login(make_user(Role.TRAINEE))
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Expires=" in cookie  # permanent session refreshed on each request = idle timeout


@pytest.fixture
def csrf_client(app, clean_db, tmp_path):
    """An app instance with CSRF on, sharing the test database."""
    csrf_app = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                           "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "TESTING": True})
    yield csrf_app.test_client()
    with csrf_app.app_context():
        from trainer.extensions import db

        db.engine.dispose()


def test_csrf_is_required_for_login_and_state_changes(csrf_client, make_user):
    user = make_user(Role.ADMIN)
    response = csrf_client.post("/auth/login", data={"login_id": user.login_id, "password": PASSWORD})
    assert response.status_code == 400
    assert "有効期限が切れました" in response.get_data(as_text=True)
    page = csrf_client.get("/auth/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    ok = csrf_client.post("/auth/login", data={"login_id": user.login_id, "password": PASSWORD, "csrf_token": token})
    assert ok.status_code == 302
    assert csrf_client.post("/auth/logout").status_code == 400  # no token: still logged in
    assert csrf_client.get("/admin/").status_code == 200


@pytest.mark.parametrize("path,code,title", [("/no-such-page", 404, "ページが見つかりません"),
                                             ("/admin/", 403, "権限がありません")])
def test_error_pages_are_japanese(client, make_user, login, path, code, title):
    login(make_user(Role.TRAINEE))
    response = client.get(path)
    assert response.status_code == code
    body = response.get_data(as_text=True)
    assert title in body and '<html lang="ja">' in body


def test_500_page_leaks_nothing(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x" * 40})

    @app.get("/__boom")
    def _boom():
        raise RuntimeError("secret internals: password=hunter2")

    response = app.test_client().get("/__boom")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "システムでエラーが発生しました" in body
    assert "hunter2" not in body and "Traceback" not in body
