"""Trainee forms. The answer form is built from the question version at request time."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from wtforms import HiddenField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from trainer.forms import JapaneseForm


class ActionForm(JapaneseForm):
    """A bare POST with CSRF (start, retake, next, issue a certificate)."""

    submit = SubmitField("送信")


OPINION_LABEL = "ハンドブックや教材への意見・質問"
OPINION_HINT = ("事例の内容や支援のポイントの書き方について、気づいたこと、疑問に思ったことを自由に書いてください。"
                "個人が特定される情報は書かないでください。")
OPINION_MAX = 2000


class OpinionForm(JapaneseForm):
    """Validates a sent opinion (learn.opinion). Pages show the form from OpinionFields."""

    body = TextAreaField(OPINION_LABEL, validators=[
        DataRequired("意見や質問を書いてください。"), Length(max=OPINION_MAX, message="2000文字以内で書いてください。")],
        description=OPINION_HINT)
    case_id = HiddenField()
    point_id = HiddenField()
    module_id = HiddenField()
    question_id = HiddenField(validators=[Optional(), Regexp(r"^[0-9]{1,9}$", message="画面を開き直してから送ってください。")])
    #: a new value each time the form is shown: the same form sent twice records one opinion
    client_token = HiddenField(default=lambda: secrets.token_hex(16),
                               validators=[Optional(), Regexp(r"^[0-9a-f]{32}$", message="画面を開き直してから送ってください。")])
    submit = SubmitField("意見を送る")


@dataclass(frozen=True)
class OpinionFields:
    """What a page's opinion form shows (learn/_macros.html ``opinion``): its hidden values and the page
    to return to, as plain values. Building and rendering an OpinionForm on every player page cost
    WTForms' field binding and widget rendering for a form that is rarely sent; OpinionForm still
    validates what is sent. ``next_url`` is the page's own address — not ``request.path``, which is
    the POST's address when the page is the answer to a swapped POST (a GET there is a 405)."""

    next_url: str
    case_id: str = ""
    point_id: str = ""
    module_id: str = ""
    question_id: str = ""
    #: a new value each time the form is shown: the same form sent twice records one opinion
    client_token: str = field(default_factory=lambda: secrets.token_hex(16))
    label = OPINION_LABEL
    hint = OPINION_HINT
    maxlength = OPINION_MAX


def raw_response(form, qtype: str, data: dict) -> dict:
    """The answer fields of a posted player form, as grading.validate expects them."""
    if qtype == "single":
        return {"choice": form.get("choice")}
    if qtype == "multiple":
        return {"choices": form.getlist("choices")}
    if qtype == "ordering":
        ranks = {c["id"]: form.get(f"rank-{c['id']}", "") for c in data["choices"]}
        if any(not r.isdigit() for r in ranks.values()) or len(set(ranks.values())) != len(ranks):
            return {"order": [], "ranks": ranks}
        return {"order": sorted(ranks, key=lambda c: int(ranks[c])), "ranks": ranks}
    if qtype == "reflection":
        return {"text": form.get("text", "")}
    return {"ratings": {p: form.get(f"rating-{p}") for p in data["points"]}}
