"""Join codes cannot be farmed: code checks are limited on every method, codes are long but easy to
type, they work only on the workshop's days and until a facilitator closes registration, and
walk-in accounts stay out of reviewers' figures until a facilitator confirms them."""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime, time, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from trainer.dates import JST, today_jst, utcnow
from trainer.extensions import db
from trainer.models import Role, User, Workshop
from trainer.services import review, workshops

VENUE = "198.51.100.50"


def _walkins():
    """Imported when used, so that each test fails on its own where the module does not exist."""
    from trainer.services import walkins

    return walkins


@pytest.fixture
def setup(app, make_user, small_content, midday):
    fac = make_user(Role.FACILITATOR, login_id="fac-code")
    reviewer = make_user(Role.REVIEWER, login_id="rev-code", scope="140007")
    return fac, reviewer


def _workshop(app, fac, day=None, hours=(9, 17), days=1) -> tuple[int, str]:
    day = day or today_jst()
    with app.app_context():
        data = workshops.WorkshopInput(
            title="参加コードの研修会", starts_at=datetime.combine(day, time(hours[0]), JST),
            ends_at=datetime.combine(day + timedelta(days=days - 1), time(hours[1]), JST),
            venue="", online=False, module_ids=["m-case-01"])
        workshop = workshops.create(db.session.get(User, fac.id), data)
        db.session.commit()
        return workshop.id, workshop.join_code


def _signed_in(app, login_id):
    client = app.test_client()
    assert client.post("/auth/login", data={"login_id": login_id, "password": PASSWORD}).status_code == 302
    return client


def _register(client, code, org_id, name="来場 太郎", token="a" * 32):
    return client.post(f"/join/{code}", data={"display_name": name, "organization": str(org_id), "form_token": token,
                                              "password": "Lantern-river-83", "confirm": "Lantern-river-83"},
                       environ_base={"REMOTE_ADDR": VENUE})


def _org_id(app, wid):
    with app.app_context():
        return _walkins().registration_orgs(db.session.get(Workshop, wid))[0].id


def test_codes_are_eight_easy_characters(app, setup):
    fac, _ = setup
    _, code = _workshop(app, fac)
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{8}", code)
    assert workshops.format_code(code) == f"{code[:4]}-{code[4:]}"


def test_full_width_and_hyphenated_input_is_accepted(app, setup):
    fac, _ = setup
    _, code = _workshop(app, fac)
    typed = unicodedata.normalize("NFKC", code)  # as given, then written the way phones produce it
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in typed[:4]) + "－" + "".join(chr(ord(c) + 0xFEE0) for c in typed[4:])
    client = app.test_client()
    response = client.get(f"/join/{full_width}")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/join/{code}")
    assert client.post("/join", data={"code": f"{code[:4].lower()}-{code[4:].lower()}"}).headers["Location"].endswith(f"/join/{code}")
    assert client.post("/join", data={"code": f" {full_width} "}).headers["Location"].endswith(f"/join/{code}")


