"""The national view (国): the role x route matrix, no personal record anywhere, small jurisdictions
suppressed, and no subtraction (nationwide total minus the shown jurisdictions) that reveals one.

The world is the reviewers' (tests/test_review_access.build_world): 神奈川県 with 15 counted trainees,
the designated city 横浜市 with 3 and 大分県 with 3 (and the matrix's generic trainee in 神奈川県) — both small,
hidden together (6 people).
"""
from __future__ import annotations

import pytest

from tests.test_access import ANON, VISITORS
from trainer.models import Role
from tests.test_review_access import _body, client_for, make_world

NATIONAL = "national"
#: every other visitor of the access matrix (whatever roles it grows) is refused; anonymous goes to sign in
DENIED = {**dict.fromkeys(VISITORS, 403), ANON: 302}

#: (method, path template, expected status per visitor), picked up by test_access's route check.
AREA_MATRIX = [
    ("GET", "/national/", {**DENIED, NATIONAL: 200}),
    ("GET", "/national/mastery", {**DENIED, NATIONAL: 200}),
    ("GET", "/national/jurisdictions/{jurisdiction}", {**DENIED, NATIONAL: 200}),
    *[("GET", f"/national/exports/{kind}.{fmt}", {**DENIED, NATIONAL: 200})
      for kind in ("summary", "mastery") for fmt in ("csv", "xlsx")],
]

#: What a national viewer gets elsewhere: the other areas are closed to them.
ELSEWHERE = [
    ("GET", "/home", 302), ("GET", "/auth/password", 200), ("GET", "/verify", 200),
    ("GET", "/learn/", 403), ("GET", "/learn/progress", 403), ("GET", "/facilitate/", 403),
    ("GET", "/review/", 403), ("GET", "/review/mastery", 403), ("GET", "/review/trainees/{trainee}", 403),
    ("GET", "/review/exports/records.csv", 403), ("GET", "/review/certificates/{code}.pdf", 403),
    ("GET", "/admin/", 403), ("GET", "/admin/users", 403), ("GET", "/admin/audit", 403),
    ("GET", "/admin/opinions.csv", 403),
]

ALL_PAGES = ["/national/", "/national/?course=basic", "/national/mastery", "/national/jurisdictions/{kanagawa}",
             "/national/jurisdictions/{yokohama}", "/national/jurisdictions/{oita}",
             *[f"/national/exports/{k}.{f}" for k in ("summary", "mastery") for f in ("csv", "xlsx")],
             "/national/exports/summary.csv?encoding=cp932"]


@pytest.fixture(scope="module")
def world(app, tmp_path_factory):
    from tests.conftest import PASSWORD
    from trainer.extensions import db
    from trainer.models import Role
    from trainer.services import accounts, orgs

    world = make_world(app, tmp_path_factory)
    with app.app_context():
        accounts.create_user(login_id="national-1", display_name="全国 閲覧", organization=orgs.by_code("130001"),
                             password=PASSWORD, roles=[Role.NATIONAL])
        db.session.commit()
    world["paths"].update(jurisdiction=world["ids"]["kanagawa"], **world["ids"])
    yield world
    with app.app_context():
        db.session.remove()


@pytest.fixture(scope="module")
def nat(app, world):
    """A national viewer's browser, signed in once for the module (sign-ins are rate-limited)."""
    return client_for(app, "national-1")


@pytest.mark.parametrize("visitor", (*VISITORS, NATIONAL))
@pytest.mark.parametrize("method,template,expected", AREA_MATRIX, ids=[f"{m} {t}" for m, t, _ in AREA_MATRIX])
def test_national_route_access(app, world, visitor, method, template, expected):
    client = client_for(app, None if visitor == ANON else f"{visitor}-1")
    path = template.format(**world["paths"])
    response = client.open(path, method=method)
    assert response.status_code == expected[visitor], f"{visitor} {method} {path}"
    if visitor == ANON:
        assert "/auth/login" in response.headers["Location"]


@pytest.mark.parametrize("method,template,expected", ELSEWHERE, ids=[f"{m} {t}" for m, t, _ in ELSEWHERE])
def test_a_national_viewer_reaches_only_the_national_area(app, world, nat, method, template, expected):
    response = nat.open(template.format(**world["paths"]), method=method)
    assert response.status_code == expected
    if template == "/home":
        assert response.headers["Location"].endswith("/national/")


def test_guessed_ids_are_not_found(app, world, nat):
    """Only a jurisdiction's id opens a page: a municipality, an office or a number that is nothing
    are all 404, and no national route takes a trainee, a certificate or a municipality at all."""
    client = nat
    ids = world["ids"]
    for guess in (ids["fujisawa"], ids["office"], ids["naka"], 999_999, 2_000_000_000):
        assert client.get(f"/national/jurisdictions/{guess}").status_code == 404
    trainee, code = world["users"]["fuji"][0], world["codes"]["heisei"]
    for path in (f"/national/trainees/{trainee}", f"/national/certificates/{code}.pdf",
                 f"/national/municipalities/{ids['fujisawa']}", "/national/exports/records.csv"):
        assert client.get(path).status_code == 404


