"""Double clicks never show an error page: two identical requests fired at once both succeed and
create one row. The race is forced, not hoped for: each request waits at a barrier right after it
has looked for the row, so both have seen "nothing yet" before either inserts. Runs on SQLite and
PostgreSQL like the rest of the suite."""
from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from tests.test_player import _start, play_to_end
from tests.test_roster import GOOD_ROW, confirm_data, csv_bytes, upload
from trainer.extensions import db
from trainer.models import Attempt, Certificate, Opinion, Role, RosterImport, User, Workshop, WorkshopParticipant
from trainer.services import certificates, roster, unique, walkins, workshops


def race(monkeypatch, module, name: str):
    """Make the first call of ``module.name`` in each of two threads wait for the other thread."""
    barrier = threading.Barrier(2, timeout=20)
    seen = threading.local()
    real = getattr(module, name)

    def waiting(*args, **kwargs):
        result = real(*args, **kwargs)
        if not getattr(seen, "done", False):
            seen.done = True
            barrier.wait()
        return result

    monkeypatch.setattr(module, name, waiting)


def race_lookups(monkeypatch):
    """Make every unique.find_or_create wait, after its first lookup, until the other thread has
    looked too: both requests see "not there yet" and both try to insert."""
    barrier = threading.Barrier(2, timeout=20)
    seen = threading.local()
    waiting = iter(range(2))  # the first lookup of two threads waits; later requests run freely
    real = unique.find_or_create

    def wrapped(find, create, **kwargs):
        def find_then_wait():
            found = find()
            if not getattr(seen, "done", False) and next(waiting, None) is not None:
                seen.done = True
                barrier.wait()
            return found

        return real(find_then_wait, create, **kwargs)

    monkeypatch.setattr(unique, "find_or_create", wrapped)


def twice(app, login_id: str, method: str, url: str, data=None, *, password: str = PASSWORD):
    """Send the same request from two clients of one user at the same moment; return both responses."""
    clients = []
    for _ in range(2):
        client = app.test_client()
        assert client.post("/auth/login", data={"login_id": login_id, "password": password}).status_code == 302
        clients.append(client)
    responses: list = [None, None]
    errors: list = []

    def send(i: int) -> None:
        try:
            responses[i] = clients[i].open(url, method=method, data=dict(data or {}))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return responses


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def trainee(make_user, small_content):
    return make_user(Role.TRAINEE, login_id="double-1", name="二度 押子")


def test_double_start_gives_one_attempt_and_two_good_answers(app, trainee, monkeypatch):
    race_lookups(monkeypatch)
    first, second = twice(app, "double-1", "POST", "/learn/modules/m-case-01/start")
    assert (first.status_code, second.status_code) == (302, 302)
    assert first.headers["Location"] == second.headers["Location"]  # both land on the same attempt's page
    assert count(app, Attempt, Attempt.user_id == trainee.id) == 1


def test_double_retake_gives_one_new_attempt(app, trainee, monkeypatch):
    client = app.test_client()
    client.post("/auth/login", data={"login_id": "double-1", "password": PASSWORD})
    attempt_id, index = _start(client, "m-values")
    play_to_end(app, client, attempt_id, index)
    race_lookups(monkeypatch)
    first, second = twice(app, "double-1", "POST", "/learn/modules/m-values/start", {"retake": "1"})
    assert (first.status_code, second.status_code) == (302, 302)
    assert first.headers["Location"] == second.headers["Location"]
    with app.app_context():
        numbers = db.session.scalars(select(Attempt.number).where(Attempt.user_id == trainee.id)).all()
    assert sorted(numbers) == [1, 2]


def test_double_certificate_issue_gives_one_certificate(app, trainee, monkeypatch):
    client = app.test_client()
    client.post("/auth/login", data={"login_id": "double-1", "password": PASSWORD})
    attempt_id, index = _start(client, "m-values")
    play_to_end(app, client, attempt_id, index)
    real = certificates.issue
    barrier = threading.Barrier(2, timeout=20)

    def issue_after_both_looked(user, course):  # both see "no certificate yet", then both issue
        barrier.wait()
        return real(user, course)

    monkeypatch.setattr(certificates, "issue", issue_after_both_looked)
    first, second = twice(app, "double-1", "POST", "/learn/courses/values-only/certificate")
    assert (first.status_code, second.status_code) == (302, 302)
    assert count(app, Certificate, Certificate.user_id == trainee.id) == 1


