"""Benchmark: 300 participants following a live session through a running gunicorn server.

    .venv/bin/python benchmarks/live_session.py [--participants 300] [--questions 4]
        [--database-url postgresql://postgres@127.0.0.1:5432/bench]

Every participant logs in, opens the live page and then behaves like the browser script
(static/js/live.js): it polls the session's version every 1.5 s (``?panel=1``: a state for a new
version carries the new panel) and fetches its panel only when the state did not carry it; when a
question opens it answers after 1-8 s of thought. A facilitator thread paces
the module (go to the question, open, wait until everyone answered or 15 s, close, reveal) and polls
the distribution every 0.7 s as the projector does. Reports p50/p95/p99 of the answer request and of
the state request, errors, lost answers, and the staleness of the facilitator's distribution: for
the k-th stored answer, the time from its response to the first facilitator poll counting k answers.

Where the state request's time goes: its figures are given for the live part (after everyone
signed in; the polls while the others still sign in are reported apart), split into the polls
within 2 s after a facilitator action (when every phone fetches its panel) and the others, and beside
the server's own time per request from gunicorn's access log (from the parsed request to the
response: what is missing from the client's figure was spent queueing for a worker thread, on the
network or in the load generator itself, which runs 300 Python threads on the same cores). A probe
— one more participant in a process of its own, polling every 0.25 s as live.js does (revalidating
with the ETag, fetching the panel when the version moved) — sees the server as a phone does,
without the load generator's own GIL in its figures. ``--processes`` spreads the participants over
that many load-generating processes (phones do not share one interpreter lock); the default, 1, is
the way the earlier figures were measured.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (Client, answer_form, free_port, percentiles, server_env, server_times, start_gunicorn,  # noqa: E402
                    stop)

PASSWORD = "Kx7-live-follow-42"
MODULE = "m-values"
VERSION_RE = re.compile(r'name="version" value="(\d+)"')
PAGE_RE = re.compile(r'<p class="muted">(\d+) / \d+</p>')


def prepare(env: dict, participants: int) -> tuple[int, list]:
    subprocess.run([sys.executable, "-m", "trainer.cli", "setup"], env=env, check=True, capture_output=True)
    script = f"""
import json
from datetime import timedelta
from trainer import create_app
from trainer.extensions import db
from trainer.models import Module, Role
from trainer.dates import utcnow
from trainer.services import accounts, live, orgs, player, workshops
app = create_app()
with app.app_context():
    org = orgs.by_code("140007")
    fac = accounts.create_user(login_id="bench-fac", display_name="進行", organization=org, password="{PASSWORD}",
                               roles=[Role.FACILITATOR])
    logins = []
    for i in range({participants} + 1):  # the last one is the probe
        accounts.create_user(login_id=f"live{{i:04d}}", display_name=f"参加{{i}}", organization=org, password="{PASSWORD}")
        logins.append(f"live{{i:04d}}")
    data = workshops.WorkshopInput(title="負荷試験", starts_at=utcnow() - timedelta(hours=1), ends_at=utcnow() + timedelta(hours=5),
                                   venue="", online=False, module_ids=["{MODULE}"], participants=" ".join(logins))
    ws = workshops.create(fac, data)
    session = live.start(ws, "{MODULE}", fac)
    db.session.commit()
    pages = [None if p.question is None else {{"index": p.index, "type": p.question.type,
             "data": p.question.current_version.data}} for p in player.pages(db.session.get(Module, "{MODULE}"))]
    print(json.dumps({{"session": session.id, "pages": pages}}))
"""
    out = subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True, text=True).stdout
    found = json.loads(out.strip().splitlines()[-1])
    return found["session"], found["pages"]


def probe(port: int, sid: int, login: str, out: str, stop_event, interval: float) -> None:
    """A phone in a process of its own: what a participant waits for, without the load generator's GIL."""
    client = Client(port)
    client.login(login, PASSWORD)
    client.request("GET", f"/live/{sid}")
    etag, version, samples = None, None, []
    while not stop_event.is_set():
        at, started = time.time(), time.perf_counter()
        status, headers, body = client.request("GET", f"/live/{sid}/state?panel=1",
                                               extra_headers={"If-None-Match": etag} if etag else None)
        samples.append(("state", at, (time.perf_counter() - started) * 1000, status))
        if status == 200:
            etag, found = headers.get("ETag"), json.loads(body)
            moved = found["version"]
            if moved != version and "panel" in found:
                version = moved
            elif moved != version:
                version, at, started = moved, time.time(), time.perf_counter()
                status, _, _ = client.request("GET", f"/live/{sid}/panel")
                samples.append(("panel", at, (time.perf_counter() - started) * 1000, status))
        stop_event.wait(interval)
    Path(out).write_text(json.dumps(samples))


