"""Sign-in throttling: guessing gets slower and slower, nobody can lock an account for its owner,
a venue full of phones behind one address signs in, and concurrent failures are counted exactly
(on SQLite and PostgreSQL)."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from trainer.dates import utcnow
from trainer.extensions import db
from trainer.models import AuditEvent, Role


def _throttle():
    """Imported when used, so that each test fails on its own where the module does not exist."""
    from trainer.services import throttle

    return throttle

GENERIC = "ログインIDまたはパスワードが正しくありません。"
WAIT = "一時的に止めています"
ATTACKER, OWNER = "203.0.113.66", "198.51.100.7"


def attempt(app, login_id: str, password: str, address: str):
    client = app.test_client()
    return client.post("/auth/login", data={"login_id": login_id, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def failures(app, key: str) -> int:
    with app.app_context():
        return _throttle().failures(key)


def audited(app, action: str) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


@pytest.fixture
def frozen():
    """The clock stands still: delays do not run out by themselves while a test counts."""
    with time_machine.travel(utcnow(), tick=False) as clock:
        yield clock


def test_failures_from_one_address_meet_growing_delays(app, make_user, frozen):
    user = make_user(Role.TRAINEE)
    free = app.config["LOGIN_FREE_FAILURES_PER_ADDRESS_AND_ACCOUNT"]
    for _ in range(free):
        assert GENERIC in attempt(app, user.login_id, "wrong-guess-123", ATTACKER).get_data(as_text=True)
    body = attempt(app, user.login_id, "wrong-guess-123", ATTACKER).get_data(as_text=True)
    assert WAIT in body and "約1秒" in body  # refused without looking at the password
    assert audited(app, "login.failure") == free
    waited = []
    for _ in range(6):  # each failure doubles the wait
        with app.app_context():
            wait = _throttle().delay(_throttle().failures(f"p:{user.login_id} {ATTACKER}"), free)
        frozen.shift(wait)
        assert GENERIC in attempt(app, user.login_id, "wrong-guess-123", ATTACKER).get_data(as_text=True)
        waited.append(failures(app, f"p:{user.login_id} {ATTACKER}"))
    assert waited == list(range(free + 1, free + 7))
    with app.app_context():
        assert [_throttle().delay(n, free).total_seconds() for n in range(free, free + 4)] == [1, 2, 4, 8]
        assert _throttle().delay(100, free).total_seconds() == app.config["LOGIN_MAX_DELAY_SECONDS"]
    # even the right password waits its turn from this address ...
    assert WAIT in attempt(app, user.login_id, PASSWORD, ATTACKER).get_data(as_text=True)
    # ... and the failures age out after the window
    frozen.shift(timedelta(minutes=app.config["LOGIN_FAILURE_WINDOW_MINUTES"], seconds=1))
    assert attempt(app, user.login_id, PASSWORD, ATTACKER).status_code == 302


def test_an_attacker_cannot_lock_the_owner_out(app, make_user, frozen):
    """Hundreds of failures from an attacker's addresses; the owner signs in from their own."""
    user = make_user(Role.ADMIN)
    for i in range(60):
        attempt(app, user.login_id, "wrong-guess-123", f"203.0.113.{i % 4}")
    assert failures(app, f"a:{user.login_id}") >= app.config["LOGIN_FREE_FAILURES_PER_ACCOUNT"]
    assert WAIT in attempt(app, user.login_id, "wrong-guess-123", "203.0.113.1").get_data(as_text=True)
    response = attempt(app, user.login_id, PASSWORD, OWNER)
    assert response.status_code == 302 and response.headers["Location"].endswith("/home")


