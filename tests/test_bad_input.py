"""Bad input never ends in a 500, on SQLite and PostgreSQL alike.

The matrix walks the app instead of listing pages: every GET route of the url_map gets every query
parameter the code reads (found in the source) set to each bad value, every integer path argument
gets a number beyond the column range, and every form found on the pages each role can open is sent
with each field set to each bad value. Files (rosters, municipality lists) and the CLI are checked
with the values that used to reach the database.
"""
from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from tests.test_passwords import placeholder_values
from trainer.dates import utcnow
from trainer.extensions import db
from trainer.models import Role, User

SRC = Path(__file__).resolve().parents[1] / "src" / "trainer"
HUGE = "99999999999999999999"
BAD_VALUES = ["\x00", "a\x00b", HUGE, "-" + HUGE, "9999-12-31", "0001-01-01", "x" * 5000, "１２３", "' OR 1=1 --",
              "<script>alert(1)</script>"]
QUERY_VALUES = BAD_VALUES[:8]  # the strings that only look odd are harmless in a query (escaped, bound)
ROLES = ("admin", "facilitator", "reviewer", "trainee")


def query_parameters() -> list[str]:
    """Every query-string name the code reads (request.args.get / getlist, and the catalogue's loop)."""
    names: set[str] = set()
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        names |= set(re.findall(r"args\.get(?:list)?\(\s*\"(\w+)\"", text))
        for group in re.findall(r"args\.get\(k\)[^\n]*for k in \(([^)]*)\)", text):
            names |= set(re.findall(r"\"(\w+)\"", group))
    return sorted(names)


def test_the_walk_finds_the_filters():
    assert {"since", "until", "page", "q", "w", "item", "municipality", "course"} <= set(query_parameters())


@pytest.fixture(scope="module")
def world(app, tmp_path_factory):
    """An organization, one account per role, a workshop with a live session, an attempt, content."""
    from tests.conftest import _empty_all_tables, import_fixture_content
    from trainer.services import accounts, live, orgs, workshops

    with app.app_context():
        _empty_all_tables()
        orgs.seed_jurisdictions()
        import_fixture_content(tmp_path_factory.mktemp("content"))
        pref = orgs.by_code("140007")
        users = {}
        for name, role in (("admin", Role.ADMIN), ("facilitator", Role.FACILITATOR), ("reviewer", Role.REVIEWER),
                           ("trainee", Role.TRAINEE)):
            users[name] = accounts.create_user(login_id=f"bad-{name}", display_name=name, organization=pref,
                                               password=PASSWORD, roles=[role],
                                               reviewer_scope=pref if role == Role.REVIEWER else None)
        target = accounts.create_user(login_id="bad-target", display_name="対象", organization=pref, password=PASSWORD)
        now = utcnow()
        workshop = workshops.create(users["facilitator"], workshops.WorkshopInput(
            title="入力の研修会", starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=3), venue="",
            online=False, module_ids=["m-case-01"], participants="bad-trainee"))
        session = live.start(workshop, "m-case-01", users["facilitator"])
        db.session.flush()
        attempt = live.participant_attempt(session, users["trainee"])
        db.session.commit()
        return {"ids": {"user_id": target.id, "org_id": pref.id, "unit_id": pref.id, "workshop_id": workshop.id,
                        "session_id": session.id, "attempt_id": attempt.id, "index": 0, "answer_id": 1},
                "strings": {"module_id": "m-case-01", "course_id": "basic", "point_id": "P01", "code": workshop.join_code},
                "code": workshop.join_code}


def _client(app, role: str | None):
    client = app.test_client()
    if role is not None:
        assert client.post("/auth/login", data={"login_id": f"bad-{role}", "password": PASSWORD}).status_code == 302
    return client


def _get_routes(app, world) -> list[tuple[str, str, dict]]:
    """(endpoint, path, int arguments) for every GET route, built with the world's ids."""
    adapter = app.url_map.bind("localhost")
    routes = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        values = placeholder_values(rule)
        for name in values:
            values[name] = world["ids"].get(name, world["strings"].get(name, values[name]))
        ints = {n: v for n, v in values.items() if isinstance(v, int)}
        routes.append((rule.endpoint, adapter.build(rule.endpoint, values), ints))
    return routes


def _no_server_error(response, what) -> None:
    assert response.status_code < 500, what
    response.close()


@pytest.mark.parametrize("role", ROLES)
def test_every_get_route_survives_bad_query_values(app, world, role):
    client = _client(app, role)
    params = query_parameters()
    for endpoint, path, _ in _get_routes(app, world):
        plain = client.get(path)
        plain.close()
        if plain.status_code != 200:
            continue  # refused (or sent elsewhere) before any parameter is read
        for value in QUERY_VALUES:
            response = client.get(f"{path}?{urlencode({p: value for p in params})}")
            _no_server_error(response, (role, endpoint, repr(value)[:40]))
            if "\x00" in value:
                assert response.status_code == 400


