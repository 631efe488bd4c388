"""Reviewers (prefectures and designated cities): figures, records and exports of their jurisdiction.

Every page loads the reviewer's scope first; organizations, trainees and certificates outside it are
404, and filters can only narrow the scope. Views of named trainees and every export are audited.
"""
from __future__ import annotations

import io

from flask import (
    Blueprint, Response, abort, current_app, flash, g, redirect, render_template, request, send_file,
    stream_with_context, url_for,
)
from flask_login import current_user

from trainer import policies
from trainer.extensions import db
from trainer.navigation import leaves_a_trace
from trainer.models import Role
from trainer.review.forms import OutOfScope, ParsedFilters, describe, org_choices, parse_filters
from trainer.dates import utcnow
from trainer.services import (
    audit, certificates, exports, fields, figures, mastery, mastery_report, reports, review, spreadsheets,
)

bp = Blueprint("review", __name__, url_prefix="/review")
PER_PAGE = 100


@bp.before_request
def _guard() -> None:
    policies.require_role(Role.REVIEWER)


def _scope() -> review.Scope:
    if "review_scope" not in g:
        g.review_scope = review.load_scope(policies.reviewer_scope_id(current_user))
    return g.review_scope


def _filters(scope: review.Scope, cat: review.Catalogue) -> ParsedFilters:
    try:
        return parse_filters(request.args, scope, cat)
    except OutOfScope:
        abort(404)


def _unit(scope: review.Scope, unit_id: int):
    unit = next((u for u in scope.units if u.id == unit_id), None)
    if unit is None:
        abort(404)
    return unit


def _audit(action: str, subject: str, scope: review.Scope, cat: review.Catalogue, filters: review.Filters,
           **detail) -> None:
    """Who (actor), what (action, subject), which filters, when (now), from where (address); committed."""
    audit.record(action, actor=current_user, subject=subject, ip=request.remote_addr,
                 detail={"scope": scope.jurisdiction.name, "filters": describe(filters, scope, cat), **detail})
    db.session.commit()


def _page_context(scope: review.Scope, cat: review.Catalogue, parsed: ParsedFilters) -> dict:
    return {"scope": scope, "cat": cat, "filters": parsed.filters, "errors": parsed.errors,
            "org_choices": org_choices(scope), "programmes": review.PROGRAMME_CHOICES,
            "sort_keys": figures.sort_keys(cat.courses), "kinds": exports.KINDS}


@bp.get("/")
def home():
    scope, cat = _scope(), review.catalogue()
    parsed = _filters(scope, cat)
    ov = figures.overview(scope, parsed.filters, cat) if parsed.ok else None
    return render_template("review/home.html", ov=ov, **_page_context(scope, cat, parsed)), (200 if parsed.ok else 400)


