"""Roster imports that do not stop trainees (issue 16.1).

A confirmed roster becomes a :class:`RosterJob`. Its rows are written in batches of :data:`BATCH_ROWS`, one short
transaction per batch; each batch's passwords are hashed (scrypt, ~0.1 s each) *before* its transaction begins,
so the database's write lock is held for milliseconds at a time and trainees' answers go in between. Small
rosters run inside the confirming request; larger ones (more than ``ROSTER_BACKGROUND_ROWS``) run in a
background thread while the administrator watches the progress page (/admin/roster/jobs/<id>).

Batches mean a roster is no longer all-or-nothing once confirmed: if a batch fails (a login ID taken since the
preview, the database gone), the job stops, says which row and how many accounts were created, and the file
can be checked again — the rows already created are then reported as already registered.
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from trainer.dates import utcnow
from trainer.extensions import db
from trainer.models import Organization, RosterImport, RosterJob, Role, User
from trainer.services import audit, roster, unique
from trainer.services.accounts import AccountError, create_user, hash_password

logger = logging.getLogger("trainer.roster")

BATCH_ROWS = 25
#: a lock wait (SQLite busy, PostgreSQL lock timeout) makes the batch wait and try again, this many times
BATCH_TRIES = 5

STATUS_LABELS = {"queued": "待機中", "running": "取り込み中", "done": "完了", "failed": "途中で止まりました"}


@dataclass(frozen=True)
class PlannedAccount:
    """One row to create, with plain values only (the background thread has its own database session)."""

    row: int
    login_id: str
    name: str
    furigana: str
    email: str
    org_id: int
    roles: tuple[Role, ...]
    password: str
    generated: bool


def plan(preview: roster.RosterPreview, token: str) -> list[PlannedAccount]:
    return [PlannedAccount(r.row, r.login_id, r.name, r.furigana, r.email, r.organization.id, r.roles,
                           r.password or roster.derived_password(token, r.login_id), not r.password)
            for r in preview.rows]


def open_job(preview: roster.RosterPreview, *, actor: User | None, token: str) -> tuple[RosterImport, RosterJob, bool]:
    """The import and job of this confirmation ``token``, created once (a double click finds the first)."""
    if not preview.ok:
        raise ValueError("a roster with errors cannot be imported")
    record, created = unique.find_or_create(lambda: roster.find_import(token), lambda: RosterImport(
        token_hash=roster.token_hash(token), actor_id=actor.id if actor else None,
        accounts=[[row.login_id, not row.password] for row in preview.rows]))
    if created:
        job = RosterJob(import_id=record.id, actor_id=record.actor_id, status="queued", total=len(preview.rows),
                        done_rows=0)
        db.session.add(job)
        db.session.flush()
        return record, job, True
    return record, job_of(record), False


def job_of(record: RosterImport) -> RosterJob | None:
    return db.session.scalar(select(RosterJob).where(RosterJob.import_id == record.id))


def run(job_id: int, planned: list[PlannedAccount], actor_id: int | None) -> RosterJob:
    """Write the job's accounts batch by batch (each batch committed); the job row records the progress."""
    job = db.session.get(RosterJob, job_id)
    job.status, job.updated_at = "running", utcnow()
    db.session.commit()
    try:
        for start in range(0, len(planned), BATCH_ROWS):
            batch = planned[start:start + BATCH_ROWS]
            hashes = [hash_password(p.password) for p in batch]  # the slow part, outside any transaction
            _write_batch(job_id, batch, hashes, actor_id)
        job = db.session.get(RosterJob, job_id)
        actor = db.session.get(User, actor_id) if actor_id else None
        audit.record("roster.import", actor=actor, detail={"rows": len(planned)})
        job.status, job.finished_at, job.updated_at = "done", utcnow(), utcnow()
        db.session.commit()
    except Exception as exc:  # noqa: BLE001 - the job reports any failure on its page
        db.session.rollback()
        logger.exception("roster job %s failed", job_id)
        job = db.session.get(RosterJob, job_id)
        job.status, job.finished_at, job.updated_at = "failed", utcnow(), utcnow()
        job.error = _failure_message(exc, job.done_rows)[:500]
        db.session.commit()
    return job


