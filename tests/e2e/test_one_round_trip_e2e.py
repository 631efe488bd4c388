"""One answer = one request: the browser's own network log while a trainee answers and moves on."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.test_player_keyboard_e2e import _answers, _first_choice_page, _trainee


def _log(page) -> list:
    requests: list = []
    page.on("request", lambda r: requests.append(r))
    return requests


def test_an_answer_costs_one_request_and_no_document_load(page, e2e_app, live_server, login_as):
    _trainee(e2e_app, "e2e-trip")
    login_as("e2e-trip")
    page.goto(f"{live_server}/learn/modules/m-case-02")
    page.get_by_role("button", name="始める").click()
    page.wait_for_load_state("networkidle")
    _first_choice_page(page, live_server)
    page_url = page.url.split("#")[0]
    assert re.search(r"/learn/attempts/\d+/pages/\d+$", page_url)
    before = _answers(e2e_app, "e2e-trip")
    swapped = page.evaluate_handle("""() => { window.__swaps = 0;
        document.addEventListener('trainer:swapped', () => { window.__swaps += 1; }); return true; }""")
    assert swapped
    requests = _log(page)
    page.locator("input[type=radio][name=choice]").first.check()
    page.get_by_role("button", name="回答する").click()
    expect(page.locator("#feedback")).to_be_visible()
    page.wait_for_load_state("networkidle")
    documents = [r for r in requests if r.resource_type == "document"]
    fetches = [r for r in requests if r.resource_type in ("fetch", "xhr")]
    assert documents == [], [r.url for r in documents]
    assert len(requests) == 1 and len(fetches) == 1, [(r.resource_type, r.url) for r in requests]
    assert fetches[0].method == "POST" and fetches[0].url.endswith("/answer")
    assert _answers(e2e_app, "e2e-trip") == before + 1
    expect(page.locator("#feedback")).to_be_focused()
    assert page.url == page_url + "#feedback"
    assert page.evaluate("window.__swaps") == 1

    # 「次へ進む」: one request too, a new address in the history, and the back button returns here
    requests.clear()
    page.locator("form.next-form button").click()
    page.wait_for_function("() => !location.hash && window.__swaps === 2")
    page.wait_for_load_state("networkidle")
    assert [r.resource_type for r in requests] == ["fetch"], [(r.resource_type, r.url) for r in requests]
    next_url = page.url
    assert next_url != page_url and re.search(r"/pages/\d+$", next_url)
    assert page.evaluate("document.activeElement !== document.body")
    page.go_back()
    page.wait_for_load_state("networkidle")
    assert page.url.split("#")[0] == page_url
    expect(page.locator("#feedback")).to_be_visible()  # the answered page, from the server
    page.go_forward()
    page.wait_for_load_state("networkidle")
    assert page.url == next_url


def test_without_javascript_the_answer_posts_and_redirects(browser, e2e_app, live_server):
    _trainee(e2e_app, "e2e-nojs")
    context = browser.new_context(java_script_enabled=False, locale="ja-JP")
    page = context.new_page()
    try:
        page.goto(f"{live_server}/auth/login")
        page.get_by_label("ログインID").fill("e2e-nojs")
        page.get_by_label("パスワード").fill("e2e-password-123")
        page.get_by_role("button", name="ログイン").click()
        page.goto(f"{live_server}/learn/modules/m-case-02")
        with page.expect_navigation():
            page.get_by_role("button", name="始める").click()
        for _ in range(10):
            if page.locator("input[type=radio][name=choice]").count():
                break
            if page.locator("form.answer-form").count():
                names = page.eval_on_selector_all("input[type=radio]", "els => [...new Set(els.map(e => e.name))]")
                for name in names:
                    page.locator(f"input[type=radio][name='{name}']").first.check()
                with page.expect_navigation():  # without JS: wait for the next document, not the old one
                    page.get_by_role("button", name="回答する").click()
            with page.expect_navigation():
                page.locator("form.next-form button").click()
        before = _answers(e2e_app, "e2e-nojs")
        page.locator("input[type=radio][name=choice]").first.check()
        with page.expect_navigation():
            page.get_by_role("button", name="回答する").click()
        assert page.url.endswith("#feedback")
        expect(page.locator("#feedback")).to_be_visible()
        assert _answers(e2e_app, "e2e-nojs") == before + 1
    finally:
        context.close()


def test_a_live_answer_costs_one_request_and_no_document_load(page, e2e_app, live_server, login_as, midday):
    from datetime import datetime, time, timedelta

    from sqlalchemy import func, select

    from trainer.dates import JST
    from trainer.extensions import db
    from trainer.models import Answer, Attempt, Module
    from trainer.services import accounts, live, player, workshops

    _trainee(e2e_app, "e2e-live-trip")
    with e2e_app.app_context():
        facilitator = accounts.find_by_login("demo-facilitator")
        trainee = accounts.find_by_login("e2e-live-trip")
        begins = datetime.combine(midday, time(0), tzinfo=JST)
        workshop = workshops.create(facilitator, workshops.WorkshopInput(
            title="ライブ一往復", starts_at=begins, ends_at=begins + timedelta(hours=23, minutes=59), venue="会議室",
            online=False, module_ids=["m-case-01"]))
        workshops.join(workshop, trainee, via="invite")
        session = live.start(workshop, "m-case-01", facilitator)
        target = next(p.index for p in player.pages(db.session.get(Module, "m-case-01"))
                      if p.question is not None and p.question.type == "single")
        live.change(session, "goto", target)
        live.change(session, "open")
        session_id = session.id
        db.session.commit()

    def answers() -> int:
        with e2e_app.app_context():
            return db.session.scalar(select(func.count()).select_from(Answer).join(Attempt, Attempt.id == Answer.attempt_id)
                                     .where(Attempt.live_session_id == session_id))

    login_as("e2e-live-trip")
    page.goto(f"{live_server}/live/{session_id}")
    expect(page.get_by_role("button", name="回答する")).to_be_visible()
    page.locator(".choice input").first.check()
    requests = _log(page)
    page.get_by_role("button", name="回答する").click()
    expect(page.get_by_text("回答を送りました")).to_be_visible()
    answering = [r for r in requests if not r.url.endswith("/state") and "/panel" not in r.url]
    assert [(r.resource_type, r.method) for r in answering] == [("fetch", "POST")], [(r.resource_type, r.url) for r in answering]
    assert answering[0].headers.get("x-trainer-swap") == "1"
    assert [r for r in requests if r.resource_type == "document"] == []
    assert answers() == 1


def test_a_503_is_retried_once_after_retry_after_and_stores_the_answer_once(page, e2e_app, live_server, login_as):
    _trainee(e2e_app, "e2e-retry")
    login_as("e2e-retry")
    page.goto(f"{live_server}/learn/modules/m-case-02")
    page.get_by_role("button", name="始める").click()
    page.wait_for_load_state("networkidle")
    _first_choice_page(page, live_server)
    before = _answers(e2e_app, "e2e-retry")
    refused: list = []

    def busy_once(route):
        if not refused:
            refused.append(route.request.url)
            route.fulfill(status=503, headers={"Retry-After": "1"}, body="busy")
        else:
            route.continue_()

    page.route("**/answer", busy_once)
    requests = _log(page)
    page.locator("input[type=radio][name=choice]").nth(1).check()
    page.get_by_role("button", name="回答する").click()
    expect(page.locator("#feedback")).to_be_visible(timeout=5000)
    expect(page.locator("#feedback")).to_be_focused()
    posts = [r for r in requests if r.method == "POST"]
    assert len(refused) == 1 and len(posts) == 2  # the refused one and its single retry
    tokens = [re.search(r'name="token"\r\n\r\n(\w+)', p.post_data).group(1) for p in posts]
    assert tokens[0] == tokens[1]  # the same form, the same token
    assert _answers(e2e_app, "e2e-retry") == before + 1
    page.unroute("**/answer")
