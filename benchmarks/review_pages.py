"""Benchmark: every reviewer home variant and the drill-down, through gunicorn, on an existing database.

    .venv/bin/python benchmarks/review_pages.py --database-url postgresql://postgres@127.0.0.1:5432/bench100k
        [--runs 5] [--direct] [--build --trainees 100000 --answers 3000000]

The database is one built by benchmarks/reviewer.py (its reviewer "bench-reviewer" and municipality
code 900000, the 1,000-trainee one); ``--build`` builds it first with that builder (dropping what is
there). The reviewer home's running totals (services/review_counts.py) are brought up to date first
(`trainer review refresh`); the server runs without the background refresher (nothing changes while
it is timed). ``--direct`` also times each page counted the direct way (the totals set aside for the
run by reversing their catalogue fingerprint, then put back; PostgreSQL), for comparison on the same machine and load.
Prints JSON: per page the first request and the median / max of ``--runs`` more, in ms.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Client, free_port, server_env, start_gunicorn, stop  # noqa: E402
from reviewer import LOAD_MODULE, PASSWORD, _answering, module_pages, time_page  # noqa: E402

PERIOD = "since=2024-10-01&until=2025-03-31"


def pages(big: int) -> dict[str, str]:
    return {
        "home /review/": "/review/",
        "home with a period": f"/review/?{PERIOD}",
        "home since-only": "/review/?since=2024-10-01",
        "home until-only": "/review/?until=2025-03-31",
        "home programme view": "/review/?programme=center",
        "home course + period": f"/review/?course=basic&{PERIOD}",
        "home sorted by a course's rate": "/review/?sort=rate-basic&dir=desc",
        "drill-down (1,000 trainees)": f"/review/municipalities/{big}",
        "drill-down with a period": f"/review/municipalities/{big}?{PERIOD}",
    }


def _sql(url: str, statement: str, **params):
    from sqlalchemy import create_engine, text

    from trainer.config import normalise_database_url

    engine = create_engine(normalise_database_url(url))
    try:
        with engine.begin() as conn:
            return conn.execute(text(statement), params).fetchall() if statement.lstrip().upper().startswith(
                "SELECT") else conn.execute(text(statement), params)
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--direct", action="store_true", help="also time the pages counted directly")
    parser.add_argument("--build", action="store_true", help="build the database first (benchmarks/reviewer.py)")
    parser.add_argument("--trainees", type=int, default=10_000)
    parser.add_argument("--answers", type=int, default=300_000)
    parser.add_argument("--load-trainees", type=int, default=0,
                        help="then time the home pages while this many trainees answer (refresher on, 10 s)")
    parser.add_argument("--load-seconds", type=float, default=60)
    args = parser.parse_args()
    instance = Path(tempfile.mkdtemp(prefix="trainer-bench-review-pages-"))
    env = server_env(instance, args.database_url)
    env["TRAINER_MASTERY_REFRESH_SECONDS"] = "0"  # no refresher thread: nothing changes while timed
    if args.build:
        subprocess.run([sys.executable, str(Path(__file__).with_name("reviewer.py")), "--trainees", str(args.trainees),
                        "--answers", str(args.answers), "--runs", "1", "--load-trainees", "0",
                        "--database-url", args.database_url], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, "-m", "flask", "--app", "trainer", "db", "upgrade"], env=env, check=True,
                   capture_output=True)
    refreshed = subprocess.run([sys.executable, "-m", "flask", "--app", "trainer", "review", "refresh"], env=env,
                               check=True, capture_output=True, text=True).stdout.strip()
    big = _sql(args.database_url, "SELECT id FROM organizations WHERE code = '900000'")[0][0]
    counts = _sql(args.database_url, "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM attempts), "
                                     "(SELECT count(*) FROM answers), (SELECT count(*) FROM review_counts)")[0]
    port = free_port()
    server = start_gunicorn(env, port, workers=1, threads=2)
    report: dict = {"data": dict(zip(("users", "attempts", "answers", "review_counts"), counts)),
                    "refresh": refreshed, "totals": {}}
    try:
        client = Client(port)
        client.login("bench-reviewer", PASSWORD)
        for name, path in pages(big).items():
            report["totals"][name] = time_page(client, path, args.runs)
        if args.direct:
            report["direct"] = {}
            _sql(args.database_url, "UPDATE review_state SET fingerprint = reverse(fingerprint) WHERE id = 1")
            try:
                for name, path in pages(big).items():
                    report["direct"][name] = time_page(client, path, args.runs)
            finally:
                _sql(args.database_url, "UPDATE review_state SET fingerprint = reverse(fingerprint) WHERE id = 1")
    finally:
        stop(server)
    if args.load_trainees:
        report["while trainees answer"] = under_load(env, args.database_url, big, args.load_trainees,
                                                     args.load_seconds)
    print(json.dumps(report, ensure_ascii=False, indent=2))


def under_load(env: dict, url: str, big: int, trainees: int, seconds: float) -> dict:
    """p50/p95/max of the home variants and the drill-down while ``trainees`` answer LOAD_MODULE
    (pauses of 1-4 s), with the refresher thread on (every 10 s): the pages correct the totals with
    the trainees marked since the last refresh."""
    import threading
    import time

    from common import percentiles

    logins = [r[0] for r in _sql(url, "SELECT login_id FROM users WHERE login_id LIKE 'bench0%' ORDER BY id "
                                      "LIMIT :n", n=trainees)]
    os.environ.update(env)
    pages_of_module = module_pages()
    env = dict(env, TRAINER_MASTERY_REFRESH_SECONDS="10")
    port = free_port()
    server = start_gunicorn(env, port, workers=2, threads=8)
    try:
        reviewer = Client(port)
        reviewer.login("bench-reviewer", PASSWORD)
        stats = {"lock": threading.Lock(), "answers": [], "errors": 0}
        stop_at = time.time() + seconds
        threads = [threading.Thread(target=_answering, args=(port, login, pages_of_module, stop_at, (1.0, 4.0), stats),
                                    daemon=True) for login in logins]
        for thread in threads:
            thread.start()
        time.sleep(min(5.0, seconds / 4))
        timings: dict[str, list[float]] = {name: [] for name in pages(big)}
        pending = []
        while time.time() < stop_at - 1:
            for name, path in pages(big).items():
                started = time.perf_counter()
                status, _, _ = reviewer.request("GET", path)
                timings[name].append((time.perf_counter() - started) * 1000)
                if status != 200:
                    raise RuntimeError(f"{path}: {status}")
            pending.append(_sql(url, "SELECT count(*) FROM review_dirty")[0][0])
            time.sleep(0.3)
        for thread in threads:
            thread.join(timeout=30)
        answered = len(stats["answers"])
        return {"trainees": trainees, "module": LOAD_MODULE, "seconds": seconds, "answers": answered,
                "answers_per_s": round(answered / seconds, 1), "answer_errors": stats["errors"],
                "answer_ms": {k: round(v, 1) for k, v in percentiles(stats["answers"]).items()},
                "marked_trainees_seen": {"max": max(pending, default=0), "mean": round(sum(pending) / max(1, len(pending)), 1)},
                **{name: {"n": len(t), **{k: round(v, 1) for k, v in percentiles(t).items()}}
                   for name, t in timings.items()}}
    finally:
        stop(server)


if __name__ == "__main__":
    main()
