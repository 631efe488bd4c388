"""Files an official can open and paste: CSV (UTF-8 with BOM, or Shift_JIS/CP932) and XLSX.

Every file says what it contains: a block of conditions (title, jurisdiction, every filter, the
period, when it was produced, how the figures are counted) at the top of a CSV and on the first
sheet (「条件」) of a workbook, and the same in its file name.

- CSV: RFC 4180 with CRLF; every cell made formula-safe (csvio.escape_cell). UTF-8 starts with a BOM
  (Excel in Japan then reads it as UTF-8). CP932: characters that CP932 cannot hold (絵文字, 𠮷, —)
  are replaced by 〓, never dropped, and counted in a last line. Produced row by row in 64 KB blocks.
- XLSX (SpreadsheetML written here and streamed through a ZIP writer: rows leave as they come, in
  flat memory, about 5x faster than XlsxWriter's constant-memory mode): a header row in bold, frozen,
  with an autofilter; column widths fitted to the Japanese text of the header and the first rows;
  dates as real date cells (yyyy-mm-dd) beside their 和暦 column; text always written as inline
  string cells (nothing a trainee typed can become a formula).

Most cells of an export repeat (organization names, module titles, statuses, dates, marks): a cell's
text (CSV or XML) is worked out once per value in a small bounded cache (TextCache), a day's 和暦
once per day; tests/test_exports_caches.py checks that the files are byte for byte the same without.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from itertools import chain, islice
from typing import IO, Any
from urllib.parse import quote


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
CACHE_SIZE = 2048  # cell texts kept per generation (TextCache)
CSV_BATCH = 64  # rows given to the csv writer at once


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


#: The 和暦 of a day, worked out once per day (an export repeats the same few hundred days).
day_wareki = lru_cache(maxsize=4096)(to_wareki)


def wareki(value: datetime | None) -> str:
    day = local_day(value)
    return day_wareki(day) if day is not None else ""


def dated(value: datetime | None) -> list[Any]:
    """The two date columns: the date (a date cell in XLSX) and its 和暦 (one conversion to Japan time)."""
    if value is None:
        return [None, ""]
    day = value.astimezone(JST).date()
    return [day, day_wareki(day)]


def percent(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value.astimezone(JST):%Y-%m-%d %H:%M}"
    return str(value)


class TextCache:
    """The text of a cell, worked out once per value: most cells of an export repeat (organization
    names, module titles, statuses, dates, marks). Keyed by (type, value), so 1, 1.0 and True stay
    apart; values whose text does not follow from that key (-0.0 equals 0.0, NaN equals nothing,
    Decimal("1.0") equals Decimal("1.00")) are never kept. Bounded: two generations of ``size``
    entries — when the newer is full it becomes the older and the oldest is dropped, so memory stays
    flat whatever the number of rows, and values in use are carried over (a small LRU)."""

    __slots__ = ("make", "size", "hot", "old")

    def __init__(self, make, size: int | None = None) -> None:
        self.make = make
        self.size = size or CACHE_SIZE
        self.hot: dict[tuple[type, Any], str] = {}
        self.old: dict[tuple[type, Any], str] = {}

    def texts(self, row: Iterable[Any]) -> list[str]:
        """The texts of a row's values, in order."""
        get = self.hot.get
        out = []
        for value in row:
            key = (value.__class__, value)
            try:
                text = get(key)
            except TypeError:  # unhashable: never kept
                text = self.make(value)
            if text is None:
                text = self._miss(key, value)
                get = self.hot.get
            out.append(text)
        return out

    def _miss(self, key: tuple[type, Any], value: Any) -> str:
        text = self.old.get(key)
        if text is None:
            text = self.make(value)
            if not _cacheable(value):
                return text
        if len(self.hot) >= self.size:
            self.old, self.hot = self.hot, {}
        self.hot[key] = text
        return text


_CACHED_TYPES = frozenset({str, int, bool, float, date, datetime, type(None)})


def _cacheable(value: Any) -> bool:
    cls = value.__class__
    return cls in _CACHED_TYPES and (cls is not float or (value == value and value != 0))


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


