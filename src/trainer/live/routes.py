"""Participants in a live session: a page that follows the facilitator without reloading.

The browser polls ``state`` (one indexed read that also checks participation) every 1.5 s and fetches
``panel`` (an HTML fragment cached whole per session version and variant) only when the version
changed. Both carry an ETag (the session version; for the panel also the participant's own answer
and CSRF secret) and answer a matching If-None-Match with 304 and no body (docs/live.md). ``state``,
``panel`` and ``answer`` load no user: one statement (services/live.seat, version_of) checks the
sign-in, the role, the pending password change and the participation; when it finds nothing, the
ordinary checks run to give the ordinary answer (login page, 403, password change, 404).
"""
from __future__ import annotations

import uuid

from flask import Blueprint, Response, abort, jsonify, redirect, render_template, request, url_for
from flask import session as cookie_session
from flask_login import current_user

from trainer import policies
from trainer.extensions import db
from trainer.navigation import leaves_a_trace
from trainer.learn.forms import raw_response
from trainer.live import panel as panels
from trainer.models import Role, Workshop
from trainer.auth.signin import current_token
from trainer.services import fields, grading, live, player
from trainer.web import SELF_CHECKED  # checked in the view's own statement, without loading the user

bp = Blueprint("live", __name__, url_prefix="/live")


@bp.before_request
def _guard() -> None:
    if request.endpoint in SELF_CHECKED:
        return
    policies.require_role(Role.TRAINEE)


def _session_user_id() -> int | None:
    """The user id from the signed session cookie (checked against the sign-in record by the query)."""
    user_id = str(cookie_session.get("_user_id", ""))
    return int(user_id) if user_id.isdigit() and int(user_id) <= fields.INT_MAX else None


def _seat(session_id: int) -> live.Seat:
    """The participant's seat in one statement; when there is none, the answer the ordinary checks
    give (not signed in: the login page; not a trainee: 403; a pending password change: that page)
    or 404 (not a participant of this session's workshop)."""
    user_id, token = _session_user_id(), current_token()
    found = live.seat(session_id, user_id, token) if user_id is not None and isinstance(token, str) else None
    if found is None:
        policies.require_role(Role.TRAINEE)
        if current_user.must_change_password:
            abort(redirect(url_for("auth.password")))
        abort(404)
    if found.attempt_id is None:  # first visit: join (an unfinished attempt of an earlier run continues)
        live.participant_attempt(found.session, user_id)
        db.session.commit()
        found = live.seat(session_id, user_id, token)  # with the answers of a continued attempt
        if found is None or found.attempt_id is None:
            abort(404)
    return found


@bp.get("/<int:session_id>")
@leaves_a_trace
def view(session_id: int):
    seat = _seat(session_id)
    return render_template("live/participant.html", session=seat.session,
                           workshop=db.session.get(Workshop, seat.session.workshop_id),
                           panel=panels.render(seat, token=uuid.uuid4().hex))


@bp.get("/<int:session_id>/state")
def state(session_id: int):
    """The cheap poll: {version, ended}. One query, which is also the access check: only a
    participant of the session's workshop gets an answer (a version number, nothing else).

    With ``?panel=1`` (live.js) a response for a version the browser does not have yet carries the
    participant's new panel too (``panel``, when they have joined): one request instead of two right
    after the facilitator acts, when every phone asks at once. Its ETag then names the browser as
    well (the panel carries its CSRF token), so a 304 never hands a panel kept for someone else."""
    user_id, token = _session_user_id(), current_token()
    found = live.version_of(session_id, user_id, token) if user_id is not None and token else None
    if found is None:
        abort(404)
    if found[1]:
        moved = live.successor(session_id)  # a restart: follow it without a reload
        return jsonify(version=found[0], ended=True, next=url_for("live.view", session_id=moved) if moved else None)
    with_panel = request.args.get("panel") == "1"
    suffix = f"-{panels.browser()}" if with_panel else ""
    tag = f"v{session_id}-{found[0]}{suffix}"  # running: the answer is the version alone
    if request.if_none_match.contains_weak(tag):
        return _revalidated(Response(status=304), tag)
    body = {"version": found[0], "ended": False, "next": None}
    seat = live.seat(session_id, user_id, token) if with_panel else None
    if seat is not None and seat.attempt_id is not None and seat.session.ended_at is None:
        body["version"] = seat.session.version  # the same row, read a moment later
        body["panel"] = panels.render(seat, token=uuid.uuid4().hex)
        tag = f"v{session_id}-{seat.session.version}{suffix}"
    return _revalidated(jsonify(body), tag)


def _revalidated(response: Response, tag: str) -> Response:
    """Kept by the browser only to revalidate (If-None-Match), every time, and for this user only."""
    response.set_etag(tag)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.get("/<int:session_id>/panel")
@leaves_a_trace
def panel(session_id: int):
    seat = _seat(session_id)
    tag = panels.etag(seat)
    if request.if_none_match.contains_weak(tag):  # the same version, own answer and browser: nothing to send
        return _revalidated(Response(status=304), tag)
    return _revalidated(Response(panels.render(seat, token=uuid.uuid4().hex)), tag)


@bp.post("/<int:session_id>/answer")
def answer(session_id: int):
    seat = _seat(session_id)
    part = panels.shared(seat.session)
    token = request.form.get("token") or uuid.uuid4().hex
    if part.question_id is None:
        return panels.render(seat, token=token), 409
    version = player.version_data(part.question_id, request.form.get("version", type=fields.int_arg))
    raw = raw_response(request.form, version.type, version.data)
    to_wall = request.form.get("to_wall") == "1"
    try:
        live.submit(seat.session, seat.attempt, raw, token, version.id, to_wall=to_wall)
    except (grading.ResponseError, live.LiveError) as exc:
        db.session.rollback()
        return panels.render(seat, token=token, error=str(exc), raw=raw, to_wall=to_wall), 422
    db.session.commit()
    db.session.refresh(seat.session)  # a post offered for the wall moved the version
    stored = live.own_answer(seat.attempt_id, part.question_id)
    return panels.render(live.Seat(seat.session, seat.user_id, seat.attempt_id,
                                   {**seat.answers, part.question_id: stored}), token=token)
