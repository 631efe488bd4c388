"""The 50-point mastery map of a jurisdiction and of each municipality, with small groups suppressed.

The rule is the trainees' own (services/mastery: the latest scored answer per question; 定着 = at least
MIN_SECURE_QUESTIONS answered with a mean of SECURE_SCORE or more), counted per organization in SQL.
A group is shown only when at least ``min_group`` trainees practised (REVIEW_MIN_GROUP_SIZE in the
Flask config, default 5); when the hidden groups together are fewer than that, the smallest shown
groups are hidden too, so that the total minus the shown groups reveals no one.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import and_, case, exists, func, select

from trainer.extensions import db
from trainer.models import Answer, Item, Organization, Point, QuestionPoint, User
from trainer.models import PointMastery as Summary
from trainer.services import disclosure, mastery
from trainer.services.review import Filters, Scope, trainees

MIN_GROUP_SIZE = disclosure.MIN_GROUP_SIZE


@dataclass
class GroupMastery:
    """Mastery of the 50 points in a group of trainees (a municipality, or the whole selection)."""

    org: Organization | None
    practised: int = 0
    secure: dict[str, int] = field(default_factory=dict)
    answered: dict[str, int] = field(default_factory=dict)
    suppressed: bool = False

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
    """The selection's total and each selected municipality, suppressed where too small."""
    by_org = _mastery_by_org(scope, filters)
    units = {u.id: GroupMastery(u) for u in scope.selected_units(filters)}
    total = GroupMastery(None)
    for org_id, group in by_org.items():
        for target in (units.get(scope.unit_of[org_id]), total):
            if target is not None:
                _merge(target, group)
    total.suppressed = 0 < total.practised < min_group
    hidden = disclosure.suppressed_groups({u: g.practised for u, g in units.items()}, min_group)
    for unit_id in hidden:
        units[unit_id].suppressed = True
    return MasteryReport(point_items(), total, list(units.values()), min_group)


def _merge(target: GroupMastery, group: GroupMastery) -> None:
    target.practised += group.practised
    for key in group.answered:
        target.answered[key] = target.answered.get(key, 0) + group.answered[key]
        target.secure[key] = target.secure.get(key, 0) + group.secure.get(key, 0)


def _mastery_by_org(scope: Scope, filters: Filters) -> dict[int, GroupMastery]:
    """Figures per organization: from the point_mastery summary (brought up to date first), or, when
    a period limits which answers count, computed from the answers of that period."""
    people = trainees(scope, filters).subquery("people")
    if filters.since is None and filters.until is None:
        if mastery.refresh_summary():
            db.session.commit()  # derived data only: keep what was folded in for the next view
        return _summary_by_org(people)
    return _compute_mastery_by_org(people, filters)


def _summary_by_org(people) -> dict[int, GroupMastery]:
    mean = Summary.score_sum / Summary.answered
    secure = and_(Summary.answered >= mastery.MIN_SECURE_QUESTIONS, mean >= mastery.SECURE_SCORE)
    stmt = (select(people.c.org_id, Summary.point_id, func.sum(case((secure, 1), else_=0)), func.count())
            .join(people, people.c.user_id == Summary.user_id).where(Summary.answered > 0)
            .group_by(people.c.org_id, Summary.point_id))
    groups: dict[int, GroupMastery] = defaultdict(lambda: GroupMastery(None))
    for org_id, point_id, n_secure, n_answered in db.session.execute(stmt):
        groups[org_id].secure[point_id] = int(n_secure or 0)
        groups[org_id].answered[point_id] = int(n_answered)
    has_practised = exists().where(Summary.user_id == people.c.user_id, Summary.answered > 0)
    practised = select(people.c.org_id, func.count()).where(has_practised).group_by(people.c.org_id)
    for org_id, n in db.session.execute(practised):
        groups[org_id].practised = int(n)
    return dict(groups)


def _compute_mastery_by_org(people, filters: Filters) -> dict[int, GroupMastery]:
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
    secure = and_(per_user.c.n >= mastery.MIN_SECURE_QUESTIONS, per_user.c.mean >= mastery.SECURE_SCORE)
    # the people were chosen inside; here only their organization is looked up (by primary key)
    stmt = (select(User.organization_id, per_user.c.point_id, func.sum(case((secure, 1), else_=0)), func.count())
            .join(User, User.id == per_user.c.user_id).group_by(User.organization_id, per_user.c.point_id))
    groups: dict[int, GroupMastery] = defaultdict(lambda: GroupMastery(None))
    for org_id, point_id, n_secure, n_answered in db.session.execute(stmt):
        groups[org_id].secure[point_id] = int(n_secure or 0)
        groups[org_id].answered[point_id] = int(n_answered)
    practised = (select(people.c.org_id, func.count(func.distinct(Answer.user_id)))
                 .join(people, people.c.user_id == Answer.user_id)
                 .where(Answer.score.is_not(None), *scored[1:]).group_by(people.c.org_id))
    for org_id, n in db.session.execute(practised):
        groups[org_id].practised = int(n)
    return dict(groups)
