"""Suppression survives subtraction: two permitted views can never be subtracted to describe fewer
than 5 people's point-level state (services/disclosure, services/mastery_report). Each test is an
attack that worked before: municipality minus one of its offices; "until D" minus "until D-1"; a
combined cohort of workshops minus one of them."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import PASSWORD
from tests.test_review_access import WorldBuilder
from trainer.dates import JST, utcnow
from trainer.extensions import db
from trainer.models import Organization, Role
from trainer.services import disclosure, mastery_report, orgs, review
from trainer.services.spreadsheets import read_csv_table


@pytest.fixture
def town(app, small_content):
    """神奈川県: 港町 (6 who practised: 5 in its office, 1 in the town hall) and 山町 (6)."""
    with app.app_context():
        w = WorldBuilder(PASSWORD)
        port = w.org("港町", "140007", code="149991")
        office = orgs.create_office(port, "港町相談窓口", "相談窓口")
        hill = w.org("山町", "140007", code="149992")
        start = utcnow() - timedelta(days=200)
        people = {"office": [w.user(f"窓口{i}", office) for i in range(5)], "hall": [w.user("役場の一人", port)],
                  "hill": [w.user(f"山{i}", hill) for i in range(6)]}
        for group in people.values():
            for n, user in enumerate(group):
                w.attempt(user, "m-values", start + timedelta(hours=n), start + timedelta(hours=n, minutes=30), 80.0)
        w.user("審査 一郎", orgs.by_code("140007"), Role.REVIEWER, scope=orgs.by_code("140007"))
        db.session.commit()
        return {"port": port.id, "office": office.id, "hill": hill.id, "scope": orgs.by_code("140007").id,
                "lone": people["hall"][0].id}


def _mastery_rows(client, **query):
    _, rows = read_csv_table(client.get("/review/exports/mastery.csv", query_string=query).get_data())
    return rows


def _reviewer(app):
    client = app.test_client()
    assert client.post("/auth/login", data={"login_id": "rv-user-013", "password": PASSWORD}).status_code == 302
    return client


def test_municipality_minus_its_office_reveals_no_one(app, town):
    client = _reviewer(app)
    port = client.get("/review/mastery", query_string={"municipality": town["port"]}).get_data(as_text=True)
    assert "練習した受講者 6人" in port  # the town: 6 people, and 6 outside it in the prefecture
    office = client.get("/review/mastery", query_string={"organization": town["office"]}).get_data(as_text=True)
    assert "外側に残る受講者が5人未満" in office and "練習した受講者 5人" not in office
    rows = _mastery_rows(client, organization=town["office"])
    total = [r for r in rows[1:] if r[0] == "合計"]
    assert total and all(r[3] == "" and "表示しません" in r[-1] for r in total)  # 6 - 5 = the one in the town hall


def test_until_d_minus_until_d_before_reveals_no_one(app, town):
    """Five practised two months ago, one (the target) last month: the two windows must count alike."""
    with app.app_context():
        w = WorldBuilder(PASSWORD)
        w.n = 50  # login IDs after the town's
        late = w.user("遅れて来た人", db.session.get(Organization, town["hill"]))
        last_month = (utcnow().astimezone(JST).replace(day=1) - timedelta(days=20))
        w.attempt(late, "m-case-01", last_month, last_month + timedelta(minutes=40), 10.0, answer_score=0.0)
        db.session.commit()
        scope = review.load_scope(town["scope"])
        until_d = last_month.date()
        before = until_d.replace(day=1) - timedelta(days=1)
        early = mastery_report.mastery_report(scope, review.Filters(until=before), 5)
        later = mastery_report.mastery_report(scope, review.Filters(until=until_d), 5)
    assert early.period == later.period  # both widened to the same safe boundary
    assert early.total.answered == later.total.answered and early.total.secure == later.total.secure


def test_safe_cuts_need_enough_people_on_each_side():
    from datetime import date

    months = [(date(2025, m, 1), set(range(m * 10, m * 10 + n))) for m, n in [(4, 3), (5, 2), (6, 1), (7, 5), (8, 2)]]
    cuts = mastery_report._safe_cuts(months, 5)
    assert cuts == [date(2025, 6, 1)]  # Apr+May = 5 | Jun+Jul+Aug = 8 (Aug alone, 2, joins Jul)


@pytest.mark.parametrize("part,whole,ok", [(5, 10, True), (5, 9, False), (5, 5, True), (4, 20, False), (0, 3, False),
                                           (0, 0, True), (7, 12, True)])
def test_safe_part(part, whole, ok):
    assert disclosure.safe_part(part, whole, 5) is ok


def test_a_combined_cohort_minus_one_workshop_reveals_no_one(app, make_user, small_content, midday):
    """Workshop A has 5 people, B has 1: B alone is withheld, and so is A+B (A+B minus A = B)."""
    from tests.test_workshops import _answer_form, _pages

    fac = make_user(Role.FACILITATOR, login_id="fac-c")
    for i in range(6):
        make_user(Role.TRAINEE, login_id=f"co-{i}")
    facilitator = app.test_client()
    facilitator.post("/auth/login", data={"login_id": fac.login_id, "password": PASSWORD})
    ids = []
    for members in (["co-0", "co-1", "co-2", "co-3", "co-4"], ["co-5"]):
        created = facilitator.post("/facilitate/workshops/new", data={
            "title": f"研修会{len(ids)}", "day": midday.isoformat(), "start": "00:00", "end": "23:59",
            "modules": ["m-case-01"], "participants": " ".join(members)})
        wid = int(created.headers["Location"].rsplit("/", 1)[1])
        ids.append(wid)
        sid = int(facilitator.post(f"/facilitate/workshops/{wid}/live", data={"module_id": "m-case-01"})
                  .headers["Location"].rsplit("/", 1)[1])
        single = next(i for i, t, _ in _pages(app) if t == "single")
        data = next(d for i, t, d in _pages(app) if i == single)
        facilitator.post(f"/facilitate/live/{sid}/action", data={"action": "goto", "page": single})
        facilitator.post(f"/facilitate/live/{sid}/action", data={"action": "open"})
        for login in members:
            member = app.test_client()
            member.post("/auth/login", data={"login_id": login, "password": PASSWORD})
            member.get(f"/live/{sid}")
            member.post(f"/live/{sid}/answer", data={"token": login, **_answer_form("single", data)})
    alone = facilitator.get(f"/facilitate/workshops/{ids[0]}/dashboard").get_data(as_text=True)
    assert "弱い順" in alone  # 5 people: shown
    combined = facilitator.get("/facilitate/cohort", query_string=[("w", ids[0]), ("w", ids[1])]).get_data(as_text=True)
    assert "弱い順" not in combined and "5人未満" in combined
