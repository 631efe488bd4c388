"""Database faults that users survive (issue 16.5): a write that meets a locked SQLite database or a
terminated PostgreSQL backend answers 503 + Retry-After with a Japanese message that says nothing was
saved and that the answer can be sent again; nothing is half-stored, a resend stores it once, and a lost
PostgreSQL connection is retried once on the server for idempotent writes.

The SQLite tests run when the suite runs on SQLite, the PostgreSQL ones when it runs on PostgreSQL
(.ci/run runs both)."""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
import traceback

import pytest
from sqlalchemy import event, func, select

from tests.conftest import PASSWORD
from tests.test_player import PAGE_RE, _page, best_answer
from trainer import create_app
from trainer.extensions import db
from trainer.models import Answer, Attempt, Role

NOT_SAVED = "回答はまだ保存されていません"


def _dialect(app) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"].split(":", 1)[0].split("+")[0]


def _second_app(app, **config):
    """An instance of the app on the same database (its own engine and pool)."""
    return create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "TESTING": True,
                       "WTF_CSRF_ENABLED": False, "SECRET_KEY": app.config["SECRET_KEY"],
                       "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", **config})


def _signed_in(instance, login_id: str):
    client = instance.test_client()
    assert client.post("/auth/login", data={"login_id": login_id, "password": PASSWORD}).status_code == 302
    return client


def _start(client) -> int:
    response = client.post("/learn/modules/m-case-01/start")
    assert response.status_code == 302, response.status_code
    return int(PAGE_RE.search(response.headers["Location"]).group(1))


def _question_pages(app, attempt_id: int) -> list[int]:
    total = _page(app, attempt_id, 0)[0]
    return [i for i in range(total) if _page(app, attempt_id, i)[1] is not None]


def _answer_form(app, attempt_id: int, index: int, token: str) -> dict:
    _, _, qtype, data = _page(app, attempt_id, index)
    return {"token": token, **best_answer(qtype, data)}


def _answers(app, attempt_id: int | None = None) -> int:
    with app.app_context():
        query = select(func.count()).select_from(Answer)
        if attempt_id is not None:
            query = query.where(Answer.attempt_id == attempt_id)
        return db.session.scalar(query)


# --- SQLite: another writer holds the database ------------------------------------------------------

@pytest.fixture
def sqlite_only(app):
    if _dialect(app) != "sqlite":
        pytest.skip("SQLite lock test: runs in the SQLite pass of the suite")


@pytest.fixture
def locked_instance(app, sqlite_only, make_user, small_content):
    """A second instance with a short busy timeout, a signed-in trainee, and a lock() to hold."""
    make_user(Role.TRAINEE, login_id="locked-1")
    instance = _second_app(app, SQLITE_BUSY_TIMEOUT=0.2)
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None, timeout=5)
    yield instance, holder
    holder.close()
    with instance.app_context():
        db.engine.dispose()


def test_locked_sqlite_answer_gives_503_in_japanese_and_stores_nothing(app, locked_instance):
    instance, holder = locked_instance
    client = _signed_in(instance, "locked-1")
    attempt_id = _start(client)
    index = _question_pages(app, attempt_id)[0]
    form = _answer_form(app, attempt_id, index, "lock-token-1")
    url = f"/learn/attempts/{attempt_id}/pages/{index}/answer"
    with app.app_context():
        position_before = db.session.get(Attempt, attempt_id).position
    holder.execute("BEGIN EXCLUSIVE")  # another writer holds the database (a long import, a backup, ...)
    try:
        started = time.monotonic()
        page = client.post(url, data=form)
        waited = time.monotonic() - started
        fetched = client.post(url, data=form, headers={"Accept": "application/json"})
    finally:
        holder.execute("ROLLBACK")
    assert page.status_code == 503 and page.headers["Retry-After"] == "5"
    body = page.get_data(as_text=True)
    assert NOT_SAVED in body and "もう一度「回答する」" in body and "ただいま混み合っています" in body
    assert waited < 3, "the busy timeout (0.2 s here) bounds the wait"
    assert fetched.status_code == 503 and fetched.headers["Retry-After"] == "5"
    assert fetched.get_json()["saved"] is False and NOT_SAVED in fetched.get_json()["message"]
    assert _answers(app, attempt_id) == 0, "nothing half-stored"
    with app.app_context():
        assert db.session.get(Attempt, attempt_id).position == position_before
    # the lock is gone: the same answer sent again is stored, once
    assert client.post(url, data=form).status_code == 302
    assert client.post(url, data=form).status_code == 302
    assert _answers(app, attempt_id) == 1


