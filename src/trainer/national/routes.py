"""The national view (国): figures by prefecture and designated city and nationwide — never a
personal record. No route takes a trainee, an attempt or a certificate: the only id in a path is a
jurisdiction's, and anything else is 404. Exports are audited.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request, stream_with_context
from flask_login import current_user

from trainer import policies
from trainer.dates import utcnow
from trainer.extensions import db
from trainer.models import Role
from trainer.navigation import leaves_a_trace
from trainer.services import audit, mastery, national, review, spreadsheets

bp = Blueprint("national", __name__, url_prefix="/national")


@bp.before_request
def _guard() -> None:
    policies.require_role(Role.NATIONAL)


def _course(cat: review.Catalogue) -> tuple[review.CourseInfo | None, list[str]]:
    """The course asked for in ?course= (none: every course), or a Japanese error."""
    wanted = request.args.get("course", "").strip()
    if not wanted:
        return None, []
    course = cat.course(wanted)
    return (course, []) if course is not None else (None, ["コースの指定が正しくありません。一覧から選んでください。"])


def _report(cat: review.Catalogue, course: review.CourseInfo | None) -> national.NationalReport:
    return national.report(cat, [course] if course is not None else None)


@bp.get("/")
def home():
    cat = review.catalogue()
    course, errors = _course(cat)
    rep = None if errors else _report(cat, course)
    return render_template("national/home.html", report=rep, cat=cat, course=course, errors=errors,
                           kinds=national.KINDS), (400 if errors else 200)


@bp.get("/mastery")
def mastery_map():
    cat = review.catalogue()
    return render_template("national/mastery.html", report=_report(cat, None), rule=mastery.RULE_TEXT,
                           kinds=national.KINDS)


@bp.get("/jurisdictions/<int:jurisdiction_id>")
def jurisdiction(jurisdiction_id: int):
    cat = review.catalogue()
    rep = _report(cat, None)
    group = rep.group(jurisdiction_id)
    if group is None:  # a municipality, an office, a trainee's id: not a jurisdiction, not found
        abort(404)
    return render_template("national/jurisdiction.html", report=rep, group=group, rule=mastery.RULE_TEXT)


@bp.get("/exports/<any(summary, mastery):kind>.<any(csv, xlsx):fmt>")
@leaves_a_trace
def export(kind: str, fmt: str):
    cat = review.catalogue()
    course, errors = _course(cat) if kind == "summary" else (None, [])
    encoding = request.args.get("encoding", "utf-8")
    if errors or encoding not in spreadsheets.ENCODINGS:
        abort(400)
    audit.record("national.export", actor=current_user, subject=national.KINDS[kind], ip=request.remote_addr,
                 detail={"kind": kind, "format": fmt, "course": course.id if course else None,
                         "encoding": encoding if fmt == "csv" else None})
    db.session.commit()
    rep = _report(cat, course)
    tables = (national.summary_tables(rep, single=fmt == "csv") if kind == "summary"
              else [national.mastery_table(rep)])
    conditions = national.conditions(kind, rep, course, utcnow())
    headers = {"Content-Disposition": spreadsheets.content_disposition(conditions, fmt)}
    if fmt == "csv":
        body = stream_with_context(spreadsheets.csv_blocks(tables[0], conditions, encoding))
    else:
        body = spreadsheets.file_blocks(spreadsheets.xlsx_file(tables, conditions))
    return Response(body, content_type=spreadsheets.mimetype(fmt, encoding), headers=headers)