def test_double_join_with_a_code_joins_once(app, trainee, make_user, midday, monkeypatch):
    fac = make_user(Role.FACILITATOR, login_id="fac-double")
    with app.app_context():
        data = workshops.WorkshopInput(title="二度押しの研修会", starts_at=_at(midday, 0), ends_at=_at(midday, 23),
                                       venue="", online=False, module_ids=["m-case-01"])
        workshop = workshops.create(db.session.get(User, fac.id), data)
        db.session.commit()
        code, wid = workshop.join_code, workshop.id
    race_lookups(monkeypatch)
    first, second = twice(app, "double-1", "POST", f"/join/{code}")
    assert (first.status_code, second.status_code) == (302, 302)
    assert count(app, WorkshopParticipant, WorkshopParticipant.workshop_id == wid) == 1


def test_double_walk_in_registration_creates_one_account_and_logs_in_both(app, make_user, small_content, midday,
                                                                         monkeypatch):
    fac = make_user(Role.FACILITATOR, login_id="fac-walk")
    with app.app_context():
        data = workshops.WorkshopInput(title="当日登録の研修会", starts_at=_at(midday, 0), ends_at=_at(midday, 23),
                                       venue="", online=False, module_ids=["m-case-01"])
        workshop = workshops.create(db.session.get(User, fac.id), data)
        db.session.commit()
        code, wid = workshop.join_code, workshop.id
        org_id = walkins.registration_orgs(workshop)[0].id
    form = {"form_token": "5" * 32, "display_name": "当日 登録", "furigana": "", "organization": str(org_id),
            "password": "walk-in-pass-1", "confirm": "walk-in-pass-1"}
    race(monkeypatch, walkins.accounts, "login_exists")
    responses = []
    barrier_clients = [app.test_client(), app.test_client()]
    threads = [threading.Thread(target=lambda c=c: responses.append(c.post(f"/join/{code}", data=form)))
               for c in barrier_clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(r.status_code for r in responses) == [302, 302]
    assert count(app, User, User.display_name == "当日 登録") == 1
    assert count(app, WorkshopParticipant, WorkshopParticipant.workshop_id == wid) == 1
    for client in barrier_clients:  # both browsers are signed in as the new trainee
        assert client.get("/learn/").status_code == 200


def test_double_opinion_is_recorded_once(app, trainee, monkeypatch):
    race_lookups(monkeypatch)
    data = {"body": "母親の言葉が印象に残りました", "case_id": "case-01", "client_token": "0123456789abcdef" * 2}
    first, second = twice(app, "double-1", "POST", "/learn/opinions", data)
    assert (first.status_code, second.status_code) == (302, 302)
    assert count(app, Opinion, Opinion.user_id == trainee.id) == 1
    # a new form (a new token) is a new opinion
    client = app.test_client()
    client.post("/auth/login", data={"login_id": "double-1", "password": PASSWORD})
    client.post("/learn/opinions", data={**data, "client_token": "f" * 32})
    assert count(app, Opinion, Opinion.user_id == trainee.id) == 2


def test_double_roster_confirm_imports_once_and_both_pages_show_the_passwords(app, make_user, monkeypatch):
    make_user(Role.ADMIN, login_id="admin-double")
    client = app.test_client()
    client.post("/auth/login", data={"login_id": "admin-double", "password": PASSWORD})
    preview = upload(client, csv_bytes(GOOD_ROW, "gen-double,自動 発行,,140007,,,,", encoding="utf-8-sig"))
    data = confirm_data(preview.get_data(as_text=True))
    race(monkeypatch, roster, "find_import")
    first, second = twice(app, "admin-double", "POST", "/admin/roster/confirm", data)
    assert (first.status_code, second.status_code) == (200, 200)
    shown = [re.findall(r"<code>([^<]+)</code>", r.get_data(as_text=True)) for r in (first, second)]
    assert shown[0] == shown[1] and len(shown[0]) == 1  # the page the browser shows has the password
    assert count(app, RosterImport) == 1
    assert count(app, User, User.login_id.in_(["trainee-01", "gen-double"])) == 2
    other = app.test_client()
    response = other.post("/auth/login", data={"login_id": "gen-double", "password": shown[1][0]})
    assert response.headers["Location"].endswith("/auth/password")


def _at(day, hour):
    from datetime import datetime, time

    from trainer.dates import JST

    return datetime.combine(day, time(hour, 59 if hour == 23 else 0), tzinfo=JST)


def test_a_guarded_insert_stays_part_of_its_request(app_ctx):
    """The savepoint of a guarded insert must not commit on its own (pysqlite: a SAVEPOINT that opens
    the transaction commits it on RELEASE): a request that fails afterwards leaves nothing behind."""
    from trainer.services import accounts, orgs

    accounts.create_user(login_id="half-done", display_name="途中 失敗", organization=orgs.by_code("140007"),
                         password=PASSWORD, roles=[Role.TRAINEE])
    db.session.rollback()  # the request failed after the insert
    assert db.session.scalar(select(func.count()).select_from(User).where(User.login_id == "half-done")) == 0
