"""Editor routes (教材担当): the role x route matrix, with the editor as a sixth kind of visitor.

An editor reaches /editor/ and their own account pages, nothing else; nobody else reaches /editor/.
Editors see opinions without their authors and figures without personal records.
"""
from __future__ import annotations

import pytest

from tests.test_access import ADMIN, ANON, FACILITATOR, REVIEWER, ROLE_OF, TRAINEE

EDITOR = "editor"
VISITORS = (ANON, TRAINEE, FACILITATOR, REVIEWER, ADMIN, EDITOR)
DENIED = {ANON: 302, TRAINEE: 403, FACILITATOR: 403, REVIEWER: 403, ADMIN: 403}
EDITOR_ONLY = {**DENIED, EDITOR: 200}

#: (method, path template, expected status per visitor), picked up by test_access's route check.
AREA_MATRIX = [
    ("GET", "/editor/", EDITOR_ONLY),
    ("GET", "/editor/points/P01", EDITOR_ONLY),
    ("GET", "/editor/cases/case-01", EDITOR_ONLY),
    ("GET", "/editor/points/P01/sheet", EDITOR_ONLY),
    ("GET", "/editor/cases/case-01/sheet", EDITOR_ONLY),
    *[("GET", f"/editor/{kind}/{target}/{what}.{fmt}", EDITOR_ONLY)
      for kind, target in (("points", "P01"), ("cases", "case-01")) for what in ("stats", "sheet")
      for fmt in ("csv", "xlsx")],
    ("GET", "/editor/questions/case-01-q1", EDITOR_ONLY),
    ("GET", "/editor/opinions", EDITOR_ONLY),
    ("POST", "/editor/opinions/{opinion}", {**DENIED, EDITOR: 302}),
    ("GET", "/learn/opinions", {ANON: 302, TRAINEE: 200, FACILITATOR: 403, REVIEWER: 403, ADMIN: 403, EDITOR: 403}),
]

#: The editor's reach outside their area: only their own account pages.
ELSEWHERE = [
    ("GET", "/learn/", 403), ("GET", "/facilitate/", 403), ("GET", "/review/", 403), ("GET", "/admin/", 403),
    ("GET", "/admin/opinions", 403), ("GET", "/admin/opinions.csv", 403), ("GET", "/review/mastery", 403),
    ("POST", "/learn/opinions", 403), ("GET", "/auth/password", 200), ("GET", "/home", 302),
]


@pytest.fixture(scope="module")
def world(app, tmp_path_factory):
    from tests.conftest import PASSWORD, _empty_all_tables, import_fixture_content
    from trainer.extensions import db
    from trainer.models import Role
    from trainer.services import accounts, opinions, orgs

    with app.app_context():
        _empty_all_tables()
        orgs.seed_jurisdictions()
        import_fixture_content(tmp_path_factory.mktemp("content"))
        pref = orgs.by_code("140007")
        roles = {**ROLE_OF, EDITOR: Role.EDITOR}
        users = {}
        for visitor, role in roles.items():
            users[visitor] = accounts.create_user(
                login_id=f"{visitor}-1", display_name=visitor, organization=pref, password=PASSWORD, roles=[role],
                reviewer_scope=pref if role == Role.REVIEWER else None)
        opinion = opinions.add(users[TRAINEE], "本文の表現について", point_id="P01")
        db.session.commit()
        return {"opinion": opinion.id}


def _client(app, visitor):
    from tests.conftest import PASSWORD

    client = app.test_client()
    if visitor != ANON:
        assert client.post("/auth/login", data={"login_id": f"{visitor}-1", "password": PASSWORD}).status_code == 302
    return client


@pytest.mark.parametrize("visitor", VISITORS)
@pytest.mark.parametrize("method,template,expected", AREA_MATRIX, ids=[f"{m} {t}" for m, t, _ in AREA_MATRIX])
def test_editor_route_access(app, world, visitor, method, template, expected):
    client = _client(app, visitor)
    path = template.format(**world)
    response = client.open(path, method=method)
    assert response.status_code == expected[visitor], f"{visitor} {method} {path}"
    if visitor == ANON:
        assert "/auth/login" in response.headers["Location"]


@pytest.mark.parametrize("method,path,expected", ELSEWHERE, ids=[f"{m} {p}" for m, p, _ in ELSEWHERE])
def test_the_editor_reaches_nothing_else(app, world, method, path, expected):
    response = _client(app, EDITOR).open(path, method=method)
    assert response.status_code == expected, f"{method} {path}"


def test_the_editor_home_is_the_editor_area(app, world):
    client = _client(app, EDITOR)
    assert client.get("/home").headers["Location"].endswith("/editor/")
    html = client.get("/editor/").get_data(as_text=True)
    assert "教材の改訂" in html and "受講状況の確認" not in html


def test_unknown_targets_are_404(app, world):
    client = _client(app, EDITOR)
    for path in ("/editor/points/P99", "/editor/cases/nope", "/editor/cases/nope/sheet", "/editor/points/P99/stats.csv",
                 "/editor/questions/nope", "/editor/opinions/999999", "/editor/modules/m-case-01"):
        method = "POST" if path.startswith("/editor/opinions/") else "GET"
        assert client.open(path, method=method).status_code == 404, path


def test_no_author_is_shown_to_the_editor(app, world):
    html = _client(app, EDITOR).get("/editor/opinions").get_data(as_text=True)
    assert "本文の表現について" in html and "trainee-1" not in html
    assert ">trainee<" not in html  # the author's display name
