"""A national viewer (demo-national, 国) with the synthetic population: the country by prefecture and
designated city on a phone and on a desktop screen, small jurisdictions withheld, a jurisdiction's
50 points, the mastery map and an export — nothing personal anywhere, no axe violations."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.e2e.conftest import axe_violations
from trainer.extensions import db
from trainer.models import AuditEvent
from trainer.services.spreadsheets import read_csv_table


@pytest.fixture(scope="module")
def population(e2e_app):
    """200 simulated trainees for this module only (removed afterwards: other browser tests share the app)."""
    from trainer.services import simulate

    with e2e_app.app_context():
        simulate.simulate(trainees=200, seed=3)
        db.session.commit()
    yield
    with e2e_app.app_context():
        simulate.remove()
        db.session.commit()


def _fits(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_national_viewer_sees_the_country_and_nothing_personal(page, live_server, login_as, screenshot, e2e_app,
                                                               population):
    login_as("demo-national")
    assert page.url == f"{live_server}/national/"
    assert page.get_by_role("heading", level=1).inner_text().startswith("全国の受講状況")
    table = page.get_by_role("region", name="都道府県・政令指定都市ごとの受講状況")
    tottori = table.get_by_role("row", name=re.compile("鳥取県"))
    assert "非表示（少人数のため" in tottori.inner_text()
    assert re.search(r"\d+人", table.get_by_role("row", name=re.compile("東京都")).inner_text())
    assert "sim-0" not in page.content() and "【模擬】受講者" not in page.content()
    _fits(page, 360)
    heights = page.eval_on_selector_all(".national-table tbody a", "els => els.map(e => e.getBoundingClientRect().height)")
    assert len(heights) == 67 and min(heights) >= 44  # every jurisdiction link is a comfortable target
    screenshot("national-home-360")
    assert axe_violations(page) == []

    page.get_by_label("コース").select_option(label="ハンドブック研修 基礎")
    page.get_by_role("button", name="表示する").click()
    page.wait_for_load_state("networkidle")
    assert "course=basic" in page.url
    assert page.get_by_role("columnheader", name=re.compile("ハンドブック研修 応用")).count() == 0

    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile(r"^CSV（UTF-8）\s*（全国の受講状況集計）$")).click()
    data = Path(info.value.path()).read_bytes()
    block, rows = read_csv_table(data)
    assert block["管轄"] == "全国" and block["コース"] == "ハンドブック研修 基礎"
    assert "sim-0" not in data.decode("utf-8-sig") and "受講者0" not in data.decode("utf-8-sig")
    assert any(r[2] == "鳥取県" and r[4] == "" for r in rows[1:])

    table = page.get_by_role("region", name="都道府県・政令指定都市ごとの受講状況")
    table.get_by_role("link", name="東京都").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("heading", level=1).inner_text().startswith("東京都")
    assert page.get_by_role("table").first.is_visible()
    _fits(page, 360)
    screenshot("national-jurisdiction-360")
    assert axe_violations(page) == []

    page.get_by_role("link", name="全国の習熟マップ").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("heading", level=1).inner_text().startswith("全国の習熟マップ")
    _fits(page, 360)
    screenshot("national-mastery-360")
    assert axe_violations(page) == []

    with e2e_app.app_context():
        actions = list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.actor_label == "demo-national")))
    assert "national.export" in actions


def test_national_pages_at_desktop_width_and_by_keyboard(page, live_server, login_as, screenshot, population):
    page.set_viewport_size({"width": 1280, "height": 900})
    login_as("demo-national")
    for path, name in (("/national/", "home"), ("/national/mastery", "mastery")):
        page.goto(f"{live_server}{path}")
        _fits(page, 1280)
        screenshot(f"national-{name}-1280")
        assert axe_violations(page) == []
    page.goto(f"{live_server}/national/")
    link = page.get_by_role("link", name="全国の習熟マップ")
    box = link.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44  # a comfortable target in the tab bar
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/national/mastery")
    assert page.get_by_role("heading", level=1).inner_text().startswith("全国の習熟マップ")
    # a trainee's URL from the reviewers' area is closed to the national viewer
    assert page.goto(f"{live_server}/review/").status == 403
