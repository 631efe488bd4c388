"""CSV as Excel writes and reads it in Japan: UTF-8 (with or without BOM) or CP932."""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

#: Cells starting with these are read as formulas by spreadsheet programs.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class CsvDecodeError(ValueError):
    """The bytes are neither UTF-8 nor CP932 (Shift_JIS as Windows writes it)."""


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in an uploaded file; row is the row number as a spreadsheet shows it."""

    row: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"{self.row}行目" if self.row else "ファイル"
        column = f"「{self.column}」" if self.column else ""
        return f"{where}{column}: {self.message}"


def decode_excel_csv(data: bytes) -> str:
    """Decode a CSV file: UTF-8 with or without BOM first, then CP932 (not shift_jis)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp932")
    except UnicodeDecodeError as exc:
        raise CsvDecodeError(
            "文字コードを判別できません。UTF-8 または Shift_JIS（CP932）で保存した CSV を指定してください。"
        ) from exc


def read_rows(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Split CSV text into (header, [(row_number, cells)]), skipping blank rows. Raises
    CsvDecodeError (a Japanese message) for a file the csv module cannot read (a cell over
    csv.field_size_limit, 128 KB) or one holding NUL characters.

    Row numbers are those a spreadsheet shows: blank rows (``,,,,`` as Excel writes a cleared row)
    are skipped but still counted, so an error points at the row the person sees.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = []
    try:
        for number, row in enumerate(reader, start=1):
            if any("\x00" in cell for cell in row):
                raise CsvDecodeError(f"{number}行目に使えない文字（NUL）が含まれています。表計算ソフトで CSV として保存し直してください。")
            rows.append((number, [cell.strip() for cell in row]))
    except csv.Error as exc:
        limit = csv.field_size_limit() // 1024
        where = f"{reader.line_num}行目" if reader.line_num else "ファイル"
        raise CsvDecodeError(f"{where}を CSV として読めません（1つのセルは{limit}KBまで、引用符は閉じてください）。") from exc
    rows = [(n, cells) for n, cells in rows if any(cells)]
    if not rows:
        return [], []
    header = [normalise_text(cell) for cell in rows[0][1]]
    return header, rows[1:]


def normalise_text(value: str) -> str:
    """NFKC-normalise (full-width digits, half-width kana) for codes, IDs and lookups.

    〜 (U+301C) is first mapped to ～ (U+FF5E) as CP932 does, so both spellings compare equal.
    """
    return unicodedata.normalize("NFKC", value.replace("\u301c", "\uff5e")).strip()


_HALF_WIDTH_KANA = re.compile("[\uff61-\uff9f]+")


def normalise_name(value: str) -> str:
    """Tidy a name as written: half-width kana become full-width and 〜 becomes ～ (as in CP932),
    but 髙, ①, ㈱ and the like are kept as they are (NFKC would turn ㈱ into (株))."""
    value = _HALF_WIDTH_KANA.sub(lambda m: unicodedata.normalize("NFKC", m.group()), value)
    return value.replace("\u301c", "\uff5e").strip()


def escape_cell(value: object) -> str:
    """Make a value safe for a spreadsheet: text that looks like a formula gets a leading quote."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def write_csv(rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """Yield RFC 4180 CSV text, a BOM first, each cell escaped; streams row by row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    yield "\ufeff"
    for row in rows:
        writer.writerow([escape_cell(v) for v in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