def _csv_lines(rows: Iterable[Iterable[Any]], batch: int = CSV_BATCH) -> Iterator[str]:
    """CSV text, ``batch`` rows at a time; each cell's text (formula-safe) worked out once per value."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    texts = TextCache(_csv_cell).texts
    rows = iter(rows)
    while chunk := list(islice(rows, batch)):
        writer.writerows([texts(row) for row in chunk])
        yield out.getvalue()
        out.seek(0)
        out.truncate()


def _csv_cell(value: Any) -> str:
    return escape_cell(_text(value))


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
    """The workbook in a temporary file, rewound; caller closes (for callers that need a file)."""
    handle = tempfile.TemporaryFile()
    for block in xlsx_blocks(tables, conditions):
        handle.write(block)
    handle.seek(0)
    return handle


def xlsx_blocks(tables: list[Table], conditions: Conditions | None = None) -> Iterator[bytes]:
    """The workbook (a 「条件」 sheet first when given) as it is written: SpreadsheetML streamed row by
    row through a ZIP writer into blocks of about BLOCK bytes — the first bytes leave before the
    last row is read, and memory stays flat whatever the number of rows."""
    sink = _Sink()
    sheets: list[tuple[str, str | None]] = []  # (name, autofilter range)
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as book:
        if conditions is not None:
            sheets.append(("条件", None))
            yield from _write_part(book, sink, f"xl/worksheets/sheet{len(sheets)}.xml", _conditions_xml(conditions))
        for table in tables:
            name = _UNSAFE_NAME.sub("", table.title)[:31] or "表"
            ranges: list[str] = []
            sheets.append((name, None))
            yield from _write_part(book, sink, f"xl/worksheets/sheet{len(sheets)}.xml", _table_xml(table, ranges))
            sheets[-1] = (name, ranges[0] if ranges else None)
        for part, text in _package_parts(sheets):
            book.writestr(part, text)
    yield sink.take()


class _Sink:
    """A write-only file for zipfile (not seekable: it writes data descriptors) that hands its bytes on."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.parts, self.size = b"".join(self.parts), [], 0
        return data


def _write_part(book: zipfile.ZipFile, sink: _Sink, name: str, pieces: Iterator[str]) -> Iterator[bytes]:
    with book.open(name, "w") as part:
        pending: list[str] = []
        length = 0
        for piece in pieces:
            pending.append(piece)
            length += len(piece)
            if length >= BLOCK:
                part.write("".join(pending).encode("utf-8"))
                pending, length = [], 0
                if sink.size >= BLOCK:
                    yield sink.take()
        part.write("".join(pending).encode("utf-8"))
    if sink.size >= BLOCK:
        yield sink.take()


# XML text: escaped, and characters XML cannot hold dropped (control characters only)
_XML = {ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", ord('"'): "&quot;",
        **{c: None for c in range(32) if c not in (9, 10, 13)}}
_EPOCH = datetime(1899, 12, 30)
_BOLD, _DATE, _DATETIME, _WRAP = 1, 2, 3, 4  # cellXfs in _STYLES
_SHEET_HEAD = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet '
               'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
               'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">')


