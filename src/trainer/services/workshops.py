"""Workshops: creation, facilitators, modules, participants, join codes and walk-in registration."""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, or_, select

from trainer.extensions import db
from trainer.models import (
    Module, Organization, OrgKind, Role, User, UserRole, Workshop, WorkshopFacilitator, WorkshopModule,
    WorkshopParticipant,
)
from trainer.dates import utcnow
from trainer.services import accounts, audit, orgs, unique

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6


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
    return (f"{kind}として招待できないログインID: {'、'.join(logins)}（{jurisdiction_name}の管内で{kind}として"
            "登録されている、利用中のアカウントのログインIDか確かめてください）")


def new_join_code() -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if db.session.scalar(select(Workshop.id).where(Workshop.join_code == code)) is None:
            return code


def normalise_code(value: str) -> str:
    return "".join(ch for ch in (value or "").upper() if ch.isalnum())[:12]


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
    if data.ends_at <= data.starts_at:
        raise WorkshopError("終了日時は開始日時より後にしてください。")
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


def by_code(code: str) -> Workshop | None:
    """The workshop of a join code, while the code is valid (until the workshop ends)."""
    workshop = db.session.scalar(select(Workshop).where(Workshop.join_code == normalise_code(code)))
    if workshop is None or workshop.ends_at < utcnow():
        return None
    return workshop


def join(workshop: Workshop, user: User, via: str = "code") -> WorkshopParticipant:
    """Add the user to the workshop once (a second or concurrent join returns the same row)."""
    participant, _ = unique.find_or_create(
        lambda: db.session.scalar(select(WorkshopParticipant).where(
            WorkshopParticipant.workshop_id == workshop.id, WorkshopParticipant.user_id == user.id)),
        lambda: WorkshopParticipant(workshop_id=workshop.id, user_id=user.id, via=via))
    return participant


def registration_orgs(workshop: Workshop) -> list[Organization]:
    """Where a walk-in may register: the organizations of the workshop's jurisdiction."""
    scope = jurisdiction_of(db.session.get(Organization, workshop.organization_id))
    stmt = (select(Organization).where(Organization.jurisdiction_id == scope, Organization.active.is_(True))
            .where(Organization.kind.in_([OrgKind.PREFECTURE, OrgKind.DESIGNATED_CITY, OrgKind.MUNICIPALITY, OrgKind.OFFICE]))
            .order_by(Organization.code, Organization.name))
    return list(db.session.scalars(stmt))


def register_walk_in(workshop: Workshop, *, login_id: str, name: str, furigana: str, org_id: int,
                     password: str) -> User:
    """Create a trainee account at the venue and add it to the workshop."""
    org = next((o for o in registration_orgs(workshop) if o.id == org_id), None)
    if org is None:
        raise WorkshopError("所属を一覧から選んでください。")
    try:
        user = accounts.create_user(login_id=login_id, display_name=name, furigana=furigana, organization=org,
                                    password=password, roles=[Role.TRAINEE])
    except accounts.LoginTaken:
        if (same := _registered_just_now(workshop, login_id, password)) is not None:
            return same  # the second request of a double click: the same registration
        raise
    join(workshop, user, via="register")
    return user


#: How long a repeated registration form (a double click, a resent form) counts as the same one.
REPEAT_WINDOW = timedelta(minutes=10)


def _registered_just_now(workshop: Workshop, login_id: str, password: str) -> User | None:
    """The account this same form created moments ago at this workshop (same ID and password)."""
    user = accounts.find_by_login(login_id)
    if user is None or user.created_at < utcnow() - REPEAT_WINDOW:
        return None
    joined = db.session.scalar(select(WorkshopParticipant.id).where(
        WorkshopParticipant.workshop_id == workshop.id, WorkshopParticipant.user_id == user.id,
        WorkshopParticipant.via == "register"))
    return user if joined is not None and accounts.verify_password(user, password) else None


def facilitator_names(workshop: Workshop) -> list[str]:
    ids = [f.user_id for f in workshop.facilitators]
    return list(db.session.scalars(select(User.display_name).where(User.id.in_(ids)).order_by(User.id)))
