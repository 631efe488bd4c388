"""Workshops: creation, facilitators, modules, participants, join codes and walk-in registration."""
from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, or_, select

from trainer.extensions import db
from trainer.models import (
    Module, Organization, Role, User, UserRole, Workshop, WorkshopFacilitator, WorkshopModule, WorkshopParticipant,
)
from trainer.dates import utcnow
from trainer.services import accounts, audit, fields, orgs, unique

#: Join codes: 8 characters without look-alikes (0/O, 1/I) — 32**8, about 10**12 codes — shown and
#: read aloud as two groups of four (ABCD-EFGH). Full-width and hyphenated input is accepted.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


class WorkshopError(ValueError):
    """The request cannot be carried out; the message is shown to the facilitator (Japanese)."""


@dataclass(frozen=True)
class WorkshopInput:
    title: str
    starts_at: datetime
    ends_at: datetime
    venue: str
    online: bool
    module_ids: list[str]
    co_facilitators: str = ""
    participants: str = ""


def _logins(text: str) -> list[str]:
    return [accounts.normalise_login_id(x) for x in re.split(r"[\s,、，]+", text or "") if x.strip()]


def listing(items: list[str], limit: int = 10) -> str:
    """Items for a message, at most ``limit`` of them and how many more (a pasted list of thousands
    stays readable and never overflows the cookie a flashed message travels in)."""
    shown = "、".join(items[:limit])
    return f"{shown} ほか{len(items) - limit}件" if len(items) > limit else shown


def jurisdiction_of(org: Organization) -> int | None:
    """The jurisdiction (prefecture or designated city) an organization belongs to."""
    return orgs.jurisdiction_for(org)


def _people(logins: list[str], jurisdiction: int | None, role: Role) -> tuple[list[User], list[str]]:
    """Active accounts with ``role`` in organizations of ``jurisdiction``, and the logins that are not
    (unknown, inactive, another role or another jurisdiction alike: the caller cannot tell which)."""
    if not logins:
        return [], []
    stmt = (select(User).join(Organization, Organization.id == User.organization_id)
            .where(User.login_id.in_(logins), User.active.is_(True),
                   or_(Organization.jurisdiction_id == jurisdiction, Organization.id == jurisdiction),
                   exists().where(UserRole.user_id == User.id, UserRole.role == role)))
    found = {u.login_id: u for u in db.session.scalars(stmt)} if jurisdiction is not None else {}
    return [found[x] for x in dict.fromkeys(logins) if x in found], [x for x in dict.fromkeys(logins) if x not in found]


def _refused(kind: str, logins: list[str], jurisdiction_name: str) -> str:
    """One message whatever the reason, so an invitation never tells whether a login ID exists."""
    return (f"{kind}として招待できないログインID: {listing(logins)}（{jurisdiction_name}の管内で{kind}として"
            "登録されている、利用中のアカウントのログインIDか確かめてください）")


def new_join_code() -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if db.session.scalar(select(Workshop.id).where(Workshop.join_code == code)) is None:
            return code


def normalise_code(value: str) -> str:
    """What a person typed or a QR code carried, as stored: full-width folded (ＡＢ１ -> AB1),
    upper-case, without hyphens, spaces or anything else outside A-Z and 0-9."""
    folded = unicodedata.normalize("NFKC", value or "").upper()
    return "".join(ch for ch in folded if ch.isascii() and ch.isalnum())[:12]


def format_code(code: str) -> str:
    """ABCDEFGH -> ABCD-EFGH (older 6-character codes are shown as they are)."""
    return f"{code[:4]}-{code[4:]}" if len(code) == CODE_LENGTH else code