def test_nul_anywhere_gets_a_clear_japanese_answer(app, world):
    client = _client(app, "admin")
    for url in ("/admin/users?q=%00", "/admin/audit?actor=a%00", "/learn/modules/m%00", "/verify/AB%00CD"):
        response = client.get(url)
        assert response.status_code == 400 and "入力に使えない文字" in response.get_data(as_text=True), url


@pytest.mark.parametrize("role", ROLES)
def test_integers_beyond_the_column_range_are_not_found(app, world, role):
    client = _client(app, role)
    adapter = app.url_map.bind("localhost")
    checked = 0
    for rule in app.url_map.iter_rules():
        values = placeholder_values(rule)
        ints = [n for n, v in values.items() if isinstance(v, int)]
        for name in ints:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                path = adapter.build(rule.endpoint, {**values, name: 7654321}, method=method).replace("7654321", HUGE)
                response = client.open(path, method=method)
                assert response.status_code in (302, 403, 404, 405), (role, rule.rule, path, response.status_code)
                response.close()
                checked += 1
    assert checked > 30
    for url in ("/review/municipalities/1?page=" + HUGE, "/facilitate/cohort?w=" + HUGE, "/admin/users/2147483648"):
        _no_server_error(client.get(url), url)


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01"])
def test_extreme_dates_in_filters_get_a_message(app, world, value):
    reviewer = _client(app, "reviewer")
    for param in ("since", "until"):
        response = reviewer.get(f"/review/?{param}={value}")
        assert response.status_code == 400 and "2000-01-01から2099-12-31まで" in response.get_data(as_text=True)
    admin = _client(app, "admin")
    response = admin.get(f"/admin/audit?until={value}")
    assert response.status_code == 400 and "2000-01-01から2099-12-31まで" in response.get_data(as_text=True)
    facilitator = _client(app, "facilitator")
    body = facilitator.post("/facilitate/workshops/new", data={"title": "t", "day": value, "start": "10:00", "end": "11:00",
                                                               "modules": ["m-case-01"]}).get_data(as_text=True)
    assert "2000-01-01から2099-12-31まで" in body


# --- every form on every page ---------------------------------------------------------------------

class _Forms(HTMLParser):
    """The POST forms of a page: action and fields (name, type, value)."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._form = None
        self._select = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "get").lower() == "post":
            self._form = {"action": a.get("action") or "", "fields": []}
            self.forms.append(self._form)
        elif self._form is not None and tag in ("input", "textarea") and a.get("name"):
            kind = a.get("type", "text") if tag == "input" else "textarea"
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self._form["fields"].append((a["name"], kind, a.get("value", "")))
        elif self._form is not None and tag == "select" and a.get("name"):
            self._select = [a["name"], "select", None]
            self._form["fields"].append(self._select)
        elif tag == "option" and self._select is not None and (self._select[2] is None or "selected" in a):
            self._select[2] = a.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


SKIP_ACTIONS = ("/auth/logout",)  # it would sign the crawler out


def _pages(app, world, client) -> list[str]:
    return [path for _, path, _ in _get_routes(app, world)]


def _forms_of(app, world, client) -> dict[tuple[str, tuple], tuple[str, list]]:
    found = {}
    for path in _pages(app, world, client):
        response = client.get(path)
        if response.status_code != 200 or not response.mimetype == "text/html":
            response.close()
            continue
        parser = _Forms()
        parser.feed(response.get_data(as_text=True))
        for form in parser.forms:
            action = form["action"] or path
            action = urlsplit(action).path + (f"?{urlsplit(action).query}" if urlsplit(action).query else "")
            if action in SKIP_ACTIONS:
                continue
            names = tuple(sorted(f[0] for f in form["fields"]))
            found.setdefault((action, names), (action, [tuple(f) for f in form["fields"]]))
    return found


@pytest.mark.parametrize("role", [None, *ROLES])
def test_every_form_survives_bad_values(app, world, role):
    client = _client(app, role)
    forms = _forms_of(app, world, client)
    if role is None:
        forms.update(_forms_of_join(app, world, client))
    assert forms, role
    sent = 0
    for action, fields in forms.values():
        typed = [f for f in fields if f[1] not in ("submit", "file", "checkbox", "radio") and f[0] != "csrf_token"]
        for name, _, _ in typed:
            for value in BAD_VALUES:
                data = {n: v for n, k, v in fields if n != name and k not in ("submit", "file")}
                data[name] = value
                response = client.post(action, data=data)
                _no_server_error(response, (role, action, name, repr(value)[:40]))
                if "\x00" in value:
                    assert response.status_code == 400
                sent += 1
        client = _client(app, role)  # a form may have changed the session (e.g. a password change)
    assert sent > 10


def _forms_of_join(app, world, client):
    """The join pages are reached by a code, not from the url_map's placeholders."""
    found = {}
    for path in (f"/join/{world['code']}", "/join"):
        parser = _Forms()
        parser.feed(client.get(path).get_data(as_text=True))
        for form in parser.forms:
            action = form["action"] or path
            found[(action, tuple(sorted(f[0] for f in form["fields"])))] = (action, [tuple(f) for f in form["fields"]])
    return found


