"""Reviewer features on the three-jurisdiction world of test_review_access: figures and filters,
drill-down and records, mastery with small-group suppression, exports (CSV, XLSX, ZIP), audit."""
from __future__ import annotations

import csv
import html
import io
import re
import zipfile
from datetime import date

import pytest
from markupsafe import escape
from openpyxl import load_workbook

from tests.test_review_access import FORMULA_NAME, REFLECTION, _pdf_text, build_world, client_for
from trainer.extensions import db
from trainer.services.spreadsheets import read_csv_table
from trainer.services.wareki import to_wareki

UNITS_TABLE = re.compile(r'id="units-title".*?<tbody>(.*?)</tbody>', re.S)
PEOPLE_TABLE = re.compile(r'id="people-title".*?<tbody>(.*?)</tbody>', re.S)


@pytest.fixture(scope="module")
def rw(app, tmp_path_factory):
    """The world, plus an administrator; built once for this module (tests only add audit rows)."""
    from tests.conftest import PASSWORD, _empty_all_tables, import_fixture_content
    from trainer.models import Role
    from trainer.services import accounts, mastery_report, orgs

    with app.app_context():
        db.session.remove()
        _empty_all_tables()
        orgs.seed_jurisdictions()
        import_fixture_content(tmp_path_factory.mktemp("content"))
        world = build_world(PASSWORD)
        accounts.create_user(login_id="rv-admin", display_name="管理者", organization=orgs.by_code("140007"),
                             password=PASSWORD, roles=[Role.ADMIN])
        db.session.commit()
    yield world
    with app.app_context():
        db.session.remove()


@pytest.fixture
def kanagawa(app, rw):
    return client_for(app, rw["reviewers"]["kanagawa"])


