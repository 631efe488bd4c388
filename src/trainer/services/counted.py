"""Whose records reviewers count and see: one rule for every reviewer figure, list, export, record,
certificate and certificate ZIP.

A trainee account counts while it is active and, if it was registered at a workshop venue, once a
facilitator of that workshop (or an administrator) confirmed it. A deactivated trainee's record is
therefore hidden everywhere at once — lists, exports, the record opened by its id, certificates —
not only in the lists. (How long records are kept is another matter: see the retention issue.)
"""
from __future__ import annotations

from sqlalchemy import and_, exists

from trainer.models import Role, User, UserRole


def counted_trainee():
    """SQL condition on ``User``: an account whose records reviewers count and see."""
    return and_(User.active.is_(True), User.registration_confirmed.is_(True),
                exists().where(UserRole.user_id == User.id, UserRole.role == Role.TRAINEE))


def is_counted(user: User) -> bool:
    """The same rule for a loaded account."""
    return user.active and user.registration_confirmed and user.has_role(Role.TRAINEE)
