"""Benchmark: trainees' answer latency while an administrator imports a large roster (issue 16.1).

    .venv/bin/python benchmarks/roster_during_answers.py [--rows 1000] [--trainees 30] [--baseline 15]
        [--database-url postgresql://postgres@127.0.0.1:5432/bench]

A gunicorn server (2 workers x gthread, as answer_submit.py) with real scrypt password hashing. ``--trainees``
signed-in trainees walk through the modules, answering every question page (think time 0.5-1.5 s between
requests). After ``--baseline`` seconds of answers alone, an administrator uploads a roster of ``--rows``
rows without passwords (each gets a generated one, hashed with scrypt), checks the preview and confirms it;
the import runs as a background job (batches of 25 rows, each hashed before its short transaction) while
the administrator's progress page refreshes every 3 s. Reports the answer latency before and during the
import, errors, acknowledged against stored answers, and how long the import took.
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
import uuid
from html import unescape
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Client, answer_form, free_port, percentiles, server_env, start_gunicorn, stop  # noqa: E402

PAGE_RE = re.compile(r"/learn/attempts/(\d+)/pages/(\d+)")
PASSWORD = "Jukousha-Sora-5820"
ADMIN_PASSWORD = "Kanrisha-Hikari-7391"
HEADER = "ログインID,氏名,ふりがな,所属コード,事業所名,役割,メールアドレス,初期パスワード"


def prepare(env: dict, trainees: int) -> dict[str, list]:
    """Migrate, load content, create the trainees and an administrator; return each module's pages."""
    subprocess.run([sys.executable, "-m", "trainer.cli", "setup"], env=env, check=True, capture_output=True)
    script = f"""
import json
from sqlalchemy import select
from trainer import create_app
from trainer.extensions import db
from trainer.models import Module, Role
from trainer.services import accounts, orgs, player
app = create_app()
with app.app_context():
    org = orgs.by_code("140007")
    for i in range({trainees}):
        if not accounts.login_exists(f"rbench{{i:04d}}"):
            accounts.create_user(login_id=f"rbench{{i:04d}}", display_name=f"受講者{{i}}", organization=org,
                                 password="{PASSWORD}", roles=[Role.TRAINEE])
    if not accounts.login_exists("rbench-admin"):
        accounts.create_user(login_id="rbench-admin", display_name="管理者", organization=org,
                             password="{ADMIN_PASSWORD}", roles=[Role.ADMIN])
    db.session.commit()
    out = {{}}
    for module in db.session.scalars(select(Module).where(Module.retired_at.is_(None)).order_by(Module.id)):
        pages = []
        for page in player.pages(module):
            q = page.question
            v = q.current_version if q else None
            pages.append(None if q is None else {{"index": page.index, "version": v.id, "type": v.type, "data": v.data}})
        if any(pages):
            out[module.id] = pages
    print(json.dumps(out))
"""
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(result.stderr[-2000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


class Trainee(threading.Thread):
    def __init__(self, n: int, port: int, modules: dict, stop_at: threading.Event, stats: dict):
        super().__init__(daemon=True)
        self.n, self.port, self.modules, self.stop_at, self.stats = n, port, modules, stop_at, stats
        self.client = Client(port)
        self.ready = threading.Event()

    def run(self) -> None:
        self.client.login(f"rbench{self.n:04d}", PASSWORD)
        self.ready.set()
        order = list(self.modules)
        random.Random(self.n).shuffle(order)
        for module_id in order:
            status, headers, _ = self.client.request("POST", f"/learn/modules/{module_id}/start", {})
            attempt = int(PAGE_RE.search(headers["Location"]).group(1))
            for index, page in enumerate(self.modules[module_id]):
                if self.stop_at.is_set():
                    return
                time.sleep(random.uniform(0.5, 1.5))
                if page is not None:
                    self.answer(attempt, index, page)
                self.client.request("POST", f"/learn/attempts/{attempt}/pages/{index}/next", {})

    def answer(self, attempt: int, index: int, page: dict) -> None:
        form = {"token": uuid.uuid4().hex, "version": page["version"], **answer_form(page)}
        began = time.time()
        started = time.perf_counter()
        try:
            status, _, _ = self.client.request("POST", f"/learn/attempts/{attempt}/pages/{index}/answer", form)
        except Exception:  # noqa: BLE001 - counted as an error
            status = 0
        elapsed = (time.perf_counter() - started) * 1000
        with self.stats["lock"]:
            self.stats["answers"].append((began, elapsed, status))


def multipart(fields: dict[str, str], name: str, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                 f"Content-Type: text/csv\r\n\r\n".encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def import_roster(port: int, rows: int) -> dict:
    """The administrator's side: upload, preview, confirm, then watch the progress page until done."""
    admin = Client(port)
    admin.request("GET", "/auth/login")
    status, _, _ = admin.request("POST", "/auth/login", {"login_id": "rbench-admin", "password": ADMIN_PASSWORD})
    assert status == 302, f"admin login {status}"
    admin.request("GET", "/admin/roster")
    csv = "".join(f"{line}\r\n" for line in [HEADER] + [f"rr-{uuid.uuid4().hex[:6]}-{i:05d},名簿 {i}号,,140007,,受講者,,"
                                                       for i in range(rows)]).encode("utf-8-sig")
    body, content_type = multipart({"csrf_token": admin.csrf}, "file", "roster.csv", csv)
    began = time.perf_counter()
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in admin.cookies.items()), "Content-Type": content_type}
    admin.conn.request("POST", "/admin/roster", body=body, headers=headers)
    response = admin.conn.getresponse()
    text = response.read().decode("utf-8")
    assert response.status == 200, f"preview {response.status}: {text[:300]}"
    preview_s = time.perf_counter() - began
    payload = unescape(re.search(r'name="payload"[^>]*value="([^"]+)"', text).group(1))
    token = unescape(re.search(r'name="token"[^>]*value="([^"]+)"', text).group(1))
    admin.csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', text).group(1)
    confirmed_at = time.time()
    status, headers, _ = admin.request("POST", "/admin/roster/confirm", {"payload": payload, "token": token})
    confirm_s = time.time() - confirmed_at
    assert status == 302, f"confirm {status}"
    job_path = headers["Location"].replace(f"http://127.0.0.1:{port}", "")
    polls = 0
    while True:
        time.sleep(3)  # as the page's own refresh does
        polls += 1
        status, _, page = admin.request("GET", job_path)
        if "名簿を取り込んでいます" not in page:
            break
    done_at = time.time()
    created = len(re.findall(r"<code>", page))
    return {"preview_s": round(preview_s, 1), "confirm_request_s": round(confirm_s, 2),
            "import_s": round(done_at - confirmed_at, 1), "passwords_shown": created, "progress_polls": polls,
            "job_ok": "アカウントを作成しました" in page, "window": (confirmed_at, done_at)}


def count(env: dict) -> tuple[int, int]:
    script = """
from sqlalchemy import func, select
from trainer import create_app
from trainer.extensions import db
from trainer.models import Answer, User
app = create_app()
with app.app_context():
    answers = db.session.scalar(select(func.count()).select_from(Answer).join(User, User.id == Answer.user_id)
          .where(User.login_id.like("rbench%")))
    users = db.session.scalar(select(func.count()).select_from(User).where(User.login_id.like("rr-%")))
    print(answers, users)
"""
    out = subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True, text=True).stdout
    answers, users = out.split()
    return int(answers), int(users)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--trainees", type=int, default=30)
    parser.add_argument("--baseline", type=float, default=15.0, help="seconds of answers before the import")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    instance = Path(tempfile.mkdtemp(prefix="trainer-roster-bench-"))
    env = server_env(instance, args.database_url)
    env["TRAINER_PASSWORD_HASH_METHOD"] = "scrypt"  # the production default: what makes a roster slow
    if args.database_url:
        from sqlalchemy import create_engine, text

        from trainer.config import normalise_database_url

        with create_engine(normalise_database_url(args.database_url)).begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    modules = prepare(env, args.trainees)
    port = free_port()
    server = start_gunicorn(env, port, workers=args.workers)
    stats = {"lock": threading.Lock(), "answers": []}
    finished = threading.Event()
    try:
        trainees = [Trainee(n, port, modules, finished, stats) for n in range(args.trainees)]
        for t in trainees:
            t.start()
        for t in trainees:
            t.ready.wait(300)  # every trainee signed in (scrypt) before the clock starts
        time.sleep(args.baseline)
        roster = import_roster(port, args.rows)
        time.sleep(3)
        finished.set()
        for t in trainees:
            t.join(30)
    finally:
        stop(server)
    stored, users = count(env)
    start, end = roster.pop("window")
    during = [(ms, status) for at, ms, status in stats["answers"] if start <= at <= end]
    before = [(ms, status) for at, ms, status in stats["answers"] if at < start]
    acknowledged = sum(1 for _, _, status in stats["answers"] if status == 302)
    report = {
        "database": "postgresql" if args.database_url else "sqlite (WAL)",
        "gunicorn": f"{args.workers} workers x gthread", "trainees": args.trainees, "roster_rows": args.rows,
        "roster": {**roster, "accounts_created": users, "rows_per_s": round(users / max(roster["import_s"], 0.1), 1)},
        "answers_before_import": len(before),
        "latency_before_ms": {k: round(v, 1) for k, v in percentiles([ms for ms, _ in before]).items()},
        "answers_during_import": len(during),
        "latency_during_ms": {k: round(v, 1) for k, v in percentiles([ms for ms, _ in during]).items()},
        "errors": sum(1 for _, _, status in stats["answers"] if status != 302),
        "answers_acknowledged": acknowledged, "answers_stored": stored,
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
