"""The 50-point mastery map of a jurisdiction and of each municipality, with small groups suppressed.

The rule is the trainees' own (services/mastery: the latest scored answer per question; 定着 = at least
MIN_SECURE_QUESTIONS answered with a mean of SECURE_SCORE or more), counted per organization in SQL.
services/disclosure has the small-group rule; here it is applied so that no two permitted views can
be subtracted to describe fewer than ``min_group`` people:

- a group is shown only when at least ``min_group`` trainees practised; when the hidden groups
  together are fewer than that, the smallest shown groups are hidden too (complementary suppression);
- a filtered selection (an organization, a municipality, a programme) is shown only when the rest of
  every enclosing total (its municipality, the jurisdiction) is empty or at least ``min_group``
  (otherwise "municipality minus office" would describe the office's neighbours);
- a period is widened to whole months, and then to *safe boundaries*: months are grouped from the
  first one so that each group holds at least ``min_group`` practising trainees, and a period may
  only start or end between groups (otherwise "until D" minus "until D-1" would describe the few who
  practised on day D). The widened period is shown on the page and written in the export.
"""
from __future__ import annotations

from collections import defaultdict
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import and_, case, exists, func, select, text

from trainer.extensions import db
from trainer.models import Answer, Item, Organization, Point, QuestionPoint, User
from trainer.models import MasteryMonth as Month
from trainer.models import PointMastery as Summary
from trainer.services import disclosure, mastery, mastery_spans
from trainer.services.review import JST, Filters, Scope, trainees

MIN_GROUP_SIZE = disclosure.MIN_GROUP_SIZE


@dataclass
class GroupMastery:
    """Mastery of the 50 points in a group of trainees (a municipality, or the whole selection)."""

    org: Organization | None
    practised: int = 0
    secure: dict[str, int] = field(default_factory=dict)
    answered: dict[str, int] = field(default_factory=dict)
    suppressed: bool = False
    complement: bool = False  # suppressed because the rest of an enclosing total would be too small

    def counts(self, point_id: str) -> tuple[int, int, int]:
        """(定着, 学習中, 未練習) trainees for a point."""
        secure, answered = self.secure.get(point_id, 0), self.answered.get(point_id, 0)
        return secure, answered - secure, self.practised - answered

    def rate(self, point_ids: list[str]) -> float | None:
        """Percent of (trainee, point) pairs that are 定着, over the given points."""
        if not self.practised or not point_ids:
            return None
        return 100.0 * sum(self.secure.get(p, 0) for p in point_ids) / (self.practised * len(point_ids))

    @property
    def shown(self) -> bool:
        return self.practised > 0 and not self.suppressed


@dataclass
class MasteryReport:
    items: list[tuple[Item, list[Point]]]
    total: GroupMastery
    units: list[GroupMastery]
    min_group: int
    filters: Filters | None = None  # as counted: the period widened to safe boundaries

    @property
    def period(self) -> tuple[date | None, date | None]:
        return (self.filters.since, self.filters.until) if self.filters else (None, None)

    def weakest(self, n: int = 5) -> list[tuple[Point, float]]:
        """Practised points with the lowest share of 定着 in the selection (empty when suppressed)."""
        if not self.total.shown:
            return []
        rates = [(p, self.total.rate([p.id]) or 0.0) for _, points in self.items for p in points
                 if self.total.answered.get(p.id)]
        return sorted(rates, key=lambda pr: (pr[1], pr[0].sort))[:n]

    def unpractised(self) -> list[Point]:
        """Points nobody in the selection has practised yet (empty when suppressed)."""
        if not self.total.shown:
            return []
        return [p for _, points in self.items for p in points if not self.total.answered.get(p.id)]


def point_items() -> list[tuple[Item, list[Point]]]:
    items = db.session.scalars(select(Item).order_by(Item.number)).all()
    return [(item, [p for p in item.points if p.retired_at is None]) for item in items]


