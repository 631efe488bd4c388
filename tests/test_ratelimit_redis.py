"""Rate limits in Redis (issue 16): the documented multi-process setting starts, two instances share one
count, and when Redis is down or unreachable sign-in and /verify keep working (fail open, one warning on
the trainer.ratelimit logger) while the per-account throttle in the database still holds.

Uses the real Redis at 127.0.0.1:6379, database 13, each test under its own key prefix."""
from __future__ import annotations

import json
import logging
import subprocess
import sys
import uuid

import pytest

from tests.conftest import PASSWORD
from trainer import create_app, ratelimit
from trainer.extensions import db, limiter
from trainer.models import Role

REDIS_URI = "redis://127.0.0.1:6379/13"
CLOSED_PORT_URI = "redis://127.0.0.1:1/13"  # nothing listens on port 1: connection refused at once

redis = pytest.importorskip("redis")  # a dependency (pyproject): this only guards a broken install


def _redis_client():
    client = redis.Redis.from_url(REDIS_URI, socket_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:  # pragma: no cover - CI starts redis-server (.ci/run)
        pytest.fail(f"Redis is not running at 127.0.0.1:6379 ({exc}); start redis-server")
    return client


_OTHERS: list = []


def _other_app(app, storage_uri: str, **extra):
    _OTHERS.append(other := create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "TESTING": True,
                       "WTF_CSRF_ENABLED": False, "SECRET_KEY": app.config["SECRET_KEY"],
                       "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "RATELIMIT_STORAGE_URI": storage_uri,
                       **extra}))
    return other


@pytest.fixture
def restore_limiter(app):
    """The limiter is one object per process: give it back to the session's app afterwards (and close the
    other instances' database connections)."""
    yield
    while _OTHERS:
        with _OTHERS.pop().app_context():
            db.engine.dispose()
    limiter._storage_dead = False  # noqa: SLF001 - the singleton's fallback state, reset for later tests
    limiter.init_app(app)
    ratelimit._health.down = False  # noqa: SLF001


_INSTANCE = r"""
import json, sys
from trainer import create_app
app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "TESTING": True, "SECRET_KEY": "x" * 40,
                  "RATELIMIT_STORAGE_URI": sys.argv[2], "RATELIMIT_KEY_PREFIX": sys.argv[3]})
client = app.test_client()
print(json.dumps([client.get("/verify").status_code for _ in range(int(sys.argv[4]))]))
"""


def _run_instance(tmp_path, prefix: str, requests: int) -> list[int]:
    """One app instance in its own process (as a gunicorn worker or a second server is)."""
    db_url = f"sqlite:///{tmp_path / 'instance.sqlite3'}"
    out = subprocess.run([sys.executable, "-c", _INSTANCE, db_url, REDIS_URI, prefix, str(requests)],
                         capture_output=True, text=True, timeout=60, check=True,
                         env={"TRAINER_INSTANCE_PATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_two_instances_share_one_count_in_redis(tmp_path):
    client = _redis_client()
    prefix = f"t16-{uuid.uuid4().hex[:8]}"
    try:
        first = _run_instance(tmp_path, prefix, 40)
        second = _run_instance(tmp_path, prefix, 30)  # /verify allows 60 per minute per address, in all
        assert first == [200] * 40
        assert second == [200] * 20 + [429] * 10
        assert client.keys(f"*{prefix}*"), "the count is kept in Redis"
    finally:
        for key in client.scan_iter(f"*{prefix}*"):
            client.delete(key)


def test_redis_setting_starts_the_app_and_cli(app, restore_limiter):
    other = _other_app(app, REDIS_URI)
    result = other.test_cli_runner().invoke(args=["--help"])
    assert result.exit_code == 0, result.output
    assert ratelimit.storage_options(REDIS_URI) == {"socket_timeout": 1.0, "socket_connect_timeout": 1.0}
    assert ratelimit.storage_options("memory://") == {}


def test_unreachable_redis_keeps_login_and_verify_working(app, make_user, restore_limiter, caplog):
    make_user(Role.TRAINEE, login_id="redis-down")
    other = _other_app(app, CLOSED_PORT_URI)
    caplog.set_level(logging.WARNING, logger="trainer.ratelimit")
    client = other.test_client()
    assert client.get("/verify").status_code == 200
    assert client.get("/verify?code=NOPE-NOPE").status_code == 404  # an unknown code, not an error page
    response = client.post("/auth/login", data={"login_id": "redis-down", "password": PASSWORD})
    assert response.status_code == 302 and "/auth/login" not in response.headers["Location"]
    for _ in range(3):
        assert client.get("/verify").status_code == 200
    warnings = [r for r in caplog.records if r.name == "trainer.ratelimit" and r.levelno == logging.WARNING]
    assert len(warnings) == 1, "one warning per outage, not one per request"
    assert "Redis" in warnings[0].getMessage()


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test's own on a free port, so that it can be stopped (the shared one stays up)."""
    import shutil
    import socket
    import time

    binary = shutil.which("redis-server")
    if binary is None:  # pragma: no cover - .ci/run installs it
        pytest.fail("redis-server is not installed (apt-get install redis-server)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port, socket_timeout=1)
    for _ in range(50):
        try:
            client.ping()
            break
        except redis.exceptions.ConnectionError:
            time.sleep(0.1)
    yield proc, f"redis://127.0.0.1:{port}/0"
    if proc.poll() is None:
        proc.terminate()
        proc.wait(10)


def test_redis_stopped_while_running_keeps_verify_and_login_working(app, make_user, restore_limiter, own_redis, caplog):
    proc, uri = own_redis
    make_user(Role.TRAINEE, login_id="redis-stops")
    other = _other_app(app, uri)
    client = other.test_client()
    assert [client.get("/verify").status_code for _ in range(3)] == [200] * 3
    assert redis.Redis.from_url(uri).keys("*"), "counted in this Redis while it ran"
    caplog.set_level(logging.WARNING, logger="trainer.ratelimit")
    proc.terminate()
    proc.wait(10)
    assert [client.get("/verify").status_code for _ in range(3)] == [200] * 3
    response = client.post("/auth/login", data={"login_id": "redis-stops", "password": PASSWORD})
    assert response.status_code == 302 and "/auth/login" not in response.headers["Location"]
    assert len([r for r in caplog.records if r.name == "trainer.ratelimit" and r.levelno == logging.WARNING]) == 1


def test_limits_still_count_in_memory_while_redis_is_down(app, clean_db, restore_limiter):
    other = _other_app(app, CLOSED_PORT_URI)
    client = other.test_client()
    statuses = [client.get("/verify").status_code for _ in range(62)]
    assert statuses[:60] == [200] * 60 and statuses[60:] == [429, 429]


def test_account_throttle_in_database_holds_while_redis_is_down(app, make_user, restore_limiter):
    make_user(Role.TRAINEE, login_id="redis-down-2")
    other = _other_app(app, CLOSED_PORT_URI, LOGIN_FREE_FAILURES_PER_ADDRESS_AND_ACCOUNT=2)
    client = other.test_client()
    for _ in range(3):
        client.post("/auth/login", data={"login_id": "redis-down-2", "password": "wrong-password-1"})
    blocked = client.post("/auth/login", data={"login_id": "redis-down-2", "password": PASSWORD})
    assert "一時的に止めています" in blocked.get_data(as_text=True), "the database throttle still applies"
