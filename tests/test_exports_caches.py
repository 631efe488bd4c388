"""The caches behind fast exports (services/spreadsheets.TextCache, day_wareki) never change a file:
the same bytes with and without them, text that looks like a formula stays text however often it
repeats, values that compare equal but are written differently (1, 1.0 and True; 0.0 and -0.0)
stay apart, dates are taken in Asia/Tokyo across a day boundary, and the caches stay bounded."""
from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from tests.test_review import kanagawa, rw  # noqa: F401 (fixtures)
from trainer.dates import JST, utcnow
from trainer.services import spreadsheets
from trainer.services.spreadsheets import Conditions, Table, TextCache, csv_blocks, dated, read_csv_table, xlsx_blocks
from trainer.services.wareki import to_wareki

RISKY = ["=1+1", "@SUM(A1:A9)", "+81-3", "-2+3", "\tタブ", "a&b<c>\"d\"", "\x01制御\x07文字", " 前後に空白 "]


def _rows(n: int = 400) -> list[list]:
    """Rows whose values repeat (as an export's do) and include every kind of value a writer meets."""
    edge = datetime.combine(utcnow().date(), datetime.min.time(), timezone.utc) + timedelta(hours=14, minutes=59)
    kinds = [0.0, -0.0, 1, 1.0, True, False, 85.5, float("nan"), float("inf"), None, "", Decimal("1.0"),
             Decimal("1.00"), date(2019, 4, 30), date(2019, 5, 1)]
    return [[RISKY[i % len(RISKY)], f"受講者 {i // 10}", "横須賀市", kinds[i % len(kinds)], kinds[(i * 7) % len(kinds)],
             edge + timedelta(minutes=i % 3), *dated(edge + timedelta(minutes=i % 3)), i % 4 == 0, i]
            for i in range(n)]


HEADER = ["本文", "氏名", "市区町村", "値", "値2", "日時", "日", "和暦", "はい", "番号"]


def _files(rows: list[list]) -> tuple[bytes, bytes, dict[str, bytes]]:
    conditions = Conditions("表", "神奈川県", [("条件", "=危険?")], datetime(2025, 1, 1, tzinfo=timezone.utc))
    utf8 = b"".join(csv_blocks(Table("t", HEADER, iter(rows)), conditions))
    cp932 = b"".join(csv_blocks(Table("t", HEADER, iter(rows)), conditions, "cp932"))
    book = zipfile.ZipFile(io.BytesIO(b"".join(xlsx_blocks([Table("t", HEADER, iter(rows))], conditions))))
    return utf8, cp932, {name: book.read(name) for name in book.namelist()}


@pytest.mark.parametrize("size", [None, 3], ids=["default", "tiny-cache"])
def test_the_same_bytes_with_and_without_the_caches(monkeypatch, size):
    rows = _rows()
    with monkeypatch.context() as m:
        m.setattr(spreadsheets, "_cacheable", lambda value: False)  # nothing kept: every cell worked out afresh
        plain = _files(rows)
    if size:
        monkeypatch.setattr(spreadsheets, "CACHE_SIZE", size)  # the generations turn over every few cells
    assert _files(rows) == plain


def test_repeated_formula_like_text_stays_text_in_both_formats():
    rows = _rows(200)
    utf8, _, _ = _files(rows)
    _, table = read_csv_table(utf8)
    texts = [r[0] for r in table[1:]]
    assert texts.count("'=1+1") == 25 and texts.count("'@SUM(A1:A9)") == 25 and "'+81-3" in texts and "'-2+3" in texts
    conditions = Conditions("表", "神奈川県", [("条件", "なし")], utcnow())
    book = load_workbook(io.BytesIO(b"".join(xlsx_blocks([Table("t", HEADER, iter(rows))], conditions))))
    cells = [r[0] for r in book["t"].iter_rows(min_row=2)]
    assert all(c.data_type == "s" for c in cells)  # never a formula, however often it repeats
    assert [c.value for c in cells[:len(RISKY)]] == [*RISKY[:6], "制御文字", " 前後に空白 "]


def test_equal_values_written_differently_stay_apart():
    cache = TextCache(spreadsheets._cell_tail)
    values = [1, 1.0, True, 0.0, -0.0, Decimal("1.0"), Decimal("1.00"), 1, True, -0.0, 0.0, Decimal("1.00")]
    assert cache.texts(values) == [spreadsheets._cell_tail(v) for v in values]
    assert "<v>-0.0</v>" in cache.texts([-0.0])[0] and "<v>0.0</v>" in cache.texts([0.0])[0]
    assert "はい" in cache.texts([True])[0] and "<v>1</v>" in cache.texts([1])[0]
    csv_cache = TextCache(spreadsheets._csv_cell)
    assert csv_cache.texts([1, 1.0, True, Decimal("1.00"), Decimal("1.0"), "=1"]) == ["1", "1.0", "True", "1.00", "1.0", "'=1"]


def test_dates_across_a_day_boundary_in_tokyo():
    midnight = datetime.combine(utcnow().astimezone(JST).date(), datetime.min.time(), JST)  # today, 0:00 in Japan
    before, after = midnight - timedelta(seconds=1), midnight
    for value in (before, after, before.astimezone(timezone.utc), after.astimezone(timezone.utc)):
        for _ in range(2):  # worked out, then from the cache
            day = value.astimezone(JST).date()
            assert dated(value) == [day, to_wareki(day)]
    assert dated(before)[0] == midnight.date() - timedelta(days=1) and dated(after)[0] == midnight.date()
    assert dated(None) == [None, ""]
    assert spreadsheets.day_wareki(date(2019, 4, 30)) == "平成31年4月30日" and spreadsheets.day_wareki(date(2019, 5, 1)) == "令和元年5月1日"


def test_the_caches_stay_bounded():
    cache = TextCache(spreadsheets._cell_tail, size=100)
    for i in range(10_000):
        cache.texts([f"受講者 {i}", i, "横須賀市"])
        assert len(cache.hot) <= 100 and len(cache.old) <= 100
    assert ("横須賀市" in {k[1] for k in cache.hot} | {k[1] for k in cache.old})  # a value in use is carried over
    assert spreadsheets.day_wareki.cache_info().maxsize == 4096


def test_records_export_is_the_same_without_the_caches(kanagawa, monkeypatch):
    cached_csv = read_csv_table(kanagawa.get("/review/exports/records.csv").get_data())[1]
    cached_book = load_workbook(io.BytesIO(kanagawa.get("/review/exports/records.xlsx").get_data()))
    monkeypatch.setattr(spreadsheets, "_cacheable", lambda value: False)
    assert read_csv_table(kanagawa.get("/review/exports/records.csv").get_data())[1] == cached_csv
    plain_book = load_workbook(io.BytesIO(kanagawa.get("/review/exports/records.xlsx").get_data()))
    assert len(cached_csv) > 5
    assert list(plain_book["受講記録"].values) == list(cached_book["受講記録"].values)
