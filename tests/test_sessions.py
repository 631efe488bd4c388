"""Sign-ins are server-side records: logout, a password change or reset and deactivation end every
copy of the cookie, and a sign-in has an absolute lifetime however active it is. The live poll,
which skips the user loader, refuses the same cookies."""
from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from tests.test_workshops import _client, _create, people  # noqa: F401 (fixture)
from trainer.dates import utcnow
from trainer.extensions import db
from trainer.models import Role, User
from trainer.services import accounts

COOKIE = "session"


def copy_of(app, client):
    """A second browser holding a copy of ``client``'s session cookie (what a thief would replay)."""
    other = app.test_client()
    other.set_cookie(COOKIE, client.get_cookie(COOKIE).value)
    return other


def signed_in(client) -> bool:
    return client.get("/auth/password").status_code == 200


@pytest.fixture
def trainee_client(app, make_user):
    user = make_user(Role.TRAINEE, login_id="sess-1")
    client = app.test_client()
    assert client.post("/auth/login", data={"login_id": "sess-1", "password": PASSWORD}).status_code == 302
    return user, client


def test_a_copied_cookie_stops_working_after_logout(app, trainee_client):
    _, client = trainee_client
    thief = copy_of(app, client)
    assert signed_in(thief)
    assert client.post("/auth/logout").status_code == 302
    assert not signed_in(thief)
    assert not signed_in(client)


def test_a_copied_cookie_stops_working_after_a_password_change(app, trainee_client):
    _, client = trainee_client
    thief = copy_of(app, client)
    response = client.post("/auth/password", data={"current": PASSWORD, "new": "fresh-pass-word-7", "confirm": "fresh-pass-word-7"})
    assert response.status_code == 302
    assert signed_in(client)  # the browser that changed it continues (with a new sign-in)
    assert not signed_in(thief)


@pytest.mark.parametrize("action", ["deactivate", "reset"])
def test_a_copied_cookie_stops_working_after_deactivation_or_reset(app, trainee_client, make_user, action):
    user, client = trainee_client
    thief = copy_of(app, client)
    admin = make_user(Role.ADMIN)
    admin_client = app.test_client()
    admin_client.post("/auth/login", data={"login_id": admin.login_id, "password": PASSWORD})
    if action == "deactivate":
        admin_client.post(f"/admin/users/{user.id}/active")
    else:
        admin_client.post(f"/admin/users/{user.id}/password", data={"password": "Temporary-Key-83"})
    assert not signed_in(client) and not signed_in(thief)


def test_sessions_have_an_absolute_lifetime(app, trainee_client):
    _, client = trainee_client
    hours = app.config["SESSION_ABSOLUTE_HOURS"]
    start = utcnow()
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(int(hours * 2)):  # active every half hour: the idle timeout never strikes
            clock.shift(timedelta(minutes=30))
            if utcnow() - start >= timedelta(hours=hours):
                break
            assert signed_in(client)
        clock.shift(timedelta(minutes=1))
        assert not signed_in(client)
        assert client.get("/learn/").status_code == 302


def test_the_idle_timeout_still_applies(app, trainee_client):
    _, client = trainee_client
    idle = app.config["PERMANENT_SESSION_LIFETIME"]
    with time_machine.travel(utcnow() + idle + timedelta(minutes=1), tick=False):
        assert not signed_in(client)


def test_signing_in_replaces_what_the_cookie_held(app, trainee_client, make_user):
    """A new sign-in never continues an earlier one (no fixation): the old token is dropped."""
    from trainer.models import UserSession

    _, client = trainee_client
    before = client.get_cookie(COOKIE).value
    client.post("/auth/logout")
    client.post("/auth/login", data={"login_id": "sess-1", "password": PASSWORD})
    assert client.get_cookie(COOKIE).value != before
    with app.app_context():
        rows = db.session.scalars(select(UserSession).order_by(UserSession.id)).all()
    assert len(rows) == 2 and rows[0].ended_at is not None and rows[1].ended_at is None
    assert rows[1].expires_at - rows[1].created_at == timedelta(hours=app.config["SESSION_ABSOLUTE_HOURS"])


def test_old_sign_in_records_are_removed_at_the_next_sign_in(app, trainee_client):
    from trainer.models import UserSession

    _, client = trainee_client
    client.post("/auth/logout")
    with time_machine.travel(utcnow() + timedelta(days=2), tick=False):
        client.post("/auth/login", data={"login_id": "sess-1", "password": PASSWORD})
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(UserSession)) == 1


# --- the live poll, which does not load the user ---------------------------------------------

def _live_session(app, people):  # noqa: F811
    fac, _ = people
    facilitator = _client(app, fac.login_id)
    wid = _create(facilitator, participants="tr-0")
    response = facilitator.post(f"/facilitate/workshops/{wid}/live", data={"module_id": "m-case-01"})
    return int(response.headers["Location"].rsplit("/", 1)[1])


@pytest.mark.parametrize("event", ["logout", "password", "deactivate", "expired", "must_change"])
def test_the_live_poll_refuses_a_cookie_that_no_longer_signs_in(app, people, event):  # noqa: F811
    sid = _live_session(app, people)
    participant = _client(app, "tr-0")
    thief = copy_of(app, participant)
    assert thief.get(f"/live/{sid}/state").status_code == 200
    with app.app_context():
        user = db.session.scalar(select(User).where(User.login_id == "tr-0"))
        if event == "deactivate":
            accounts.set_active(user, False, actor=None)
        elif event == "must_change":
            user.must_change_password = True
        db.session.commit()
    if event == "logout":
        participant.post("/auth/logout")
    elif event == "password":
        participant.post("/auth/password", data={"current": PASSWORD, "new": "fresh-pass-word-7", "confirm": "fresh-pass-word-7"})
    if event == "expired":
        hours = app.config["SESSION_ABSOLUTE_HOURS"]
        with time_machine.travel(utcnow() + timedelta(hours=hours, minutes=1), tick=False):
            assert thief.get(f"/live/{sid}/state").status_code == 404
        return
    assert thief.get(f"/live/{sid}/state").status_code == 404
    if event == "password":
        assert participant.get(f"/live/{sid}/state").status_code == 200  # the browser that changed it


def test_the_live_poll_is_still_one_query(app, people):  # noqa: F811
    from sqlalchemy import event

    sid = _live_session(app, people)
    participant = _client(app, "tr-0")
    with app.app_context():
        engine = db.engine
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        assert participant.get(f"/live/{sid}/state").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
