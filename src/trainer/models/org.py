"""Organizations: prefectures, designated cities, municipalities and offices, as one tree."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from trainer.extensions import db
from trainer.dates import utcnow
from trainer.models.types import UTCDateTime


class OrgKind(StrEnum):
    PREFECTURE = "prefecture"
    DESIGNATED_CITY = "designated_city"
    MUNICIPALITY = "municipality"
    OFFICE = "office"


class Programme(StrEnum):
    """Which national hikikomori support programme a municipality runs."""

    CENTER = "center"
    STATION = "station"
    SUPPORT = "support"
    NONE = "none"


ORG_KIND_LABELS = {
    OrgKind.PREFECTURE: "都道府県",
    OrgKind.DESIGNATED_CITY: "政令指定都市",
    OrgKind.MUNICIPALITY: "市区町村",
    OrgKind.OFFICE: "事業所・窓口",
}

PROGRAMME_LABELS = {
    Programme.CENTER: "ひきこもり地域支援センター",
    Programme.STATION: "ひきこもり支援ステーション",
    Programme.SUPPORT: "ひきこもりサポート事業",
    Programme.NONE: "未実施",
}

#: Kinds that are review jurisdictions of their own.
JURISDICTION_KINDS = (OrgKind.PREFECTURE, OrgKind.DESIGNATED_CITY)


class Organization(db.Model):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str | None] = mapped_column(String(6), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kana: Mapped[str | None] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    jurisdiction_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    programme: Mapped[str | None] = mapped_column(String(20))
    office_type: Mapped[str | None] = mapped_column(String(60))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    parent: Mapped["Organization | None"] = relationship(
        remote_side="Organization.id", foreign_keys=[parent_id]
    )

    @property
    def kind_label(self) -> str:
        return ORG_KIND_LABELS[OrgKind(self.kind)]

    @property
    def programme_label(self) -> str:
        return PROGRAMME_LABELS[Programme(self.programme)] if self.programme else ""

    @property
    def is_jurisdiction(self) -> bool:
        return self.kind in JURISDICTION_KINDS

    @property
    def full_name(self) -> str:
        """Name with its parents, e.g. 「北海道 夕張市 相談窓口」."""
        parts = [self.name]
        node = self.parent
        while node is not None:
            parts.append(node.name)
            node = node.parent
        return " ".join(reversed(parts))

    def __repr__(self) -> str:
        return f"<Organization {self.code or self.id} {self.name}>"
