"""Who may reach the roster job pages (progress, initial passwords as CSV and slips, closing) and the
sample file: administrators only; the passwords only for the administrator who confirmed the import,
from the browser that confirmed it (tests/test_roster_jobs.py checks that half with a real import)."""
from __future__ import annotations

import pytest

from tests.conftest import PASSWORD

VISITORS = ("anonymous", "trainee", "facilitator", "reviewer", "admin", "admin2")


def row(anonymous, trainee, facilitator, reviewer, admin, admin2):
    return dict(zip(VISITORS, (anonymous, trainee, facilitator, reviewer, admin, admin2)))


AREA_MATRIX = [
    ("GET", "/admin/roster/sample.csv", row(302, 403, 403, 403, 200, 200)),
    ("GET", "/admin/roster/jobs/{job}", row(302, 403, 403, 403, 200, 200)),
    # a fresh sign-in has no confirmation token in its session: no passwords, even for the importer
    ("GET", "/admin/roster/jobs/{job}/passwords.csv", row(302, 403, 403, 403, 404, 404)),
    ("GET", "/admin/roster/jobs/{job}/slips", row(302, 403, 403, 403, 404, 404)),
    ("POST", "/admin/roster/jobs/{job}/close", row(302, 403, 403, 403, 302, 403)),
    ("GET", "/admin/roster/jobs/999999", row(302, 403, 403, 403, 404, 404)),
]


@pytest.fixture(scope="module")
def world(app):
    from tests.conftest import _empty_all_tables
    from trainer.extensions import db
    from trainer.models import Role
    from trainer.services import accounts, orgs, roster
    from tests.test_roster import csv_bytes

    with app.app_context():
        _empty_all_tables()
        orgs.seed_jurisdictions()
        pref = orgs.by_code("140007")
        roles = {"trainee": Role.TRAINEE, "facilitator": Role.FACILITATOR, "reviewer": Role.REVIEWER,
                 "admin": Role.ADMIN, "admin2": Role.ADMIN}
        users = {v: accounts.create_user(login_id=f"{v}-r", display_name=v, organization=pref, password=PASSWORD,
                                         roles=[r], reviewer_scope=pref if r == Role.REVIEWER else None)
                 for v, r in roles.items()}
        db.session.commit()
        preview = roster.parse_roster(csv_bytes("matrix-1,名簿 一郎,,140007,,,,"))
        record, _ = roster.apply_roster(preview, actor=users["admin"], token="m" * 32)
        db.session.commit()
        from trainer.services import roster_jobs

        return {"job": roster_jobs.job_of(record).id}


@pytest.mark.parametrize("visitor", VISITORS)
@pytest.mark.parametrize("method,template,expected", AREA_MATRIX, ids=[f"{m} {t}" for m, t, _ in AREA_MATRIX])
def test_roster_route_access(app, world, visitor, method, template, expected):
    client = app.test_client()
    if visitor != "anonymous":
        assert client.post("/auth/login", data={"login_id": f"{visitor}-r", "password": PASSWORD}).status_code == 302
    response = client.open(template.format(**world), method=method)
    assert response.status_code == expected[visitor], f"{visitor} {method} {template}"
