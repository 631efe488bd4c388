"""The role x route matrix: every route, every kind of visitor."""
from __future__ import annotations

from collections import defaultdict

import pytest

from trainer.models import OrgKind, Role

ANON, TRAINEE, FACILITATOR, REVIEWER, ADMIN = "anonymous", "trainee", "facilitator", "reviewer", "admin"
VISITORS = (ANON, TRAINEE, FACILITATOR, REVIEWER, ADMIN)

#: (method, path template, expected status per visitor). 302 for anonymous = sent to the login page.
MATRIX = [
    ("GET", "/", {ANON: 200, TRAINEE: 302, FACILITATOR: 302, REVIEWER: 302, ADMIN: 302}),
    ("GET", "/healthz", dict.fromkeys(VISITORS, 200)),
    ("GET", "/readyz", dict.fromkeys(VISITORS, 200)),
    # /metrics: by network or bearer token, not by role (the test client comes from 127.0.0.1, allowed
    # by default; tests/test_observability.py checks other addresses and the token)
    ("GET", "/metrics", dict.fromkeys(VISITORS, 200)),
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
    ("POST", "/admin/users/{user}/confirm", {ANON: 302, TRAINEE: 403, FACILITATOR: 403, REVIEWER: 403, ADMIN: 302}),
    ("POST", "/admin/roster/confirm", {ANON: 302, TRAINEE: 403, FACILITATOR: 403, REVIEWER: 403, ADMIN: 400}),
    ("POST", "/auth/login", {ANON: 200, TRAINEE: 302, FACILITATOR: 302, REVIEWER: 302, ADMIN: 302}),
    ("POST", "/auth/password", {ANON: 302, TRAINEE: 200, FACILITATOR: 200, REVIEWER: 200, ADMIN: 200}),
    ("POST", "/admin/roster", {ANON: 302, TRAINEE: 403, FACILITATOR: 403, REVIEWER: 403, ADMIN: 200}),
    ("POST", "/admin/orgs/{org}/users/new", {ANON: 302, TRAINEE: 403, FACILITATOR: 403, REVIEWER: 403, ADMIN: 200}),
    ("GET", "/learn/modules", {ANON: 302, TRAINEE: 200, FACILITATOR: 403, REVIEWER: 403, ADMIN: 403}),
    ("GET", "/learn/modules/m-case-01", {ANON: 302, TRAINEE: 200, FACILITATOR: 403, REVIEWER: 403, ADMIN: 403}),
    ("POST", "/learn/modules/m-case-01/start", {ANON: 302, TRAINEE: 302, FACILITATOR: 403, REVIEWER: 403, ADMIN: 403}),
    # another trainee's attempt and certificate: not found for everyone but its owner
    ("GET", "/learn/attempts/{attempt}", {ANON: 302, TRAINEE: 404, FACILITATOR: 403, REVIEWER: 403, ADMIN: 403}),
    ("GET", "/learn/attempts/{attempt}/pages/0", {ANON: 302, TRAINEE: 404, FACILITATOR: 403, REVIEWER: 403, ADMIN: 403}),
    ("POST", "/learn/attempts/{attempt}/pages/0/answer", {ANON: 302, TRAINEE: 404, FACILITATOR: 403, REVIEWER: 403, ADMIN: 403}),
    ("POST", "/learn/attempts/{attempt}/pages/0/next", {ANON: 302, TRAINEE: 404, FACILITATOR: 403, REVIEWER: 403, ADMIN: 403}),
    ("GET", "/learn/attempts/{attempt}/done", {ANON: 302, TRAINEE: 404, FACILITATOR: 403, REVIEWER: 403, ADMIN: 403}),
    ("GET", "/learn/certificates/{code}.pdf", {ANON: 302, TRAINEE: 404, FACILITATOR: 403, REVIEWER: 403, ADMIN: 403}),
    ("GET", "/learn/progress", {ANON: 302, TRAINEE: 200, FACILITATOR: 403, REVIEWER: 403, ADMIN: 403}),
    ("GET", "/learn/points/P01", {ANON: 302, TRAINEE: 200, FACILITATOR: 403, REVIEWER: 403, ADMIN: 403}),
    ("POST", "/learn/opinions", {ANON: 302, TRAINEE: 302, FACILITATOR: 403, REVIEWER: 403, ADMIN: 403}),
    ("GET", "/learn/courses/basic", {ANON: 302, TRAINEE: 200, FACILITATOR: 403, REVIEWER: 403, ADMIN: 403}),
    ("POST", "/learn/courses/basic/certificate", {ANON: 302, TRAINEE: 302, FACILITATOR: 403, REVIEWER: 403, ADMIN: 403}),
    ("GET", "/verify", dict.fromkeys(VISITORS, 200)),
    ("GET", "/verify/{code}", dict.fromkeys(VISITORS, 200)),
    ("GET", "/admin/opinions", {ANON: 302, TRAINEE: 403, FACILITATOR: 403, REVIEWER: 403, ADMIN: 200}),
    ("GET", "/admin/opinions.csv", {ANON: 302, TRAINEE: 403, FACILITATOR: 403, REVIEWER: 403, ADMIN: 200}),
    ("POST", "/auth/logout", {ANON: 302, TRAINEE: 302, FACILITATOR: 302, REVIEWER: 302, ADMIN: 302}),
]

