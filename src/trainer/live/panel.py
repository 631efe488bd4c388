"""The participant's live panel, cached whole.

Everything that is the same for every participant at a given session version (the stage, the
question, the answer fields, the feedback of every choice, the wall) is rendered once per process
and version. The whole panel is cached too, per version and variant: not answered; answered (and the
own post's wall state); answered after 解説 with the same answer (the own feedback depends on the
answer only, so a room that chose among four options shares four panels). What differs per response
— the CSRF token and the answer form's token — is written into the cached panel as a mark and
replaced per response, so the panel works without JavaScript and nobody receives another's token.
A lock makes one thread render each entry while the others wait for it (300 phones ask within
1.5 s after the version moves). The caches are keyed by the session's version from the database, so
they are derived data, never live state. Fragments are rendered without Flask's context processors,
which would load the user: the panel's one statement (services/live.seat) is all it reads.
"""
from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass

from flask import current_app
from flask import session as cookie_session
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from sqlalchemy import select

from trainer.content.schema import RATING_LABELS
from trainer.extensions import db
from trainer.models import Answer, LiveSession, Module, Point
from trainer.services import live, player


@dataclass(frozen=True)
class Shared:
    page_index: int
    pages: int
    question_id: int | None
    version_id: int | None
    question_type: str | None
    top: Markup
    prompt: Markup
    fields: Markup
    reveal: Markup
    wall: Markup


#: marks in a cached panel, replaced per response (NUL never reaches content or answers: web._refuse_nul)
CSRF_MARK, TOKEN_MARK = "\x00csrf\x00", "\x00token\x00"
_RENDER = threading.RLock()


def _cached(name: str, key: tuple, make, limit: int):
    cache = player.app_cache(name)
    found = cache.get(key)
    if found is None:
        with _RENDER:  # one render per key and process; the other threads wait for it
            found = cache.get(key)
            if found is None:
                if len(cache) >= limit:
                    cache.clear()
                found = cache[key] = make()
    return found


def _fragment(name: str, **context) -> str:
    """A template rendered without Flask's context processors (they would load the user)."""
    return current_app.jinja_env.get_template(name).render(context)


def shared(session: LiveSession) -> Shared:
    return _cached("live_panels", (session.id, session.started_at, session.version),
                   lambda: _render_shared(session), 500)


def _render_shared(session: LiveSession) -> Shared:
    module = db.session.get(Module, session.module_id)
    pages = player.pages(module)
    page = pages[session.page]
    stage = next((s for s in module.case.stages if s.key == page.step.stage_key), None) if module.case else None
    top = Markup(_fragment("live/_top.html", session=session, page=page, pages=pages, stage=stage))
    if page.question is None:
        return Shared(page.index, len(pages), None, None, None, top, Markup(""), Markup(""), Markup(""), Markup(""))
    version = page.question.current_version
    data = player.presented(version.data, session.seed, page.question.key)  # one order for the whole room
    ctx = {"version": version, "data": data, "error": None, "raw": {}, "rating_labels": RATING_LABELS,
           "point_index": _points(version.data["points"])}
    wall = live.stats(session).wall if version.type == "reflection" else []  # shown posts only
    return Shared(
        page.index, len(pages), page.question.id, version.id, version.type, top,
        Markup(version.data["prompt_html"]), Markup(_fragment("learn/_answer_fields.html", **ctx)),
        Markup(_fragment("live/_reveal.html", **ctx)), Markup(_fragment("live/_wall.html", wall=wall)),
    )


def _points(ids: list[str]) -> list[Point]:
    return list(db.session.scalars(select(Point).where(Point.id.in_(ids)).order_by(Point.sort)))


def own_answer(seat: live.Seat) -> Answer | None:
    """The participant's answer to the question on screen, if any."""
    part = shared(seat.session)
    return seat.answers.get(part.question_id) if part.question_id is not None else None


def etag(seat: live.Seat) -> str:
    """What the participant's panel depends on: the session (and run) version, their own answer to
    the question on screen, and their browser's CSRF secret (the panel carries a token made from it:
    after a sign-in on the same browser, the cached panel of the one before is never revalidated)."""
    session, answer = seat.session, own_answer(seat)
    return f"p{session.id}-{session.started_at.timestamp():.0f}-{session.version}-{answer.id if answer else 0}-{browser()}"


def browser() -> str:
    """A short hash of the browser's CSRF secret (made if it has none yet): in the ETag of anything
    that carries a token made from it."""
    name = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    if not cookie_session.get(name):
        generate_csrf()
    secret = str(cookie_session.get(name, ""))
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def _variant(seat: live.Seat, answer: Answer | None) -> tuple | None:
    """The key of the cached whole panel, or None when it is the participant's own (their reflection
    quoted in the feedback)."""
    session = seat.session
    base = (session.id, session.started_at, session.version)
    if answer is None:
        return (*base, "open")
    if not session.revealed:
        return (*base, "answered", answer.wall)
    if shared(session).question_type == "reflection":
        return None
    response = json.dumps(answer.response, sort_keys=True, ensure_ascii=False)
    return (*base, "feedback", answer.version_id, response, answer.score, answer.rating, answer.wall)


def render(seat: live.Seat, *, token: str, error: str | None = None, raw: dict | None = None,
           to_wall: bool = False) -> str:
    """The whole panel for one participant: the cached panel of their variant with their tokens."""
    answer = own_answer(seat)
    key = None if error else _variant(seat, answer)
    if key is None:
        html = _render(seat.session, answer, error=error, raw=raw, to_wall=to_wall)
    else:
        html = _cached("live_whole_panels", key, lambda: _render(seat.session, answer), 2000)
    return html.replace(CSRF_MARK, generate_csrf()).replace(TOKEN_MARK, token)


def _render(session: LiveSession, answer: Answer | None, *, error: str | None = None, raw: dict | None = None,
            to_wall: bool = False) -> str:
    part = shared(session)
    own = None
    if answer is not None and session.revealed:
        version = player.version_for(db.session.get(player.Question, part.question_id), answer.version_id)
        data = player.presented(version.data, session.seed, version.question.key)
        own = Markup(_fragment("learn/_feedback.html", answer=answer, version=version, data=data,
                               rating_labels=RATING_LABELS, point_index=_points(version.data["points"])))
    fields = part.fields
    if error and raw:
        version = player.version_for(db.session.get(player.Question, part.question_id), part.version_id)
        data = player.presented(version.data, session.seed, version.question.key)
        fields = Markup(_fragment("learn/_answer_fields.html", version=version, data=data, error=error,
                                  raw=raw, point_index=_points(version.data["points"])))
    return _fragment("live/_panel.html", session=session, part=part, answer=answer, own=own, fields=fields,
                     error=error, token=TOKEN_MARK, csrf_token=lambda: CSRF_MARK, to_wall=to_wall)
