"""Writing to the audit log. Callers commit with the rest of their request."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from trainer.extensions import db
from trainer.models import AuditEvent, User

ACTION_LABELS = {
    "login.success": "ログイン成功",
    "login.failure": "ログイン失敗",
    "login.locked": "ログインの待ち時間の開始（同じ接続元からの失敗の連続）",
    "login.expired": "期限切れの初期パスワードでのログイン",
    "logout": "ログアウト",
    "walkin.confirm": "当日登録の確認",
    "workshop.registration": "当日登録の受付の開始・終了",
    "password.change": "パスワード変更",
    "password.reset": "パスワード再設定（管理者）",
    "user.create": "利用者作成",
    "user.deactivate": "利用者無効化",
    "user.activate": "利用者有効化",
    "role.change": "役割変更",
    "roster.import": "名簿取り込み",
    "org.create": "組織作成",
    "org.update": "組織更新",
    "org.import": "市区町村取り込み",
    "content.import": "教材取り込み",
    "opinions.export": "意見の書き出し",
    "certificate.issue": "修了証の発行",
    "review.list.view": "受講者一覧の閲覧（閲覧者）",
    "review.record.view": "受講記録の閲覧（閲覧者）",
    "review.export": "受講状況の書き出し（閲覧者）",
    "national.export": "全国の受講状況の書き出し（国）",
    "review.certificates": "修了証の一括書き出し（閲覧者）",
    "review.certificate": "修了証の書き出し（閲覧者）",
}


def record(
    action: str,
    *,
    actor: User | None = None,
    subject: str | None = None,
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Add one audit event to the session (the caller commits)."""
    event = AuditEvent(
        action=action,
        actor_id=actor.id if actor is not None else None,
        actor_label=actor.login_id if actor is not None else None,
        subject=subject[:120] if subject else None,
        detail=detail or {},
        ip=ip,
    )
    db.session.add(event)
    return event


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


def search(
    *, action: str | None = None, actor: str | None = None, subject: str | None = None,
    since=None, until=None, limit: int = 200, offset: int = 0,
) -> list[AuditEvent]:
    """Audit events, newest first, filtered by action, actor login, subject and time range."""
    stmt = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if actor:
        stmt = stmt.where(AuditEvent.actor_label == actor)
    if subject:
        stmt = stmt.where(AuditEvent.subject.contains(subject, autoescape=True))
    if since is not None:
        stmt = stmt.where(AuditEvent.at >= since)
    if until is not None:
        stmt = stmt.where(AuditEvent.at < until)
    return list(db.session.scalars(stmt.limit(limit).offset(offset)))
