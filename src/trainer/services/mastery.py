"""Mastery of the 50 points, from the latest answer to each scored question tagged with a point.

Rule (shown to trainees): for each point, take the trainee's most recent answer to every scored
question tagged with it. No answer: 未練習. At least MIN_SECURE_QUESTIONS answers averaging
SECURE_SCORE or more: 定着. Otherwise: 学習中.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select

from trainer.extensions import db
from trainer.models import Answer, Item, Point, QuestionPoint

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
    newest = latest_answers([user_id])
    stmt = (
        select(QuestionPoint.point_id, func.count(), func.avg(Answer.score))
        .select_from(Answer).join(newest, newest.c.id == Answer.id)
        .join(QuestionPoint, QuestionPoint.version_id == Answer.version_id)
        .group_by(QuestionPoint.point_id)
    )
    return {pid: (n, float(mean)) for pid, n, mean in db.session.execute(stmt)}


def mastery_grid(stats: dict[str, tuple[int, float]]) -> list[tuple[Item, list[PointMastery]]]:
    """The 7 items with their points and each point's mastery."""
    items = db.session.scalars(select(Item).order_by(Item.number)).all()
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
