"""Reviewer exports: the tables behind each screen, written as CSV, XLSX or a ZIP of certificate PDFs.

- CSV: UTF-8 with a BOM, RFC 4180 (CRLF, quoted as needed), every cell made formula-safe by
  csvio.escape_cell; produced row by row and sent in 64 KB blocks, so memory does not grow with rows.
- XLSX: openpyxl in write-only mode (rows go to a temporary file as they come), formula-looking text
  kept as text (data type "s" with a quote prefix); the finished file is sent from disk in blocks.
- ZIP: PDFs rendered one at a time and streamed through zipfile with data descriptors.

Columns have Japanese headers; dates come as ISO (2025-02-01) and 和暦 (令和7年2月1日), in Asia/Tokyo.
"""
from __future__ import annotations

import io
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from itertools import chain
from typing import IO, Any
from urllib.parse import quote

from openpyxl import Workbook
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE, WriteOnlyCell
from openpyxl.styles import Font

from trainer.models import Certificate
from trainer.services import mastery_report, reports
from trainer.services.csvio import write_csv
from trainer.services.figures import Overview, module_counts
from trainer.services.review import JST, Catalogue, Filters, Scope, module_marks, programme_label
from trainer.services.wareki import to_wareki

BLOCK = 64 * 1024
KINDS = {
    "summary": "受講状況集計",
    "modules": "モジュール別集計",
    "records": "受講記録",
    "courses": "コース修了記録",
    "mastery": "習熟度集計",
}
FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@dataclass
class Table:
    """One sheet: a title, Japanese headers and lazily produced rows of plain values."""

    title: str
    header: list[str]
    rows: Iterable[list[Any]]


# --- values --------------------------------------------------------------------------------------

def local_day(value: datetime | None) -> date | None:
    return value.astimezone(JST).date() if value is not None else None


def wareki(value: datetime | None) -> str:
    day = local_day(value)
    return to_wareki(day) if day is not None else ""


def dated(value: datetime | None) -> list[Any]:
    """The two date columns: ISO date and 和暦."""
    return [local_day(value), wareki(value)]


