"""Password rules in every entry path (own change, administrator's create and reset, roster import,
CLI, walk-in registration), the pending password change on every route, and initial passwords
that expire."""
from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import PASSWORD
from trainer.dates import utcnow
from trainer.extensions import db
from trainer.models import Role, User


def _passwords():
    """Imported when used, so that each test fails on its own where the module does not exist."""
    from trainer.services import passwords

    return passwords

COMMON = "よく使われていて推測されやすい"
HAS_LOGIN = "ログインIDを含めない"
HAS_NAME = "氏名・ふりがな・メールアドレスを含めない"


def test_the_common_list_holds_the_top_30000_with_its_provenance():
    listed = _passwords().common_passwords()
    assert len(listed) >= 30000 - 50  # the zxcvbn list (a few entries differ only in case)
    assert {"password", "123456", "qwertyuiop", "iloveyou"} <= listed


@pytest.mark.parametrize("password,expected", [
    ("password", "10文字以上"),
    ("qwertyuiop", COMMON),
    ("1234567890", COMMON),
    ("Password2024!", COMMON),  # a listed password with digits and a symbol added
    ("baseball123456", COMMON),
    ("hikikomori-2025", "このサービスに関係する言葉"),
    ("aaaaaaaaaaaa", "繰り返し"),
    ("x" * 129 + "Ab1", "128文字以内"),
    ("tab\there-ok-1", "制御文字"),
    ("Lantern-river-83", None),
])
def test_rules_without_context(password, expected):
    found = _passwords().problem(password)
    assert (found is None) if expected is None else (expected in found)


@pytest.mark.parametrize("password,expected", [
    ("tanaka.h-2025-x", HAS_LOGIN),
    ("TANAKA.H!summer", HAS_LOGIN),
    ("hiroshi-lantern-7", HAS_LOGIN),  # a part of the login ID (tanaka.hiroshi)
    ("田中花子とうみのひかり", HAS_NAME),
    ("はなこのうみ2025x", HAS_NAME),
    ("hanako.mail-lantern", HAS_NAME),  # the local part of the e-mail address
    ("Lantern-river-83", None),
])
def test_rules_with_the_accounts_own_words(password, expected):
    context = _passwords().context_of("tanaka.hiroshi", ("田中 花子", "たなか はなこ"), "hanako.mail@example.jp")
    found = _passwords().problem(password.replace("tanaka.h-", "tanaka.hiroshi-"), context)
    assert (found is None) if expected is None else (expected in found)


def _admin(app, make_user):
    client = app.test_client()
    client.post("/auth/login", data={"login_id": make_user(Role.ADMIN).login_id, "password": PASSWORD})
    return client


def test_own_change_refuses_common_context_and_the_current_password(app, make_user, login, client):
    login(make_user(Role.TRAINEE, login_id="kimura-taro", name="木村 太郎"))
    for new, message in (("Password2024!", COMMON), ("kimura-taro-2025", HAS_LOGIN), ("木村太郎のパスワード", HAS_NAME),
                         (PASSWORD, "現在のパスワードと同じ")):
        body = client.post("/auth/password", data={"current": PASSWORD, "new": new, "confirm": new}).get_data(as_text=True)
        assert message in body, new


def test_administrators_create_and_reset_with_the_same_rules(app, make_user):
    admin = _admin(app, make_user)
    with app.app_context():
        from trainer.services import orgs

        org_id = orgs.by_code("140007").id
    body = admin.post(f"/admin/orgs/{org_id}/users/new", data={
        "login_id": "sato-ichiro", "display_name": "佐藤 一郎", "roles": ["trainee"], "scope": "",
        "password": "sato-ichiro-99"}).get_data(as_text=True)
    assert HAS_LOGIN in body
    target = make_user(Role.TRAINEE, login_id="reset-me")
    admin.post(f"/admin/users/{target.id}/password", data={"password": "qwertyuiop123"})
    assert COMMON in admin.get(f"/admin/users/{target.id}").get_data(as_text=True)
    admin.post(f"/admin/users/{target.id}/password", data={"password": PASSWORD})
    assert "現在のパスワードと同じ" in admin.get(f"/admin/users/{target.id}").get_data(as_text=True)