def test_guessing_codes_is_limited_on_get_too(app, setup):
    fac, _ = setup
    _, code = _workshop(app, fac)
    limit = int(app.config["JOIN_CODE_FAILURES_PER_ADDRESS"].split()[0])
    guesser = app.test_client()
    statuses = [guesser.get(f"/join/ZZZZ{i:04d}", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code
                for i in range(limit + 1)]
    assert statuses[:limit] == [404] * limit and statuses[limit] == 429
    assert "参加コードの確認が多すぎる" in guesser.get(f"/join/{code}", environ_base={"REMOTE_ADDR": "203.0.113.9"}).get_data(as_text=True)
    assert guesser.post("/join/ZZZZ2222", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 429
    # a venue's phones opening the right code are never counted, however many
    venue = app.test_client()
    assert all(venue.get(f"/join/{code}", environ_base={"REMOTE_ADDR": VENUE}).status_code == 200 for _ in range(limit + 5))


def test_a_code_works_only_on_the_workshop_days(app, setup):
    fac, _ = setup
    wid, code = _workshop(app, fac, day=today_jst() + timedelta(days=7))
    client = app.test_client()
    assert client.get(f"/join/{code}").status_code == 404  # a week early: not yet
    day = today_jst() + timedelta(days=7)
    with time_machine.travel(datetime.combine(day, time(0, 1), JST), tick=False):
        assert client.get(f"/join/{code}").status_code == 200  # from 00:00 of the day
    with time_machine.travel(datetime.combine(day, time(17, 1), JST), tick=False):
        assert client.get(f"/join/{code}").status_code == 404  # the workshop has ended


def test_a_long_workshop_code_is_capped(app, setup):
    fac, _ = setup
    days = app.config["JOIN_CODE_MAX_DAYS"]
    _, code = _workshop(app, fac, days=30)
    client = app.test_client()
    assert client.get(f"/join/{code}").status_code == 200
    first = today_jst()
    with time_machine.travel(datetime.combine(first + timedelta(days=days), time(0, 1), JST), tick=False):
        assert client.get(f"/join/{code}").status_code == 404


def test_the_facilitator_closes_and_reopens_registration(app, setup):
    fac, _ = setup
    wid, code = _workshop(app, fac, hours=(0, 23))
    facilitator = _signed_in(app, fac.login_id)
    assert facilitator.post(f"/facilitate/workshops/{wid}/registration", data={"open": "0"}).status_code == 302
    anonymous = app.test_client()
    assert anonymous.get(f"/join/{code}").status_code == 404
    assert _register(anonymous, code, _org_id(app, wid)).status_code == 404
    assert "受付を終了" in facilitator.get(f"/facilitate/workshops/{wid}").get_data(as_text=True)
    facilitator.post(f"/facilitate/workshops/{wid}/registration", data={"open": "1"})
    assert anonymous.get(f"/join/{code}").status_code == 200


def _counted(app, reviewer) -> int:
    with app.app_context():
        scope = review.load_scope(db.session.get(User, reviewer.id).reviewer_scope_id())
        people = review.trainees(scope, review.Filters()).subquery()
        return db.session.scalar(select(func.count()).select_from(people))


def test_walk_ins_count_for_reviewers_only_once_confirmed(app, setup):
    fac, reviewer = setup
    wid, code = _workshop(app, fac, hours=(0, 23))
    before = _counted(app, reviewer)
    walk_in = app.test_client()
    assert _register(walk_in, code, _org_id(app, wid)).status_code == 302
    with app.app_context():
        user = db.session.scalar(select(User).where(User.display_name == "来場 太郎"))
    assert _counted(app, reviewer) == before  # not in the prefecture's denominators yet
    reviewer_client = _signed_in(app, reviewer.login_id)
    assert reviewer_client.get(f"/review/trainees/{user.id}").status_code == 404
    facilitator = _signed_in(app, fac.login_id)
    page = facilitator.get(f"/facilitate/workshops/{wid}").get_data(as_text=True)
    assert "当日登録・未確認" in page and "当日登録の確認（未確認 1人）" in page
    response = facilitator.post(f"/facilitate/workshops/{wid}/walk-ins", data={"user": [str(user.id)]})
    assert response.status_code == 302
    assert _counted(app, reviewer) == before + 1
    assert reviewer_client.get(f"/review/trainees/{user.id}").status_code == 200
    assert "当日登録・未確認" not in facilitator.get(f"/facilitate/workshops/{wid}").get_data(as_text=True)


def test_a_facilitator_confirms_only_their_own_workshop_walk_ins(app, setup, make_user):
    fac, _ = setup
    other_fac = make_user(Role.FACILITATOR, login_id="fac-other")
    wid, code = _workshop(app, fac, hours=(0, 23))
    other_wid, _ = _workshop(app, other_fac, hours=(0, 23))
    _register(app.test_client(), code, _org_id(app, wid))
    with app.app_context():
        user = db.session.scalar(select(User).where(User.display_name == "来場 太郎"))
    other = _signed_in(app, other_fac.login_id)
    other.post(f"/facilitate/workshops/{other_wid}/walk-ins", data={"user": [str(user.id)]})
    assert other.post(f"/facilitate/workshops/{wid}/walk-ins", data={"user": [str(user.id)]}).status_code == 404
    with app.app_context():
        assert not db.session.get(User, user.id).registration_confirmed


def test_an_administrator_can_confirm_a_walk_in(app, setup, make_user):
    fac, _ = setup
    wid, code = _workshop(app, fac, hours=(0, 23))
    _register(app.test_client(), code, _org_id(app, wid))
    with app.app_context():
        user = db.session.scalar(select(User).where(User.display_name == "来場 太郎"))
    admin = _signed_in(app, make_user(Role.ADMIN).login_id)
    assert "未確認（集計に含まない）" in admin.get(f"/admin/users/{user.id}").get_data(as_text=True)
    admin.post(f"/admin/users/{user.id}/confirm")
    with app.app_context():
        assert db.session.get(User, user.id).registration_confirmed


def test_registration_never_reveals_an_existing_login_id(app, setup, make_user):
    """The system assigns walk-in login IDs: nothing typed at the venue is compared with the IDs
    that exist, so registering says nothing about them."""
    fac, _ = setup
    existing = make_user(Role.TRAINEE, login_id="tanaka")
    wid, code = _workshop(app, fac, hours=(0, 23))
    page = app.test_client().get(f"/join/{code}").get_data(as_text=True)
    assert 'name="login_id"' not in page
    client = app.test_client()
    response = client.post(f"/join/{code}", data={"display_name": "田中 花子", "organization": str(_org_id(app, wid)),
                                                  "form_token": "b" * 32, "login_id": existing.login_id,
                                                  "password": "Lantern-river-83", "confirm": "Lantern-river-83"})
    assert response.status_code == 302
    with app.app_context():
        created = db.session.scalar(select(User).where(User.display_name == "田中 花子"))
        assert created.login_id != "tanaka" and created.login_id.startswith("w-")
        assert db.session.get(User, existing.id).display_name != "田中 花子"


def test_walk_in_passwords_follow_the_rules(app, setup):
    fac, _ = setup
    wid, code = _workshop(app, fac, hours=(0, 23))
    client = app.test_client()
    for password, message in (("password2024", "推測されやすい"), ("yamada-hanako-1", "氏名")):
        body = client.post(f"/join/{code}", data={"display_name": "yamada hanako", "organization": str(_org_id(app, wid)),
                                                  "form_token": "c" * 32, "password": password, "confirm": password}
                           ).get_data(as_text=True)
        assert message in body
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User).where(User.display_name == "yamada hanako")) == 0
