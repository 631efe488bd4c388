"""Count the CPU instructions the server spends on one trainee's answer: a load-independent measure.

    .venv/bin/python benchmarks/count_instructions.py [--rounds 40] [--warm 8] [--action swap]
        [--action post] [--action player] [--no-valgrind]

The server's CPU time per answer (benchmarks/answer_submit.py) moves with whatever else the machine
runs; the number of instructions executed does not. This script:

1. prepares a fresh instance as answer_submit.py does (``trainer setup``: migrations and the project's
   content; ``--rounds + --warm`` trainees), then, natively, signs each trainee in through the real login
   form, starts an attempt of m-values and walks it to its first question page (the test client,
   not counted);
2. runs a second Python process under ``valgrind --tool=callgrind`` that builds the app as gunicorn does
   (``trainer:create_app()``, the same environment) and calls the WSGI application directly with each
   trainee's request: the first ``--warm`` calls untimed (templates compiled, content cache built,
   statement caches warm, as in a server that has been running a while), then ``--rounds`` calls
   counted. Counting is switched on only inside ``operator.call`` (``--toggle-collect``), which wraps
   exactly the WSGI call and the reading of the response body, so the figure excludes the set-up, the
   client and gunicorn itself;
3. prints the instructions per request (the callgrind total divided by ``--rounds``).

Actions (``--action``, repeatable; default ``swap``):

- ``swap``   — the answer as the browser sends it: ``POST .../answer`` with ``X-Trainer-Swap: 1``,
  answered with the feedback page (200). This is the "action" of answer_submit.py.
- ``post``   — the same POST without the header: the answer alone, up to its 302.
- ``player`` — ``GET`` of the question page before answering.
- ``refresh`` — the reviewers' mastery summary rebuilt for the answers just stored (the refresher
  thread's work, mastery_refresh.refresh_once, which gunicorn's CPU figure includes), per answer.

Trainees answer the module's first three questions in turn (a self-rating and two single choices),
as answer_submit.py's three slots do.

Every request is checked (status and, for swap, ``id="feedback"``). Random choices are seeded and
``PYTHONHASHSEED`` is fixed, so two runs of the same code agree to well under 1 %.
``--no-valgrind`` runs the same requests natively and prints the thread CPU time per request instead
(quick, but it moves with the machine's load).
"""
from __future__ import annotations

import argparse
import json
import operator
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, answer_form, server_env  # noqa: E402

PASSWORD = "bench-password-1"
MODULE = "m-values"
#: trainees answer the module's first questions in turn (answer_submit.py's three slots: q1 self-rating, q2, q3 single)
QUESTIONS = 3
PAGE_RE = re.compile(r"/learn/attempts/(\d+)/pages/(\d+)")
CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')


# --- step 1: prepare (native) -----------------------------------------------------------------

