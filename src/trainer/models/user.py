"""Accounts and their roles."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from trainer.extensions import db
from trainer.models.org import Organization
from trainer.dates import utcnow
from trainer.models.types import UTCDateTime


class Role(StrEnum):
    TRAINEE = "trainee"
    FACILITATOR = "facilitator"
    REVIEWER = "reviewer"
    NATIONAL = "national"
    ADMIN = "admin"


ROLE_LABELS = {
    Role.TRAINEE: "受講者",
    Role.FACILITATOR: "ファシリテーター",
    Role.REVIEWER: "閲覧者（都道府県・指定都市）",
    Role.NATIONAL: "国",
    Role.ADMIN: "管理者",
}

#: Order in which a user's home page is chosen when they hold several roles.
ROLE_PRIORITY = (Role.ADMIN, Role.NATIONAL, Role.REVIEWER, Role.FACILITATOR, Role.TRAINEE)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    login_id: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    furigana: Mapped[str | None] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(254))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    #: no longer read: sign-ins are server-side records (models/security.UserSession)
    session_version: Mapped[int] = mapped_column(default=1)
    must_change_password: Mapped[bool] = mapped_column(default=False)
    #: False for an account registered at a workshop venue (walk-in) until a facilitator of that
    #: workshop or an administrator confirms it; reviewers neither count nor see it until then
    registration_confirmed: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    organization: Mapped[Organization] = relationship()
    roles: Mapped[list["UserRole"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        """Session identity (the sign-in itself is checked against its UserSession row)."""
        return str(self.id)

    def role_names(self) -> set[str]:
        return {r.role for r in self.roles}

    def has_role(self, role: Role | str) -> bool:
        return str(role) in self.role_names()

    def reviewer_scope_id(self) -> int | None:
        for r in self.roles:
            if r.role == Role.REVIEWER:
                return r.scope_id
        return None

    def __repr__(self) -> str:
        return f"<User {self.login_id}>"


class UserRole(db.Model):
    __tablename__ = "user_roles"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    scope_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(back_populates="roles")
    scope: Mapped[Organization | None] = relationship()