def cells(row_html: str) -> list[str]:
    """Cell texts as a wide screen shows them (the phone-only copy of the rate left out)."""
    row_html = re.sub(r'<span class="review-narrow">.*?</span>', "", row_html)
    found = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row_html, re.S)
    return [re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", c))).strip() for c in found]


def screen_rows(body: str, pattern=UNITS_TABLE) -> list[list[str]]:
    tbody = pattern.search(body).group(1)
    return [cells(tr) for tr in re.findall(r"<tr>(.*?)</tr>", tbody, re.S)]


def read_csv(response) -> list[list[str]]:
    """As Excel in Japan opens it: the BOM says UTF-8, then RFC 4180; the table after the condition
    block (header row first)."""
    data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf")
    return read_csv_table(data)[1]


def csv_conditions(response) -> dict[str, str]:
    return read_csv_table(response.get_data())[0]


def csv_units(response) -> dict[str, list[str]]:
    rows = read_csv(response)[1:]
    return {r[2]: r for r in rows if r[0] not in ("実施事業別の計", "合計")}


# --- figures, filters, sorting --------------------------------------------------------------------

def test_home_figures_per_municipality_and_totals(kanagawa):
    units = csv_units(kanagawa.get("/review/exports/summary.csv"))
    # registered: active trainees only (not the deactivated one, not the facilitator); offices count for 藤沢市
    assert {k: (r[4], r[5], r[6], r[7], r[8]) for k, r in units.items()} == {
        "神奈川県": ("0", "0", "0", "", "0"),
        "横須賀市": ("5", "5", "0", "0.0", "5"),
        "鎌倉市": ("2", "2", "0", "0.0", "2"),
        "藤沢市": ("8", "8", "3", "37.5", "7"),
    }
    rows = read_csv(kanagawa.get("/review/exports/summary.csv"))
    total = next(r for r in rows if r[0] == "合計")
    assert total[4:9] == ["15", "15", "3", "20.0", "14"]
    programmes = {r[3]: r[4] for r in rows if r[0] == "実施事業別の計"}
    assert programmes == {"ひきこもり地域支援センター": "5", "ひきこもり支援ステーション": "8", "未実施": "2", "（設定なし）": "0"}


def test_period_counts_days_in_japan_time_across_the_era_change(kanagawa):
    """藤沢 一郎 completed at 23:30 on 30 April 2019 (JST), the formula-named trainee at 00:30 on 1 May."""
    heisei = csv_units(kanagawa.get("/review/exports/summary.csv", query_string={"since": "2019-04-01", "until": "2019-04-30"}))
    reiwa = csv_units(kanagawa.get("/review/exports/summary.csv", query_string={"since": "2019-05-01", "until": "2019-05-31"}))
    assert heisei["藤沢市"][6] == "1" and reiwa["藤沢市"][6] == "1"
    later = csv_units(kanagawa.get("/review/exports/summary.csv", query_string={"since": "2025-01-01", "until": "2025-12-31"}))
    # started in 2025: 二郎, 三郎, 四郎, 五郎 and both office trainees; completed 基礎 in 2025: one office trainee
    assert later["藤沢市"][4:7] == ["8", "6", "1"]
    before = csv_units(kanagawa.get("/review/exports/summary.csv", query_string={"until": "2018-12-31"}))
    assert before["藤沢市"][4:7] == ["0", "0", "0"]  # nobody was registered yet


@pytest.mark.parametrize("query,expected_units", [
    ({}, ["神奈川県", "横須賀市", "鎌倉市", "藤沢市"]),
    ({"municipality": "fujisawa"}, ["藤沢市"]),
    ({"organization": "office"}, ["藤沢市"]),
    ({"programme": "station"}, ["藤沢市"]),
    ({"programme": "none"}, ["鎌倉市"]),
    ({"sort": "registered", "dir": "desc"}, ["藤沢市", "横須賀市", "鎌倉市", "神奈川県"]),
    ({"sort": "rate-basic", "dir": "desc"}, ["藤沢市", "横須賀市", "鎌倉市", "神奈川県"]),
    ({"sort": "name"}, ["神奈川県", "鎌倉市", "藤沢市", "横須賀市"]),
    ({"sort": "code", "dir": "desc"}, ["藤沢市", "鎌倉市", "横須賀市", "神奈川県"]),
    ({"course": "values-only", "since": "2025-01-01"}, ["神奈川県", "横須賀市", "鎌倉市", "藤沢市"]),
])
def test_export_matches_the_screen_for_the_same_filters(kanagawa, rw, query, expected_units):
    query = {k: str(rw["ids"].get(v, v)) for k, v in query.items()}
    body = kanagawa.get("/review/", query_string=query).get_data(as_text=True)
    screen = screen_rows(body)
    exported = [r for r in read_csv(kanagawa.get("/review/exports/summary.csv", query_string=query))[1:]
                if r[0] not in ("実施事業別の計", "合計")]
    assert [r[1].split()[0] for r in screen] == [r[2] for r in exported] == expected_units
    for shown, row in zip(screen, exported):
        numbers = [c.rstrip("%").replace("—", "") for c in shown[3:-1]]
        assert numbers == row[4:-1], (shown, row)


def test_office_filter_counts_only_the_office(kanagawa, rw):
    units = csv_units(kanagawa.get("/review/exports/summary.csv", query_string={"organization": rw["ids"]["office"]}))
    assert list(units) == ["藤沢市"] and units["藤沢市"][4:7] == ["2", "2", "1"]


def test_course_filter_limits_columns_and_modules(kanagawa):
    rows = read_csv(kanagawa.get("/review/exports/summary.csv", query_string={"course": "values-only"}))
    assert [h for h in rows[0] if "修了者数" in h] == ["価値だけ 修了者数"]
    body = kanagawa.get("/review/", query_string={"course": "values-only"}).get_data(as_text=True)
    modules = re.search(r'id="modules-title".*?<tbody>(.*?)</tbody>', body, re.S).group(1)
    assert "3つの価値" in modules and "事例1" not in modules


@pytest.mark.parametrize("query,message", [
    ({"since": "2025-13-01"}, "開始日は 2025-04-01 のように"),
    ({"since": "2025-05-01", "until": "2025-04-01"}, "終了日は、開始日と同じ日かそれより後の日"),
    ({"course": "no-such-course"}, "コースは一覧から選んでください"),
    ({"programme": "bogus"}, "実施事業は一覧から選んでください"),
])
def test_bad_filters_are_explained_in_japanese(kanagawa, query, message):
    response = kanagawa.get("/review/", query_string=query)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert kanagawa.get("/review/exports/records.csv", query_string=query).status_code == 400


# --- drill-down and records -------------------------------------------------------------------------

def test_drill_down_lists_the_municipality_trainees(kanagawa, rw):
    body = kanagawa.get(f"/review/municipalities/{rw['ids']['fujisawa']}").get_data(as_text=True)
    names = [r[0] for r in screen_rows(body, PEOPLE_TABLE)]
    assert len(names) == 8 and "停止 中子" not in body and "進行 のみ" not in body
    assert names[0].startswith("藤沢 一郎") and "窓口 花子" in names[-1] + names[-2]
    assert "ふじさわ相談窓口" in body and REFLECTION not in body
    courses = read_csv(kanagawa.get("/review/exports/courses.csv", query_string={"municipality": rw["ids"]["fujisawa"]}))
    exported = [r[4].removeprefix("'") for r in courses[1:]]
    shown = [n.split(" ふじさわ")[0].removesuffix(" ん") for n in names]
    assert list(dict.fromkeys(exported)) == shown  # the same people, in the same order


def test_drill_down_pages(kanagawa, rw, monkeypatch):
    from trainer.review import routes

    monkeypatch.setattr(routes, "PER_PAGE", 3)
    url = f"/review/municipalities/{rw['ids']['fujisawa']}"
    first = screen_rows(kanagawa.get(url).get_data(as_text=True), PEOPLE_TABLE)
    third = screen_rows(kanagawa.get(url, query_string={"page": 3}).get_data(as_text=True), PEOPLE_TABLE)
    assert len(first) == 3 and len(third) == 2 and not {r[0] for r in first} & {r[0] for r in third}


def test_trainee_record_shows_dates_scores_and_certificates_but_no_answers(kanagawa, rw):
    body = kanagawa.get(f"/review/trainees/{rw['users']['fuji'][0]}").get_data(as_text=True)
    assert "2019-04-30（平成31年4月30日）" in body and rw["codes"]["heisei"] in body
    assert "80%" in body and "事例2 高齢の親と暮らす人" in body
    assert REFLECTION not in body and "choice" not in body
    formula = kanagawa.get(f"/review/trainees/{rw['users']['formula']}").get_data(as_text=True)
    assert "2019-05-01（令和元年5月1日）" in formula and str(escape(FORMULA_NAME)) in formula


def test_non_trainees_in_scope_have_no_record_page(app, kanagawa, rw):
    from trainer.services import accounts

    with app.app_context():
        facilitator = accounts.find_by_login("rv-user-017").id  # 「進行 のみ」
        reviewer = accounts.find_by_login(rw["reviewers"]["kanagawa"]).id
    assert kanagawa.get(f"/review/trainees/{facilitator}").status_code == 404
    assert kanagawa.get(f"/review/trainees/{reviewer}").status_code == 404
    # one rule for every reviewer route: a deactivated trainee is hidden from lists and exports, so
    # their record does not open by its id either (services/counted.py)
    assert kanagawa.get(f"/review/trainees/{rw['users']['stopped']}").status_code == 404


def test_sql_course_completion_agrees_with_the_progress_service(app, rw):
    """The reviewer's SQL figures use the same rule as a trainee's own course page."""
    from trainer.models import Course, User
    from trainer.services import progress, reports, review

    with app.app_context():
        scope = review.load_scope(rw["ids"]["kanagawa"])
        cat = review.catalogue()
        for unit in scope.units:
            for row in reports.trainee_rows(scope, review.Filters(), cat, unit.id):
                user = db.session.get(User, row.user_id)
                expected = {c.course.id: c.completed for c in progress.courses(user)}
                assert {s.course.id: s.completed for s in row.courses} == expected, user.display_name
                for state in row.courses:
                    if state.completed:
                        assert state.completed_on == progress.completion_date(user, db.session.get(Course, state.course.id))


@pytest.mark.parametrize("since,until", [(None, None), ("2019-04-01", "2019-04-30"), ("2019-05-01", None),
                                         (None, "2025-02-01"), ("2025-01-01", "2025-12-31"), ("2025-06-01", None)])
def test_one_pass_figures_agree_with_the_records(app, rw, since, until):
    """The home's one-pass SQL (figures) counts the same as the per-trainee records (reports)."""
    from trainer.services import figures, reports, review

    filters = review.Filters(since=since and date.fromisoformat(since), until=until and date.fromisoformat(until))
    start, end = filters.window()
    inside = lambda day: day is not None and (start is None or day >= start) and (end is None or day < end)  # noqa: E731
    with app.app_context():
        scope, cat = review.load_scope(rw["ids"]["kanagawa"]), review.catalogue()
        ov = figures.overview(scope, filters, cat)
        started: dict[str, int] = {}
        finished: dict[str, int] = {}
        passed: dict[str, int] = {}
        for row in ov.rows:
            people = list(reports.trainee_rows(scope, filters, cat, row.org.id))
            assert row.figures.registered == len(people)
            for course in ov.courses:
                done = [s for p in people for s in p.courses if s.course.id == course.id and s.completed]
                assert row.figures.completed[course.id] == sum(1 for s in done if inside(s.completed_on))
            for record in reports.record_rows(scope, filters, cat, row.org.id):
                started[record.module_id] = started.get(record.module_id, 0) + inside(record.first_started)
                finished[record.module_id] = finished.get(record.module_id, 0) + inside(record.first_finished)
                passed[record.module_id] = passed.get(record.module_id, 0) + inside(record.first_passed)
        assert {m.module.id: (m.started, m.finished, m.passed) for m in ov.modules if m.started or m.finished} == {
            k: (started[k], finished[k], passed[k]) for k in started if started[k] or finished[k]}
        retake = next(r for r in reports.record_rows(scope, review.Filters(), cat, rw["ids"]["fujisawa"])
                      if r.user_id == rw["users"]["fuji"][2])
        assert (retake.attempts, retake.best_score, retake.first_finished.astimezone(review.JST).day) == (2, 90.0, 5)
        assert retake.first_passed.astimezone(review.JST).month == 6  # 50% first, then 90% in June


# --- mastery and suppression ------------------------------------------------------------------------

def test_small_groups_are_suppressed_with_their_complement(kanagawa):
    rows = read_csv(kanagawa.get("/review/exports/mastery.csv"))
    by_unit = {}
    for r in rows[1:]:
        by_unit.setdefault(r[2], []).append(r)
    assert set(by_unit) == {"神奈川県 管内の計", "神奈川県", "横須賀市", "鎌倉市", "藤沢市"}
    assert all(len(v) == 50 for v in by_unit.values())
    for name in ("鎌倉市", "横須賀市"):  # 2 trainees; and 5, hidden too so that total - 藤沢市 reveals no one
        assert all(r[3] == "" and r[7:11] == ["", "", "", ""] and "5人未満" in r[11] for r in by_unit[name])
    assert by_unit["藤沢市"][0][3] == "8" and by_unit["神奈川県 管内の計"][0][3] == "15"
    body = kanagawa.get("/review/mastery").get_data(as_text=True)
    assert body.count("非表示（少人数のため") == 2


def test_a_small_selection_shows_no_point_figures(kanagawa, rw):
    body = kanagawa.get("/review/mastery", query_string={"organization": rw["ids"]["office"]}).get_data(as_text=True)
    assert "練習した受講者が5人未満のため、表示しません" in body and "定着 " not in body.split('id="map-title"')[1].split("</section>")[0].replace("定着の割合", "")
    rows = read_csv(kanagawa.get("/review/exports/mastery.csv", query_string={"organization": rw["ids"]["office"]}))
    assert all(r[7:11] == ["", "", "", ""] for r in rows[1:])


def test_minimum_group_size_is_configurable(app, kanagawa):
    app.config["REVIEW_MIN_GROUP_SIZE"] = 2
    try:
        rows = read_csv(kanagawa.get("/review/exports/mastery.csv"))
    finally:
        app.config.pop("REVIEW_MIN_GROUP_SIZE")
    kamakura = [r for r in rows[1:] if r[2] == "鎌倉市"]
    assert kamakura[0][3] == "2" and kamakura[0][7] != ""


@pytest.mark.parametrize("sizes,expected", [
    ({1: 8, 2: 2, 3: 5}, {2, 3}),
    ({1: 8, 2: 2, 3: 3}, {2, 3}),
    ({1: 8, 2: 9}, set()),
    ({1: 4}, {1}),
    ({1: 0, 2: 7}, set()),
])
def test_suppressed_groups(sizes, expected):
    from trainer.services.disclosure import suppressed_groups

    assert suppressed_groups(sizes, 5) == expected


def test_mastery_counts_follow_the_trainee_mastery_rule(app, rw):
    """Per point, the 定着/学習中 counts equal what each trainee's own map (services/mastery) says."""
    from trainer.services import mastery, mastery_report, review

    with app.app_context():
        scope = review.load_scope(rw["ids"]["kanagawa"])
        report = mastery_report.mastery_report(scope, review.Filters(municipality_id=rw["ids"]["fujisawa"]))
        expected: dict[str, list[int]] = {}
        for user_id in rw["users"]["fuji"] + [rw["users"]["formula"]] + rw["users"]["window"]:
            for point_id, (n, mean) in mastery.user_point_stats(user_id).items():
                state = mastery.classify(n, mean)
                expected.setdefault(point_id, [0, 0])[0 if state == "secure" else 1] += 1
        assert report.total.practised == 8
        got = {p: list(report.total.counts(p)[:2]) for p in report.total.answered}
        assert got == expected and any(v[0] for v in got.values()) and any(v[1] for v in got.values())


# --- export formats ---------------------------------------------------------------------------------

def test_csv_is_excel_ready_and_formula_safe(kanagawa, rw):
    response = kanagawa.get("/review/exports/records.csv")
    assert response.mimetype == "text/csv" and "filename*=UTF-8''" in response.headers["Content-Disposition"]
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf\xe8\xa1\xa8\xe9\xa1\x8c") and b"\r\n" in raw  # BOM, then 表題 (the conditions)
    assert b"\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"\xe9\x96\x8b\xe3\x81\x8f\"\")\"" in raw  # RFC 4180 quoting
    rows = read_csv(response)
    assert rows[0][:6] == ["団体コード", "市区町村", "所属", "受講者ID", "氏名", "ふりがな"]
    formula = [r for r in rows if r[3] == str(rw["users"]["formula"])]
    assert formula and all(r[4] == "'" + FORMULA_NAME for r in formula)
    finished = {(r[7], r[11], r[12]) for r in formula}
    assert ("事例2 高齢の親と暮らす人", "2019-05-01", "令和元年5月1日") in finished
    heisei = {(r[11], r[12]) for r in rows if r[3] == str(rw["users"]["fuji"][0]) and r[6] == "m-case-02"}
    assert heisei == {("2019-04-30", "平成31年4月30日")}
    assert all(not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in r) for r in rows)


