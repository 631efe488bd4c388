"""The participant's live panel, rendered from pieces.

Everything that is the same for every participant at a given session version (the stage, the
question, the answer fields, the feedback of every choice, the wall) is rendered once per process
and version and reused; only the part that depends on the participant (whether they answered, their
own feedback) is rendered per request. The cache is keyed by the session's version from the
database, so it is derived data, never live state.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import render_template
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


def shared(session: LiveSession) -> Shared:
    key = (session.id, session.started_at, session.version)
    cache = player.app_cache("live_panels")
    found = cache.get(key)
    if found is None:
        if len(cache) > 500:
            cache.clear()
        found = cache[key] = _render_shared(session)
    return found


def _render_shared(session: LiveSession) -> Shared:
    module = db.session.get(Module, session.module_id)
    pages = player.pages(module)
    page = pages[session.page]
    stage = next((s for s in module.case.stages if s.key == page.step.stage_key), None) if module.case else None
    top = Markup(render_template("live/_top.html", session=session, page=page, pages=pages, stage=stage))
    if page.question is None:
        return Shared(page.index, len(pages), None, None, None, top, Markup(""), Markup(""), Markup(""), Markup(""))
    version = page.question.current_version
    data = player.presented(version.data, session.seed, page.question.key)  # one order for the whole room
    ctx = {"version": version, "data": data, "error": None, "raw": {}, "rating_labels": RATING_LABELS,
           "point_index": _points(version.data["points"])}
    wall = live.stats(session).wall if version.type == "reflection" else []  # shown posts only
    return Shared(
        page.index, len(pages), page.question.id, version.id, version.type, top,
        Markup(version.data["prompt_html"]), Markup(render_template("learn/_answer_fields.html", **ctx)),
        Markup(render_template("live/_reveal.html", **ctx)), Markup(render_template("live/_wall.html", wall=wall)),
    )


def _points(ids: list[str]) -> list[Point]:
    return list(db.session.scalars(select(Point).where(Point.id.in_(ids)).order_by(Point.sort)))


def etag(session: LiveSession, attempt_id: int) -> str:
    """What the participant's panel depends on: the session (and run) version, and their own answer
    to the question on screen (the form token differs per render; any earlier one stays valid)."""
    part = shared(session)
    answer_id = None
    if part.question_id is not None:
        answer_id = db.session.scalar(select(Answer.id).where(Answer.attempt_id == attempt_id,
                                                              Answer.question_id == part.question_id))
    return f"p{session.id}-{session.started_at.timestamp():.0f}-{session.version}-{answer_id or 0}"


def render(session: LiveSession, attempt_id: int, *, token: str, error: str | None = None,
           raw: dict | None = None) -> str:
    """The whole panel for one participant."""
    part = shared(session)
    answer = None
    if part.question_id is not None:
        answer = db.session.scalar(select(Answer).where(Answer.attempt_id == attempt_id,
                                                        Answer.question_id == part.question_id))
    own = None
    if answer is not None and session.revealed:
        version = player.version_for(db.session.get(player.Question, part.question_id), answer.version_id)
        data = player.presented(version.data, session.seed, version.question.key)
        own = Markup(render_template("learn/_feedback.html", answer=answer, version=version, data=data,
                                     rating_labels=RATING_LABELS, point_index=_points(version.data["points"])))
    fields = part.fields
    if error and raw:
        version = player.version_for(db.session.get(player.Question, part.question_id), part.version_id)
        data = player.presented(version.data, session.seed, version.question.key)
        fields = Markup(render_template("learn/_answer_fields.html", version=version, data=data, error=error,
                                        raw=raw, point_index=_points(version.data["points"])))
    return render_template("live/_panel.html", session=session, part=part, answer=answer, own=own, fields=fields,
                           error=error, token=token)
