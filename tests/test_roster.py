"""Roster import: encodings, every kind of row error, all-or-nothing, the web preview and the CLI."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from trainer.extensions import db
from trainer.models import AuditEvent, OrgKind, Role, User
from trainer.services import roster

HEADER = "ログインID,氏名,ふりがな,所属コード,事業所名,役割,メールアドレス,初期パスワード"
GOOD_ROW = "trainee-01,研修 花子,けんしゅう はなこ,140007,,受講者,hanako@example.jp,Good-pass-2024"


def csv_bytes(*rows: str, header: str = HEADER, encoding: str = "utf-8") -> bytes:
    """A roster as Excel saves it: CRLF line ends, in the given encoding."""
    return "".join(f"{line}\r\n" for line in (header, *rows)).encode(encoding)


def user_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


def find_user(app, login_id: str) -> User | None:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.login_id == login_id))
        if user is not None:
            _ = user.organization, user.roles  # loaded for use after the context ends
        return user


def events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def errors_of(data: bytes) -> list[tuple[int, str, str]]:
    """(row, column, message) of every error the preview reports (needs an app context)."""
    return [(e.row, e.column, e.message) for e in roster.parse_roster(data).errors]


def write(tmp_path, data: bytes, name: str = "roster.csv"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- good files in every encoding Excel writes --------------------------------------------------

NAMES_ROWS = (
    "takahashi-1,髙橋 花子,たかはし はなこ,140007,,受講者,,Ocean-lantern-51",
    "npo-sato,㈱みらい ①班 佐藤～,さとう,140007,,ファシリテーター、受講者,sato@example.jp,",
)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"], ids=["utf8", "utf8-bom", "cp932"])
def test_good_file_is_imported_in_each_encoding(app, runner, tmp_path, encoding):
    data = csv_bytes(*NAMES_ROWS, encoding=encoding)
    if encoding == "utf-8-sig":
        assert data.startswith(b"\xef\xbb\xbf")
    if encoding == "cp932":
        assert b"\xee\xe0" in data and b"\x87\x8a" in data  # 髙 and ㈱ as CP932 (not shift_jis) writes them
    result = runner.invoke(args=["roster", "import", str(write(tmp_path, data))])
    assert result.exit_code == 0, result.output
    assert "2 件のアカウントを作成しました。" in result.output

    takahashi, sato = find_user(app, "takahashi-1"), find_user(app, "npo-sato")
    assert takahashi.display_name == "髙橋 花子"
    assert takahashi.furigana == "たかはし はなこ"
    assert takahashi.organization.code == "140007"
    assert takahashi.role_names() == {"trainee"}
    assert sato.display_name == "㈱みらい ①班 佐藤～"
    assert sato.email == "sato@example.jp"
    assert sato.role_names() == {"facilitator", "trainee"}
    assert takahashi.must_change_password and sato.must_change_password
    # the password given in the file works; the blank one was generated and printed once
    assert "takahashi-1\t" not in result.output
    [generated] = re.findall(r"npo-sato\t(\S+)", result.output)
    c = app.test_client()
    assert c.post("/auth/login", data={"login_id": "npo-sato", "password": generated}).headers["Location"].endswith("/auth/password")
    c = app.test_client()
    assert c.post("/auth/login", data={"login_id": "takahashi-1", "password": "Ocean-lantern-51"}).status_code == 302


def test_wave_dash_typed_in_utf8_matches_the_cp932_file(app_ctx):
    """〜 (U+301C, as typed on a Mac) and ～ (what CP932 decodes to) give the same name."""
    utf8 = roster.parse_roster(csv_bytes("wave-1,山田〜太郎,,140007,,,,"))
    cp932 = roster.parse_roster(csv_bytes("wave-1,山田〜太郎,,140007,,,,", encoding="cp932"))
    assert utf8.ok and cp932.ok
    assert utf8.rows[0].name == cp932.rows[0].name == "山田～太郎"


def test_half_width_kana_and_full_width_letters_are_normalised(app_ctx):
    preview = roster.parse_roster(csv_bytes("ｔａｎａｋａ-01,田中 一郎,ﾀﾅｶ ｲﾁﾛｳ,１４０００７,,ﾌｧｼﾘﾃｰﾀｰ,,", encoding="cp932"))
    assert preview.ok, preview.errors
    [row] = preview.rows
    assert (row.login_id, row.furigana, row.org_code, row.roles) == ("tanaka-01", "タナカ イチロウ", "140007", (Role.FACILITATOR,))


def test_columns_may_come_in_any_order_and_optional_ones_may_be_missing(app_ctx):
    preview = roster.parse_roster(csv_bytes("140007,鈴木 次郎,suzuki-2", header="所属コード,氏名,ログインID"))
    assert preview.ok, preview.errors
    [row] = preview.rows
    assert (row.login_id, row.name, row.roles, row.password) == ("suzuki-2", "鈴木 次郎", (Role.TRAINEE,), "")


def test_row_under_an_office_is_placed_in_that_office(app, app_ctx, make_org):
    city = make_org("藤沢市", code="142051")
    office = make_org("ＮＰＯ法人 ひだまり～北～", city, kind=OrgKind.OFFICE)
    # the file spells the office with half-width letters and the CP932 wave dash
    preview = roster.parse_roster(csv_bytes("office-1,窓口 三郎,,142051,NPO法人 ひだまり～北～,,,", encoding="cp932"))
    assert preview.errors == []
    assert preview.rows[0].organization.id == office.id


def test_dry_run_checks_and_imports_nothing(app, runner, tmp_path):
    before = user_count(app)
    result = runner.invoke(args=["roster", "import", str(write(tmp_path, csv_bytes(GOOD_ROW))), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "1 行に誤りはありません" in result.output and "--dry-run" in result.output
    assert user_count(app) == before
    assert events(app, "roster.import") == []


def test_cli_import_is_audited(app, runner, tmp_path):
    result = runner.invoke(args=["roster", "import", str(write(tmp_path, csv_bytes(GOOD_ROW)))])
    assert result.exit_code == 0, result.output
    [event] = events(app, "roster.import")
    assert event.detail == {"rows": 1} and event.actor_id is None
    assert [e.subject for e in events(app, "user.create")] == ["trainee-01"]


# --- each kind of error: row, column and what is wrong ------------------------------------------

ROW_ERRORS = [
    # (row 2 is GOOD_ROW, the bad one is row 3)
    ("empty-login-id", ",山田 太郎,,140007,,,,", "ログインID", "空欄です"),
    ("bad-login-id", "山田たろう,山田 太郎,,140007,,,,", "ログインID", "半角英数字"),
    ("short-login-id", "ab,山田 太郎,,140007,,,,", "ログインID", "3〜64文字"),
    ("empty-name", "yamada-1,,,140007,,,,", "氏名", "空欄です"),
    ("long-name", f"yamada-1,{'山' * 81},,140007,,,,", "氏名", "80文字以内"),
    ("empty-org-code", "yamada-1,山田 太郎,,,,,,", "所属コード", "空欄です"),
    ("unknown-org-code", "yamada-1,山田 太郎,,999999,,,,", "所属コード", "「999999」に当たる組織が登録されていません"),
    ("unknown-office", "yamada-1,山田 太郎,,140007,存在しない窓口,,,", "事業所名", "神奈川県に「存在しない窓口」という事業所は登録されていません"),
    ("admin-role", "yamada-1,山田 太郎,,140007,,管理者,,", "役割", "「管理者」は指定できません"),
    ("unknown-role", "yamada-1,山田 太郎,,140007,,受講者、講師,,", "役割", "「講師」は指定できません"),
    ("bad-email", "yamada-1,山田 太郎,,140007,,,yamada@example,", "メールアドレス", "メールアドレスの形式ではありません"),
    ("short-password", "yamada-1,山田 太郎,,140007,,,,short-pw", "初期パスワード", "10文字以上"),
    ("repetitive-password", "yamada-1,山田 太郎,,140007,,,,aaaaaaaaaaab", "初期パスワード", "繰り返し"),
]


@pytest.mark.parametrize("line,column,phrase", [c[1:] for c in ROW_ERRORS], ids=[c[0] for c in ROW_ERRORS])
def test_row_error_names_row_column_and_problem(app_ctx, line, column, phrase):
    [(row, col, message)] = errors_of(csv_bytes(GOOD_ROW, line))
    assert (row, col) == (3, column)
    assert phrase in message


def test_duplicate_login_id_in_the_file_names_the_first_row(app_ctx):
    data = csv_bytes(GOOD_ROW, "other-1,別の 人,,140007,,,,", "trainee-01,同じ ID,,140007,,,,")
    assert errors_of(data) == [(4, "ログインID", "2行目と同じログインIDです。")]


def test_duplicate_after_full_width_normalisation_is_caught(app_ctx):
    data = csv_bytes(GOOD_ROW, "ｔｒａｉｎｅｅ-01,全角 入力,,140007,,,,")
    assert errors_of(data) == [(3, "ログインID", "2行目と同じログインIDです。")]


def test_login_id_already_registered(app_ctx, make_user):
    make_user(Role.TRAINEE, login_id="taken-id")
    [(row, column, message)] = errors_of(csv_bytes(GOOD_ROW, "taken-id,山田 太郎,,140007,,,,"))
    assert (row, column) == (3, "ログインID")
    assert "「taken-id」は既に登録されています" in message


def test_several_errors_in_one_row_are_all_reported(app_ctx):
    found = errors_of(csv_bytes(",,,999999,,講師,no-at-sign,"))
    assert [(r, c) for r, c, _ in found] == [(2, "ログインID"), (2, "氏名"), (2, "所属コード"), (2, "役割"), (2, "メールアドレス")]


def test_missing_required_header_column(app_ctx):
    [(row, column, message)] = errors_of(csv_bytes("yamada-1,140007", header="ログインID,所属コード"))
    assert (row, column) == (1, "")
    assert "見出し行に必須の列（氏名）がありません" in message


def test_file_without_a_header_row(app_ctx):
    """A file that starts with data: the header check names every required column."""
    [(row, _, message)] = errors_of("yamada-1,山田 太郎,140007\r\n".encode())
    assert row == 1 and "ログインID、氏名、所属コード" in message


def test_undecodable_bytes(app_ctx):
    data = csv_bytes(GOOD_ROW) + b"bad-1,\x81\xff,,140007,,,,\r\n"
    [(row, column, message)] = errors_of(data)
    assert (row, column) == (0, "")
    assert "文字コードを判別できません" in message and "CP932" in message


def test_empty_file(app_ctx):
    [(row, column, message)] = errors_of(b"")
    assert (row, column) == (1, "")
    assert "見出し行に必須の列" in message
    assert not roster.parse_roster(b"").ok


def test_header_only_file_has_nothing_to_import(app_ctx):
    assert errors_of(csv_bytes()) == [(0, "", "取り込む行がありません。")]


def test_row_numbers_count_blank_rows_as_a_spreadsheet_does(app_ctx):
    """Excel writes a cleared row as ",,,,,,,"; the rows after it keep their spreadsheet numbers."""
    data = csv_bytes(GOOD_ROW, ",,,,,,,", "", "yamada-1,,,140007,,,,")
    assert errors_of(data) == [(5, "氏名", "空欄です。")]


def test_row_error_reads_as_a_japanese_sentence(app_ctx):
    [error] = roster.parse_roster(csv_bytes("yamada-1,,,140007,,,,")).errors
    assert str(error) == "2行目「氏名」: 空欄です。"


# --- any error imports nothing -------------------------------------------------------------------

def test_cli_with_one_bad_row_imports_nothing(app, runner, tmp_path):
    before = user_count(app)
    data = csv_bytes(GOOD_ROW, "good-2,良い 行,,140007,,,,", "bad-3,悪い 行,,999999,,,,")
    result = runner.invoke(args=["roster", "import", str(write(tmp_path, data))])
    assert result.exit_code == 1
    assert "4行目「所属コード」" in result.output
    assert "1 件の誤りがあるため、何も取り込みませんでした" in result.output
    assert user_count(app) == before
    assert find_user(app, "trainee-01") is None
    assert events(app, "roster.import") == []


def test_apply_refuses_a_preview_with_errors(app_ctx):
    preview = roster.parse_roster(csv_bytes(GOOD_ROW, "bad-3,,,140007,,,,"))
    with pytest.raises(ValueError):
        roster.apply_roster(preview, actor=None, token="t" * 32)
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


# --- the web: preview, confirm, re-validation ----------------------------------------------------

def upload(client, data: bytes, name: str = "名簿.csv"):
    return client.post("/admin/roster", data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def payload_of(body: str) -> str:
    match = re.search(r'<input[^>]*name="payload"[^>]*value="([^"]+)"', body)
    assert match, "no confirm form"
    return match.group(1)


def confirm_data(body: str) -> dict[str, str]:
    """What the preview page's confirm form sends: the file and the preview's own token."""
    token = re.search(r'<input[^>]*name="token"[^>]*value="([^"]+)"', body)
    assert token, "no confirmation token"
    return {"payload": payload_of(body), "token": token.group(1)}


def test_web_preview_shows_rows_and_errors_and_writes_nothing(app, client, make_user, login):
    login(make_user(Role.ADMIN, login_id="admin-1"))
    before = user_count(app)
    response = upload(client, csv_bytes(GOOD_ROW, "bad-3,,,140007,,,,", "bad-4,悪い 行,,999999,,,,", encoding="cp932"))
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "2件の誤りがあります" in body
    assert "<td>3</td><td>氏名</td><td>空欄です。</td>" in body
    assert "<td>4</td><td>所属コード</td><td>「999999」に当たる組織が登録されていません。</td>" in body
    assert "trainee-01" in body and "研修 花子" in body  # the rows are shown too
    assert 'name="payload"' not in body  # no way to confirm
    assert user_count(app) == before


def test_web_preview_reports_undecodable_file(client, make_user, login):
    login(make_user(Role.ADMIN))
    response = upload(client, b"\x81\xff\x81\xff")
    assert response.status_code == 422
    assert "文字コードを判別できません" in response.get_data(as_text=True)


def test_web_confirm_creates_accounts_and_shows_generated_passwords_once(app, client, make_user, login):
    admin = make_user(Role.ADMIN, login_id="admin-1")
    login(admin)
    data = csv_bytes(GOOD_ROW, "gen-pass-1,自動 発行,,140007,,ファシリテーター,,", encoding="utf-8-sig")
    preview = upload(client, data)
    assert preview.status_code == 200
    body = preview.get_data(as_text=True)
    assert "2行すべてに誤りはありません" in body
    assert find_user(app, "trainee-01") is None  # the preview writes nothing

    done = client.post("/admin/roster/confirm", data=confirm_data(body))
    assert done.status_code == 200
    body = done.get_data(as_text=True)
    assert "2件のアカウントを作成しました" in body
    [generated] = re.findall(r"<code>([^<]+)</code>", body)
    assert "ファイルで指定したもの" in body  # the file's own password is not echoed
    assert "Good-pass-2024" not in body

    for login_id in ("trainee-01", "gen-pass-1"):
        user = find_user(app, login_id)
        assert user.must_change_password
    assert find_user(app, "gen-pass-1").role_names() == {"facilitator"}
    [event] = events(app, "roster.import")
    assert event.actor_id == admin.id and event.detail == {"rows": 2}

    # shown only on that page: not on the user pages, not on a second confirm
    gen_user = find_user(app, "gen-pass-1")
    assert generated not in client.get(f"/admin/users/{gen_user.id}").get_data(as_text=True)
    assert generated not in client.get("/admin/users").get_data(as_text=True)
    # the same confirmation sent again (a double click, a resend) shows the same result, creates nothing
    again = client.post("/admin/roster/confirm", data=confirm_data(preview.get_data(as_text=True)))
    assert again.status_code == 200
    assert re.findall(r"<code>([^<]+)</code>", again.get_data(as_text=True)) == [generated]
    assert len(events(app, "roster.import")) == 1
    # the same file uploaded again is a new import: every row is already registered
    reupload = upload(client, data)
    assert reupload.status_code == 422
    assert "既に登録されています" in reupload.get_data(as_text=True)
    assert len(events(app, "roster.import")) == 1

    other = app.test_client()
    response = other.post("/auth/login", data={"login_id": "gen-pass-1", "password": generated})
    assert response.headers["Location"].endswith("/auth/password")


def test_confirm_validates_again(app, client, make_user, login):
    """A login ID registered between the preview and the confirm: nothing is imported."""
    login(make_user(Role.ADMIN))
    body = upload(client, csv_bytes(GOOD_ROW, "late-comer,後から 登録,,140007,,,,")).get_data(as_text=True)
    confirm = confirm_data(body)
    make_user(Role.TRAINEE, login_id="late-comer")
    before = user_count(app)
    response = client.post("/admin/roster/confirm", data=confirm)
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "<td>3</td><td>ログインID</td><td>「late-comer」は既に登録されています。</td>" in text
    assert user_count(app) == before
    assert find_user(app, "trainee-01") is None
    assert events(app, "roster.import") == []


def test_confirm_rejects_a_tampered_payload(client, make_user, login):
    login(make_user(Role.ADMIN))
    assert client.post("/admin/roster/confirm", data={"payload": "not base64!", "token": "t" * 32}).status_code == 400
    assert client.post("/admin/roster/confirm", data={}).status_code == 400
    assert client.post("/admin/roster/confirm", data={"payload": "YQ==", "token": "short"}).status_code == 400
