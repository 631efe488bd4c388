"""Organizations: the seeded jurisdictions, municipality import, offices, programmes, review scope."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import func, select

from trainer import policies
from trainer.extensions import db
from trainer.models import AuditEvent, Organization, OrgKind, Programme, Role, User
from trainer.services import orgs

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "trainer" / "seed" / "municipalities-sample.csv"
HEADER = "団体コード,都道府県名（漢字）,市区町村名（漢字）,都道府県名（カナ）,市区町村名（カナ）"

#: 全国地方公共団体コード of the 47 prefectures, in code order (an independent copy of the official list).
PREFECTURES = [
    ("010006", "北海道"), ("020001", "青森県"), ("030007", "岩手県"), ("040002", "宮城県"), ("050008", "秋田県"),
    ("060003", "山形県"), ("070009", "福島県"), ("080004", "茨城県"), ("090000", "栃木県"), ("100005", "群馬県"),
    ("110001", "埼玉県"), ("120006", "千葉県"), ("130001", "東京都"), ("140007", "神奈川県"), ("150002", "新潟県"),
    ("160008", "富山県"), ("170003", "石川県"), ("180009", "福井県"), ("190004", "山梨県"), ("200000", "長野県"),
    ("210005", "岐阜県"), ("220001", "静岡県"), ("230006", "愛知県"), ("240001", "三重県"), ("250007", "滋賀県"),
    ("260002", "京都府"), ("270008", "大阪府"), ("280003", "兵庫県"), ("290009", "奈良県"), ("300004", "和歌山県"),
    ("310000", "鳥取県"), ("320005", "島根県"), ("330001", "岡山県"), ("340006", "広島県"), ("350001", "山口県"),
    ("360007", "徳島県"), ("370002", "香川県"), ("380008", "愛媛県"), ("390003", "高知県"), ("400009", "福岡県"),
    ("410004", "佐賀県"), ("420000", "長崎県"), ("430005", "熊本県"), ("440001", "大分県"), ("450006", "宮崎県"),
    ("460001", "鹿児島県"), ("470007", "沖縄県"),
]

#: The 20 政令指定都市 with their codes and prefectures.
DESIGNATED_CITIES = [
    ("011002", "札幌市", "010006"), ("041009", "仙台市", "040002"), ("111007", "さいたま市", "110001"),
    ("121002", "千葉市", "120006"), ("141003", "横浜市", "140007"), ("141305", "川崎市", "140007"),
    ("141500", "相模原市", "140007"), ("151009", "新潟市", "150002"), ("221007", "静岡市", "220001"),
    ("221309", "浜松市", "220001"), ("231002", "名古屋市", "230006"), ("261009", "京都市", "260002"),
    ("271004", "大阪市", "270008"), ("271403", "堺市", "270008"), ("281000", "神戸市", "280003"),
    ("331007", "岡山市", "330001"), ("341002", "広島市", "340006"), ("401005", "北九州市", "400009"),
    ("401307", "福岡市", "400009"), ("431001", "熊本市", "430005"),
]


def org_count(app, kind: OrgKind | None = None) -> int:
    with app.app_context():
        stmt = select(func.count()).select_from(Organization)
        if kind is not None:
            stmt = stmt.where(Organization.kind == kind)
        return db.session.scalar(stmt)


def get_org(app, code: str) -> Organization | None:
    with app.app_context():
        org = orgs.by_code(code)
        if org is not None:
            _ = org.parent
        return org


def events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def write_csv(tmp_path, *rows: str, header: str = HEADER, encoding: str = "utf-8") -> Path:
    path = tmp_path / "codes.csv"
    path.write_bytes("".join(f"{line}\r\n" for line in (header, *rows)).encode(encoding))
    return path


# --- the seeded jurisdictions ------------------------------------------------------------------

def test_47_prefectures_are_seeded_with_their_codes(app_ctx):
    seeded = [(o.code, o.name) for o in orgs.jurisdictions() if o.kind == OrgKind.PREFECTURE]
    assert seeded == PREFECTURES
    for org in orgs.jurisdictions():
        assert org.jurisdiction_id == org.id  # each is its own review jurisdiction


def test_20_designated_cities_are_seeded_under_their_prefectures(app_ctx):
    cities = [o for o in orgs.jurisdictions() if o.kind == OrgKind.DESIGNATED_CITY]
    assert [(o.code, o.name, o.parent.code) for o in cities] == DESIGNATED_CITIES
    assert all(o.programme == Programme.NONE for o in cities)
    assert len(orgs.jurisdictions()) == 67


@pytest.mark.parametrize("code,name", [("011002", "札幌市"), ("281000", "神戸市"), ("440001", "大分県"), ("130001", "東京都")])
def test_known_codes(app_ctx, code, name):
    assert orgs.by_code(code).name == name
    assert orgs.check_digit_ok(code)


@pytest.mark.parametrize("code", ["011001", "281003", "440000", "14000", "1400070", "14000a", ""])
def test_check_digit_rejects_wrong_codes(code):
    assert not orgs.check_digit_ok(code)


def test_every_seeded_code_has_a_valid_check_digit(app_ctx):
    assert all(orgs.check_digit_ok(o.code) for o in orgs.jurisdictions())


def test_seeding_again_creates_nothing(app_ctx):
    assert orgs.seed_jurisdictions() == 0
    assert db.session.scalar(select(func.count()).select_from(Organization)) == 67


# --- `trainer org import` -------------------------------------------------------------------------

def test_cli_imports_the_sample_and_is_idempotent(app, runner):
    result = runner.invoke(args=["org", "import", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    assert "新規 15 件、更新 0 件、変更なし 0 件" in result.output
    assert org_count(app, OrgKind.MUNICIPALITY) == 15

    again = runner.invoke(args=["org", "import", str(SAMPLE)])
    assert again.exit_code == 0, again.output
    assert "新規 0 件、更新 0 件、変更なし 15 件" in again.output
    assert org_count(app, OrgKind.MUNICIPALITY) == 15
    assert [e.detail["created"] for e in events(app, "org.import")] == [15, 0]


def test_wards_go_under_their_designated_city(app, runner):
    runner.invoke(args=["org", "import", str(SAMPLE)])
    yokohama, kanagawa = get_org(app, "141003"), get_org(app, "140007")
    naka = get_org(app, "141046")
    assert naka.name == "横浜市中区" and naka.kind == OrgKind.MUNICIPALITY
    assert naka.parent_id == yokohama.id
    assert naka.jurisdiction_id == yokohama.id != kanagawa.id
    assert naka.kana == "ヨコハマシナカク"
    assert get_org(app, "011011").parent_id == get_org(app, "011002").id  # 札幌市中央区 under 札幌市
    # ordinary municipalities go under their prefecture
    fujisawa = get_org(app, "142051")
    assert fujisawa.parent_id == fujisawa.jurisdiction_id == kanagawa.id
    assert fujisawa.programme == Programme.NONE
    assert get_org(app, "442011").parent.name == "大分県"  # 大分市 is not a designated city


def test_rerun_updates_a_renamed_municipality(app, runner, tmp_path):
    runner.invoke(args=["org", "import", str(write_csv(tmp_path, "142051,神奈川県,藤沢市,カナガワケン,フジサワシ"))])
    result = runner.invoke(args=["org", "import", str(write_csv(tmp_path, "142051,神奈川県,藤沢市,カナガワケン,フジサワ"))])
    assert "新規 0 件、更新 1 件" in result.output
    assert get_org(app, "142051").kana == "フジサワ"


BAD_ROWS = [
    ("wrong-check-digit", "142052,神奈川県,藤沢市,,", 3, "団体コード", "6桁の全国地方公共団体コードではありません"),
    ("prefecture-mismatch", "142051,東京都,藤沢市,,", 3, "都道府県名", "団体コード 142051 の都道府県と一致しません"),
    ("duplicate-code", "142018,神奈川県,横須賀市,,", 3, "団体コード", "2行目と重複しています"),
    ("empty-name", "142042,神奈川県,,,", 3, "市区町村名", "空欄です"),
]


@pytest.mark.parametrize("line,row,column,phrase", [b[1:] for b in BAD_ROWS], ids=[b[0] for b in BAD_ROWS])
def test_bad_row_is_named_and_nothing_is_imported(app, runner, tmp_path, line, row, column, phrase):
    before = org_count(app)
    path = write_csv(tmp_path, "142018,神奈川県,横須賀市,カナガワケン,ヨコスカシ", line)
    result = runner.invoke(args=["org", "import", str(path)])
    assert result.exit_code == 1
    assert f"{row}行目「{column}」: " in result.output and phrase in result.output
    assert "何も取り込みませんでした" in result.output
    assert org_count(app) == before
    assert get_org(app, "142018") is None  # the good row was not imported either


def test_missing_columns_are_named(app, runner, tmp_path):
    path = write_csv(tmp_path, "142051,藤沢市", header="団体コード,市区町村名")
    result = runner.invoke(args=["org", "import", str(path)])
    assert result.exit_code == 1
    assert "1行目「都道府県名」: 必須の列がありません。" in result.output
    assert org_count(app) == 67


def test_undecodable_file_is_refused(app, runner, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(HEADER.encode() + b"\r\n\x81\xff\r\n")
    result = runner.invoke(args=["org", "import", str(path)])
    assert result.exit_code == 1 and "文字コードを判別できません" in result.output


def test_half_width_kana_cp932_file(app, runner, tmp_path):
    """The official list's kana is half-width, and Excel in Japan saves CSV as CP932."""
    path = write_csv(tmp_path, "142051,神奈川県,藤沢市,ｶﾅｶﾞﾜｹﾝ,ﾌｼﾞｻﾜｼ", "142042,神奈川県,鎌倉市,ｶﾅｶﾞﾜｹﾝ,ｶﾏｸﾗｼ",
                     encoding="cp932")
    assert path.read_bytes().decode("cp932")  # really CP932 ...
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")  # ... and not UTF-8
    result = runner.invoke(args=["org", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "新規 2 件" in result.output
    assert get_org(app, "142051").kana == "フジサワシ"
    assert get_org(app, "142042").kana == "カマクラシ"


def test_official_list_with_prefecture_and_designated_city_rows(app, runner, tmp_path):
    """The official code list also has a row per prefecture (no municipality name) and per designated city."""
    path = write_csv(
        tmp_path,
        "140007,神奈川県,,ｶﾅｶﾞﾜｹﾝ,",
        "141003,神奈川県,横浜市,ｶﾅｶﾞﾜｹﾝ,ﾖｺﾊﾏｼ",
        "141046,神奈川県,横浜市中区,ｶﾅｶﾞﾜｹﾝ,ﾖｺﾊﾏｼﾅｶｸ",
        header="団体コード,\"都道府県名\n（漢字）\",\"市区町村名\n（漢字）\",\"都道府県名\n（カナ）\",\"市区町村名\n（カナ）\"",
        encoding="cp932",
    )
    result = runner.invoke(args=["org", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "新規 1 件、更新 0 件、変更なし 2 件" in result.output
    assert get_org(app, "140007").kind == OrgKind.PREFECTURE and get_org(app, "140007").name == "神奈川県"
    assert get_org(app, "141046").parent.code == "141003"


# --- the web ---------------------------------------------------------------------------------

def upload(client, data: bytes):
    return client.post("/admin/orgs/import", data={"file": (io.BytesIO(data), "codes.csv")},
                       content_type="multipart/form-data")


def test_web_import(app, client, make_user, login):
    admin = make_user(Role.ADMIN, login_id="admin-1")
    login(admin)
    response = upload(client, SAMPLE.read_bytes())
    assert response.status_code == 302
    body = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "市区町村を取り込みました（新規 15件、更新 0件、変更なし 0件）" in body
    assert org_count(app, OrgKind.MUNICIPALITY) == 15
    [event] = events(app, "org.import")
    assert event.actor_id == admin.id


def test_web_import_with_errors_shows_them_and_imports_nothing(app, client, make_user, login):
    login(make_user(Role.ADMIN))
    data = f"{HEADER}\r\n142051,神奈川県,藤沢市,,\r\n142052,神奈川県,鎌倉市,,\r\n".encode("cp932")
    response = upload(client, data)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "1件の誤りがあるため、取り込みませんでした" in body
    assert "3行目「団体コード」" in body
    assert org_count(app, OrgKind.MUNICIPALITY) == 0


def test_web_import_without_a_file(client, make_user, login):
    login(make_user(Role.ADMIN))
    response = client.post("/admin/orgs/import", data={}, follow_redirects=True)
    assert "CSVファイルを選んでください" in response.get_data(as_text=True)


def test_admin_creates_an_office_and_it_is_audited(app, client, make_user, make_org, login):
    admin = make_user(Role.ADMIN, login_id="admin-1")
    city = make_org("藤沢市", code="142051")
    login(admin)
    response = client.post(f"/admin/orgs/{city.id}/offices", data={"name": " 藤沢市ひきこもり相談窓口 ", "office_type": "相談窓口"})
    assert response.status_code == 302
    with app.app_context():
        [office] = db.session.scalars(select(Organization).where(Organization.kind == OrgKind.OFFICE))
        assert (office.name, office.office_type, office.parent_id) == ("藤沢市ひきこもり相談窓口", "相談窓口", city.id)
        assert office.jurisdiction_id == orgs.by_code("140007").id
    [event] = events(app, "org.create")
    assert event.actor_id == admin.id and event.subject == "神奈川県 藤沢市 藤沢市ひきこもり相談窓口"
    assert "藤沢市ひきこもり相談窓口" in client.get(f"/admin/orgs/{city.id}").get_data(as_text=True)


def test_office_needs_a_name(app, client, make_user, make_org, login):
    city = make_org("藤沢市", code="142051")
    login(make_user(Role.ADMIN))
    response = client.post(f"/admin/orgs/{city.id}/offices", data={"name": "", "office_type": "相談窓口"}, follow_redirects=True)
    assert "名称を入力してください" in response.get_data(as_text=True)
    assert org_count(app, OrgKind.OFFICE) == 0


def test_admin_sets_a_municipality_programme(app, client, make_user, make_org, login):
    admin = make_user(Role.ADMIN)
    city = make_org("藤沢市", code="142051")
    login(admin)
    response = client.post(f"/admin/orgs/{city.id}/programme", data={"programme": "station"})
    assert response.status_code == 302
    assert get_org(app, "142051").programme == Programme.STATION
    [event] = events(app, "org.update")
    assert event.detail == {"programme": "station"} and event.actor_id == admin.id
    body = client.get(f"/admin/orgs/{city.id}").get_data(as_text=True)
    assert '<option selected value="station">' in body or 'value="station" selected' in body


def test_programme_is_refused_for_a_prefecture_and_unknown_values(app, client, make_user, login):
    login(make_user(Role.ADMIN))
    kanagawa = get_org(app, "140007")
    client.post(f"/admin/orgs/{kanagawa.id}/programme", data={"programme": "center"})
    assert get_org(app, "140007").programme is None
    yokohama = get_org(app, "141003")
    client.post(f"/admin/orgs/{yokohama.id}/programme", data={"programme": "everything"})
    assert get_org(app, "141003").programme == Programme.NONE
    assert events(app, "org.update") == []


# --- a designated city is its own jurisdiction ---------------------------------------------------

@pytest.fixture
def kanagawa_tree(app, runner, make_org):
    """The sample municipalities plus an office in 横浜市中区 and one in 藤沢市."""
    assert runner.invoke(args=["org", "import", str(SAMPLE)]).exit_code == 0
    naka, fujisawa = get_org(app, "141046"), get_org(app, "142051")
    return {
        "naka_office": make_org("中区ひきこもり相談窓口", naka, kind=OrgKind.OFFICE),
        "fujisawa_office": make_org("藤沢市相談窓口", fujisawa, kind=OrgKind.OFFICE),
    }


def test_designated_city_is_outside_its_prefectures_scope(app, make_user, kanagawa_tree):
    pref_reviewer = make_user(Role.REVIEWER, scope="140007")
    city_reviewer = make_user(Role.REVIEWER, scope="141003")
    with app.app_context():
        pref = db.session.get(User, pref_reviewer.id)
        city = db.session.get(User, city_reviewer.id)
        yokohama, naka, fujisawa = orgs.by_code("141003"), orgs.by_code("141046"), orgs.by_code("142051")
        naka_office = db.session.get(Organization, kanagawa_tree["naka_office"].id)
        fujisawa_office = db.session.get(Organization, kanagawa_tree["fujisawa_office"].id)
        for org in (yokohama, naka, naka_office):
            assert not policies.org_in_scope(pref, org), org.name
            assert policies.org_in_scope(city, org), org.name
        for org in (orgs.by_code("140007"), fujisawa, fujisawa_office):
            assert policies.org_in_scope(pref, org), org.name
            assert not policies.org_in_scope(city, org), org.name
        assert not policies.org_in_scope(pref, orgs.by_code("130001"))


def test_reviewer_sees_records_only_in_scope(app, make_user, kanagawa_tree):
    pref_reviewer = make_user(Role.REVIEWER, scope="140007")
    naka_trainee = make_user(Role.TRAINEE, org=kanagawa_tree["naka_office"])
    fujisawa_trainee = make_user(Role.TRAINEE, org=kanagawa_tree["fujisawa_office"])
    with app.app_context():
        reviewer = db.session.get(User, pref_reviewer.id)
        assert policies.can_view_record(reviewer, db.session.get(User, fujisawa_trainee.id))
        assert not policies.can_view_record(reviewer, db.session.get(User, naka_trainee.id))


def test_reviewer_home_lists_only_its_jurisdiction(app, client, make_user, login, kanagawa_tree):
    make_user(Role.TRAINEE, org=kanagawa_tree["naka_office"])
    login(make_user(Role.REVIEWER, scope="141003"))
    body = client.get("/review/").get_data(as_text=True)
    assert "横浜市中区" in body and "横浜市鶴見区" in body
    assert "藤沢市" not in body and "横須賀市" not in body and "札幌市" not in body
    # the trainee in the 中区 office counts toward 横浜市中区
    assert '<th scope="row">横浜市中区</th><td>未実施</td><td class="num">1</td>' in body


def test_prefecture_reviewer_home_leaves_out_designated_cities(client, make_user, login, kanagawa_tree):
    login(make_user(Role.REVIEWER, scope="140007"))
    body = client.get("/review/").get_data(as_text=True)
    for name in ("横須賀市", "鎌倉市", "藤沢市"):
        assert f'<th scope="row">{name}</th>' in body
    for name in ("横浜市", "横浜市中区", "川崎市", "相模原市", "千代田区"):
        assert f'<th scope="row">{name}</th>' not in body