ROLE_OF = {TRAINEE: Role.TRAINEE, FACILITATOR: Role.FACILITATOR, REVIEWER: Role.REVIEWER, ADMIN: Role.ADMIN}


@pytest.fixture(scope="module")
def world(app, tmp_path_factory):
    """Built once for the matrix: an org, a target trainee with an attempt and a certificate, one
    account per visitor role, and the small content tree."""
    from tests.conftest import PASSWORD, _empty_all_tables, import_fixture_content
    from trainer.extensions import db
    from trainer.models import Organization
    from trainer.services import accounts, orgs

    with app.app_context():
        _empty_all_tables()
        orgs.seed_jurisdictions()
        import_fixture_content(tmp_path_factory.mktemp("content"))
        pref = orgs.by_code("140007")
        org = Organization(name="藤沢市", code="142051", kind="municipality", parent=pref, programme="none",
                           jurisdiction_id=pref.id)
        db.session.add(org)
        target = accounts.create_user(login_id="target-user", display_name="対象", organization=org,
                                      password=PASSWORD)
        for visitor, role in ROLE_OF.items():
            accounts.create_user(login_id=f"{visitor}-1", display_name=visitor, organization=org,
                                 password=PASSWORD, roles=[role], reviewer_scope=pref if role == Role.REVIEWER else None)
        db.session.commit()
        ids = {"org": org.id, "user": target.id}
    attempt_id, code = _attempt_and_certificate(app, target)
    return {**ids, "attempt": attempt_id, "code": code}


@pytest.mark.parametrize("visitor", VISITORS)
@pytest.mark.parametrize("method,template,expected", MATRIX, ids=[f"{m} {t}" for m, t, _ in MATRIX])
def test_route_access(app, world, visitor, method, template, expected):
    from tests.conftest import PASSWORD

    client = app.test_client()
    if visitor != ANON:
        response = client.post("/auth/login", data={"login_id": f"{visitor}-1", "password": PASSWORD})
        assert response.status_code == 302
    path = template.format(**world)
    response = client.open(path, method=method)
    assert response.status_code == expected[visitor], f"{visitor} {method} {path}"
    if response.status_code == 302 and visitor == ANON and path not in ("/", "/auth/logout"):
        assert "/auth/login" in response.headers["Location"]


def _attempt_and_certificate(app, user) -> tuple[int, str]:
    """An attempt and a certificate that belong to ``user``."""
    from trainer.extensions import db
    from trainer.models import Attempt, Certificate
    from trainer.dates import utcnow

    with app.app_context():
        attempt = Attempt(user_id=user.id, module_id="m-case-01")
        cert = Certificate(code="ABCD-EFGH-JKLM", user_id=user.id, course_id="basic", holder_name="x",
                           organization_name="y", course_title="z", points=["P01"], completed_on=utcnow())
        db.session.add_all([attempt, cert])
        db.session.commit()
        return attempt.id, cert.code


def _all_matrices() -> list[tuple[str, str, dict]]:
    """This matrix plus the per-area ones (tests/test_*_access.py define AREA_MATRIX)."""
    import importlib
    from pathlib import Path

    rows = list(MATRIX)
    for path in sorted(Path(__file__).parent.glob("test_*_access.py")):
        rows += getattr(importlib.import_module(f"tests.{path.stem}"), "AREA_MATRIX", [])
    return rows


def test_every_route_is_in_the_matrix(app):
    """A new route must be added to a matrix: this one or an area's AREA_MATRIX."""
    adapter = app.url_map.bind("localhost")
    placeholders = defaultdict(lambda: "1", code="X", module="m", course="c", token="t", kind="k")
    covered = {(adapter.match(t.format_map(placeholders).split("?")[0], method=m)[0], m) for m, t, _ in _all_matrices()}
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