def prepare(env: dict, trainees: int, out: Path) -> None:
    """Instance, users, signed-in sessions each at a question page; written to ``out`` as JSON.

    Trainee ``i`` waits at question ``i % QUESTIONS + 1`` of the module (its earlier questions answered
    and passed with 次へ), as answer_submit.py's slots answer the first QUESTIONS questions in turn."""
    subprocess.run([sys.executable, "-m", "trainer.cli", "setup"], env=env, check=True, capture_output=True)
    script = f"""
import json, random, re, sys
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from common import answer_form
from trainer import create_app
from trainer.extensions import db
from trainer.models import Module, Role
from trainer.services import accounts, orgs, player
random.seed(15)
app = create_app()
with app.app_context():
    org = orgs.by_code("140007")
    for i in range({trainees}):
        accounts.create_user(login_id=f"count{{i:04d}}", display_name=f"受講者{{i}}", organization=org,
                             password={PASSWORD!r}, roles=[Role.TRAINEE])
    db.session.commit()
    module = db.session.get(Module, {MODULE!r})
    pages = []
    for p in player.pages(module):
        v = p.question.current_version if p.question else None
        pages.append(None if v is None else {{"index": p.index, "version": v.id, "type": v.type, "data": v.data}})
questions = [p for p in pages if p][:{QUESTIONS}]
csrf_re = re.compile(r'name="csrf-token" content="([^"]+)"')
rows = []
for i in range({trainees}):
    target = questions[i % len(questions)]
    client = app.test_client()
    csrf = csrf_re.search(client.get("/auth/login").get_data(as_text=True)).group(1)
    r = client.post("/auth/login", data={{"login_id": f"count{{i:04d}}", "password": {PASSWORD!r}, "csrf_token": csrf}})
    assert r.status_code == 302, r.status_code
    csrf = csrf_re.search(client.get("/learn/").get_data(as_text=True)).group(1)
    started = client.post("/learn/modules/{MODULE}/start", data={{"csrf_token": csrf}})
    attempt_id = int(re.search(r"/learn/attempts/(\\d+)/pages/(\\d+)", started.headers["Location"]).group(1))
    for n in range(target["index"]):
        if pages[n]:
            answered = client.post(f"/learn/attempts/{{attempt_id}}/pages/{{n}}/answer", data={{
                "csrf_token": csrf, "token": f"prep{{i}}-{{n}}", "version": pages[n]["version"], **answer_form(pages[n])}})
            assert answered.status_code == 302, answered.status_code
        assert client.post(f"/learn/attempts/{{attempt_id}}/pages/{{n}}/next", data={{"csrf_token": csrf}}).status_code == 302
    cookie = client.get_cookie("session")
    rows.append({{"cookie": cookie.value, "csrf": csrf, "attempt": attempt_id, "index": target["index"],
                 "form": {{"csrf_token": csrf, "token": f"count{{i}}", "version": target["version"], **answer_form(target)}}}})
print(json.dumps({{"questions": [(q["index"], q["type"]) for q in questions], "rows": rows}}))
"""
    result = subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True, text=True)
    out.write_text(result.stdout)


# --- step 2: the counted process --------------------------------------------------------------

def environ_for(app, row: dict, action: str) -> dict:
    from werkzeug.test import EnvironBuilder

    url = f"/learn/attempts/{row['attempt']}/pages/{row['index']}"
    headers = {"Cookie": f"session={row['cookie']}", "User-Agent": "Werkzeug/3.1.9", "Host": "localhost"}
    if action == "player":
        builder = EnvironBuilder(path=url, method="GET", headers=headers)
    else:
        if action == "swap":
            headers["X-Trainer-Swap"] = "1"
        builder = EnvironBuilder(path=f"{url}/answer", method="POST", headers=headers, data=row["form"])
    try:
        environ = builder.get_environ()
        # the body as bytes: wsgi.input read from memory, as gunicorn hands it over
        environ["wsgi.input"].seek(0)
        return environ
    finally:
        builder.close()


