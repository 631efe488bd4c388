"""The facilitator's pages on a phone-sized screen: readable, no sideways scrolling, no serious
accessibility problems."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.e2e.conftest import axe_violations
from trainer.extensions import db
from trainer.dates import utcnow
from trainer.services import accounts, live, workshops


@pytest.fixture(scope="module")
def workshop_ids(e2e_app):
    with e2e_app.app_context():
        fac = accounts.find_by_login("demo-facilitator")
        data = workshops.WorkshopInput(title="画面確認の研修会", starts_at=utcnow() - timedelta(hours=1),
                                       ends_at=utcnow() + timedelta(hours=2), venue="市役所 会議室", online=False,
                                       module_ids=["m-case-01", "m-values"], participants="demo-trainee")
        ws = workshops.create(fac, data)
        session = live.start(ws, "m-case-01", fac)
        db.session.commit()
        return ws.id, session.id


@pytest.mark.parametrize("name,path", [
    ("facilitate-home", "/facilitate/"),
    ("facilitate-new", "/facilitate/workshops/new"),
    ("facilitate-workshop", "/facilitate/workshops/{w}"),
    ("facilitate-control", "/facilitate/live/{s}"),
    ("facilitate-dashboard", "/facilitate/workshops/{w}/dashboard"),
    ("facilitate-debrief", "/facilitate/live/{s}/debrief"),
])
def test_facilitator_page_on_a_phone(page, live_server, login_as, screenshot, workshop_ids, name, path):
    login_as("demo-facilitator")
    page.goto(live_server + path.format(w=workshop_ids[0], s=workshop_ids[1]))
    assert page.locator("h1").first.is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(f"{name}-360")
    found = axe_violations(page)
    assert found == [], [(v["id"], [n["html"][:120] for n in v["nodes"]]) for v in found]
