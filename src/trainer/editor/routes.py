"""教材担当 (content editors): item statistics per point, case and question, version comparison,
opinions with their workflow (意見照会) and the revision sheet an editorial meeting works from.

Editors see aggregates (from MIN_RESPONSES answers on) and the text of opinions, never who wrote
them; status changes and every export are audited.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, stream_with_context, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms import SelectChoice

from trainer import policies
from trainer.auth.redirects import safe_next
from trainer.content.schema import QUESTION_TYPE_LABELS, RATING_LABELS
from trainer.dates import utcnow
from trainer.editor.forms import OpinionUpdateForm, ParsedStatFilters, parse_filters
from trainer.extensions import db
from trainer.models import Case, Module, Opinion, Point, Question, Role
from trainer.navigation import leaves_a_trace
from trainer.services import audit, fields, itemstats, opinions, revision, spreadsheets

bp = Blueprint("editor", __name__, url_prefix="/editor")
OPINIONS_PER_PAGE = 50


@bp.before_request
def _guard() -> None:
    policies.require_role(Role.EDITOR)


def _filters() -> tuple[ParsedStatFilters, dict]:
    releases, prefectures = itemstats.releases(), itemstats.prefectures()
    parsed = parse_filters(request.args, {r.id for r in releases}, {p.id for p in prefectures})
    context = {"filters": parsed.filters, "errors": parsed.errors, "releases": releases,
               "prefectures": prefectures, "modes": itemstats.MODES, "min_responses": itemstats.MIN_RESPONSES,
               "rating_labels": RATING_LABELS, "type_labels": QUESTION_TYPE_LABELS,
               "status_labels": opinions.STATUS_LABELS}
    return parsed, context


def _point(point_id: str) -> Point:
    point = db.session.get(Point, point_id)
    if point is None:
        abort(404)
    return point


def _case(case_id: str) -> Case:
    case = db.session.get(Case, case_id)
    if case is None:
        abort(404)
    return case


@bp.get("/")
def home():
    points = db.session.scalars(select(Point).where(Point.retired_at.is_(None)).order_by(Point.sort)).all()
    cases = db.session.scalars(select(Case).where(Case.retired_at.is_(None)).order_by(Case.id)).all()
    return render_template("editor/home.html", points=points, cases=cases, counts=opinions.status_counts(),
                           status_labels=opinions.STATUS_LABELS, min_responses=itemstats.MIN_RESPONSES)


@bp.get("/<any(points, cases):kind>/<target_id>")
def target(kind: str, target_id: str):
    parsed, ctx = _filters()
    subject = _point(target_id) if kind == "points" else _case(target_id)
    sheet = revision.build(kind, subject, parsed.filters) if parsed.ok else None
    return render_template("editor/target.html", kind=kind, subject=subject, sheet=sheet, **ctx), \
        (200 if parsed.ok else 400)


@bp.get("/<any(points, cases):kind>/<target_id>/sheet")
def sheet(kind: str, target_id: str):
    """The revision sheet: statistics, opinions and the current text on one printable page."""
    parsed, ctx = _filters()
    subject = _point(target_id) if kind == "points" else _case(target_id)
    built = revision.build(kind, subject, parsed.filters, with_text=True) if parsed.ok else None
    return render_template("editor/sheet.html", kind=kind, subject=subject, sheet=built, **ctx), \
        (200 if parsed.ok else 400)


@bp.get("/<any(points, cases):kind>/<target_id>/<any(stats, sheet):what>.<any(csv, xlsx):fmt>")
@leaves_a_trace
def export(kind: str, target_id: str, what: str, fmt: str):
    parsed, _ctx = _filters()
    encoding = request.args.get("encoding", "utf-8")
    if not parsed.ok or encoding not in spreadsheets.ENCODINGS:
        abort(400)
    subject = _point(target_id) if kind == "points" else _case(target_id)
    built = revision.build(kind, subject, parsed.filters, with_text=what == "sheet")
    conditions = revision.conditions(built, parsed.filters, what, utcnow())
    audit.record("editor.export", actor=current_user, subject=built.title, ip=request.remote_addr,
                 detail={"what": what, "format": fmt, "filters": parsed.filters.args()})
    db.session.commit()
    tables = revision.tables(built, what, single=fmt == "csv")
    headers = {"Content-Disposition": spreadsheets.content_disposition(conditions, fmt)}
    if fmt == "csv":
        body = stream_with_context(spreadsheets.csv_blocks(tables[0], conditions, encoding))
    else:
        body = spreadsheets.file_blocks(spreadsheets.xlsx_file(tables, conditions))
    return Response(body, content_type=spreadsheets.mimetype(fmt, encoding), headers=headers)


@bp.get("/questions/<key>")
def question(key: str):
    parsed, ctx = _filters()
    q = db.session.scalar(select(Question).where(Question.key == key))
    if q is None:
        abort(404)
    versions = itemstats.version_comparison(q, parsed.filters) if parsed.ok else []
    found = opinions.for_editor(question_ids=[q.id])
    module = db.session.get(Module, q.module_id)
    return render_template("editor/question.html", question=q, versions=versions, module=module,
                           opinions=found, **ctx), (200 if parsed.ok else 400)


# --- opinions (意見照会) ------------------------------------------------------------------------

def _update_form(opinion: Opinion, releases) -> OpinionUpdateForm:
    form = OpinionUpdateForm(prefix=f"o{opinion.id}", data={
        "status": opinion.status, "reply": opinion.reply or "", "tags": "、".join(opinion.tags or []),
        "release": str(opinion.resolved_release_id or "")})
    form.release.choices = [SelectChoice("", "（未選択）")] + [SelectChoice(str(r.id), revision.release_label(r))
                                                            for r in releases]
    return form


@bp.get("/opinions")
def opinions_list():
    status = request.args.get("status") or None
    if status is not None and status not in opinions.STATUS_LABELS:
        status = None
        flash("対応状況は一覧から選んでください。すべての意見を表示しています。", "error")
    page = max(1, request.args.get("page", 1, type=fields.int_arg))
    rows = opinions.for_editor(status=status, limit=OPINIONS_PER_PAGE + 1, offset=(page - 1) * OPINIONS_PER_PAGE)
    releases = itemstats.releases()
    cases, points, questions = opinions.titles()
    shown = rows[:OPINIONS_PER_PAGE]
    return render_template("editor/opinions.html", rows=shown, more=len(rows) > OPINIONS_PER_PAGE, page=page,
                           status=status, status_labels=opinions.STATUS_LABELS, counts=opinions.status_counts(),
                           forms={o.id: _update_form(o, releases) for o in shown},
                           label=lambda o: opinions.target_label(o, cases, points, questions),
                           releases={r.id: revision.release_label(r) for r in releases})


@bp.post("/opinions/<int:opinion_id>")
def opinion_update(opinion_id: int):
    opinion = db.get_or_404(Opinion, opinion_id)
    form = _update_form(opinion, itemstats.releases())
    back = safe_next(request.form.get("next") or "") or url_for("editor.opinions_list")
    if not form.validate_on_submit():
        flash("；".join(e for errs in form.errors.values() for e in errs) or "入力内容を確かめてください。", "error")
        return redirect(back)
    try:
        tags = opinions.parse_tags(form.tags.data or "")
        release = form.release.data
        if release and not release.isdigit():
            raise opinions.OpinionError("反映した教材の版が見つかりません。一覧から選んでください。")
        changed = opinions.update(opinion, current_user, status=form.status.data, reply=form.reply.data or "",
                                  tags=tags, release_id=int(release) if release else None, ip=request.remote_addr)
    except opinions.OpinionError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(back)
    db.session.commit()
    flash(f"意見 {opinion.id} の対応を保存しました。" if changed else "変更はありませんでした。",
          "success" if changed else "info")
    return redirect(back)
