"""Rows guarded by a unique key, created safely when two requests race (a double click).

"Read, and insert if missing" is not enough when two requests run at once: both read nothing and
both insert, and the second insert fails on the unique key (a 500 page, and the one the browser
shows). :func:`find_or_create` inserts inside a savepoint; when the key is already taken by a
concurrent request it rolls back only the savepoint and returns the row the other request made, so
both requests answer with the same result.

On SQLite the savepoint opens the transaction, and a read inside it would pin a snapshot that a
concurrent commit makes stale (the insert then fails with "database is locked" at once instead of
waiting): so ``create`` is called before the savepoint, and the savepoint holds the insert alone.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError

from trainer.extensions import db

T = TypeVar("T")


class StillRacing(RuntimeError):
    """The row could neither be found nor created after several tries (should not happen)."""


def find_or_create(find: Callable[[], T | None], create: Callable[[], T], *, tries: int = 3) -> tuple[T, bool]:
    """Return ``(row, created)``: the row ``find`` returns, or a new one from ``create`` (added and
    flushed in a savepoint). ``find`` must see what a concurrent request committed (it queries)."""
    for _ in range(tries):
        found = find()
        if found is not None:
            return found, False
        row = create()  # built before the savepoint: only the INSERT runs inside it (see below)
        try:
            with db.session.begin_nested():
                db.session.add(row)
                db.session.flush()
        except IntegrityError:
            continue  # taken by a concurrent request since we looked: find it
        return row, True
    raise StillRacing("a unique row could not be found or created")
