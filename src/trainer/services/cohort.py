"""A workshop's cohort: progress matrix, answer distributions, point mastery, before/after, records.

Figures here are for the workshop's facilitators, and come only from what the workshop produced: the
attempts made in it (``Attempt.workshop_id``), never a participant's other history. Distributions
are anonymous counts of people (each person's latest answer); point-level figures of fewer than the
minimum group are withheld (services/disclosure). The record (CSV/XLSX) names participants, as a
training record must.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from trainer.extensions import db
from trainer.models import (
    Answer, Attempt, Item, LiveSession, Module, Organization, Point, Question, QuestionPoint, QuestionVersion, User,
    Workshop, WorkshopParticipant,
)
from trainer.services import completion, disclosure, mastery, player, progress
from trainer.dates import JST
from trainer.services import spreadsheets
from trainer.services.wareki import to_wareki

RATING_LABELS = {"best": "最適", "acceptable": "許容", "caution": "要注意"}


def participants(workshop: Workshop) -> list[tuple[User, Organization]]:
    stmt = (select(User, Organization).join(WorkshopParticipant, WorkshopParticipant.user_id == User.id)
            .join(Organization, Organization.id == User.organization_id)
            .where(WorkshopParticipant.workshop_id == workshop.id).order_by(User.furigana, User.display_name))
    return list(db.session.execute(stmt).all())


@dataclass
class QuestionSummary:
    module: Module
    question: Question
    version: QuestionVersion
    answered: int
    counts: Counter
    points: list[Point] = field(default_factory=list)

    @property
    def cautions(self) -> list[tuple[dict, int]]:
        return [(c, self.counts.get(c["id"], 0)) for c in self.version.data["choices"] if c.get("rating") == "caution"]


@dataclass
class Report:
    modules: list[Module]
    matrix: list[tuple[User, Organization, list[progress.ModuleStatus]]]
    questions: list[QuestionSummary]
    points: list[tuple[Point, int, float | None, Counter]]  # point, answered participants, mean, states
    grid: list[tuple[Item, list[tuple[Point, int, float | None, Counter]]]]
    before_after: list[tuple[Point, float | None, float | None, int, int]]
    practised: int = 0  # participants with a scored answer in the cohort
    withheld: bool = False  # point-level figures withheld: fewer people than the minimum group


def workshop_modules(workshop: Workshop) -> list[Module]:
    ids = [m.module_id for m in workshop.modules]
    found = {m.id: m for m in db.session.scalars(select(Module).where(Module.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def latest_answers(in_cohort, question_ids: list[int]) -> list[tuple[int, int, dict, float | None]]:
    """(user, question, response, score): each person's latest answer to each question, counting
    only attempts that match ``in_cohort`` (one answer per person: figures count people)."""
    if not question_ids:
        return []
    newest = (select(func.max(Answer.id).label("id")).join(Attempt, Attempt.id == Answer.attempt_id)
              .where(in_cohort, Answer.question_id.in_(question_ids))
              .group_by(Answer.user_id, Answer.question_id).subquery())
    stmt = select(Answer.user_id, Answer.question_id, Answer.response, Answer.score).join(newest, newest.c.id == Answer.id)
    return [tuple(r) for r in db.session.execute(stmt)]


def _tally(response: dict, counts: Counter) -> None:
    if "choice" in response:
        counts[response["choice"]] += 1
    elif "choices" in response:
        counts.update(response["choices"])


def question_summaries(modules: list[Module], in_cohort, answers=None) -> list[QuestionSummary]:
    """Per question of the modules: how many people answered (in the cohort) and what they chose."""
    pages = [(m, p) for m in modules for p in player.pages(m) if p.question is not None]
    answers = latest_answers(in_cohort, [p.question.id for _, p in pages]) if answers is None else answers
    by_question: dict[int, list[dict]] = defaultdict(list)
    for _, question_id, response, _ in answers:
        by_question[question_id].append(response)
    points = {p.id: p for p in db.session.scalars(select(Point))}
    out = []
    for module, page in pages:
        counts: Counter = Counter()
        for response in by_question[page.question.id]:
            _tally(response, counts)
        version = page.question.current_version
        out.append(QuestionSummary(module, page.question, version, len(by_question[page.question.id]), counts,
                                   [points[p] for p in version.data["points"] if p in points]))
    return out


def point_rows(people: int, answers, tags: dict[int, list[str]]) -> list[tuple[Point, int, float | None, Counter]]:
    """Per point: people who answered a question tagged with it (in the cohort), their mean score,
    and how many are in each state — the trainees' own mastery rule, on the cohort's answers only."""
    per_user: dict[tuple[int, str], list[float]] = defaultdict(list)
    for user_id, question_id, _, score in answers:
        if score is not None:
            for point_id in tags.get(question_id, []):
                per_user[(user_id, point_id)].append(score)
    by_point: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for (_, point_id), scores in per_user.items():
        by_point[point_id].append((len(scores), sum(scores) / len(scores)))
    rows = []
    for point in db.session.scalars(select(Point).where(Point.retired_at.is_(None)).order_by(Point.sort)):
        stats = by_point.get(point.id, [])
        states = Counter(mastery.classify(n, m) for n, m in stats)
        states["none"] += people - len(stats)
        mean = sum(m for _, m in stats) / len(stats) if stats else None
        rows.append((point, len(stats), mean, states))
    return rows


def _question_tags(modules: list[Module]) -> dict[int, list[str]]:
    """question id -> points of its current version (the versions answered in one workshop agree)."""
    return {p.question.id: p.question.current_version.data.get("points", [])
            for m in modules for p in player.pages(m) if p.question is not None}


def before_after(modules: list[Module], in_cohort) -> list[tuple[Point, float | None, float | None, int, int]]:
    """Mean self-rating per point before and after, one value per person and phase (their latest)."""
    pages = [p for m in modules for p in player.pages(m) if p.question is not None and p.question.type == "self_rating"]
    phase_of = {p.question.id: p.question.current_version.data.get("phase") for p in pages}
    latest: dict[tuple[str, str, int], tuple[int, int]] = {}  # (point, phase, user) -> (answer order, value)
    for order, (user_id, question_id, response, _) in enumerate(latest_answers(in_cohort, list(phase_of))):
        phase = phase_of.get(question_id)
        if phase in ("before", "after"):
            for point, value in response["ratings"].items():
                key = (point, phase, user_id)
                if key not in latest or latest[key][0] < order:
                    latest[key] = (order, value)
    values: dict[tuple[str, str], list[int]] = defaultdict(list)
    for (point, phase, _), (_, value) in latest.items():
        values[(point, phase)].append(value)
    points = {p.id: p for p in db.session.scalars(select(Point))}
    out = []
    for point_id in sorted({k[0] for k in values}):
        before, after = values.get((point_id, "before"), []), values.get((point_id, "after"), [])
        mean = lambda v: round(sum(v) / len(v), 2) if v else None  # noqa: E731
        out.append((points[point_id], mean(before), mean(after), len(before), len(after)))
    return out


def report(workshop: Workshop) -> Report:
    return cohort_report(participants(workshop), workshop_modules(workshop), Attempt.workshop_id == workshop.id)


def workshops_report(chosen: list[Workshop]) -> Report:
    """A cohort made of several workshops: all their participants and modules, their attempts."""
    people = {u.id: (u, org) for w in chosen for u, org in participants(w)}
    modules = {m.id: m for w in chosen for m in workshop_modules(w)}
    in_any = Attempt.workshop_id.in_([w.id for w in chosen])
    ordered = sorted(people.values(), key=lambda p: (p[0].furigana or "", p[0].display_name))
    combined = cohort_report(ordered, list(modules.values()), in_any)
    if len(chosen) > 1 and not combined.withheld:
        # the combination minus one workshop (each is viewable alone) must not describe a small group
        if not all(disclosure.safe_part(practised(Attempt.workshop_id == w.id), combined.practised) for w in chosen):
            combined.withheld, combined.points, combined.grid, combined.before_after = True, [], [], []
    return combined


def practised(in_cohort) -> int:
    """People with a scored answer in the cohort's attempts."""
    stmt = (select(func.count(func.distinct(Answer.user_id))).join(Attempt, Attempt.id == Answer.attempt_id)
            .where(in_cohort, Answer.score.is_not(None)))
    return int(db.session.scalar(stmt) or 0)


