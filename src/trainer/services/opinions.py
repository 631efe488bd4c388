"""Opinions and questions on the handbook content, gathered from trainees for the editors."""
from __future__ import annotations

from collections.abc import Iterator

from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from trainer.extensions import db
from trainer.models import Case, Module, Opinion, Organization, Point, User
from trainer.dates import utcnow
from trainer.services import unique

MAX_LENGTH = 2000


class OpinionError(ValueError):
    """The opinion cannot be recorded; the message is shown to the trainee."""


def add(user: User, body: str, *, case_id: str | None = None, point_id: str | None = None,
        module_id: str | None = None, client_token: str | None = None) -> Opinion:
    """Record an opinion; the same ``client_token`` (a form sent twice) records it once."""
    body = (body or "").strip()
    if not body:
        raise OpinionError("意見や質問を書いてください。")
    if len(body) > MAX_LENGTH:
        raise OpinionError(f"{MAX_LENGTH}文字以内で書いてください。")
    if case_id and db.session.get(Case, case_id) is None or point_id and db.session.get(Point, point_id) is None:
        raise OpinionError("意見の対象が見つかりません。ページを開き直してください。")
    if module_id and db.session.get(Module, module_id) is None:
        module_id = None
    if not case_id and not point_id:
        raise OpinionError("事例または支援のポイントを選んでから送ってください。")
    def find() -> Opinion | None:
        if not client_token:
            return None
        return db.session.scalar(select(Opinion).where(Opinion.user_id == user.id, Opinion.client_token == client_token))

    if (again := find()) is not None:  # the same form sent again: recorded already, whatever the limit
        return again
    per_hour = current_app.config["OPINIONS_PER_HOUR"]
    recent = db.session.scalar(select(func.count()).select_from(Opinion).where(
        Opinion.user_id == user.id, Opinion.created_at >= utcnow() - timedelta(hours=1)))
    if recent >= per_hour:
        raise OpinionError(f"意見は1時間に{per_hour}件まで送れます。しばらく時間をおいてから送ってください。")
    opinion, _ = unique.find_or_create(find, lambda: Opinion(
        user_id=user.id, case_id=case_id, point_id=point_id, module_id=module_id, body=body,
        client_token=client_token or None))
    return opinion


def _filtered(stmt, case_id: str | None, point_id: str | None):
    if case_id:
        stmt = stmt.where(Opinion.case_id == case_id)
    if point_id:
        stmt = stmt.where(Opinion.point_id == point_id)
    return stmt


def listing(*, case_id: str | None = None, point_id: str | None = None, limit: int | None = None, offset: int = 0):
    """Opinions with their author and organization, newest first, optionally for one case or point;
    a page of ``limit`` of them when given (the administrator's list), all of them otherwise (CSV)."""
    stmt = _filtered(select(Opinion, User, Organization).join(User, User.id == Opinion.user_id)
                     .join(Organization, Organization.id == User.organization_id)
                     .order_by(Opinion.created_at.desc(), Opinion.id.desc()), case_id, point_id)
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    return db.session.execute(stmt).all()


def count(*, case_id: str | None = None, point_id: str | None = None) -> int:
    return db.session.scalar(_filtered(select(func.count()).select_from(Opinion), case_id, point_id))


CSV_HEADER = ("日時", "対象の種類", "対象ID", "対象", "意見・質問", "投稿者", "所属")


def csv_rows(jst) -> Iterator[list[str]]:
    """Rows for the CSV export (the caller escapes and encodes)."""
    cases = dict(db.session.execute(select(Case.id, Case.title)).all())
    points = dict(db.session.execute(select(Point.id, Point.title)).all())
    yield list(CSV_HEADER)
    for opinion, user, org in listing():
        kind, key = ("事例", opinion.case_id) if opinion.case_id else ("支援のポイント", opinion.point_id)
        title = cases.get(key) if opinion.case_id else points.get(key)
        yield [jst(opinion.created_at), kind, key, title or "", opinion.body, user.display_name, org.full_name]
