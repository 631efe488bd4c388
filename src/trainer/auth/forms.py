"""Login and password forms."""
from __future__ import annotations

from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length

from trainer.forms import JapaneseForm


class LoginForm(JapaneseForm):
    login_id = StringField("ログインID", validators=[DataRequired("ログインIDを入力してください。"), Length(max=64)],
                           render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"})
    password = PasswordField("パスワード", validators=[DataRequired("パスワードを入力してください。"), Length(max=256)],
                             render_kw={"autocomplete": "current-password"})
    submit = SubmitField("ログイン")


class PasswordChangeForm(JapaneseForm):
    current = PasswordField("現在のパスワード", validators=[DataRequired("現在のパスワードを入力してください。")],
                            render_kw={"autocomplete": "current-password"})
    new = PasswordField("新しいパスワード（10文字以上）", validators=[DataRequired("新しいパスワードを入力してください。")],
                        render_kw={"autocomplete": "new-password"})
    confirm = PasswordField("新しいパスワード（確認）", validators=[
        DataRequired("確認のため、新しいパスワードをもう一度入力してください。"),
        EqualTo("new", "確認用のパスワードが一致しません。")], render_kw={"autocomplete": "new-password"})
    submit = SubmitField("変更する")
