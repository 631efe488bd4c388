"""Reviewer exports: the tables behind each screen, as CSV, XLSX (services/spreadsheets: conditions,
encodings, widths, date cells) or a ZIP of certificate PDFs.

Each table holds one kind of row: municipalities, per-programme subtotals and the total are separate
sheets in a workbook (a SUM over a sheet adds like with like); a CSV keeps them in one table with a
「区分」 column to filter on. Totals say what they total (the selection: 「横須賀市の計」, 「神奈川県
管内の計」). Dates come as a date and its 和暦, in Asia/Tokyo.
"""
from __future__ import annotations

import io
import re
import zipfile
from itertools import chain
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from trainer.models import Certificate
from trainer.services import completion, mastery_report, reports
from trainer.services.figures import Overview, module_counts
from trainer.services.review import PROGRAMME_CHOICES, Catalogue, Filters, Scope, module_marks, programme_label
from trainer.services.spreadsheets import Conditions, Table, dated, percent

KINDS = {
    "summary": "受講状況集計",
    "modules": "モジュール別集計",
    "records": "受講記録",
    "courses": "コース修了記録",
    "mastery": "習熟度集計",
}
NOTES = {
    "summary": ["受講開始：期間内にいずれかのモジュールを初めて始めた人。修了者：期間内にコースのすべてのモジュールに"
                "合格した人（合格＝最後まで回答し、得点がコースの合格点以上。何度目の取り組みでも、ライブ研修でも自習でも"
                "同じに数えます）。修了率＝修了者÷登録受講者。"],
    "modules": ["受講開始・最後まで取り組んだ・合格は、それぞれ初めてそうなった日が期間内にある人の数です。"],
    "records": ["状態：合格＝合格点に届いた取り組みがある／合格点未満＝最後まで回答したが届かない／学習中＝途中。"
                "日付はそれぞれ初めてそうなった日です。"],
    "courses": ["修了＝コースのすべてのモジュールに合格（コースに合格点がなければ最後まで回答）。修了日は最後のモジュールが"
                "条件を満たした日です。"],
    "mastery": [],
}


def selection_label(scope: Scope, filters: Filters) -> str:
    """What a total totals: the selected organization, municipality or programme, or the jurisdiction."""
    parts = []
    if filters.organization_id is not None:
        parts.append(scope.orgs[filters.organization_id].name)
    elif filters.municipality_id is not None:
        parts.append(scope.orgs[filters.municipality_id].name)
    if filters.programme is not None:
        parts.append(f"{PROGRAMME_CHOICES[filters.programme]}を実施する市区町村")
    return ("・".join(parts) + "の計") if parts else f"{scope.jurisdiction.name} 管内の計"


def conditions(kind: str, scope: Scope, filters: Filters, cat: Catalogue, produced_at: datetime,
               extra: list[str] | None = None) -> Conditions:
    """The condition block and file-name parts of one reviewer export: every filter, set or not."""
    course = cat.course(filters.course_id)
    period = (f"{filters.since or '最初'}〜{filters.until or '現在'}" if filters.since or filters.until
              else "指定なし（これまでのすべての記録）")
    org = scope.orgs.get(filters.organization_id) if filters.organization_id is not None else None
    unit = scope.orgs.get(filters.municipality_id) if filters.municipality_id is not None else None
    items = [("期間", period), ("市区町村", unit.name if unit else "指定なし（管内のすべて）"),
             ("所属", org.name if org else "指定なし"), ("コース", course.title if course else "指定なし（すべてのコース）"),
             ("実施事業", PROGRAMME_CHOICES[filters.programme] if filters.programme else "指定なし"),
             ("合計の範囲", selection_label(scope, filters))]
    names = [scope.jurisdiction.name, *(x for x in ((unit or org).name if (unit or org) else None,
                                                    course.title if course else None,
                                                    PROGRAMME_CHOICES[filters.programme] if filters.programme else None) if x)]
    if filters.since or filters.until:
        names.append(f"{filters.since or ''}〜{filters.until or ''}")
    ascii_parts = [kind, scope.jurisdiction.code or str(scope.id)]
    if unit or org:
        ascii_parts.append(f"org{(unit or org).code or (unit or org).id}")
    if course:
        ascii_parts.append(course.id)
    if filters.programme:
        ascii_parts.append(filters.programme)
    if filters.since or filters.until:
        ascii_parts.append(f"{filters.since or ''}_{filters.until or ''}".replace("-", ""))
    return Conditions(KINDS[kind], f"{scope.jurisdiction.name}（{scope.jurisdiction.code or ''}）", items, produced_at,
                      [*NOTES[kind], *(extra or [])], names, ascii_parts)