def _write_batch(job_id: int, batch: list[PlannedAccount], hashes: list[str], actor_id: int | None) -> None:
    """One short transaction: the batch's accounts and the job's progress. A lock wait is tried again."""
    for attempt in range(1, BATCH_TRIES + 1):
        try:
            actor = db.session.get(User, actor_id) if actor_id else None
            orgs = {o.id: o for o in db.session.scalars(
                select(Organization).where(Organization.id.in_({p.org_id for p in batch})))}
            for account, hashed in zip(batch, hashes):
                try:
                    create_user(login_id=account.login_id, display_name=account.name, furigana=account.furigana,
                                email=account.email, organization=orgs[account.org_id], password=account.password,
                                password_hash=hashed, roles=account.roles, actor=actor, must_change_password=True,
                                generated=account.generated)
                except AccountError as exc:
                    raise RowFailed(account.row, account.login_id, str(exc)) from exc
            job = db.session.get(RosterJob, job_id)
            job.done_rows += len(batch)
            job.updated_at = utcnow()
            db.session.commit()
            return
        except OperationalError:
            db.session.rollback()
            if attempt == BATCH_TRIES:
                raise
            time.sleep(attempt)


class RowFailed(Exception):
    def __init__(self, row: int, login_id: str, message: str) -> None:
        super().__init__(f"{row}行目（{login_id}）: {message}")


def _failure_message(exc: Exception, done: int) -> str:
    reason = str(exc) if isinstance(exc, RowFailed) else "データベースに書き込めませんでした。"
    return (f"{reason} それまでの{done}件のアカウントは作成済みです。残りの行は作成していません。"
            "ファイルをもう一度指定すると、作成済みの行は「既に登録されています」と表示されます。"
            "それらの行を除いて取り込み直してください。")


# --- the background thread -----------------------------------------------------------------------

_threads: dict[int, threading.Thread] = {}


def start(app: Flask, job_id: int, planned: list[PlannedAccount], actor_id: int | None) -> threading.Thread:
    """Run the job in a thread of this process (its own app context and database session)."""

    def work() -> None:
        _lower_priority()
        with app.app_context():
            try:
                run(job_id, planned, actor_id)
            finally:
                db.session.remove()

    thread = threading.Thread(target=work, name=f"roster-job-{job_id}", daemon=True)
    _threads[job_id] = thread
    _apps[job_id] = app
    thread.start()
    return thread


_apps: dict[int, Flask] = {}
INTERRUPTED = ("取り込みの途中でサーバー（アプリのプロセス）が止まりました。それまでに作成したアカウントは残っています。"
               "ファイルをもう一度指定すると、作成済みの行は「既に登録されています」と表示されます。それらの行を除いて取り込み直してください。")


@atexit.register
def mark_interrupted() -> None:
    """When this process exits (a worker restarted or recycled) with jobs still running, say so on their pages
    at once instead of after :data:`STALE_SECONDS`. A job that still finishes sets itself done afterwards."""
    for job_id, thread in list(_threads.items()):
        app = _apps.get(job_id)
        if app is None or not thread.is_alive():
            continue
        try:
            with app.app_context():
                job = db.session.get(RosterJob, job_id)
                if job is not None and job.status in ("queued", "running"):
                    job.status, job.error, job.updated_at = "failed", INTERRUPTED, utcnow()
                    db.session.commit()
                db.session.remove()
        except Exception:  # noqa: BLE001 - the process is exiting: the stale check remains
            logger.exception("could not mark roster job %s as interrupted", job_id)


#: The job thread's nice value: hashing yields the CPU to the requests of the same process and machine.
JOB_NICE = 10


def _lower_priority() -> None:
    """Linux schedules threads one by one: raise this thread's nice value (no privilege needed to lower
    one's own priority). Elsewhere nothing happens."""
    if hasattr(os, "setpriority") and hasattr(threading, "get_native_id"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), JOB_NICE)
        except OSError:
            logger.info("could not lower the roster job's priority")


def wait(job_id: int, timeout: float | None = None) -> bool:
    """Wait for a job started in this process (tests, benchmarks, the CLI); True when it has finished."""
    thread = _threads.get(job_id)
    if thread is None:
        return True
    thread.join(timeout)
    if not thread.is_alive():
        _threads.pop(job_id, None)
        _apps.pop(job_id, None)
        return True
    return False


#: A running job whose row has not moved for this long was most likely stopped with its process.
STALE_SECONDS = 600


def looks_stopped(job: RosterJob) -> bool:
    return job.status in ("queued", "running") and (utcnow() - job.updated_at).total_seconds() > STALE_SECONDS
