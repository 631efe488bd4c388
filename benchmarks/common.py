"""Shared pieces of the benchmarks: a fresh instance, a gunicorn server, a tiny HTTP client."""
from __future__ import annotations

import http.client
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(instance: Path, database_url: str | None) -> dict[str, str]:
    env = dict(os.environ, TRAINER_INSTANCE_PATH=str(instance), TRAINER_SECRET_KEY="b" * 48,
               TRAINER_PASSWORD_HASH_METHOD="pbkdf2:sha256:1000", TRAINER_CONTENT_DIR=str(ROOT / "content"))
    if database_url:
        env["TRAINER_DATABASE_URL"] = database_url
    else:
        env.pop("TRAINER_DATABASE_URL", None)
    return env


#: access log line: method and path, status, microseconds from the parsed request to the response
ACCESS_FORMAT = '%(m)s %(U)s %(s)s %(D)s'


def start_gunicorn(env: dict[str, str], port: int, workers: int = 2, threads: int = int(os.environ.get("BENCH_THREADS", "8")),
                   app: str = "trainer:create_app()", chdir: Path = ROOT,
                   access_log: Path | None = None) -> subprocess.Popen:
    """The server under test; ``app``/``chdir`` start another WSGI app (the floor) under the same config.
    ``access_log``: gunicorn writes each request's server time there (ACCESS_FORMAT; server_times reads it)."""
    worker = ["-k", "gthread", "--threads", str(threads)] if threads else ["-k", "sync"]
    logging = ["--access-logfile", str(access_log), "--access-logformat", ACCESS_FORMAT] if access_log else []
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "-w", str(workers), *worker, "-b",
         f"127.0.0.1:{port}", "--backlog", "2048", "--keep-alive", "30", "--log-level", "warning", *logging,
         "--chdir", str(chdir), app], env=env, cwd=ROOT, start_new_session=True)
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def server_times(access_log: Path, kinds: dict[str, "re.Pattern"]) -> dict[str, list[float]]:
    """Milliseconds the server spent per request, by kind (the first pattern matching "METHOD path")."""
    out: dict[str, list[float]] = {k: [] for k in kinds}
    for line in access_log.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split()
        if len(parts) != 4:
            continue
        for kind, pattern in kinds.items():
            if pattern.fullmatch(f"{parts[0]} {parts[1]}"):
                out[kind].append(int(parts[3]) / 1000)
                break
    return out


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=20)


def process_tree_cpu(pid: int) -> float:
    """CPU seconds used so far by a process, its children and all their threads.

    Read from /proc/<pid>/task/<tid>/schedstat (nanoseconds on the CPU), which is exact, unlike the
    10 ms ticks of /proc/<pid>/stat.
    """
    total = 0
    pids = [pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                                   text=True).stdout.split()]
    for p in pids:
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
    return total / 1e9


class Client:
    """One keep-alive connection with a cookie jar: a browser, minus the browser."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def request(self, method: str, path: str, form: dict | None = None,
                extra_headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), **(extra_headers or {})}
        body = None
        if form is not None:
            body = urlencode({**form, "csrf_token": self.csrf}, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in range(3):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                text = response.read().decode("utf-8", "replace")
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt == 2:
                    raise
        for header in response.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie(header)
            for key, morsel in cookie.items():
                self.cookies[key] = morsel.value
        match = CSRF_RE.search(text)
        if match:
            self.csrf = match.group(1)
        return response.status, dict(response.headers), text

    def login(self, login_id: str, password: str) -> None:
        self.request("GET", "/auth/login")
        status, headers, _ = self.request("POST", "/auth/login", {"login_id": login_id, "password": password})
        if status != 302:
            raise RuntimeError(f"login failed for {login_id}: {status}")
        self.request("GET", "/learn/")


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]

    return {"p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99), "max": ordered[-1]}


def answer_form(page: dict) -> dict:
    """A plausible random answer to a question page, as the player's form would post it."""
    data = page["data"]
    if page["type"] == "single":
        return {"choice": random.choice(data["choices"])["id"]}
    if page["type"] == "multiple":
        return {"choices": [c["id"] for c in data["choices"] if random.random() < 0.5] or [data["choices"][0]["id"]]}
    if page["type"] == "ordering":
        order = list(data["order"])
        random.shuffle(order)
        return {f"rank-{cid}": str(i + 1) for i, cid in enumerate(order)}
    if page["type"] == "reflection":
        return {"text": "本人のペースを大切にし、家族の疲れにも目を向けたい。"}
    return {f"rating-{p}": str(random.randint(1, 5)) for p in data["points"]}
