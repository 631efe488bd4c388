"""Database faults that users survive (issue 16.5).

* A database error while handling a request (SQLite locked by another writer past its busy timeout, a
  PostgreSQL lock timeout, a terminated backend) answers **503 with Retry-After: 5** and a Japanese message
  saying that nothing was saved and that the same thing can be sent again — never the generic 500 page.
  Resending is safe: answers carry a token and a unique key, so a resent answer is stored once.
* The player's fetch (``Accept: application/json``) gets the same message as JSON; the live room's answer
  form, which swaps in HTML fragments, gets a fragment.
* Idempotent writes (:data:`RETRIED`) are run once more when the connection was lost (PostgreSQL backend
  terminated or restarted): the first try was rolled back as a whole, so a second try cannot double anything.
  A lock wait is not retried: the request has already waited its busy timeout.

``TRAINER_SQLITE_BUSY_TIMEOUT`` (seconds, default 5) keeps SQLite's lock wait well below the request timeout
of the server in front (gunicorn 30 s), so the person sees this message instead of a dropped connection.
"""
from __future__ import annotations

import functools
import logging

from flask import Flask, jsonify, render_template, request
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from trainer.extensions import db

logger = logging.getLogger("trainer.faults")

RETRY_AFTER_SECONDS = 5

#: Writes that may run twice: each is keyed (answer token + unique key, one attempt per module in
#: progress, a position that only moves forward), so a repeat changes nothing.
RETRIED = frozenset({"learn.answer", "live.answer", "learn.next_page", "learn.start"})
ANSWERS = frozenset({"learn.answer", "live.answer"})

TITLE = "ただいま混み合っています"
ANSWER_NOT_SAVED = ("回答はまだ保存されていません。選んだ内容はそのまま残っています。"
                    "数秒待ってから、もう一度「回答する」を押してください（二重に記録されることはありません）。")
NOT_SAVED = ("データベースが一時的に応答しなかったため、この操作は保存されていません。"
             "数秒待ってから、もう一度お試しください（同じ操作をもう一度送っても二重になりません）。")


def is_disconnect(exc: BaseException) -> bool:
    """The connection itself was lost (not a lock wait or a constraint)."""
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def _discard_transaction() -> None:
    """Roll back what the request did; a connection that is gone may fail even that: drop the session."""
    try:
        db.session.rollback()
    except DBAPIError:
        db.session.remove()


def _close_session(_exc: BaseException | None) -> None:
    """End the request's session. When the connection died after the response was made (a query in a
    template, then the backend terminated), closing it fails: the response stands, the pool replaces the
    connection. Without this the failure escapes the WSGI app and the person gets an error instead."""
    try:
        db.session.remove()
    except DBAPIError as exc:
        logger.warning("database connection lost at the end of a request: %s", type(getattr(exc, "orig", exc)).__name__)
        try:
            db.session.remove()
        except DBAPIError:
            pass


def _retry_once(endpoint: str, view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except DBAPIError as exc:
            if not is_disconnect(exc):
                raise
            _discard_transaction()
            logger.warning("database connection lost during %s; retrying once", endpoint)
            return view(*args, **kwargs)

    return wrapped


def message_for(endpoint: str | None) -> str:
    return ANSWER_NOT_SAVED if endpoint in ANSWERS else NOT_SAVED


def _unavailable(exc: Exception):
    _discard_transaction()
    endpoint = request.endpoint
    logger.warning("database unavailable during %s %s (%s): 503", request.method, endpoint,
                   type(getattr(exc, "orig", exc)).__name__)
    detail = message_for(endpoint)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
    if request.accept_mimetypes.best == "application/json":
        return jsonify(error="unavailable", saved=False, retry_after=RETRY_AFTER_SECONDS, message=detail), 503, headers
    try:
        if endpoint == "live.answer":
            response = render_template("fault_fragment.html", detail=detail)
        else:
            response = render_template("error.html", code=503, title=TITLE, detail=detail)
    except DBAPIError:  # the page's header needs the database too: say it in plain text
        _discard_transaction()
        response = f"{TITLE}\n{detail}\n"
        headers["Content-Type"] = "text/plain; charset=utf-8"
    return response, 503, {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}


def register(app: Flask) -> None:
    """After the blueprints: retry idempotent writes once on a lost connection; 503 for database faults."""
    for endpoint in RETRIED:
        if endpoint in app.view_functions:
            app.view_functions[endpoint] = _retry_once(endpoint, app.view_functions[endpoint])
    app.teardown_appcontext(_close_session)  # runs before Flask-SQLAlchemy's own (registered earlier)
    app.register_error_handler(OperationalError, _unavailable)
    app.register_error_handler(InterfaceError, _unavailable)  # psycopg: "the connection is closed"