def test_locked_sqlite_start_says_nothing_was_saved(app, locked_instance):
    instance, holder = locked_instance
    client = _signed_in(instance, "locked-1")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        response = client.post("/learn/modules/m-case-01/start")
    finally:
        holder.execute("ROLLBACK")
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert "保存されていません" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Attempt)) == 0
    assert client.post("/learn/modules/m-case-01/start").status_code == 302


def test_locked_sqlite_next_page_keeps_the_position(app, locked_instance):
    instance, holder = locked_instance
    client = _signed_in(instance, "locked-1")
    attempt_id = _start(client)
    first = _question_pages(app, attempt_id)[0]
    for index in range(first):
        assert client.post(f"/learn/attempts/{attempt_id}/pages/{index}/next").status_code == 302
    url = f"/learn/attempts/{attempt_id}/pages/{first}/answer"
    assert client.post(url, data=_answer_form(app, attempt_id, first, "next-1")).status_code == 302
    with app.app_context():
        before = db.session.get(Attempt, attempt_id).position
    holder.execute("BEGIN EXCLUSIVE")
    try:
        response = client.post(f"/learn/attempts/{attempt_id}/pages/{first}/next")
    finally:
        holder.execute("ROLLBACK")
    assert response.status_code == 503 and "この操作は保存されていません" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Attempt, attempt_id).position == before
    assert client.post(f"/learn/attempts/{attempt_id}/pages/{first}/next").status_code == 302


def test_the_live_answer_gets_a_fragment_it_can_show(app):
    """The live room swaps the answer's response into its panel: a fragment with the same message."""
    from sqlalchemy.exc import OperationalError

    from trainer import faults

    with app.test_request_context("/live/1/answer", method="POST"):
        body, status, headers = faults._unavailable(OperationalError("INSERT", {}, Exception("database is locked")))
    assert status == 503 and headers["Retry-After"] == "5"
    assert body.startswith('<p class="send-status send-status--error" role="alert">') and NOT_SAVED in body
    assert "<html" not in body


def test_busy_timeout_setting_reaches_sqlite(app, sqlite_only, monkeypatch, tmp_path):
    monkeypatch.setenv("TRAINER_SQLITE_BUSY_TIMEOUT", "2.5")
    instance = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'busy.sqlite3'}", "TESTING": True})
    with instance.app_context():
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 2500
        db.engine.dispose()


# --- PostgreSQL: backends terminated during answers ---------------------------------------------------

@pytest.fixture
def pg_only(app):
    if _dialect(app) != "postgresql":
        pytest.skip("PostgreSQL termination test: runs in the PostgreSQL pass of the suite")


def _terminate(instance, pid: int | None = None) -> None:
    """pg_terminate_backend on one backend (or every other backend of this database), then wait until gone."""
    import psycopg

    url = instance.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        where = "pid = %s" if pid else "datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        conn.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {where}", (pid,) if pid else ())
        for _ in range(100):
            alive = conn.execute(f"SELECT count(*) FROM pg_stat_activity WHERE {where}", (pid,) if pid else ()).fetchone()[0]
            if not alive:
                return
            time.sleep(0.02)


