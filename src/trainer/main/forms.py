"""Walk-in registration at a workshop venue."""
from __future__ import annotations

import secrets

from wtforms import HiddenField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

from trainer.forms import JapaneseForm
from trainer.services import fields


class RegisterForm(JapaneseForm):
    display_name = StringField("氏名", validators=[DataRequired("氏名を入力してください。"), Length(max=fields.DISPLAY_NAME)],
                               render_kw={"autocomplete": "name"})
    furigana = StringField("ふりがな（任意）", validators=[Optional(), Length(max=fields.FURIGANA)])
    organization = SelectField("所属", validators=[DataRequired("所属を選んでください。")])
    password = PasswordField("パスワード（10文字以上）", validators=[DataRequired("パスワードを入力してください。")],
                             render_kw={"autocomplete": "new-password"},
                             description="よく使われるパスワードや、氏名を含むパスワードは使えません。")
    confirm = PasswordField("パスワード（確認）", validators=[DataRequired("確認のため、もう一度入力してください。"),
                                                     EqualTo("password", "確認用のパスワードが一致しません。")],
                            render_kw={"autocomplete": "new-password"})
    #: a new value each time the form is shown: the same form sent twice is one registration
    form_token = HiddenField(default=lambda: secrets.token_hex(16), validators=[
        DataRequired("画面を開き直してから登録してください。"),
        Regexp(r"^[0-9a-f]{32}$", message="画面を開き直してから登録してください。")])
    submit = SubmitField("登録して参加する")
