"""Benchmark: 300 logged-in trainees answering through a running gunicorn server.

    .venv/bin/python benchmarks/answer_submit.py [--trainees 300] [--questions 3] [--window 10]
        [--database-url postgresql://postgres@127.0.0.1:5432/bench]

Each trainee answers ``--questions`` questions of the values module. For each question, every
trainee sends the answer at a random moment within a ``--window``-second slot (300 trainees each
answering within about 10 seconds); when all have answered, each presses 次へ (not timed, not
counted in CPU) and the next slot begins. 5 % of answers are sent twice at once (a double click),
to show they are stored once. Reports throughput, p50/p95/p99 of the answer request, errors, stored
answers against sent, and the server's CPU seconds per stored answer (gunicorn master + workers,
read from /proc over the answer slots only).
"""
from __future__ import annotations

import argparse
import json
import random
import re
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
    for i in range({trainees}):
        if not accounts.login_exists(f"bench{{i:04d}}"):
            accounts.create_user(login_id=f"bench{{i:04d}}", display_name=f"受講者{{i}}", organization=org,
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


class Trainee(threading.Thread):
    def __init__(self, n: int, port: int, pages: list, questions: int, window: float, start_at: list, stats: dict):
        super().__init__(daemon=True)
        self.n, self.port, self.pages, self.questions = n, port, pages, questions
        self.window, self.start_at, self.stats = window, start_at, stats
        self.ready = threading.Event()
        self.client = Client(port)
        self.slot_open = threading.Event()
        self.next_go = threading.Event()
        self.answered = threading.Semaphore(0)
        self.moved = threading.Semaphore(0)

    def setup(self) -> None:
        self.client.login(f"bench{self.n:04d}", PASSWORD)
        status, headers, _ = self.client.request("POST", f"/learn/modules/{MODULE}/start", {})
        self.attempt, self.index = map(int, PAGE_RE.search(headers["Location"]).groups())
        while self.pages[self.index] is None:  # move past text-only pages
            self.client.request("POST", f"/learn/attempts/{self.attempt}/pages/{self.index}/next", {})
            self.index += 1

    def run(self) -> None:
        self.setup()
        self.ready.set()
        for slot in range(self.questions):
            self.slot_open.wait()  # the conductor opens each slot
            time.sleep(max(0.0, self.start_at[-1] + random.uniform(0, self.window) - time.time()))
            page = self.pages[self.index]
            form = {"token": f"b{self.n}-{slot}", "version": page["version"], **answer_form(page)}
            path = f"/learn/attempts/{self.attempt}/pages/{self.index}/answer"
            if random.random() < 0.05:  # a double click: the same form twice at once
                extra = Client(self.port)
                extra.cookies, extra.csrf = dict(self.client.cookies), self.client.csrf
                twin = threading.Thread(target=self.send, args=(extra, path, form, True))
                twin.start()
                self.send(self.client, path, form, False)
                twin.join()
            else:
                self.send(self.client, path, form, False)
            self.answered.release()
            self.next_go.wait()
            self.client.request("POST", f"/learn/attempts/{self.attempt}/pages/{self.index}/next", {})
            self.index += 1
            while self.index < len(self.pages) and self.pages[self.index] is None:
                self.client.request("POST", f"/learn/attempts/{self.attempt}/pages/{self.index}/next", {})
                self.index += 1
            self.moved.release()

    def send(self, client: Client, path: str, form: dict, duplicate: bool) -> None:
        started = time.perf_counter()
        try:
            status, _, _ = client.request("POST", path, form)
        except Exception:  # noqa: BLE001 — counted as an error
            status = 0
        elapsed = (time.perf_counter() - started) * 1000
        with self.stats["lock"]:
            self.stats["latency"].append(elapsed)
            self.stats["sent"] += 1
            self.stats["duplicates"] += int(duplicate)
            if status != 302:
                self.stats["errors"] += 1


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainees", type=int, default=300)
    parser.add_argument("--questions", type=int, default=3)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    instance = Path(tempfile.mkdtemp(prefix="trainer-bench-"))
    env = server_env(instance, args.database_url)
    if args.database_url:
        from sqlalchemy import create_engine, text

        from trainer.config import normalise_database_url

        with create_engine(normalise_database_url(args.database_url)).begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    pages = prepare(env, args.trainees)
    port = free_port()
    server = start_gunicorn(env, port, workers=args.workers)
    stats = {"lock": threading.Lock(), "latency": [], "sent": 0, "duplicates": 0, "errors": 0}
    start_at: list[float] = []
    try:
        trainees = [Trainee(n, port, pages, args.questions, args.window, start_at, stats) for n in range(args.trainees)]
        for t in trainees:
            t.start()
        for t in trainees:
            t.ready.wait(timeout=300)
        cpu = duration = 0.0
        for _slot in range(args.questions):
            cpu_before, began = process_tree_cpu(server.pid), time.time()
            start_at.append(began + 0.2)
            for t in trainees:
                t.next_go.clear()
                t.slot_open.set()
            for t in trainees:
                t.answered.acquire()
            cpu += process_tree_cpu(server.pid) - cpu_before
            duration += time.time() - began
            for t in trainees:
                t.slot_open.clear()
                t.next_go.set()
            for t in trainees:
                t.moved.acquire()
        for t in trainees:
            t.join()
    finally:
        stop(server)
    stored = count_answers(env)
    expected = stats["sent"] - stats["duplicates"]
    report = {
        "database": "postgresql" if args.database_url else "sqlite (WAL)",
        "gunicorn": f"{args.workers} workers x gthread", "trainees": args.trainees,
        "answers_sent": stats["sent"], "of_which_double_clicks": stats["duplicates"],
        "answers_stored": stored, "lost": max(0, expected - stored), "doubled": max(0, stored - expected),
        "errors": stats["errors"], "duration_s": round(duration, 1),
        "throughput_answers_per_s": round(stats["sent"] / duration, 1),
        "latency_ms": {k: round(v, 1) for k, v in percentiles(stats["latency"]).items()},
        "server_cpu_s": round(cpu, 2),
        "server_cpu_ms_per_answer": round(cpu * 1000 / max(stored, 1), 2),
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
