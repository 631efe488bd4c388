"""Observability (issue 16.6): /healthz and /readyz, Prometheus metrics from every gunicorn worker,
restricted /metrics, one JSON log line per request with its request id and no personal data, and
versioned static URLs that may be cached for a year."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import PASSWORD, ROOT
from trainer import create_app
from trainer.extensions import db
from trainer.models import Role


def test_readyz_is_ok_at_head_and_503_when_migrations_are_pending(client, app):
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 200 and response.get_json()["migrations"] == "head"
    with app.app_context():
        current = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        db.session.execute(text("UPDATE alembic_version SET version_num = '0001_foundation'"))
        db.session.commit()
    try:
        response = client.get("/readyz")
        assert response.status_code == 503 and response.headers["Retry-After"]
        assert response.get_json()["migrations"] == "pending"
    finally:
        with app.app_context():
            db.session.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": current})
            db.session.commit()
    assert client.get("/readyz").status_code == 200


def test_readyz_is_503_when_the_database_is_unreachable(tmp_path):
    down = create_app({"TESTING": True, "SECRET_KEY": "x" * 40,
                       "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2"})
    response = down.test_client().get("/readyz")
    assert response.status_code == 503 and response.get_json()["database"] == "unreachable"
    assert down.test_client().get("/healthz").status_code == 200  # alive, just not ready


def test_metrics_are_restricted_to_allowed_networks_or_the_token(app, clean_db):
    client = app.test_client()
    assert client.get("/metrics").status_code == 200  # loopback is allowed by default
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", environ_base=outside).status_code == 403
    app.config["METRICS_TOKEN"] = "s3cret-token-for-prometheus"
    try:
        assert client.get("/metrics", environ_base=outside,
                          headers={"Authorization": "Bearer wrong"}).status_code == 403
        ok = client.get("/metrics", environ_base=outside,
                        headers={"Authorization": "Bearer s3cret-token-for-prometheus"})
        assert ok.status_code == 200 and b"trainer_request_seconds" in ok.data
    finally:
        app.config["METRICS_TOKEN"] = ""


def test_metrics_count_logins_failed_answers_and_live_sessions(app, client, make_user):
    make_user(Role.TRAINEE, login_id="tr-metrics")

    def value(name: str) -> float:
        body = client.get("/metrics").get_data(as_text=True)
        match = re.search(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+]+)$", body, re.M)
        return float(match.group(1)) if match else 0.0

    before = value("trainer_login_failures_total")
    client.post("/auth/login", data={"login_id": "tr-metrics", "password": "wrong-password-1"})
    assert value("trainer_login_failures_total") == before + 1
    client.post("/auth/login", data={"login_id": "tr-metrics", "password": PASSWORD})
    assert value("trainer_login_failures_total") == before + 1
    assert value("trainer_answers_stored_total") == 0 and value("trainer_live_sessions_open") == 0


def test_request_id_is_echoed_or_made(client):
    given = client.get("/healthz", headers={"X-Request-ID": "abc123def456"})
    assert given.headers["X-Request-ID"] == "abc123def456"
    made = client.get("/healthz", headers={"X-Request-ID": "<script>"}).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)


def test_json_request_log_has_one_line_per_request_and_no_personal_data(app, clean_db, capsys, make_user):
    make_user(Role.TRAINEE, login_id="yamada-taro", name="山田太郎")
    logged = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "TESTING": True,
                         "WTF_CSRF_ENABLED": False, "SECRET_KEY": app.config["SECRET_KEY"], "JSON_LOGS": True,
                         "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    client = logged.test_client()
    capsys.readouterr()
    first = client.post("/auth/login?next=/learn/", data={"login_id": "yamada-taro", "password": PASSWORD})
    second = client.get("/verify?code=SECRET-CODE", headers={"X-Request-ID": "req-00000001"})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()
             if line.startswith("{") and '"logger":"trainer.requests"' in line]
    assert [(line["endpoint"], line["status"]) for line in lines] == [
        ("auth.login", first.status_code), ("main.verify", second.status_code)]
    assert first.status_code == 302 and lines[0]["request_id"] == first.headers["X-Request-ID"]
    assert lines[1]["request_id"] == "req-00000001" and lines[1]["route"] == "/verify"
    assert all(isinstance(line["ms"], float) and line["pid"] == os.getpid() for line in lines)
    text_logged = json.dumps(lines, ensure_ascii=False)
    for personal in ("yamada", "山田", "SECRET-CODE", "next=", "127.0.0.1", PASSWORD):
        assert personal not in text_logged
    with logged.app_context():
        try:
            raise ValueError("boom")
        except ValueError:
            logged.logger.exception("an error")
        db.engine.dispose()
    error = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert error["level"] == "error" and "ValueError: boom" in error["exception"]


def test_static_urls_carry_a_content_hash_and_versioned_ones_are_cached_long(client):
    page = client.get("/").get_data(as_text=True)
    url = re.search(r'href="(/static/css/app\.css\?v=[0-9a-f]{12})"', page).group(1)
    versioned = client.get(url)
    assert versioned.status_code == 200 and "immutable" in versioned.headers["Cache-Control"]
    assert "max-age=31536000" in versioned.headers["Cache-Control"]
    versioned.close()
    stale = client.get("/static/css/app.css?v=000000000000")
    assert "immutable" not in stale.headers.get("Cache-Control", "")
    stale.close()


# --- a real gunicorn with two workers -------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture
def gunicorn(app, clean_db, tmp_path):
    port = _free_port()
    env = {**os.environ, "TRAINER_BIND": f"127.0.0.1:{port}", "TRAINER_WORKERS": "2", "TRAINER_THREADS": "2",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"), "TRAINER_JSON_LOGS": "1",
           "TRAINER_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "TRAINER_INSTANCE_PATH": str(tmp_path),
           "TRAINER_SECRET_KEY": app.config["SECRET_KEY"], "TRAINER_CONTENT_DIR": str(ROOT / "content")}
    log = (tmp_path / "gunicorn.log").open("w")
    proc = subprocess.Popen([str(Path(sys.executable).with_name("gunicorn")), "-c", str(ROOT / "deploy" / "gunicorn.conf.py")],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if _get(base + "/readyz")[0] == 200:
                break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("gunicorn did not start: " + (tmp_path / "gunicorn.log").read_text())
    yield base, tmp_path / "gunicorn.log"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    log.close()


def test_metrics_and_logs_come_from_both_gunicorn_workers(gunicorn):
    base, log = gunicorn
    sent = 0
    pids: set[int] = set()
    with ThreadPoolExecutor(8) as pool:
        while len(pids) < 2 and sent < 4000:
            statuses = list(pool.map(lambda _: _get(base + "/healthz")[0], range(40)))
            assert statuses == [200] * 40
            sent += 40
            lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
            pids = {line["pid"] for line in lines if line.get("endpoint") == "main.healthz"}
    assert len(pids) == 2, "both workers answered"
    per_worker = [sum(1 for line in lines if line.get("pid") == pid and line.get("endpoint") == "main.healthz")
                  for pid in pids]
    assert sum(per_worker) == sent and min(per_worker) > 0
    status, body = _get(base + "/metrics")
    assert status == 200
    count = re.search(r'^trainer_request_seconds_count\{endpoint="main.healthz",method="GET"\} ([0-9.]+)$', body, re.M)
    total = re.search(r'^trainer_requests_total\{endpoint="main.healthz",method="GET",status="2xx"\} ([0-9.]+)$',
                      body, re.M)
    assert float(count.group(1)) == sent and float(total.group(1)) == sent  # summed over both workers
    assert re.search(r"^trainer_answers_stored_total 0\.0$", body, re.M)


def test_public_url_and_operations_settings_come_from_the_environment(monkeypatch, tmp_path):
    from trainer.config import build_config

    monkeypatch.setenv("TRAINER_PUBLIC_URL", "https://trainer.example.lg.jp/")
    monkeypatch.setenv("TRAINER_METRICS_ALLOW", "10.0.0.0/8")
    monkeypatch.setenv("TRAINER_RETENTION_YEARS", "7")
    monkeypatch.setenv("TRAINER_JSON_LOGS", "1")
    config = build_config(tmp_path, {"SECRET_KEY": "x" * 40})
    assert config["PUBLIC_URL"] == "https://trainer.example.lg.jp"  # no trailing slash: joined with paths
    assert (config["METRICS_ALLOW"], config["RETENTION_YEARS"], config["JSON_LOGS"]) == ("10.0.0.0/8", 7, True)
    monkeypatch.delenv("TRAINER_PUBLIC_URL")
    assert build_config(tmp_path, {"SECRET_KEY": "x" * 40})["PUBLIC_URL"] == ""


def test_proxy_headers_are_trusted_for_exactly_the_configured_hops(app, clean_db):
    """Behind nginx (TRAINER_TRUSTED_PROXIES=1) the metrics check sees the forwarded address."""
    behind = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "TESTING": True,
                         "SECRET_KEY": app.config["SECRET_KEY"], "TRUSTED_PROXIES": 1})
    client = behind.test_client()
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 403
    assert client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200
    with behind.app_context():
        db.engine.dispose()
