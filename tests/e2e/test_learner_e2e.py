"""A trainee finishes a course in a real browser on a phone-sized screen: resume after logout, a
double-clicked submit stored once, the certificate PDF, and an anonymous visitor verifying it."""
from __future__ import annotations

import re
import subprocess

import pytest
from sqlalchemy import func, select

from tests.e2e.conftest import axe_violations
from trainer.extensions import db
from trainer.models import Answer, Attempt, Course
from trainer.services import accounts, answering, player

BEST = None  # marker


def _best_form(version) -> dict:
    data = version.data
    if version.type == "single":
        return {"choice": next(c["id"] for c in data["choices"] if c["rating"] == "best")}
    if version.type == "multiple":
        return {"choices": [c["id"] for c in data["choices"] if c["rating"] == "best"]}
    if version.type == "ordering":
        return {"order": list(data["order"])}
    if version.type == "reflection":
        return {"text": "本人のペースを大切にしたい。"}
    return {"ratings": {p: "4" for p in data["points"]}}


def _complete_by_service(app, login_id: str, module_id: str) -> None:
    """Other modules of the course, completed through the same service the player uses."""
    with app.app_context():
        user = accounts.find_by_login(login_id)
        module = db.session.get(player.Module, module_id)
        attempt = player.start(user, module)
        for page in player.pages(module):
            if page.question is not None:
                version = page.question.current_version
                answering.submit(attempt, page.question, _best_form(version), f"svc-{module_id}-{page.index}")
        player.finish_if_complete(attempt, module)
        db.session.commit()


def _current_question(app, login_id: str):
    """The question on the trainee's current page (read from the server's database)."""
    with app.app_context():
        user = accounts.find_by_login(login_id)
        attempt = db.session.scalar(select(Attempt).where(Attempt.user_id == user.id, Attempt.module_id == "m-values")
                                    .order_by(Attempt.number.desc()))
        page = player.pages(attempt.module)[attempt.position]
        return attempt.id, (page.question.current_version if page.question else None)


def _answer_in_browser(page, version) -> None:
    data = version.data
    if version.type == "single":
        best = next(c for c in data["choices"] if c["rating"] == "best")
        page.get_by_label(best["text"], exact=True).check()
    elif version.type == "multiple":
        for c in data["choices"]:
            if c["rating"] == "best":
                page.get_by_label(c["text"], exact=True).check()
    elif version.type == "ordering":
        for rank, cid in enumerate(data["order"], start=1):
            page.locator(f"#rank-{cid}").select_option(str(rank))
    elif version.type == "reflection":
        page.get_by_label("あなたの考え").fill("家族のこれまでを労い、本人のペースを尊重したいと思います。")
    else:
        for p in data["points"]:
            page.locator(f"#rating-{p}-4").check()


def test_trainee_finishes_a_course(page, browser, e2e_app, live_server, login_as, screenshot):
    with e2e_app.app_context():
        modules = db.session.get(Course, "basic").module_ids
    for module_id in modules:
        if module_id != "m-values":
            _complete_by_service(e2e_app, "demo-trainee", module_id)
    login_as("demo-trainee")
    page.goto(f"{live_server}/learn/modules/m-values")
    page.get_by_role("button", name="始める").click()
    steps, double_clicked, logged_out = 0, False, False
    while "/done" not in page.url:
        steps += 1
        assert steps < 80, "the module did not end"
        attempt_id, version = _current_question(e2e_app, "demo-trainee")
        if version is not None:
            if steps == 2:
                screenshot("player-question-360")
                assert axe_violations(page) == []
            _answer_in_browser(page, version)
            submit = page.get_by_role("button", name="回答する")
            if version.type == "single" and not double_clicked:
                submit.dblclick()
                double_clicked = True
            else:
                submit.click()
            page.wait_for_selector("#feedback")
            if steps == 2:
                screenshot("player-feedback-360")
                assert axe_violations(page) == []
        if steps == 4 and not logged_out:  # log out halfway, come back, land on the same page
            before = page.locator("#progress-label").inner_text()
            page.get_by_role("button", name="ログアウト").click()
            login_as("demo-trainee")
            page.goto(f"{live_server}/learn/")
            page.get_by_role("button", name="続きから再開する").first.click()
            assert page.locator("#progress-label").inner_text() == before
            logged_out = True
        shown = page.url.split("#")[0]
        page.locator("form.next-form button").click()
        page.wait_for_url(lambda url: url.split("#")[0] != shown)  # the next page is swapped in (or /done opened)
        page.wait_for_load_state("networkidle")
    assert double_clicked and logged_out
    with e2e_app.app_context():
        counts = db.session.execute(select(Answer.question_id, func.count()).where(Answer.attempt_id == attempt_id)
                                    .group_by(Answer.question_id)).all()
    assert counts and all(n == 1 for _, n in counts)
    assert page.get_by_text("このモジュールに最後まで取り組みました").is_visible()
    page.goto(f"{live_server}/learn/progress")
    assert page.get_by_role("heading", name="50の支援のポイント 習熟マップ").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot("progress-360")
    assert axe_violations(page) == []
    page.goto(f"{live_server}/learn/courses/basic")
    page.get_by_role("button", name="修了証を発行する").click()
    code = re.search(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", page.get_by_role("status").first.inner_text() +
                     page.content()).group(0)
    with page.expect_download() as info:
        page.get_by_role("link", name="修了証（PDF）をダウンロード").click()
    pdf_path = info.value.path()
    text = subprocess.run(["pdftotext", str(pdf_path), "-"], capture_output=True, check=True).stdout.decode()
    assert "研修 花子" in text and code in text
    anonymous = browser.new_context(locale="ja-JP", viewport={"width": 360, "height": 780})
    visitor = anonymous.new_page()
    visitor.goto(f"{live_server}/verify")
    visitor.get_by_label("確認番号（例: ABCD-EFGH-JKLM）").fill(code)
    visitor.get_by_role("button", name="確認する").click()
    assert visitor.get_by_role("heading", name="この修了証は有効です").is_visible()
    assert visitor.get_by_text("研修 花子").is_visible()
    anonymous.close()