def test_an_account_under_attack_slows_every_failing_address(app, make_user, frozen):
    """Past the per-account allowance, an address that failed once waits as long as the account's
    failures say, even if its own count is low: spreading guesses over addresses does not help."""
    user = make_user(Role.TRAINEE)
    per_account = app.config["LOGIN_FREE_FAILURES_PER_ACCOUNT"]
    for i in range(per_account + 5):
        attempt(app, user.login_id, "wrong-guess-123", f"192.0.2.{i}")  # one failure per address
    frozen.shift(timedelta(seconds=2))
    assert WAIT in attempt(app, user.login_id, "wrong-guess-123", "192.0.2.0").get_data(as_text=True)
    assert attempt(app, user.login_id, PASSWORD, OWNER).status_code == 302


def test_a_venue_behind_one_address_signs_in_despite_many_typos(app, make_user, frozen):
    """Hundreds of phones behind one public address: other people's failures never stop a right
    password, even past the address's own allowance."""
    venue = "198.51.100.200"
    people = [make_user(Role.TRAINEE) for _ in range(6)]
    app.config["LOGIN_FREE_FAILURES_PER_ADDRESS"] = 3
    try:
        for i in range(40):  # typos galore, on unknown and known IDs
            attempt(app, f"typo-{i}", "wrong-guess-123", venue)
        attempt(app, people[0].login_id, "wrong-guess-123", venue)
        for person in people[1:]:
            assert attempt(app, person.login_id, PASSWORD, venue).status_code == 302
        # a hot address gets one free failure per account, then waits a little
        assert WAIT in attempt(app, people[0].login_id, PASSWORD, venue).get_data(as_text=True)
        frozen.shift(timedelta(seconds=1))
        assert attempt(app, people[0].login_id, PASSWORD, venue).status_code == 302
    finally:
        app.config["LOGIN_FREE_FAILURES_PER_ADDRESS"] = 100


def test_unknown_login_ids_are_throttled_like_known_ones(app, make_user, frozen):
    free = app.config["LOGIN_FREE_FAILURES_PER_ADDRESS_AND_ACCOUNT"]
    for _ in range(free):
        attempt(app, "nobody-here", "wrong-guess-123", ATTACKER)
    assert WAIT in attempt(app, "nobody-here", "wrong-guess-123", ATTACKER).get_data(as_text=True)


def _parallel(app, requests: list[tuple[str, str, str]]) -> list[int]:
    barrier = threading.Barrier(len(requests), timeout=30)
    statuses: list = [None] * len(requests)
    errors: list = []

    def send(i: int, login_id: str, password: str, address: str) -> None:
        client = app.test_client()
        try:
            barrier.wait()
            statuses[i] = client.post("/auth/login", data={"login_id": login_id, "password": password},
                                      environ_base={"REMOTE_ADDR": address}).status_code
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i, *r)) for i, r in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    return statuses


def test_concurrent_failures_are_counted_exactly(app, make_user, frozen):
    user = make_user(Role.TRAINEE)
    n = 12
    statuses = _parallel(app, [(user.login_id, "wrong-guess-123", f"192.0.2.{i}") for i in range(n)])
    assert statuses == [200] * n
    assert failures(app, f"a:{user.login_id}") == n
    assert audited(app, "login.failure") == n


def test_parallel_guesses_from_one_address_cannot_exceed_the_allowance(app, make_user, frozen):
    user = make_user(Role.TRAINEE)
    free = app.config["LOGIN_FREE_FAILURES_PER_ADDRESS_AND_ACCOUNT"]
    statuses = _parallel(app, [(user.login_id, "wrong-guess-123", ATTACKER)] * 16)
    assert statuses == [200] * 16
    assert audited(app, "login.failure") == free  # the other eleven were told to wait, unchecked
    assert failures(app, f"p:{user.login_id} {ATTACKER}") == free
    assert failures(app, f"a:{user.login_id}") == free


def test_ipv6_addresses_count_by_their_64_network():
    assert _throttle().address_key("2001:db8:1:2:aaaa::1") == _throttle().address_key("2001:db8:1:2:bbbb::9")
    assert _throttle().address_key("2001:db8:1:3::1") != _throttle().address_key("2001:db8:1:2::1")
    assert _throttle().address_key("::ffff:192.0.2.5") == "192.0.2.5"
    assert _throttle().address_key(None) == "unknown"