def mastery_report(scope: Scope, filters: Filters, min_group: int = MIN_GROUP_SIZE) -> MasteryReport:
    """The selection's total and each selected municipality, suppressed where too small — or where
    a difference with another permitted view would be too small (see the module docstring)."""
    token = _usable.set({})
    try:
        return _report(scope, filters, min_group)
    finally:
        _usable.reset(token)


_usable: ContextVar[dict[int, bool] | None] = ContextVar("mastery_spans_usable", default=None)


def _report(scope: Scope, filters: Filters, min_group: int) -> MasteryReport:
    _refresh_when_read()
    filters = safe_period(scope, filters, min_group)
    by_org = _mastery_by_org(scope, filters)
    units = {u.id: GroupMastery(u) for u in scope.selected_units(filters)}
    total = GroupMastery(None)
    for org_id, group in by_org.items():
        for target in (units.get(scope.unit_of[org_id]), total):
            if target is not None:
                _merge(target, group)
    total.suppressed = disclosure.too_small(total.practised, min_group)
    if not total.suppressed and _filtered(filters):
        total.suppressed = not _complements_safe(scope, filters, total.practised, min_group)
        total.complement = total.suppressed
    hidden = disclosure.suppressed_groups({u: g.practised for u, g in units.items()}, min_group)
    for unit_id in hidden:
        units[unit_id].suppressed = True
    if total.suppressed:
        for unit in units.values():  # a unit row would show what the total withholds
            unit.suppressed = unit.suppressed or unit.practised > 0
    return MasteryReport(point_items(), total, list(units.values()), min_group, filters)


def _filtered(filters: Filters) -> bool:
    return any(x is not None for x in (filters.organization_id, filters.municipality_id, filters.programme))


def _complements_safe(scope: Scope, filters: Filters, practised: int, min_group: int) -> bool:
    """The selection beside each total that encloses it: the rest must be empty or big enough."""
    wider = [replace(filters, organization_id=None, municipality_id=None, programme=None)]
    if filters.organization_id is not None and filters.programme is None:
        wider.insert(0, replace(filters, organization_id=None, municipality_id=scope.unit_of[filters.organization_id]))
    for enclosing in wider:
        whole = practised_count(scope, enclosing)
        if not disclosure.safe_part(practised, whole, min_group):
            return False
    return True


def practised_count(scope: Scope, filters: Filters) -> int:
    """Trainees of a selection who practised (a scored answer, in the period if one is given)."""
    return sum(g.practised for g in _mastery_by_org(scope, filters, counts_only=True).values())


# --- periods cut only where both sides hold enough people ------------------------------------

