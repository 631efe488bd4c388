"""Item statistics for the editors (教材担当): how each question behaves, per content version.

The reference is Moodle's quiz statistics report (facility index, discrimination index, response
frequencies); the figures here, per question version:

- 回答数 (n): answers in trainees' *first* attempt at the module (a retake after reading the
  feedback says little about the item), from counted trainees (services/counted), under the filters;
- 正答率 (facility): share of answers rated 最適 (best), with a Wilson 95 % interval;
- 識別力 (discrimination): the point-biserial correlation (Pearson's r) between the item score and
  the module score of the same attempt (finished attempts only), and the upper/lower 27 % index:
  facility among the 27 % of attempts with the highest module scores minus facility among the 27 %
  with the lowest (k = round(0.27 × n), at least 1; ties broken by attempt id);
- 選択肢の頻度: for single and multiple choice, how many chose each option (with its rating); for
  ordering, how many answers fell in each rating;
- 要注意の割合: share of answers rated 要注意 (caution), with a Wilson interval;
- 所要時間の中央値: median seconds from the previous answer of the attempt (or the start of the
  attempt, for its first answer) to this answer — the time spent reading up to and on this page;
- 意見: opinions sent from the question's feedback page.

Rates, discrimination and flags are shown only from MIN_RESPONSES answers on (a handful of answers
says nothing about an item). Flags, each with its reason: too easy (facility > 0.95 with n ≥ 100);
discrimination below 0.1 or negative; a 要注意 option chosen more often than the best; an
acceptable option chosen by the upper 27 % more often than the best.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from statistics import median
from typing import Any

from sqlalchemy import case, func, select

from trainer.dates import JST
from trainer.extensions import db
from trainer.models import (
    Answer, Attempt, ContentRelease, Opinion, Organization, OrgKind, Question, QuestionPoint, QuestionVersion, User,
)
from trainer.services import mastery
from trainer.services.counted import counted_trainee

MIN_RESPONSES = 30
EASY_FACILITY = 0.95
EASY_MIN_RESPONSES = 100
LOW_DISCRIMINATION = 0.1
GROUP_SHARE = 0.27
Z95 = 1.959964
SCORED_TYPES = ("single", "multiple", "ordering")
MODES = {"self": "自習（研修会の外）", "workshop": "研修会"}


@dataclass(frozen=True)
class StatFilters:
    """What the editor asked for (parsed and checked in editor/forms.py)."""

    release_id: int | None = None  # the content version: versions in force at that release; None: current
    since: date | None = None
    until: date | None = None
    mode: str | None = None  # "self" | "workshop" | None (both)
    prefecture_id: int | None = None

    def args(self, **changes: Any) -> dict[str, str]:
        values = {"release": self.release_id, "since": self.since, "until": self.until, "mode": self.mode,
                  "prefecture": self.prefecture_id}
        values.update(changes)
        return {k: str(v) for k, v in values.items() if v not in (None, "")}


@dataclass(frozen=True)
class Rate:
    count: int
    n: int

    @property
    def value(self) -> float | None:
        return self.count / self.n if self.n else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson(self.count, self.n)


@dataclass(frozen=True)
class Option:
    id: str
    text: str
    rating: str
    count: int
    upper: int  # chosen in the upper 27 % group


@dataclass(frozen=True)
class Flag:
    code: str
    reason: str


@dataclass
class ItemStats:
    question: Question
    version: QuestionVersion
    n: int = 0
    facility: Rate = Rate(0, 0)
    caution: Rate = Rate(0, 0)
    point_biserial: float | None = None
    upper_lower: float | None = None
    options: list[Option] = field(default_factory=list)
    median_seconds: float | None = None
    opinions: int = 0
    flags: list[Flag] = field(default_factory=list)

    @property
    def shown(self) -> bool:
        """Rates and flags only from MIN_RESPONSES answers on."""
        return self.n >= MIN_RESPONSES

    @property
    def prompt(self) -> str:
        return str(self.version.data.get("prompt", ""))


# --- arithmetic ----------------------------------------------------------------------------

def wilson(count: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval for count successes out of n (None for n = 0)."""
    if n <= 0:
        return None
    p = count / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def pearson(xs: list[float], ys: list[float]) -> float | None:
    """Pearson's r (the point-biserial correlation when xs is 0/1); None without variance."""
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def groups(rows: list["_Row"]) -> tuple[list["_Row"], list["_Row"]]:
    """(upper, lower) 27 % of the rows with a module score, by module score (ties: attempt id)."""
    scored = sorted((r for r in rows if r.module_score is not None), key=lambda r: (r.module_score, r.attempt_id))
    if len(scored) < 2:
        return [], []
    k = max(1, round(GROUP_SHARE * len(scored)))
    return scored[-k:], scored[:k]


