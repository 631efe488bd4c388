"""Sign-in throttling that keeps guessing expensive without giving anyone a button that locks an
account for its owner.

Failures are counted under three keys, each one row of ``login_throttles`` updated atomically:

- ``p:<login id> <address>`` — one account from one address. This key gates the attempts: the first
  ``LOGIN_FREE_FAILURES_PER_ADDRESS_AND_ACCOUNT`` failures cost nothing, then each attempt waits
  1, 2, 4 ... seconds (at most ``LOGIN_MAX_DELAY_SECONDS``) after the previous failure.
- ``a:<login id>`` — the account from anywhere. Past ``LOGIN_FREE_FAILURES_PER_ACCOUNT`` failures the
  same progressive delay applies to every address that has failed on the account recently.
- ``i:<address>`` — the address on any account. Past ``LOGIN_FREE_FAILURES_PER_ADDRESS`` failures
  the address gets one free failure per account instead of five.

An address that has no recent failure on an account is never delayed: the owner signs in from their
own phone while someone else hammers the account, and hundreds of phones behind one venue address
sign in however many typos their neighbours make. Counts age out ``LOGIN_FAILURE_WINDOW_MINUTES``
after a key's last failure.

Parallel guesses cannot exceed the allowance: an attempt first *reserves* its place on the pair key
(compare-and-swap on the failure count, counted as a failure until the password proves right), in a
short transaction of its own committed before the password hash is computed, so a slow hash never
holds a write lock. A right password deletes the pair's row.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from trainer.dates import utcnow
from trainer.extensions import db
from trainer.models import LoginThrottle

_T = LoginThrottle.__table__


@dataclass(frozen=True)
class Gate:
    """Whether this attempt is evaluated; if not, how long to wait. ``failures``: the pair's count
    including this attempt (it counts as a failure until the password proves right)."""

    allowed: bool
    wait_seconds: int = 0
    failures: int = 0


def address_key(ip: str | None) -> str:
    """An IPv6 address counts as its /64 network (one household or phone gets a whole /64)."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return "unknown"
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def keys(login_id: str, ip: str | None) -> tuple[str, str, str]:
    where = address_key(ip)
    return f"p:{login_id} {where}", f"a:{login_id}", f"i:{where}"


def _config(name: str) -> int:
    return int(current_app.config[name])


def _window() -> timedelta:
    return timedelta(minutes=_config("LOGIN_FAILURE_WINDOW_MINUTES"))


def delay(failures: int, free: int) -> timedelta:
    """The wait after ``failures`` failures when ``free`` of them cost nothing: 0, then 1, 2, 4 s ..."""
    if failures < free:
        return timedelta(0)
    return timedelta(seconds=min(2 ** min(failures - free, 30), _config("LOGIN_MAX_DELAY_SECONDS")))


def _recent(row, now: datetime) -> int:
    return row.failures if row is not None and row.last_failure_at >= now - _window() else 0


def reserve(login_id: str, ip: str | None) -> Gate:
    """Decide whether to evaluate this attempt and, if so, count it (atomically) on the pair key."""
    pair, account, address = keys(login_id, ip)
    for _ in range(20):
        now = utcnow()
        with db.engine.connect() as conn:
            rows = {r.key: r for r in conn.execute(select(_T).where(_T.c.key.in_([pair, account, address])))}
            old = rows.get(pair)
            before = _recent(old, now)
            hot = _recent(rows.get(address), now) >= _config("LOGIN_FREE_FAILURES_PER_ADDRESS")
            free = 1 if hot else _config("LOGIN_FREE_FAILURES_PER_ADDRESS_AND_ACCOUNT")
            if before:  # this address has failed on this account recently: it waits its turn
                ready = max(old.last_failure_at + delay(before, free), old.next_attempt_at)
                acct = rows.get(account)
                if (acct_failures := _recent(acct, now)) > 0:
                    ready = max(ready, acct.last_failure_at + delay(acct_failures, _config("LOGIN_FREE_FAILURES_PER_ACCOUNT")))
                if ready > now:
                    return Gate(False, max(1, int((ready - now).total_seconds() + 0.999)))
            values = {"failures": before + 1, "last_failure_at": now, "next_attempt_at": now + delay(before + 1, free)}
            if old is None:
                done = conn.execute(_insert(conn).values(key=pair, **values).on_conflict_do_nothing()
                                    .returning(_T.c.key)).first() is not None
            else:
                done = conn.execute(update(_T).where(_T.c.key == pair, _T.c.failures == old.failures,
                                                     _T.c.last_failure_at == old.last_failure_at).values(**values)).rowcount
            conn.commit()
        if done:
            return Gate(True, failures=before + 1)
    return Gate(False, 1)  # contended beyond reason: refuse this one


def _insert(conn):
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(_T)


def succeeded(login_id: str, ip: str | None) -> None:
    """The password was right: this address starts afresh on this account (the caller commits)."""
    pair, _, _ = keys(login_id, ip)
    db.session.execute(delete(_T).where(_T.c.key == pair))


def failed(login_id: str, ip: str | None) -> None:
    """Count a failure on the account and address keys, atomically (the caller commits)."""
    _, account, address = keys(login_id, ip)
    now = utcnow()
    conn = db.session.connection()
    for key in (account, address):
        stmt = _insert(conn).values(key=key, failures=1, last_failure_at=now, next_attempt_at=now)
        stmt = stmt.on_conflict_do_update(index_elements=[_T.c.key], set_={
            "failures": case((_T.c.last_failure_at < now - _window(), 1), else_=_T.c.failures + 1),
            "last_failure_at": now})
        conn.execute(stmt)


def failures(key: str) -> int:
    """The recorded failure count of one key, 0 once it aged out (tests and diagnostics)."""
    row = db.session.execute(select(_T).where(_T.c.key == key)).first()
    return _recent(row, utcnow())
