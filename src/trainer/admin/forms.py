"""Administrator forms. Validation of business rules lives in the services."""
from __future__ import annotations

from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, SelectChoice, PasswordField, SelectField, SelectMultipleField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from trainer.forms import JapaneseForm
from trainer.models import Programme, Role
from trainer.models.org import PROGRAMME_LABELS
from trainer.models.user import ROLE_LABELS

ROLE_CHOICES = [SelectChoice(str(r), ROLE_LABELS[r]) for r in Role]
OFFICE_TYPES = ["相談窓口", "ひきこもり地域支援センター", "ひきこもり支援ステーション", "NPO・民間団体",
                "保健所・保健センター", "生活困窮者自立相談支援機関", "地域包括支援センター", "その他"]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class RolesForm(JapaneseForm):
    roles = MultiCheckboxField("役割", choices=ROLE_CHOICES, validators=[DataRequired("役割を1つ以上選んでください。")])
    scope = SelectField("閲覧者の担当（都道府県・政令指定都市）", coerce=str, validators=[Optional()])
    submit = SubmitField("役割を保存")


class UserCreateForm(RolesForm):
    login_id = StringField("ログインID", validators=[DataRequired("ログインIDを入力してください。"), Length(max=64)],
                           description="半角英数字と . _ @ - で3〜64文字")
    display_name = StringField("氏名", validators=[DataRequired("氏名を入力してください。"), Length(max=80)])
    furigana = StringField("ふりがな（任意）", validators=[Optional(), Length(max=120)])
    email = StringField("メールアドレス（任意）", validators=[Optional(), Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message="メールアドレスの形式で入力してください。"), Length(max=254)])
    password = PasswordField("初期パスワード（10文字以上）", validators=[DataRequired("初期パスワードを入力してください。")],
                             description="初回ログイン時に本人が変更します。", render_kw={"autocomplete": "new-password"})
    submit = SubmitField("利用者を作成")


class PasswordResetForm(JapaneseForm):
    password = PasswordField("新しい初期パスワード（10文字以上）", validators=[DataRequired("パスワードを入力してください。")],
                             render_kw={"autocomplete": "new-password"})
    submit = SubmitField("パスワードを再設定")


class ActiveForm(JapaneseForm):
    submit = SubmitField("切り替える")


class ProgrammeForm(JapaneseForm):
    programme = SelectField("実施しているひきこもり支援事業", choices=[SelectChoice(str(p), PROGRAMME_LABELS[p]) for p in Programme])
    submit = SubmitField("保存")


class OfficeForm(JapaneseForm):
    name = StringField("事業所・窓口の名称", validators=[DataRequired("名称を入力してください。"), Length(max=120)])
    office_type = SelectField("種別", choices=[SelectChoice(t) for t in OFFICE_TYPES])
    submit = SubmitField("事業所を追加")


class RosterUploadForm(JapaneseForm):
    file = FileField("名簿ファイル（CSV）", validators=[FileRequired("CSVファイルを選んでください。")])
    submit = SubmitField("内容を確認する")


class RosterConfirmForm(JapaneseForm):
    payload = HiddenField()
    token = HiddenField()  # one per preview: a repeated confirmation finds the import that already ran
    submit = SubmitField("この内容で取り込む")


class RosterCloseForm(JapaneseForm):
    submit = SubmitField("初期パスワードの表示を終える")


class OrgImportForm(JapaneseForm):
    file = FileField("市区町村コード一覧（CSV）", validators=[FileRequired("CSVファイルを選んでください。")])
    submit = SubmitField("取り込む")