@pytest.mark.parametrize("value,expected", [
    ("=1+2", "'=1+2"), ("+81 90", "'+81 90"), ("-3", "'-3"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("普通の名前", "普通の名前"), ('a,"b"', 'a,"b"'),
])
def test_csv_cells_round_trip_escaped(value, expected):
    from trainer.dates import utcnow
    from trainer.services.spreadsheets import Conditions, Table, csv_blocks

    conditions = Conditions("表", "管轄", [("条件", value)], utcnow())
    data = b"".join(csv_blocks(Table("t", ["見出し"], [[value]]), conditions))
    block, rows = read_csv_table(data)
    assert rows[1] == [expected] and block["条件"] == expected


def test_xlsx_contents_and_formula_text(kanagawa, rw):
    response = kanagawa.get("/review/exports/records.xlsx")
    assert response.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(response.get_data()))
    assert book.sheetnames == ["条件", "受講記録"]
    sheet = book["受講記録"]
    rows = list(sheet.iter_rows())
    assert [c.value for c in rows[0][:5]] == ["団体コード", "市区町村", "所属", "受講者ID", "氏名"]
    formula = [r for r in rows[1:] if r[3].value == rw["users"]["formula"]]
    assert formula and all(r[4].value == FORMULA_NAME and r[4].data_type == "s" for r in formula)
    done = next(r for r in formula if r[6].value == "m-case-02")
    assert done[11].is_date and done[11].value.date() == date(2019, 5, 1) and done[12].value == "令和元年5月1日"
    assert done[11].number_format == "yyyy-mm-dd"
    assert len(rows) - 1 == len(read_csv(kanagawa.get("/review/exports/records.csv"))) - 1
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == f"A1:{sheet.cell(1, sheet.max_column).column_letter}{len(rows)}"
    assert sheet.column_dimensions["E"].width >= 10  # names are not cut
    summary = load_workbook(io.BytesIO(kanagawa.get("/review/exports/summary.xlsx").get_data()))
    assert summary.sheetnames == ["条件", "市区町村別", "実施事業別の計", "合計", "モジュール別"]
    units = {r[1]: r for r in summary["市区町村別"].iter_rows(min_row=2, values_only=True)}
    assert units["藤沢市"][3:8] == (8, 8, 3, 37.5, 7)
    [total] = list(summary["合計"].iter_rows(min_row=2, values_only=True))
    assert total[1] == "神奈川県 管内の計" and total[3] == sum(u[3] for u in units.values())  # SUM works


