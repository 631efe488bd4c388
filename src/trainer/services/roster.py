"""Roster import: a CSV of accounts as Excel writes it in Japan. A file with any error imports nothing;
an error-free one is written in batches (services/roster_jobs.py)."""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select

from trainer.extensions import db
from trainer.models import Organization, OrgKind, RosterImport, Role, User
from trainer.services import fields, orgs, passwords
from trainer.services.accounts import (
    PASSWORD_ALPHABET, PASSWORD_LENGTH, login_exists, login_id_problem, normalise_login_id, password_problem,
)
from trainer.services.csvio import CsvDecodeError, RowError, decode_excel_csv, normalise_name, normalise_text, read_rows

COLUMNS = ("ログインID", "氏名", "ふりがな", "所属コード", "事業所名", "役割", "メールアドレス", "初期パスワード")
REQUIRED = ("ログインID", "氏名", "所属コード")
NAME_COLUMNS = ("氏名", "ふりがな")  # kept as written (㈱, ①), not NFKC-folded like codes and IDs
ROLE_WORDS = {"受講者": Role.TRAINEE, "ファシリテーター": Role.FACILITATOR}
MAX_ROWS = 5000
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class RosterRow:
    row: int
    login_id: str
    name: str
    furigana: str
    org_code: str
    office: str
    roles: tuple[Role, ...]
    email: str
    password: str
    organization: Organization | None = None


@dataclass
class RosterPreview:
    rows: list[RosterRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    def errors_by_row(self) -> dict[int, list[RowError]]:
        found: dict[int, list[RowError]] = {}
        for error in self.errors:
            found.setdefault(error.row, []).append(error)
        return found

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.rows)


def parse_roster(data: bytes) -> RosterPreview:
    """Decode and validate every row; nothing is written."""
    preview = RosterPreview()
    try:
        header, body = read_rows(decode_excel_csv(data))
    except CsvDecodeError as exc:
        preview.errors.append(RowError(0, "", str(exc)))
        return preview
    missing = [c for c in REQUIRED if c not in header]
    if not header or missing:
        cols = "、".join(missing or REQUIRED)
        preview.errors.append(RowError(1, "", f"見出し行に必須の列（{cols}）がありません。1行目は見出し行にしてください。"))
        return preview
    if len(body) > MAX_ROWS:
        preview.errors.append(RowError(0, "", f"一度に取り込めるのは{MAX_ROWS}行までです（{len(body)}行あります）。"))
        return preview
    if not body:
        preview.errors.append(RowError(0, "", "取り込む行がありません。"))
    seen: dict[str, int] = {}
    for number, cells in body:
        raw = {c: cells[header.index(c)] if c in header and header.index(c) < len(cells) else "" for c in COLUMNS}
        values = {c: normalise_name(v) if c in NAME_COLUMNS else normalise_text(v) for c, v in raw.items()}
        values["初期パスワード"] = (raw.get("初期パスワード") or "").strip()  # passwords are never rewritten
        row, errors = _build_row(number, values, seen)
        preview.rows.append(row)
        preview.errors.extend(errors)
    return preview


def _build_row(number: int, v: dict[str, str], seen: dict[str, int]) -> tuple[RosterRow, list[RowError]]:
    errors: list[RowError] = []
    err = lambda column, message: errors.append(RowError(number, column, message))
    login_id = normalise_login_id(v["ログインID"])
    roles, bad_words = _parse_roles(v["役割"])
    row = RosterRow(number, login_id, v["氏名"], v["ふりがな"], v["所属コード"], v["事業所名"], roles, v["メールアドレス"], v["初期パスワード"])
    if not login_id:
        err("ログインID", "空欄です。")
    elif problem := login_id_problem(login_id):
        err("ログインID", problem)
    elif login_id in seen:
        err("ログインID", f"{seen[login_id]}行目と同じログインIDです。")
    elif login_exists(login_id):
        err("ログインID", f"「{login_id}」は既に登録されています。")
    seen.setdefault(login_id, number)
    if not row.name:
        err("氏名", "空欄です。")
    for column, attribute, value in (("氏名", User.display_name, row.name), ("ふりがな", User.furigana, row.furigana),
                                     ("メールアドレス", User.email, row.email)):
        if problem := fields.problem(value, attribute, column):
            err(column, problem)
    row.organization = _resolve_org(row, err)
    for word in bad_words:
        err("役割", f"「{word}」は指定できません。「受講者」または「ファシリテーター」を指定してください。")
    if row.email and not EMAIL_RE.match(row.email):
        err("メールアドレス", "メールアドレスの形式ではありません。")
    context = passwords.context_of(row.login_id, (row.name, row.furigana), row.email)
    if row.password and (problem := password_problem(row.password, context)):
        err("初期パスワード", problem)
    return row, errors