def cohort_report(people: list[tuple[User, Organization]], modules: list[Module], in_cohort) -> Report:
    """Everything from the cohort's own attempts (``in_cohort``), never from the participants' other
    history: progress matrix, answer distributions, point mastery, before/after. Point-level figures
    of fewer than the minimum group size are withheld (services/disclosure)."""
    found = completion.outcomes([u.id for u, _ in people], [m.id for m in modules], attempt_filter=in_cohort)
    points = progress.module_points()
    matrix = [(user, org, [progress.ModuleStatus(m, points.get(m.id, []), found.get((user.id, m.id), completion.NOTHING))
                           for m in modules]) for user, org in people]
    tags = _question_tags(modules)
    answers = latest_answers(in_cohort, list(tags))
    practised = len({user_id for user_id, _, _, score in answers if score is not None})
    withheld = disclosure.too_small(practised)
    prows = [] if withheld else point_rows(len(people), answers, tags)
    items = db.session.scalars(select(Item).order_by(Item.number)).all()
    grid = [(item, [r for r in prows if r[0].item_id == item.id]) for item in items]
    weakest = sorted(prows, key=lambda r: (r[2] if r[2] is not None else -1, r[0].sort))
    ratings = before_after(modules, in_cohort)
    rated = max([max(nb, na) for _, _, _, nb, na in ratings], default=0)
    return Report(modules, matrix, question_summaries(modules, in_cohort, answers), weakest, grid,
                  [] if disclosure.too_small(rated) else ratings, practised=practised,
                  withheld=withheld or disclosure.too_small(rated))


