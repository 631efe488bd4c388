"""The signed-in user as a read-only record, for the pages a trainee waits for.

The user loader (web._load_user) runs on every signed-in request. Building the ORM ``User`` with its
roles and organization cost about an eighth of the player's answer request; on the player's own
endpoints (``LIGHT_ENDPOINTS``) the loader hands out a ``SignedInUser`` built from one Core statement
instead: the same sign-in check, the same figures. It holds what those requests use — ``id``, the
roles (access checks and the header's menu), the name and organization name (the header), the
password-change flag — and nothing is written through it. Anything else it is asked for loads the
ORM user (``orm()``), so a new use is slower, never wrong.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_login import UserMixin
from sqlalchemy import bindparam, select

from trainer.extensions import db
from trainer.models import Organization, User, UserRole, UserSession
from trainer.models.user import Role
from trainer.services import content_views, sessions

#: The player's page, answer and 次へ: the requests a trainee waits for (learn/routes.py). Their views
#: use only ``current_user.id``; their templates the header's fields.
LIGHT_ENDPOINTS = frozenset({"learn.page", "learn.answer", "learn.next_page"})

_SIGNED_IN = (
    select(User.id, User.login_id, User.display_name, User.must_change_password, User.organization_id,
           Organization.name.label("organization_name"), UserRole.role, UserRole.scope_id,
           content_views.RELEASE_ID.label("content_release"))
    .join(Organization, Organization.id == User.organization_id)
    .join(UserSession, UserSession.user_id == User.id)
    .outerjoin(UserRole, UserRole.user_id == User.id)
    .where(User.id == bindparam("user_id"), User.active.is_(True),
           sessions.is_valid(User.id, bindparam("token_hash"), bindparam("now")))
)


@dataclass(frozen=True, slots=True)
class OrganizationName:
    """The signed-in user's organization as the header shows it."""

    id: int
    name: str

    def __getattr__(self, name: str) -> Any:  # anything else: the ORM organization
        return getattr(db.session.get(Organization, self.id), name)


class SignedInUser(UserMixin):
    """A read-only view of the signed-in user (see the module docstring)."""

    is_active = True  # the loader's statement requires an active account

    def __init__(self, row: Any, roles: tuple[tuple[str, int | None], ...]) -> None:
        self.id: int = row.id
        self.login_id: str = row.login_id
        self.display_name: str = row.display_name
        self.must_change_password: bool = row.must_change_password
        self.organization_id: int = row.organization_id
        self.organization = OrganizationName(row.organization_id, row.organization_name)
        self._roles = roles
        self._orm: User | None = None

    def get_id(self) -> str:
        return str(self.id)

    def role_names(self) -> set[str]:
        return {role for role, _ in self._roles}

    def has_role(self, role: Role | str) -> bool:
        wanted = str(role)
        return any(role == wanted for role, _ in self._roles)

    def reviewer_scope_id(self) -> int | None:
        return next((scope for role, scope in self._roles if role == Role.REVIEWER), None)

    def orm(self) -> User:
        """The ORM user (one statement, the first time)."""
        if self._orm is None:
            self._orm = db.session.get(User, self.id)
        return self._orm

    def __getattr__(self, name: str) -> Any:  # only for attributes not set above
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.orm(), name)

    def __repr__(self) -> str:
        return f"<SignedInUser {self.login_id}>"


def load(params: dict) -> tuple[SignedInUser, int] | None:
    """The signed-in user and the content release id, in one statement; None when the sign-in is not
    valid (the same conditions as the ORM loader)."""
    rows = db.session.connection().execute(_SIGNED_IN, params).all()  # Core: no ORM step
    if not rows:
        return None
    roles = tuple((row.role, row.scope_id) for row in rows if row.role is not None)
    return SignedInUser(rows[0], roles), rows[0].content_release
