"""The reviewers' mastery summary (and the reviewer home's running totals, services/review_counts.py)
are rebuilt beside the requests, never inside a page view.

Each answer marks its trainee dirty in its own transaction (services/mastery.mark_dirty). A daemon
thread per process calls services/mastery.refresh_summary every MASTERY_REFRESH_SECONDS (default
10); refreshes serialize across processes, so several workers and instances may all run one. The
thread starts with the first request a process serves (after gunicorn's fork, never in the factory).
MASTERY_REFRESH_SECONDS = 0 starts no thread: the summary is then brought up to date when it is
read (the test suite, a one-person trial). `trainer mastery refresh [--all]` runs one by hand.
"""
from __future__ import annotations

import logging
import os
import threading

from flask import Flask

log = logging.getLogger(__name__)
_started: dict[int, tuple[threading.Thread, threading.Event]] = {}  # process id -> its thread
_lock = threading.Lock()


def register(app: Flask) -> None:
    @app.before_request
    def _start_refresher() -> None:
        # not for TESTING apps: several share one test database, a stray thread would race the tests
        if app.config["MASTERY_REFRESH_SECONDS"] > 0 and not app.testing and os.getpid() not in _started:
            start(app)


def start(app: Flask) -> threading.Thread:
    """Start this process's refresher thread (once)."""
    with _lock:
        if os.getpid() not in _started:
            event = threading.Event()
            thread = threading.Thread(target=_loop, args=(app, event), name="mastery-refresh", daemon=True)
            _started[os.getpid()] = (thread, event)
            thread.start()
        return _started[os.getpid()][0]


def stop() -> None:
    """Stop this process's refresher thread (tests; a process that stops serving)."""
    with _lock:
        found = _started.pop(os.getpid(), None)
    if found is not None:
        found[1].set()
        found[0].join()


def _loop(app: Flask, stop_event: threading.Event) -> None:
    while not stop_event.wait(max(app.config["MASTERY_REFRESH_SECONDS"], 0.05)):
        refresh_once(app)


def refresh_once(app: Flask) -> int:
    """One refresh in its own transaction; an error is logged and the marks stay for the next one."""
    from trainer.extensions import db
    from trainer.services import mastery, review_counts

    with app.app_context():
        rebuilt = 0
        try:
            rebuilt = mastery.refresh_summary(limit=app.config["MASTERY_REFRESH_BATCH"])
            db.session.commit()
        except Exception:  # noqa: BLE001 - a background thread must survive a database hiccup
            db.session.rollback()
            log.warning("mastery summary refresh failed; it is retried on the next round", exc_info=True)
        try:  # the reviewer home's running totals (services/review_counts.py), in their own transaction
            review_counts.refresh_pending(limit=app.config["MASTERY_REFRESH_BATCH"])
            db.session.commit()
        except Exception:  # noqa: BLE001
            db.session.rollback()
            log.warning("review totals refresh failed; it is retried on the next round", exc_info=True)
        finally:
            db.session.remove()
        return rebuilt
