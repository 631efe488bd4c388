"""The role x route matrix: every route, every kind of visitor."""
from __future__ import annotations

import pytest

from trainer.models import OrgKind, Role

ANON, TRAINEE, FACILITATOR, REVIEWER, ADMIN = "anonymous", "trainee", "facilitator", "reviewer", "admin"
VISITORS = (ANON, TRAINEE, FACILITATOR, REVIEWER, ADMIN)

#: (method, path template, expected status per visitor). 302 for anonymous = sent to the login page.
MATRIX = [
    ("GET", "/", {ANON: 200, TRAINEE: 302, FACILITATOR: 302, REVIEWER: 302, ADMIN: 302}),
    ("GET", "/healthz", dict.fromkeys(VISITORS, 200)),
    ("GET", "/auth/login", {ANON: 200, TRAINEE: 302, FACILITATOR: 302, REVIEWER: 302, ADMIN: 302}),
    ("GET", "/auth/password", {ANON: 302, TRAINEE: 200, FACILITATOR: 200, REVIEWER: 200, ADMIN: 200}),
    ("GET", "/home", {ANON: 302, TRAINEE: 302, FACILITATOR: 302, REVIEWER: 302, ADMIN: 302}),
    ("GET", "/learn/", {ANON: 302, TRAINEE: 200, FACILITATOR: 403, REVIEWER: 403, ADMIN: 403}),
    ("GET", "/facilitate/", {ANON: 302, TRAINEE: 403, FACILITATOR: 200, REVIEWER: 403, ADMIN: 403}),
    ("GET", "/review/", {ANON: 302, TRAINEE: 403, FACILITATOR: 403, REVIEWER: 200, ADMIN: 403}),
    ("GET", "/admin/", {ANON: 302, TRAINEE: 403, FACILITATOR: 403, REVIEWER: 403, ADMIN: 200}),
    ("GET", "/admin/orgs", {ANON: 302, TRAINEE: 403, FACILITATOR: 403, REVIEWER: 403, ADMIN: 200}),
    ("GET", "/admin/orgs/{org}", {ANON: 302, TRAINEE: 403, FACILITATOR: 403, REVIEWER: 403, ADMIN: 200}),
    ("GET", "/admin/orgs/{org}/users/new", {ANON: 302, TRAINEE: 403, FACILITATOR: 403, REVIEWER: 403, ADMIN: 200}),
    ("GET", "/admin/users", {ANON: 302, TRAINEE: 403, FACILITATOR: 403, REVIEWER: 403, ADMIN: 200}),
    ("GET", "/admin/users/{user}", {ANON: 302, TRAINEE: 403, FACILITATOR: 403, REVIEWER: 403, ADMIN: 200}),
    ("GET", "/admin/roster", {ANON: 302, TRAINEE: 403, FACILITATOR: 403, REVIEWER: 403, ADMIN: 200}),
    ("GET", "/admin/audit", {ANON: 302, TRAINEE: 403, FACILITATOR: 403, REVIEWER: 403, ADMIN: 200}),
    ("POST", "/admin/orgs/import", {ANON: 302, TRAINEE: 403, FACILITATOR: 403, REVIEWER: 403, ADMIN: 302}),
    ("POST", "/admin/orgs/{org}/programme", {ANON: 302, TRAINEE: 403, FACILITATOR: 403, REVIEWER: 403, ADMIN: 302}),
    ("POST", "/admin/orgs/{org}/offices", {ANON: 302, TRAINEE: 403, FACILITATOR: 403, REVIEWER: 403, ADMIN: 302}),
    ("POST", "/admin/users/{user}/roles", {ANON: 302, TRAINEE: 403, FACILITATOR: 403, REVIEWER: 403, ADMIN: 302}),
    ("POST", "/admin/users/{user}/password", {ANON: 302, TRAINEE: 403, FACILITATOR: 403, REVIEWER: 403, ADMIN: 302}),
    ("POST", "/admin/users/{user}/active", {ANON: 302, TRAINEE: 403, FACILITATOR: 403, REVIEWER: 403, ADMIN: 302}),
    ("POST", "/admin/roster/confirm", {ANON: 302, TRAINEE: 403, FACILITATOR: 403, REVIEWER: 403, ADMIN: 400}),
    ("POST", "/auth/login", {ANON: 200, TRAINEE: 302, FACILITATOR: 302, REVIEWER: 302, ADMIN: 302}),
    ("POST", "/auth/password", {ANON: 302, TRAINEE: 200, FACILITATOR: 200, REVIEWER: 200, ADMIN: 200}),
    ("POST", "/admin/roster", {ANON: 302, TRAINEE: 403, FACILITATOR: 403, REVIEWER: 403, ADMIN: 200}),
    ("POST", "/admin/orgs/{org}/users/new", {ANON: 302, TRAINEE: 403, FACILITATOR: 403, REVIEWER: 403, ADMIN: 200}),
    ("POST", "/auth/logout", {ANON: 302, TRAINEE: 302, FACILITATOR: 302, REVIEWER: 302, ADMIN: 302}),
]

ROLE_OF = {TRAINEE: Role.TRAINEE, FACILITATOR: Role.FACILITATOR, REVIEWER: Role.REVIEWER, ADMIN: Role.ADMIN}


@pytest.mark.parametrize("visitor", VISITORS)
@pytest.mark.parametrize("method,template,expected", MATRIX, ids=[f"{m} {t}" for m, t, _ in MATRIX])
def test_route_access(client, make_user, make_org, login, visitor, method, template, expected):
    org = make_org("藤沢市", code="142051")
    target = make_user(Role.TRAINEE, org=org, login_id="target-user")
    if visitor != ANON:
        assert login(make_user(ROLE_OF[visitor], login_id=f"{visitor}-1")).status_code == 302
    path = template.format(org=org.id, user=target.id)
    response = client.open(path, method=method)
    assert response.status_code == expected[visitor], f"{visitor} {method} {path}"
    if response.status_code == 302 and visitor == ANON and path not in ("/", "/auth/logout"):
        assert "/auth/login" in response.headers["Location"]


def test_every_route_is_in_the_matrix(app):
    """A new route must be added to the matrix above."""
    adapter = app.url_map.bind("localhost")
    covered = {(adapter.match(t.format(org=1, user=1), method=m)[0], m) for m, t, _ in MATRIX}
    routes = {(rule.endpoint, method) for rule in app.url_map.iter_rules() if rule.endpoint != "static"
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes - covered == set()


def test_unknown_ids_are_404_for_admin(client, make_user, login):
    login(make_user(Role.ADMIN))
    assert client.get("/admin/users/999999").status_code == 404
    assert client.get("/admin/orgs/999999").status_code == 404


def test_office_kind_has_no_office_form(client, make_user, make_org, login):
    city = make_org("藤沢市", code="142051")
    office = make_org("相談窓口", city, kind=OrgKind.OFFICE)
    login(make_user(Role.ADMIN))
    assert client.post(f"/admin/orgs/{office.id}/offices", data={"name": "x", "office_type": "その他"}).status_code == 400
