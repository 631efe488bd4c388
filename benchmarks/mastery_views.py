"""Benchmark: the reviewers' mastery map in-process, CPU per view (this process + its PostgreSQL backend).

    .venv/bin/python benchmarks/mastery_views.py --database-url postgresql://postgres@127.0.0.1:5432/bench [--runs 5]

Reads a data set that benchmarks/reviewer.py built (--reuse keeps one), brings the summaries up to date
(timing that refresh), then times services/mastery_report.mastery_report for the whole prefecture: all
time, and periods of 1, 6 and 12 months — with the per-organization spans (services/mastery_spans) and,
for comparison, without them (TRAINER_MASTERY_SPANS=0's path: mastery_months / point_mastery). Wall time
depends on the machine's load; the CPU figures much less: Python's process_time plus the backend's
time on the CPU (/proc/<pid>/schedstat, so the database must run on this machine).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import date, timedelta
from pathlib import Path


def backend_cpu(pid: int) -> float:
    """CPU seconds of a process so far (/proc/<pid>/schedstat: nanoseconds on the CPU, exact)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--jurisdiction", default="440001", help="the prefecture's code (benchmarks/reviewer.py: 大分県)")
    args = parser.parse_args()
    os.environ["TRAINER_DATABASE_URL"] = args.database_url
    os.environ["TRAINER_MASTERY_REFRESH_SECONDS"] = "10"  # the view only reads
    from sqlalchemy import func, select, text

    from trainer import create_app
    from trainer.extensions import db
    from trainer.models import MasteryMonth, MasteryOrg
    from trainer.services import mastery, mastery_report, orgs, review

    app = create_app()
    out: dict = {"load_average": os.getloadavg()}
    with app.app_context():
        began, cpu = time.perf_counter(), time.process_time()
        pid = db.session.scalar(text("SELECT pg_backend_pid()"))
        b0 = backend_cpu(pid)
        rounds = 0
        while True:
            rebuilt = mastery.refresh_summary(limit=5000)
            db.session.commit()
            rounds += 1
            if not rebuilt:
                break
        out["refresh"] = {"rounds": rounds, "wall_s": round(time.perf_counter() - began, 2),
                          "cpu_python_s": round(time.process_time() - cpu, 2), "cpu_pg_s": round(backend_cpu(pid) - b0, 2)}
        out["rows"] = {"mastery_months": db.session.scalar(select(func.count()).select_from(MasteryMonth)),
                       "mastery_orgs": db.session.scalar(select(func.count()).select_from(MasteryOrg))}
        scope = review.load_scope(orgs.by_code(args.jurisdiction).id)
        months = sorted(db.session.scalars(select(MasteryMonth.month).distinct()))
        first = months[0]

        def last_day(m: date) -> date:
            return (m + timedelta(days=32)).replace(day=1) - timedelta(days=1)

        def nth(i: int) -> date:
            return months[min(i, len(months) - 1)]

        cases = {"all time": [review.Filters()] * (args.runs + 1),
                 "1 month": [review.Filters(since=nth(i), until=last_day(nth(i))) for i in range(args.runs + 1)],
                 "6 months": [review.Filters(since=nth(i), until=last_day(nth(i + 5))) for i in range(args.runs + 1)],
                 "12 months": [review.Filters(since=first, until=last_day(nth(11)))] * (args.runs + 1)}
        for spans in (True, False):
            app.config["MASTERY_SPANS"] = spans
            label = "spans" if spans else "months (before)"
            for name, filters_list in cases.items():
                walls, cpus, pgs = [], [], []
                for filters in filters_list:
                    db.session.remove()
                    pid = db.session.scalar(text("SELECT pg_backend_pid()"))
                    b0, c0, w0 = backend_cpu(pid), time.process_time(), time.perf_counter()
                    report = mastery_report.mastery_report(scope, filters)
                    walls.append((time.perf_counter() - w0) * 1000)
                    cpus.append((time.process_time() - c0) * 1000)
                    pgs.append((backend_cpu(pid) - b0) * 1000)
                    db.session.rollback()
                out.setdefault(label, {})[name] = {
                    "practised": report.total.practised,
                    "wall_ms_median": round(statistics.median(walls[1:]), 1), "wall_ms_max": round(max(walls[1:]), 1),
                    "cpu_python_ms": round(statistics.median(cpus[1:]), 1), "cpu_pg_ms": round(statistics.median(pgs[1:]), 1)}
    out["load_average_after"] = os.getloadavg()
    print(json.dumps(out, ensure_ascii=False, indent=2, default=str))


if __name__ == "__main__":
    main()