def safe_period(scope: Scope, filters: Filters, min_group: int) -> Filters:
    """The filters with their period widened to whole months and then to safe boundaries."""
    if filters.since is None and filters.until is None:
        return filters
    whole = replace(filters, since=None, until=None)
    counts = _practising_per_month(scope, whole)
    if all(n >= min_group for _, n in counts):  # every month is a group of its own: no need for who
        cuts = [month for month, _ in counts[1:]]
    else:
        cuts = _safe_cuts(_practising_by_month(scope, whole), min_group)
    since = _month_start(filters.since) if filters.since else None
    until = _month_after(filters.until) if filters.until else None  # exclusive: the first day after
    since = max((c for c in cuts if since is not None and c <= since), default=None)
    until = min((c for c in cuts if until is not None and c >= until), default=None)
    return replace(filters, since=since, until=until - timedelta(days=1) if until else None)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _month_after(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def _safe_cuts(months: list[tuple[date, set[int]]], min_group: int) -> list[date]:
    """Month starts where a period may begin or end: consecutive groups of months each hold at
    least ``min_group`` distinct practising trainees (the last group joins the one before it when
    it is too small). ``months``: (first day, trainees who practised in it), in order."""
    cuts: list[date] = []
    people: set[int] = set()
    for index, (start, who) in enumerate(months):
        people |= who
        if len(people) >= min_group and index + 1 < len(months):
            cuts.append(months[index + 1][0])
            people = set()
    if cuts and 0 < len(people) < min_group:
        cuts.pop()  # the last group is too small on its own: it joins the one before
    return cuts


def _practising_per_month(scope: Scope, filters: Filters) -> list[tuple[date, int]]:
    """Per month with scored answers of the selection: how many practised in it."""
    if filters.until is None and _spans_usable(scope):  # no registration cut: everyone counted now
        return mastery_spans.practising_per_month(scope.org_ids(filters))
    people = trainees(scope, filters).subquery("people")
    stmt = (select(Month.month, func.count()).where(Month.user_id.in_(select(people.c.user_id)),
                                                    Month.point_id == mastery.ALL_POINTS)
            .group_by(Month.month).order_by(Month.month))
    return [(month, int(n)) for month, n in db.session.execute(stmt)]


def _practising_by_month(scope: Scope, filters: Filters) -> list[tuple[date, set[int]]]:
    """Per month (Asia/Tokyo) with scored answers of the selection: who practised in it (mastery_months)."""
    people = trainees(scope, filters).subquery("people")
    stmt = select(Month.user_id, Month.month).where(Month.user_id.in_(select(people.c.user_id)),
                                                    Month.point_id == mastery.ALL_POINTS)
    by_month: dict[date, set[int]] = defaultdict(set)
    for user_id, month in db.session.execute(stmt):
        by_month[month].add(user_id)
    return sorted(by_month.items())


def _jst_day(moment: datetime) -> date:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(JST).date()


def _merge(target: GroupMastery, group: GroupMastery) -> None:
    target.practised += group.practised
    for key in group.answered:
        target.answered[key] = target.answered.get(key, 0) + group.answered[key]
        target.secure[key] = target.secure.get(key, 0) + group.secure.get(key, 0)


def _refresh_when_read() -> None:
    """Only with MASTERY_REFRESH_SECONDS = 0 (tests, a one-person trial): bring the summaries up to
    date here. Otherwise they are rebuilt off the request (mastery_refresh.py)."""
    if current_app.config["MASTERY_REFRESH_SECONDS"] <= 0:
        mastery.refresh_summary()
        db.session.commit()  # derived data only: keep what was rebuilt for the next view


def _mastery_by_org(scope: Scope, filters: Filters, counts_only: bool = False) -> dict[int, GroupMastery]:
    """Figures per organization: from the per-organization spans (mastery_orgs) while they hold
    exactly the scope's counted trainees; otherwise from the point_mastery summary, or, when a period
    limits which answers count, from the per-month summary (mastery_months) of its whole months."""
    _refresh_when_read()
    people = trainees(scope, filters).subquery("people")
    if _whole_months(filters) and _spans_usable(scope):
        return _spans_by_org(scope, filters, people, counts_only)
    if filters.since is None and filters.until is None:
        return _summary_by_org(people, counts_only)
    if _whole_months(filters):
        return _months_by_org(people, filters, counts_only)
    return _compute_mastery_by_org(people, filters, counts_only)


def _spans_usable(scope: Scope) -> bool:
    """mastery_orgs may be read for this scope: its members equal its counted trainees (services/
    mastery_spans.usable; checked once per report)."""
    if not current_app.config.get("MASTERY_SPANS", True):
        return False
    cache = _usable.get()
    if cache is None:
        return mastery_spans.usable(scope.orgs)
    if scope.id not in cache:
        cache[scope.id] = mastery_spans.usable(scope.orgs)
    return cache[scope.id]


def _spans_by_org(scope: Scope, filters: Filters, people, counts_only: bool = False) -> dict[int, GroupMastery]:
    """The figures of a whole-month period (or of all time) from mastery_orgs: one row per
    organization and point of the period's span, plus the trainees flagged in the span (a question
    answered in two of its months), computed apart — from the answers of the period, or for all
    time from point_mastery (their latest answers)."""
    all_time = filters.since is None and filters.until is None
    found = mastery_spans.span(mastery_spans.months(), filters.since, filters.until)
    groups: dict[int, GroupMastery] = defaultdict(lambda: GroupMastery(None))
    if found is None:
        return {}
    practised = mastery_spans.ANY_POINT if all_time else mastery.ALL_POINTS
    points = [practised] if counts_only else None
    for org_id, point_id, answered, secure in mastery_spans.figures(scope.org_ids(filters), *found, points):
        group = groups[org_id]
        if point_id == practised:
            group.practised = answered
        elif point_id not in (mastery.ALL_POINTS, mastery_spans.ANY_POINT):
            group.answered[point_id] = answered
            group.secure[point_id] = secure
    if counts_only and not all_time:
        return dict(groups)  # the flagged are among those who practised (a month total in the span)
    flagged = mastery_spans.flagged(select(people.c.user_id), *found)
    few = select(people.c.user_id, people.c.org_id).where(people.c.user_id.in_(flagged)).subquery("few")
    apart = _summary_by_org(few, counts_only) if all_time else _compute_mastery_by_org(few, filters)
    for org_id, group in apart.items():
        if not all_time:
            group.practised = 0  # counted above, with everyone
        _merge(groups[org_id], group)
    return dict(groups)


def _enough_memory_to_group() -> None:
    """PostgreSQL: group ~300,000 (trainee, point) rows in memory, not in batches on disk (the default
    work_mem of 4 MB spills them: about 40 % slower). For this transaction only."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL work_mem = '64MB'"))


def _whole_months(filters: Filters) -> bool:
    return ((filters.since is None or filters.since.day == 1)
            and (filters.until is None or (filters.until + timedelta(days=1)).day == 1))


def _months_by_org(people, filters: Filters, counts_only: bool = False) -> dict[int, GroupMastery]:
    """The period's figures from mastery_months: per trainee and point, the months of the period added
    up — exact because a trainee who answered a question in two months of the period (a repeat) is
    computed from the answers instead (the latest answer in the period counts, not both)."""
    in_period = [Month.user_id.in_(select(people.c.user_id))]
    if filters.since is not None:
        in_period.append(Month.month >= filters.since)
    if filters.until is not None:
        in_period.append(Month.month <= filters.until)
    repeat = [Month.point_id == mastery.ALL_POINTS, Month.repeats > 0, *in_period]
    if filters.since is not None:
        repeat.append(Month.month > filters.since)  # a repeat of a month before the period is no repeat in it
    _enough_memory_to_group()
    repeaters = select(Month.user_id).where(*repeat).distinct()
    repeating = list(db.session.scalars(repeaters))
    # a short list is cheaper to plan with; a long one would exceed the bound parameters allowed
    repeating_in = repeating if len(repeating) <= 1000 else repeaters
    groups: dict[int, GroupMastery] = defaultdict(lambda: GroupMastery(None))
    if not counts_only:
        # per trainee and point (their organization carried along), then per organization and point
        per_user = (select(people.c.org_id, Month.point_id, func.sum(Month.answered).label("n"),
                           func.sum(Month.score_sum).label("total"))
                    .join(people, people.c.user_id == Month.user_id)
                    .where(*in_period[1:], Month.point_id != mastery.ALL_POINTS)
                    .group_by(Month.user_id, Month.point_id, people.c.org_id))
        if repeating:
            per_user = per_user.where(Month.user_id.not_in(repeating_in))
        per_user = per_user.subquery("per_user")
        secure = and_(per_user.c.n >= mastery.MIN_SECURE_QUESTIONS,
                      per_user.c.total >= mastery.SECURE_SCORE * per_user.c.n - mastery.EPSILON)
        stmt = (select(per_user.c.org_id, per_user.c.point_id, func.sum(case((secure, 1), else_=0)), func.count())
                .group_by(per_user.c.org_id, per_user.c.point_id))
        for org_id, point_id, n_secure, n_answered in db.session.execute(stmt):
            groups[org_id].secure[point_id] = int(n_secure or 0)
            groups[org_id].answered[point_id] = int(n_answered)
        if repeating:
            few = select(people.c.user_id, people.c.org_id).where(people.c.user_id.in_(repeating_in)).subquery("few")
            for org_id, group in _compute_mastery_by_org(few, filters).items():
                group.practised = 0  # counted below, with everyone
                _merge(groups[org_id], group)
    practised = (select(people.c.org_id, func.count(func.distinct(Month.user_id)))
                 .join(people, people.c.user_id == Month.user_id)
                 .where(Month.point_id == mastery.ALL_POINTS, *in_period[1:]).group_by(people.c.org_id))
    for org_id, n in db.session.execute(practised):
        groups[org_id].practised = int(n)
    return dict(groups)


def _summary_by_org(people, counts_only: bool = False) -> dict[int, GroupMastery]:
    mean = Summary.score_sum / Summary.answered
    secure = and_(Summary.answered >= mastery.MIN_SECURE_QUESTIONS, mean >= mastery.SECURE_SCORE - mastery.EPSILON)
    stmt = (select(people.c.org_id, Summary.point_id, func.sum(case((secure, 1), else_=0)), func.count())
            .join(people, people.c.user_id == Summary.user_id).where(Summary.answered > 0)
            .group_by(people.c.org_id, Summary.point_id))
    groups: dict[int, GroupMastery] = defaultdict(lambda: GroupMastery(None))
    for org_id, point_id, n_secure, n_answered in ([] if counts_only else db.session.execute(stmt)):
        groups[org_id].secure[point_id] = int(n_secure or 0)
        groups[org_id].answered[point_id] = int(n_answered)
    has_practised = exists().where(Summary.user_id == people.c.user_id, Summary.answered > 0)
    practised = select(people.c.org_id, func.count()).where(has_practised).group_by(people.c.org_id)
    for org_id, n in db.session.execute(practised):
        groups[org_id].practised = int(n)
    return dict(groups)


def _compute_mastery_by_org(people, filters: Filters, counts_only: bool = False) -> dict[int, GroupMastery]:
    start, end = filters.window()
    scored = [Answer.user_id.in_(select(people.c.user_id))]
    if start is not None:
        scored.append(Answer.created_at >= start)
    if end is not None:
        scored.append(Answer.created_at < end)
    newest = mastery.latest_answers(user_filter=and_(*scored))
    per_user = (select(Answer.user_id, QuestionPoint.point_id, func.count().label("n"), func.avg(Answer.score).label("mean"))
                .join(newest, newest.c.id == Answer.id).join(QuestionPoint, QuestionPoint.version_id == Answer.version_id)
                .group_by(Answer.user_id, QuestionPoint.point_id).subquery("per_user"))
    secure = and_(per_user.c.n >= mastery.MIN_SECURE_QUESTIONS, per_user.c.mean >= mastery.SECURE_SCORE - mastery.EPSILON)
    # the people were chosen inside; here only their organization is looked up (by primary key)
    stmt = (select(User.organization_id, per_user.c.point_id, func.sum(case((secure, 1), else_=0)), func.count())
            .join(User, User.id == per_user.c.user_id).group_by(User.organization_id, per_user.c.point_id))
    groups: dict[int, GroupMastery] = defaultdict(lambda: GroupMastery(None))
    for org_id, point_id, n_secure, n_answered in ([] if counts_only else db.session.execute(stmt)):
        groups[org_id].secure[point_id] = int(n_secure or 0)
        groups[org_id].answered[point_id] = int(n_answered)
    practised = (select(people.c.org_id, func.count(func.distinct(Answer.user_id)))
                 .join(people, people.c.user_id == Answer.user_id)
                 .where(Answer.score.is_not(None), *scored[1:]).group_by(people.c.org_id))
    for org_id, n in db.session.execute(practised):
        groups[org_id].practised = int(n)
    return dict(groups)
