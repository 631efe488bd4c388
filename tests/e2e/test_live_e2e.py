"""One facilitator and three participants run a live question end to end in real browsers: the
participants follow without reloading, one reloads mid-question, the projector counts and reveals."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import E2E_PASSWORD, axe_violations
from trainer.extensions import db
from trainer.models import Module
from trainer.services import accounts, orgs, player

PHONE = {"locale": "ja-JP", "timezone_id": "Asia/Tokyo", "viewport": {"width": 360, "height": 780}}


def _login(page, live_server, login_id):
    page.goto(f"{live_server}/auth/login")
    page.get_by_label("ログインID").fill(login_id)
    page.get_by_label("パスワード").fill(E2E_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_load_state("networkidle")


def _first_single_page(app) -> int:
    with app.app_context():
        pages = player.pages(db.session.get(Module, "m-case-01"))
        return next(p.index for p in pages if p.question is not None and p.question.type == "single")


def test_live_question_end_to_end(browser, e2e_app, live_server, screenshot, midday):
    with e2e_app.app_context():
        org = orgs.by_code("140007")
        if not accounts.login_exists("e2e-live-2"):
            accounts.create_user(login_id="e2e-live-2", display_name="参加 二郎", organization=org,
                                 password=E2E_PASSWORD, roles=["trainee"])
            db.session.commit()
    fac_ctx = browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo", viewport={"width": 1280, "height": 900})
    fac = fac_ctx.new_page()
    _login(fac, live_server, "demo-facilitator")
    fac.goto(f"{live_server}/facilitate/workshops/new")
    fac.get_by_label("研修会の名前").fill("ライブ研修会（ブラウザ試験）")
    fac.get_by_label("開催日").fill(midday.isoformat())
    fac.get_by_label("開始時刻").fill("00:00")
    fac.get_by_label("終了時刻").fill("23:59")
    fac.get_by_label("会場（オンラインの場合は接続方法など）").fill("市役所 3階 会議室")
    fac.locator("input[name=modules][value=m-case-01]").check()
    fac.get_by_label("招待する参加者のログインID（任意・1行に1人）").fill("demo-trainee")
    fac.get_by_role("button", name="研修会を作成する").click()
    code = fac.locator(".stats .code").inner_text().strip()
    fac.get_by_role("link", name="参加コードを映す").click()
    expect(fac.locator(".join-screen__code")).to_have_text(code)
    screenshot_page(fac, "join-screen")
    fac.go_back()
    fac.get_by_role("button", name="ライブで進行する").click()
    control_url = fac.url

    phones = [browser.new_context(**PHONE) for _ in range(3)]
    p1, p2, p3 = (ctx.new_page() for ctx in phones)
    _login(p1, live_server, "demo-trainee")                       # invited
    _login(p2, live_server, "e2e-live-2")                         # joins with the code
    p2.goto(f"{live_server}/join")
    p2.get_by_label("参加コード（8文字、例: ABCD-EFGH）").fill(code.lower())  # shown as ABCD-EFGH; typed in lower case
    p2.get_by_role("button", name="次へ").click()
    p2.get_by_role("button", name="この研修会に参加する").click()
    p3.goto(f"{live_server}/join/{code}")                          # registers at the venue
    p3.get_by_label("氏名").fill("来場 三子")
    p3.get_by_label("所属").select_option(label="神奈川県 横須賀市")
    p3.get_by_label("パスワード（10文字以上）").fill("walk-in-pass-9")
    p3.get_by_label("パスワード（確認）").fill("walk-in-pass-9")
    p3.get_by_role("button", name="登録して参加する").click()
    for p in (p1, p2, p3):
        p.goto(f"{live_server}/learn/workshops")
        section = p.locator("section.panel", has_text="ライブ研修会（ブラウザ試験）")
        section.get_by_role("link", name="ライブに参加する").first.click()
        expect(p.locator("#live-panel")).to_be_visible()

    target = _first_single_page(e2e_app)
    fac.goto(control_url)
    fac.get_by_label("ページ").select_option(str(target))
    fac.get_by_role("button", name="移動する").click()
    for p in (p1, p2, p3):  # they follow within 2 seconds, without reloading
        expect(p.get_by_text(f"{target + 1} / ", exact=False).first).to_be_visible(timeout=2500)
    fac.get_by_role("button", name="回答を受け付ける").click()
    for p in (p1, p2, p3):
        expect(p.get_by_role("button", name="回答する")).to_be_visible(timeout=2500)
    screenshot_page(p1, "live-participant-open")
    assert axe_violations(p1) == []

    p1.locator(".choice input").first.check()
    p1.get_by_role("button", name="回答する").click()
    expect(p1.get_by_text("回答を送りました")).to_be_visible()
    p2.locator(".choice input").nth(1).check()
    p2.reload()                                                     # a reload mid-question
    expect(p2.get_by_role("button", name="回答する")).to_be_visible()
    p2.locator(".choice input").nth(1).check()
    p2.get_by_role("button", name="回答する").click()
    expect(p2.get_by_text("回答を送りました")).to_be_visible()
    p3.locator(".choice input").nth(2).check()
    p3.get_by_role("button", name="回答する").click()

    projector = fac_ctx.new_page()
    projector.goto(control_url + "/projector")
    expect(projector.locator("[data-stat=answered]")).to_have_text("3", timeout=3000)
    screenshot_page(projector, "live-projector-counts")
    assert axe_violations(projector) == []
    fac.goto(control_url)
    fac.get_by_role("button", name="解説を表示する").click()
    for p in (p1, p2, p3):
        expect(p.get_by_role("heading", name="解説")).to_be_visible(timeout=2500)
    expect(projector.get_by_text("最適").first).to_be_visible(timeout=3000)
    screenshot_page(p1, "live-participant-revealed")
    screenshot_page(projector, "live-projector-revealed")
    for ctx in (*phones, fac_ctx):
        ctx.close()


def screenshot_page(page, name):
    from tests.e2e.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
