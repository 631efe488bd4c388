"""Participants' live-room flows on a phone (360 px): from the top page or the login page to a
workshop with a code typed in full width and with a hyphen; a latecomer to a closed question is told
so and follows when the next one opens; the wall's consent box is a full-size target; axe finds no
serious issue on these pages."""
from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import E2E_PASSWORD, SCREENSHOTS, axe_violations
from trainer.dates import utcnow
from trainer.extensions import db
from trainer.models import LiveSession, Module
from trainer.services import accounts, live, orgs, player, workshops

PHONE = {"locale": "ja-JP", "timezone_id": "Asia/Tokyo", "viewport": {"width": 360, "height": 780}}
FULL_WIDTH = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", "ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ０１２３４５６７８９－")


@pytest.fixture(scope="module")
def workshop(e2e_app):
    with e2e_app.app_context():
        org = orgs.by_code("140007")
        if not accounts.login_exists("e2e-late"):
            accounts.create_user(login_id="e2e-late", display_name="遅刻 さん", organization=org,
                                 password=E2E_PASSWORD, roles=["trainee"])
        fac = accounts.find_by_login("demo-facilitator")
        data = workshops.WorkshopInput(title="参加コードの研修会（スマホ）", starts_at=utcnow() - timedelta(hours=1),
                                       ends_at=utcnow() + timedelta(hours=3), venue="公民館", online=False,
                                       module_ids=["m-case-01"], participants="e2e-late")
        ws = workshops.create(fac, data)
        session = live.start(ws, "m-case-01", fac)
        pages = player.pages(db.session.get(Module, "m-case-01"))
        singles = [p.index for p in pages if p.question is not None and p.question.type == "single"]
        db.session.commit()
        return {"code": ws.join_code, "session": session.id, "singles": singles}


def _set(e2e_app, sid: int, page: int, *actions: str) -> None:
    with e2e_app.app_context():
        session = db.session.get(LiveSession, sid)
        live.change(session, "goto", page)
        for action in actions:
            db.session.refresh(session)
            live.change(session, action)
        db.session.commit()


@pytest.mark.parametrize("start", ["/", "/auth/login"])
def test_join_entry_and_a_full_width_hyphenated_code_on_a_phone(browser, live_server, workshop, start):
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    page.goto(live_server + start)
    entry = page.get_by_role("link", name="参加コードを入力")
    expect(entry).to_be_visible()
    box = entry.bounding_box()
    assert box is not None and box["height"] >= 44 and box["x"] + box["width"] <= 360
    assert axe_violations(page) == []
    entry.click()
    code = workshop["code"]
    typed = f"{code[:4]}-{code[4:]}".translate(FULL_WIDTH)  # what a phone's Japanese keyboard gives
    page.get_by_label("参加コード（8文字、例: ABCD-EFGH）").fill(typed)
    page.get_by_role("button", name="次へ").click()
    expect(page.get_by_role("heading", name="参加コードの研修会（スマホ）")).to_be_visible()
    expect(page.get_by_role("heading", name="はじめての方（その場で登録）")).to_be_visible()
    assert page.url.endswith(f"/join/{code}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert axe_violations(page) == []
    ctx.close()


def test_a_latecomer_to_a_closed_question_is_told_so_and_follows_the_next(browser, e2e_app, live_server, workshop):
    first, second = workshop["singles"][:2]
    _set(e2e_app, workshop["session"], first, "open", "close")
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    page.goto(f"{live_server}/auth/login")
    page.get_by_label("ログインID").fill("e2e-late")
    page.get_by_label("パスワード").fill(E2E_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.goto(f"{live_server}/live/{workshop['session']}")
    expect(page.get_by_text("この問いの回答は締め切られました")).to_be_visible()
    expect(page.get_by_text("受付を始めるまでお待ちください")).to_have_count(0)
    expect(page.get_by_role("button", name="回答する")).to_have_count(0)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "live-latecomer-closed-360.png"), full_page=True)
    assert axe_violations(page) == []
    _set(e2e_app, workshop["session"], second, "open")
    expect(page.get_by_role("button", name="回答する")).to_be_visible(timeout=3000)  # follows without a reload
    expect(page.get_by_text("この問いの回答は締め切られました")).to_have_count(0)
    ctx.close()
