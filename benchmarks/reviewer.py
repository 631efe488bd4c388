"""Benchmark: the reviewer pages and exports on a prefecture-sized data set.

    .venv/bin/python benchmarks/reviewer.py [--trainees 10000] [--answers 300000] [--runs 5]
        [--database-url postgresql://postgres@127.0.0.1:5432/bench [--reuse]] [--no-exports]

Generates (bulk inserts) a prefecture with 40 municipalities (one of them large, 1,000 trainees; a
few with an office), 10,000 trainees who each worked on 10 modules (100,000 attempts, 70 % of them
completed) and 300,000 answers, then times through a running gunicorn worker (1 process, so its
memory can be read): the reviewer home, the drill-down of the largest municipality, the mastery
aggregate, and the completion-records CSV export (with --xlsx also the XLSX) for the large
municipality (10,000 rows) and for the whole prefecture (100,000 rows); --only-exports times the
exports alone (no pages, no trainees answering). For the exports it reports the time to the first
and the last byte, the worker's peak resident memory during the download (VmHWM, reset before each
request through /proc/<pid>/clear_refs) next to its resident memory before it — flat memory means
the peak does not grow with the number of rows — the CPU seconds the worker spent on it (all its
threads; not the database server's) and the 1-minute load average after it: on a loaded machine the
times grow, the CPU seconds hardly. --reuse keeps a PostgreSQL data set built by an earlier run (the
10,000-trainee build takes minutes); --no-exports skips the exports.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Client, answer_form, free_port, percentiles, process_tree_cpu, server_env, start_gunicorn, stop  # noqa: E402

PASSWORD = "Kx7-mastery-load-42"
PAGE_RE = re.compile(r"/learn/attempts/(\d+)/pages/(\d+)")
PREFECTURE = "440001"  # 大分県: the benchmark's municipalities are synthetic
MUNICIPALITIES = 40
BIG = 1_000
MODULES_PER_TRAINEE = 10
CHUNK = 20_000


def generate(trainees: int, answers: int) -> dict:
    """Bulk-insert the data set (in this process, on the configured database); returns ids to visit."""
    from sqlalchemy import func, insert, select, text

    from trainer import create_app
    from trainer.extensions import db
    from trainer.models import Answer, Attempt, Course, Module, Organization, Question, QuestionVersion, Role, User, UserRole
    from trainer.services import accounts, mastery, orgs, review, review_counts

    rng = random.Random(6)
    app = create_app()
    with app.app_context():
        pref = orgs.by_code(PREFECTURE)
        units = []
        for n in range(MUNICIPALITIES):
            unit = Organization(name=f"ベンチ市{n + 1:02d}", kana=f"べんちし{n + 1:02d}", code=f"9{n:05d}",
                                kind="municipality", parent=pref, jurisdiction_id=pref.id,
                                programme=("center", "station", "support", "none")[n % 4])
            db.session.add(unit)
            units.append(unit)
        db.session.flush()
        offices = {u.id: orgs.create_office(u, "ひきこもり相談窓口", "相談窓口") for u in units[::4]}
        reviewer = accounts.create_user(login_id="bench-reviewer", display_name="大分 閲覧", organization=pref,
                                        password=PASSWORD, roles=[Role.REVIEWER], reviewer_scope=pref)
        db.session.commit()
        password_hash = reviewer.password_hash
        first_user = (db.session.scalar(select(func.max(User.id))) or 0) + 1

        people, roles, org_of = [], [], {}
        sizes = [BIG] + [(trainees - BIG) // (MUNICIPALITIES - 1)] * (MUNICIPALITIES - 1)
        sizes[-1] += trainees - sum(sizes)
        user_id = first_user
        registered = datetime(2024, 3, 1, tzinfo=timezone.utc)
        for unit, size in zip(units, sizes):
            for i in range(size):
                org = offices[unit.id].id if unit.id in offices and i % 10 == 0 else unit.id
                people.append({"id": user_id, "login_id": f"bench{user_id:06d}", "display_name": f"受講者 {user_id}",
                               "furigana": f"じゅこうしゃ {user_id}", "organization_id": org, "password_hash": password_hash,
                               "active": True, "session_version": 1, "must_change_password": False,
                               "created_at": registered})
                roles.append({"user_id": user_id, "role": str(Role.TRAINEE), "created_at": registered})
                org_of[user_id] = org
                user_id += 1
        _bulk(db, insert(User), people)
        _bulk(db, insert(UserRole), roles)

        modules = db.session.scalars(select(Module).where(Module.retired_at.is_(None)).order_by(Module.sort)).all()
        scored = {}
        for q, version in db.session.execute(select(Question, QuestionVersion).join(
                QuestionVersion, QuestionVersion.id == Question.current_version_id).where(Question.retired_at.is_(None))):
            scored.setdefault(q.module_id, []).append((q.id, version.id, version.type in ("single", "multiple", "ordering")))
        for qs in scored.values():
            qs.sort(key=lambda item: (not item[2], item[0]))  # scored questions first
        course_modules = [m for c in db.session.scalars(select(Course)) for m in c.module_ids]
        weights = [3 if m.id in course_modules else 1 for m in modules]
        per_attempt = max(1, round(answers / (trainees * MODULES_PER_TRAINEE)))

        attempts, rows, attempt_id = [], [], (db.session.scalar(select(func.max(Attempt.id))) or 0) + 1
        first_attempt = attempt_id
        start_day = datetime(2024, 4, 1, 9, tzinfo=timezone.utc)
        for uid in range(first_user, user_id):
            chosen = set()
            while len(chosen) < MODULES_PER_TRAINEE:
                chosen.add(rng.choices(modules, weights)[0].id)
            for module_id in sorted(chosen):
                started = start_day + timedelta(days=rng.randrange(365), minutes=rng.randrange(600))
                done = rng.random() < 0.7
                finished = started + timedelta(minutes=rng.randrange(20, 90)) if done else None
                attempts.append({"id": attempt_id, "user_id": uid, "module_id": module_id, "number": 1, "position": 0,
                                 "started_at": started, "last_activity_at": finished or started + timedelta(minutes=15),
                                 "completed_at": finished, "score": round(rng.uniform(40, 100), 1) if done else None,
                                 "seconds_spent": 900})
                for k, (question_id, version_id, is_scored) in enumerate(scored[module_id][:per_attempt]):
                    score = rng.choice((0.0, 0.5, 1.0, 1.0)) if is_scored else None
                    rows.append({"attempt_id": attempt_id, "user_id": uid, "question_id": question_id,
                                 "version_id": version_id, "token": f"b{attempt_id}-{k}", "response": {"choice": "a"},
                                 "score": score, "rating": "best" if score == 1.0 else None, "hidden": False,
                                 "created_at": started + timedelta(minutes=k + 1)})
                attempt_id += 1
            if len(attempts) >= CHUNK:
                _bulk(db, insert(Attempt), attempts)
                attempts = []
            if len(rows) >= CHUNK * 3:
                _bulk(db, insert(Answer), rows)
                rows = []
        _bulk(db, insert(Attempt), attempts)
        _bulk(db, insert(Answer), rows)
        if db.engine.dialect.name == "postgresql":
            for table in ("users", "user_roles", "attempts", "answers"):
                db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
            db.session.execute(text("ANALYZE"))
        else:
            db.session.execute(text("ANALYZE"))
        db.session.commit()
        # answers were bulk-inserted, not through the answer path: build their summaries
        began = time.perf_counter()
        mastery.refresh_summary(all_trainees=True)
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        summary_s = time.perf_counter() - began
        began = time.perf_counter()  # the reviewer home's running totals (services/review_counts.py)
        review_counts.refresh(review.catalogue(), rebuild=True)
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        totals_s = time.perf_counter() - began
        counts = {"trainees": db.session.scalar(select(func.count()).select_from(UserRole).where(UserRole.role == str(Role.TRAINEE))),
                  "municipalities": len(units), "offices": len(offices),
                  **{name: db.session.scalar(select(func.count()).select_from(model))
                     for name, model in (("attempts", Attempt), ("answers", Answer))}}
        counts["summaries_built_in_s"] = round(summary_s, 1)
        counts["review_totals_built_in_s"] = round(totals_s, 1)
        return {"big_unit": units[0].id, "counts": counts, "attempts": attempt_id - first_attempt,
                "trainees": [f"bench{uid:06d}" for uid in range(first_user, first_user + 300)]}


def _built(database_url: str) -> bool:
    """Whether the database already holds a data set of this benchmark (its reviewer account)."""
    from sqlalchemy import create_engine, text

    from trainer.config import normalise_database_url

    engine = create_engine(normalise_database_url(database_url))
    try:
        with engine.connect() as conn:
            if conn.execute(text("SELECT to_regclass('public.users')")).scalar() is None:
                return False
            return conn.execute(text("SELECT count(*) FROM users WHERE login_id = 'bench-reviewer'")).scalar() > 0
    finally:
        engine.dispose()


def existing() -> dict:
    """The ids to visit in a data set built by an earlier run (--reuse), with its summaries brought
    up to date (answers of an earlier load phase; tables a migration left to be built)."""
    from sqlalchemy import func, select

    from trainer import create_app
    from trainer.extensions import db
    from trainer.models import Answer, Attempt, Organization, Role, User, UserRole
    from trainer.services import mastery, review, review_counts

    app = create_app()
    with app.app_context():
        while mastery.refresh_summary(limit=5000):
            db.session.commit()
        db.session.commit()
        review_counts.refresh(review.catalogue())
        db.session.commit()
        big = db.session.scalar(select(Organization.id).where(Organization.code == "900000"))
        logins = db.session.scalars(select(User.login_id).where(User.login_id.like("bench0%"))
                                    .order_by(User.id).limit(300)).all()
        counts = {"trainees": db.session.scalar(select(func.count()).select_from(UserRole).where(UserRole.role == str(Role.TRAINEE))),
                  **{name: db.session.scalar(select(func.count()).select_from(model))
                     for name, model in (("attempts", Attempt), ("answers", Answer))}}
        return {"big_unit": big, "counts": counts, "trainees": list(logins)}


def _bulk(db, statement, rows: list[dict]) -> None:
    """Insert rows: COPY on PostgreSQL (3,000,000 answers in minutes, not hours), executemany on SQLite."""
    if not rows:
        return
    if db.engine.dialect.name == "postgresql" and statement.table.name in ("attempts", "answers"):
        _copy(db, statement.table.name, rows)  # every column given: no Python-side defaults skipped
        return
    for i in range(0, len(rows), CHUNK):
        db.session.execute(statement, rows[i:i + CHUNK])
    db.session.commit()


def _copy(db, table: str, rows: list[dict]) -> None:
    columns = list(rows[0])

    def value(v):
        if isinstance(v, dict):
            return json.dumps(v, ensure_ascii=False)
        if isinstance(v, datetime):
            return v.astimezone(timezone.utc).replace(tzinfo=None)  # UTCDateTime stores naive UTC
        return v

    db.session.commit()
    raw = db.engine.raw_connection()
    try:
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([value(row[c]) for c in columns])
        raw.commit()
    finally:
        raw.close()


def worker_pid(master: int, timeout: float = 30) -> int:
    """The one worker of a gunicorn master, once it is forked (the master listens before its worker
    boots; a pid read too early is missing, or the master's own)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        children = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
        if len(children) == 1 and Path(f"/proc/{children[0]}/status").exists():
            return int(children[0])
        time.sleep(0.1)
    raise RuntimeError(f"no single worker under gunicorn {master}")


def memory(pid: int) -> dict[str, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {k: int(fields[k].split()[0]) // 1024 for k in ("VmRSS", "VmHWM")}


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def time_page(client: Client, paths: list[str] | str, runs: int) -> dict:
    """The first request (cold), then the median and max of ``runs`` more (a list of paths: one each)."""
    paths = [paths] * (runs + 1) if isinstance(paths, str) else paths
    times = []
    for path in paths[:runs + 1]:
        started = time.perf_counter()
        status, _, _ = client.request("GET", path)
        times.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise RuntimeError(f"{path}: {status}")
    return {"first_ms": round(times[0], 1), "median_ms": round(statistics.median(times[1:]), 1),
            "max_ms": round(max(times[1:]), 1)}


def time_export(client: Client, path: str, pid: int) -> dict:
    """Download an export to the end (counting bytes and lines), with the worker's memory."""
    before = memory(pid)["VmRSS"]
    reset_peak(pid)
    cpu = process_tree_cpu(pid)
    conn = http.client.HTTPConnection("127.0.0.1", client.port, timeout=600)
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in client.cookies.items())}
    started = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    first, size, lines = None, 0, 0
    while block := response.read(65536):
        first = first or time.perf_counter()
        size += len(block)
        lines += block.count(b"\n")
    elapsed = time.perf_counter() - started
    conn.close()
    after = memory(pid)
    rows = max(0, lines - 1) if ".csv" in path else None  # an XLSX is a ZIP: no lines to count
    return {"status": response.status, "rows": rows, "mb": round(size / 1e6, 1),
            "seconds": round(elapsed, 2), "first_byte_s": round((first or time.perf_counter()) - started, 2),
            "worker_cpu_s": round(process_tree_cpu(pid) - cpu, 2),
            "rss_before_mb": before, "peak_rss_mb": after["VmHWM"], "load_1min": round(os.getloadavg()[0], 2)}


# --- /review/mastery while trainees answer -----------------------------------------------------

LOAD_MODULE = "m-values"


def module_pages() -> list[dict | None]:
    """The question pages of LOAD_MODULE (as the player's form needs them)."""
    from trainer import create_app
    from trainer.extensions import db
    from trainer.models import Module
    from trainer.services import player

    with create_app().app_context():
        out = []
        for page in player.pages(db.session.get(Module, LOAD_MODULE)):
            q = page.question
            v = q.current_version if q else None
            out.append(None if q is None else {"index": page.index, "version": v.id, "type": v.type, "data": v.data})
        return out


def _answering(port: int, login_id: str, pages: list, window: dict, pause: tuple[float, float], stats: dict) -> None:
    """One trainee: signs in, then answers LOAD_MODULE page after page (retaking it at the end),
    pausing ``pause`` seconds (random) between answers, until the window's ``stop_at``. Signs in
    first and waits for ``window["go"]``: 300 sign-ins (scrypt, ~0.1 s of CPU each) are not part of
    the load being measured."""
    rng = random.Random(login_id)
    client = Client(port)
    try:
        client.login(login_id, PASSWORD)
        with stats["lock"]:
            stats["signed_in"] += 1
        window["go"].wait()
        stop_at = window["stop_at"]
        while time.time() < stop_at:
            _, headers, _ = client.request("POST", f"/learn/modules/{LOAD_MODULE}/start", {"retake": "1"})
            attempt, index = map(int, PAGE_RE.search(headers["Location"]).groups())
            while index < len(pages) and time.time() < stop_at:
                page = pages[index]
                if page is not None:
                    time.sleep(rng.uniform(*pause))
                    form = {"token": f"{login_id}-{attempt}-{index}", "version": page["version"], **answer_form(page)}
                    started = time.perf_counter()
                    status, _, _ = client.request("POST", f"/learn/attempts/{attempt}/pages/{index}/answer", form)
                    with stats["lock"]:
                        stats["answers"].append((time.perf_counter() - started) * 1000)
                        stats["errors"] += int(status != 302)
                client.request("POST", f"/learn/attempts/{attempt}/pages/{index}/next", {})
                index += 1
    except Exception:  # noqa: BLE001 - counted
        with stats["lock"]:
            stats["errors"] += 1


def mastery_under_load(env: dict, logins: list[str], seconds: float, pause: tuple[float, float]) -> dict:
    """p50/p95/max of /review/mastery (and with a period) while ``logins`` trainees answer."""
    import threading

    pages = module_pages()
    port = free_port()
    server = start_gunicorn(env, port, workers=2, threads=8)
    try:
        reviewer = Client(port)
        reviewer.login("bench-reviewer", PASSWORD)
        stats = {"lock": threading.Lock(), "answers": [], "errors": 0, "signed_in": 0}
        window = {"go": threading.Event(), "stop_at": 0.0}
        threads = [threading.Thread(target=_answering, args=(port, login, pages, window, pause, stats), daemon=True)
                   for login in logins]
        for thread in threads:
            thread.start()
        signing_in = time.time()
        while stats["signed_in"] + stats["errors"] < len(logins) and time.time() - signing_in < 300:
            time.sleep(0.2)
        window["stop_at"] = stop_at = time.time() + seconds
        window["go"].set()
        time.sleep(min(3.0, seconds / 4))  # every trainee's first pause: the answers are flowing
        timings = {"/review/mastery": [], "/review/mastery?since=2024-10-01&until=2025-03-31": []}
        while time.time() < stop_at - 1:
            for path, times in timings.items():
                started = time.perf_counter()
                status, _, _ = reviewer.request("GET", path)
                times.append((time.perf_counter() - started) * 1000)
                if status != 200:
                    raise RuntimeError(f"{path}: {status}")
            time.sleep(0.3)
        for thread in threads:
            thread.join(timeout=30)
        answered = len(stats["answers"])
        return {"trainees": len(logins), "signed_in": stats["signed_in"], "pause_s": list(pause),
                "seconds": seconds, "answers": answered,
                "answers_per_s": round(answered / seconds, 1), "answer_errors": stats["errors"],
                "load_1min": round(os.getloadavg()[0], 2),
                "answer_ms": {k: round(v, 1) for k, v in percentiles(stats["answers"]).items()},
                **{path: {"n": len(t), **{k: round(v, 1) for k, v in percentiles(t).items()}}
                   for path, t in timings.items()}}
    finally:
        stop(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainees", type=int, default=10_000)
    parser.add_argument("--answers", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--xlsx", action="store_true", help="also time the XLSX exports (1 municipality and whole prefecture)")
    parser.add_argument("--only-exports", action="store_true", help="time the exports only (no pages, no load)")
    parser.add_argument("--load-trainees", type=int, default=300, help="trainees answering while /review/mastery is timed (0: skip)")
    parser.add_argument("--load-seconds", type=float, default=40)
    parser.add_argument("--load-pause", default="1,4",
                        help="MIN,MAX seconds each loading trainee waits between answers (1,4: every trainee answers "
                             "and presses 次へ every ~2.5 s, which saturates 2 cores; 5,15: answer_submit.py's pace, "
                             "one answer per trainee per ~10 s)")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: a fresh SQLite file)")
    parser.add_argument("--reuse", action="store_true",
                        help="PostgreSQL: keep the data set already built in --database-url (migrated to the head; "
                             "the summaries brought up to date) instead of rebuilding it; built when absent")
    parser.add_argument("--no-exports", action="store_true", help="skip the CSV/XLSX exports")
    args = parser.parse_args()
    instance = Path(tempfile.mkdtemp(prefix="trainer-bench-review-"))
    env = server_env(instance, args.database_url)
    if args.reuse and not args.database_url:
        parser.error("--reuse needs --database-url (a PostgreSQL data set built by an earlier run)")
    reused = args.reuse and _built(args.database_url)
    if args.database_url and not reused:
        from sqlalchemy import create_engine, text

        from trainer.config import normalise_database_url

        with create_engine(normalise_database_url(args.database_url)).begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    subprocess.run([sys.executable, "-m", "trainer.cli", "setup"], env=env, check=True, capture_output=True)
    os.environ.update(env)
    began = time.perf_counter()
    data = existing() if reused else generate(args.trainees, args.answers)
    generated = time.perf_counter() - began
    port = free_port()
    server = start_gunicorn(env, port, workers=1, threads=2)
    try:
        client = Client(port)
        client.login("bench-reviewer", PASSWORD)  # answered by the worker: it has booted
        pid = worker_pid(server.pid)
        big = data["big_unit"]
        report = {
            "database": "postgresql" if args.database_url else "sqlite (WAL)",
            "data": {**data["counts"], ("reused_in_s" if reused else "generated_in_s"): round(generated, 1)},
            "load_average_before": [round(x, 2) for x in os.getloadavg()],
        }
        if not args.only_exports:
            report["pages"] = {
                "home /review/": time_page(client, "/review/", args.runs),
                "drill-down (1,000 trainees, first 100 listed)": time_page(client, f"/review/municipalities/{big}", args.runs),
                "mastery aggregate /review/mastery": time_page(client, "/review/mastery", args.runs),
                # the same figures, but a new cache key every time (an end date far ahead): always computed
                "mastery aggregate, computed each time": time_page(
                    client, [f"/review/mastery?until=2099-01-{d:02d}" for d in range(1, args.runs + 2)], args.runs),
                "home with a period": time_page(client, "/review/?since=2024-10-01&until=2025-03-31", args.runs),
                # period-limited maps (mastery_months): a different period each time
                "mastery with a period": time_page(
                    client, [f"/review/mastery?since=2024-{m:02d}-01&until=2025-{m:02d}-28" for m in range(4, 4 + args.runs + 1)],
                    args.runs),
            }
        report["exports"] = exports = {} if args.no_exports else {
            "records.csv, 1 municipality": time_export(client, f"/review/exports/records.csv?municipality={big}", pid),
            "records.csv, whole prefecture": time_export(client, "/review/exports/records.csv", pid),
        }
        if args.xlsx and not args.no_exports:
            exports["records.xlsx, 1 municipality"] = time_export(client, f"/review/exports/records.xlsx?municipality={big}", pid)
            exports["records.xlsx, whole prefecture"] = time_export(client, "/review/exports/records.xlsx", pid)
        report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        stop(server)
    if args.load_trainees and not args.only_exports:
        report["mastery while trainees answer"] = mastery_under_load(
            env, data["trainees"][:args.load_trainees], args.load_seconds,
            tuple(float(x) for x in args.load_pause.split(",")))
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
