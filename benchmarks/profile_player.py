"""Profile what one trainee's answer costs in-process: the player page, the answer sent as the
browser sends it (one swap POST answered with the feedback page) and the feedback page, with cProfile.

    .venv/bin/python benchmarks/profile_player.py [--rounds 200] [--top 25] [--sort tottime]

A fresh SQLite database under a temporary instance, the project's content, one trainee signed in
through the real login form; each round starts an attempt of m-values (a retake after the first),
opens its first question page, answers it with X-Trainer-Swap: 1 and opens the page again. Prints
the CPU milliseconds per request (thread CPU time, no profiler) and then the profile's top lines — the
lines docs/benchmarks.md quotes. CSRF stays on, as in production.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import answer_form  # noqa: E402
PAGE_RE = re.compile(r"/learn/attempts/(\d+)/pages/(\d+)")
CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')


def build_app(users: int):
    instance = Path(tempfile.mkdtemp(prefix="trainer-profile-"))
    os.environ["TRAINER_INSTANCE_PATH"] = str(instance)
    from flask_migrate import upgrade

    from trainer import create_app
    from trainer.content.loader import content_hash, load_content
    from trainer.content.sync import import_content
    from trainer.extensions import db
    from trainer.models import Role
    from trainer.services import accounts, orgs

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'profile.sqlite3'}",
                      "SECRET_KEY": "p" * 48, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    with app.app_context():
        upgrade()
        orgs.seed_jurisdictions()
        content, problems = load_content(ROOT / "content")
        assert not problems, problems
        import_content(content, content_hash(ROOT / "content"))
        for n in range(users):
            accounts.create_user(login_id=f"profile{n}", display_name="計測 太郎", organization=orgs.by_code("140007"),
                                 password="kaiten-sushi-93", roles=[Role.TRAINEE])
        db.session.commit()
    return app


def first_question(app, attempt_id: int):
    from trainer.extensions import db
    from trainer.models import Attempt
    from trainer.services import content_views

    with app.test_request_context():
        attempt = db.session.get(Attempt, attempt_id)
        pages = content_views.current().pages[attempt.module_id]
        page = next(p for p in pages if p.question is not None)
        version = content_views.current().versions[page.question.current_version_id]
        return page.index, {"type": version.type, "data": version.data, "version": version.id}


def first_question_orm(app, attempt_id: int):
    """The same without services/content_views (a checkout from before it existed)."""
    from trainer.extensions import db
    from trainer.models import Attempt
    from trainer.services import player

    with app.test_request_context():
        attempt = db.session.get(Attempt, attempt_id)
        page = next(p for p in player.pages(attempt.module) if p.question is not None)
        version = page.question.current_version
        return page.index, {"type": version.type, "data": version.data, "version": version.id}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumulative"])
    parser.add_argument("--no-swap", action="store_true",
                        help="answer without X-Trainer-Swap (POST-redirect-GET: times the POST alone; also "
                             "how to measure a checkout from before the swap existed)")
    args = parser.parse_args()
    app = build_app(5 + 2 * args.rounds)

    def one_round(n: int, timings: dict | None, profiler: cProfile.Profile | None = None) -> None:
        """A new trainee (signed in, untimed) answers the module's first question."""
        client = app.test_client()
        csrf = CSRF_RE.search(client.get("/auth/login").get_data(as_text=True)).group(1)
        client.post("/auth/login", data={"login_id": f"profile{n}", "password": "kaiten-sushi-93", "csrf_token": csrf})
        csrf = CSRF_RE.search(client.get("/learn/").get_data(as_text=True)).group(1)
        started = client.post("/learn/modules/m-values/start", data={"csrf_token": csrf})
        attempt_id = int(PAGE_RE.search(started.headers["Location"]).group(1))
        try:
            index, page = first_question(app, attempt_id)
        except ImportError:
            index, page = first_question_orm(app, attempt_id)
        # reach the question page: press 次へ on the text pages before it (not timed)
        for i in range(index):
            client.post(f"/learn/attempts/{attempt_id}/pages/{i}/next", data={"csrf_token": csrf})
        url = f"/learn/attempts/{attempt_id}/pages/{index}"
        for name, call in (
            ("player", lambda: client.get(url)),
            ("answer POST alone" if args.no_swap else "answer (swap POST + feedback page)", lambda: client.post(
                f"{url}/answer", headers={} if args.no_swap else {"X-Trainer-Swap": "1"},
                data={"csrf_token": csrf, "token": f"p{n}", "version": page["version"], **answer_form(page)})),
            ("feedback", lambda: client.get(url)),
        ):
            if profiler is not None:
                profiler.enable()
            t0 = time.thread_time()
            response = call()
            elapsed = (time.thread_time() - t0) * 1000  # CPU of this thread: steadier than wall time on a busy machine
            if profiler is not None:
                profiler.disable()
            assert response.status_code in ((302, 200) if args.no_swap else (200,)), (name, response.status_code)
            if timings is not None:
                timings.setdefault(name, []).append(elapsed)

    for n in range(5):  # warm: content cache, templates, statement caches
        one_round(n, None)
    timings: dict[str, list[float]] = {}
    for n in range(args.rounds):
        one_round(n + 5, timings)
    for name, values in timings.items():
        values.sort()
        print(f"{name:38s} CPU median {values[len(values) // 2]:6.2f} ms   p90 {values[int(len(values) * 0.9)]:6.2f} ms")
    profiler = cProfile.Profile()
    for n in range(args.rounds):
        one_round(n + 5 + args.rounds, None, profiler)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(args.sort)
    stats.print_stats(args.top)
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:20000])
    sys.stdout.flush()


if __name__ == "__main__":
    main()