def test_wareki_across_era_boundaries():
    assert to_wareki(date(2019, 4, 30)) == "平成31年4月30日"
    assert to_wareki(date(2019, 5, 1)) == "令和元年5月1日"
    assert to_wareki(date(2020, 1, 1)) == "令和2年1月1日"
    assert to_wareki(date(1989, 1, 7)) == "昭和64年1月7日" and to_wareki(date(1989, 1, 8)) == "平成元年1月8日"
    assert to_wareki(date(2025, 2, 1)) == "令和7年2月1日"


def test_a_large_export_streams_in_bounded_memory(app, kanagawa, monkeypatch):
    """100,000 rows go out block by block: the response is a generator and memory stays flat."""
    import tracemalloc
    from trainer.services import reports, spreadsheets

    with app.app_context():
        from trainer.services import orgs, review

        scope = review.load_scope(orgs.by_code("140007").id)
        unit = scope.units[1]
    produced = {"rows": 0}

    def many_rows(scope, filters, cat):
        from datetime import datetime, timezone

        when = datetime(2025, 2, 1, tzinfo=timezone.utc)
        for i in range(100_000):
            produced["rows"] += 1
            # reports.RECORD_LINE: user, name, furigana, org, module, title, mark, started, finished, passed,
            # best score, attempts, open attempt, last activity, seconds
            yield (i, f"受講者{i}", None, unit.id, "m-values", "3つの価値", 60, when, when, when, 80.0, 1, 0, when, 900)

    monkeypatch.setattr(reports, "all_record_lines", many_rows)
    response = kanagawa.get("/review/exports/records.csv")
    try:
        assert response.is_streamed
        assert produced["rows"] < 1_000  # at most the first block was produced before the body is read
        tracemalloc.start()
        total, blocks, largest = 0, 0, 0
        for block in response.response:
            total += len(block)
            blocks += 1
            largest = max(largest, len(block))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        response.close()
    assert produced["rows"] == 100_000 and total > 10_000_000
    assert blocks > 100 and largest < spreadsheets.BLOCK + 4096
    assert peak < 2_000_000, f"peak {peak} bytes while streaming {total} bytes"


