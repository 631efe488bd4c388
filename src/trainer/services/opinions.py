"""Opinions and questions on the handbook content, gathered from trainees for the editors."""
from __future__ import annotations

import re
from collections.abc import Iterator

from datetime import timedelta

from flask import current_app
from sqlalchemy import func, or_, select

from trainer.extensions import db
from trainer.models import Case, ContentRelease, Module, Opinion, Organization, Point, Question, User
from trainer.dates import utcnow
from trainer.services import audit, unique

MAX_LENGTH = 2000


class OpinionError(ValueError):
    """The opinion cannot be recorded; the message is shown to the trainee."""


def add(user: User, body: str, *, case_id: str | None = None, point_id: str | None = None,
        module_id: str | None = None, client_token: str | None = None, question_id: int | None = None) -> Opinion:
    """Record an opinion; the same ``client_token`` (a form sent twice) records it once. An opinion
    sent from a question's feedback page names the question (and so its module and case)."""
    body = (body or "").strip()
    if not body:
        raise OpinionError("意見や質問を書いてください。")
    if len(body) > MAX_LENGTH:
        raise OpinionError(f"{MAX_LENGTH}文字以内で書いてください。")
    if question_id is not None:
        question = db.session.get(Question, question_id)
        if question is None or question.retired_at is not None:
            raise OpinionError("意見の対象が見つかりません。ページを開き直してください。")
        module_id = question.module_id
        case_id = case_id or db.session.scalar(select(Module.case_id).where(Module.id == question.module_id))
        if not case_id and not point_id and question.current_version is not None:
            point_id = next(iter(question.current_version.data.get("points") or []), None)
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
        client_token=client_token or None, question_id=question_id))
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


# --- the editors' workflow (意見照会) -----------------------------------------------------------

STATUS_LABELS = {"open": "未対応", "considering": "検討中", "planned": "反映予定", "done": "反映済",
                 "declined": "見送り"}
REPLY_MAX = 2000
TAG_MAX = 30
TAGS_MAX = 8


def parse_tags(text: str) -> list[str]:
    """Tags typed as one line, separated by commas, 、 or spaces; checked and de-duplicated."""
    raw = [t.strip() for t in re.split(r"[,、，\s]+", text or "") if t.strip()]
    tags = list(dict.fromkeys(raw))
    if len(tags) > TAGS_MAX:
        raise OpinionError(f"タグは{TAGS_MAX}個までにしてください。")
    if any(len(t) > TAG_MAX for t in tags):
        raise OpinionError(f"タグは1つ{TAG_MAX}文字以内にしてください。")
    return tags


def update(opinion: Opinion, editor: User, *, status: str, reply: str, tags: list[str],
           release_id: int | None, ip: str | None = None) -> bool:
    """An editor sets the status, the reply (shown to the author), tags and the content release that
    answered it; audited with what changed. Returns False when nothing changed."""
    if status not in STATUS_LABELS:
        raise OpinionError("対応状況を一覧から選んでください。")
    reply = (reply or "").strip()
    if len(reply) > REPLY_MAX:
        raise OpinionError(f"回答は{REPLY_MAX}文字以内で書いてください。")
    if release_id is not None and db.session.get(ContentRelease, release_id) is None:
        raise OpinionError("反映した教材の版が見つかりません。一覧から選んでください。")
    if status == "done" and release_id is None:
        raise OpinionError("「反映済」にするときは、反映した教材の版を選んでください。")
    before = {"status": opinion.status, "reply": opinion.reply or "", "tags": opinion.tags or [],
              "release": opinion.resolved_release_id}
    after = {"status": status, "reply": reply, "tags": tags, "release": release_id}
    if before == after:
        return False
    opinion.status, opinion.tags, opinion.resolved_release_id = status, tags, release_id
    if reply != (opinion.reply or ""):
        opinion.reply = reply or None
        opinion.replied_at = utcnow() if reply else None
        opinion.replied_by_id = editor.id if reply else None
    changed = sorted(k for k in after if before[k] != after[k])
    audit.record("opinion.update", actor=editor, subject=f"意見 {opinion.id}", ip=ip,
                 detail={"changed": changed, "status": [before["status"], status]})
    return True


def for_editor(*, case_id: str | None = None, point_id: str | None = None, question_ids: list[int] | None = None,
               status: str | None = None, limit: int | None = None, offset: int = 0) -> list[Opinion]:
    """Opinions on a case, a point or some questions (any of them), newest first; no author data
    (editors work on the text, not on people)."""
    stmt = select(Opinion).order_by(Opinion.created_at.desc(), Opinion.id.desc())
    targets = []
    if case_id:
        targets.append(Opinion.case_id == case_id)
    if point_id:
        targets.append(Opinion.point_id == point_id)
    if question_ids:
        targets.append(Opinion.question_id.in_(question_ids))
    if targets:
        stmt = stmt.where(or_(*targets))
    if status:
        stmt = stmt.where(Opinion.status == status)
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    return list(db.session.scalars(stmt))


def status_counts() -> dict[str, int]:
    rows = db.session.execute(select(Opinion.status, func.count()).group_by(Opinion.status)).all()
    found = dict(rows)
    return {k: found.get(k, 0) for k in STATUS_LABELS}


def of_user(user: User) -> list[Opinion]:
    """A trainee's own opinions, newest first, with the editors' replies."""
    return list(db.session.scalars(select(Opinion).where(Opinion.user_id == user.id)
                                   .order_by(Opinion.created_at.desc(), Opinion.id.desc())))


def target_label(opinion: Opinion, cases: dict[str, str], points: dict[str, str],
                 questions: dict[int, str] | None = None) -> str:
    parts = []
    if opinion.case_id:
        parts.append(f"事例「{cases.get(opinion.case_id, opinion.case_id)}」")
    if opinion.point_id:
        parts.append(f"{opinion.point_id} {points.get(opinion.point_id, '')}".strip())
    if opinion.question_id and questions is not None:
        parts.append(f"問題 {questions.get(opinion.question_id, opinion.question_id)}")
    return "・".join(parts)


def titles() -> tuple[dict[str, str], dict[str, str], dict[int, str]]:
    """(case titles, point titles, question keys) for labelling opinions."""
    return (dict(db.session.execute(select(Case.id, Case.title)).all()),
            dict(db.session.execute(select(Point.id, Point.title)).all()),
            dict(db.session.execute(select(Question.id, Question.key)).all()))
