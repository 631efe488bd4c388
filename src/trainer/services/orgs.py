"""Organizations: the seeded jurisdictions, municipality import, offices, programmes."""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from importlib import resources

from sqlalchemy import func, select

from trainer.extensions import db
from trainer.models import Organization, OrgKind, Programme, User
from trainer.services import fields
from trainer.services.csvio import CsvDecodeError, RowError, normalise_text, read_rows

MUNICIPALITY_COLUMNS = ("団体コード", "都道府県名", "市区町村名", "市区町村名カナ")
_HEADER_ALIASES = {
    "団体コード": "団体コード",
    "コード": "団体コード",
    "都道府県名(漢字)": "都道府県名",
    "都道府県名": "都道府県名",
    "市区町村名(漢字)": "市区町村名",
    "市区町村名": "市区町村名",
    "市区町村名(カナ)": "市区町村名カナ",
    "市区町村名カナ": "市区町村名カナ",
    "ふりがな": "市区町村名カナ",
}


def check_digit_ok(code: str) -> bool:
    """Validate a 6-digit 全国地方公共団体コード by its check digit."""
    if len(code) != 6 or not code.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(code[:5], (6, 5, 4, 3, 2)))
    return (11 - total % 11) % 10 == int(code[5])


def with_check_digit(code5: str) -> str:
    """The 6-digit 全国地方公共団体コード of a 5-digit one (the check digit appended): 14205 -> 142051."""
    total = sum(int(d) * w for d, w in zip(code5, (6, 5, 4, 3, 2)))
    return code5 + str((11 - total % 11) % 10)


def by_code(code: str) -> Organization | None:
    return db.session.scalar(select(Organization).where(Organization.code == code))


def seed_jurisdictions() -> int:
    """Create or refresh the 47 prefectures and 20 designated cities; returns how many were new."""
    text = resources.files("trainer.seed").joinpath("jurisdictions.csv").read_text("utf-8")
    created = 0
    for row in csv.DictReader(text.splitlines()):
        org = by_code(row["code"])
        if org is None:
            org = Organization(code=row["code"], kind=row["kind"])
            db.session.add(org)
            created += 1
        org.name, org.kana = row["name"], row["kana"]
        if row["parent_code"]:
            org.parent = by_code(row["parent_code"])
        if org.kind == OrgKind.DESIGNATED_CITY and org.programme is None:
            org.programme = Programme.NONE
        db.session.flush()
        org.jurisdiction_id = org.id
    db.session.flush()
    return created


def jurisdiction_for(parent: Organization) -> int | None:
    """The review jurisdiction of anything placed under ``parent``."""
    return parent.id if parent.is_jurisdiction else parent.jurisdiction_id


@dataclass
class MunicipalityRow:
    row: int
    code: str
    prefecture: str
    name: str
    kana: str


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)


def parse_municipalities(text: str) -> tuple[list[MunicipalityRow], list[RowError]]:
    """Parse the standard code-list layout; every problem is reported with its row."""
    try:
        header, body = read_rows(text)
    except CsvDecodeError as exc:
        return [], [RowError(0, "", str(exc))]
    columns = [_HEADER_ALIASES.get("".join(h.split()), h) for h in header]  # the official list breaks lines in headers
    missing = [c for c in MUNICIPALITY_COLUMNS[:3] if c not in columns]
    if missing:
        return [], [RowError(1, c, "必須の列がありません。") for c in missing]
    index = {c: columns.index(c) for c in MUNICIPALITY_COLUMNS if c in columns}
    rows, errors = [], []
    seen: dict[str, int] = {}
    for number, cells in body:
        get = lambda c: normalise_text(cells[index[c]]) if c in index and index[c] < len(cells) else ""
        row = MunicipalityRow(number, get("団体コード"), get("都道府県名"), get("市区町村名"), get("市区町村名カナ"))
        errors.extend(_check_municipality(row, seen))
        rows.append(row)
    return rows, errors


