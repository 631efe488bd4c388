"""Reviewer queries. Every function takes the jurisdiction id and filters by it."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select

from trainer.extensions import db
from trainer.models import Organization, OrgKind, Role, User, UserRole


@dataclass(frozen=True)
class MunicipalityRow:
    org: Organization
    registered: int


def municipality_overview(scope_id: int) -> list[MunicipalityRow]:
    """Municipalities of the jurisdiction (plus the jurisdiction itself) with registered trainees.

    Offices count toward the municipality they sit under.
    """
    units = db.session.scalars(
        select(Organization).where(
            Organization.jurisdiction_id == scope_id,
            Organization.kind.in_([OrgKind.MUNICIPALITY, OrgKind.DESIGNATED_CITY, OrgKind.PREFECTURE]),
        ).order_by(Organization.code)
    ).all()
    unit_of = case((Organization.kind == OrgKind.OFFICE, Organization.parent_id), else_=Organization.id)
    stmt = (
        select(unit_of, func.count()).select_from(User).join(Organization, Organization.id == User.organization_id)
        .join(UserRole, (UserRole.user_id == User.id) & (UserRole.role == Role.TRAINEE))
        .where(Organization.jurisdiction_id == scope_id, User.active.is_(True)).group_by(unit_of)
    )
    counts = dict(db.session.execute(stmt).all())
    return [MunicipalityRow(org, counts.get(org.id, 0)) for org in units]
