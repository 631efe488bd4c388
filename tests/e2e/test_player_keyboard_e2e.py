"""The player with the keyboard only, and a submit that fails on the network and is sent again."""
from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import func, select

from tests.e2e.conftest import E2E_PASSWORD
from trainer.extensions import db
from trainer.models import Answer, Attempt
from trainer.services import accounts, orgs


def _trainee(app, login_id: str) -> None:
    with app.app_context():
        if not accounts.login_exists(login_id):
            accounts.create_user(login_id=login_id, display_name="鍵盤 操作", organization=orgs.by_code("140007"),
                                 password=E2E_PASSWORD, roles=["trainee"])
            db.session.commit()


def _answers(app, login_id: str) -> int:
    with app.app_context():
        user = accounts.find_by_login(login_id)
        return db.session.scalar(select(func.count()).select_from(Answer).join(Attempt, Attempt.id == Answer.attempt_id)
                                 .where(Attempt.user_id == user.id))


def _first_choice_page(page, live_server):
    """Move on (with the keyboard) until a page with radio buttons is shown."""
    for _ in range(10):
        if page.locator("input[type=radio][name=choice]").count():
            return
        if page.locator("input[type=radio]").count():  # a self-rating: rate every point with the keyboard
            names = page.eval_on_selector_all("input[type=radio]", "els => [...new Set(els.map(e => e.name))]")
            for name in names:
                page.locator(f"input[type=radio][name='{name}']").first.focus()
                page.keyboard.press("Space")
            page.get_by_role("button", name="回答する").focus()
            page.keyboard.press("Enter")
            page.wait_for_selector("#feedback")
        before = page.url.split("#")[0]
        page.locator("form.next-form button").focus()
        page.keyboard.press("Enter")
        page.wait_for_url(lambda url: url.split("#")[0] != before)  # the next page is swapped in (no load)
        page.wait_for_load_state("networkidle")
    raise AssertionError("no single-choice page found")


def test_keyboard_only_answer_and_retry_after_a_network_failure(page, e2e_app, live_server, login_as):
    _trainee(e2e_app, "e2e-keys")
    login_as("e2e-keys")
    page.goto(f"{live_server}/learn/modules/m-case-02")
    page.get_by_role("button", name="始める").focus()
    page.keyboard.press("Enter")
    page.wait_for_load_state("networkidle")
    _first_choice_page(page, live_server)
    before = _answers(e2e_app, "e2e-keys")
    radios = page.locator("input[type=radio][name=choice]")
    radios.first.focus()
    page.keyboard.press("ArrowDown")  # moves to and selects the second choice
    expect(radios.nth(1)).to_be_checked()
    page.route("**/answer", lambda route: route.abort())  # the venue Wi-Fi drops the request
    page.get_by_role("button", name="回答する").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text("送信できませんでした")).to_be_visible()
    expect(radios.nth(1)).to_be_checked()                    # the choice is kept
    assert _answers(e2e_app, "e2e-keys") == before
    page.unroute("**/answer")
    page.get_by_role("button", name="回答する").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#feedback")).to_be_visible()
    expect(page.locator("#feedback")).to_be_focused()         # feedback receives focus for screen readers
    assert _answers(e2e_app, "e2e-keys") == before + 1