class Participant(threading.Thread):
    def __init__(self, n, port, sid, pages, stats, stop_event):
        super().__init__(daemon=True)
        self.n, self.sid, self.pages, self.stats, self.stop_event = n, sid, pages, stats, stop_event
        self.client = Client(port)
        self.ready = threading.Event()
        self.version = None
        self.etag, self.state = None, None

    def run(self):
        self.client.login(f"live{self.n:04d}", PASSWORD)
        self.client.request("GET", f"/live/{self.sid}")
        self.ready.set()
        time.sleep(random.uniform(0, 1.5))
        while not self.stop_event.is_set():
            started, started_at = time.perf_counter(), time.time()
            try:  # as the browser does with cache "no-cache": revalidate with the ETag it kept
                extra = {"If-None-Match": self.etag} if self.etag else None
                status, headers, body = self.client.request("GET", f"/live/{self.sid}/state?panel=1", extra_headers=extra)
                if status == 304:
                    state = self.state
                else:
                    state = self.state = json.loads(body)
                    self.etag = headers.get("ETag")
            except Exception:  # noqa: BLE001
                status, state = 0, None
            with self.stats["lock"]:
                self.stats["not_modified"] += int(status == 304)
            self.record("state", started, status in (200, 304), at=started_at)
            if state and state["version"] != self.version:
                self.version = state["version"]
                self.follow(state.get("panel"))
            self.stop_event.wait(1.5)

    def follow(self, panel: str | None = None):
        """Show the new version's panel: the one the state carried (live.js asks with ?panel=1), else fetched."""
        status = 200
        if panel is None:
            started = time.perf_counter()
            try:
                status, _, panel = self.client.request("GET", f"/live/{self.sid}/panel")
            except Exception:  # noqa: BLE001
                status, panel = 0, ""
            self.record("panel", started, status == 200)
        match, page = VERSION_RE.search(panel), PAGE_RE.search(panel)
        if status != 200 or not match or not page or 'class="answer-form live-answer"' not in panel:
            return
        info = self.pages[int(page.group(1)) - 1]
        time.sleep(random.uniform(1, 8))
        form = {"token": f"{self.n}-{info['index']}", "version": match.group(1), **answer_form(info)}
        started = time.perf_counter()
        try:
            status, _, _ = self.client.request("POST", f"/live/{self.sid}/answer", form)
        except Exception:  # noqa: BLE001
            status = 0
        self.record("answer", started, status == 200, done_at=time.time())

    def record(self, kind, started, ok, done_at=None, at=None):
        elapsed = (time.perf_counter() - started) * 1000
        with self.stats["lock"]:
            self.stats[kind].append(elapsed)
            if at is not None:
                self.stats["state_at"].append((at, elapsed))
            if not ok:
                self.stats["errors"][kind] += 1
            if done_at is not None and ok:
                self.stats["answer_times"].append(done_at)


KEPT = ("state", "panel", "answer", "answer_times", "state_at")


def crowd(port, sid, pages, numbers, ready, stop_event, out: str) -> None:
    """One load-generating process: participants ``numbers`` as threads; their figures go to ``out``."""
    stats = {"lock": threading.Lock(), **{k: [] for k in KEPT}, "errors": {"state": 0, "panel": 0, "answer": 0},
             "not_modified": 0}
    local_stop = threading.Event()
    people = [Participant(n, port, sid, pages, stats, local_stop) for n in numbers]
    for p in people:
        p.start()
    for p in people:
        p.ready.wait(timeout=300)
    ready.put(len(people))
    stop_event.wait()
    local_stop.set()
    for p in people:
        p.join(timeout=30)
    with stats["lock"]:
        Path(out).write_text(json.dumps({k: v for k, v in stats.items() if k != "lock"}))


def conduct(port, sid, pages, questions, participants, stats):
    fac = Client(port)
    fac.login("bench-fac", PASSWORD)
    question_pages = [p["index"] for p in pages if p and p["type"] in ("single", "multiple", "ordering", "reflection")]
    for index in question_pages[:questions]:
        for action, extra in (("goto", {"page": index}), ("open", {})):
            fac.request("POST", f"/facilitate/live/{sid}/action", {"action": action, **extra})
            stats["actions"].append(time.time())
        opened, seen = time.time(), 0
        while time.time() - opened < 15:
            polled = time.time()
            _, _, body = fac.request("GET", f"/facilitate/live/{sid}/stats.json")
            answered = json.loads(body)["answered"]
            with stats["lock"]:
                stats["polls"].append((time.time(), stats["answered_base"] + answered))
            seen = answered
            if seen >= participants:
                break
            time.sleep(max(0, 0.7 - (time.time() - polled)))
        stats["answered_base"] += seen
        for action in ("close", "reveal"):
            fac.request("POST", f"/facilitate/live/{sid}/action", {"action": action})
            stats["actions"].append(time.time())
        time.sleep(2)


def staleness(answer_times, polls):
    """For the k-th stored answer: first poll showing >= k answers, minus the answer's time."""
    out, j = [], 0
    for k, done in enumerate(sorted(answer_times), start=1):
        while j < len(polls) and polls[j][1] < k:
            j += 1
        if j < len(polls):
            out.append(max(0.0, polls[j][0] - done) * 1000)
    return out


