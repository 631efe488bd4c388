"""Trainees: catalogue, the guided player, progress and mastery, courses and certificates, opinions."""
from __future__ import annotations

import io
import uuid

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from sqlalchemy import select

from trainer import policies
from trainer.auth.redirects import safe_next
from trainer.content.schema import RATING_LABELS
from trainer.extensions import db
from trainer.learn.forms import ActionForm, OpinionFields, OpinionForm, raw_response
from trainer.models import Attempt, Case, Course, FrameworkEntry, Item, Module, Point, Role
from trainer.services import (answering, certificates, content_views, fields, grading, live, mastery, next_step, opinions,
                               player, progress, self_rating, workshops)

bp = Blueprint("learn", __name__, url_prefix="/learn")


@bp.before_request
def _guard() -> None:
    policies.require_role(Role.TRAINEE)


def _module(module_id: str) -> content_views.ModuleView:
    """An active module, from the content cache (no query)."""
    module = content_views.current().module(module_id)
    if module is None:
        abort(404)
    return module


def _own_attempt(attempt_id: int) -> Attempt:
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None or attempt.user_id != current_user.id:
        abort(404)
    return attempt


@bp.get("/")
def home():
    content = content_views.current()
    rows = _statuses(content)
    in_progress = sorted((r for r in rows if r.in_progress), key=lambda r: r.last_activity, reverse=True)
    courses = progress.courses(current_user, rows, content.courses)
    return render_template("learn/home.html", in_progress=in_progress, courses=courses,
                           step=next_step.decide(current_user, rows, courses),
                           workshops=workshops.attended_by(current_user),
                           finished=sum(1 for r in rows if r.outcome.finished is not None),
                           passed=sum(1 for r in rows if r.status == "passed"), total=len(rows))


def _statuses(content: content_views.Snapshot) -> list[progress.ModuleStatus]:
    """The trainee's status in every active module, with the content from the cache (one query)."""
    return progress.statuses(current_user, list(content.module_list), content.module_points, marks=content.marks)


@bp.get("/modules")
def catalogue():
    item, pattern, point = (request.args.get(k) or None for k in ("item", "pattern", "point"))
    rows = progress.filter_statuses(progress.statuses(current_user), item=item, pattern=pattern, point=point)
    return render_template(
        "learn/catalogue.html", rows=rows, items=db.session.scalars(select(Item).order_by(Item.number)).all(),
        patterns=_patterns(), cases={c.id: c for c in db.session.scalars(select(Case))},
        selected={"item": item, "pattern": pattern, "point": point},
        points=db.session.scalars(select(Point).where(Point.retired_at.is_(None)).order_by(Point.sort)).all())


def _patterns() -> list[FrameworkEntry]:
    stmt = select(FrameworkEntry).where(FrameworkEntry.kind == "pattern", FrameworkEntry.retired_at.is_(None))
    return list(db.session.scalars(stmt.order_by(FrameworkEntry.sort)))


@bp.get("/modules/<module_id>")
def module(module_id: str):
    content = content_views.current()
    mod = _module(module_id)
    return render_template(
        "learn/module.html", module=mod, attempts=player.attempts_of(current_user, mod.id),
        points=content.points_of(content.module_points.get(mod.id, [])),
        pattern=content.entries.get(mod.case.pattern_id) if mod.case else None,
        form=ActionForm(), opinion_form=OpinionFields(request.path, case_id=mod.case_id or "", module_id=mod.id),
        questions=content.question_count(mod.id))


def _points(ids: list[str]) -> list[Point]:
    if not ids:
        return []
    return list(db.session.scalars(select(Point).where(Point.id.in_(ids)).order_by(Point.sort)))


