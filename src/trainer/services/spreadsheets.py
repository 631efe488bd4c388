"""Files an official can open and paste: CSV (UTF-8 with BOM, or Shift_JIS/CP932) and XLSX.

Every file says what it contains: a block of conditions (title, jurisdiction, every filter, the
period, when it was produced, how the figures are counted) at the top of a CSV and on the first
sheet (「条件」) of a workbook, and the same in its file name.

- CSV: RFC 4180 with CRLF; every cell made formula-safe (csvio.escape_cell). UTF-8 starts with a BOM
  (Excel in Japan then reads it as UTF-8). CP932: characters that CP932 cannot hold (絵文字, 𠮷, —)
  are replaced by 〓, never dropped, and counted in a last line. Produced row by row in 64 KB blocks.
- XLSX (XlsxWriter, constant memory: rows go to disk as they come): a header row in bold, frozen,
  with an autofilter; column widths fitted to the Japanese text of the header and the first rows;
  dates as real date cells (yyyy-mm-dd) beside their 和暦 column; text always written as text
  (nothing a trainee typed can become a formula).
"""
from __future__ import annotations

import codecs
import csv
import io
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import chain, islice
from typing import IO, Any
from urllib.parse import quote

import xlsxwriter

from trainer.dates import JST
from trainer.services.csvio import escape_cell
from trainer.services.wareki import to_wareki

BLOCK = 64 * 1024
REPLACEMENT = "〓"
ENCODINGS = {"utf-8": "UTF-8（BOM付き）", "cp932": "Shift_JIS（CP932）"}
MIME = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
_WIDTH_SAMPLE = 500
_MAX_WIDTH = 60
_UNSAFE_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f\s]+')


@dataclass
class Table:
    """One sheet: a title, Japanese headers and lazily produced rows of plain values (date and
    datetime values become date cells)."""

    title: str
    header: list[str]
    rows: Iterable[list[Any]]


@dataclass
class Conditions:
    """What a file contains and under which conditions it was produced."""

    title: str
    jurisdiction: str
    items: list[tuple[str, str]]
    produced_at: datetime
    notes: list[str] = field(default_factory=list)
    name_parts: list[str] = field(default_factory=list)  # what distinguishes the file (its filters)
    ascii_parts: list[str] = field(default_factory=list)

    def lines(self) -> list[list[str]]:
        """The condition block as rows of two cells."""
        produced = self.produced_at.astimezone(JST)
        rows = [["表題", self.title], ["管轄", self.jurisdiction], *[[label, value] for label, value in self.items],
                ["出力日時", f"{produced:%Y-%m-%d %H:%M}（{to_wareki(produced.date())}）"]]
        return rows + [[f"注記{i}" if len(self.notes) > 1 else "注記", note] for i, note in enumerate(self.notes, 1)]

    def filename(self, ext: str) -> tuple[str, str]:
        """(Japanese file name, ASCII fallback): title, jurisdiction, filters, production time."""
        stamp = self.produced_at.astimezone(JST).strftime("%Y%m%d-%H%M")
        label = "_".join(_UNSAFE_NAME.sub("", p) for p in [self.title, *self.name_parts, stamp] if p)
        plain = "-".join(re.sub(r"[^A-Za-z0-9.-]+", "", p) for p in [*self.ascii_parts, stamp] if p)
        return f"{label}.{ext}", f"{plain or 'export'}.{ext}"


def content_disposition(conditions: Conditions, ext: str) -> str:
    """attachment with an ASCII fallback and the Japanese name (RFC 6266 / 5987)."""
    label, ascii_name = conditions.filename(ext)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(label)}"


def mimetype(fmt: str, encoding: str = "utf-8") -> str:
    if fmt == "csv":
        return f"text/csv; charset={'shift_jis' if encoding == 'cp932' else 'utf-8'}"
    return MIME[fmt]


# --- values ------------------------------------------------------------------------------------

def local_day(value: datetime | None) -> date | None:
    return value.astimezone(JST).date() if value is not None else None


def wareki(value: datetime | None) -> str:
    day = local_day(value)
    return to_wareki(day) if day is not None else ""


def dated(value: datetime | None) -> list[Any]:
    """The two date columns: the date (a date cell in XLSX) and its 和暦."""
    return [local_day(value), wareki(value)]


def percent(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value.astimezone(JST):%Y-%m-%d %H:%M}"
    return str(value)


# --- CSV -------------------------------------------------------------------------------------

class _Cp932:
    """Encodes to CP932, replacing what it cannot hold with 〓 and counting the replacements."""

    def __init__(self) -> None:
        self.replaced = 0

    def encode(self, text: str) -> bytes:
        try:
            return text.encode("cp932")
        except UnicodeEncodeError:
            out = []
            for ch in text:
                try:
                    out.append(ch.encode("cp932"))
                except UnicodeEncodeError:
                    self.replaced += 1
                    out.append(REPLACEMENT.encode("cp932"))
            return b"".join(out)


