"""Demo data for the quick start: sample municipalities, an office and one account per role."""
from __future__ import annotations

from importlib import resources

from sqlalchemy import select

from trainer.extensions import db
from trainer.models import Organization, Programme, Role
from trainer.models.user import ROLE_LABELS
from trainer.services import accounts, orgs

DEMO_ACCOUNTS = (
    ("demo-trainee", "研修 花子", "けんしゅう はなこ", (Role.TRAINEE,)),
    ("demo-facilitator", "進行 太郎", "しんこう たろう", (Role.FACILITATOR, Role.TRAINEE)),
    ("demo-reviewer", "神奈川 審査", "かながわ しんさ", (Role.REVIEWER,)),
    ("demo-national", "全国 集計", "ぜんこく しゅうけい", (Role.NATIONAL,)),
    ("demo-admin", "管理 一郎", "かんり いちろう", (Role.ADMIN,)),
)


def load_sample_municipalities() -> int:
    text = resources.files("trainer.seed").joinpath("municipalities-sample.csv").read_text("utf-8")
    rows, errors = orgs.parse_municipalities(text)
    if errors:
        raise RuntimeError("; ".join(map(str, errors)))
    return orgs.import_municipalities(rows).created


def demo_office() -> Organization:
    """「横須賀市 ひきこもり相談窓口」, created once."""
    city = orgs.by_code("142018")
    office = db.session.scalar(select(Organization).where(
        Organization.parent_id == city.id, Organization.name == "ひきこもり相談窓口"))
    if office is None:
        city.programme = Programme.STATION
        office = orgs.create_office(city, "ひきこもり相談窓口", "相談窓口")
    return office


def create_demo_accounts() -> list[tuple[str, str, str]]:
    """Create missing demo accounts; returns (login_id, password, roles label) for new ones only."""
    office = demo_office()
    scope = orgs.by_code("140007")  # 神奈川県
    created = []
    for login_id, name, kana, roles in DEMO_ACCOUNTS:
        if accounts.login_exists(login_id):
            continue
        password = accounts.generate_password()
        org = scope if Role.REVIEWER in roles or Role.ADMIN in roles else office
        if Role.NATIONAL in roles:
            org = orgs.by_code("130001")  # 東京都: the national view has no organization of its own
        accounts.create_user(login_id=login_id, display_name=name, furigana=kana, organization=org,
                             password=password, roles=roles, reviewer_scope=scope if Role.REVIEWER in roles else None,
                             generated=True)
        created.append((login_id, password, "・".join(ROLE_LABELS[r] for r in roles)))
    return created