def count_answers(env: dict) -> int:
    script = """
from sqlalchemy import func, select
from trainer import create_app
from trainer.extensions import db
from trainer.models import Answer, Attempt
app = create_app()
with app.app_context():
    print(db.session.scalar(select(func.count()).select_from(Answer).join(Attempt, Attempt.id == Answer.attempt_id)
          .where(Attempt.live_session_id.is_not(None))))
"""
    return int(subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True,
                              text=True).stdout.strip())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=300)
    parser.add_argument("--questions", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--processes", type=int, default=1,
                        help="load-generating processes (on 2 cores more processes take CPU from the server; the probe "
                             "already shows what a phone alone sees)")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    env = server_env(Path(tempfile.mkdtemp(prefix="trainer-live-")), args.database_url)
    if args.database_url:
        from sqlalchemy import create_engine, text

        from trainer.config import normalise_database_url

        with create_engine(normalise_database_url(args.database_url)).begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    sid, pages = prepare(env, args.participants)
    port = free_port()
    access_log = Path(env["TRAINER_INSTANCE_PATH"]) / "access.log"
    server = start_gunicorn(env, port, workers=args.workers, access_log=access_log)
    stats = {"lock": threading.Lock(), **{k: [] for k in KEPT}, "polls": [], "answered_base": 0,
             "errors": {"state": 0, "panel": 0, "answer": 0}, "not_modified": 0, "actions": []}
    spawn = multiprocessing.get_context("spawn")
    stop_event, ready = spawn.Event(), spawn.Queue()
    folder = Path(env["TRAINER_INSTANCE_PATH"])
    probe_out = str(folder / "probe.json")
    prober = spawn.Process(target=probe, args=(port, sid, f"live{args.participants:04d}", probe_out, stop_event, 0.25))
    crowds = [spawn.Process(target=crowd, args=(port, sid, pages, list(range(k, args.participants, args.processes)),
                                                ready, stop_event, str(folder / f"crowd{k}.json")))
              for k in range(args.processes)]
    try:
        prober.start()
        for c in crowds:
            c.start()
        joined = 0
        while joined < args.participants:
            joined += ready.get(timeout=600)
        began = time.time()
        conduct(port, sid, pages, args.questions, args.participants, stats)
        duration = time.time() - began
        stop_event.set()
        for process in (prober, *crowds):
            process.join(timeout=60)
    finally:
        stop_event.set()
        stop(server)
    for k in range(args.processes):
        found = json.loads((folder / f"crowd{k}.json").read_text())
        for key in KEPT:
            stats[key] += found[key]
        stats["not_modified"] += found["not_modified"]
        for key, n in found["errors"].items():
            stats["errors"][key] += n
    expected = args.participants * args.questions
    stored = count_answers(env)
    live_part = [(at, ms) for at, ms in stats["state_at"] if at >= began]
    burst = [ms for at, ms in live_part if any(0 <= at - a <= 2 for a in stats["actions"])]
    quiet = [ms for at, ms in live_part if not any(0 <= at - a <= 2 for a in stats["actions"])]
    server = server_times(access_log, {"state": re.compile(r"GET /live/\d+/state"), "panel": re.compile(r"GET /live/\d+/panel"),
                                       "answer": re.compile(r"POST /live/\d+/answer")})
    probed = json.loads(Path(probe_out).read_text()) if Path(probe_out).exists() else []
    probe_state = [(at, ms) for kind, at, ms, _ in probed if kind == "state" and at >= began]
    rounded = lambda values: {k: round(v, 1) for k, v in percentiles(values).items()}  # noqa: E731
    print(json.dumps({
        "database": "postgresql" if args.database_url else "sqlite (WAL)",
        "gunicorn": f"{args.workers} workers x gthread", "participants": args.participants,
        "load_generator": f"{args.processes} processes",
        "questions": args.questions, "duration_s": round(duration, 1),
        "answers_expected": expected, "answers_acknowledged": len(stats["answer_times"]),
        "answers_in_database": stored, "lost": expected - stored,
        "errors": stats["errors"], "state_requests": len(stats["state"]), "state_304": stats["not_modified"],
        "answer_ms": {k: round(v, 1) for k, v in percentiles(stats["answer"]).items()},
        "state_ms": rounded([ms for _, ms in live_part]),
        "state_ms_within_2s_of_an_action": rounded(burst),
        "state_ms_otherwise": rounded(quiet),
        "state_ms_while_others_sign_in": rounded([ms for at, ms in stats["state_at"] if at < began]),
        "panel_ms": rounded(stats["panel"]),
        "probe_state_ms": rounded([ms for _, ms in probe_state]),
        "probe_state_ms_within_2s_of_an_action": rounded(
            [ms for at, ms in probe_state if any(0 <= at - a <= 2 for a in stats["actions"])]),
        "probe_panel_ms": rounded([ms for kind, at, ms, _ in probed if kind == "panel" and at >= began]),
        "probe_errors": sum(1 for *_, status in probed if status not in (200, 304)),
        "server_ms": {kind: rounded(values) for kind, values in server.items()},
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "distribution_staleness_ms": {k: round(v, 1) for k, v in percentiles(staleness(stats["answer_times"], stats["polls"])).items()},
    }, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