@bp.get("/municipalities/<int:unit_id>")
@leaves_a_trace
def municipality(unit_id: int):
    scope, cat = _scope(), review.catalogue()
    unit = _unit(scope, unit_id)
    parsed = _filters(scope, cat)
    if not parsed.ok:
        return render_template("review/municipality.html", unit=unit, ov=None, people=[], pages=0, page=1,
                               **_page_context(scope, cat, parsed)), 400
    filters = parsed.filters
    page = max(1, request.args.get("page", 1, type=fields.int_arg))
    total = reports.count_trainees(scope, filters, unit.id)
    people = list(reports.trainee_rows(scope, filters, cat, unit.id, limit=PER_PAGE, offset=(page - 1) * PER_PAGE))
    ov = figures.overview(scope, filters, cat, unit_id=unit.id)
    _audit("review.list.view", unit.name, scope, cat, filters, page=page, shown=len(people))
    return render_template("review/municipality.html", unit=unit, ov=ov, people=people, page=page, total=total,
                           per_page=PER_PAGE, pages=max(1, -(-total // PER_PAGE)), **_page_context(scope, cat, parsed))


@bp.get("/trainees/<int:user_id>")
@leaves_a_trace
def trainee(user_id: int):
    scope, cat = _scope(), review.catalogue()
    user = reports.trainee(scope, user_id)
    if user is None:
        abort(404)
    record = reports.trainee_record(scope, user, cat)
    _audit("review.record.view", f"{user.display_name}（受講者ID {user.id}）", scope, cat, review.Filters())
    unit = scope.orgs[scope.unit_of[user.organization_id]]
    return render_template("review/trainee.html", record=record, unit=unit, scope=scope,
                           org=scope.orgs[user.organization_id], wareki=spreadsheets.wareki)


@bp.get("/mastery")
def mastery_map():
    scope, cat = _scope(), review.catalogue()
    parsed = _filters(scope, cat)
    min_group = current_app.config.get("REVIEW_MIN_GROUP_SIZE", mastery_report.MIN_GROUP_SIZE)
    report = mastery_report.mastery_report(scope, parsed.filters, min_group) if parsed.ok else None
    return render_template("review/mastery.html", report=report, rule=mastery.RULE_TEXT,
                           selection=_selection(scope, parsed.filters), **_page_context(scope, cat, parsed)), \
        (200 if parsed.ok else 400)


def _selection(scope: review.Scope, filters: review.Filters) -> str:
    if filters.organization_id is not None:
        return scope.orgs[filters.organization_id].name
    if filters.municipality_id is not None:
        return scope.orgs[filters.municipality_id].name
    return f"{scope.jurisdiction.name}の管内"


def _tables(kind: str, scope: review.Scope, cat: review.Catalogue, filters: review.Filters,
            fmt: str) -> list[spreadsheets.Table]:
    if kind == "summary":
        return exports.summary_tables(scope, filters, figures.overview(scope, filters, cat), single=fmt == "csv")
    if kind == "modules":
        return [exports.modules_table(scope, filters, cat)]
    if kind == "records":
        return [exports.records_table(scope, filters, cat)]
    if kind == "courses":
        return [exports.courses_table(scope, filters, cat)]
    min_group = current_app.config.get("REVIEW_MIN_GROUP_SIZE", mastery_report.MIN_GROUP_SIZE)
    report = mastery_report.mastery_report(scope, filters, min_group)
    g.counted_period = report.period if (filters.since or filters.until) else None
    return [exports.mastery_table(scope, filters, report)]


@bp.get("/exports/<any(summary, modules, records, courses, mastery):kind>.<any(csv, xlsx):fmt>")
@leaves_a_trace
def export(kind: str, fmt: str):
    scope, cat = _scope(), review.catalogue()
    parsed = _filters(scope, cat)
    encoding = request.args.get("encoding", "utf-8")
    if not parsed.ok or encoding not in spreadsheets.ENCODINGS:
        abort(400)
    _audit("review.export", exports.KINDS[kind], scope, cat, parsed.filters, kind=kind, format=fmt,
           encoding=encoding if fmt == "csv" else None)
    tables = _tables(kind, scope, cat, parsed.filters, fmt)
    counted = g.get("counted_period")
    extra = [f"集計した期間：{counted[0] or '最初'}〜{counted[1] or '現在'}（個人が特定されないよう、月単位で、"
             "前後に十分な人数がいる境目まで広げています）"] if counted else []
    conditions = exports.conditions(kind, scope, parsed.filters, cat, utcnow(), extra)
    headers = {"Content-Disposition": spreadsheets.content_disposition(conditions, fmt)}
    if fmt == "csv":
        body = stream_with_context(spreadsheets.csv_blocks(tables[0], conditions, encoding))
    else:
        body = stream_with_context(spreadsheets.xlsx_blocks(tables, conditions))
    return Response(body, content_type=spreadsheets.mimetype(fmt, encoding), headers=headers)


@bp.get("/municipalities/<int:unit_id>/certificates.zip")
@leaves_a_trace
def certificates_zip(unit_id: int):
    scope, cat = _scope(), review.catalogue()
    unit = _unit(scope, unit_id)
    parsed = _filters(scope, cat)
    if not parsed.ok:
        abort(400)
    if not reports.has_certificates(scope, unit.id, parsed.filters):
        flash("この条件にあてはまる修了証はありません。", "info")
        return redirect(url_for("review.municipality", unit_id=unit.id, **parsed.filters.args()))
    _audit("review.certificates", unit.name, scope, cat, parsed.filters)

    def render(cert) -> bytes:
        return certificates.render_pdf(cert, certificates.verify_url(cert.code))

    body = stream_with_context(exports.certificate_zip(reports.certificates_for(scope, unit.id, parsed.filters), render))
    produced = exports.conditions("records", scope, parsed.filters, cat, utcnow())
    produced.title, produced.name_parts = "修了証", [unit.name, *produced.name_parts[1:]]
    produced.ascii_parts = ["certificates", unit.code or str(unit.id), *produced.ascii_parts[2:]]
    headers = {"Content-Disposition": spreadsheets.content_disposition(produced, "zip")}
    return Response(body, mimetype="application/zip", headers=headers)


@bp.get("/certificates/<code>.pdf")
@leaves_a_trace
def certificate_pdf(code: str):
    scope, cat = _scope(), review.catalogue()
    cert = reports.certificate_in_scope(scope, code)
    if cert is None:
        abort(404)
    _audit("review.certificate", f"{cert.holder_name} {cert.code}", scope, cat, review.Filters())
    data = certificates.render_pdf(cert, certificates.verify_url(cert.code))
    return send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=True,
                     download_name=f"certificate-{cert.code}.pdf")
