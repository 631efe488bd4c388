"""Administrators: roster import (preview, confirm, the background job's progress page, the initial passwords
as a page, a CSV and printable slips, the sample file). Routes of the admin blueprint (admin/routes.py guards it)."""
from __future__ import annotations

import base64
import binascii
import secrets
from datetime import timedelta

from flask import Response, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from trainer.admin.forms import RosterCloseForm, RosterConfirmForm, RosterUploadForm
from trainer.admin.routes import bp
from trainer.dates import jst, utcnow
from trainer.extensions import db
from trainer.models import RosterImport, RosterJob
from trainer.navigation import leaves_a_trace
from trainer.services import audit, roster, roster_jobs
from trainer.services.csvio import write_csv

# --- roster import -------------------------------------------------------------------------

@bp.route("/roster", methods=["GET", "POST"])
def roster_upload():
    form = RosterUploadForm()
    if form.validate_on_submit():
        data = form.file.data.read()
        preview = roster.parse_roster(data)
        confirm = RosterConfirmForm(payload=base64.b64encode(data).decode("ascii"),
                                    token=secrets.token_urlsafe(24)) if preview.ok else None
        return render_template("admin/roster.html", form=form, preview=preview, confirm=confirm), (200 if preview.ok else 422)
    return render_template("admin/roster.html", form=form, preview=None, confirm=None)


@bp.post("/roster/confirm")
def roster_confirm():
    form = RosterConfirmForm()
    token = form.token.data or ""
    if not form.validate_on_submit() or not form.payload.data or not 20 <= len(token) <= 64:
        abort(400)
    if (done := roster.find_import(token)) is not None:  # confirmed twice (a double click, a resend)
        return _roster_done(done, token)
    try:
        data = base64.b64decode(form.payload.data or "", validate=True)
    except (binascii.Error, ValueError):
        abort(400)
    preview = roster.parse_roster(data)  # validated again: the database may have changed
    if not preview.ok and (done := roster.find_import(token)) is not None:
        return _roster_done(done, token)  # a concurrent confirmation (double click) imported it meanwhile
    if not preview.ok:
        return render_template("admin/roster.html", form=RosterUploadForm(), preview=preview, confirm=None), 422
    if len(preview.rows) <= current_app.config["ROSTER_BACKGROUND_ROWS"]:
        record, _ = roster.apply_roster(preview, actor=current_user, token=token)  # batches, here and now
        db.session.commit()
        return _roster_done(record, token)
    record, job, created = roster_jobs.open_job(preview, actor=current_user, token=token)
    db.session.commit()
    _remember_token(job.id, token)
    if created:  # a large roster: batches in the background while the progress page refreshes
        roster_jobs.start(current_app._get_current_object(), job.id, roster_jobs.plan(preview, token), current_user.id)
    return redirect(url_for("admin.roster_job", job_id=job.id))


#: How long the page of an import can be shown again (with its generated initial passwords).
ROSTER_RESULT_WINDOW = timedelta(minutes=30)
_TOKENS = "roster_tokens"


def _remember_token(job_id: int, token: str) -> None:
    """The confirmation token derives the generated passwords: kept only in this administrator's signed
    session cookie (never in the database), for this job, until the page is closed."""
    tokens = {k: v for k, v in (session.get(_TOKENS) or {}).items() if k != str(job_id)}
    tokens = dict(list(tokens.items())[-4:])  # a few recent imports at most
    tokens[str(job_id)] = token
    session[_TOKENS] = tokens


def _passwords_open(record, job) -> bool:
    return (record.actor_id == current_user.id and record.created_at >= utcnow() - ROSTER_RESULT_WINDOW
            and (job is None or job.passwords_closed_at is None))