def create(owner: User, data: WorkshopInput) -> Workshop:
    """Create a workshop with its modules, co-facilitators and invited participants. Participants
    and co-facilitators come from the owner's own jurisdiction only (docs/security.md)."""
    _check(data)
    scope = jurisdiction_of(db.session.get(Organization, owner.organization_id))
    scope_name = _scope_name(scope)
    co, missing_co = _people(_logins(data.co_facilitators), scope, Role.FACILITATOR)
    invited, missing = _people(_logins(data.participants), scope, Role.TRAINEE)
    problems = []
    if missing_co:
        problems.append(_refused("ファシリテーター", missing_co, scope_name))
    if missing:
        problems.append(_refused("受講者", missing, scope_name))
    if problems:
        raise WorkshopError(" / ".join(problems))
    workshop = Workshop(title=data.title.strip(), starts_at=data.starts_at, ends_at=data.ends_at,
                        venue=data.venue.strip(), online=data.online, join_code=new_join_code(),
                        organization_id=owner.organization_id, created_by_id=owner.id)
    workshop.facilitators = [WorkshopFacilitator(user_id=u.id) for u in {owner.id: owner, **{u.id: u for u in co}}.values()]
    workshop.modules = [WorkshopModule(module_id=m, position=i) for i, m in enumerate(dict.fromkeys(data.module_ids))]
    workshop.participants = [WorkshopParticipant(user_id=u.id, via="invite") for u in invited]
    db.session.add(workshop)
    db.session.flush()
    audit.record("workshop.create", actor=owner, subject=workshop.title, detail={"workshop": workshop.id})
    return workshop


def _scope_name(jurisdiction: int | None) -> str:
    org = db.session.get(Organization, jurisdiction) if jurisdiction is not None else None
    return org.name if org is not None else "所属"


def _check(data: WorkshopInput) -> None:
    if not data.title.strip():
        raise WorkshopError("研修会の名前を入力してください。")
    if problem := fields.problem(data.title, Workshop.title, "研修会の名前") or fields.problem(data.venue, Workshop.venue, "会場"):
        raise WorkshopError(problem)
    if data.ends_at <= data.starts_at:
        raise WorkshopError("終了日時は開始日時より後にしてください。")
    if data.ends_at <= utcnow():
        raise WorkshopError("終了日時がすでに過ぎています。これから開く研修会の日時を入力してください。")
    if not data.module_ids:
        raise WorkshopError("使うモジュールを1つ以上選んでください。")
    known = set(db.session.scalars(select(Module.id).where(Module.id.in_(data.module_ids), Module.retired_at.is_(None))))
    if unknown := [m for m in data.module_ids if m not in known]:
        raise WorkshopError("選べないモジュールが含まれています: " + "、".join(unknown))


def invite(workshop: Workshop, logins_text: str, *, actor: User) -> int:
    """Add trainees of the workshop's jurisdiction; any other login ID refuses the whole invitation."""
    scope = jurisdiction_of(db.session.get(Organization, workshop.organization_id))
    users, missing = _people(_logins(logins_text), scope, Role.TRAINEE)
    if missing:
        raise WorkshopError(_refused("受講者", missing, _scope_name(scope)))
    present = {p.user_id for p in workshop.participants}
    added = [WorkshopParticipant(user_id=u.id, via="invite") for u in users if u.id not in present]
    workshop.participants.extend(added)
    db.session.flush()
    return len(added)


def facilitated_by(user: User) -> list[Workshop]:
    stmt = (select(Workshop).join(WorkshopFacilitator, WorkshopFacilitator.workshop_id == Workshop.id)
            .where(WorkshopFacilitator.user_id == user.id).order_by(Workshop.starts_at.desc()))
    return list(db.session.scalars(stmt))


def attended_by(user: User) -> list[Workshop]:
    stmt = (select(Workshop).join(WorkshopParticipant, WorkshopParticipant.workshop_id == Workshop.id)
            .where(WorkshopParticipant.user_id == user.id).order_by(Workshop.starts_at.desc()))
    return list(db.session.scalars(stmt))


def join(workshop: Workshop, user: User, via: str = "code") -> WorkshopParticipant:
    """Add the user to the workshop once (a second or concurrent join returns the same row)."""
    participant, _ = unique.find_or_create(
        lambda: db.session.scalar(select(WorkshopParticipant).where(
            WorkshopParticipant.workshop_id == workshop.id, WorkshopParticipant.user_id == user.id)),
        lambda: WorkshopParticipant(workshop_id=workshop.id, user_id=user.id, via=via))
    return participant


def facilitator_names(workshop: Workshop) -> list[str]:
    ids = [f.user_id for f in workshop.facilitators]
    return list(db.session.scalars(select(User.display_name).where(User.id.in_(ids)).order_by(User.id)))