def _parse_roles(value: str) -> tuple[tuple[Role, ...], list[str]]:
    words = [w for w in re.split(r"[、,;・/\s]+", value) if w]
    roles = tuple(dict.fromkeys(ROLE_WORDS[w] for w in words if w in ROLE_WORDS)) or (Role.TRAINEE,)
    return roles, [w for w in words if w not in ROLE_WORDS]


def _resolve_org(row: RosterRow, err) -> Organization | None:
    if not row.org_code:
        err("所属コード", "空欄です。")
        return None
    if problem := fields.problem(row.org_code, Organization.code, "所属コード") or fields.problem(
            row.office, Organization.name, "事業所名"):
        err("所属コード", problem)
        return None
    org = db.session.scalar(select(Organization).where(Organization.code == row.org_code))
    if org is None:
        err("所属コード", _unknown_code_message(row.org_code))
        return None
    if not row.office:
        return org
    offices = db.session.scalars(select(Organization).where(
        Organization.parent_id == org.id, Organization.kind == OrgKind.OFFICE))
    # names typed on the admin page are stored as typed: compare both sides normalised
    office = next((o for o in offices if normalise_text(o.name) == row.office), None)
    if office is None:
        err("事業所名", f"{org.name}に「{row.office}」という事業所は登録されていません。")
    return office


def _unknown_code_message(code: str) -> str:
    """The commonest mistake is the 5-digit code without its check digit: name the organization meant."""
    if len(code) == 5 and code.isdigit():
        full = orgs.with_check_digit(code)
        meant = orgs.by_code(full)
        if meant is not None:
            return (f"「{code}」は5桁です。団体コードは6桁（最後の1桁は検査数字）です。"
                    f"「{full} {meant.full_name}」のことですか？ 6桁で書いてください。")
        return f"「{code}」は5桁です。団体コードは検査数字を含めた6桁で書いてください（「{full}」に当たる組織は登録されていません）。"
    return f"「{code}」に当たる組織が登録されていません。"


#: The sample file offered on the import page (the columns, then two example rows).
SAMPLE_ROWS = [
    COLUMNS,
    ("soudan-taro", "相談 太郎", "そうだん たろう", "142051", "", "受講者", "", ""),
    ("shien-hanako", "支援 花子", "しえん はなこ", "141003", "", "受講者、ファシリテーター", "shien@example.jp", ""),
]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find_import(token: str) -> RosterImport | None:
    return db.session.scalar(select(RosterImport).where(RosterImport.token_hash == token_hash(token)))


def derived_password(token: str, login_id: str) -> str:
    """The initial password generated for one row of one import: derived from the confirmation
    token, so a repeated confirmation shows the same passwords without storing any of them."""
    digest = hmac.new(current_app.config["SECRET_KEY"].encode(), f"{token}\0{login_id}".encode(), "sha256").digest()
    alphabet = PASSWORD_ALPHABET
    return "".join(alphabet[b % len(alphabet)] for b in digest[:PASSWORD_LENGTH])


def apply_roster(preview: RosterPreview, *, actor: User | None, token: str) -> tuple[RosterImport, bool]:
    """Create every account of an error-free preview, once per confirmation ``token``, here and now
    (the CLI; small web imports): in batches, each hashed before its short transaction and committed
    (services/roster_jobs.py).

    Returns the import and whether this call ran it: a repeated or concurrent confirmation with the
    same token (a double click) runs nothing and returns the import that already ran."""
    from trainer.services import roster_jobs  # builds on this module: imported here, not at the top

    if not preview.ok:
        raise ValueError("a roster with errors cannot be imported")
    if (done := find_import(token)) is not None:
        return done, False
    record, job, created = roster_jobs.open_job(preview, actor=actor, token=token)
    if not created:
        return record, False
    db.session.commit()
    roster_jobs.run(job.id, roster_jobs.plan(preview, token), actor.id if actor else None)
    return record, True


@dataclass(frozen=True)
class CreatedAccount:
    login_id: str
    name: str


def results(record: RosterImport, token: str) -> list[tuple[CreatedAccount, str | None]]:
    """The accounts an import created, each with its generated initial password (None when the
    file gave one), in file order."""
    logins = [login for login, _ in record.accounts]
    names = dict(db.session.execute(select(User.login_id, User.display_name).where(User.login_id.in_(logins))).all())
    return [(CreatedAccount(login, names.get(login, "")), derived_password(token, login) if generated else None)
            for login, generated in record.accounts]
