"""gunicorn settings for one trainer instance (deploy/README or docs/operations.md).

Environment: TRAINER_BIND (127.0.0.1:8001), TRAINER_WORKERS (2), TRAINER_THREADS (4),
PROMETHEUS_MULTIPROC_DIR (a directory of its own per instance; made and emptied at start), plus the
application's TRAINER_* settings. Start: gunicorn -c deploy/gunicorn.conf.py
"""
import os
import shutil
import tempfile
from pathlib import Path

bind = os.environ.get("TRAINER_BIND", "127.0.0.1:8001")
workers = int(os.environ.get("TRAINER_WORKERS", "2"))
threads = int(os.environ.get("TRAINER_THREADS", "4"))
worker_class = "gthread"
wsgi_app = "trainer:create_app()"
timeout = 60
graceful_timeout = 30
keepalive = 5
max_requests = 5000  # recycle workers now and then (memory); jitter so they do not all restart together
max_requests_jitter = 500
accesslog = None  # the app writes one JSON line per request (TRAINER_JSON_LOGS=1) with its request id
errorlog = "-"
forwarded_allow_ips = "127.0.0.1"  # gunicorn's own view; the app trusts TRAINER_TRUSTED_PROXIES hops
proc_name = f"trainer-{bind.rsplit(':', 1)[-1]}"
# gunicorn >= 25 opens a control socket at one fixed path per user: two instances would share it.
# Not needed (systemd signals the master); older gunicorn ignores this name.
control_socket_disable = True

# Prometheus multiprocess mode: every worker writes its samples into this directory, which must be
# set before the workers import the application (they inherit this environment).
_metrics = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", str(Path(tempfile.gettempdir()) / f"trainer-metrics-{bind.rsplit(':', 1)[-1]}"))


def on_starting(server):
    """Start with an empty metrics directory (samples of a previous run would be summed in)."""
    shutil.rmtree(_metrics, ignore_errors=True)
    Path(_metrics).mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    """A worker that ended: its live gauges no longer count (counters and histograms are kept)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
