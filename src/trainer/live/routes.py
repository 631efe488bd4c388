"""Participants in a live session: a page that follows the facilitator without reloading.

The browser polls ``state`` (one indexed read of the session's version) every 1.5 s and fetches
``panel`` (an HTML fragment) only when the version changed or after answering.
"""
from __future__ import annotations

import uuid

from flask import Blueprint, abort, jsonify, render_template, request
from flask_login import current_user

from trainer import policies
from trainer.content.schema import RATING_LABELS
from trainer.extensions import db
from trainer.learn.forms import raw_response
from trainer.models import Answer, LiveSession, Module, Point, Role, Workshop
from trainer.services import grading, live, player

bp = Blueprint("live", __name__, url_prefix="/live")


@bp.before_request
def _guard() -> None:
    policies.require_role(Role.TRAINEE)


def _session(session_id: int) -> LiveSession:
    session = db.session.get(LiveSession, session_id)
    if session is None:
        abort(404)
    workshop = db.session.get(Workshop, session.workshop_id)
    if not policies.attends_workshop(current_user, workshop):
        abort(404)
    return session


@bp.get("/<int:session_id>")
def view(session_id: int):
    session = _session(session_id)
    attempt = live.participant_attempt(session, current_user)
    db.session.commit()
    return render_template("live/participant.html", session=session, workshop=db.session.get(Workshop, session.workshop_id),
                           panel=_panel(session, attempt))


@bp.get("/<int:session_id>/state")
def state(session_id: int):
    """The cheap poll: {version, ended}, in one indexed query that also checks participation."""
    found = live.version_of(session_id, current_user.id)
    if found is None:
        abort(404)
    return jsonify(version=found[0], ended=found[1])


@bp.get("/<int:session_id>/panel")
def panel(session_id: int):
    session = _session(session_id)
    attempt = live.participant_attempt(session, current_user)
    db.session.commit()
    return _panel(session, attempt)


def _panel(session: LiveSession, attempt, error: str | None = None, raw: dict | None = None) -> str:
    module = db.session.get(Module, session.module_id)
    pages = player.pages(module)
    page = pages[session.page]
    answer = version = None
    if page.question is not None:
        answer = db.session.scalar(db.select(Answer).where(Answer.attempt_id == attempt.id,
                                                           Answer.question_id == page.question.id))
        version = player.version_for(page.question, answer.version_id if answer else None)
    stage = next((s for s in module.case.stages if s.key == page.step.stage_key), None) if module.case else None
    points = list(db.session.scalars(db.select(Point).where(Point.id.in_(version.data["points"])))) if version else []
    return render_template("live/_panel.html", session=session, module=module, pages=pages, page=page, stage=stage,
                           answer=answer, version=version, data=version.data if version else None, error=error,
                           raw=raw or {}, token=uuid.uuid4().hex, rating_labels=RATING_LABELS, point_index=points,
                           wall=live.stats(session).wall if session.revealed and version and version.type == "reflection" else [])


@bp.post("/<int:session_id>/answer")
def answer(session_id: int):
    session = _session(session_id)
    attempt = live.participant_attempt(session, current_user)
    page = player.pages(db.session.get(Module, session.module_id))[session.page]
    if page.question is None:
        return _panel(session, attempt), 409
    version = player.version_data(page.question.id, request.form.get("version", type=int))
    raw = raw_response(request.form, version.type, version.data)
    try:
        live.submit(session, attempt, raw, request.form.get("token") or uuid.uuid4().hex,
                    request.form.get("version", type=int))
    except (grading.ResponseError, live.LiveError) as exc:
        db.session.rollback()
        return _panel(session, attempt, error=str(exc), raw=raw), 422
    db.session.commit()
    return _panel(session, attempt)