def test_no_personal_record_on_any_national_page_or_export(app, world, nat):
    from trainer.extensions import db
    from trainer.models import User

    client = nat
    with app.app_context():
        people = db.session.query(User.display_name, User.login_id, User.furigana).filter(
            User.login_id.like("rv-user-%")).all()
    words = {w for row in people for w in row if w and len(w) > 1} | {"ふじさわ", "ここだけの振り返り"}
    words |= set(world["codes"].values()) | {"藤沢市", "鎌倉市", "横須賀市", "横浜市中区", "別府市", "ふじさわ相談窓口"}
    for template in ALL_PAGES:
        response = client.get(template.format(**world["ids"]))
        assert response.status_code == 200, template
        body = _body(response)
        leaked = sorted(w for w in words if w in body)
        assert leaked == [], f"{template}: {leaked}"


def _csv(response) -> list[list[str]]:
    from trainer.services.spreadsheets import read_csv_table

    _, rows = read_csv_table(response.get_data())
    return rows


def test_small_jurisdictions_are_suppressed_on_screen_and_in_exports(app, world, nat):
    client = nat
    home = client.get("/national/").get_data(as_text=True)
    assert "非表示（少人数のため" in home
    rows = _csv(client.get("/national/exports/summary.csv"))
    header, body = rows[0], rows[1:]
    name, registered, practised = header.index("名称"), header.index("登録受講者数"), header.index("練習した受講者数")
    by_name = {r[name]: r for r in body}
    # 15 trainees of the world and the matrix's generic trainee; 15 of them practised
    assert by_name["神奈川県"][registered] == "16" and by_name["神奈川県"][practised] == "15"
    for small in ("横浜市", "大分県"):
        assert by_name[small][registered] == "" and by_name[small][practised] == "", small
        assert "非表示" in by_name[small][-1]
    assert by_name["全国の計"][registered] == "22" and by_name["全国の計"][practised] == "21"
    # the jurisdiction page of a small one withholds everything too
    page = client.get(f"/national/jurisdictions/{world['ids']['oita']}").get_data(as_text=True)
    assert "少人数のため、表示しません" in page and "定着" not in page.split("50の支援のポイント")[1].split("</p>")[1]


def test_a_jurisdictions_row_tells_the_same_story_as_its_reviewer(app, world):
    """One definition per word: the national row of a jurisdiction and its reviewers' total agree on
    registered, started, completed per course and trainees who practised."""
    from trainer.services import figures, mastery_report, national, review

    with app.app_context():
        cat = review.catalogue()
        report = national.report(cat)
        for key in ("kanagawa", "yokohama", "oita"):
            scope = review.load_scope(world["ids"][key])
            total = figures.overview(scope, review.Filters(), cat).total
            row = report.group(world["ids"][key])
            assert (row.figures.registered, row.figures.started, row.figures.completed) == \
                (total.registered, total.started, total.completed), key
            assert row.figures.completed.get("basic", 0) >= 1, key  # each has a completion in the world
            practised = mastery_report.mastery_report(scope, review.Filters()).total.practised
            assert row.mastery.practised == practised, key


def test_the_workbook_matches_the_screen(app, world, nat):
    """XLSX: a 「条件」 sheet, then jurisdictions, programme subtotals and the total, one kind of row
    per sheet; small jurisdictions have empty cells and say why."""
    import io

    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(nat.get("/national/exports/summary.xlsx?course=basic").get_data()))
    assert book.sheetnames == ["条件", "都道府県・政令指定都市別", "実施事業別の計", "全国の計"]
    conditions = {row[0]: row[1] for row in book["条件"].iter_rows(values_only=True)}
    assert conditions["管轄"] == "全国" and conditions["コース"] == "ハンドブック研修 基礎"
    rows = list(book["都道府県・政令指定都市別"].iter_rows(values_only=True))
    header, body = rows[0], {r[2]: r for r in rows[1:]}
    assert len(body) == 67 and "ハンドブック研修 応用 修了者数" not in header
    assert body["神奈川県"][header.index("登録受講者数")] == 16
    assert body["大分県"][header.index("登録受講者数")] is None and "非表示" in body["大分県"][-1]
    [total] = list(book["全国の計"].iter_rows(values_only=True))[1:]
    assert total[header.index("登録受講者数")] == 22


