"""What one live participant's requests cost in-process: the state poll (200 and 304), the panel
(cached and first render after the version moved) and the answer, in thread CPU time and SQL statements.

    .venv/bin/python benchmarks/profile_live.py [--participants 40] [--rounds 5] [--profile panel]

A fresh SQLite database under a temporary instance, the project's content, a workshop with
``--participants`` trainees signed in through the real login form (CSRF on, as in production) and a
live session of m-values. Each round the facilitator moves to a question and opens it (the version
moves), every participant polls the state as live.js does (?panel=1: the new panel comes with it) and
without the panel, fetches the panel alone, revalidates them (304), answers; then
the facilitator reveals and everyone fetches the panel with their own feedback. Prints the median and
p90 CPU milliseconds per request and the statements each ran; ``--profile NAME`` adds cProfile's top
lines for one kind of request. Run it on another checkout with PYTHONPATH=<checkout>/src to compare.
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
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import answer_form  # noqa: E402

CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')
FORM_CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "kaiten-sushi-93"
MODULE = "m-values"


def build_app(participants: int):
    instance = Path(tempfile.mkdtemp(prefix="trainer-profile-live-"))
    os.environ["TRAINER_INSTANCE_PATH"] = str(instance)
    from flask_migrate import upgrade

    from trainer import create_app
    from trainer.content.loader import content_hash, load_content
    from trainer.content.sync import import_content
    from trainer.dates import utcnow
    from trainer.extensions import db
    from trainer.models import Role
    from trainer.services import accounts, live, orgs, workshops

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'profile.sqlite3'}",
                      "SECRET_KEY": "p" * 48, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    with app.app_context():
        upgrade()
        orgs.seed_jurisdictions()
        content, problems = load_content(ROOT / "content")
        assert not problems, problems
        import_content(content, content_hash(ROOT / "content"))
        org = orgs.by_code("140007")
        fac = accounts.create_user(login_id="profile-fac", display_name="進行", organization=org, password=PASSWORD,
                                   roles=[Role.FACILITATOR])
        logins = [f"live{n:04d}" for n in range(participants)]
        for login in logins:
            accounts.create_user(login_id=login, display_name="計測 太郎", organization=org, password=PASSWORD,
                                 roles=[Role.TRAINEE])
        data = workshops.WorkshopInput(title="計測", starts_at=utcnow() - timedelta(hours=1),
                                       ends_at=utcnow() + timedelta(hours=5), venue="", online=False,
                                       module_ids=[MODULE], participants=" ".join(logins))
        session = live.start(workshops.create(fac, data), MODULE, fac)
        db.session.commit()
        return app, session.id, logins


def question_pages(app) -> list[dict]:
    from trainer.extensions import db
    from trainer.models import Module
    from trainer.services import player

    with app.app_context():
        return [{"index": p.index, "type": p.question.type, "data": p.question.current_version.data}
                for p in player.pages(db.session.get(Module, MODULE))
                if p.question is not None and p.question.type in ("single", "multiple", "ordering")]


def act(app, sid: int, action: str, page: int | None = None) -> None:
    """The facilitator's action, straight through the service (not timed, not counted)."""
    from trainer.extensions import db
    from trainer.models import LiveSession
    from trainer.services import live

    with app.app_context():
        live.change(db.session.get(LiveSession, sid), action, page)
        db.session.commit()


def sign_in(app, login: str):
    client = app.test_client()
    csrf = CSRF_RE.search(client.get("/auth/login").get_data(as_text=True)).group(1)
    assert client.post("/auth/login", data={"login_id": login, "password": PASSWORD, "csrf_token": csrf}).status_code == 302
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", default=None, help="cProfile one kind: state, state 304, panel, panel 304, answer, ...")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumulative"])
    args = parser.parse_args()
    app, sid, logins = build_app(args.participants)
    from sqlalchemy import event

    from trainer.extensions import db

    with app.app_context():
        engine = db.engine
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    phones = []
    for login in logins:
        client = sign_in(app, login)
        body = client.get(f"/live/{sid}").get_data(as_text=True)
        phones.append({"client": client, "csrf": FORM_CSRF_RE.search(body).group(1) if FORM_CSRF_RE.search(body)
                       else CSRF_RE.search(body).group(1), "state": None, "panel": None})
    timings: dict[str, list[float]] = {}
    counts: dict[str, list[int]] = {}
    profiler = cProfile.Profile()

    def timed(name: str, call, expect: int):
        statements.clear()
        if args.profile == name:
            profiler.enable()
        t0 = time.thread_time()
        response = call()
        elapsed = (time.thread_time() - t0) * 1000
        if args.profile == name:
            profiler.disable()
        assert response.status_code == expect, (name, response.status_code, response.get_data(as_text=True)[:300])
        timings.setdefault(name, []).append(elapsed)
        counts.setdefault(name, []).append(len(statements))
        return response

    pages = question_pages(app)
    carried_panels = [0]
    for round_ in range(args.rounds):
        page = pages[round_ % len(pages)]
        act(app, sid, "goto", page["index"])
        act(app, sid, "open")
        for n, phone in enumerate(phones):
            c = phone["client"]
            carried = timed("state?panel=1, new version (first of the version)" if n == 0 else "state?panel=1, new version",
                            lambda: c.get(f"/live/{sid}/state?panel=1"), 200)
            carried_panels[0] += int("panel" in (carried.get_json() or {}))  # an older checkout: never
            timed("state?panel=1 304", lambda: c.get(f"/live/{sid}/state?panel=1",
                                                       headers={"If-None-Match": carried.headers["ETag"]}), 304)
            state = timed("state", lambda: c.get(f"/live/{sid}/state"), 200)
            timed("state 304", lambda: c.get(f"/live/{sid}/state", headers={"If-None-Match": state.headers["ETag"]}), 304)
            panel = timed("panel (first of the version)" if n == 0 else "panel", lambda: c.get(f"/live/{sid}/panel"), 200)
            timed("panel 304", lambda: c.get(f"/live/{sid}/panel", headers={"If-None-Match": panel.headers["ETag"]}), 304)
            html = panel.get_data(as_text=True)
            version = re.search(r'name="version" value="(\d+)"', html).group(1)
            csrf = FORM_CSRF_RE.search(html).group(1)
            form = {"csrf_token": csrf, "token": f"t{round_}-{n}", "version": version, **answer_form(page)}
            timed("answer", lambda: c.post(f"/live/{sid}/answer", data=form, headers={"X-Trainer-Swap": "1"}), 200)
        act(app, sid, "reveal")
        for n, phone in enumerate(phones):
            c = phone["client"]
            timed("panel after reveal (first)" if n == 0 else "panel after reveal", lambda: c.get(f"/live/{sid}/panel"), 200)
    print(f"{args.participants} participants x {args.rounds} rounds, SQLite, thread CPU per request "
          f"(state?panel=1 carried the panel {carried_panels[0]} times):")
    for name, values in timings.items():
        values = sorted(values)
        n = counts[name]
        print(f"  {name:52s} median {values[len(values) // 2]:6.2f} ms  p90 {values[int(len(values) * 0.9)]:6.2f} ms"
              f"  statements {min(n)}-{max(n)}")
    if args.profile:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(args.sort).print_stats(args.top)
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip()))


if __name__ == "__main__":
    main()