def test_thousands_of_unknown_ids_do_not_overflow_the_cookie(app, world):
    facilitator = _client(app, "facilitator")
    unknown = "\n".join(f"nobody-{i:05d}" for i in range(1500))
    response = facilitator.post(f"/facilitate/workshops/{world['ids']['workshop_id']}/participants",
                                data={"participants": unknown})
    assert response.status_code == 302
    cookie = facilitator.get_cookie("session")
    assert cookie is not None and len(cookie.value) < 3000
    page = facilitator.get(f"/facilitate/workshops/{world['ids']['workshop_id']}").get_data(as_text=True)
    assert "招待できないログインID: nobody-00000、" in page and "ほか1490件" in page


# --- files and the CLI (these tests start from an empty database: they come after the world's) ------

HEADER = "ログインID,氏名,ふりがな,所属コード,事業所名,役割,メールアドレス,初期パスワード"


@pytest.mark.parametrize("row,message", [
    ("long-1,長 い,{},140007,,受講者,,".format("ふ" * 121), "ふりがなは120文字以内"),
    ("long-2,長 い,,140007,,受講者,{}@example.jp,".format("m" * 250), "メールアドレスは254文字以内"),
    ("long-3,{},,140007,,受講者,,".format("名" * 81), "氏名は80文字以内"),
    ("nul-1,名\x00前,,140007,,受講者,,", "NUL"),
    ("nul\x00id,名前,,140007,,受講者,,", "NUL"),
    ("big-1,{},,140007,,受講者,,".format("x" * 140_000), "128KB"),
    ("code-1,名前,,{},,受講者,,".format("1" * 40), "所属コードは6文字以内"),
])
def test_roster_rows_the_database_would_refuse_are_refused_in_the_preview(app, make_user, runner, tmp_path, row, message):
    admin = make_user(Role.ADMIN)
    client = app.test_client()
    client.post("/auth/login", data={"login_id": admin.login_id, "password": PASSWORD})
    data = f"{HEADER}\r\n{row}\r\n".encode("utf-8")
    import io

    response = client.post("/admin/roster", data={"file": (io.BytesIO(data), "roster.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    path = tmp_path / "roster.csv"
    path.write_bytes(data)
    result = runner.invoke(args=["roster", "import", str(path)])
    assert result.exit_code != 0 and message in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_a_municipality_list_with_a_huge_cell_is_refused(app, make_user, runner, tmp_path):
    import io

    admin = make_user(Role.ADMIN)
    client = app.test_client()
    client.post("/auth/login", data={"login_id": admin.login_id, "password": PASSWORD})
    data = ("団体コード,都道府県名,市区町村名\r\n142051,神奈川県," + "藤" * 140_000 + "\r\n").encode("utf-8")
    response = client.post("/admin/orgs/import", data={"file": (io.BytesIO(data), "m.csv")}, content_type="multipart/form-data")
    assert response.status_code == 422 and "128KB" in response.get_data(as_text=True)
    path = tmp_path / "m.csv"
    path.write_bytes(data)
    result = runner.invoke(args=["org", "import", str(path)])
    assert result.exit_code != 0 and "128KB" in result.output
    long_name = ("団体コード,都道府県名,市区町村名\r\n142051,神奈川県," + "藤" * 121 + "\r\n").encode("utf-8")
    response = client.post("/admin/orgs/import", data={"file": (io.BytesIO(long_name), "m.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 422 and "120文字以内" in response.get_data(as_text=True)


@pytest.mark.parametrize("args,message", [
    (["user", "create", "nul\x00id", "--name", "名前", "--org", "140007", "--password", "Lantern-river-83"], "ログインID"),
    (["user", "create", "cli-long", "--name", "名" * 81, "--org", "140007", "--password", "Lantern-river-83"], "80文字以内"),
    (["user", "create", "cli-nul", "--name", "名\x00前", "--org", "140007", "--password", "Lantern-river-83"], "制御文字"),
    (["user", "create", "cli-org", "--name", "名前", "--org", "14\x00007", "--password", "Lantern-river-83"], "団体コード"),
    (["user", "create", "cli-org2", "--name", "名前", "--org", HUGE, "--password", "Lantern-river-83"], "団体コード"),
    (["user", "reset-password", "nul\x00id"], "登録されていません"),
    (["user", "reset-password", "x" * 500], "登録されていません"),
])
def test_the_cli_refuses_the_same_values(app, runner, args, message):
    result = runner.invoke(args=args)
    assert result.exit_code != 0 and message in result.output, result.output