def inner(prepared: Path, actions: list[str], warm: int, rounds: int, timed: bool) -> None:
    from trainer import create_app

    data = json.loads(prepared.read_text())
    rows = data["rows"]
    app = create_app()  # as gunicorn builds it: trainer:create_app() with the environment
    wsgi = app  # the full WSGI callable (middleware included), as gunicorn calls it
    statuses: dict[str, str] = {}

    def run(environ: dict) -> tuple[str, bytes]:
        def start_response(status, headers, exc_info=None):
            statuses["status"] = status
            statuses["headers"] = headers

        body = wsgi(environ, start_response)
        try:
            payload = b"".join(body)
        finally:
            if hasattr(body, "close"):
                body.close()
        return statuses["status"], payload

    expected = {"swap": "200", "post": "302", "player": "200"}
    if actions == ["refresh"]:
        refresh_after_answers(app, rows, run, timed)
        return
    cpu: dict[str, list[float]] = {a: [] for a in actions}
    order = []  # per trainee: the page first (if asked), then the answer
    for row in rows:
        for action in ("player", "swap", "post"):
            if action in actions:
                order.append((action, row))
    answers = [a for a in actions if a != "player"]
    if len(answers) > 1:
        raise SystemExit("--action swap and --action post need separate runs (each trainee answers once)")
    per_action = len(actions)
    for n, (action, row) in enumerate(order):
        environ = environ_for(app, row, action)
        counted = n >= warm * per_action
        if counted and timed:
            t0 = time.thread_time()
            status, payload = run(environ)
            cpu[action].append((time.thread_time() - t0) * 1000)
        elif counted:
            if len(actions) > 1:
                raise SystemExit("under valgrind, count one action per run")
            status, payload = operator.call(run, environ)  # callgrind collects inside operator.call only
        else:
            status, payload = run(environ)
        if not status.startswith(expected[action]) or (action == "swap" and b'id="feedback"' not in payload):
            raise SystemExit(f"{action}: unexpected answer {status}: {payload[:300]!r}")
    if timed:
        for action, values in cpu.items():
            values.sort()
            print(json.dumps({"action": action, "rounds": len(values), "cpu_ms_median": round(values[len(values) // 2], 3)}))


def refresh_after_answers(app, rows: list[dict], run, timed: bool) -> None:
    """The reviewers' summary rebuilt for the answers just stored, as the refresher thread does
    (mastery_refresh.refresh_once) every MASTERY_REFRESH_SECONDS in each gunicorn worker: its cost
    belongs to the answers. The marks of the preparation are consumed first (not counted)."""
    from trainer import mastery_refresh

    mastery_refresh.refresh_once(app)
    for row in rows:
        status, payload = run(environ_for(app, row, "swap"))
        assert status.startswith("200"), status
    if timed:
        t0 = time.thread_time()
        rebuilt = mastery_refresh.refresh_once(app)
        print(json.dumps({"action": "refresh", "answers": len(rows), "trainees_rebuilt": rebuilt,
                          "cpu_ms_per_answer": round((time.thread_time() - t0) * 1000 / len(rows), 3)}))
    else:
        rebuilt = operator.call(mastery_refresh.refresh_once, app)
    assert rebuilt > 0, rebuilt  # the trainees with a scored answer (a self-rating marks nothing)


# --- driver -----------------------------------------------------------------------------------

def callgrind_total(path: Path) -> int:
    for line in path.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40, help="counted requests per action")
    parser.add_argument("--warm", type=int, default=8, help="uncounted requests first (per action)")
    parser.add_argument("--action", action="append", choices=["swap", "post", "player", "refresh"])
    parser.add_argument("--no-valgrind", action="store_true", help="thread CPU time instead of instructions")
    parser.add_argument("--inner", help=argparse.SUPPRESS)
    args = parser.parse_args()
    actions = args.action or ["swap"]
    if args.inner:
        inner(Path(args.inner), actions, args.warm, args.rounds, timed=args.no_valgrind)
        return

    instance = Path(tempfile.mkdtemp(prefix="trainer-count-"))
    env = server_env(instance, None)
    env["PYTHONHASHSEED"] = "0"
    # no refresher thread in the counting process: it would consume the marks, by the clock, before the
    # counted refresh (--action refresh varied with the machine's speed); the refresh is called by hand
    env["TRAINER_MASTERY_REFRESH_SECONDS"] = "0"
    prepared = instance / "prepared.json"
    t0 = time.monotonic()
    prepare(env, args.warm + args.rounds, prepared)
    print(f"prepared {args.warm + args.rounds} trainees in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    me = [sys.executable, str(Path(__file__).resolve()), "--inner", str(prepared),
          "--warm", str(args.warm), "--rounds", str(args.rounds)]
    if args.no_valgrind:
        subprocess.run([*me, *(f"--action={a}" for a in actions), "--no-valgrind"], env=env, check=True)
        return
    results = {}
    for action in actions:
        if action != actions[0]:  # the trainees have answered: a fresh instance for the next action
            instance = Path(tempfile.mkdtemp(prefix="trainer-count-"))
            env = server_env(instance, None)
            env["PYTHONHASHSEED"] = "0"
            env["TRAINER_MASTERY_REFRESH_SECONDS"] = "0"
            prepared = instance / "prepared.json"
            prepare(env, args.warm + args.rounds, prepared)
            me[3] = str(prepared)
        out = instance / f"callgrind.{action}.out"
        t0 = time.monotonic()
        subprocess.run(["valgrind", "--tool=callgrind", "--collect-atstart=no", "--toggle-collect=_operator_call",
                        f"--callgrind-out-file={out}", *me, "--action", action],
                       env=env, check=True, stderr=subprocess.DEVNULL)
        total = callgrind_total(out)
        per = args.rounds if action != "refresh" else args.warm + args.rounds  # refresh: per answer stored
        results[action] = total / per
        print(json.dumps({"action": action, "rounds": per, "instructions_per_request": round(total / per),
                          "millions": round(total / per / 1e6, 2), "seconds": round(time.monotonic() - t0),
                          "callgrind_out": str(out)}))


if __name__ == "__main__":
    main()
