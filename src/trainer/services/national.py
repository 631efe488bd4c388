"""The national view (国): completion and 50-point mastery by jurisdiction (the 47 prefectures and
the 20 designated cities) and nationwide, with subtotals per support programme — and never a
personal record: every figure here is a count over a group, and nothing names or identifies a
trainee.

The words are the reviewers' (services/figures for completion: registered, started, completed per
course; services/mastery_report for 定着 over the point_mastery summary; services/counted for who
counts). The national view counts all records (no period filter: a period would open the
"until D minus until D-1" subtraction that the reviewers' safe boundaries exist for).

The small-group rule (services/disclosure) applies with the **jurisdiction as the unit**:

- a jurisdiction whose group is 1 .. min_group-1 people is hidden, and when the hidden ones
  together are still fewer than min_group the smallest shown ones are hidden too (complementary
  suppression), so that "nationwide total minus the shown jurisdictions" never describes fewer
  than min_group people. The completion table groups by registered trainees, the mastery table by
  trainees who practised;
- the per-programme subtotals are a second set of groups under the same nationwide total and get
  the same rule;
- when the nationwide total itself is too small, nothing is shown.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from itertools import chain
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.sql import Select

from trainer.extensions import db
from trainer.models import Organization, OrgKind, User
from trainer.services import disclosure, mastery, mastery_report
from trainer.services.counted import counted_trainee
from trainer.services.figures import Figures, trainee_totals
from trainer.services.mastery_report import GroupMastery
from trainer.services.review import PROGRAMME_CHOICES, UNSET, Catalogue, CourseInfo
from trainer.services.spreadsheets import Conditions, Table, dated, percent

KIND_LABELS = {OrgKind.PREFECTURE: "都道府県", OrgKind.DESIGNATED_CITY: "政令指定都市"}


@dataclass
class NationalScope:
    """Every organization inside a jurisdiction, with its jurisdiction and its programme (the
    programme of its municipality-level unit: an office inherits its municipality's)."""

    jurisdictions: list[Organization]
    jurisdiction_of: dict[int, int]
    programme_of: dict[int, str]

    def jurisdiction(self, org_id: int) -> Organization | None:
        return next((j for j in self.jurisdictions if j.id == org_id), None)


def load_scope() -> NationalScope:
    """The 67 jurisdictions in code order (a designated city right after its prefecture) and, for
    every organization under them, its jurisdiction and programme — two queries."""
    jurisdictions = list(db.session.scalars(
        select(Organization).where(Organization.kind.in_([OrgKind.PREFECTURE, OrgKind.DESIGNATED_CITY]))
        .order_by(Organization.code)))
    rows = db.session.execute(select(Organization.id, Organization.kind, Organization.parent_id,
                                     Organization.jurisdiction_id, Organization.programme)
                              .where(Organization.jurisdiction_id.is_not(None))).all()
    by_id = {r.id: r for r in rows}
    jurisdiction_of, programme_of = {}, {}
    for r in rows:
        unit = by_id.get(r.parent_id) if r.kind == OrgKind.OFFICE and r.parent_id in by_id else r
        jurisdiction_of[r.id] = r.jurisdiction_id
        programme_of[r.id] = unit.programme or UNSET
    return NationalScope(jurisdictions, jurisdiction_of, programme_of)


# --- the groups ------------------------------------------------------------------------------------

@dataclass
class Group:
    """One jurisdiction, one programme or the whole country: completion and mastery figures, each
    with its own suppression flag."""

    key: str
    label: str
    org: Organization | None = None
    figures: Figures = field(default_factory=Figures)
    mastery: GroupMastery = field(default_factory=lambda: GroupMastery(None))
    hidden: bool = False          # completion figures withheld
    mastery_hidden: bool = False  # mastery figures withheld

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.org.kind, "") if self.org is not None else ""

    @property
    def code(self) -> str:
        return (self.org.code or "") if self.org is not None else ""


@dataclass
class NationalReport:
    courses: list[CourseInfo]
    items: list
    total: Group
    jurisdictions: list[Group]
    programmes: list[Group]
    min_group: int

    @property
    def point_ids(self) -> list[str]:
        return [p.id for _, points in self.items for p in points]

    def group(self, jurisdiction_id: int) -> Group | None:
        return next((g for g in self.jurisdictions if g.org is not None and g.org.id == jurisdiction_id), None)

    def weakest(self, n: int = 5):
        """Nationwide: the practised points with the lowest share of 定着 (empty when withheld)."""
        if self.total.mastery_hidden or not self.total.mastery.practised:
            return []
        rates = [(p, self.total.mastery.rate([p.id]) or 0.0) for _, points in self.items for p in points
                 if self.total.mastery.answered.get(p.id)]
        return sorted(rates, key=lambda pr: (pr[1], pr[0].sort))[:n]