def _column(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def _string(ref: str, text: str, style: int = 0) -> str:
    s = f' s="{style}"' if style else ""
    return f'<c r="{ref}"{s} t="inlineStr"><is><t xml:space="preserve">{text.translate(_XML)}</t></is></c>'


def _serial(value: datetime) -> str:
    delta = value - _EPOCH
    return repr(delta.days + delta.seconds / 86400)


def _cell_tail(value: Any) -> str:
    """A cell's XML after its reference (``<c r="B2"`` + this); "" for an empty cell (not written)."""
    if isinstance(value, str):
        return _string_tail(value) if value else ""
    if value is None:
        return ""
    if isinstance(value, bool):
        return _string_tail("はい" if value else "いいえ")
    if isinstance(value, datetime):
        return f' s="{_DATETIME}"><v>{_serial(value.astimezone(JST).replace(tzinfo=None))}</v></c>'
    if isinstance(value, date):
        return f' s="{_DATE}"><v>{(value - _EPOCH.date()).days}</v></c>'
    if isinstance(value, (int, float)) and value == value and value not in (float("inf"), float("-inf")):
        return f"><v>{value!r}</v></c>"
    return _string_tail(str(value))


def _string_tail(text: str) -> str:
    return f' t="inlineStr"><is><t xml:space="preserve">{text.translate(_XML)}</t></is></c>'


def _cols(widths: list[int], styles: list[int] | None = None) -> str:
    styles = styles or [0] * len(widths)
    out = []
    for i, (w, style) in enumerate(zip(widths, styles), start=1):
        styled = f' style="{style}"' if style else ""
        out.append(f'<col min="{i}" max="{i}" width="{w + 0.71:.2f}" customWidth="1"{styled}/>')
    return "<cols>" + "".join(out) + "</cols>"


def _table_xml(table: Table, ranges: list[str]) -> Iterator[str]:
    rows = iter(table.rows)
    sample = list(islice(rows, _WIDTH_SAMPLE))
    width = len(table.header)
    letters = [_column(i) for i in range(max(width, max((len(r) for r in sample), default=0)))]
    yield (_SHEET_HEAD + '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
           'activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
           '</sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>'
           + _cols(_widths(table.header, sample)) + "<sheetData>")
    yield '<row r="1">' + "".join(_string(f"{letters[c]}1", h, _BOLD) for c, h in enumerate(table.header)) + "</row>"
    last = 1
    texts = TextCache(_cell_tail).texts
    for r, row in enumerate(chain(sample, rows), start=2):
        tails = texts(row)
        if len(tails) > len(letters):
            letters += [_column(i) for i in range(len(letters), len(tails))]
        n = str(r)
        yield f'<row r="{n}">' + "".join([f'<c r="{letters[c]}{n}"{t}' for c, t in enumerate(tails) if t]) + "</row>"
        last = r
    yield "</sheetData>"
    if width:
        ranges.append(f"$A$1:${letters[width - 1]}${last}")
        yield f'<autoFilter ref="A1:{letters[width - 1]}{last}"/>'
    yield '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>'


def _conditions_xml(conditions: Conditions) -> Iterator[str]:
    yield _SHEET_HEAD + '<sheetFormatPr defaultRowHeight="15"/>' + _cols([14, 90], [_BOLD, _WRAP]) + "<sheetData>"
    for r, (label, value) in enumerate(conditions.lines(), start=1):
        yield f'<row r="{r}">{_string(f"A{r}", label, _BOLD)}{_string(f"B{r}", value, _WRAP)}</row>'
    yield '</sheetData><pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>'


_STYLES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/><numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm"/></numFmts>
<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font><font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>
<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>
<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
<cellXfs count="5"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>
<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1" applyAlignment="1"><alignment vertical="top" wrapText="1"/></xf>
<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1"><alignment vertical="top" wrapText="1"/></xf></cellXfs>
<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>
</styleSheet>"""


def _package_parts(sheets: list[tuple[str, str | None]]) -> list[tuple[str, str]]:
    head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006/relationships"
    ct = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    numbered = list(enumerate(sheets, start=1))
    types = (head + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
             '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
             '<Default Extension="xml" ContentType="application/xml"/>'
             f'<Override PartName="/xl/workbook.xml" ContentType="{ct}.sheet.main+xml"/>'
             f'<Override PartName="/xl/styles.xml" ContentType="{ct}.styles+xml"/>'
             + "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{ct}.worksheet+xml"/>'
                       for i, _ in numbered) + "</Types>")
    root_rels = (head + f'<Relationships xmlns="{pkg}"><Relationship Id="rId1" '
                 f'Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
    names = "".join(f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i - 1}" hidden="1">'
                    f"'{name.replace(chr(39), chr(39) * 2).translate(_XML)}'!{ref}</definedName>"
                    for i, (name, ref) in numbered if ref)
    workbook = (head + f'<workbook xmlns="{main}" xmlns:r="{rel}"><bookViews><workbookView/></bookViews><sheets>'
                + "".join(f'<sheet name="{name.translate(_XML)}" sheetId="{i}" r:id="rId{i}"/>' for i, (name, _) in numbered)
                + "</sheets>" + (f"<definedNames>{names}</definedNames>" if names else "") + "</workbook>")
    book_rels = (head + f'<Relationships xmlns="{pkg}">'
                 + "".join(f'<Relationship Id="rId{i}" Type="{rel}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                           for i, _ in numbered)
                 + f'<Relationship Id="rId{len(sheets) + 1}" Type="{rel}/styles" Target="styles.xml"/></Relationships>')
    return [("[Content_Types].xml", types), ("_rels/.rels", root_rels), ("xl/workbook.xml", workbook),
            ("xl/_rels/workbook.xml.rels", book_rels), ("xl/styles.xml", _STYLES)]


def file_blocks(handle: IO[bytes], size: int = BLOCK) -> Iterator[bytes]:
    try:
        while block := handle.read(size):
            yield block
    finally:
        handle.close()