@bp.post("/modules/<module_id>/start")
def start(module_id: str):
    mod = _module(module_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    attempt = player.start(current_user, mod, retake=request.form.get("retake") == "1")
    db.session.commit()
    return redirect(url_for("learn.page", attempt_id=attempt.id, index=attempt.position))


@bp.get("/attempts/<int:attempt_id>")
def resume(attempt_id: int):
    attempt = _own_attempt(attempt_id)
    return redirect(url_for("learn.page", attempt_id=attempt.id, index=attempt.position))


def _page_context(attempt_id: int, index: int, found: tuple | None = None) -> dict:
    """What the player page shows: the trainee's own attempt and its answers from the database (one
    statement, unless the answer just stored read them: ``found``), everything else from the content cache."""
    found = found or player.attempt_with_answers(attempt_id)
    if found is None or found[0].user_id != current_user.id:
        abort(404)
    attempt, answers = found
    content = content_views.current()
    mod = _module(attempt.module_id)
    pages = list(content.pages.get(mod.id, ()))
    if not pages:
        abort(404)
    limit = player.reachable(attempt, pages, set(answers))
    if index < 0 or index >= len(pages) or index > limit:
        abort(404)
    page = pages[index]
    answer = answers.get(page.question.id) if page.question else None
    version = (content.version_for(page.question, answer.version_id if answer else None)
               if page.question else None)
    stage = next((s for s in mod.case.stages if s.key == page.step.stage_key), None) if mod.case else None
    data = player.presented(version.data, attempt.seed, page.question.key) if version else None
    return {"attempt": attempt, "module": mod, "pages": pages, "page": page, "answer": answer,
            "version": version, "data": data, "stage": stage, "answered": len(answers),
            "total": sum(1 for p in pages if p.question),
            "point_index": content.points_of(version.data["points"]) if version else [],
            "rating_labels": grading_labels(), "form": CSRF_ONLY,
            "self_ratings": (self_rating.changes(pages, answers)
                             if answer and version.type == "self_rating" and version.data.get("phase") == "after" else []),
            "opinion_form": OpinionFields(url_for("learn.page", attempt_id=attempt.id, index=index),
                                          case_id=mod.case_id or "", module_id=mod.id,
                                          question_id=str(page.question.id)) if answer else None}


class _CsrfOnly:
    """All the player page needs of a form: the hidden CSRF field of 「次へ進む」. Building an ActionForm
    for it (WTForms binds the fields, then renders them) cost about 0.3 ms, a tenth of the page."""

    @staticmethod
    def hidden_tag() -> Markup:
        if not current_app.config.get("WTF_CSRF_ENABLED", True):
            return Markup("")
        return Markup('<input id="csrf_token" name="csrf_token" type="hidden" value="{}">').format(generate_csrf())


CSRF_ONLY = _CsrfOnly()


def grading_labels() -> dict[str, str]:
    return RATING_LABELS


@bp.get("/attempts/<int:attempt_id>/pages/<int:index>")
def page(attempt_id: int, index: int):
    ctx = _page_context(attempt_id, index)
    return render_template("learn/player.html", token=uuid.uuid4().hex, error=None, raw={}, error_field=None, **ctx)


# --- one answer, one round trip -------------------------------------------------------------
# static/js/player.js sends its POSTs with ``X-Trainer-Swap: 1``: such a request is answered with
# the page it would have been redirected to (status 200, its address in ``X-Trainer-Url``), which the
# script swaps in and puts into the address bar. Without the header (no JavaScript): POST-redirect-GET.
SWAP_HEADER = "X-Trainer-Swap"
URL_HEADER = "X-Trainer-Url"


def _swap() -> bool:
    return request.headers.get(SWAP_HEADER) == "1"


def _after_post(endpoint: str, *, anchor: str | None = None, found: tuple | None = None, **values):
    """Where a POST leads: a redirect, or for the swapping script the page itself (or a 204 + its URL
    for a page outside the player, which the script then opens). ``found``: the attempt and its
    answers, when the POST has just read them."""
    url = url_for(endpoint, **values)
    if not _swap():
        return redirect(url_for(endpoint, _anchor=anchor, **values) if anchor else url)
    if endpoint != "learn.page":
        return "", 204, {URL_HEADER: url}
    ctx = _page_context(values["attempt_id"], values["index"], found)
    html = render_template("learn/player.html", token=uuid.uuid4().hex, error=None, raw={}, error_field=None, **ctx)
    return html, 200, {URL_HEADER: url}


def _attempt_and_module(attempt_id: int) -> tuple[Attempt, Module]:
    """The trainee's own attempt and its (active) module, in one query; 404 otherwise."""
    row = db.session.execute(select(Attempt, Module).join(Module, Module.id == Attempt.module_id)
                             .where(Attempt.id == attempt_id)).first()
    if row is None or row.Attempt.user_id != current_user.id or row.Module.retired_at is not None:
        abort(404)
    return row.Attempt, row.Module


@bp.post("/attempts/<int:attempt_id>/pages/<int:index>/answer")
def answer(attempt_id: int, index: int):
    """The hot path: a few Core statements and one short transaction (CSRF is checked globally)."""
    try:
        attempt = answering.load_attempt(attempt_id, current_user.id)
        version, total = answering.page_version(attempt, index, request.form.get("version", type=fields.int_arg))
    except answering.NotFound:
        abort(404)
    raw = raw_response(request.form, version.type, version.data)
    token = request.form.get("token") or uuid.uuid4().hex
    try:
        _, found = answering.answer_and_read(attempt, index, version, total, raw, token, read=_swap())
    except grading.ResponseError as exc:
        db.session.rollback()
        ctx = _page_context(attempt_id, index)
        html = render_template("learn/player.html", token=token, error=str(exc), raw=raw,
                               error_field=_error_field(exc, ctx["data"]), **ctx)
        return html, 422, {URL_HEADER: url_for("learn.page", attempt_id=attempt_id, index=index)}
    db.session.commit()
    return _after_post("learn.page", anchor="feedback", found=found, attempt_id=attempt_id, index=index)


def _error_field(exc: grading.ResponseError, data: dict | None) -> str:
    """The id of the answer field the error summary links to (the first option as shown)."""
    field = exc.field or "answer-error"
    if field.startswith("choice-") and data and data.get("choices"):
        return f"choice-{data['choices'][0]['id']}"
    return field


@bp.post("/attempts/<int:attempt_id>/pages/<int:index>/next")
def next_page(attempt_id: int, index: int):
    attempt, mod = _attempt_and_module(attempt_id)
    shape = player.outline(mod)
    if not 0 <= index < len(shape.question_ids) or (attempt.completed_at is None and index > attempt.position):
        abort(404)
    question_id = shape.question_ids[index]
    if question_id is not None and not player.has_answer(attempt, question_id):
        flash("先に、この問題に回答してください。", "error")
        return _after_post("learn.page", attempt_id=attempt.id, index=index)
    last = len(shape.question_ids) - 1
    if index >= last:
        player.finish_if_all_answered(attempt, shape.total)
        db.session.commit()
        return _after_post("learn.done", attempt_id=attempt.id)
    player.move_to(attempt, index + 1, last)
    db.session.commit()
    return _after_post("learn.page", attempt_id=attempt.id, index=index + 1)


@bp.get("/attempts/<int:attempt_id>/done")
def done(attempt_id: int):
    attempt = _own_attempt(attempt_id)
    mod = _module(attempt.module_id)
    if attempt.completed_at is None:
        return redirect(url_for("learn.resume", attempt_id=attempt.id))
    answers = player.answers_by_question(attempt)
    content = content_views.current()
    pages = [p for p in content.pages.get(mod.id, ()) if p.question]
    rows = _statuses(content)
    outcome = next(r.outcome for r in rows if r.module.id == mod.id) if not mod.retired_at else None
    courses = progress.courses(current_user, rows, content.courses)
    return render_template("learn/done.html", attempt=attempt, module=mod, pages=pages, answers=answers,
                           rating_labels=grading_labels(), outcome=outcome,
                           courses=[c for c in courses if mod.id in c.course.module_ids],
                           step=next_step.decide(current_user, rows, courses),
                           self_ratings=self_rating.changes(pages, answers),
                           form=ActionForm())


@bp.get("/progress")
def my_progress():
    content = content_views.current()
    rows = _statuses(content)
    grid = mastery.mastery_grid(mastery.user_point_stats(current_user.id), content.items)
    return render_template("learn/progress.html", rows=rows, grid=grid, counts=mastery.summary(grid),
                           rule=mastery.RULE_TEXT, states=mastery.STATES,
                           seconds=sum(r.seconds for r in rows))


@bp.get("/points/<point_id>")
def point(point_id: str):
    pt = db.get_or_404(Point, point_id)
    stats = mastery.user_point_stats(current_user.id).get(pt.id, (0, None))
    modules = [r for r in progress.statuses(current_user) if pt.id in r.points]
    tags = db.session.scalars(select(FrameworkEntry).where(FrameworkEntry.id.in_(
        [t for group in pt.tags.values() for t in group]))).all()
    return render_template("learn/point.html", point=pt, cell=mastery.PointMastery(pt, *stats), modules=modules,
                           tags=tags, rule=mastery.RULE_TEXT,
                           opinion_form=OpinionFields(request.path, point_id=pt.id))


@bp.post("/opinions")
def opinion():
    form = OpinionForm()
    target = request.form.get("next") or url_for("learn.home")
    if form.validate_on_submit():
        try:
            opinions.add(current_user, form.body.data, case_id=form.case_id.data or None,
                         point_id=form.point_id.data or None, module_id=form.module_id.data or None,
                         client_token=form.client_token.data or None,
                         question_id=int(form.question_id.data) if form.question_id.data else None)
        except opinions.OpinionError as exc:
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash("ご意見を受け付けました。ありがとうございます。", "success")
    else:
        flash("；".join(e for errs in form.errors.values() for e in errs), "error")
    return redirect(safe_next(target) or url_for("learn.home"))


@bp.get("/opinions")
def my_opinions():
    """The trainee's own opinions, with their status and the editors' replies."""
    cases, points, questions = opinions.titles()
    return render_template("learn/opinions.html", rows=opinions.of_user(current_user),
                           status_labels=opinions.STATUS_LABELS,
                           label=lambda o: opinions.target_label(o, cases, points))


@bp.get("/courses/<course_id>")
def course(course_id: str):
    crs = db.get_or_404(Course, course_id)
    rows = progress.statuses(current_user)
    courses = progress.courses(current_user, rows)
    status = next((c for c in courses if c.course.id == crs.id), None)
    if status is None:
        abort(404)
    issued = certificates.of_user(current_user)
    cert = next((c for c in issued if c.course_id == crs.id), None)
    return render_template("learn/course.html", status=status, certificate=cert, form=ActionForm(),
                           step=next_step.decide(current_user, rows, courses, issued))


@bp.post("/courses/<course_id>/certificate")
def issue_certificate(course_id: str):
    crs = db.get_or_404(Course, course_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    back = safe_next(request.form.get("next")) or url_for("learn.course", course_id=crs.id)
    try:
        cert = certificates.issue(current_user, crs)
    except certificates.CertificateError as exc:
        flash(str(exc), "error")
        return redirect(back)
    db.session.commit()
    flash(f"修了証を発行しました。確認番号は {cert.code} です。すぐ下の「修了証（PDF）をダウンロード」から保存できます。", "success")
    return redirect(back)


@bp.get("/certificates/<code>.pdf")
def certificate_pdf(code: str):
    cert = certificates.find(code)
    if cert is None or cert.user_id != current_user.id:
        abort(404)
    data = certificates.render_pdf(cert, certificates.verify_url(cert.code))
    return send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=True,
                     download_name=f"certificate-{cert.code}.pdf")


@bp.get("/workshops")
def workshops_list():
    mine = workshops.attended_by(current_user)
    sessions = {w.id: [s for s in live.sessions_of(w) if s.ended_at is None] for w in mine}
    modules = {m.id: m for m in progress.active_modules()}
    return render_template("learn/workshops.html", workshops=mine, sessions=sessions, modules=modules)
