"""Administrators manage accounts: create, roles, password resets, deactivation, the audit log, the CLI."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from trainer.extensions import db
from trainer.models import AuditEvent, Role, User
from trainer.services import orgs

GENERIC = "ログインIDまたはパスワードが正しくありません。"


def user_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


def get_user(app, login_id: str) -> User | None:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.login_id == login_id))
        if user is not None:
            _ = user.organization, user.roles
        return user


def events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def org_id(app, code: str) -> int:
    with app.app_context():
        return orgs.by_code(code).id


@pytest.fixture
def admin(make_user, login):
    user = make_user(Role.ADMIN, login_id="admin-1", name="管理 一郎")
    assert login(user).status_code == 302
    return user


def new_user_form(**overrides) -> dict:
    data = {"login_id": "new-user-1", "display_name": "新規 太郎", "furigana": "しんき たろう",
            "email": "", "password": "Initial-pass-1", "roles": ["trainee"], "scope": ""}
    data.update(overrides)
    return data


# --- creating accounts through the web form ------------------------------------------------------

def test_admin_creates_a_user_under_an_org(app, client, admin, make_org):
    city = make_org("藤沢市", code="142051")
    response = client.post(f"/admin/orgs/{city.id}/users/new", data=new_user_form(roles=["trainee", "facilitator"]))
    assert response.status_code == 302
    user = get_user(app, "new-user-1")
    assert response.headers["Location"] == f"/admin/users/{user.id}"
    assert (user.display_name, user.furigana, user.organization_id) == ("新規 太郎", "しんき たろう", city.id)
    assert user.role_names() == {"trainee", "facilitator"}
    assert user.must_change_password
    [event] = [e for e in events(app, "user.create") if e.subject == "new-user-1"]
    assert event.actor_id == admin.id
    # the new user logs in with the initial password and is sent to change it
    other = app.test_client()
    assert other.post("/auth/login", data={"login_id": "new-user-1", "password": "Initial-pass-1"}).headers["Location"].endswith("/auth/password")


@pytest.mark.parametrize("overrides,message", [
    ({"login_id": "山田たろう"}, "ログインIDは半角英数字と . _ @ - で3〜64文字にしてください"),
    ({"login_id": "ab"}, "3〜64文字"),
    ({"login_id": ""}, "ログインIDを入力してください。"),
    ({"display_name": ""}, "氏名を入力してください。"),
    ({"password": "short-pw"}, "パスワードは10文字以上にしてください。"),
    ({"password": ""}, "初期パスワードを入力してください。"),
    ({"email": "not-an-email"}, "メールアドレスの形式で入力してください。"),
    ({"roles": []}, "役割を1つ以上選んでください。"),
    ({"roles": ["reviewer"]}, "閲覧者には、担当する都道府県または政令指定都市を指定してください。"),
], ids=["kanji-login-id", "short-login-id", "empty-login-id", "empty-name", "short-password", "empty-password",
        "bad-email", "no-role", "reviewer-without-scope"])
def test_create_user_is_refused_with_a_japanese_message(app, client, admin, overrides, message):
    before = user_count(app)
    response = client.post(f"/admin/orgs/{org_id(app, '140007')}/users/new", data=new_user_form(**overrides))
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert user_count(app) == before
    assert [e.subject for e in events(app, "user.create")] == ["admin-1"]  # the admin fixture's own


def test_duplicate_login_id_is_refused(app, client, admin, make_user):
    make_user(Role.TRAINEE, login_id="new-user-1")
    before = user_count(app)
    # full-width letters typed on a phone are the same login ID
    response = client.post(f"/admin/orgs/{org_id(app, '140007')}/users/new", data=new_user_form(login_id="ｎｅｗ-ｕｓｅｒ-1"))
    assert response.status_code == 200
    assert "ログインID「new-user-1」は既に使われています。" in response.get_data(as_text=True)
    assert user_count(app) == before


def test_reviewer_scope_must_be_a_jurisdiction(app, client, admin, make_org):
    city = make_org("藤沢市", code="142051")
    response = client.post(f"/admin/orgs/{city.id}/users/new", data=new_user_form(roles=["reviewer"], scope=str(city.id)))
    assert response.status_code == 200  # 藤沢市 is not offered as a scope at all
    assert get_user(app, "new-user-1") is None


def test_reviewer_with_a_designated_city_scope(app, client, admin):
    yokohama = org_id(app, "141003")
    response = client.post(f"/admin/orgs/{yokohama}/users/new", data=new_user_form(roles=["reviewer"], scope=str(yokohama)))
    assert response.status_code == 302
    assert get_user(app, "new-user-1").reviewer_scope_id() == yokohama


# --- roles, passwords, deactivation ---------------------------------------------------------------

def test_role_change_is_audited_with_before_and_after(app, client, admin, make_user):
    user = make_user(Role.TRAINEE)
    response = client.post(f"/admin/users/{user.id}/roles", data={"roles": ["trainee", "facilitator"], "scope": ""})
    assert response.status_code == 302
    assert get_user(app, user.login_id).role_names() == {"trainee", "facilitator"}
    [event] = events(app, "role.change")
    assert event.actor_id == admin.id and event.subject == user.login_id
    assert event.detail == {"before": ["trainee"], "after": ["facilitator", "trainee"]}


def test_reviewer_scope_change_is_audited(app, client, admin, make_user):
    user = make_user(Role.REVIEWER, scope="140007")
    kawasaki = org_id(app, "141305")
    client.post(f"/admin/users/{user.id}/roles", data={"roles": ["reviewer"], "scope": str(kawasaki)})
    assert get_user(app, user.login_id).reviewer_scope_id() == kawasaki
    [event] = events(app, "role.change")
    assert event.detail == {"before": ["reviewer"], "after": ["reviewer"], "scope": "川崎市"}


def test_role_change_to_reviewer_without_scope_is_refused(app, client, admin, make_user):
    user = make_user(Role.TRAINEE)
    response = client.post(f"/admin/users/{user.id}/roles", data={"roles": ["reviewer"], "scope": ""}, follow_redirects=True)
    assert "閲覧者には、担当する都道府県または政令指定都市を指定してください。" in response.get_data(as_text=True)
    assert get_user(app, user.login_id).role_names() == {"trainee"}
    assert events(app, "role.change") == []


def test_removing_every_role_is_refused(app, client, admin, make_user):
    user = make_user(Role.FACILITATOR)
    response = client.post(f"/admin/users/{user.id}/roles", data={"scope": ""}, follow_redirects=True)
    assert "役割を1つ以上選んでください。" in response.get_data(as_text=True)
    assert get_user(app, user.login_id).role_names() == {"facilitator"}


def test_password_reset_forces_a_change_and_ends_sessions(app, client, admin, make_user):
    user = make_user(Role.TRAINEE)
    theirs = app.test_client()
    theirs.post("/auth/login", data={"login_id": user.login_id, "password": PASSWORD})
    assert theirs.get("/learn/").status_code == 200

    response = client.post(f"/admin/users/{user.id}/password", data={"password": "Reset-by-admin-1"})
    assert response.status_code == 302
    assert get_user(app, user.login_id).must_change_password
    [event] = events(app, "password.reset")
    assert event.actor_id == admin.id and event.subject == user.login_id
    assert theirs.get("/learn/").status_code == 302  # their session ended

    fresh = app.test_client()
    assert GENERIC in fresh.post("/auth/login", data={"login_id": user.login_id, "password": PASSWORD}).get_data(as_text=True)
    assert fresh.post("/auth/login", data={"login_id": user.login_id, "password": "Reset-by-admin-1"}).headers["Location"].endswith("/auth/password")


def test_password_reset_rejects_a_short_password(app, client, admin, make_user):
    user = make_user(Role.TRAINEE)
    response = client.post(f"/admin/users/{user.id}/password", data={"password": "short"}, follow_redirects=True)
    assert "パスワードは10文字以上にしてください。" in response.get_data(as_text=True)
    assert not get_user(app, user.login_id).must_change_password
    assert events(app, "password.reset") == []


def test_deactivated_user_cannot_log_in_and_their_session_ends(app, client, admin, make_user):
    user = make_user(Role.TRAINEE)
    theirs = app.test_client()
    theirs.post("/auth/login", data={"login_id": user.login_id, "password": PASSWORD})
    assert theirs.get("/learn/").status_code == 200

    response = client.post(f"/admin/users/{user.id}/active", follow_redirects=True)
    assert "利用を停止しました。" in response.get_data(as_text=True)
    assert get_user(app, user.login_id).active is False
    [event] = events(app, "user.deactivate")
    assert event.actor_id == admin.id and event.subject == user.login_id

    assert theirs.get("/learn/").status_code == 302
    fresh = app.test_client()
    assert GENERIC in fresh.post("/auth/login", data={"login_id": user.login_id, "password": PASSWORD}).get_data(as_text=True)

    # and reactivation lets them back in
    client.post(f"/admin/users/{user.id}/active")
    assert get_user(app, user.login_id).active is True
    assert fresh.post("/auth/login", data={"login_id": user.login_id, "password": PASSWORD}).status_code == 302


def test_admin_cannot_deactivate_themself(app, client, admin):
    response = client.post(f"/admin/users/{admin.id}/active", follow_redirects=True)
    assert "自分自身のアカウントは無効にできません。" in response.get_data(as_text=True)
    assert get_user(app, admin.login_id).active is True
    assert events(app, "user.deactivate") == []
    assert client.get("/admin/").status_code == 200


def test_user_list_searches_by_name(client, admin, make_user):
    make_user(Role.TRAINEE, login_id="hanako-k", name="研修 花子")
    make_user(Role.TRAINEE, login_id="taro-s", name="進行 太郎")
    body = client.get("/admin/users?q=花子").get_data(as_text=True)
    assert "hanako-k" in body and "taro-s" not in body


# --- the audit log page ---------------------------------------------------------------------------

def audit_rows(body: str) -> list[list[str]]:
    """The cells of the audit table's body rows."""
    tbody = body.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in re.findall(r"<tr>(.*?)</tr>", tbody, re.S)]