# --- loading -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Row:
    question_id: int
    version_id: int
    user_id: int
    attempt_id: int
    score: float | None
    rating: str | None
    response: dict
    seconds: float | None
    module_score: float | None


def prefecture_jurisdictions(prefecture_id: int) -> list[int]:
    """The prefecture and the designated cities inside it (each its own jurisdiction)."""
    cities = db.session.scalars(select(Organization.id).where(
        Organization.parent_id == prefecture_id, Organization.kind == OrgKind.DESIGNATED_CITY))
    return [prefecture_id, *cities]


def prefectures() -> list[Organization]:
    return list(db.session.scalars(select(Organization).where(Organization.kind == OrgKind.PREFECTURE)
                                   .order_by(Organization.code)))


def releases() -> list[ContentRelease]:
    return list(db.session.scalars(select(ContentRelease).order_by(ContentRelease.id.desc())))


def versions_in_force(question_ids: Iterable[int], release_id: int | None) -> dict[int, QuestionVersion]:
    """question id -> the version shown at that release (the current one without a release)."""
    ids = list(question_ids)
    if not ids:
        return {}
    if release_id is None:
        stmt = (select(QuestionVersion).join(Question, Question.current_version_id == QuestionVersion.id)
                .where(Question.id.in_(ids)))
        return {v.question_id: v for v in db.session.scalars(stmt)}
    newest = (select(QuestionVersion.question_id, func.max(QuestionVersion.version).label("v"))
              .where(QuestionVersion.question_id.in_(ids), QuestionVersion.release_id <= release_id)
              .group_by(QuestionVersion.question_id).subquery())
    stmt = select(QuestionVersion).join(newest, (newest.c.question_id == QuestionVersion.question_id)
                                        & (newest.c.v == QuestionVersion.version))
    return {v.question_id: v for v in db.session.scalars(stmt)}


def all_versions(question_id: int) -> list[QuestionVersion]:
    return list(db.session.scalars(select(QuestionVersion).where(QuestionVersion.question_id == question_id)
                                   .order_by(QuestionVersion.version)))


def _seconds(later, earlier):
    """SQL: seconds from ``earlier`` to ``later`` (both UTC timestamps), on SQLite and PostgreSQL."""
    if db.engine.dialect.name == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)


def _rows(version_ids: list[int], filters: StatFilters) -> list[_Row]:
    """First-attempt answers of counted trainees to these versions, under the filters. The time on
    the page and the module score (finished attempts only) are worked out in SQL: the rows stay plain
    numbers (a point's page reads thousands of them)."""
    if not version_ids:
        return []
    involved = select(Answer.attempt_id).where(Answer.version_id.in_(version_ids))
    lagged = (select(Answer.id.label("id"), func.lag(Answer.created_at, type_=Answer.created_at.type).over(
        partition_by=Answer.attempt_id, order_by=(Answer.created_at, Answer.id)).label("prev"))
        .where(Answer.attempt_id.in_(involved)).subquery())
    seconds = _seconds(Answer.created_at, func.coalesce(lagged.c.prev, Attempt.started_at))
    module_score = case((Attempt.completed_at.is_not(None), Attempt.score), else_=None)
    stmt = (select(Answer.question_id, Answer.version_id, Answer.user_id, Answer.attempt_id, Answer.score,
                   Answer.rating, Answer.response, seconds.label("seconds"), module_score.label("module_score"))
            .join(lagged, lagged.c.id == Answer.id)
            .join(Attempt, Attempt.id == Answer.attempt_id)
            .join(User, User.id == Answer.user_id)
            .where(Answer.version_id.in_(version_ids), Attempt.number == 1, counted_trainee()))
    start, end = _window(filters)
    if start is not None:
        stmt = stmt.where(Answer.created_at >= start)
    if end is not None:
        stmt = stmt.where(Answer.created_at < end)
    if filters.mode == "self":
        stmt = stmt.where(Attempt.workshop_id.is_(None))
    elif filters.mode == "workshop":
        stmt = stmt.where(Attempt.workshop_id.is_not(None))
    if filters.prefecture_id is not None:
        stmt = stmt.join(Organization, Organization.id == User.organization_id).where(
            Organization.jurisdiction_id.in_(prefecture_jurisdictions(filters.prefecture_id)))
    return [_Row(q, v, u, a, score, rating, response or {},
                 None if secs is None or secs < 0 else round(float(secs), 3),
                 None if mod is None else float(mod))
            for q, v, u, a, score, rating, response, secs, mod in db.session.execute(stmt)]


