"""Participants in a live session: a page that follows the facilitator without reloading.

The browser polls ``state`` (one indexed read that also checks participation) every 1.5 s and fetches
``panel`` (an HTML fragment, mostly cached per session version) only when the version changed. Both
carry an ETag (the session version; for the panel also the participant's own answer) and answer a
matching If-None-Match with 304 and no body (docs/live.md).
"""
from __future__ import annotations

import uuid

from flask import Blueprint, Response, abort, jsonify, render_template, request, url_for
from flask import session as cookie_session
from flask_login import current_user

from trainer import policies
from trainer.extensions import db
from trainer.navigation import leaves_a_trace
from trainer.learn.forms import raw_response
from trainer.live import panel as panels
from trainer.models import LiveSession, Role, Workshop
from trainer.auth.signin import current_token
from trainer.services import fields, grading, live, player

bp = Blueprint("live", __name__, url_prefix="/live")


@bp.before_request
def _guard() -> None:
    if request.endpoint == "live.state":
        return  # checked in the view itself, without loading the user (it is polled every 1.5 s)
    policies.require_role(Role.TRAINEE)


def _session_user_id() -> int | None:
    """The user id from the signed session cookie (checked against the sign-in record by the query)."""
    user_id = str(cookie_session.get("_user_id", ""))
    return int(user_id) if user_id.isdigit() and int(user_id) <= fields.INT_MAX else None


def _session(session_id: int) -> LiveSession:
    session = live.session_for_participant(session_id, current_user.id)
    if session is None:
        abort(404)
    return session


@bp.get("/<int:session_id>")
@leaves_a_trace
def view(session_id: int):
    session = _session(session_id)
    attempt_id = live.participant_attempt(session, current_user).id
    db.session.commit()
    return render_template("live/participant.html", session=session, workshop=db.session.get(Workshop, session.workshop_id),
                           panel=panels.render(session, attempt_id, token=uuid.uuid4().hex))


@bp.get("/<int:session_id>/state")
def state(session_id: int):
    """The cheap poll: {version, ended}. One query, which is also the access check: only a
    participant of the session's workshop gets an answer (a version number, nothing else)."""
    user_id, token = _session_user_id(), current_token()
    found = live.version_of(session_id, user_id, token) if user_id is not None and token else None
    if found is None:
        abort(404)
    if not found[1]:  # running: the answer is the version alone, so the version is its ETag
        tag = f"v{session_id}-{found[0]}"
        if request.if_none_match.contains_weak(tag):
            return _revalidated(Response(status=304), tag)
        return _revalidated(jsonify(version=found[0], ended=False, next=None), tag)
    moved = live.successor(session_id)  # a restart: follow it without a reload
    return jsonify(version=found[0], ended=True, next=url_for("live.view", session_id=moved) if moved else None)


def _revalidated(response: Response, tag: str) -> Response:
    """Kept by the browser only to revalidate (If-None-Match), every time, and for this user only."""
    response.set_etag(tag)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.get("/<int:session_id>/panel")
@leaves_a_trace
def panel(session_id: int):
    session = _session(session_id)
    attempt_id = live.participant_attempt(session, current_user).id
    db.session.commit()
    tag = panels.etag(session, attempt_id)
    if request.if_none_match.contains_weak(tag):  # the same version and the same own answer: nothing to render
        return _revalidated(Response(status=304), tag)
    return _revalidated(Response(panels.render(session, attempt_id, token=uuid.uuid4().hex)), tag)


@bp.post("/<int:session_id>/answer")
def answer(session_id: int):
    session = _session(session_id)
    attempt = live.participant_attempt(session, current_user)
    part = panels.shared(session)
    token = request.form.get("token") or uuid.uuid4().hex
    if part.question_id is None:
        return panels.render(session, attempt.id, token=token), 409
    version = player.version_data(part.question_id, request.form.get("version", type=fields.int_arg))
    raw = raw_response(request.form, version.type, version.data)
    try:
        live.submit(session, attempt, raw, token, version.id, to_wall=request.form.get("to_wall") == "1")
    except (grading.ResponseError, live.LiveError) as exc:
        db.session.rollback()
        return panels.render(session, attempt.id, token=token, error=str(exc), raw=raw), 422
    db.session.commit()
    return panels.render(session, attempt.id, token=token)
