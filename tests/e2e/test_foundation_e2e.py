"""Each demo role logs in with a real browser and reaches a home page that makes sense."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import axe_violations

HOMES = [
    ("demo-trainee", "/learn/", "学習ホーム"),
    ("demo-facilitator", "/facilitate/", "研修会の運営"),
    ("demo-reviewer", "/review/", "受講状況の確認"),
    ("demo-admin", "/admin/", "管理"),
]


def test_login_page_is_japanese_and_accessible(page, live_server, screenshot):
    page.goto(f"{live_server}/auth/login")
    assert page.locator("html").get_attribute("lang") == "ja"
    assert page.get_by_role("heading", name="ログイン").is_visible()
    screenshot("login-360")
    assert axe_violations(page) == []


def test_wrong_password_shows_generic_message(page, login_as):
    login_as("demo-trainee", "not-the-password")
    assert page.get_by_role("alert").inner_text().find("ログインIDまたはパスワードが正しくありません") >= 0


@pytest.mark.parametrize("login_id,path,heading", HOMES)
def test_each_role_reaches_its_home(page, live_server, login_as, screenshot, login_id, path, heading):
    login_as(login_id)
    assert page.url == f"{live_server}{path}"
    assert page.get_by_role("heading", level=1).inner_text().startswith(heading)
    assert page.get_by_role("heading", name="次にすること").is_visible()
    # nothing overflows a 360 px wide screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(f"home-{login_id}-360")
    assert axe_violations(page) == []


def test_keyboard_only_login(page, live_server):
    page.goto(f"{live_server}/auth/login")
    page.keyboard.press("Tab")  # skip link first
    assert page.evaluate("document.activeElement.textContent") == "本文へ移動"
    page.get_by_label("ログインID").focus()
    page.keyboard.type("demo-admin")
    page.keyboard.press("Tab")
    page.keyboard.type("e2e-password-123")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/admin/")
