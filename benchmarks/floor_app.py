"""The floor for benchmarks/answer_submit.py: a bare Flask app that stores an answer with one SQLite
upsert (WAL, the same pragmas as trainer) and nothing else — no session, no sign-in, no CSRF, no
template. Run under the same gunicorn configuration in the same run, it shows what any Flask +
SQLite answer costs on this machine, so trainer's figures can be read as a ratio to it.

    FLOOR_DB=/tmp/floor.sqlite3 gunicorn -w 2 -k gthread --threads 8 --chdir benchmarks floor_app:app
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time

from flask import Flask, request

DB = os.environ.get("FLOOR_DB", "floor.sqlite3")
SCHEMA = """CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY, attempt_id INTEGER NOT NULL, question_id INTEGER NOT NULL,
    token TEXT NOT NULL, response TEXT NOT NULL, created_at TEXT NOT NULL, UNIQUE (attempt_id, question_id))"""
UPSERT = ("INSERT INTO answers (attempt_id, question_id, token, response, created_at) VALUES (?, ?, ?, ?, ?) "
          "ON CONFLICT (attempt_id, question_id) DO NOTHING")

app = Flask(__name__)
_local = threading.local()


def connection() -> sqlite3.Connection:
    """One connection per thread, opened like trainer's (WAL, busy timeout, synchronous NORMAL)."""
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(DB, timeout=10, isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode=WAL", "busy_timeout=10000", "foreign_keys=ON", "synchronous=NORMAL"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute(SCHEMA)
        _local.conn = conn
    return conn


@app.post("/answer/<int:attempt_id>/<int:question_id>")
def answer(attempt_id: int, question_id: int):
    connection().execute(UPSERT, (attempt_id, question_id, request.form.get("token", ""),
                                  request.form.get("response", ""), repr(time.time())))
    return "ok"


@app.get("/warm")
def warm():
    """Opens this thread's connection (the benchmark warms every server thread before timing)."""
    connection()
    return "ok"


def count() -> int:
    return connection().execute("SELECT count(*) FROM answers").fetchone()[0]