def _window(filters: StatFilters) -> tuple[datetime | None, datetime | None]:
    start = datetime.combine(filters.since, time(), JST) if filters.since else None
    end = datetime.combine(filters.until + timedelta(days=1), time(), JST) if filters.until else None
    return start, end


def _opinion_counts(question_ids: list[int]) -> dict[int, int]:
    if not question_ids:
        return {}
    stmt = (select(Opinion.question_id, func.count()).where(Opinion.question_id.in_(question_ids))
            .group_by(Opinion.question_id))
    return dict(db.session.execute(stmt).all())


# --- figures -------------------------------------------------------------------------------

def _chosen(qtype: str, response: dict) -> list[str]:
    if qtype == "single":
        return [response["choice"]] if response.get("choice") else []
    if qtype == "multiple":
        return list(response.get("choices") or [])
    return []


def compute(question: Question, version: QuestionVersion, rows: list[_Row], opinions: int = 0) -> ItemStats:
    """The figures of one question version from its answer rows (pure: tests feed it rows)."""
    stats = ItemStats(question=question, version=version, n=len(rows), opinions=opinions)
    ratings = Counter(r.rating for r in rows)
    stats.facility = Rate(ratings["best"], len(rows))
    stats.caution = Rate(ratings["caution"], len(rows))
    pairs = [(r.score, r.module_score) for r in rows if r.score is not None and r.module_score is not None]
    stats.point_biserial = pearson([p[0] for p in pairs], [p[1] for p in pairs])
    upper, lower = groups(rows)
    if upper:
        stats.upper_lower = (sum(r.rating == "best" for r in upper) / len(upper)
                             - sum(r.rating == "best" for r in lower) / len(lower))
    stats.options = _options(version, rows, upper)
    times = [r.seconds for r in rows if r.seconds is not None]
    stats.median_seconds = median(times) if times else None
    stats.flags = flags(stats) if stats.shown else []
    return stats


def _options(version: QuestionVersion, rows: list[_Row], upper: list[_Row]) -> list[Option]:
    qtype, data = version.type, version.data
    if qtype in ("single", "multiple"):
        counts = Counter(c for r in rows for c in _chosen(qtype, r.response))
        top = Counter(c for r in upper for c in _chosen(qtype, r.response))
        return [Option(c["id"], c.get("text", ""), c["rating"], counts[c["id"]], top[c["id"]])
                for c in data.get("choices", [])]
    if qtype == "ordering":
        from trainer.content.schema import RATING_LABELS

        counts, top = Counter(r.rating for r in rows), Counter(r.rating for r in upper)
        return [Option(rating, f"評価が「{label}」になった並べ方", rating, counts[rating], top[rating])
                for rating, label in RATING_LABELS.items()]
    return []


def flags(stats: ItemStats) -> list[Flag]:
    """The reasons to look at an item again (only meaningful from MIN_RESPONSES answers on)."""
    found = []
    facility = stats.facility.value
    if facility is not None and facility > EASY_FACILITY and stats.n >= EASY_MIN_RESPONSES:
        found.append(Flag("easy", f"易しすぎる：正答率 {facility:.0%}（{EASY_FACILITY:.0%} を超え、回答 {stats.n} 件）"))
    r = stats.point_biserial
    if r is not None and r < LOW_DISCRIMINATION:
        kind = "負の識別力" if r < 0 else "識別力がほとんどない"
        found.append(Flag("discrimination", f"{kind}：点双列相関 {r:.2f}（{LOW_DISCRIMINATION} 未満）"))
    best = [o for o in stats.options if o.rating == "best"]
    most_best = max((o.count for o in best), default=0)
    top_best = max((o.upper for o in best), default=0)
    for o in stats.options:
        if o.rating == "caution" and o.count > most_best:
            found.append(Flag("caution", f"要注意の選択肢「{o.text}」が最適より多く選ばれている（{o.count} 件・最適 {most_best} 件）"))
        if o.rating == "acceptable" and o.upper > top_best:
            found.append(Flag("upper", f"上位27%が許容の選択肢「{o.text}」を最適より多く選んでいる（{o.upper} 件・最適 {top_best} 件）"))
    return found


def question_stats(questions: list[Question], filters: StatFilters) -> list[ItemStats]:
    """The statistics of each scored question, on the version in force under the filters."""
    return stats_and_rows(questions, filters)[0]


