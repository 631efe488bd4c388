"""Profile the completion-records export in-process (no HTTP): the rows alone, the CSV and the XLSX,
then cProfile of one format — where the seconds of a 100,000-row export go.

    .venv/bin/python benchmarks/export_profile.py [--trainees 2000] [--format xlsx] [--top 30]
        [--sort tottime] [--database-url postgresql://postgres@127.0.0.1:5432/bench] [--instance DIR]

Generates the reviewer benchmark's data set (benchmarks/reviewer.py: 10 modules per trainee, so
``--trainees 10000`` gives the 100,000-row whole-prefecture export) in a fresh SQLite file (or the
given PostgreSQL database, emptied first), or reuses the one in ``--instance DIR`` when it already
holds one (SQLite only). Then, inside one app context, as the route does: the rows consumed without a
writer, the CSV and the XLSX written to nowhere — each with wall time and this thread's CPU time —
and last the profile of ``--format`` (csv, xlsx or rows), top lines by ``--sort``.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import server_env  # noqa: E402


def prepare(args) -> None:
    """The data set: reused (an instance directory that already has one), or generated."""
    instance = Path(args.instance) if args.instance else Path(tempfile.mkdtemp(prefix="trainer-export-profile-"))
    instance.mkdir(parents=True, exist_ok=True)
    env = server_env(instance, args.database_url)
    os.environ.update(env)
    marker = instance / "export-profile.json"
    if marker.exists() and not args.database_url:
        print(f"reusing {instance}: {marker.read_text().strip()}", file=sys.stderr)
        return
    if args.database_url:
        from sqlalchemy import create_engine, text

        from trainer.config import normalise_database_url

        with create_engine(normalise_database_url(args.database_url)).begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    subprocess.run([sys.executable, "-m", "trainer.cli", "setup"], env=env, check=True, capture_output=True)
    from reviewer import generate

    began = time.perf_counter()
    data = generate(args.trainees, args.trainees * 10)  # answers do not matter here: one per attempt
    counts = {**data["counts"], "generated_in_s": round(time.perf_counter() - began, 1)}
    marker.write_text(json.dumps(counts))
    print(f"generated in {instance}: {counts}", file=sys.stderr)


def measure(name: str, run) -> dict:
    wall, cpu = time.perf_counter(), time.thread_time()
    size = run()
    return {"what": name, "wall_s": round(time.perf_counter() - wall, 2), "cpu_s": round(time.thread_time() - cpu, 2),
            "bytes": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainees", type=int, default=2_000)
    parser.add_argument("--format", choices=("csv", "xlsx", "rows"), default="xlsx")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--no-profile", action="store_true", help="only the timings")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--instance", default=None, help="directory for the SQLite data set (kept for reuse)")
    args = parser.parse_args()
    prepare(args)

    from sqlalchemy import select

    from trainer import create_app
    from trainer.dates import utcnow
    from trainer.models import Organization
    from trainer.extensions import db
    from trainer.services import exports, review, spreadsheets

    from reviewer import PREFECTURE

    app = create_app()
    with app.app_context():
        scope = review.load_scope(db.session.scalar(select(Organization.id).where(Organization.code == PREFECTURE)))
        cat = review.catalogue()
        filters = review.Filters()
        conditions = exports.conditions("records", scope, filters, cat, utcnow())

        def rows() -> int:
            return sum(1 for _ in exports.records_table(scope, filters, cat).rows)

        def csv() -> int:
            return sum(map(len, spreadsheets.csv_blocks(exports.records_table(scope, filters, cat), conditions)))

        def xlsx() -> int:
            return sum(map(len, spreadsheets.xlsx_blocks([exports.records_table(scope, filters, cat)], conditions)))

        runs = {"rows": rows, "csv": csv, "xlsx": xlsx}
        rows()  # warm: the first query plans, caches filled as in a running worker
        report = [measure(name, run) for name, run in runs.items()]
        print(json.dumps({"database": db.engine.dialect.name, "rows": report[0]["bytes"], "runs": report}, indent=2))
        if args.no_profile:
            return
        profiler = cProfile.Profile()
        profiler.runcall(runs[args.format])
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.top)
        print(out.getvalue())


if __name__ == "__main__":
    main()