def test_subtracting_shown_rows_from_the_total_reveals_no_small_group(app, world, nat):
    """For the jurisdictions and for the programmes (two sets of groups under the same total), the
    total minus what is shown is 0 or at least the minimum group size, in both exports."""
    from trainer.services.disclosure import MIN_GROUP_SIZE

    client = nat
    rows = _csv(client.get("/national/exports/summary.csv"))
    header, body = rows[0], rows[1:]
    kind = header.index("区分")
    total = next(r for r in body if r[kind] == "全国")
    for column in ("登録受講者数", "受講開始者数", "練習した受講者数"):
        c = header.index(column)
        for part in (("都道府県", "政令指定都市"), ("実施事業別の計",)):
            shown = sum(int(r[c]) for r in body if r[kind] in part and r[c] != "")
            rest = int(total[c]) - shown
            assert rest == 0 or rest >= MIN_GROUP_SIZE, (column, part, rest)
    mastery = _csv(client.get("/national/exports/mastery.csv"))
    head, lines = mastery[0], mastery[1:]
    c_kind, c_point, c_secure = head.index("区分"), head.index("ポイントID"), head.index("定着（人）")
    for point in {r[c_point] for r in lines}:
        mine = [r for r in lines if r[c_point] == point]
        whole = int(next(r for r in mine if r[c_kind] == "全国")[c_secure] or 0)
        shown = sum(int(r[c_secure]) for r in mine if r[c_kind] in ("都道府県", "政令指定都市") and r[c_secure] != "")
        practised_rest = 3 + 3  # the two hidden jurisdictions together
        assert 0 <= whole - shown <= practised_rest


def test_complementary_suppression_hides_the_next_smallest():
    """One small jurisdiction alone would be the total minus the others: the smallest shown one is
    hidden with it, and a total that is itself too small hides everything."""
    from trainer.services import national
    from trainer.services.disclosure import suppressed_groups
    from trainer.services.figures import Figures

    def group(key, n):
        return national.Group(key, key, figures=Figures(registered=n))

    total = national.Group("total", "全国", figures=Figures(registered=2 + 6 + 40))
    groups = [group("東京都", 2), group("大分県", 6), group("神奈川県", 40)]
    national._suppress(total, groups, 5)
    assert [g.hidden for g in groups] == [True, True, False]
    assert suppressed_groups({1: 2, 2: 6, 3: 40}, 5) == {1, 2}
    tiny_total = national.Group("total", "全国", figures=Figures(registered=4))
    tiny = [group("東京都", 4), group("大分県", 0)]
    national._suppress(tiny_total, tiny, 5)
    assert tiny_total.hidden and tiny[0].hidden and not tiny[1].hidden


def test_a_course_that_does_not_exist_is_a_japanese_400(app, world, nat):
    response = nat.get("/national/?course=nope")
    assert response.status_code == 400
    assert "コースの指定が正しくありません" in response.get_data(as_text=True)
    assert nat.get("/national/exports/summary.csv?course=nope").status_code == 400
    assert nat.get("/national/exports/summary.csv?encoding=latin-1").status_code == 400


def test_exports_are_audited_and_pages_are_not_personal(app, world, nat):
    from sqlalchemy import select

    from trainer.extensions import db
    from trainer.models import AuditEvent

    client = nat
    with app.app_context():
        before = db.session.scalar(select(db.func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "national.export"))
    response = client.get("/national/exports/mastery.xlsx")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    foreign = client.get("/national/exports/summary.csv", headers={"Sec-Fetch-Site": "cross-site"})
    assert foreign.status_code == 200 and "text/html" in foreign.content_type  # a confirmation, no export
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "national.export")
                                    .order_by(AuditEvent.id)).all()
    assert len(events) == before + 1
    assert events[-1].actor_label == "national-1" and events[-1].detail["kind"] == "mastery"


def test_an_administrator_grants_the_national_role(app, client, make_user, login):
    """The role is given on the admin's user page like any other (no jurisdiction needed), and the
    person's home becomes the national view; the change is audited."""
    from sqlalchemy import select

    from tests.conftest import PASSWORD
    from trainer.extensions import db
    from trainer.models import AuditEvent

    person = make_user(login_id="future-national")
    login(make_user(Role.ADMIN))
    assert "国" in client.get(f"/admin/users/{person.id}").get_data(as_text=True)
    response = client.post(f"/admin/users/{person.id}/roles", data={"roles": ["national"], "scope": ""})
    assert response.status_code == 302
    other = app.test_client()
    assert other.post("/auth/login", data={"login_id": "future-national", "password": PASSWORD}).status_code == 302
    assert other.get("/home").headers["Location"].endswith("/national/")
    assert other.get("/national/").status_code == 200 and other.get("/learn/").status_code == 403
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "role.change")).all()[-1]
    assert event.subject == "future-national" and event.detail["after"] == ["national"]
