"""Registration at the venue (walk-ins) and how long a join code works.

- A join code works from 00:00 (Japan time) of the workshop's first day until the workshop ends,
  for at most ``JOIN_CODE_MAX_DAYS`` days, and not after a facilitator closed registration.
- A walk-in gets a login ID from the system (``w-xxxx-xxxx``): registering never tells anyone
  whether an ID they chose already exists. The ID is derived from the form's one-time token, so a
  double-clicked form lands both requests on the same account (the second finds the first's).
- A walk-in account is unconfirmed until a facilitator of that workshop (or an administrator)
  confirms it; until then reviewers neither count nor see it (services/counted.py).
"""
from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, time, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from trainer.dates import JST, utcnow
from trainer.extensions import db
from trainer.models import Organization, OrgKind, Role, User, Workshop, WorkshopParticipant
from trainer.services import accounts, audit
from trainer.services.workshops import WorkshopError, join, jurisdiction_of, normalise_code

#: How long a repeated registration form (a double click, a resent form) counts as the same one.
REPEAT_WINDOW = timedelta(minutes=10)
LOGIN_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def code_window(workshop: Workshop) -> tuple[datetime, datetime]:
    """[opens, closes): from 00:00 in Japan on the first day to the end, JOIN_CODE_MAX_DAYS at most."""
    first_day = workshop.starts_at.astimezone(JST).date()
    opens = datetime.combine(first_day, time(), JST)
    days = current_app.config["JOIN_CODE_MAX_DAYS"]
    return opens, min(workshop.ends_at, opens + timedelta(days=days))


def registration_open(workshop: Workshop) -> bool:
    opens, closes = code_window(workshop)
    return workshop.registration_closed_at is None and opens <= utcnow() < closes


def by_code(code: str) -> Workshop | None:
    """The workshop of a join code while its registration is open."""
    normalised = normalise_code(code)
    if len(normalised) < 6:
        return None
    workshop = db.session.scalar(select(Workshop).where(Workshop.join_code == normalised))
    return workshop if workshop is not None and registration_open(workshop) else None


def set_registration(workshop: Workshop, open_: bool, *, actor: User) -> None:
    """A facilitator closes (or reopens, within the code's window) registration with the code."""
    workshop.registration_closed_at = None if open_ else utcnow()
    audit.record("workshop.registration", actor=actor, subject=workshop.title,
                 detail={"workshop": workshop.id, "open": open_})


def registration_orgs(workshop: Workshop) -> list[Organization]:
    """Where a walk-in may register: the organizations of the workshop's jurisdiction."""
    scope = jurisdiction_of(db.session.get(Organization, workshop.organization_id))
    stmt = (select(Organization).where(Organization.jurisdiction_id == scope, Organization.active.is_(True))
            .where(Organization.kind.in_([OrgKind.PREFECTURE, OrgKind.DESIGNATED_CITY, OrgKind.MUNICIPALITY, OrgKind.OFFICE]))
            .order_by(Organization.code, Organization.name))
    return list(db.session.scalars(stmt))


def login_id_for(workshop: Workshop, form_token: str) -> str:
    """The login ID a registration form creates: w-xxxx-xxxx, from the form's token and the secret."""
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"walk-in\0{workshop.id}\0{form_token}".encode(), hashlib.sha256).digest()
    chars = "".join(LOGIN_ALPHABET[b % len(LOGIN_ALPHABET)] for b in digest[:8])
    return f"w-{chars[:4]}-{chars[4:]}"


def register_walk_in(workshop: Workshop, *, name: str, furigana: str, org_id: int, password: str,
                     form_token: str) -> User:
    """Create an unconfirmed trainee account at the venue and add it to the workshop."""
    org = next((o for o in registration_orgs(workshop) if o.id == org_id), None)
    if org is None:
        raise WorkshopError("所属を一覧から選んでください。")
    login_id = login_id_for(workshop, form_token)
    try:
        user = accounts.create_user(login_id=login_id, display_name=name, furigana=furigana, organization=org,
                                    password=password, roles=[Role.TRAINEE], registration_confirmed=False)
    except accounts.LoginTaken:
        if (same := _registered_just_now(workshop, login_id, password)) is not None:
            return same  # the second request of a double click: the same registration
        raise WorkshopError("登録できませんでした。画面を開き直してから、もう一度登録してください。") from None
    join(workshop, user, via="register")
    return user


def _registered_just_now(workshop: Workshop, login_id: str, password: str) -> User | None:
    """The account this same form created moments ago at this workshop (same ID and password)."""
    user = accounts.find_by_login(login_id)
    if user is None or user.created_at < utcnow() - REPEAT_WINDOW:
        return None
    joined = db.session.scalar(select(WorkshopParticipant.id).where(
        WorkshopParticipant.workshop_id == workshop.id, WorkshopParticipant.user_id == user.id,
        WorkshopParticipant.via == "register"))
    return user if joined is not None and accounts.verify_password(user, password) else None


def pending(workshop: Workshop) -> list[User]:
    """Walk-ins who registered at this workshop and are not confirmed yet."""
    stmt = (select(User).options(joinedload(User.organization))
            .join(WorkshopParticipant, WorkshopParticipant.user_id == User.id)
            .where(WorkshopParticipant.workshop_id == workshop.id, WorkshopParticipant.via == "register",
                   User.registration_confirmed.is_(False)).order_by(User.created_at, User.id))
    return list(db.session.scalars(stmt))


def confirm(workshop: Workshop, user_ids: list[int], *, actor: User) -> int:
    """Confirm walk-ins of this workshop (only those who registered here); returns how many."""
    wanted = set(user_ids)
    confirmed = [u for u in pending(workshop) if u.id in wanted]
    for user in confirmed:
        accounts.confirm_registration(user, actor=actor)
    return len(confirmed)
