"""Facilitator forms."""
from __future__ import annotations

from wtforms import BooleanField, DateField, SelectMultipleField, StringField, SubmitField, TextAreaField, TimeField
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from trainer.dates import DAY_RANGE_TEXT, day_in_range
from trainer.forms import JapaneseForm
from trainer.services import fields


def day_within_range(_form, field) -> None:
    if field.data is not None and not day_in_range(field.data):
        raise ValidationError(f"開催日は{DAY_RANGE_TEXT}の日付で入力してください。")


class CheckboxList(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class WorkshopForm(JapaneseForm):
    title = StringField("研修会の名前", validators=[DataRequired("研修会の名前を入力してください。"), Length(max=fields.WORKSHOP_TITLE)])
    day = DateField("開催日", validators=[DataRequired("開催日を入力してください。"), day_within_range])
    start = TimeField("開始時刻", validators=[DataRequired("開始時刻を入力してください。")])
    end = TimeField("終了時刻", validators=[DataRequired("終了時刻を入力してください。")])
    venue = StringField("会場（オンラインの場合は接続方法など）", validators=[Optional(), Length(max=fields.VENUE)])
    online = BooleanField("オンラインで開催する")
    modules = CheckboxList("使うモジュール", validators=[DataRequired("使うモジュールを1つ以上選んでください。")])
    co_facilitators = StringField("共同ファシリテーターのログインID（任意・複数はスペース区切り）",
                                  validators=[Optional(), Length(max=2000)])
    participants = TextAreaField("招待する参加者のログインID（任意・1行に1人）", validators=[Optional(), Length(max=20000)],
                                 description="アカウントのない人は、当日、参加コードから登録できます。")
    submit = SubmitField("研修会を作成する")


class InviteForm(JapaneseForm):
    participants = TextAreaField("招待するログインID（1行に1人）", validators=[
        DataRequired("ログインIDを入力してください。"), Length(max=20000, message="一度に招待できるのは20,000文字までです。")])
    submit = SubmitField("招待する")
