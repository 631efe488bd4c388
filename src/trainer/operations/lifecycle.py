"""Data lifecycle: departed trainees' personal fields end with the retention period; one person's
record can be handed over on request (開示請求, 個人情報保護法 第33条).

- A trainee account is *departed* when it is inactive; it was deactivated at its latest
  ``user.deactivate`` audit event. An inactive account without one is never purged (its date is
  unknown) and is listed so that an administrator can decide.
- Purging keeps every row, so every count, completion, score and mastery figure stays the same; it
  replaces what identifies the person: login ID, name, furigana, e-mail, password, the name on their
  certificates, the text of their reflections and opinions, their login ID in audit subjects and
  roster imports, and the addresses in their audit events.
"""
from __future__ import annotations

import csv
import io
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select, update

from trainer.dates import utcnow
from trainer.extensions import db
from trainer.models import (Answer, Attempt, AuditEvent, Certificate, Opinion, PointMastery, Question, QuestionVersion,
                            Role, RosterImport, User, UserRole, WorkshopParticipant)
from trainer.services import audit
from trainer.services.csvio import escape_cell

PURGED_NAME = "（保存期間経過のため削除）"
PURGED_TEXT = ""


@dataclass(frozen=True)
class Departed:
    user_id: int
    login_id: str
    deactivated_at: datetime | None


def cutoff(years: int, now: datetime | None = None) -> datetime:
    """The moment ``years`` years before now (29 February falls back to the 28th)."""
    now = now or utcnow()
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return now.replace(year=now.year - years, day=28)


def departed_trainees(before: datetime) -> tuple[list[Departed], list[Departed]]:
    """(due, undated): inactive trainee-only accounts deactivated before ``before``, and inactive ones
    whose deactivation is not in the audit log. Accounts already purged are left out."""
    deactivated = (select(AuditEvent.subject, func.max(AuditEvent.at).label("at"))
                   .where(AuditEvent.action == "user.deactivate").group_by(AuditEvent.subject).subquery())
    other_roles = select(UserRole.id).where(UserRole.user_id == User.id, UserRole.role != Role.TRAINEE.value)
    rows = db.session.execute(
        select(User.id, User.login_id, deactivated.c.at)
        .outerjoin(deactivated, deactivated.c.subject == User.login_id)
        .where(User.active.is_(False), ~other_roles.exists(), ~User.login_id.startswith("purged-"))
        .order_by(User.id))
    due, undated = [], []
    for user_id, login_id, at in rows:
        if at is None:
            undated.append(Departed(user_id, login_id, None))
        elif _aware(at) < before:
            due.append(Departed(user_id, login_id, at))
    return due, undated


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def purge(people: list[Departed], *, years: int) -> int:
    """Anonymize these accounts (the caller commits); one audit event lists the new pseudonyms."""
    reflections = select(QuestionVersion.id).where(QuestionVersion.type == "reflection")
    renamed = []
    for person in people:
        pseudonym = f"purged-{person.user_id}"
        db.session.execute(update(User).where(User.id == person.user_id).values(
            login_id=pseudonym, display_name=PURGED_NAME, furigana=None, email=None,
            password_hash="!purged:" + secrets.token_hex(16), must_change_password=False))
        db.session.execute(update(Certificate).where(Certificate.user_id == person.user_id)
                           .values(holder_name=PURGED_NAME))
        db.session.execute(update(Answer).where(Answer.user_id == person.user_id, Answer.version_id.in_(reflections))
                           .values(response={"text": PURGED_TEXT}))
        db.session.execute(update(Opinion).where(Opinion.user_id == person.user_id).values(body=PURGED_TEXT))
        db.session.execute(update(AuditEvent).where(AuditEvent.subject == person.login_id)
                           .values(subject=pseudonym, ip=None))
        db.session.execute(update(AuditEvent).where(AuditEvent.actor_id == person.user_id)
                           .values(actor_label=pseudonym, ip=None))
        renamed.append(pseudonym)
    _rename_in_rosters({p.login_id: f"purged-{p.user_id}" for p in people})
    if renamed:
        audit.record("data.purge", subject=f"{len(renamed)} accounts",
                     detail={"retention_years": years, "accounts": renamed})
    return len(renamed)


