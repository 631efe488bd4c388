"""Roster imports that do not stop trainees (issue 16.1) and a roster page people can use (issue 17.4):
batches of 25 rows, each hashed before its short transaction; large rosters as a background job with a
progress page; the 5-digit code hint; rows marked in the preview; a sample file; initial passwords as a CSV
and printable slips for the administrator who imported them only, for 30 minutes, until closed, audited;
audit details in Japanese."""
from __future__ import annotations

import re
import threading
import time
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from tests.test_player import PAGE_RE, _page, best_answer
from tests.test_roster import GOOD_ROW, HEADER, confirm_data, csv_bytes, events, upload
from trainer.dates import utcnow
from trainer.extensions import db
from trainer.models import AuditEvent, RosterJob, Role, User
from trainer.services import audit, orgs, roster, roster_jobs
from trainer.services.accounts import AccountError


def rows(n: int, prefix: str = "bulk") -> list[str]:
    """``n`` rows without a password (each gets a generated one)."""
    return [f"{prefix}-{i:04d},一括 {i}号,,140007,,受講者,," for i in range(n)]


@pytest.fixture(autouse=True)
def no_job_outlives_its_test():
    """Even when a test fails, its background jobs end before the next test empties the tables."""
    yield
    for job_id in list(roster_jobs._threads):
        roster_jobs.wait(job_id, 60)


@pytest.fixture
def admin_client(app, make_user, monkeypatch):
    """A signed-in administrator; rosters of more than 2 rows run in the background here."""
    monkeypatch.setitem(app.config, "ROSTER_BACKGROUND_ROWS", 2)
    make_user(Role.ADMIN, login_id="admin-jobs")
    client = app.test_client()
    client.post("/auth/login", data={"login_id": "admin-jobs", "password": PASSWORD})
    return client


def confirm(client, data: bytes):
    preview = upload(client, data)
    assert preview.status_code == 200, preview.get_data(as_text=True)[:400]
    return client.post("/admin/roster/confirm", data=confirm_data(preview.get_data(as_text=True)))


def job_id_of(response) -> int:
    assert response.status_code == 302
    return int(re.search(r"/admin/roster/jobs/(\d+)$", response.headers["Location"]).group(1))


def count_users(app, prefix: str) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User).where(User.login_id.startswith(prefix)))


