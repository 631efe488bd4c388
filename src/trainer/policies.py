"""Who may see or do what: pure functions, one rule defined once.

Routes use them for 403/404, templates use them to hide what a user cannot use, and services use
``reviewer_scope_id`` to filter every query of a reviewer.
"""
from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user

from trainer.extensions import login_manager
from trainer.models import Organization, Role, User


def is_admin(user: User) -> bool:
    return user.is_authenticated and user.has_role(Role.ADMIN)


def can_edit_content(user: User) -> bool:
    """教材担当: item statistics, opinions and revision sheets (no personal records)."""
    return user.is_authenticated and user.has_role(Role.EDITOR)


def can_learn(user: User) -> bool:
    return user.is_authenticated and user.has_role(Role.TRAINEE)


def can_facilitate(user: User) -> bool:
    return user.is_authenticated and user.has_role(Role.FACILITATOR)


def can_review(user: User) -> bool:
    return user.is_authenticated and user.has_role(Role.REVIEWER) and user.reviewer_scope_id() is not None


def can_view_national(user: User) -> bool:
    """The national view (国): nationwide aggregates by jurisdiction, never a personal record."""
    return user.is_authenticated and user.has_role(Role.NATIONAL)


def reviewer_scope_id(user: User) -> int | None:
    """The jurisdiction (prefecture or designated city) a reviewer may see, or None."""
    return user.reviewer_scope_id() if can_review(user) else None


def org_in_scope(user: User, org: Organization) -> bool:
    """True when the organization belongs to the reviewer's jurisdiction."""
    scope = reviewer_scope_id(user)
    return scope is not None and (org.id == scope or org.jurisdiction_id == scope)


def can_view_record(user: User, trainee: User) -> bool:
    """A trainee's own record, or a reviewer whose jurisdiction holds the trainee's organization."""
    if not user.is_authenticated:
        return False
    if user.id == trainee.id or is_admin(user):
        return True
    return org_in_scope(user, trainee.organization)


ROLE_CHECKS = {
    Role.TRAINEE: can_learn,
    Role.FACILITATOR: can_facilitate,
    Role.REVIEWER: can_review,
    Role.ADMIN: is_admin,
    Role.EDITOR: can_edit_content,
    Role.NATIONAL: can_view_national,
}


def role_required(role: Role):
    """Guard a view (or a blueprint's before_request) on one role; login is required first."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            require_role(role)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def require_role(role: Role) -> None:
    user = current_user._get_current_object()
    if not user.is_authenticated:
        abort(login_manager.unauthorized())
    if not ROLE_CHECKS[role](user):
        abort(403)


def can_run_workshop(user: User, workshop) -> bool:
    """Only the workshop's own facilitators run it, see its dashboard and export its record."""
    return can_facilitate(user) and any(f.user_id == user.id for f in workshop.facilitators)


def attends_workshop(user: User, workshop) -> bool:
    return user.is_authenticated and any(p.user_id == user.id for p in workshop.participants)