def test_audit_log_filters_by_action(client, admin, make_user):
    user = make_user(Role.TRAINEE)
    client.post(f"/admin/users/{user.id}/roles", data={"roles": ["facilitator"], "scope": ""})
    client.post(f"/admin/users/{user.id}/password", data={"password": "Reset-by-admin-1"})
    rows = audit_rows(client.get("/admin/audit?action=role.change").get_data(as_text=True))
    assert [(r[1], r[2], r[3]) for r in rows] == [("役割変更", "admin-1", user.login_id)]
    assert rows[0][4] == "変更前：受講者、変更後：ファシリテーター"  # Japanese, not before=['trainee'] (issue 17.4)
    all_rows = audit_rows(client.get("/admin/audit").get_data(as_text=True))
    assert {"役割変更", "パスワード再設定（管理者）", "ログイン成功", "利用者作成"} <= {r[1] for r in all_rows}


def test_audit_log_filters_by_actor(app, client, admin, make_user):
    other = make_user(Role.TRAINEE, login_id="someone-else")
    app.test_client().post("/auth/login", data={"login_id": other.login_id, "password": PASSWORD})
    client.post(f"/admin/users/{other.id}/password", data={"password": "Reset-by-admin-1"})
    rows = audit_rows(client.get("/admin/audit?actor=admin-1").get_data(as_text=True))
    assert rows and all(r[2] == "admin-1" for r in rows)
    assert {r[1] for r in rows} == {"ログイン成功", "パスワード再設定（管理者）"}
    rows = audit_rows(client.get("/admin/audit?actor=someone-else").get_data(as_text=True))
    assert [(r[1], r[2], r[3]) for r in rows] == [("ログイン成功", "someone-else", "someone-else")]


