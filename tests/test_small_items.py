"""The smaller findings: GETs that leave a trace cannot be triggered from another site, production
headers and cookie name, no cookie for anonymous static and health requests, one rule for a
deactivated trainee's record on every reviewer route, limits on opinions and reflections, and the
administrator's opinion list in pages."""
from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from tests.test_bad_input import _client, _get_routes, world  # noqa: F401 (module fixture)
from trainer import create_app
from trainer.dates import utcnow
from trainer.extensions import db
from trainer.models import Opinion, Role, User

DERIVED = {"point_mastery", "mastery_months", "mastery_dirty",  # summaries (brought up to date on read in tests)
           "mastery_orgs", "mastery_members", "mastery_spans"}


def _row_counts(app) -> dict[str, int]:
    with app.app_context():
        return {t.name: db.session.scalar(select(func.count()).select_from(t))
                for t in db.metadata.sorted_tables if t.name not in DERIVED}


@pytest.mark.parametrize("role", ["admin", "facilitator", "reviewer", "trainee"])
def test_no_get_writes_anything_when_another_site_sends_the_browser(app, world, role):  # noqa: F811
    """Walk every GET route as each role, as a navigation from another site: no table changes."""
    client = _client(app, role)
    before = _row_counts(app)
    guarded = 0
    for endpoint, path, _ in _get_routes(app, world):
        response = client.get(path, headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"})
        body = response.get_data()
        response.close()
        assert response.status_code < 500, (role, endpoint)
        if "ページを開く前の確認".encode() in body:
            guarded += 1
            assert path.encode() in body  # the page offers the same address, to open on purpose
    assert _row_counts(app) == before
    assert guarded >= {"admin": 1, "facilitator": 1, "reviewer": 5, "trainee": 2}[role]


def test_the_same_gets_from_this_site_still_work_and_are_audited(app, world):  # noqa: F811
    reviewer = _client(app, "reviewer")
    before = _row_counts(app)["audit_events"]
    unit = world["ids"]["unit_id"]
    for headers in ({"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}, {}):
        response = reviewer.get(f"/review/municipalities/{unit}", headers=headers)
        assert response.status_code == 200 and "ページを開く前の確認" not in response.get_data(as_text=True)
    assert _row_counts(app)["audit_events"] == before + 3
    trainee = _client(app, "trainee")
    response = trainee.get(f"/live/{world['ids']['session_id']}", headers={"Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 200


# --- production headers and cookies -----------------------------------------------------------------

@pytest.fixture
def production_app(app, monkeypatch, tmp_path):
    monkeypatch.setenv("TRAINER_ENV", "production")
    monkeypatch.setenv("TRAINER_SECRET_KEY", "p" * 48)
    prod = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "TESTING": True,
                       "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "WTF_CSRF_ENABLED": False})
    yield prod
    with prod.app_context():
        db.engine.dispose()


def test_production_sends_hsts_and_a_host_prefixed_secure_cookie(production_app, make_user):
    user = make_user(Role.TRAINEE)
    client = production_app.test_client()
    response = client.post("/auth/login", data={"login_id": user.login_id, "password": PASSWORD},
                           base_url="https://localhost")
    assert response.status_code == 302
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=") and "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie
    assert client.get("/learn/", base_url="https://localhost").status_code == 200


def test_development_sends_no_hsts(client):
    assert "Strict-Transport-Security" not in client.get("/healthz").headers


@pytest.mark.parametrize("path", ["/healthz", "/static/css/app.css"])
def test_anonymous_static_and_health_requests_get_no_cookie(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    response.close()


# --- a deactivated trainee, on every reviewer route ---------------------------------------------------

def test_a_deactivated_trainees_record_is_hidden_on_every_reviewer_route(app, make_user, small_content):
    from tests.test_player import _start, play_to_end
    from trainer.services import accounts, certificates
    from trainer.models import Course

    trainee = make_user(Role.TRAINEE, login_id="leaver", name="退職 する人")
    make_user(Role.REVIEWER, login_id="rev-leaver", scope="140007")
    client = app.test_client()
    client.post("/auth/login", data={"login_id": "leaver", "password": PASSWORD})
    attempt_id, index = _start(client, "m-values")
    play_to_end(app, client, attempt_id, index)
    with app.app_context():
        cert = certificates.issue(db.session.get(User, trainee.id), db.session.get(Course, "values-only"))
        code = cert.code
        accounts.set_active(db.session.get(User, trainee.id), False, actor=None)
        db.session.commit()
        unit = db.session.get(User, trainee.id).organization_id
    rev = app.test_client()
    rev.post("/auth/login", data={"login_id": "rev-leaver", "password": PASSWORD})
    assert rev.get(f"/review/trainees/{trainee.id}").status_code == 404
    assert rev.get(f"/review/certificates/{code}.pdf").status_code == 404
    assert "退職 する人" not in rev.get(f"/review/municipalities/{unit}").get_data(as_text=True)
    response = rev.get(f"/review/municipalities/{unit}/certificates.zip")
    if response.status_code == 200:
        names = zipfile.ZipFile(io.BytesIO(response.get_data())).namelist()
        assert not any(code in n for n in names)
    else:
        assert response.status_code == 302  # "no certificates for these filters"
    for kind in ("records", "courses"):
        assert "退職 する人" not in rev.get(f"/review/exports/{kind}.csv").get_data(as_text=True)


# --- limits on what one trainee can post ---------------------------------------------------------------

def test_opinions_are_limited_per_trainee(app, make_user, small_content):
    make_user(Role.TRAINEE, login_id="talker")
    client = app.test_client()
    client.post("/auth/login", data={"login_id": "talker", "password": PASSWORD})
    limit = app.config["OPINIONS_PER_HOUR"]
    for i in range(limit + 3):
        client.post("/learn/opinions", data={"body": f"意見 {i}", "case_id": "case-01", "client_token": f"{i:032x}"})
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Opinion)) == limit
    page = client.get("/learn/").get_data(as_text=True)
    assert f"1時間に{limit}件まで" in page
    with time_machine.travel(utcnow() + timedelta(hours=1, minutes=1), tick=False):
        client.post("/learn/opinions", data={"body": "また", "case_id": "case-01", "client_token": "f" * 32})
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Opinion)) == limit + 1


def test_reflections_are_limited_per_trainee(app, make_user, small_content):
    from trainer.models import Attempt
    from trainer.services import answering, grading, player

    user = make_user(Role.TRAINEE, login_id="writer")
    client = app.test_client()
    client.post("/auth/login", data={"login_id": "writer", "password": PASSWORD})
    app.config["REFLECTIONS_PER_HOUR"] = 3
    try:
        with app.app_context():
            from trainer.models import Module

            page = next(p for p in player.pages(db.session.get(Module, "m-case-01"))
                        if p.question is not None and p.question.type == "reflection")
            for n in range(3):
                attempt = Attempt(user_id=user.id, module_id="m-case-01", number=n + 1)
                db.session.add(attempt)
                db.session.flush()
                answering.submit(attempt, page.question, {"text": f"振り返り {n}"}, f"t{n}")
            attempt = Attempt(user_id=user.id, module_id="m-case-01", number=9)
            db.session.add(attempt)
            db.session.flush()
            with pytest.raises(grading.ResponseError, match="1時間に3件まで"):
                answering.submit(attempt, page.question, {"text": "もう一つ"}, "t9")
            db.session.rollback()
    finally:
        app.config["REFLECTIONS_PER_HOUR"] = 120


def test_the_opinion_list_comes_in_pages(app, make_user, small_content):
    author = make_user(Role.TRAINEE)
    with app.app_context():
        db.session.add_all([Opinion(user_id=author.id, case_id="case-01", body=f"意見その{i:03d}") for i in range(120)])
        db.session.commit()
    admin = app.test_client()
    admin.post("/auth/login", data={"login_id": make_user(Role.ADMIN).login_id, "password": PASSWORD})
    first = admin.get("/admin/opinions").get_data(as_text=True)
    assert first.count("意見その") == 50 and "1 / 3 ページ" in first and "120件" in first
    last = admin.get("/admin/opinions?page=3").get_data(as_text=True)
    assert last.count("意見その") == 20
    assert admin.get("/admin/opinions?page=999999999999999").status_code == 200
    assert admin.get("/admin/opinions.csv").get_data(as_text=True).count("意見その") == 120
