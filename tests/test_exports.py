"""Exports as an official opens them: every file says what it contains (conditions, period, time) in
the file and its name, totals say what they total, detail and totals are apart, CSV opens in UTF-8
and in Shift_JIS (CP932) with nothing silently dropped."""
from __future__ import annotations

import io
from datetime import date
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook

from tests.test_review import kanagawa, rw  # noqa: F401 (fixtures)
from trainer.dates import utcnow
from trainer.services.spreadsheets import Conditions, Table, csv_blocks, read_csv_table, xlsx_blocks

KINDS = ("summary", "modules", "records", "courses", "mastery")
FILTERS = [
    {},
    {"municipality": "{yokosuka}"},
    {"organization": "{office}", "since": "2025-01-01", "until": "2025-12-31"},
    {"course": "values-only", "programme": "station"},
]


def _query(filters: dict, rw) -> dict:
    return {k: v.format(**rw["ids"]) for k, v in filters.items()}


def _filename(response) -> str:
    return unquote(response.headers["Content-Disposition"].split("filename*=UTF-8''")[1])


@pytest.mark.parametrize("filters", FILTERS, ids=["none", "municipality", "office-period", "course-programme"])
@pytest.mark.parametrize("kind", KINDS)
def test_every_export_carries_its_conditions(kanagawa, rw, kind, filters):
    query = _query(filters, rw)
    csv_response = kanagawa.get(f"/review/exports/{kind}.csv", query_string=query)
    block, rows = read_csv_table(csv_response.get_data())
    assert block["管轄"] == "神奈川県（140007）" and block["出力日時"][:2] == "20" and "令和" in block["出力日時"]
    assert {"期間", "市区町村", "所属", "コース", "実施事業", "合計の範囲"} <= set(block)
    name = _filename(csv_response)
    assert name.startswith(block["表題"]) and "神奈川県" in name
    if "municipality" in query:
        assert block["市区町村"] == "横須賀市" and "横須賀市" in name and block["合計の範囲"] == "横須賀市の計"
    if "since" in query:
        assert block["期間"] == "2025-01-01〜2025-12-31" and "2025-01-01〜2025-12-31" in name
    if "course" in query:
        assert block["コース"] == "価値だけ" and "価値だけ" in name
    sjis = kanagawa.get(f"/review/exports/{kind}.csv", query_string={**query, "encoding": "cp932"})
    assert sjis.mimetype == "text/csv" and sjis.mimetype_params["charset"] == "shift_jis"
    assert not sjis.get_data().startswith(b"\xef\xbb\xbf")
    assert read_csv_table(sjis.get_data())[1] == rows  # the same table in the other encoding
    book = load_workbook(io.BytesIO(kanagawa.get(f"/review/exports/{kind}.xlsx", query_string=query).get_data()))
    assert book.sheetnames[0] == "条件"
    sheet_block = {r[0]: r[1] for r in book["条件"].iter_rows(values_only=True)}
    assert {k: v for k, v in sheet_block.items() if k != "出力日時"} == \
        {k: v for k, v in block.items() if k not in ("出力日時", "文字コード")}
    for sheet in book.worksheets[1:]:
        assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref
        assert all(sheet.column_dimensions[c.column_letter].width >= 6 for c in sheet[1])


def test_a_filtered_total_says_what_it_totals_and_sums(kanagawa, rw):
    query = {"municipality": rw["ids"]["yokosuka"]}
    book = load_workbook(io.BytesIO(kanagawa.get("/review/exports/summary.xlsx", query_string=query).get_data()))
    units = list(book["市区町村別"].iter_rows(min_row=2, values_only=True))
    [total] = list(book["合計"].iter_rows(min_row=2, values_only=True))
    assert [u[1] for u in units] == ["横須賀市"] and total[1] == "横須賀市の計" and total[0] is None
    assert total[3] == sum(u[3] for u in units)  # 登録受講者数: a SUM over the detail sheet gives the total
    _, rows = read_csv_table(kanagawa.get("/review/exports/summary.csv", query_string=query).get_data())
    assert [r[0] for r in rows[1:]].count("合計") == 1 and next(r for r in rows if r[0] == "合計")[2] == "横須賀市の計"