def test_large_roster_runs_in_the_background_in_batches(app, admin_client, monkeypatch):
    progress: list[int] = []
    real = roster_jobs._write_batch

    def recording(job_id, batch, hashes, actor_id):
        real(job_id, batch, hashes, actor_id)
        progress.append(db.session.get(RosterJob, job_id).done_rows)  # committed after each batch

    monkeypatch.setattr(roster_jobs, "_write_batch", recording)
    job_id = job_id_of(confirm(admin_client, csv_bytes(*rows(60))))
    assert roster_jobs.wait(job_id, 60)
    assert progress == [25, 50, 60]
    assert count_users(app, "bulk-") == 60
    page = admin_client.get(f"/admin/roster/jobs/{job_id}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "60件のアカウントを作成しました" in body
    passwords = re.findall(r"<code>([^<]+)</code>", body)
    assert len(passwords) == 60 and len(set(passwords)) == 60
    with app.app_context():
        job = db.session.get(RosterJob, job_id)
        assert (job.status, job.done_rows, job.total) == ("done", 60, 60) and job.finished_at is not None
    [imported] = events(app, "roster.import")
    assert imported.detail == {"rows": 60}
    assert events(app, "roster.passwords.view")
    other = app.test_client()  # a generated password works once, and must be changed
    response = other.post("/auth/login", data={"login_id": "bulk-0007", "password": passwords[7]})
    assert response.headers["Location"].endswith("/auth/password")


def test_progress_page_while_the_job_runs(app, admin_client, monkeypatch):
    release = threading.Event()
    real = roster_jobs.hash_password

    def slow_hash(password):
        release.wait(20)
        return real(password)

    monkeypatch.setattr(roster_jobs, "hash_password", slow_hash)
    job_id = job_id_of(confirm(admin_client, csv_bytes(*rows(5, "prog"))))
    try:
        page = admin_client.get(f"/admin/roster/jobs/{job_id}")
        body = page.get_data(as_text=True)
        assert page.status_code == 200
        assert "名簿を取り込んでいます" in body and "5件のうち 0件" in body
        assert '<meta http-equiv="refresh" content="3">' in body
        assert '<progress max="5" value="0"' in body and 'role="status"' in body
        assert "<code>" not in body
        still = admin_client.get(f"/admin/roster/jobs/{job_id}?auto=0").get_data(as_text=True)  # WCAG 2.2.1
        assert "http-equiv" not in still and "自動の更新は止めています" in still and "5件のうち 0件" in still
    finally:
        release.set()
    assert roster_jobs.wait(job_id, 30)
    assert "5件のアカウントを作成しました" in admin_client.get(f"/admin/roster/jobs/{job_id}").get_data(as_text=True)


def test_trainees_answer_while_passwords_are_hashed(app, admin_client, make_user, small_content, monkeypatch):
    """The job holds no write lock while it hashes: a trainee's answer is stored at once meanwhile."""
    hashing, release = threading.Event(), threading.Event()
    real = roster_jobs.hash_password

    def slow_hash(password):
        hashing.set()
        release.wait(20)
        return real(password)

    monkeypatch.setattr(roster_jobs, "hash_password", slow_hash)
    make_user(Role.TRAINEE, login_id="answering")
    trainee = app.test_client()
    trainee.post("/auth/login", data={"login_id": "answering", "password": PASSWORD})
    attempt_id = int(PAGE_RE.search(trainee.post("/learn/modules/m-case-01/start").headers["Location"]).group(1))
    total = _page(app, attempt_id, 0)[0]
    index = next(i for i in range(total) if _page(app, attempt_id, i)[1])
    _, _, qtype, data = _page(app, attempt_id, index)
    job_id = job_id_of(confirm(admin_client, csv_bytes(*rows(30, "during"))))
    try:
        assert hashing.wait(10)
        started = time.monotonic()
        response = trainee.post(f"/learn/attempts/{attempt_id}/pages/{index}/answer",
                                data={"token": "during-1", **best_answer(qtype, data)})
        assert response.status_code == 302 and time.monotonic() - started < 2
    finally:
        release.set()
    assert roster_jobs.wait(job_id, 60)
    assert count_users(app, "during-") == 30


def test_a_job_cut_off_by_its_process_says_so_at_once(app, admin_client, monkeypatch):
    """A worker that exits (restart, recycling) marks its running jobs as stopped on the way out."""
    hashing, release = threading.Event(), threading.Event()
    real = roster_jobs.hash_password
    monkeypatch.setattr(roster_jobs, "hash_password", lambda p: (hashing.set(), release.wait(20), real(p))[2])
    job_id = job_id_of(confirm(admin_client, csv_bytes(*rows(30, "cut"))))
    try:
        assert hashing.wait(20)  # the job runs (its row says so) and is busy hashing
        roster_jobs.mark_interrupted()  # what the atexit hook does when the process ends now
        body = admin_client.get(f"/admin/roster/jobs/{job_id}").get_data(as_text=True)
        assert "途中で止まりました" in body and "サーバー（アプリのプロセス）が止まりました" in body
        assert "30件のうち 0件" in body and "http-equiv" not in body
    finally:
        release.set()
    assert roster_jobs.wait(job_id, 60)  # here the process lived on: the job finished and says so
    with app.app_context():
        assert db.session.get(RosterJob, job_id).status == "done"


def test_a_failing_batch_stops_the_job_and_says_what_was_created(app, admin_client, monkeypatch):
    real = roster_jobs.create_user

    def failing(**kwargs):
        if kwargs["login_id"] == "fail-0027":
            raise AccountError("ログインID「fail-0027」は既に使われています。")
        return real(**kwargs)

    monkeypatch.setattr(roster_jobs, "create_user", failing)
    job_id = job_id_of(confirm(admin_client, csv_bytes(*rows(40, "fail"))))
    assert roster_jobs.wait(job_id, 60)
    assert count_users(app, "fail-") == 25  # the first batch; nothing of the failed one
    body = admin_client.get(f"/admin/roster/jobs/{job_id}").get_data(as_text=True)
    assert "途中で止まりました" in body and "40件のうち 25件" in body
    assert "29行目（fail-0027）" in body and "既に使われています" in body
    assert events(app, "roster.import") == []


def test_passwords_csv_and_slips_for_the_importing_admin_only_and_audited(app, admin_client, make_user):
    job_id = job_id_of(confirm(admin_client, csv_bytes(*rows(3, "slip"), GOOD_ROW)))
    assert roster_jobs.wait(job_id, 60)
    shown = re.findall(r"<code>([^<]+)</code>", admin_client.get(f"/admin/roster/jobs/{job_id}").get_data(as_text=True))
    assert len(shown) == 3  # the file's own password is not shown
    csv = admin_client.get(f"/admin/roster/jobs/{job_id}/passwords.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv" and csv.headers["Cache-Control"] == "no-store"
    text = csv.data.decode("utf-8")
    assert text.startswith("\ufeffログインID,氏名,初期パスワード\r\n")
    assert all(f"slip-{i:04d}," in text for i in range(3)) and all(p in text for p in shown)
    assert "trainee-01" not in text and "Good-pass-2024" not in text
    slips = admin_client.get(f"/admin/roster/jobs/{job_id}/slips")
    body = slips.get_data(as_text=True)
    assert slips.status_code == 200 and body.count('class="slip"') == 3 and all(p in body for p in shown)
    assert "/auth/login" in body and "初めてログインすると" in body and "data-print" in body
    assert [len(events(app, a)) for a in ("roster.passwords.export", "roster.passwords.print")] == [1, 1]
    assert events(app, "roster.passwords.export")[0].detail == {"accounts": 3}

    make_user(Role.ADMIN, login_id="admin-other")
    other = app.test_client()
    other.post("/auth/login", data={"login_id": "admin-other", "password": PASSWORD})
    page = other.get(f"/admin/roster/jobs/{job_id}")
    assert page.status_code == 200 and "<code>" not in page.get_data(as_text=True)
    assert other.get(f"/admin/roster/jobs/{job_id}/passwords.csv").status_code == 404
    assert other.get(f"/admin/roster/jobs/{job_id}/slips").status_code == 404
    assert other.post(f"/admin/roster/jobs/{job_id}/close").status_code == 403


def test_passwords_are_gone_after_30_minutes(app, admin_client):
    job_id = job_id_of(confirm(admin_client, csv_bytes(*rows(3, "late"))))
    assert roster_jobs.wait(job_id, 60)
    with time_machine.travel(utcnow() + timedelta(minutes=31)):
        assert admin_client.get(f"/admin/roster/jobs/{job_id}/passwords.csv").status_code == 404
        assert "<code>" not in admin_client.get(f"/admin/roster/jobs/{job_id}").get_data(as_text=True)


def test_closing_the_page_shows_the_passwords_never_again(app, admin_client):
    job_id = job_id_of(confirm(admin_client, csv_bytes(*rows(3, "close"))))
    assert roster_jobs.wait(job_id, 60)
    page = admin_client.get(f"/admin/roster/jobs/{job_id}").get_data(as_text=True)
    assert "表示を終える" in page
    assert admin_client.post(f"/admin/roster/jobs/{job_id}/close").status_code == 302
    assert admin_client.get(f"/admin/roster/jobs/{job_id}/passwords.csv").status_code == 404
    assert "<code>" not in admin_client.get(f"/admin/roster/jobs/{job_id}").get_data(as_text=True)
    assert len(events(app, "roster.passwords.close")) == 1


def test_five_digit_code_gets_a_hint_with_the_check_digit(app_ctx, make_org):
    make_org("藤沢市", code="142051")
    assert orgs.with_check_digit("14205") == "142051" and orgs.check_digit_ok(orgs.with_check_digit("13101"))
    preview = roster.parse_roster(csv_bytes("five-1,五桁 太郎,,14205,,,,", "five-2,五桁 花子,,99999,,,,"))
    [(row1, col1, hint), (row2, _, unknown)] = [(e.row, e.column, e.message) for e in preview.errors]
    assert (row1, col1) == (2, "所属コード")
    assert "5桁" in hint and "「142051 " in hint and "藤沢市」のことですか" in hint
    assert row2 == 3 and "5桁" in unknown and orgs.with_check_digit("99999") in unknown


def test_preview_marks_each_row_in_words(app, admin_client):
    response = upload(admin_client, csv_bytes(GOOD_ROW, "bad-3,,,140007,,,,", "bad-4,悪い 行,,14000,,,,"))
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert body.count("✔ OK</span>") == 1 and body.count("✖ 取り込めません</strong>") == 2
    assert "取り込めない行：2行" in body
    bad_row = body[body.index('<tr class="roster-row--error"><td>3</td>'):body.index('<tr class="roster-row--error"><td>4</td>')]
    assert "✖ 取り込めません" in bad_row and "氏名：空欄です。" in bad_row


def test_sample_file_is_a_valid_roster(app, admin_client, make_org):
    make_org("藤沢市", code="142051")
    response = admin_client.get("/admin/roster/sample.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf" + HEADER.encode("utf-8"))
    with app.app_context():
        preview = roster.parse_roster(response.data)
        assert preview.ok, preview.errors
    page = admin_client.get("/admin/roster").get_data(as_text=True)
    assert "/admin/roster/sample.csv" in page and "CP932" in page and "BOM" in page


def test_audit_details_read_in_japanese(app, admin_client):
    assert admin_client.post("/admin/roster/confirm", data=confirm_data(upload(
        admin_client, csv_bytes("jp-1,監査 一郎,,140007,,受講者、ファシリテーター,,")).get_data(as_text=True))).status_code == 200
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.create", AuditEvent.subject == "jp-1"))
        assert audit.describe(event.detail) == "役割：ファシリテーター、受講者"
    body = admin_client.get("/admin/audit").get_data(as_text=True)
    assert "役割：ファシリテーター、受講者" in body and "行数：1" in body
    assert "roles=" not in body and "['" not in body


@pytest.mark.skipif(not hasattr(__import__("os"), "setpriority"), reason="thread priorities are a Linux feature")
def test_the_job_thread_yields_the_cpu_to_requests():
    import os

    seen = {}

    def probe():
        roster_jobs._lower_priority()
        seen["nice"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    assert seen["nice"] == max(roster_jobs.JOB_NICE, os.getpriority(os.PRIO_PROCESS, 0))
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < seen["nice"], "only the job's thread"