def _roster_done(record, token: str):
    """The result page of an import; only its own administrator sees it again, for a short while."""
    job = roster_jobs.job_of(record)
    if not _passwords_open(record, job):
        flash(f"この名簿は {jst(record.created_at)} に取り込み済みです。", "info")
        return redirect(url_for("admin.users"))
    if job is not None:
        _remember_token(job.id, token)
    created = roster.results(record, token)
    if any(generated for _, generated in created):
        audit.record("roster.passwords.view", actor=current_user, subject=f"名簿取り込み {record.id}",
                     detail={"accounts": sum(1 for _, g in created if g)}, ip=request.remote_addr)
        db.session.commit()
    return render_template("admin/roster_done.html", created=created, job=job, record=record,
                           status_labels=roster_jobs.STATUS_LABELS, stopped=False, close=RosterCloseForm())


def _job_and_token(job_id: int):
    job = db.get_or_404(RosterJob, job_id)
    record = db.get_or_404(RosterImport, job.import_id)
    token = (session.get(_TOKENS) or {}).get(str(job.id))
    return job, record, token


@bp.get("/roster/jobs/<int:job_id>")
@leaves_a_trace
def roster_job(job_id: int):
    """Progress of an import (any administrator); when done, the created accounts and (for the administrator
    who confirmed it, from their own browser, for 30 minutes, until closed) the initial passwords."""
    job, record, token = _job_and_token(job_id)
    if job.status == "done" and token and _passwords_open(record, job):
        return _roster_done(record, token)
    return render_template("admin/roster_done.html", created=None, job=job, record=record,
                           status_labels=roster_jobs.STATUS_LABELS, stopped=roster_jobs.looks_stopped(job),
                           close=None)


def _passwords_or_404(job_id: int):
    job, record, token = _job_and_token(job_id)
    if job.status != "done" or not token or not _passwords_open(record, job):
        abort(404)
    return job, record, [(a, g) for a, g in roster.results(record, token) if g]


@bp.get("/roster/jobs/<int:job_id>/passwords.csv")
@leaves_a_trace
def roster_passwords_csv(job_id: int):
    job, record, created = _passwords_or_404(job_id)
    audit.record("roster.passwords.export", actor=current_user, subject=f"名簿取り込み {record.id}",
                 detail={"accounts": len(created)}, ip=request.remote_addr)
    db.session.commit()
    rows = [("ログインID", "氏名", "初期パスワード")] + [(a.login_id, a.name, g) for a, g in created]
    return Response("".join(write_csv(rows)).encode("utf-8"), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename=initial-passwords-{job.id}.csv",
                             "Cache-Control": "no-store"})


@bp.get("/roster/jobs/<int:job_id>/slips")
@leaves_a_trace
def roster_slips(job_id: int):
    job, record, created = _passwords_or_404(job_id)
    audit.record("roster.passwords.print", actor=current_user, subject=f"名簿取り込み {record.id}",
                 detail={"accounts": len(created)}, ip=request.remote_addr)
    db.session.commit()
    return render_template("admin/roster_slips.html", job=job, created=created,
                           login_url=url_for("auth.login", _external=True),
                           days=current_app.config["INITIAL_PASSWORD_DAYS"])


@bp.post("/roster/jobs/<int:job_id>/close")
def roster_close(job_id: int):
    """The administrator has handed the passwords over: they are not shown again."""
    if not RosterCloseForm().validate_on_submit():
        abort(400)
    job, record, _ = _job_and_token(job_id)
    if record.actor_id != current_user.id:
        abort(403)
    if job.passwords_closed_at is None:
        job.passwords_closed_at = utcnow()
        audit.record("roster.passwords.close", actor=current_user, subject=f"名簿取り込み {record.id}")
        db.session.commit()
    session[_TOKENS] = {k: v for k, v in (session.get(_TOKENS) or {}).items() if k != str(job.id)}
    flash("初期パスワードの表示を終えました。この取り込みの初期パスワードは、もう表示されません。", "success")
    return redirect(url_for("admin.users"))


@bp.get("/roster/sample.csv")
def roster_sample():
    """A sample roster to fill in (UTF-8 with BOM: Excel in Japan opens it as it is)."""
    return Response("".join(write_csv(roster.SAMPLE_ROWS)).encode("utf-8"), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename=roster-sample.csv"})