def _check_municipality(row: MunicipalityRow, seen: dict[str, int]) -> list[RowError]:
    errors = []
    if not check_digit_ok(row.code):
        errors.append(RowError(row.row, "団体コード", f"「{row.code}」は6桁の全国地方公共団体コードではありません（検査数字を含む6桁）。"))
    elif row.code in seen:
        errors.append(RowError(row.row, "団体コード", f"{seen[row.code]}行目と重複しています。"))
    else:
        seen[row.code] = row.row
        pref = by_code(row.code[:2] + "000" + _pref_check(row.code[:2]))
        if pref is None or pref.name != row.prefecture:
            errors.append(RowError(row.row, "都道府県名", f"団体コード {row.code} の都道府県と一致しません。"))
    if not row.name and not _is_prefecture_row(row.code):
        errors.append(RowError(row.row, "市区町村名", "空欄です。"))
    for column, attribute, value in (("市区町村名", Organization.name, row.name), ("市区町村名カナ", Organization.kana, row.kana)):
        if problem := fields.problem(value, attribute, column):
            errors.append(RowError(row.row, column, problem))
    return errors


def _is_prefecture_row(code: str) -> bool:
    """The official list has a row per prefecture (NN000C) with no municipality name."""
    return check_digit_ok(code) and code[2:5] == "000"


def _pref_check(two: str) -> str:
    total = int(two[0]) * 6 + int(two[1]) * 5
    return str((11 - total % 11) % 10)


def import_municipalities(rows: list[MunicipalityRow]) -> ImportReport:
    """Create or update municipalities (rows must be free of errors)."""
    report = ImportReport()
    cities = db.session.scalars(select(Organization).where(Organization.kind == OrgKind.DESIGNATED_CITY)).all()
    for row in rows:
        existing = by_code(row.code)
        if existing is not None and existing.kind in (OrgKind.PREFECTURE, OrgKind.DESIGNATED_CITY):
            report.unchanged += 1
            continue
        pref = by_code(row.code[:2] + "000" + _pref_check(row.code[:2]))
        city = next((c for c in cities if c.code[:2] == row.code[:2] and row.name.startswith(c.name)), None)
        parent = city or pref
        org = existing or Organization(code=row.code, kind=OrgKind.MUNICIPALITY, programme=Programme.NONE)
        changed = (org.name, org.kana, org.parent_id) != (row.name, row.kana or None, parent.id)
        org.name, org.kana, org.parent = row.name, row.kana or None, parent
        org.jurisdiction_id = jurisdiction_for(parent)
        if existing is None:
            db.session.add(org)
            report.created += 1
        elif changed:
            report.updated += 1
        else:
            report.unchanged += 1
    db.session.flush()
    return report


def create_office(parent: Organization, name: str, office_type: str) -> Organization:
    """Create an office (相談窓口, 地域支援センター, NPO ...) under a municipality or jurisdiction."""
    office = Organization(
        name=name.strip(), kind=OrgKind.OFFICE, office_type=office_type, parent=parent,
        jurisdiction_id=jurisdiction_for(parent),
    )
    db.session.add(office)
    db.session.flush()
    return office


def set_programme(org: Organization, programme: Programme) -> None:
    if org.kind not in (OrgKind.MUNICIPALITY, OrgKind.DESIGNATED_CITY):
        raise ValueError("programme applies to municipalities only")
    org.programme = programme


def jurisdictions() -> list[Organization]:
    """All prefectures and designated cities, in code order."""
    stmt = select(Organization).where(Organization.kind.in_([OrgKind.PREFECTURE, OrgKind.DESIGNATED_CITY]))
    return list(db.session.scalars(stmt.order_by(Organization.code)))


def children(org: Organization) -> list[Organization]:
    stmt = select(Organization).where(Organization.parent_id == org.id).order_by(Organization.kind, Organization.code, Organization.name)
    return list(db.session.scalars(stmt))


def user_counts(org_ids: list[int]) -> dict[int, int]:
    """Accounts per organization, for lists of organizations."""
    stmt = select(User.organization_id, func.count()).where(User.organization_id.in_(org_ids)).group_by(User.organization_id)
    return dict(db.session.execute(stmt).all())