def test_lost_connection_during_an_answer_is_retried_once(app, pg_only, make_user, small_content, caplog):
    make_user(Role.TRAINEE, login_id="pg-retry")
    instance = _second_app(app)
    client = _signed_in(instance, "pg-retry")
    attempt_id = _start(client)
    index = _question_pages(app, attempt_id)[0]
    killed = []

    def kill_own_backend(conn, _cursor, statement, *_args):
        if not killed and statement.lstrip().upper().startswith("INSERT INTO ANSWERS"):
            killed.append(conn.connection.dbapi_connection.info.backend_pid)
            _terminate(instance, killed[0])

    caplog.set_level(logging.WARNING, logger="trainer.faults")
    with instance.app_context():
        event.listen(db.engine, "before_cursor_execute", kill_own_backend)
        try:
            response = client.post(f"/learn/attempts/{attempt_id}/pages/{index}/answer",
                                   data=_answer_form(app, attempt_id, index, "pg-token-1"))
        finally:
            event.remove(db.engine, "before_cursor_execute", kill_own_backend)
    assert killed, "the backend was terminated in the middle of the answer"
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert _answers(app, attempt_id) == 1
    assert any("retrying once" in r.getMessage() for r in caplog.records if r.name == "trainer.faults")
    with instance.app_context():
        db.engine.dispose()


def test_terminated_backends_during_answers_lose_and_double_nothing(app, pg_only, make_user, small_content, caplog):
    trainees = [f"pg-storm-{n}" for n in range(4)]
    for login_id in trainees:
        make_user(Role.TRAINEE, login_id=login_id)
    instance = _second_app(app)
    caplog.set_level(logging.WARNING, logger="trainer.faults")
    statuses: list[int] = []
    acknowledged: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def send(client, url, data=None) -> int:
        for _ in range(10):  # as player.js and the person do: send the same thing again after a 503
            status = client.post(url, data=data).status_code
            statuses.append(status)
            if status != 503:
                return status
            time.sleep(0.05)
        raise AssertionError(f"still 503 after 10 tries: {url}")

    def prepare(login_id: str):
        """Signed in, attempt started, every page's answer known: before the backends start dying."""
        client = _signed_in(instance, login_id)
        attempt_id = _start(client)
        total = _page(app, attempt_id, 0)[0]
        forms = [_answer_form(app, attempt_id, i, f"{login_id}-{i}") if _page(app, attempt_id, i)[1] else None
                 for i in range(total)]
        return client, attempt_id, forms

    def trainee(client, attempt_id: int, forms: list) -> None:
        try:
            for index, form in enumerate(forms):
                if form is not None:
                    url = f"/learn/attempts/{attempt_id}/pages/{index}/answer"
                    assert send(client, url, form) == 302
                    acknowledged.append((attempt_id, index))
                assert send(client, f"/learn/attempts/{attempt_id}/pages/{index}/next") == 302
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    def killer() -> None:
        while not stop.is_set():
            _terminate(instance)
            stop.wait(0.05)

    threads = [threading.Thread(target=trainee, args=prepare(t)) for t in trainees]
    chaos = threading.Thread(target=killer)
    chaos.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    stop.set()
    chaos.join(10)
    assert not errors, "".join(traceback.format_exception(errors[0]))
    assert set(statuses) <= {302, 503}, f"never a 500: {sorted(set(statuses))}"
    with app.app_context():
        stored = db.session.execute(select(Answer.attempt_id, Answer.question_id)).all()
    assert len(stored) == len(acknowledged) == len(set(stored)), "every acknowledged answer stored, none twice"
    retried = sum("retrying once" in r.getMessage() for r in caplog.records if r.name == "trainer.faults")
    print(f"requests {len(statuses)}, 503 {statuses.count(503)}, retried on the server {retried}")
    assert statuses.count(503) + retried > 0, "the terminations reached requests in flight"
    with instance.app_context():
        db.engine.dispose()
