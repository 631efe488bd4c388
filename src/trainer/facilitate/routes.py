"""Facilitators: workshops, join codes, live sessions, dashboards, exports and debriefs."""
from __future__ import annotations

import io
from datetime import datetime

import segno
from flask import (
    Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, stream_with_context, url_for,
)
from flask_login import current_user
from wtforms import SelectChoice

from trainer import policies
from trainer.extensions import db
from trainer.navigation import leaves_a_trace
from trainer.facilitate.forms import InviteForm, WorkshopForm
from trainer.learn.forms import ActionForm
from sqlalchemy import select

from trainer.models import Attempt, LiveSession, Module, Point, Role, Workshop
from trainer.services import audit, cohort, disclosure, fields, live, player, progress, spreadsheets, walkins, wareki, workshops
from trainer.dates import JST, utcnow

bp = Blueprint("facilitate", __name__, url_prefix="/facilitate")


@bp.before_request
def _guard() -> None:
    policies.require_role(Role.FACILITATOR)


def _workshop(workshop_id: int) -> Workshop:
    workshop = db.get_or_404(Workshop, workshop_id)
    if not policies.can_run_workshop(current_user, workshop):
        abort(404)
    return workshop


def _session(session_id: int) -> tuple[LiveSession, Workshop]:
    session = db.get_or_404(LiveSession, session_id)
    return session, _workshop(session.workshop_id)


@bp.get("/")
def home():
    mine = workshops.facilitated_by(current_user)
    return render_template("facilitate/home.html", workshops=mine)


@bp.route("/workshops/new", methods=["GET", "POST"])
def new():
    form = WorkshopForm()
    form.modules.choices = [SelectChoice(m.id, m.title) for m in progress.active_modules()]
    if form.validate_on_submit():
        data = workshops.WorkshopInput(
            title=form.title.data, starts_at=_at(form.day.data, form.start.data), ends_at=_at(form.day.data, form.end.data),
            venue=form.venue.data or "", online=form.online.data, module_ids=form.modules.data,
            co_facilitators=form.co_facilitators.data or "", participants=form.participants.data or "")
        try:
            workshop = workshops.create(current_user, data)
        except workshops.WorkshopError as exc:
            db.session.rollback()
            form.form_errors.append(str(exc))
        else:
            db.session.commit()
            flash(f"研修会「{workshop.title}」を作成しました。参加コードは {workshops.format_code(workshop.join_code)} です。", "success")
            return redirect(url_for("facilitate.workshop", workshop_id=workshop.id))
    return render_template("facilitate/new.html", form=form)


def _at(day, time) -> datetime:
    return datetime.combine(day, time, tzinfo=JST)


@bp.get("/workshops/<int:workshop_id>")
def workshop(workshop_id: int):
    ws = _workshop(workshop_id)
    modules = {m.id: m for m in progress.active_modules()}
    return render_template("facilitate/workshop.html", workshop=ws, modules=modules, sessions=live.sessions_of(ws),
                           people=cohort.participants(ws), facilitators=workshops.facilitator_names(ws),
                           form=ActionForm(), invite_form=InviteForm(), pending=walkins.pending(ws),
                           code_open=walkins.registration_open(ws), code_window=walkins.code_window(ws))


