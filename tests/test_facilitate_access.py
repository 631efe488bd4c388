"""Who may reach the workshop, live and join routes. Two workshops, each with its own facilitator
and participant: nothing of one is reachable by the people of the other."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import PASSWORD
from trainer.extensions import db
from trainer.models import Role
from trainer.dates import utcnow

VISITORS = ("anonymous", "trainee1", "trainee2", "fac1", "fac2", "reviewer", "admin")


def row(anonymous, trainee1, trainee2, fac1, fac2, reviewer, admin):
    return dict(zip(VISITORS, (anonymous, trainee1, trainee2, fac1, fac2, reviewer, admin)))


OWNED = row(302, 403, 403, 200, 404, 403, 403)
OWNED_POST = row(302, 403, 403, 302, 404, 403, 403)

AREA_MATRIX = [
    ("GET", "/facilitate/", row(302, 403, 403, 200, 200, 403, 403)),
    ("GET", "/facilitate/workshops/new", row(302, 403, 403, 200, 200, 403, 403)),
    ("POST", "/facilitate/workshops/new", row(302, 403, 403, 200, 200, 403, 403)),
    ("GET", "/facilitate/workshops/{w}", OWNED),
    ("POST", "/facilitate/workshops/{w}/participants", OWNED_POST),
    ("POST", "/facilitate/workshops/{w}/walk-ins", OWNED_POST),
    ("POST", "/facilitate/workshops/{w}/registration", OWNED_POST),
    ("GET", "/facilitate/workshops/{w}/join-screen", OWNED),
    ("GET", "/facilitate/workshops/{w}/qr.svg", OWNED),
    ("POST", "/facilitate/workshops/{w}/live", OWNED_POST),
    ("GET", "/facilitate/workshops/{w}/dashboard", OWNED),
    ("GET", "/facilitate/cohort?w={w}", OWNED),
    ("GET", "/facilitate/workshops/{w}/record.csv", OWNED),
    ("GET", "/facilitate/workshops/{w}/record.xlsx", OWNED),
    ("GET", "/facilitate/live/{s}", OWNED),
    ("GET", "/facilitate/live/{s}/projector", OWNED),
    ("GET", "/facilitate/live/{s}/stats.json", OWNED),
    ("POST", "/facilitate/live/{s}/action", OWNED_POST),
    ("GET", "/facilitate/live/{s}/end", OWNED),
    ("POST", "/facilitate/live/{s}/resume", OWNED_POST),
    ("POST", "/facilitate/live/{s}/wall/{a}", OWNED_POST),
    ("GET", "/facilitate/live/{s}/debrief", OWNED),
    ("GET", "/live/{s}", row(302, 200, 404, 403, 403, 403, 403)),
    ("GET", "/live/{s}/state", row(404, 200, 404, 404, 404, 404, 404)),
    ("GET", "/live/{s}/panel", row(302, 200, 404, 403, 403, 403, 403)),
    ("POST", "/live/{s}/answer", row(302, 422, 404, 403, 403, 403, 403)),
    ("GET", "/learn/workshops", row(302, 200, 200, 403, 403, 403, 403)),
    ("GET", "/join", row(200, 200, 200, 200, 200, 200, 200)),
    ("POST", "/join", row(302, 302, 302, 302, 302, 302, 302)),
    ("GET", "/join/{code}", row(200, 200, 200, 200, 200, 200, 200)),
    ("POST", "/join/{code}", row(200, 302, 302, 302, 302, 302, 302)),
]


@pytest.fixture(scope="module")
def world(app, tmp_path_factory):
    from tests.conftest import _empty_all_tables, import_fixture_content
    from trainer.services import accounts, live, orgs, workshops

    with app.app_context():
        _empty_all_tables()
        orgs.seed_jurisdictions()
        import_fixture_content(tmp_path_factory.mktemp("content"))
        org = orgs.by_code("140007")
        users = {}
        for login, roles in [("trainee1", [Role.TRAINEE]), ("trainee2", [Role.TRAINEE]), ("fac1", [Role.FACILITATOR]),
                             ("fac2", [Role.FACILITATOR]), ("reviewer", [Role.REVIEWER]), ("admin", [Role.ADMIN])]:
            users[login] = accounts.create_user(login_id=login, display_name=login, organization=org, password=PASSWORD,
                                                roles=roles, reviewer_scope=org if Role.REVIEWER in roles else None)
        now = utcnow()

        def make(owner, participant, title):
            data = workshops.WorkshopInput(title=title, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=3),
                                           venue="会場", online=False, module_ids=["m-case-01"], participants=participant)
            return workshops.create(users[owner], data)

        w1, w2, w3 = make("fac1", "trainee1", "研修会1"), make("fac2", "trainee2", "研修会2"), make("fac2", "", "研修会3")
        s1 = live.start(w1, "m-case-01", users["fac1"])
        db.session.flush()
        from trainer.models import Module
        from trainer.services import player

        reflection = next(p.index for p in player.pages(db.session.get(Module, "m-case-01"))
                          if p.question is not None and p.question.type == "reflection")
        live.change(s1, "goto", reflection)
        live.change(s1, "open")
        db.session.refresh(s1)
        attempt = live.participant_attempt(s1, users["trainee1"])
        live.submit(s1, attempt, {"text": "家族の気持ちを受け止めたい"}, "tok", None)
        live.change(s1, "goto", 0)
        db.session.commit()
        from sqlalchemy import select

        from trainer.models import Answer

        answer_id = db.session.scalar(select(Answer.id).where(Answer.attempt_id == attempt.id))
        return {"w": w1.id, "s": s1.id, "a": answer_id, "code": w3.join_code}


@pytest.mark.parametrize("visitor", VISITORS)
@pytest.mark.parametrize("method,template,expected", AREA_MATRIX, ids=[f"{m} {t}" for m, t, _ in AREA_MATRIX])
def test_workshop_route_access(app, world, visitor, method, template, expected):
    client = app.test_client()
    if visitor != "anonymous":
        assert client.post("/auth/login", data={"login_id": visitor, "password": PASSWORD}).status_code == 302
    data = {"code": world["code"]} if template == "/join" else None
    response = client.open(template.format(**world), method=method, data=data)
    assert response.status_code == expected[visitor], (visitor, method, template)