def people() -> Select:
    """(user_id, org_id) of every counted trainee (services/counted) in any jurisdiction: the one
    query builder every national figure starts from (no other national query selects people)."""
    return (select(User.id.label("user_id"), User.organization_id.label("org_id"))
            .join(Organization, Organization.id == User.organization_id)
            .where(Organization.jurisdiction_id.is_not(None), counted_trainee()))


def completion_by_org(cat: Catalogue, courses: list[CourseInfo]) -> dict[int, Figures]:
    """Registered, started, completed per course and last activity, per organization (the same
    counting as the reviewers' services/figures.org_figures, over all records)."""
    who = people().subquery("people")
    out: dict[int, Figures] = defaultdict(lambda: Figures(completed=dict.fromkeys((c.id for c in courses), 0)))
    for org_id, count in db.session.execute(select(who.c.org_id, func.count()).group_by(who.c.org_id)):
        out[org_id].registered = count
    module_ids = sorted({m for c in courses for m in c.module_ids})
    if not module_ids:
        return dict(out)
    users = trainee_totals(who, cat.attempts_in(module_ids), courses, None, None).subquery("trainee_totals")
    columns = [User.organization_id, func.count(), func.max(users.c.last_activity)]
    columns += [func.sum(case((users.c[f"n_{i}"] == len(c.module_ids), 1), else_=0)) for i, c in enumerate(courses)]
    stmt = select(*columns).join(User, User.id == users.c.user_id).group_by(User.organization_id)
    for org_id, started, last, *done in db.session.execute(stmt):
        figures = out[org_id]
        figures.started, figures.last_activity = int(started or 0), last
        figures.completed = {c.id: int(n or 0) for c, n in zip(courses, done)}
    return dict(out)


def refresh_mastery() -> None:
    """Bring the point_mastery summary up to date before it is read, as the reviewers' map does (the
    one place the national view asks for it). Where the house refreshes the summaries off the request
    (mastery_report._refresh_when_read decides), the national view follows the same rule."""
    reviewers_rule = getattr(mastery_report, "_refresh_when_read", None)
    if reviewers_rule is not None:
        reviewers_rule()
    elif mastery.refresh_summary():
        db.session.commit()  # derived data only: keep what was folded in for the next view


def mastery_by_org() -> dict[int, GroupMastery]:
    """定着 / answered per point and trainees who practised, per organization (mastery_report's rule)."""
    refresh_mastery()
    return mastery_report._summary_by_org(people().subquery("people"))


# --- the report ------------------------------------------------------------------------------------

def report(cat: Catalogue, courses: list[CourseInfo] | None = None) -> NationalReport:
    """Nationwide, per jurisdiction and per programme, with the small-group rule applied."""
    scope = load_scope()
    courses = cat.courses if courses is None else courses
    minimum = disclosure.min_group()

    def blank(key: str, label: str, org: Organization | None = None) -> Group:
        return Group(key, label, org, Figures(completed=dict.fromkeys((c.id for c in courses), 0)))

    total = blank("total", "全国")
    units = {j.id: blank(str(j.id), j.name, j) for j in scope.jurisdictions}
    programmes = {key: blank(key, label) for key, label in PROGRAMME_CHOICES.items()}
    for org_id, figures in completion_by_org(cat, courses).items():
        for group in (units.get(scope.jurisdiction_of.get(org_id)), programmes[scope.programme_of.get(org_id, UNSET)],
                      total):
            if group is not None:
                group.figures.add(figures)
    for org_id, group_mastery in mastery_by_org().items():
        for group in (units.get(scope.jurisdiction_of.get(org_id)), programmes[scope.programme_of.get(org_id, UNSET)],
                      total):
            if group is not None:
                mastery_report._merge(group.mastery, group_mastery)
    shown_programmes = [g for g in programmes.values() if g.figures.registered]
    _suppress(total, list(units.values()), minimum)
    _suppress(total, shown_programmes, minimum)
    return NationalReport(courses, mastery_report.point_items(), total, list(units.values()), shown_programmes, minimum)


def _suppress(total: Group, groups: list[Group], minimum: int) -> None:
    """The small-group rule over groups shown side by side under the nationwide total."""
    total.hidden = disclosure.too_small(total.figures.registered, minimum)
    total.mastery_hidden = disclosure.too_small(total.mastery.practised, minimum)
    hidden = disclosure.suppressed_groups({i: g.figures.registered for i, g in enumerate(groups)}, minimum)
    hidden_mastery = disclosure.suppressed_groups({i: g.mastery.practised for i, g in enumerate(groups)}, minimum)
    for i, group in enumerate(groups):
        group.hidden = i in hidden or (total.hidden and group.figures.registered > 0)
        group.mastery_hidden = i in hidden_mastery or (total.mastery_hidden and group.mastery.practised > 0)


# --- exports ---------------------------------------------------------------------------------------

