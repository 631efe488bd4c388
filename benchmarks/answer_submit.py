"""Benchmark: what a trainee waits for when answering, at 300 and 1,000 concurrent trainees, beside
a bare Flask + SQLite floor measured in the same run under the same gunicorn configuration.

    .venv/bin/python benchmarks/answer_submit.py [--trainees 300,1000] [--questions 3] [--window 10]
        [--workers 2] [--database-url postgresql://postgres@127.0.0.1:5432/bench]

For each number of trainees, on a fresh database and a fresh gunicorn (``--workers`` x gthread,
BENCH_THREADS threads, default 8), three phases run one after the other:

1. **action** — the answer as the browser performs it now (static/js/player.js): one POST with
   ``X-Trainer-Swap: 1``, answered with the whole feedback page (200 + X-Trainer-Url). This one
   request is everything the trainee waits for (docs/benchmarks.md: the browser test counts it).
2. **post** — the same POST without the header (POST-redirect-GET, no JavaScript), timed alone
   up to the 302, as the earlier benchmark did: the POST alone.
3. **floor** — benchmarks/floor_app.py (Flask + one SQLite upsert, nothing else) under the same
   gunicorn configuration, the same number of clients, slots and window.

Each phase has ``--questions`` slots; in a slot every trainee sends once at a random moment within
``--window`` seconds; between slots each presses 次へ (not timed, not counted in CPU). 5 % of the
sends are a double click (the same form twice at once). Reported per phase: p50/p95/p99/max, errors,
server CPU per answer (gunicorn master + workers, from /proc schedstat, over the slots only), and how
many cores the server and the load generator kept busy (what saturates first); per run:
answers sent, stored, lost and doubled (trainer and floor each), and the ratios to the floor.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    Client, answer_form, free_port, percentiles, process_tree_cpu, server_env, start_gunicorn, stop,
)

PAGE_RE = re.compile(r"/learn/attempts/(\d+)/pages/(\d+)")
PASSWORD = "bench-password-1"
MODULE = "m-values"
SWAP = {"X-Trainer-Swap": "1"}
#: extra trainees (not counted) who answer once before the timing, so every worker has compiled the
#: player and feedback templates, as a server that has been running a while has
WARMERS = 6
DOUBLE_CLICKS = 0.05


def prepare(env: dict, trainees: int) -> list[dict]:
    """Migrate, load content and create the trainees; return the module's question pages."""
    subprocess.run([sys.executable, "-m", "trainer.cli", "setup"], env=env, check=True, capture_output=True)
    script = f"""
import json
from trainer import create_app
from trainer.extensions import db
from trainer.models import Module, Role
from trainer.services import accounts, orgs, player
app = create_app()
with app.app_context():
    org = orgs.by_code("140007")
    logins = [f"bench{{i:04d}}" for i in range({trainees})] + [f"warm{{i}}" for i in range({WARMERS})]
    for i, login in enumerate(logins):
        if not accounts.login_exists(login):
            accounts.create_user(login_id=login, display_name=f"受講者{{i}}", organization=org,
                                 password="{PASSWORD}", roles=[Role.TRAINEE])
    db.session.commit()
    module = db.session.get(Module, "{MODULE}")
    out = []
    for page in player.pages(module):
        q = page.question
        v = q.current_version if q else None
        out.append(None if q is None else {{"index": page.index, "version": v.id, "type": v.type, "data": v.data}})
    print(json.dumps(out))
"""
    result = subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def count_answers(env: dict) -> int:
    script = """
from sqlalchemy import func, select
from trainer import create_app
from trainer.extensions import db
from trainer.models import Answer, User
app = create_app()
with app.app_context():
    print(db.session.scalar(select(func.count()).select_from(Answer).join(User, User.id == Answer.user_id)
          .where(User.login_id.like("bench%"))))
"""
    return int(subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True,
                              text=True).stdout.strip())