def test_audit_log_with_no_match(client, admin):
    body = client.get("/admin/audit?action=roster.import").get_data(as_text=True)
    assert "該当する記録はありません。" in body


# --- the command line ------------------------------------------------------------------------------

def test_cli_user_create(app, runner, client):
    result = runner.invoke(args=["user", "create", "cli-user-1", "--name", "山田 花子", "--org", "142018",
                                 "--role", "trainee", "--role", "facilitator", "--password", "Cli-password-1"])
    assert result.exit_code == 1 and "団体コード 142018 の組織が見つかりません" in result.output  # not imported yet
    result = runner.invoke(args=["user", "create", "cli-user-1", "--name", "山田 花子", "--org", "140007",
                                 "--role", "trainee", "--role", "facilitator", "--password", "Cli-password-1"])
    assert result.exit_code == 0, result.output
    assert "作成しました: cli-user-1（山田 花子、神奈川県）" in result.output
    user = get_user(app, "cli-user-1")
    assert user.role_names() == {"trainee", "facilitator"}
    assert client.post("/auth/login", data={"login_id": "cli-user-1", "password": "Cli-password-1"}).status_code == 302


def test_cli_user_create_reviewer_and_errors(app, runner):
    ok = runner.invoke(args=["user", "create", "cli-reviewer", "--name", "横浜 審査", "--org", "141003",
                             "--role", "reviewer", "--scope", "141003", "--password", "Cli-password-1"])
    assert ok.exit_code == 0, ok.output
    assert get_user(app, "cli-reviewer").reviewer_scope_id() == org_id(app, "141003")
    before = user_count(app)
    for args, message in [
        (["cli-reviewer", "--password", "Cli-password-1"], "既に使われています"),
        (["cli-2", "--password", "short"], "10文字以上"),
        (["cli-3", "--password", "Cli-password-1", "--role", "reviewer"], "閲覧者には"),
    ]:
        result = runner.invoke(args=["user", "create", args[0], "--name", "名前", "--org", "140007", *args[1:]])
        assert result.exit_code == 1 and message in result.output, result.output
    assert user_count(app) == before