def test_cp932_replaces_what_it_cannot_hold_and_counts_it():
    table = Table("t", ["氏名", "メモ"], [["髙橋 ①㈱", "𠮷野家 😊 — 終わり"], ["普通", "〜"]])
    conditions = Conditions("表", "神奈川県", [("条件", "なし")], utcnow())
    data = b"".join(csv_blocks(table, conditions, "cp932"))
    block, rows = read_csv_table(data)
    assert rows[1] == ["髙橋 ①㈱", "〓野家 〓 〓 終わり"]  # CP932 keeps 髙 ① ㈱; 𠮷, emoji and — become 〓
    assert data.decode("cp932").rstrip().endswith("CP932で表せない文字 3 個を「〓」に置き換えました")
    utf8 = b"".join(csv_blocks(table, conditions))
    assert read_csv_table(utf8)[1][1] == ["髙橋 ①㈱", "𠮷野家 😊 — 終わり"]  # UTF-8 loses nothing


def test_dates_are_date_cells_with_wareki_beside(kanagawa):
    book = load_workbook(io.BytesIO(kanagawa.get("/review/exports/courses.xlsx").get_data()))
    sheet = book["コース修了記録"]
    header = [c.value for c in sheet[1]]
    day, era = header.index("修了日"), header.index("修了日（和暦）")
    dated = [r for r in sheet.iter_rows(min_row=2) if r[day].value is not None]
    assert dated and all(r[day].is_date and r[day].number_format == "yyyy-mm-dd" for r in dated)
    assert all(str(r[era].value).startswith(("令和", "平成")) for r in dated)
    assert all(isinstance(r[day].value.date(), date) for r in dated)


# --- XLSX written as it streams ----------------------------------------------------------------

def _book(table: Table, conditions: Conditions | None = None):
    return load_workbook(io.BytesIO(b"".join(xlsx_blocks([table], conditions))))


def test_xlsx_text_that_looks_like_a_formula_stays_text():
    risky = ["=1+1", "+SUM(A1:A2)", "-2+3", "@cmd", "=HYPERLINK(\"http://x\")", " 前後に空白 ", "a&b<c>\"d\""]
    table = Table("メモ", ["本文", "数", "日"], [[text, 3, date(2025, 4, 1)] for text in risky] + [["\x01制御\x07文字", 1.5, None]])
    conditions = Conditions("表", "神奈川県", [("条件", "=危険?")], utcnow())
    book = _book(table, conditions)
    assert book.sheetnames == ["条件", "メモ"]
    cells = [row[0] for row in book["メモ"].iter_rows(min_row=2)]
    assert [c.value for c in cells] == [*risky, "制御文字"]
    assert all(c.data_type == "s" for c in cells)  # text cells, never formulas
    assert book["条件"]["B1"].value == "表" and book["条件"]["B3"].value == "=危険?"
    assert [r[1] for r in book["メモ"].iter_rows(min_row=2, values_only=True)] == [3] * len(risky) + [1.5]
    assert book["メモ"]["C2"].is_date and book["メモ"]["C2"].value.date() == date(2025, 4, 1)


def test_xlsx_leaves_before_the_last_row_is_read_and_in_flat_memory():
    import tracemalloc

    read = [0]

    def rows(n):
        for i in range(n):
            read[0] = i + 1
            yield [f"受講者 {i}", "横須賀市", i, date(2025, 4, 1), "令和7年4月1日", 85.5]

    header = ["氏名", "市区町村", "番号", "日", "和暦", "得点"]

    def peak(n: int) -> int:
        tracemalloc.start()
        size = sum(len(block) for block in xlsx_blocks([Table("t", header, rows(n))]))
        top = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert size > 0
        return top

    blocks = xlsx_blocks([Table("t", header, rows(20_000))])
    next(blocks)
    assert read[0] < 20_000  # the first block left while rows were still to come
    blocks.close()
    small, large = peak(2_000), peak(20_000)
    assert large < small * 2 + 2_000_000  # ten times the rows, not ten times the memory
    book = load_workbook(io.BytesIO(b"".join(xlsx_blocks([Table("t", header, rows(2_000))]))), read_only=True)
    assert sum(1 for _ in book["t"].iter_rows(min_row=2)) == 2_000


def test_xlsx_sheet_names_with_quotes_and_ampersands_open():
    book = _book(Table("A&B's <表>", ["列"], [["値"]]))
    sheet = book.worksheets[0]
    assert sheet.title == "A&B's表" and sheet["A2"].value == "値" and sheet.auto_filter.ref == "A1:A2"