KINDS = {"summary": "全国の受講状況集計", "mastery": "全国の習熟度集計"}
WITHHELD = "非表示（少人数のため）"


def conditions(kind: str, report_: NationalReport, course: CourseInfo | None, produced_at) -> Conditions:
    items = [("期間", "指定なし（これまでのすべての記録）"),
             ("コース", course.title if course else "指定なし（すべてのコース）"),
             ("集計の単位", "都道府県・政令指定都市（政令指定都市の受講者は、その市の行に数え、道府県の行には含めません）"),
             ("合計の範囲", "全国の計")]
    notes = [f"登録受講者（修了の表）または練習した受講者（習熟度）が{report_.min_group}人未満の都道府県・政令指定都市は、"
             "個人が特定されないよう数字を表示しません。全国の計から差し引いて分かってしまう場合は、ほかの小さな行も"
             "表示しません。実施事業別の計にも同じ規則を当てます。個人の記録は含みません。"]
    if kind == "summary":
        notes.insert(0, "受講開始：いずれかのモジュールを始めた人。修了者：コースのすべてのモジュールに合格した人。"
                        "修了率＝修了者÷登録受講者。定着の割合：練習した受講者と50の支援のポイントの組のうち「定着」の割合。")
    names = ["全国", *([course.title] if course else [])]
    ascii_parts = [f"national-{kind}", *([course.id] if course else [])]
    return Conditions(KINDS[kind], "全国", items, produced_at, notes, names, ascii_parts)


def _summary_cells(group: Group, courses: list[CourseInfo], point_ids: list[str]) -> list[Any]:
    head = [group.code, group.label]
    if group.hidden:
        cells: list[Any] = [None] * (2 + 2 * len(courses) + 2)
    else:
        cells = [group.figures.registered, group.figures.started]
        for course in courses:
            cells += [group.figures.completed.get(course.id, 0), percent(group.figures.rate(course.id))]
        cells += dated(group.figures.last_activity)
    if group.mastery_hidden:
        cells += [None, None]
    else:
        cells += [group.mastery.practised, percent(group.mastery.rate(point_ids))]
    note = "・".join(x for x in ("修了" if group.hidden else "", "習熟度" if group.mastery_hidden else "") if x)
    return [*head, *cells, f"{note}：{WITHHELD}" if note else ""]


def summary_tables(report_: NationalReport, *, single: bool = False) -> list[Table]:
    """Jurisdictions, subtotals per programme and the total: one sheet each, or (CSV) one table
    with a 「区分」 column."""
    columns = ["団体コード", "名称", "登録受講者数", "受講開始者数"]
    for course in report_.courses:
        columns += [f"{course.title} 修了者数", f"{course.title} 修了率（%）"]
    columns += ["最終学習日", "最終学習日（和暦）", "練習した受講者数", "定着の割合（%）", "備考"]

    def jurisdictions() -> Iterator[list[Any]]:
        for g in report_.jurisdictions:
            yield [g.kind_label, *_summary_cells(g, report_.courses, report_.point_ids)]

    def programmes() -> Iterator[list[Any]]:
        for g in report_.programmes:
            yield ["実施事業別の計", *_summary_cells(replace(g, label=f"{g.label}の計"), report_.courses, report_.point_ids)]

    def total() -> Iterator[list[Any]]:
        yield ["全国", *_summary_cells(replace(report_.total, label="全国の計"), report_.courses, report_.point_ids)]

    if single:
        return [Table("全国の受講状況", ["区分", *columns], chain(jurisdictions(), programmes(), total()))]
    return [Table("都道府県・政令指定都市別", ["区分", *columns], jurisdictions()),
            Table("実施事業別の計", ["区分", *columns], programmes()), Table("全国の計", ["区分", *columns], total())]


def mastery_table(report_: NationalReport) -> Table:
    header = ["区分", "団体コード", "名称", "練習した受講者数", "項目", "ポイントID", "ポイント", "定着（人）",
              "学習中（人）", "未練習（人）", "定着の割合（%）", "備考"]
    groups = [("全国", replace(report_.total, label="全国の計"))]
    groups += [(g.kind_label, g) for g in report_.jurisdictions]
    groups += [("実施事業別の計", replace(g, label=f"{g.label}の計")) for g in report_.programmes]

    def rows() -> Iterator[list[Any]]:
        for kind, group in groups:
            m = group.mastery
            for item, points in report_.items:
                for point in points:
                    head = [kind, group.code, group.label]
                    if group.mastery_hidden:
                        yield [*head, None, item.title, point.id, point.title, None, None, None, None, WITHHELD]
                    elif not m.practised:
                        yield [*head, 0, item.title, point.id, point.title, 0, 0, 0, None, ""]
                    else:
                        yield [*head, m.practised, item.title, point.id, point.title, *m.counts(point.id),
                               percent(m.rate([point.id])), ""]

    return Table("全国の習熟度", header, rows())
