"""Liveness and readiness, Prometheus metrics, and one JSON log line per request.

- ``/healthz`` (main blueprint): the process answers. ``/readyz``: the database answers and its
  migration revision is the code's head; 503 otherwise (a load balancer stops sending traffic).
- ``/metrics``: Prometheus text. Under gunicorn set ``PROMETHEUS_MULTIPROC_DIR`` (deploy/ does):
  every worker writes its samples there and any worker's /metrics sums them all. Request latency by
  endpoint and login failures are counted per process; answers stored and live sessions open are read
  from the database at scrape time (exact across every worker and instance). Allowed only from
  ``TRAINER_METRICS_ALLOW`` networks or with ``Authorization: Bearer $TRAINER_METRICS_TOKEN``.
- Request logs (``TRAINER_JSON_LOGS=1``): logger ``trainer.requests``, one JSON object per line with
  the request id (``X-Request-ID`` from the proxy, or a new one, echoed in the response), method,
  endpoint rule, status and duration. No query string, no user, no address: no personal data.
"""
from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
import re
import sys
import time
import uuid
from functools import lru_cache

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import event, func, inspect, select, text

from trainer.extensions import db, limiter

bp = Blueprint("operations", __name__)
log = logging.getLogger("trainer.requests")

REQUEST_SECONDS = Histogram("trainer_request_seconds", "Time to answer a request, by endpoint",
                            ["endpoint", "method"],
                            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
REQUESTS = Counter("trainer_requests", "Requests answered, by endpoint and status class",
                   ["endpoint", "method", "status"])
LOGIN_FAILURES = Counter("trainer_login_failures", "Failed sign-ins (each also in the audit log)")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


# --- readiness ------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def code_heads() -> frozenset[str]:
    """The migration heads this code expects (read once per process)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    directory = current_app.extensions["migrate"].directory
    config = Config()
    config.set_main_option("script_location", directory)
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def readiness() -> tuple[bool, dict]:
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            migrated = "alembic_version" in inspect(conn).get_table_names()
            revisions = ({row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
                         if migrated else set())
    except Exception as exc:  # any database failure means "not ready"
        current_app.logger.warning("readyz: database unavailable: %s", type(exc).__name__)
        return False, {"status": "unavailable", "database": "unreachable"}
    expected = code_heads()
    if revisions != expected:
        return False, {"status": "unavailable", "database": "ok", "migrations": "pending",
                       "revision": sorted(revisions), "expected": sorted(expected)}
    return True, {"status": "ok", "database": "ok", "migrations": "head"}


@bp.get("/readyz")
@limiter.exempt
def readyz():
    ok, body = readiness()
    response = current_app.json.response(body)
    response.status_code = 200 if ok else 503
    if not ok:
        response.headers["Retry-After"] = "5"
    response.headers["Cache-Control"] = "no-store"
    return response


# --- metrics --------------------------------------------------------------------------------

class DatabaseFigures:
    """Figures read from the database at scrape time: the same from every worker and instance."""

    def collect(self):
        from trainer.models import Answer, LiveSession

        answers = CounterMetricFamily("trainer_answers_stored", "Answers stored (rows in answers)")
        live = GaugeMetricFamily("trainer_live_sessions_open", "Live sessions started and not ended")
        try:
            answers.add_metric([], db.session.scalar(select(func.count()).select_from(Answer)))
            live.add_metric([], db.session.scalar(select(func.count()).select_from(LiveSession)
                                                  .where(LiveSession.ended_at.is_(None))))
        except Exception:  # the database is down: /readyz says so; metrics still answer
            db.session.rollback()
            return
        yield answers
        yield live


def metrics_allowed() -> bool:
    token = current_app.config["METRICS_TOKEN"]
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in network for network in _networks(current_app.config["METRICS_ALLOW"]))


@lru_cache(maxsize=8)
def _networks(spec: str) -> tuple:
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip())


@bp.get("/metrics")
@limiter.exempt
def metrics():
    if not metrics_allowed():
        abort(403)
    body = generate_latest(_process_registry()) + generate_latest(_database_registry())
    db.session.remove()
    return Response(body, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def _process_registry() -> CollectorRegistry:
    """Every worker's samples (multiprocess mode) or this process's (the default registry)."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


@lru_cache(maxsize=1)
def _database_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseFigures())
    return registry


def _count_login_failure(_mapper, _connection, target) -> None:
    if target.action == "login.failure":
        LOGIN_FAILURES.inc()


# --- request logs and timing ----------------------------------------------------------------

class JsonFormatter(logging.Formatter):
    """One JSON object per line: the record's ``fields`` plus time, level and logger."""

    def format(self, record: logging.LogRecord) -> str:
        data = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
                "level": record.levelname.lower(), "logger": record.name}
        data.update(getattr(record, "fields", None) or {"message": record.getMessage()})
        if record.exc_info:  # a 500's traceback stays in the same line (as a string)
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


JsonFormatter.converter = time.gmtime


def _start_request() -> None:
    g.request_started = time.perf_counter()
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex


#: (metric, *labels) -> the labelled child: ``labels()`` validates and locks on every call; the
#: labels are bounded (routes, methods, status classes), so the children are kept.
_CHILDREN: dict[tuple, object] = {}


def _child(metric, *labels: str):
    key = (metric, *labels)
    child = _CHILDREN.get(key)
    if child is None:
        child = _CHILDREN[key] = metric.labels(*labels)
    return child


def _finish_request(response):
    started = g.pop("request_started", None)
    if started is None:
        return response
    seconds = time.perf_counter() - started
    endpoint = request.endpoint or "unmatched"  # a label per route, never per path: bounded
    method = request.method
    _child(REQUEST_SECONDS, endpoint, method).observe(seconds)
    _child(REQUESTS, endpoint, method, f"{response.status_code // 100}xx").inc()
    response.headers["X-Request-ID"] = g.request_id
    if current_app.config["JSON_LOGS"]:
        rule = request.url_rule.rule if request.url_rule is not None else None
        log.info("request", extra={"fields": {
            "request_id": g.request_id, "method": request.method, "endpoint": endpoint, "route": rule,
            "status": response.status_code, "ms": round(seconds * 1000, 1), "pid": os.getpid()}})
    return response


def _configure_json_logs(app: Flask) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for logger in (log, app.logger):
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False


def register(app: Flask) -> None:
    """Routes, timing and request ids; JSON logs when configured."""
    from trainer.models import AuditEvent

    app.register_blueprint(bp)
    app.before_request_funcs.setdefault(None, []).insert(0, _start_request)  # first: time everything
    app.after_request(_finish_request)
    if not event.contains(AuditEvent, "after_insert", _count_login_failure):
        event.listen(AuditEvent, "after_insert", _count_login_failure)
    if app.config["JSON_LOGS"]:
        _configure_json_logs(app)