class Trainee:
    """One signed-in trainee with a keep-alive connection, answering the module's questions in turn."""

    def __init__(self, n: int, port: int, pages: list, login: str | None = None):
        self.n, self.port, self.pages = n, port, pages
        self.login = login or f"bench{n:04d}"
        self.client = Client(port)

    def setup(self) -> None:
        self.client.login(self.login, PASSWORD)
        status, headers, _ = self.client.request("POST", f"/learn/modules/{MODULE}/start", {})
        self.attempt, self.index = map(int, PAGE_RE.search(headers["Location"]).groups())
        self.skip_text_pages()

    def skip_text_pages(self) -> None:
        """Past text-only pages, then open the question page as the browser does (untimed)."""
        while self.index < len(self.pages) and self.pages[self.index] is None:
            self.client.request("POST", f"/learn/attempts/{self.attempt}/pages/{self.index}/next", {})
            self.index += 1
        if self.index < len(self.pages):
            self.client.request("GET", f"/learn/attempts/{self.attempt}/pages/{self.index}")

    def warm(self) -> None:
        """Answer one question with the swap (not counted: a warm-up trainee)."""
        self.act(0, "action")

    def act(self, slot: int, mode: str) -> list[tuple[bool, float, bool]]:
        """Send this slot's answer (maybe twice at once); (ok, ms, duplicate) per request."""
        page = self.pages[self.index]
        form = {"token": f"b{self.n}-{mode}-{slot}", "version": page["version"], **answer_form(page)}
        path = f"/learn/attempts/{self.attempt}/pages/{self.index}/answer"
        headers = SWAP if mode == "action" else None
        if random.random() >= DOUBLE_CLICKS:
            return [self.send(self.client, path, form, headers, mode)]
        twin = Client(self.port)
        twin.cookies, twin.csrf = dict(self.client.cookies), self.client.csrf
        results: list = []
        other = threading.Thread(target=lambda: results.append(self.send(twin, path, form, headers, mode, True)))
        other.start()
        results.append(self.send(self.client, path, form, headers, mode))
        other.join()
        return results

    @staticmethod
    def send(client: Client, path: str, form: dict, headers, mode: str, duplicate: bool = False):
        started = time.perf_counter()
        try:
            status, answer_headers, text = client.request("POST", path, form, headers)
        except Exception:  # noqa: BLE001 — counted as an error
            status, answer_headers, text = 0, {}, ""
        elapsed = (time.perf_counter() - started) * 1000
        if mode == "action":  # the feedback page itself, with its address
            ok = status == 200 and 'id="feedback"' in text and "X-Trainer-Url" in answer_headers
        else:
            ok = status == 302
        return ok, elapsed, duplicate

    def between(self, slot: int, mode: str) -> None:
        """Press 次へ (untimed), past any text-only page."""
        self.client.request("POST", f"/learn/attempts/{self.attempt}/pages/{self.index}/next", {})
        self.index += 1
        self.skip_text_pages()


class FloorClient:
    """The same load on the floor app: one upsert per answer, double clicks included."""

    def __init__(self, n: int, port: int):
        self.n, self.port = n, port
        self.client = Client(port)

    def setup(self) -> None:
        for _ in range(3):  # warm the server's threads (connections), as the trainees' logins warm trainer's
            self.client.request("GET", "/warm")

    def act(self, slot: int, mode: str) -> list[tuple[bool, float, bool]]:
        form = {"token": f"f{self.n}-{slot}", "response": json.dumps({"choice": random.choice("abcd")})}
        path = f"/answer/{self.n + 1}/{slot + 1}"
        if random.random() >= DOUBLE_CLICKS:
            return [self.send(self.client, path, form)]
        twin = Client(self.port)
        results: list = []
        other = threading.Thread(target=lambda: results.append(self.send(twin, path, form, True)))
        other.start()
        results.append(self.send(self.client, path, form))
        other.join()
        return results

    @staticmethod
    def send(client: Client, path: str, form: dict, duplicate: bool = False):
        started = time.perf_counter()
        try:
            status = client.request("POST", path, form)[0]
        except Exception:  # noqa: BLE001
            status = 0
        return status == 200, (time.perf_counter() - started) * 1000, duplicate

    def between(self, slot: int, mode: str) -> None:
        pass


def parallel(actors: list, call) -> None:
    threads = [threading.Thread(target=call, args=(a,), daemon=True) for a in actors]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def run_phase(server_pid: int, actors: list, mode: str, slots: int, window: float) -> dict:
    """``slots`` rounds of one send per actor within ``window`` seconds; CPU over the rounds only."""
    results: list[tuple[bool, float, bool]] = []
    lock = threading.Lock()
    cpu = duration = own = 0.0
    for slot in range(slots):
        cpu_before, began, own_before = process_tree_cpu(server_pid), time.time(), time.process_time()
        start_at = began + 0.2

        def one(actor, slot=slot, start_at=start_at):
            time.sleep(max(0.0, start_at + random.uniform(0, window) - time.time()))
            found = actor.act(slot, mode)
            with lock:
                results.extend(found)

        parallel(actors, one)
        cpu += process_tree_cpu(server_pid) - cpu_before
        duration += time.time() - began
        own += time.process_time() - own_before
        parallel(actors, lambda a, slot=slot: a.between(slot, mode))
    sent = len(results)
    stored = sent - sum(1 for r in results if r[2])  # a double click must store one answer
    return {
        "requests": sent, "double_clicks": sent - stored, "errors": sum(1 for r in results if not r[0]),
        "duration_s": round(duration, 1), "throughput_per_s": round(sent / max(duration, 1e-9), 1),
        "latency_ms": {k: round(v, 1) for k, v in percentiles([r[1] for r in results]).items()},
        "server_cpu_s": round(cpu, 2), "server_cpu_ms_per_answer": round(cpu * 1000 / max(stored, 1), 2),
        # what saturates first: the server's share of the machine's cores against the load generator's
        "server_cores_busy": round(cpu / max(duration, 1e-9), 2),
        "load_generator_cores_busy": round(own / max(duration, 1e-9), 2),
        "_expected": stored,
    }