def session_questions(session: LiveSession) -> list[QuestionSummary]:
    module = db.session.get(Module, session.module_id)
    return question_summaries([module], Attempt.live_session_id == session.id)


def record_conditions(workshop: Workshop, people: int, produced_at: datetime) -> spreadsheets.Conditions:
    """What a workshop record contains: the workshop, its modules, and how it was counted."""
    modules = "、".join(m.title for m in workshop_modules(workshop))
    day = workshop.starts_at.astimezone(JST)
    items = [("研修会", workshop.title), ("開催日時", f"{day:%Y-%m-%d %H:%M}〜{workshop.ends_at.astimezone(JST):%H:%M}"
                                                    f"（{to_wareki(day.date())}）"),
             ("会場", workshop.venue or "—"), ("モジュール", modules), ("参加者", f"{people}人")]
    notes = ["この研修会のライブ進行での取り組みだけを数えています（参加者がほかで学習した記録は含みません）。",
             "状態：合格＝合格点に届いた取り組みがある／合格点未満＝最後まで回答したが届かない／学習中＝途中。",
             "回答の人数は人で数えています（同じ人の複数の回答は最新の1つ）。"]
    home = db.session.get(Organization, workshop.organization_id)
    return spreadsheets.Conditions("研修会の記録", home.full_name, items, produced_at, notes,
                                   [workshop.title, f"{day:%Y-%m-%d}"], ["workshop", str(workshop.id)])


RECORD_HEADER = ["研修会", "開催日", "開催日（和暦）", "氏名", "ふりがな", "ログインID", "所属", "モジュール", "状態",
                 "合格点（%）", "最高得点（%）", "最後まで取り組んだ日", "合格日", "最終学習"]


def record_rows(workshop: Workshop, report_: Report | None = None) -> Iterator[list[Any]]:
    """The workshop record, one row per participant and module (names included)."""
    report_ = report_ or report(workshop)
    day = workshop.starts_at
    for user, org, rows in report_.matrix:
        for row in rows:
            o = row.outcome
            yield [workshop.title, *spreadsheets.dated(day), user.display_name, user.furigana or "", user.login_id,
                   org.full_name, row.module.title, row.status_label, o.mark, spreadsheets.percent(o.best_score),
                   spreadsheets.local_day(o.finished), spreadsheets.local_day(o.passed), o.last_activity]


def _prompt_text(data: dict) -> str:
    return " ".join(str(data.get("prompt", "")).split())


def distribution_rows(report_: Report) -> Iterator[list[Any]]:
    for q in report_.questions:
        points = " ".join(p.id for p in q.points)
        for choice in q.version.data["choices"]:
            yield [q.module.title, q.question.key, _prompt_text(q.version.data), points, q.answered, choice["text"],
                   RATING_LABELS.get(choice.get("rating") or "", "—"), q.counts.get(choice["id"], 0)]


def record_tables(workshop: Workshop, report_: Report) -> list[spreadsheets.Table]:
    distribution = spreadsheets.Table("問い別の回答", ["モジュール", "問いの番号", "問い", "支援のポイント", "回答した人数",
                                                 "選択肢", "評価", "選んだ人数"], distribution_rows(report_))
    if report_.withheld:
        points = spreadsheets.Table("ポイント別", ["注記"], [[f"回答した参加者が{disclosure.min_group()}人未満のため、"
                                                           "ポイントごとの集計は記しません。"]])
    else:
        points = spreadsheets.Table("ポイント別", ["ID", "支援のポイント", "回答した参加者", "平均（%）", "定着", "学習中", "未練習"], [
            [p.id, p.title, n, None if m is None else round(m * 100), s["secure"], s["learning"], s["none"]]
            for p, n, m, s in report_.points])
    # a workshop's record is small: built here, inside the request (names of organizations included)
    return [spreadsheets.Table("受講記録", RECORD_HEADER, list(record_rows(workshop, report_))), distribution, points]