# --- certificates ---------------------------------------------------------------------------------

def test_bulk_certificates_zip_for_a_municipality_and_period(kanagawa, rw):
    url = f"/review/municipalities/{rw['ids']['fujisawa']}/certificates.zip"
    response = kanagawa.get(url)
    assert response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as archive:
        names = archive.namelist()
        assert sorted(n.split("_")[0] for n in names) == sorted(rw["codes"][k] for k in ("heisei", "reiwa", "window"))
        text = _pdf_text(archive.read(next(n for n in names if n.startswith(rw["codes"]["heisei"]))))
    assert "藤沢 一郎" in text and "平成31年4月30日" in text
    recent = kanagawa.get(url, query_string={"since": "2025-01-01", "until": "2025-12-31"})
    with zipfile.ZipFile(io.BytesIO(recent.get_data())) as archive:
        assert [n.split("_")[0] for n in archive.namelist()] == [rw["codes"]["window"]]
    empty = kanagawa.get(url, query_string={"since": "2030-01-01"})
    assert empty.status_code == 302 and "/review/municipalities/" in empty.headers["Location"]
    assert kanagawa.get(f"/review/municipalities/{rw['ids']['kamakura']}/certificates.zip").status_code == 302


def test_single_certificate_pdf(kanagawa, rw):
    response = kanagawa.get(f"/review/certificates/{rw['codes']['reiwa']}.pdf")
    assert response.mimetype == "application/pdf" and "令和元年5月1日" in _pdf_text(response.get_data())


