"""Mastery of the 50 points, from the latest answer to each scored question tagged with a point.

Rule (shown to trainees): for each point, take the trainee's most recent answer to every scored
question tagged with it. No answer: 未練習. At least MIN_SECURE_QUESTIONS answers averaging
SECURE_SCORE or more: 定着. Otherwise: 学習中.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import selectinload

from trainer.extensions import db
from trainer.models import Answer, Item, Point, QuestionPoint
from trainer.models import MasteryWatermark as Watermark
from trainer.models import PointMastery as Summary

SECURE_SCORE = 0.8
MIN_SECURE_QUESTIONS = 2
STATES = {
    "none": ("未練習", "○"),
    "learning": ("学習中", "◐"),
    "secure": ("定着", "●"),
}
RULE_TEXT = (f"各ポイントについて、そのポイントが付いた採点問題への最新の回答を見ます。"
             f"{MIN_SECURE_QUESTIONS}問以上に回答し、平均が{int(SECURE_SCORE * 100)}%以上なら「定着」、"
             "1問以上回答していれば「学習中」、まだ回答がなければ「未練習」です。")


@dataclass(frozen=True)
class PointMastery:
    point: Point
    answered: int
    mean: float | None

    @property
    def state(self) -> str:
        return classify(self.answered, self.mean)

    @property
    def label(self) -> str:
        return STATES[self.state][0]

    @property
    def symbol(self) -> str:
        return STATES[self.state][1]


def classify(answered: int, mean: float | None) -> str:
    if not answered:
        return "none"
    if answered >= MIN_SECURE_QUESTIONS and (mean or 0) >= SECURE_SCORE:
        return "secure"
    return "learning"


def latest_answers(user_ids: Iterable[int] | None = None, *, user_filter=None):
    """Subquery: the newest scored answer per (user, question)."""
    newest = select(func.max(Answer.id).label("id")).where(Answer.score.is_not(None))
    if user_ids is not None:
        newest = newest.where(Answer.user_id.in_(list(user_ids)))
    if user_filter is not None:
        newest = newest.where(user_filter)
    return newest.group_by(Answer.user_id, Answer.question_id).subquery()


def user_point_stats(user_id: int) -> dict[str, tuple[int, float]]:
    """point_id -> (questions answered, mean score) for one trainee."""
    return {pid: stats for uid, pid, stats in point_stats([user_id])}


def point_stats(user_ids: Iterable[int]):
    """(user_id, point_id, (answered, mean)) for the given trainees, from their latest answers."""
    ids = list(user_ids)
    if not ids:
        return []
    return [(uid, pid, (n, total / n)) for (uid, pid), (n, total) in computed_point_stats(ids).items() if n]


def computed_point_stats(user_ids: Iterable[int]) -> dict[tuple[int, str], tuple[int, float]]:
    """The same figures computed from every answer (slow; for rebuilding and checking the summary)."""
    newest = latest_answers(list(user_ids))
    stmt = (select(Answer.user_id, QuestionPoint.point_id, func.count(), func.sum(Answer.score))
            .select_from(Answer).join(newest, newest.c.id == Answer.id)
            .join(QuestionPoint, QuestionPoint.version_id == Answer.version_id)
            .group_by(Answer.user_id, QuestionPoint.point_id))
    return {(uid, pid): (n, float(total)) for uid, pid, n, total in db.session.execute(stmt)}


def rebuild(user_ids: Iterable[int]) -> None:
    """Recompute point_mastery for these trainees from their answers."""
    ids = list(user_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        db.session.execute(delete(Summary).where(Summary.user_id.in_(chunk)))
        rows = [{"user_id": uid, "point_id": pid, "answered": n, "score_sum": total}
                for (uid, pid), (n, total) in computed_point_stats(chunk).items()]
        if rows:
            db.session.execute(insert(Summary), rows)


def refresh_summary() -> int:
    """Fold answers stored since the last refresh into point_mastery; returns how many trainees
    were recomputed. Derived data only: any number of processes may call it, and they serialize
    on the watermark row. Called before the summary is read, so it is never stale."""
    newest = db.session.scalar(select(func.max(Answer.id))) or 0
    mark = db.session.scalar(select(Watermark).where(Watermark.id == 1).with_for_update())
    if mark is None:
        mark = Watermark(id=1, answer_id=0)
        db.session.add(mark)
    if newest <= mark.answer_id:
        return 0
    users = list(db.session.scalars(select(Answer.user_id).distinct().where(
        Answer.id > mark.answer_id, Answer.id <= newest, Answer.score.is_not(None))))
    rebuild(users)
    mark.answer_id = newest
    db.session.flush()
    return len(users)


def mastery_grid(stats: dict[str, tuple[int, float]], items=None) -> list[tuple[Item, list[PointMastery]]]:
    """The 7 items with their points and each point's mastery (``items``: already loaded, e.g. from
    services/content_views, with their points)."""
    if items is None:
        items = db.session.scalars(select(Item).options(selectinload(Item.points)).order_by(Item.number)).all()
    grid = []
    for item in items:
        cells = [PointMastery(p, *stats.get(p.id, (0, None))) for p in item.points if p.retired_at is None]
        grid.append((item, cells))
    return grid


def summary(grid: list[tuple[Item, list[PointMastery]]]) -> dict[str, int]:
    counts = dict.fromkeys(STATES, 0)
    for _, cells in grid:
        for cell in cells:
            counts[cell.state] += 1
    return counts
