"""Walk-in registration at a workshop venue."""
from __future__ import annotations

from wtforms import PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from trainer.forms import JapaneseForm


class RegisterForm(JapaneseForm):
    display_name = StringField("氏名", validators=[DataRequired("氏名を入力してください。"), Length(max=80)],
                               render_kw={"autocomplete": "name"})
    furigana = StringField("ふりがな（任意）", validators=[Optional(), Length(max=120)])
    organization = SelectField("所属", validators=[DataRequired("所属を選んでください。")])
    login_id = StringField("ログインID（半角英数字3文字以上）", validators=[DataRequired("ログインIDを決めて入力してください。"), Length(max=64)],
                           render_kw={"autocomplete": "username", "autocapitalize": "none"},
                           description="次回からのログインに使います。メモしておいてください。")
    password = PasswordField("パスワード（10文字以上）", validators=[DataRequired("パスワードを入力してください。")],
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField("パスワード（確認）", validators=[DataRequired("確認のため、もう一度入力してください。"),
                                                     EqualTo("password", "確認用のパスワードが一致しません。")],
                            render_kw={"autocomplete": "new-password"})
    submit = SubmitField("登録して参加する")