# --- tables --------------------------------------------------------------------------------------

def _figure_cells(figures, courses) -> list[Any]:
    cells: list[Any] = [figures.registered, figures.started]
    for course in courses:
        cells += [figures.completed.get(course.id, 0), percent(figures.rate(course.id))]
    return cells + dated(figures.last_activity)


def summary_tables(scope: Scope, filters: Filters, ov: Overview, *, single: bool = False) -> list[Table]:
    """The home screen: municipalities, subtotals per programme, the total, and the module table —
    one sheet each; with ``single`` (CSV) one table whose 「区分」 column tells the rows apart."""
    columns = ["登録受講者数", "受講開始者数"]
    for course in ov.courses:
        columns += [f"{course.title} 修了者数", f"{course.title} 修了率（%）"]
    columns += ["最終学習日", "最終学習日（和暦）"]
    head = ["団体コード", "名称", "実施事業"]
    total_label = selection_label(scope, filters)

    def units() -> Iterator[list[Any]]:
        for row in ov.rows:
            yield [row.org.code or "", row.org.name, programme_label(row.programme), *_figure_cells(row.figures, ov.courses)]

    def programmes() -> Iterator[list[Any]]:
        for key, figures in ov.programmes:
            yield ["", f"{programme_label(key)}の計", programme_label(key), *_figure_cells(figures, ov.courses)]

    def total() -> Iterator[list[Any]]:
        code = (scope.jurisdiction.code or "") if total_label.endswith("管内の計") else ""
        yield [code, total_label, "", *_figure_cells(ov.total, ov.courses)]

    modules = Table("モジュール別", ["モジュールID", "モジュール", "コース", "受講開始者数", "最後まで取り組んだ人数",
                                 "合格者数", "合格点（%）"],
                    [[m.module.id, m.module.title, m.courses, m.started, m.finished,
                      m.passed if m.mark is not None else None, m.mark] for m in ov.modules])
    if single:
        rows = chain((["市区町村", *r] for r in units()), (["実施事業別の計", *r] for r in programmes()),
                     (["合計", *r] for r in total()))
        return [Table("受講状況", ["区分", *head, *columns], rows)]
    return [Table("市区町村別", head + columns, units()), Table("実施事業別の計", head + columns, programmes()),
            Table("合計", head + columns, total()), modules]


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
    source = (reports.record_lines(scope, filters, cat, unit_id) if unit_id is not None
              else reports.all_record_lines(scope, filters, cat))
    places: dict[int, tuple[str, str, str]] = {}  # organization id -> its three cells, worked out once
    labels = completion.STATUS_LABELS
    status = completion.status_of

    def place(org_id: int) -> tuple[str, str, str]:
        unit = scope.orgs[scope.unit_of[org_id]]
        return places.setdefault(org_id, (unit.code or "", unit.name, scope.orgs[org_id].name))

    def rows() -> Iterator[list[Any]]:
        for (user_id, name, furigana, org_id, module_id, title, mark, started, finished, passed, best, attempts,
             _, last, _) in source:
            yield [*(places.get(org_id) or place(org_id)), user_id, name, furigana or "", module_id, title,
                   labels[status(mark, started, finished, passed)], *dated(started), *dated(finished), *dated(passed),
                   mark, percent(best), attempts, *dated(last)]

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


def mastery_table(scope: Scope, filters: Filters, report: mastery_report.MasteryReport) -> Table:
    header = ["区分", "団体コード", "名称", "練習した受講者数", "項目", "ポイントID", "ポイント", "定着（人）",
              "学習中（人）", "未練習（人）", "定着の割合（%）", "備考"]
    note = f"{report.min_group}人未満のグループは、個人が特定されないよう表示しません"
    groups = [("合計", scope.jurisdiction, report.total)] + [(g.org.kind_label, g.org, g) for g in report.units]
    total_label = selection_label(scope, filters)

    def rows() -> Iterator[list[Any]]:
        for label, org, group in groups:
            name = total_label if label == "合計" else org.name
            for item, points in report.items:
                for point in points:
                    head = [label, org.code or "", name]
                    if group.suppressed:
                        yield [*head, None, item.title, point.id, point.title, None, None, None, None, note]
                    else:
                        yield [*head, group.practised, item.title, point.id, point.title,
                               *group.counts(point.id), percent(group.rate([point.id])), ""]

    return Table("習熟度", header, rows())


# --- certificates -------------------------------------------------------------------------------

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