@bp.post("/workshops/<int:workshop_id>/registration")
def registration(workshop_id: int):
    """Close (or reopen) registration with the join code."""
    ws = _workshop(workshop_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    open_ = request.form.get("open") == "1"
    walkins.set_registration(ws, open_, actor=current_user)
    db.session.commit()
    flash("参加コードでの受付を再開しました。" if open_ else "参加コードでの受付を終了しました。", "success")
    return redirect(url_for("facilitate.workshop", workshop_id=ws.id))


@bp.post("/workshops/<int:workshop_id>/walk-ins")
def confirm_walk_ins(workshop_id: int):
    """Confirm walk-ins registered at this workshop: from now on they count in reviewers' figures."""
    ws = _workshop(workshop_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    ids = request.form.getlist("user", type=fields.int_arg)
    count = walkins.confirm(ws, ids, actor=current_user)
    db.session.commit()
    flash(f"当日登録 {count}人を確認しました。" if count else "確認する人を選んでください。", "success" if count else "error")
    return redirect(url_for("facilitate.workshop", workshop_id=ws.id, _anchor="walk-ins"))


@bp.post("/workshops/<int:workshop_id>/participants")
def invite(workshop_id: int):
    ws = _workshop(workshop_id)
    form = InviteForm()
    if form.validate_on_submit():
        try:
            added = workshops.invite(ws, form.participants.data, actor=current_user)
        except workshops.WorkshopError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(f"{added}人を招待しました。", "success")
    return redirect(url_for("facilitate.workshop", workshop_id=ws.id))


@bp.get("/workshops/<int:workshop_id>/join-screen")
def join_screen(workshop_id: int):
    ws = _workshop(workshop_id)
    return render_template("facilitate/join_screen.html", workshop=ws, join_url=url_for("main.join", code=ws.join_code, _external=True))


@bp.get("/workshops/<int:workshop_id>/qr.svg")
def qr(workshop_id: int):
    ws = _workshop(workshop_id)
    out = io.BytesIO()
    segno.make(url_for("main.join", code=ws.join_code, _external=True), error="m").save(
        out, kind="svg", scale=8, border=2, title="参加用QRコード")
    return Response(out.getvalue(), mimetype="image/svg+xml")


@bp.post("/workshops/<int:workshop_id>/live")
def start_live(workshop_id: int):
    ws = _workshop(workshop_id)
    try:
        session = live.start(ws, request.form.get("module_id", ""), current_user)
    except live.LiveError as exc:
        flash(str(exc), "error")
        return redirect(url_for("facilitate.workshop", workshop_id=ws.id))
    db.session.commit()
    return redirect(url_for("facilitate.control", session_id=session.id))


def _live_context(session: LiveSession, ws: Workshop, include_hidden: bool) -> dict:
    module = db.session.get(Module, session.module_id)
    pages = player.pages(module)
    page = pages[session.page]
    version = page.question.current_version if page.question else None
    data = player.presented(version.data, session.seed, page.question.key) if version else None  # the room's order
    stage = next((s for s in module.case.stages if s.key == page.step.stage_key), None) if module.case else None
    return {"session": session, "workshop": ws, "module": module, "pages": pages, "page": page, "version": version,
            "data": data, "titles": live.page_titles(module, pages), "point_titles": _point_titles(version),
            "wall_labels": live.WALL_LABELS, "min_group": disclosure.min_group(),
            "stage": stage, "stats": live.stats(session, include_hidden=include_hidden), "form": ActionForm()}


def _point_titles(version) -> dict[str, str]:
    """Point names for a self-rating (the projector says 「本人の意思の尊重」, not a bare P01)."""
    if version is None or version.type != "self_rating":
        return {}
    ids = version.data.get("points", [])
    return dict(db.session.execute(select(Point.id, Point.title).where(Point.id.in_(ids))).all())


@bp.get("/live/<int:session_id>")
def control(session_id: int):
    session, ws = _session(session_id)
    return render_template("facilitate/control.html", **_live_context(session, ws, include_hidden=True))


@bp.get("/live/<int:session_id>/projector")
def projector(session_id: int):
    session, ws = _session(session_id)
    return render_template("facilitate/projector.html", **_live_context(session, ws, include_hidden=False))


@bp.get("/live/<int:session_id>/stats.json")
def stats_json(session_id: int):
    session, _ = _session(session_id)
    result = live.stats(session)
    return jsonify(version=session.version, page=session.page, open=session.question_open,
                   revealed=session.revealed, ended=session.ended_at is not None, joined=result.joined,
                   answered=result.answered, counts=result.counts, ordering=result.ordering,
                   ratings=result.ratings, wall=[text for _, text, state in result.wall if state == live.WALL_SHOWN])


@bp.get("/live/<int:session_id>/end")
def confirm_end(session_id: int):
    """Ending asks first (a mis-click must not end a room's session); works without JavaScript."""
    session, ws = _session(session_id)
    if session.ended_at is not None:
        return redirect(url_for("facilitate.control", session_id=session.id))
    module = db.session.get(Module, session.module_id)
    return render_template("facilitate/end.html", session=session, workshop=ws, module=module,
                           stats=live.stats(session), form=ActionForm())


@bp.post("/live/<int:session_id>/resume")
def resume(session_id: int):
    session, _ = _session(session_id)
    try:
        live.resume(session)
    except live.LiveError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash("ライブ進行を再開しました。参加者の画面も続きから表示されます。", "success")
    return redirect(url_for("facilitate.control", session_id=session_id))


@bp.post("/live/<int:session_id>/action")
def action(session_id: int):
    session, _ = _session(session_id)
    name = request.form.get("action", "")
    if name == "end" and request.form.get("confirmed") != "1":
        return redirect(url_for("facilitate.confirm_end", session_id=session_id))
    if not ActionForm().validate_on_submit():
        abort(400)
    target = {"next": session.page + 1, "prev": session.page - 1}.get(name, request.form.get("page", type=fields.int_arg))
    try:
        live.change(session, "goto" if name in ("next", "prev", "goto") else name, target)
    except live.LiveError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
    if name == "end":
        return redirect(url_for("facilitate.debrief", session_id=session_id))
    # back to the controls, not to the top of the page (the facilitator's next tap is right there)
    anchor = "wall" if name in ("wall_open", "wall_close") else "controls"
    return redirect(url_for("facilitate.control", session_id=session_id, _anchor=anchor))


@bp.post("/live/<int:session_id>/wall/<int:answer_id>")
def moderate(session_id: int, answer_id: int):
    session, _ = _session(session_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        live.moderate(session, answer_id, request.form.get("state", ""))
    except live.LiveError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
    return redirect(url_for("facilitate.control", session_id=session_id, _anchor="wall"))


def _before_after(module: Module, session: LiveSession) -> list | None:
    """Self-ratings before/after per point in this session; None when fewer than the minimum group
    rated (point-level figures describe people: services/disclosure)."""
    rows = cohort.before_after([module], Attempt.live_session_id == session.id)
    rated = max([max(nb, na) for *_, nb, na in rows], default=0)
    return None if disclosure.too_small(rated) else rows


@bp.get("/live/<int:session_id>/debrief")
def debrief(session_id: int):
    session, ws = _session(session_id)
    module = db.session.get(Module, session.module_id)
    return render_template("facilitate/debrief.html", session=session, workshop=ws, module=module,
                           items=live.debrief(session),
                           before_after=_before_after(module, session),
                           min_group=disclosure.min_group(),
                           wareki=wareki.to_wareki, JST=JST)


@bp.get("/workshops/<int:workshop_id>/dashboard")
def dashboard(workshop_id: int):
    ws = _workshop(workshop_id)
    return render_template("facilitate/dashboard.html", workshop=ws, title=ws.title, report=cohort.report(ws))


@bp.get("/cohort")
def cohort_dashboard():
    """Several of the facilitator's own workshops as one cohort."""
    ids = request.args.getlist("w", type=fields.int_arg)
    chosen = [_workshop(i) for i in dict.fromkeys(ids)]
    if not chosen:
        flash("まとめて見る研修会を1つ以上選んでください。", "error")
        return redirect(url_for("facilitate.home"))
    title = "、".join(w.title for w in chosen)
    return render_template("facilitate/dashboard.html", workshop=None, title=title, report=cohort.workshops_report(chosen))


@bp.get("/workshops/<int:workshop_id>/record.<kind>")
@leaves_a_trace
def export(workshop_id: int, kind: str):
    ws = _workshop(workshop_id)
    encoding = request.args.get("encoding", "utf-8")
    if kind not in ("csv", "xlsx") or encoding not in spreadsheets.ENCODINGS:
        abort(404)
    audit.record("workshop.export", actor=current_user, subject=ws.title,
                 detail={"workshop": ws.id, "format": kind, "encoding": encoding}, ip=request.remote_addr)
    db.session.commit()
    report = cohort.report(ws)
    conditions = cohort.record_conditions(ws, len(report.matrix), utcnow())
    headers = {"Content-Disposition": spreadsheets.content_disposition(conditions, kind)}
    tables = cohort.record_tables(ws, report)
    if kind == "csv":
        body = stream_with_context(spreadsheets.csv_blocks(tables[0], conditions, encoding))
    else:
        body = spreadsheets.file_blocks(spreadsheets.xlsx_file(tables, conditions))
    return Response(body, content_type=spreadsheets.mimetype(kind, encoding), headers=headers)