def percent(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


# --- tables --------------------------------------------------------------------------------------

def _figure_cells(figures, courses) -> list[Any]:
    cells: list[Any] = [figures.registered, figures.started]
    for course in courses:
        cells += [figures.completed.get(course.id, 0), percent(figures.rate(course.id))]
    return cells + dated(figures.last_activity)


def summary_tables(scope: Scope, ov: Overview) -> list[Table]:
    """The home screen: municipalities, totals per programme, the total; and the module table."""
    header = ["区分", "団体コード", "名称", "実施事業", "登録受講者数", "受講開始者数"]
    for course in ov.courses:
        header += [f"{course.title} 修了者数", f"{course.title} 修了率（%）"]
    header += ["最終学習日", "最終学習日（和暦）"]

    def rows() -> Iterator[list[Any]]:
        for row in ov.rows:
            yield [row.org.kind_label, row.org.code or "", row.org.name, programme_label(row.programme),
                   *_figure_cells(row.figures, ov.courses)]
        for key, figures in ov.programmes:
            yield ["実施事業別の計", "", programme_label(key), programme_label(key), *_figure_cells(figures, ov.courses)]
        yield ["合計", scope.jurisdiction.code or "", f"{scope.jurisdiction.name} 管内の計", "",
               *_figure_cells(ov.total, ov.courses)]

    modules = Table("モジュール別", ["モジュールID", "モジュール", "コース", "受講開始者数", "最後まで取り組んだ人数",
                                 "合格者数", "合格点（%）"],
                    [[m.module.id, m.module.title, m.courses, m.started, m.finished,
                      m.passed if m.mark is not None else None, m.mark] for m in ov.modules])
    return [Table("市区町村別", header, rows()), modules]


def modules_table(scope: Scope, filters: Filters, cat: Catalogue) -> Table:
    """Started, finished and passed per municipality and module (the drill-down's module table, for all)."""
    _, modules = cat.selected(filters)
    counts = module_counts(scope, filters, cat, [m.id for m in modules])
    marks = module_marks(cat)
    per_unit: dict[tuple[int, str], list[int]] = {}
    for (org_id, module_id), figures in counts.items():
        cell = per_unit.setdefault((scope.unit_of[org_id], module_id), [0, 0, 0])
        for i, n in enumerate(figures):
            cell[i] += n

    def rows() -> Iterator[list[Any]]:
        for unit in scope.selected_units(filters):
            for module in modules:
                started, finished, passed = per_unit.get((unit.id, module.id), (0, 0, 0))
                mark = marks.get(module.id)
                yield [unit.code or "", unit.name, programme_label(scope.programme(unit.id)), module.id,
                       module.title, cat.courses_of(module.id), started, finished,
                       passed if mark is not None else None, mark]

    return Table("モジュール別", ["団体コード", "市区町村", "実施事業", "モジュールID", "モジュール", "コース",
                               "受講開始者数", "最後まで取り組んだ人数", "合格者数", "合格点（%）"], rows())


def records_table(scope: Scope, filters: Filters, cat: Catalogue, unit_id: int | None = None) -> Table:
    header = ["団体コード", "市区町村", "所属", "受講者ID", "氏名", "ふりがな", "モジュールID", "モジュール", "状態",
              "開始日", "開始日（和暦）", "最後まで取り組んだ日", "最後まで取り組んだ日（和暦）", "合格日", "合格日（和暦）",
              "合格点（%）", "最高得点（%）", "受講回数", "最終学習日", "最終学習日（和暦）"]
    source = (reports.record_rows(scope, filters, cat, unit_id) if unit_id is not None
              else reports.all_record_rows(scope, filters, cat))

    def rows() -> Iterator[list[Any]]:
        for r in source:
            yield [r.unit.code or "", r.unit.name, r.org.name, r.user_id, r.name, r.furigana or "", r.module_id,
                   r.module_title, r.status, *dated(r.first_started), *dated(r.first_finished),
                   *dated(r.first_passed), r.outcome.mark, percent(r.best_score), r.attempts, *dated(r.last_activity)]

    return Table("受講記録", header, rows())


def courses_table(scope: Scope, filters: Filters, cat: Catalogue, unit_id: int | None = None) -> Table:
    header = ["団体コード", "市区町村", "所属", "受講者ID", "氏名", "ふりがな", "コース", "状態",
              "条件を満たしたモジュール数", "モジュール数", "修了日", "修了日（和暦）", "期間内の修了",
              "修了証の確認番号", "最終学習日", "最終学習日（和暦）"]
    units = [scope.orgs[unit_id]] if unit_id is not None else scope.selected_units(filters)

    def rows() -> Iterator[list[Any]]:
        for unit in units:
            people = list(reports.trainee_rows(scope, filters, cat, unit.id))  # one municipality at a time
            codes = reports.certificate_codes(scope, [p.user_id for p in people])
            for p in people:
                for state in p.courses:
                    yield [unit.code or "", unit.name, p.org.name, p.user_id, p.name, p.furigana or "",
                           state.course.title, state.label, state.passed, len(state.course.module_ids),
                           *dated(state.completed_on), "はい" if state.in_period else "",
                           codes.get((p.user_id, state.course.id), ""), *dated(p.last_activity)]

    return Table("コース修了記録", header, rows())


def mastery_table(scope: Scope, report: mastery_report.MasteryReport) -> Table:
    header = ["区分", "団体コード", "名称", "練習した受講者数", "項目", "ポイントID", "ポイント", "定着（人）",
              "学習中（人）", "未練習（人）", "定着の割合（%）", "備考"]
    note = f"{report.min_group}人未満のグループは、個人が特定されないよう表示しません"
    groups = [("合計", scope.jurisdiction, report.total)] + [(g.org.kind_label, g.org, g) for g in report.units]

    def rows() -> Iterator[list[Any]]:
        for label, org, group in groups:
            name = f"{org.name} 管内の計" if label == "合計" else org.name
            for item, points in report.items:
                for point in points:
                    head = [label, org.code or "", name]
                    if group.suppressed:
                        yield [*head, None, item.title, point.id, point.title, None, None, None, None, note]
                    else:
                        yield [*head, group.practised, item.title, point.id, point.title,
                               *group.counts(point.id), percent(group.rate([point.id])), ""]

    return Table("習熟度", header, rows())


# --- formats -------------------------------------------------------------------------------------

def csv_blocks(table: Table, size: int = BLOCK) -> Iterator[bytes]:
    """The table as CSV bytes (BOM first), in blocks of about ``size`` bytes."""
    buffer: list[bytes] = []
    length = 0
    for text in write_csv(chain([table.header], table.rows)):
        data = text.encode("utf-8")
        buffer.append(data)
        length += len(data)
        if length >= size:
            yield b"".join(buffer)
            buffer, length = [], 0
    if buffer:
        yield b"".join(buffer)


def _xlsx_value(sheet, value: Any) -> Any:
    """Plain values as they are; text that Excel would take for a formula or an error stays text."""
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if (len(value) > 1 and value.startswith("=")) or value in ERROR_CODES:
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        cell.quotePrefix = True
        return cell
    return value


def xlsx_file(tables: list[Table]) -> IO[bytes]:
    """Write the tables as sheets of one workbook into a temporary file (rewound, caller closes)."""
    book = Workbook(write_only=True)
    bold = Font(bold=True)
    for table in tables:
        sheet = book.create_sheet(table.title[:31])
        sheet.freeze_panes = "A2"
        header = []
        for title in table.header:
            cell = WriteOnlyCell(sheet, value=title)
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        for row in table.rows:
            sheet.append([_xlsx_value(sheet, v) for v in row])
    handle = tempfile.TemporaryFile()
    book.save(handle)
    handle.seek(0)
    return handle


def file_blocks(handle: IO[bytes], size: int = BLOCK) -> Iterator[bytes]:
    try:
        while block := handle.read(size):
            yield block
    finally:
        handle.close()


class _Sink(io.RawIOBase):
    """A write-only, unseekable stream whose bytes are taken out as they are written."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


_UNSAFE_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


def certificate_zip(certs: Iterable[Certificate], render: Callable[[Certificate], bytes]) -> Iterator[bytes]:
    """A ZIP of one PDF per certificate, streamed as each PDF is added."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        for cert in certs:
            name = _UNSAFE_NAME.sub("_", f"{cert.code}_{cert.holder_name}_{cert.course_title}.pdf")
            archive.writestr(name, render(cert))
            yield sink.take()
    yield sink.take()


def content_disposition(label: str, ascii_name: str) -> str:
    """attachment with an ASCII fallback and the Japanese name (RFC 6266 / 5987)."""
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(label)}"