def _rename_in_rosters(pseudonyms: dict[str, str]) -> None:
    """Roster imports remember the login IDs they created ([[login_id, generated], ...])."""
    if not pseudonyms:
        return
    for record in db.session.scalars(select(RosterImport)):
        accounts = [[pseudonyms.get(row[0], row[0]), *row[1:]] for row in record.accounts]
        if accounts != record.accounts:
            record.accounts = accounts


# --- one person's record ------------------------------------------------------------------------

def user_record(user: User) -> dict[str, Any]:
    """Everything stored about one person, as plain data (for JSON or CSV)."""
    uid = user.id
    attempts = db.session.scalars(select(Attempt).where(Attempt.user_id == uid).order_by(Attempt.id)).all()
    answers = db.session.execute(
        select(Answer, Question.key, QuestionVersion.type).join(Question, Question.id == Answer.question_id)
        .join(QuestionVersion, QuestionVersion.id == Answer.version_id)
        .where(Answer.user_id == uid).order_by(Answer.id)).all()
    return {
        "account": {
            "login_id": user.login_id, "display_name": user.display_name, "furigana": user.furigana,
            "email": user.email, "organization": user.organization.name,
            "organization_code": user.organization.code, "roles": sorted(user.role_names()),
            "active": user.active, "created_at": _iso(user.created_at),
            "password_changed_at": _iso(user.password_changed_at),
        },
        "attempts": [{"module": a.module_id, "number": a.number, "started_at": _iso(a.started_at),
                      "completed_at": _iso(a.completed_at), "score": a.score, "seconds_spent": a.seconds_spent,
                      "workshop_id": a.workshop_id} for a in attempts],
        "answers": [{"question": key, "type": qtype, "response": answer.response,
                     "rating": answer.rating, "score": answer.score, "answered_at": _iso(answer.created_at)}
                    for answer, key, qtype in answers],
        "point_mastery": [{"point": m.point_id, **{k: v for k, v in _columns(m).items() if k not in ("user_id", "point_id")}}
                          for m in db.session.scalars(select(PointMastery).where(PointMastery.user_id == uid)
                                                      .order_by(PointMastery.point_id))],
        "certificates": [{"code": c.code, "course": c.course_id, "course_title": c.course_title,
                          "holder_name": c.holder_name, "issued_at": _iso(c.issued_at),
                          "completed_on": _iso(c.completed_on)}
                         for c in db.session.scalars(select(Certificate).where(Certificate.user_id == uid))],
        "opinions": [{"case": o.case_id, "point": o.point_id, "module": o.module_id, "body": o.body,
                      "created_at": _iso(o.created_at)}
                     for o in db.session.scalars(select(Opinion).where(Opinion.user_id == uid).order_by(Opinion.id))],
        "workshops": [{"workshop_id": p.workshop_id, "via": p.via, "joined_at": _iso(p.joined_at)}
                      for p in db.session.scalars(select(WorkshopParticipant)
                                                  .where(WorkshopParticipant.user_id == uid))],
        "sign_ins": [{"action": e.action, "at": _iso(e.at)} for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.subject == user.login_id,
                                     AuditEvent.action.in_(("login.success", "login.failure", "logout")))
            .order_by(AuditEvent.id).limit(1000))],
    }


def _columns(obj) -> dict[str, Any]:
    out = {}
    for column in obj.__table__.columns:
        value = getattr(obj, column.key)
        out[column.key] = _iso(value) if isinstance(value, datetime) else value
    return out


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def record_as_csv(record: dict[str, Any]) -> str:
    """The same record as one CSV (section, field, value), for Excel (the caller writes utf-8-sig)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["区分", "番号", "項目", "値"])
    for key, value in record["account"].items():
        writer.writerow(["account", "", key, escape_cell(value)])
    for section in ("attempts", "answers", "point_mastery", "certificates", "opinions", "workshops", "sign_ins"):
        for n, row in enumerate(record[section], start=1):
            for key, value in row.items():
                shown = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value
                writer.writerow([section, n, key, escape_cell(shown)])
    return out.getvalue()