def run_trainer(trainees: int, args) -> tuple[dict, dict]:
    instance = Path(tempfile.mkdtemp(prefix="trainer-bench-"))
    env = server_env(instance, args.database_url)
    if args.database_url:
        from sqlalchemy import create_engine, text

        from trainer.config import normalise_database_url

        with create_engine(normalise_database_url(args.database_url)).begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    pages = prepare(env, trainees)
    if sum(1 for p in pages if p) < 2 * args.questions:
        raise SystemExit(f"{MODULE} has fewer than {2 * args.questions} questions")
    port = free_port()
    server = start_gunicorn(env, port, workers=args.workers)
    try:
        warmers = [Trainee(n, port, pages, login=f"warm{n}") for n in range(WARMERS)]
        parallel(warmers, lambda a: (a.setup(), a.warm()))
        actors = [Trainee(n, port, pages) for n in range(trainees)]
        parallel(actors, lambda a: a.setup())
        action = run_phase(server.pid, actors, "action", args.questions, args.window)
        post = run_phase(server.pid, actors, "post", args.questions, args.window)
    finally:
        stop(server)
    stored = count_answers(env)
    expected = action.pop("_expected") + post.pop("_expected")
    return {"action": action, "post": post}, {"answers_stored": stored, "lost": max(0, expected - stored),
                                              "doubled": max(0, stored - expected)}


def run_floor(trainees: int, args) -> tuple[dict, dict]:
    instance = Path(tempfile.mkdtemp(prefix="trainer-floor-"))
    database = instance / "floor.sqlite3"
    env = server_env(instance, None)
    env["FLOOR_DB"] = str(database)
    port = free_port()
    server = start_gunicorn(env, port, workers=args.workers, app="floor_app:app", chdir=Path(__file__).resolve().parent)
    try:
        actors = [FloorClient(n, port) for n in range(trainees)]
        parallel(actors, lambda a: a.setup())
        floor = run_phase(server.pid, actors, "floor", args.questions, args.window)
    finally:
        stop(server)
    with sqlite3.connect(database) as conn:
        stored = conn.execute("SELECT count(*) FROM answers").fetchone()[0]
    expected = floor.pop("_expected")
    return floor, {"answers_stored": stored, "lost": max(0, expected - stored), "doubled": max(0, stored - expected)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainees", default="300,1000", help="comma-separated numbers of concurrent trainees")
    parser.add_argument("--questions", type=int, default=3, help="answer slots per phase")
    parser.add_argument("--window", type=float, default=10.0, help="seconds in which a slot's answers arrive")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    runs = []
    for trainees in (int(n) for n in args.trainees.split(",")):
        phases, checks = run_trainer(trainees, args)
        floor, floor_checks = run_floor(trainees, args)
        floor_cpu = floor["server_cpu_ms_per_answer"] or 1e-9
        runs.append({
            "trainees": trainees, **phases, "floor": floor,
            "checks": {"trainer": checks, "floor": floor_checks},
            "ratio_to_floor": {
                "cpu_action": round(phases["action"]["server_cpu_ms_per_answer"] / floor_cpu, 2),
                "cpu_post": round(phases["post"]["server_cpu_ms_per_answer"] / floor_cpu, 2),
                "p95_action": round(phases["action"]["latency_ms"]["p95"] / max(floor["latency_ms"]["p95"], 1e-9), 2),
            },
        })
    report = {
        "database": "postgresql" if args.database_url else "sqlite (WAL)",
        "gunicorn": f"{args.workers} workers x gthread", "questions_per_phase": args.questions,
        "window_s": args.window, "runs": runs,
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