def stats_and_rows(questions: list[Question], filters: StatFilters) -> tuple[list[ItemStats], list[_Row]]:
    """question_stats and the answer rows behind them (a point's summary reuses the rows)."""
    scored = [q for q in questions if q.type in SCORED_TYPES]
    versions = versions_in_force([q.id for q in scored], filters.release_id)
    rows = _rows([v.id for v in versions.values()], filters)
    rows_by_version: dict[int, list[_Row]] = defaultdict(list)
    for row in rows:
        rows_by_version[row.version_id].append(row)
    opinions = _opinion_counts([q.id for q in scored])
    return [compute(q, versions[q.id], rows_by_version[versions[q.id].id], opinions.get(q.id, 0))
            for q in scored if q.id in versions], rows


def version_comparison(question: Question, filters: StatFilters) -> list[ItemStats]:
    """Every version of one question side by side (the release filter does not apply)."""
    versions = all_versions(question.id)
    rows_by_version: dict[int, list[_Row]] = defaultdict(list)
    for row in _rows([v.id for v in versions], filters):
        rows_by_version[row.version_id].append(row)
    opinions = _opinion_counts([question.id]).get(question.id, 0)
    return [compute(question, v, rows_by_version[v.id], opinions) for v in versions]


# --- per point and per case ------------------------------------------------------------------

def point_question_ids(point_id: str) -> list[int]:
    """Questions whose current version practises the point."""
    stmt = (select(Question.id).join(QuestionPoint, QuestionPoint.version_id == Question.current_version_id)
            .where(QuestionPoint.point_id == point_id, Question.retired_at.is_(None)).order_by(Question.id))
    return list(db.session.scalars(stmt))


def questions_by_id(ids: list[int]) -> list[Question]:
    if not ids:
        return []
    found = {q.id: q for q in db.session.scalars(select(Question).where(Question.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def module_questions(module_ids: list[str]) -> list[Question]:
    if not module_ids:
        return []
    stmt = (select(Question).where(Question.module_id.in_(module_ids), Question.retired_at.is_(None))
            .order_by(Question.module_id, Question.id))
    return list(db.session.scalars(stmt))


@dataclass(frozen=True)
class PointSummary:
    """How the trainees under the filters stand on a point, from their answers to its questions."""

    trainees: int
    secure: Rate
    mean_score: float | None

    @property
    def shown(self) -> bool:
        return self.trainees >= MIN_RESPONSES


def point_summary(point_id: str, filters: StatFilters) -> PointSummary:
    """Mastery rate on the point (services/mastery's rule, applied to these answers)."""
    versions = versions_in_force(point_question_ids(point_id), filters.release_id)
    return summary_of(_rows([v.id for v in versions.values()], filters))


def summary_of(rows: list[_Row]) -> PointSummary:
    """The point's summary from the answer rows to its questions."""
    per_user: dict[int, list[float]] = defaultdict(list)
    for row in rows:
        if row.score is not None:
            per_user[row.user_id].append(row.score)
    secure = sum(1 for scores in per_user.values() if mastery.classify(len(scores), sum(scores) / len(scores)) == "secure")
    scores = [s for v in per_user.values() for s in v]
    return PointSummary(len(per_user), Rate(secure, len(per_user)), sum(scores) / len(scores) if scores else None)


# --- the table behind the screen and its export ------------------------------------------------

HEADER = ["問題キー", "版", "種類", "問題文", "回答数", "正答率", "正答率の下限(95%)", "正答率の上限(95%)",
          "要注意の割合", "点双列相関", "上位下位27%指数", "所要時間の中央値(秒)", "意見の数", "選択肢の頻度", "注意"]


def _pct(value: float | None) -> float | None:
    return round(value * 100, 1) if value is not None else None


def _round(value: float | None, digits: int = 2) -> float | None:
    return round(value, digits) if value is not None else None


def table_rows(items: list[ItemStats]) -> Iterable[list[Any]]:
    """One row per item, exactly the figures on the screen (blank below MIN_RESPONSES)."""
    from trainer.content.schema import QUESTION_TYPE_LABELS, RATING_LABELS

    for s in items:
        head = [s.question.key, s.version.version, QUESTION_TYPE_LABELS.get(s.version.type, s.version.type),
                s.prompt, s.n]
        if not s.shown:
            yield head + [None] * 8 + [f"回答が{MIN_RESPONSES}件未満のため表示しません", ""]
            continue
        low, high = s.facility.interval or (None, None)
        options = "／".join(f"{o.text}［{RATING_LABELS.get(o.rating, o.rating)}］{o.count}" for o in s.options)
        yield head + [_pct(s.facility.value), _pct(low), _pct(high), _pct(s.caution.value), _round(s.point_biserial),
                      _round(s.upper_lower), _round(s.median_seconds, 0), s.opinions, options,
                      "；".join(f.reason for f in s.flags)]
