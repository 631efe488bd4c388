"""The revision sheet (改訂シート) of a point or a case: its item statistics, the opinions on it and
its current text — the document an editorial meeting works from. The screen, the printed page and
the CSV/XLSX files are built from the same :class:`Sheet`, so they show the same figures.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from markupsafe import Markup
from sqlalchemy import select

from trainer.dates import JST
from trainer.extensions import db
from trainer.models import Case, ContentRelease, Module, Opinion, Organization, Point
from trainer.services import itemstats, opinions
from trainer.services.itemstats import ItemStats, PointSummary, StatFilters
from trainer.services.spreadsheets import Conditions, Table


@dataclass
class Sheet:
    kind: str  # "points" | "cases"
    subject: Point | Case
    items: list[ItemStats]
    opinions: list[Opinion]
    summary: PointSummary | None = None
    text: list[tuple[str, str]] = field(default_factory=list)  # (heading, plain text)
    html: list[tuple[str, str]] = field(default_factory=list)  # (heading, sanitized HTML from the import)

    @property
    def title(self) -> str:
        if self.kind == "points":
            return f"{self.subject.id} {self.subject.title}"
        return f"事例「{self.subject.title}」"

    @property
    def flagged(self) -> int:
        return sum(1 for s in self.items if s.flags)


def release_label(release: ContentRelease) -> str:
    return f"第{release.id}版（{release.created_at.astimezone(JST):%Y-%m-%d}取り込み）"


def _case_modules(case_id: str) -> list[str]:
    return list(db.session.scalars(select(Module.id).where(Module.case_id == case_id, Module.retired_at.is_(None))
                                   .order_by(Module.sort, Module.id)))


def build(kind: str, subject: Point | Case, filters: StatFilters, *, with_text: bool = False) -> Sheet:
    if kind == "points":
        questions = itemstats.questions_by_id(itemstats.point_question_ids(subject.id))
        items, rows = itemstats.stats_and_rows(questions, filters)  # the questions the point's summary counts too
        found = opinions.for_editor(point_id=subject.id, question_ids=[q.id for q in questions])
        sheet = Sheet(kind, subject, items, found, summary=itemstats.summary_of(rows))
    else:
        questions = itemstats.module_questions(_case_modules(subject.id))
        items = itemstats.question_stats(questions, filters)
        found = opinions.for_editor(case_id=subject.id, question_ids=[q.id for q in questions])
        sheet = Sheet(kind, subject, items, found)
    if with_text:
        sheet.html, sheet.text = _current_text(kind, subject)
    return sheet


def _current_text(kind: str, subject: Point | Case) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The text as it stands: a point's explanation and pitfalls; a case's summary and stages."""
    if kind == "points":
        pitfalls = "\n".join(f"・{p}" for p in subject.pitfalls or [])
        plain = [("説明", subject.explanation), ("陥りやすいこと", pitfalls)]
        return [(h, str(Markup.escape(t)).replace("\n", "<br>")) for h, t in plain], plain
    html = [("概要", str(Markup.escape(subject.summary)))]
    html += [(s.title, s.html) for s in subject.stages if s.retired_at is None]
    plain = [("概要", subject.summary)] + [(s.title, Markup(s.html).striptags()) for s in subject.stages
                                          if s.retired_at is None]
    return html, plain


# --- files ---------------------------------------------------------------------------------

OPINION_HEADER = ["意見ID", "受付日", "対象", "意見・質問", "対応状況", "タグ", "回答", "回答日", "反映した版"]


def opinion_rows(found: list[Opinion]) -> list[list[Any]]:
    cases, points, questions = opinions.titles()
    return [[o.id, o.created_at.astimezone(JST).date(), opinions.target_label(o, cases, points, questions), o.body,
             opinions.STATUS_LABELS.get(o.status, o.status), "、".join(o.tags or []), o.reply or "",
             o.replied_at.astimezone(JST).date() if o.replied_at else None,
             f"第{o.resolved_release_id}版" if o.resolved_release_id else ""] for o in found]


def tables(sheet: Sheet, what: str, *, single: bool) -> list[Table]:
    """The statistics table (``stats``), or the whole sheet: statistics, opinions, text (``sheet``).
    A CSV holds one table: the sheet's CSV is the opinions with their statistics' flags in the rows
    above (one table with a 区分 column)."""
    stats = Table("項目統計", itemstats.HEADER, list(itemstats.table_rows(sheet.items)))
    if what == "stats":
        return [stats]
    ops = Table("意見", OPINION_HEADER, opinion_rows(sheet.opinions))
    text = Table("現在の本文", ["見出し", "本文"], [[h, t] for h, t in sheet.text])
    if not single:
        return [stats, ops, text]
    width = max(len(stats.header), len(ops.header))
    pad = lambda row: list(row) + [None] * (width + 1 - len(row) - 1)  # noqa: E731
    rows = ([["項目統計", *pad(r)] for r in [stats.header, *stats.rows]]
            + [["意見", *pad(r)] for r in [ops.header, *ops.rows]]
            + [["現在の本文", *pad(r)] for r in [text.header, *text.rows]])
    return [Table("改訂シート", ["区分", *(f"列{i}" for i in range(1, width + 1))], rows)]


def conditions(sheet: Sheet, filters: StatFilters, what: str, produced_at: datetime) -> Conditions:
    release = db.session.get(ContentRelease, filters.release_id) if filters.release_id else None
    prefecture = db.session.get(Organization, filters.prefecture_id) if filters.prefecture_id else None
    period = (f"{filters.since or '最初'}〜{filters.until or '現在'}" if filters.since or filters.until
              else "指定なし（これまでのすべての回答）")
    items = [("対象", sheet.title), ("教材の版", release_label(release) if release else "現在の版"),
             ("期間", period), ("受講の形", itemstats.MODES.get(filters.mode or "", "指定なし（自習と研修会）")),
             ("都道府県", prefecture.name if prefecture else "指定なし（全国）")]
    notes = [f"各受講者の1回目の取り組みの回答を数えます。回答が{itemstats.MIN_RESPONSES}件未満の問題は、"
             "割合・識別力・注意を空欄にしています。",
             "正答率は「最適」を選んだ割合、括弧の範囲はWilsonの95%信頼区間です。識別力はモジュールの得点との点双列相関と、"
             "上位・下位27%の正答率の差です。"]
    title = "項目統計" if what == "stats" else "改訂シート"
    subject_id = sheet.subject.id
    names = [sheet.title] + ([prefecture.name] if prefecture else [])
    return Conditions(title, "全国（教材担当）", items, produced_at, notes, names,
                      [what, subject_id, *(["pref" + (prefecture.code or "")] if prefecture else [])])
