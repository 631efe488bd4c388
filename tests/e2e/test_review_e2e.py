"""A prefecture official (demo-reviewer, 神奈川県) on a phone-sized screen: filters the home table,
drills down to a municipality and a trainee, opens the mastery map and downloads an export — and
never sees the designated city 横浜市, which is its own jurisdiction."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.e2e.conftest import E2E_PASSWORD, axe_violations
from trainer.extensions import db
from trainer.models import AuditEvent
from trainer.services.spreadsheets import read_csv_table

YOKOHAMA_NAME = "横浜 区民"


@pytest.fixture(scope="session")
def review_data(e2e_app):
    """Trainees with progress in 藤沢市, 鎌倉市 and 横浜市中区 (created once per session)."""
    from tests.test_review_access import WorldBuilder
    from trainer.services import accounts, orgs

    with e2e_app.app_context():
        if accounts.login_exists("rv-user-001"):
            return _names(e2e_app)
        builder = WorldBuilder(E2E_PASSWORD)
        fujisawa, kamakura, naka = orgs.by_code("142051"), orgs.by_code("142042"), orgs.by_code("141046")
        when = datetime(2025, 2, 1, 1, tzinfo=timezone.utc)
        completer = builder.user("藤沢 修了子", fujisawa, furigana="ふじさわ しゅうりょうこ")
        builder.complete_course(completer, "basic", when)
        for n in range(1, 6):
            person = builder.user(f"藤沢 受講{n}", fujisawa, furigana=f"ふじさわ じゅこう{n}")
            builder.attempt(person, "m-values", when - timedelta(days=n), when - timedelta(days=n) + timedelta(hours=1), 80.0)
        for n in range(1, 3):
            builder.attempt(builder.user(f"鎌倉 受講{n}", kamakura), "m-values", when, when + timedelta(hours=1), 90.0)
        builder.complete_course(builder.user(YOKOHAMA_NAME, naka), "basic", when)
        db.session.commit()
    return _names(e2e_app)


def _names(app) -> dict:
    from trainer.models import Certificate, User

    with app.app_context():
        cert = db.session.scalar(select(Certificate).join(User, User.id == Certificate.user_id)
                                 .where(User.display_name == "藤沢 修了子"))
        return {"code": cert.code}


def _audit_actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.actor_label == "demo-reviewer")))


def _fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_reviewer_filters_drills_down_and_exports(page, live_server, login_as, screenshot, e2e_app, review_data):
    login_as("demo-reviewer")
    assert page.url == f"{live_server}/review/"
    assert YOKOHAMA_NAME not in page.content() and "横浜市中区" not in page.content()
    _fits(page)
    screenshot("review-home-360")
    assert axe_violations(page) == []

    page.get_by_label("市区町村", exact=True).select_option(label="藤沢市")
    page.get_by_label("コース").select_option(label="ハンドブック研修 基礎")
    page.get_by_role("button", name="表示する").click()
    page.wait_for_load_state("networkidle")
    table = page.get_by_role("region", name="市区町村ごとの受講状況")
    fujisawa = table.get_by_role("link", name=re.compile(r"受講者と記録\s*（藤沢市）"))
    assert fujisawa.is_visible()
    assert table.get_by_role("link", name=re.compile("鎌倉市")).count() == 0
    screenshot("review-home-filtered-360")

    fujisawa.click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("heading", level=1).inner_text().startswith("藤沢市")
    assert page.get_by_role("link", name="藤沢 修了子").is_visible()
    _fits(page)
    screenshot("review-municipality-360")
    assert axe_violations(page) == []

    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile(r"^CSV（UTF-8）\s*（コース修了記録）$")).click()
    data = Path(info.value.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    block, rows = read_csv_table(data)
    assert block["市区町村"] == "藤沢市" and "藤沢市" in info.value.suggested_filename
    assert rows[0][:5] == ["団体コード", "市区町村", "所属", "受講者ID", "氏名"]
    done = [r for r in rows if r[4] == "藤沢 修了子"]
    assert done and done[0][7] == "修了" and done[0][11] == "令和7年2月1日" and done[0][13] == review_data["code"]
    assert YOKOHAMA_NAME not in data.decode("utf-8-sig")

    page.get_by_role("link", name="藤沢 修了子").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_text(review_data["code"]).is_visible()
    assert page.get_by_text("2025-02-01（令和7年2月1日）").first.is_visible()
    _fits(page)
    screenshot("review-trainee-360")
    assert axe_violations(page) == []

    page.goto(f"{live_server}/review/mastery")
    assert page.get_by_role("heading", level=1).inner_text().startswith("支援のポイントの習熟マップ")
    _fits(page)
    screenshot("review-mastery-360")
    assert axe_violations(page) == []

    actions = _audit_actions(e2e_app)
    assert {"review.list.view", "review.export", "review.record.view"} <= set(actions)


def test_reviewer_cannot_reach_the_designated_city(page, live_server, login_as, e2e_app, review_data):
    from trainer.services import orgs

    with e2e_app.app_context():
        naka = orgs.by_code("141046").id
    login_as("demo-reviewer")
    response = page.goto(f"{live_server}/review/municipalities/{naka}")
    assert response.status == 404
    assert page.get_by_role("heading", name="ページが見つかりません").is_visible()