def test_cli_reset_password(app, runner, make_user):
    user = make_user(Role.TRAINEE)
    result = runner.invoke(args=["user", "reset-password", user.login_id])
    assert result.exit_code == 0, result.output
    [password] = re.findall(rf"{user.login_id} の新しいパスワード: (\S+)", result.output)
    assert get_user(app, user.login_id).must_change_password
    [event] = events(app, "password.reset")
    assert event.actor_id is None and event.subject == user.login_id
    c = app.test_client()
    assert GENERIC in c.post("/auth/login", data={"login_id": user.login_id, "password": PASSWORD}).get_data(as_text=True)
    assert c.post("/auth/login", data={"login_id": user.login_id, "password": password}).headers["Location"].endswith("/auth/password")
    assert runner.invoke(args=["user", "reset-password", "nobody-here"]).exit_code == 1


def test_setup_demo_twice_creates_the_demo_accounts_once(app, runner, monkeypatch):
    from trainer import cli
    from trainer.services import demo

    imports = []  # the content import is tested with the content; here it would only cost seconds
    monkeypatch.setattr(cli, "_import_content", imports.append)
    first = runner.invoke(args=["setup", "--demo"])
    assert first.exit_code == 0, first.output
    passwords = dict(re.findall(r"^\s+(demo-[a-z]+)\s+(\S+)", first.output, re.M))
    expected = {login_id for login_id, *_ in demo.DEMO_ACCOUNTS}
    assert {"demo-trainee", "demo-facilitator", "demo-reviewer", "demo-admin", "demo-editor", "demo-national"} <= expected
    assert set(passwords) == expected
    count = user_count(app)
    assert count == len(expected)
    assert get_user(app, "demo-reviewer").reviewer_scope_id() == org_id(app, "140007")

    second = runner.invoke(args=["setup", "--demo"])
    assert second.exit_code == 0, second.output
    assert "デモアカウントは作成済みです" in second.output
    assert not any(p in second.output for p in passwords.values())
    assert user_count(app) == count
    assert len(imports) == 2
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "user.create")) == len(expected)

    c = app.test_client()
    assert c.post("/auth/login", data={"login_id": "demo-admin", "password": passwords["demo-admin"]}).status_code == 302
    assert c.get("/home").headers["Location"].endswith("/admin/")


def test_admin_cannot_remove_own_admin_role(app, client, make_user, login):
    admin = make_user(Role.ADMIN)
    login(admin)
    response = client.post(f"/admin/users/{admin.id}/roles", data={"roles": ["trainee"], "scope": ""})
    assert response.status_code == 302
    with app.app_context():
        from trainer.models import User

        assert db.session.get(User, admin.id).has_role(Role.ADMIN)