# --- audit ----------------------------------------------------------------------------------------

AUDITED = [
    ("/review/municipalities/{fujisawa}", {"since": "2025-01-01"}, "review.list.view", "藤沢市", "期間 2025-01-01〜"),
    ("/review/trainees/{fuji0}", {}, "review.record.view", "藤沢 一郎", "指定なし"),
    ("/review/certificates/{heisei}.pdf", {}, "review.certificate", "藤沢 一郎", "指定なし"),
    ("/review/municipalities/{fujisawa}/certificates.zip", {"course": "basic"}, "review.certificates", "藤沢市",
     "コース ハンドブック研修 基礎"),
    *[(f"/review/exports/{kind}.{fmt}", {"municipality": "{fujisawa}"}, "review.export", label, "市区町村 藤沢市")
      for kind, label in (("summary", "受講状況集計"), ("modules", "モジュール別集計"), ("records", "受講記録"),
                          ("courses", "コース修了記録"), ("mastery", "習熟度集計")) for fmt in ("csv", "xlsx")],
]


@pytest.mark.parametrize("path,query,action,subject,filters", AUDITED, ids=[a[0] + a[2] for a in AUDITED])
def test_every_personal_view_and_export_is_audited(app, kanagawa, rw, path, query, action, subject, filters):
    from sqlalchemy import select

    from trainer.models import AuditEvent

    values = {"fujisawa": rw["ids"]["fujisawa"], "fuji0": rw["users"]["fuji"][0], "heisei": rw["codes"]["heisei"]}
    query = {k: v.format(**values) for k, v in query.items()}
    with app.app_context():
        last = db.session.scalar(select(db.func.max(AuditEvent.id))) or 0
    response = kanagawa.get(path.format(**values), query_string=query, environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert response.status_code == 200
    response.get_data()
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.id > last)).all()
    assert len(events) == 1
    event = events[0]
    assert (event.action, event.actor_label, event.ip) == (action, rw["reviewers"]["kanagawa"], "192.0.2.7")
    assert subject in event.subject and filters in event.detail["filters"] and event.detail["scope"] == "神奈川県"
    assert event.at is not None


def test_aggregate_pages_are_not_logged_as_personal_views(app, kanagawa):
    from sqlalchemy import func, select

    from trainer.models import AuditEvent

    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    kanagawa.get("/review/")
    kanagawa.get("/review/mastery")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == before


def test_admin_browses_reviewer_audit_entries(app, kanagawa, rw):
    kanagawa.get(f"/review/trainees/{rw['users']['fuji'][1]}")
    admin = client_for(app, "rv-admin")
    body = admin.get("/admin/audit", query_string={"action": "review.record.view"}).get_data(as_text=True)
    assert "受講記録の閲覧（閲覧者）" in body and "藤沢 二郎" in body and rw["reviewers"]["kanagawa"] in body
    other = admin.get("/admin/audit", query_string={"action": "review.export", "subject": "藤沢 二郎"}).get_data(as_text=True)
    assert "藤沢 二郎" not in other.split("<tbody>")[1] and "該当する記録はありません" in other
