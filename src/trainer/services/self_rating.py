"""The trainee's own before/after self-rating, per point, within one attempt of a module.

A module with a case opens with a ``phase: before`` self-rating and ends with ``phase: after``
(docs/content-format.md). The result page and the after-rating's feedback show both numbers side by
side, as the before-rating promised (「研修の前後で比べることができます」).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from trainer.extensions import db
from trainer.models import Answer, Point
from trainer.services import player


@dataclass(frozen=True)
class Change:
    point: Point
    before: int | None
    after: int | None

    @property
    def difference(self) -> int | None:
        return self.after - self.before if self.before is not None and self.after is not None else None


def changes(pages: list[player.Page], answers: dict[int, Answer]) -> list[Change]:
    """Per point rated in this attempt: the before and after values (None when not given), in point order."""
    values: dict[str, dict[str, int]] = {}
    for page in pages:
        answer = answers.get(page.question.id) if page.question else None
        if answer is None:
            continue
        version = player.version_data(page.question.id, answer.version_id)
        if version.type != "self_rating":
            continue
        phase = version.data.get("phase") or "before"
        for point_id, value in (answer.response.get("ratings") or {}).items():
            values.setdefault(point_id, {})[phase] = int(value)
    if not values:
        return []
    points = db.session.scalars(select(Point).where(Point.id.in_(list(values))).order_by(Point.sort))
    return [Change(p, values[p.id].get("before"), values[p.id].get("after")) for p in points]
