"""The roster import on a phone-sized screen (issue 17.4): the sample file, the 5-digit code hint and rows
marked in words in the preview, the confirmed import with its initial passwords, the CSV and the printable
slips, closing the passwords; no sideways scrolling, 44 px targets, no serious accessibility problems."""
from __future__ import annotations

import uuid
from pathlib import Path

from tests.e2e.conftest import axe_violations

HEADER = "ログインID,氏名,ふりがな,所属コード,事業所名,役割,メールアドレス,初期パスワード"


def roster_file(tmp_path, *rows: str):
    path = tmp_path / "名簿.csv"
    path.write_bytes(("\r\n".join((HEADER, *rows)) + "\r\n").encode("utf-8-sig"))
    return str(path)


WIDE = """[...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > 361
  && !e.closest('.table-wrap')).slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + e.textContent.slice(0, 40))"""


def fits_and_passes(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, page.evaluate(WIDE)
    found = axe_violations(page)
    assert found == [], [(v["id"], [n["html"][:120] for n in v["nodes"]]) for v in found]


def test_roster_import_on_a_phone(page, live_server, login_as, screenshot, tmp_path):
    login_as("demo-admin")
    page.goto(f"{live_server}/admin/roster")
    sample = page.get_by_role("link", name="記入例のファイル（CSV）をダウンロードする")
    assert sample.bounding_box()["height"] >= 44
    fits_and_passes(page)

    tag = uuid.uuid4().hex[:6]
    page.get_by_label("名簿ファイル（CSV）").set_input_files(roster_file(
        tmp_path, f"ok-{tag},確認 太郎,,142051,,,,", f"five-{tag},五桁 花子,,14205,,,,"))
    page.get_by_role("button", name="内容を確認する").click()
    page.wait_for_load_state("networkidle")
    body = page.locator("main").inner_text()
    assert "✔ OK" in body and "✖ 取り込めません" in body
    assert "「142051 神奈川県 藤沢市」のことですか" in body or ("142051" in body and "藤沢市」のことですか" in body)
    assert page.get_by_role("button", name="この内容で取り込む").count() == 0
    screenshot("admin-roster-preview-360")
    fits_and_passes(page)

    page.get_by_label("名簿ファイル（CSV）").set_input_files(roster_file(
        tmp_path, f"ok-{tag},確認 太郎,,142051,,,,", f"two-{tag},確認 花子,,142051,,,,"))
    page.get_by_role("button", name="内容を確認する").click()
    page.wait_for_load_state("networkidle")
    page.get_by_role("button", name="この内容で取り込む").click()
    page.wait_for_load_state("networkidle")
    assert "2件のアカウントを作成しました" in page.locator("main").inner_text()
    assert page.locator("main code").count() == 2
    for name in ("初期パスワードの一覧（CSV）をダウンロードする", "配布用の票（印刷用）を開く"):
        assert page.get_by_role("link", name=name).bounding_box()["height"] >= 44
    close = page.get_by_role("button", name="初期パスワードの表示を終える")
    assert close.bounding_box()["height"] >= 44
    screenshot("admin-roster-done-360")
    fits_and_passes(page)

    with page.expect_download() as download:
        page.get_by_role("link", name="初期パスワードの一覧（CSV）をダウンロードする").click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert f"ok-{tag}" in text and f"two-{tag}" in text

    page.get_by_role("link", name="配布用の票（印刷用）を開く").click()
    page.wait_for_load_state("networkidle")
    assert page.locator(".slip").count() == 2
    screenshot("admin-roster-slips-360")
    fits_and_passes(page)

    page.get_by_role("link", name="取り込み結果へ戻る").click()  # the job page: still the passwords (same browser)
    page.wait_for_load_state("networkidle")
    assert page.locator("main code").count() == 2
    page.get_by_role("button", name="初期パスワードの表示を終える").click()
    page.wait_for_load_state("networkidle")
    assert "もう表示されません" in page.locator("body").inner_text()