def test_roster_and_cli_apply_the_same_rules(app, make_user, runner, tmp_path):
    from tests.test_roster import csv_bytes

    path = tmp_path / "roster.csv"
    path.write_bytes(csv_bytes("yamada-1,山田 花子,やまだ はなこ,140007,,受講者,,iloveyou2024"))
    result = runner.invoke(args=["roster", "import", str(path)])
    assert result.exit_code != 0 and COMMON in result.output
    result = runner.invoke(args=["user", "create", "cli-user", "--name", "線 一", "--org", "140007",
                                 "--password", "cli-user-secret"])
    assert result.exit_code != 0 and HAS_LOGIN in result.output
    with app.app_context():
        assert db.session.scalar(select(User).where(User.login_id.in_(["yamada-1", "cli-user"]))) is None


# --- a pending password change, on every route ----------------------------------------------

EXEMPT = {"static", "auth.password", "auth.logout", "live.state"}


def placeholder_values(rule) -> dict[str, object]:
    """A value for each argument of a rule: 1 for integers, the first choice of an any(), else "x"."""
    from werkzeug.routing import AnyConverter, IntegerConverter

    values = {}
    for name, converter in rule._converters.items():
        if isinstance(converter, IntegerConverter):
            values[name] = 1
        elif isinstance(converter, AnyConverter):
            values[name] = sorted(converter.items)[0]
        else:
            values[name] = "x"
    return values


def _routes(app):
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if rule.endpoint in EXEMPT:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, adapter.build(rule.endpoint, placeholder_values(rule), method=method)


def test_a_pending_password_change_is_enforced_on_every_route(app, make_user):
    """Walk the url_map: an account that must change its password reaches nothing else."""
    user = make_user(Role.TRAINEE, Role.FACILITATOR, Role.ADMIN)
    with app.app_context():
        db.session.get(User, user.id).must_change_password = True
        db.session.commit()
    client = app.test_client()
    assert client.post("/auth/login", data={"login_id": user.login_id, "password": PASSWORD}).status_code == 302
    checked = []
    for endpoint, method, path in _routes(app):
        response = client.open(path, method=method)
        assert response.status_code == 302 and response.headers["Location"].endswith("/auth/password"), (endpoint, method, path)
        checked.append(endpoint)
    assert len(set(checked)) > 40
    assert client.get("/auth/password").status_code == 200
    static = client.get("/static/css/app.css")
    assert static.status_code == 200
    static.close()


def test_an_initial_password_expires(app, make_user):
    admin = _admin(app, make_user)
    target = make_user(Role.TRAINEE, login_id="new-person")
    admin.post(f"/admin/users/{target.id}/password", data={"password": "Initial-lantern-5"})
    days = app.config["INITIAL_PASSWORD_DAYS"]
    with time_machine.travel(utcnow() + timedelta(days=days, minutes=1), tick=False):
        response = app.test_client().post("/auth/login", data={"login_id": "new-person", "password": "Initial-lantern-5"})
        assert response.status_code == 200
        assert "初期パスワードの有効期限が切れています" in response.get_data(as_text=True)
    with time_machine.travel(utcnow() + timedelta(days=days - 1), tick=False):
        response = app.test_client().post("/auth/login", data={"login_id": "new-person", "password": "Initial-lantern-5"})
        assert response.headers["Location"].endswith("/auth/password")


def test_a_chosen_password_does_not_expire(app, make_user, login):
    make_user(Role.TRAINEE, login_id="keeps-it")
    with time_machine.travel(utcnow() + timedelta(days=400), tick=False):
        assert app.test_client().post("/auth/login", data={"login_id": "keeps-it", "password": PASSWORD}).status_code == 302
