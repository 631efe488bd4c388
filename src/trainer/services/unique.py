"""Rows guarded by a unique key, created safely when two requests race (a double click).

"Read, and insert if missing" is not enough when two requests run at once: both read nothing and
both insert, and the second insert fails on the unique key (a 500 page, and the one the browser
shows). :func:`find_or_create` inserts inside a savepoint; when the key is already taken by a
concurrent request it rolls back only the savepoint and returns the row the other request made, so
both requests answer with the same result.

Two SQLite traps, handled by :func:`savepoint`:

- pysqlite only sends BEGIN before a data-changing statement, so a SAVEPOINT issued before any write
  of the request *opens* the transaction, and its RELEASE then *commits* it: the rest of the request
  would no longer be atomic with it. :func:`savepoint` begins a real transaction first.
- a read inside that transaction before the insert would pin a snapshot that a concurrent commit
  makes stale (the insert then fails with "database is locked" at once instead of waiting): so
  ``create`` is called before the savepoint, and the savepoint holds the insert alone.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TypeVar

from sqlalchemy.exc import IntegrityError

from trainer.extensions import db

T = TypeVar("T")


class StillRacing(RuntimeError):
    """The row could neither be found nor created after several tries (should not happen)."""


@contextlib.contextmanager
def savepoint() -> Iterator[None]:
    """``session.begin_nested()`` inside a real transaction on every database (see the module doc)."""
    connection = db.session.connection()
    if connection.dialect.name == "sqlite" and not connection.connection.dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN")  # pysqlite sees it and will COMMIT with the session
    with db.session.begin_nested():
        yield


def find_or_create(find: Callable[[], T | None], create: Callable[[], T], *, tries: int = 3) -> tuple[T, bool]:
    """Return ``(row, created)``: the row ``find`` returns, or a new one from ``create`` (added and
    flushed in a savepoint). ``find`` must see what a concurrent request committed (it queries)."""
    for _ in range(tries):
        found = find()
        if found is not None:
            return found, False
        row = create()  # built before the savepoint: only the INSERT runs inside it (see above)
        try:
            with savepoint():
                db.session.add(row)
                db.session.flush()
        except IntegrityError:
            continue  # taken by a concurrent request since we looked: find it
        return row, True
    raise StillRacing("a unique row could not be found or created")
