"""The player's requests get the signed-in user as a read-only record (auth/session_user.py), from
the same one statement and under the same conditions as the ORM user everywhere else."""
from __future__ import annotations

from flask import g
from flask_login import current_user
from sqlalchemy import update

from tests.test_player import _start, trainee  # noqa: F401
from trainer.auth import session_user
from trainer.extensions import db
from trainer.models import Role, User, UserSession


def _player_url(client) -> str:
    attempt_id, index = _start(client)
    return f"/learn/attempts/{attempt_id}/pages/{index}"


def test_the_player_shows_the_same_header_with_the_light_user(app, client, trainee):
    url = _player_url(client)
    body = client.get(url).get_data(as_text=True)
    assert "受講 太郎" in body and f'<meta name="trainer-user" content="{trainee.id}">' in body
    with app.app_context():
        org_name = db.session.get(User, trainee.id).organization.name
    assert f"（{org_name}）" in body
    assert 'href="/learn/"' in body  # the menu from the roles


def _users_seen(app, client, url: str) -> list:
    """The current_user of each template rendered for ``url`` (the object itself, not the proxy)."""
    from flask import template_rendered

    seen = []

    def record(sender, template, context, **extra):
        user = current_user._get_current_object()
        seen.append((user, g.get("content_release")))
        if isinstance(user, session_user.SignedInUser):  # what the views may ask of it, inside the request
            seen.append(("checks", (user.id, user.get_id(), user.is_authenticated, user.is_active,
                                    user.has_role(Role.TRAINEE), user.has_role(Role.ADMIN), user.reviewer_scope_id(),
                                    user.role_names(), user.must_change_password, user.login_id,
                                    user.orm().id, user.email == user.orm().email, bool(user.organization.full_name))))

    with template_rendered.connected_to(record, app):
        assert client.get(url).status_code == 200
    return seen


def test_the_light_user_holds_what_the_views_use_and_loads_the_rest(app, client, trainee):
    url = _player_url(client)
    (user, release), (_, checks) = _users_seen(app, client, url)
    assert isinstance(user, session_user.SignedInUser) and release > 0
    assert checks == (trainee.id, str(trainee.id), True, True, True, False, None, {"trainee"}, False,
                      trainee.login_id, trainee.id, True, True)
    (elsewhere, _), = _users_seen(app, client, "/learn/")
    assert isinstance(elsewhere, User)  # every other page: the ORM user


def test_an_ended_sign_in_or_a_deactivated_account_is_refused_on_the_player(app, client, trainee):
    url = _player_url(client)
    assert client.get(url).status_code == 200
    with app.app_context():
        db.session.execute(update(User).where(User.id == trainee.id).values(active=False))
        db.session.commit()
    assert client.get(url).status_code == 302
    with app.app_context():
        db.session.execute(update(User).where(User.id == trainee.id).values(active=True))
        db.session.execute(update(UserSession).where(UserSession.user_id == trainee.id).values(ended_at=UserSession.created_at))
        db.session.commit()
    assert client.get(url).status_code == 302


def test_a_pending_password_change_and_a_missing_role_hold_on_the_player(app, client, trainee, make_user, login):
    url = _player_url(client)
    with app.app_context():
        db.session.execute(update(User).where(User.id == trainee.id).values(must_change_password=True))
        db.session.commit()
    moved = client.get(url)
    assert moved.status_code == 302 and moved.headers["Location"].endswith("/auth/password")
    assert client.post(f"{url}/answer", data={"token": "x"}).status_code == 302
    client.post("/auth/logout")
    login(make_user(Role.FACILITATOR))
    assert client.get(url).status_code == 403
