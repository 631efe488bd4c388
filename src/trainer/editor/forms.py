"""Editor forms: the statistics filters (query string) and the opinion workflow form."""
from __future__ import annotations

from dataclasses import dataclass, field

from werkzeug.datastructures import MultiDict
from wtforms import SelectChoice, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import Length, Optional

from trainer.forms import JapaneseForm
from trainer.review.forms import _day
from trainer.services.itemstats import MODES, StatFilters
from trainer.services.opinions import REPLY_MAX, STATUS_LABELS


@dataclass
class ParsedStatFilters:
    filters: StatFilters
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _choice_id(value: str | None, allowed: set[int], label: str, errors: list[str]) -> int | None:
    if not value:
        return None
    if not value.isdigit() or int(value) not in allowed:
        errors.append(f"{label}は一覧から選んでください。")
        return None
    return int(value)


def parse_filters(args: MultiDict, releases: set[int], prefectures: set[int]) -> ParsedStatFilters:
    """Filters from request.args; every bad value becomes a Japanese message (nothing is guessed)."""
    errors: list[str] = []
    since = _day(args.get("since"), "開始日", errors)
    until = _day(args.get("until"), "終了日", errors)
    if since and until and since > until:
        errors.append("終了日は、開始日と同じ日かそれより後の日にしてください。")
    mode = args.get("mode") or None
    if mode is not None and mode not in MODES:
        errors.append("受講の形は一覧から選んでください。")
        mode = None
    release = _choice_id(args.get("release"), releases, "教材の版", errors)
    prefecture = _choice_id(args.get("prefecture"), prefectures, "都道府県", errors)
    return ParsedStatFilters(StatFilters(release, since, until, mode, prefecture), errors)


class OpinionUpdateForm(JapaneseForm):
    status = SelectField("対応状況", choices=[SelectChoice(k, v) for k, v in STATUS_LABELS.items()])
    reply = TextAreaField("投稿者への回答（投稿者の「自分の意見」ページに表示されます）", validators=[
        Optional(), Length(max=REPLY_MAX, message=f"回答は{REPLY_MAX}文字以内で書いてください。")])
    tags = StringField("タグ（読点・カンマ・空白で区切る）", validators=[Optional(), Length(max=300)])
    release = SelectField("反映した教材の版", choices=[], validate_choice=False)
    submit = SubmitField("対応を保存")