def csv_blocks(table: Table, conditions: Conditions, encoding: str = "utf-8", size: int = BLOCK) -> Iterator[bytes]:
    """The condition block, a blank line, then the table, as CSV bytes in blocks of about ``size``."""
    cp932 = _Cp932() if encoding == "cp932" else None
    encode = cp932.encode if cp932 else (lambda text: text.encode("utf-8"))
    notes = conditions.lines()
    notes.append(["文字コード", ENCODINGS["cp932" if cp932 else "utf-8"]
                  + ("。CP932で表せない文字は「〓」に置き換え、件数を最後の行に記します" if cp932 else "")])
    buffer, length = [b"\xef\xbb\xbf"] if not cp932 else [], 3
    for text in _csv_lines(chain(notes, [[]], [table.header], table.rows)):
        data = encode(text)
        buffer.append(data)
        length += len(data)
        if length >= size:
            yield b"".join(buffer)
            buffer, length = [], 0
    if cp932 is not None and cp932.replaced:
        buffer.append(encode(next(_csv_lines([["注記", f"CP932で表せない文字 {cp932.replaced} 個を「〓」に置き換えました"]]))))
    if buffer:
        yield b"".join(buffer)


def _csv_lines(rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([escape_cell(_text(v)) for v in row])
        yield out.getvalue()
        out.seek(0)
        out.truncate()


def read_csv_table(data: bytes) -> tuple[dict[str, str], list[list[str]]]:
    """Read back a file made by csv_blocks: (conditions by label, the table's rows with header)."""
    text = data.decode("utf-8-sig") if data.startswith(codecs.BOM_UTF8) else data.decode("cp932")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    blank = rows.index([])
    return {r[0]: r[1] for r in rows[:blank] if len(r) >= 2}, rows[blank + 1:]


# --- XLSX ------------------------------------------------------------------------------------

def display_width(value: Any) -> int:
    """Columns a value needs: full-width (Japanese) characters count two."""
    text = _text(value) if not isinstance(value, date) else "0000-00-00"
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _widths(header: list[str], sample: list[list[Any]]) -> list[int]:
    widths = [display_width(h) + 2 for h in header]
    for row in sample:
        for i, value in enumerate(row[:len(widths)]):
            widths[i] = max(widths[i], display_width(value) + 1)
    return [min(max(w, 6), _MAX_WIDTH) for w in widths]


def xlsx_file(tables: list[Table], conditions: Conditions | None = None) -> IO[bytes]:
    """The workbook (a 「条件」 sheet first when given) in a temporary file, rewound; caller closes."""
    handle = tempfile.TemporaryFile()
    book = xlsxwriter.Workbook(handle, {"constant_memory": True, "in_memory": False,
                                        "strings_to_formulas": False, "strings_to_urls": False,
                                        "strings_to_numbers": False})
    formats = {"bold": book.add_format({"bold": True, "text_wrap": True, "valign": "top"}),
               "date": book.add_format({"num_format": "yyyy-mm-dd"}),
               "datetime": book.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
               "wrap": book.add_format({"text_wrap": True, "valign": "top"})}
    if conditions is not None:
        _conditions_sheet(book, conditions, formats)
    for table in tables:
        _table_sheet(book, table, formats)
    book.close()
    handle.seek(0)
    return handle


def _conditions_sheet(book, conditions: Conditions, formats: dict) -> None:
    sheet = book.add_worksheet("条件")
    sheet.set_column(0, 0, 14, formats["bold"])
    sheet.set_column(1, 1, 90, formats["wrap"])
    for r, (label, value) in enumerate(conditions.lines()):
        sheet.write_string(r, 0, label)
        sheet.write_string(r, 1, value)


def _table_sheet(book, table: Table, formats: dict) -> None:
    sheet = book.add_worksheet(_UNSAFE_NAME.sub("", table.title)[:31] or "表")
    rows = iter(table.rows)
    sample = list(islice(rows, _WIDTH_SAMPLE))
    for c, width in enumerate(_widths(table.header, sample)):
        sheet.set_column(c, c, width)
    sheet.freeze_panes(1, 0)
    for c, title in enumerate(table.header):
        sheet.write_string(0, c, title, formats["bold"])
    last = 0
    for r, row in enumerate(chain(sample, rows), start=1):
        for c, value in enumerate(row):
            _cell(sheet, r, c, value, formats)
        last = r
    if table.header:
        sheet.autofilter(0, 0, last, len(table.header) - 1)


def _cell(sheet, r: int, c: int, value: Any, formats: dict) -> None:
    if value is None or value == "":
        return
    if isinstance(value, bool):
        sheet.write_string(r, c, "はい" if value else "いいえ")
    elif isinstance(value, datetime):
        sheet.write_datetime(r, c, value.astimezone(JST).replace(tzinfo=None), formats["datetime"])
    elif isinstance(value, date):
        sheet.write_datetime(r, c, datetime.combine(value, datetime.min.time()), formats["date"])
    elif isinstance(value, (int, float)):
        sheet.write_number(r, c, value)
    else:
        sheet.write_string(r, c, _clean(str(value)))


_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _clean(text: str) -> str:
    """Characters XML cannot hold are dropped (control characters only; never Japanese text)."""
    return _ILLEGAL.sub("", text)


def file_blocks(handle: IO[bytes], size: int = BLOCK) -> Iterator[bytes]:
    try:
        while block := handle.read(size):
            yield block
    finally:
        handle.close()
