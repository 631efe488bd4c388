"""Reviewer routes: the role x route matrix, and isolation between jurisdictions.

The world: 神奈川県 (藤沢市 with an office, 鎌倉市, 横須賀市), the designated city 横浜市 inside 神奈川県
(its ward 横浜市中区 is the city's own jurisdiction), and 大分県 (別府市), each with trainees, attempts,
answers (with a free-text reflection), course completions and certificates. Reviewers of 神奈川県,
横浜市 and 大分県 must each see only their own jurisdiction, whatever IDs they put in URLs or filters.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tests.test_access import ADMIN, ANON, FACILITATOR, REVIEWER, ROLE_OF, TRAINEE, VISITORS

JST = ZoneInfo("Asia/Tokyo")
REFLECTION = "ここだけの振り返りの記述"
FORMULA_NAME = '=HYPERLINK("http://evil.example","開く")'
REGISTERED = datetime(2019, 1, 7, tzinfo=timezone.utc)
DENIED = {ANON: 302, TRAINEE: 403, FACILITATOR: 403, ADMIN: 403}

#: (method, path template, expected status per visitor), picked up by test_access's route check.
AREA_MATRIX = [
    ("GET", "/review/", {**DENIED, REVIEWER: 200}),
    ("GET", "/review/mastery", {**DENIED, REVIEWER: 200}),
    ("GET", "/review/municipalities/{unit}", {**DENIED, REVIEWER: 200}),
    ("GET", "/review/trainees/{trainee}", {**DENIED, REVIEWER: 200}),
    ("GET", "/review/certificates/{code}.pdf", {**DENIED, REVIEWER: 200}),
    ("GET", "/review/municipalities/{unit}/certificates.zip", {**DENIED, REVIEWER: 200}),
    *[("GET", f"/review/exports/{kind}.{fmt}", {**DENIED, REVIEWER: 200})
      for kind in ("summary", "modules", "records", "courses", "mastery") for fmt in ("csv", "xlsx")],
]


def _at(day: str, hour: int = 10, minute: int = 0) -> datetime:
    """A moment in Asia/Tokyo (the attempts of the world are dated in local time)."""
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=JST)


class WorldBuilder:
    """Organizations, accounts and progress for the reviewer tests (inside an app context)."""

    def __init__(self, password: str):
        from sqlalchemy import select

        from trainer.extensions import db
        from trainer.models import Question

        self.db, self.password, self.n = db, password, 0
        questions = db.session.scalars(select(Question).where(Question.retired_at.is_(None))).all()
        self.questions: dict[str, list] = {}
        for q in sorted(questions, key=lambda q: q.id):
            self.questions.setdefault(q.module_id, []).append(q)

    def org(self, name: str, parent_code: str | None = None, *, parent=None, code: str | None = None,
            programme: str = "none", kana: str | None = None):
        from trainer.models import Organization
        from trainer.services import orgs

        parent = parent or orgs.by_code(parent_code)
        org = Organization(name=name, code=code, kind="municipality", parent=parent, programme=programme,
                           kana=kana, jurisdiction_id=orgs.jurisdiction_for(parent))
        self.db.session.add(org)
        self.db.session.flush()
        return org

    def user(self, name: str, org, *roles, scope=None, active: bool = True, furigana: str | None = None):
        from trainer.models import Role
        from trainer.services import accounts

        self.n += 1
        user = accounts.create_user(login_id=f"rv-user-{self.n:03d}", display_name=name, organization=org,
                                    password=self.password, roles=roles or (Role.TRAINEE,), reviewer_scope=scope,
                                    furigana=furigana)
        user.active = active
        user.created_at = REGISTERED
        self.db.session.flush()
        return user

    def attempt(self, user, module_id: str, started: datetime, completed: datetime | None = None,
                score: float | None = None, answer_score: float = 1.0, number: int = 1):
        """An attempt with an answer to every question (scored ones get ``answer_score``)."""
        from trainer.models import Answer, Attempt
        from trainer.services import mastery

        attempt = Attempt(user_id=user.id, module_id=module_id, number=number, started_at=started,
                          last_activity_at=completed or started + timedelta(minutes=20), completed_at=completed,
                          score=score, seconds_spent=600)
        self.db.session.add(attempt)
        self.db.session.flush()
        for i, q in enumerate(self.questions[module_id]):
            version = q.current_version
            scored = version.type in ("single", "multiple", "ordering")
            response = {"text": REFLECTION} if version.type == "reflection" else {"choice": "a"}
            self.db.session.add(Answer(
                attempt_id=attempt.id, user_id=user.id, question_id=q.id, version_id=version.id,
                token=f"t{attempt.id}-{i}", response=response, score=answer_score if scored else None,
                rating="best" if scored else None, created_at=started + timedelta(minutes=i + 1)))
        self.db.session.flush()
        mastery.mark_dirty(self.db.session.connection(), user.id, started)  # as the answer path does
        return attempt

    def complete_course(self, user, course_id: str, last_day: datetime, score: float = 80.0):
        """Complete every module of a course; the last one completes at ``last_day``; issue the certificate."""
        from trainer.models import Course
        from trainer.services import certificates

        course = self.db.session.get(Course, course_id)
        for i, module_id in enumerate(course.module_ids):
            done = last_day if i == len(course.module_ids) - 1 else last_day - timedelta(days=10 - i)
            self.attempt(user, module_id, done - timedelta(hours=1), done, score)
        return certificates.issue(user, course)


def build_world(password: str) -> dict:
    """Build the three jurisdictions' data; returns ids, names and codes for the tests."""
    from trainer.extensions import db
    from trainer.models import OrgKind, Role
    from trainer.services import orgs

    w = WorldBuilder(password)
    kanagawa, yokohama, oita = orgs.by_code("140007"), orgs.by_code("141003"), orgs.by_code("440001")
    fujisawa = w.org("藤沢市", "140007", code="142051", programme="station", kana="ふじさわし")
    kamakura = w.org("鎌倉市", "140007", code="142042", kana="かまくらし")
    yokosuka = w.org("横須賀市", "140007", code="142018", programme="center", kana="よこすかし")
    office = orgs.create_office(fujisawa, "ふじさわ相談窓口", "相談窓口")
    naka = w.org("横浜市中区", parent=yokohama, code="141046", programme="support")
    beppu = w.org("別府市", "440001", code="442020", programme="support")
    assert office.kind == OrgKind.OFFICE and naka.jurisdiction_id == yokohama.id

    fuji = [w.user(f"藤沢 {n}郎", fujisawa, furigana=f"ふじさわ {k}") for n, k in zip("一二三四五", "あいうえお")]
    formula = w.user(FORMULA_NAME, fujisawa, furigana="ん")
    window = [w.user("窓口 花子", office), w.user("窓口 次郎", office)]
    kama = [w.user("鎌倉 太郎", kamakura), w.user("鎌倉 花子", kamakura)]
    yoko = [w.user(f"横須賀 {n}", yokosuka) for n in range(1, 6)]
    stopped = w.user("停止 中子", fujisawa, active=False)
    w.user("進行 のみ", fujisawa, Role.FACILITATOR)
    secret_yokohama = [w.user(f"横浜秘匿 {n}", naka) for n in range(1, 4)]
    secret_oita = [w.user(f"大分秘匿 {n}", beppu) for n in range(1, 4)]

    certs = {
        "heisei": w.complete_course(fuji[0], "basic", _at("2019-04-30", 23, 30)),   # 平成31年4月30日 (JST)
        "reiwa": w.complete_course(formula, "basic", _at("2019-05-01", 0, 30)),     # 令和元年5月1日 (JST)
        "window": w.complete_course(window[0], "basic", _at("2025-02-01")),
        "yokohama": w.complete_course(secret_yokohama[0], "basic", _at("2025-02-01")),
        "oita": w.complete_course(secret_oita[0], "basic", _at("2025-02-01")),
    }
    w.attempt(fuji[1], "m-values", _at("2025-03-01"), _at("2025-03-01", 11), 80.0)
    w.attempt(fuji[1], "m-case-01", _at("2025-03-02"))                              # in progress
    w.attempt(fuji[2], "m-case-01", _at("2025-03-05"), _at("2025-03-05", 11), 50.0, answer_score=0.5)
    w.attempt(fuji[2], "m-case-01", _at("2025-06-01"), _at("2025-06-01", 11), 90.0, number=2)  # a retake
    for u in fuji[3:] + window[1:] + kama + yoko + [stopped]:
        w.attempt(u, "m-values", _at("2025-04-10"), _at("2025-04-10", 11), 100.0)
    for u in secret_yokohama[1:] + secret_oita[1:]:
        w.attempt(u, "m-values", _at("2025-04-10"), _at("2025-04-10", 11), 100.0)

    reviewers = {
        "kanagawa": w.user("神奈川 閲覧", kanagawa, Role.REVIEWER, scope=kanagawa),
        "yokohama": w.user("横浜 閲覧", yokohama, Role.REVIEWER, scope=yokohama),
        "oita": w.user("大分 閲覧", oita, Role.REVIEWER, scope=oita),
    }
    db.session.commit()
    return {
        "ids": {"kanagawa": kanagawa.id, "yokohama": yokohama.id, "oita": oita.id, "fujisawa": fujisawa.id,
                "kamakura": kamakura.id, "yokosuka": yokosuka.id, "office": office.id, "naka": naka.id,
                "beppu": beppu.id},
        "users": {"fuji": [u.id for u in fuji], "formula": formula.id, "window": [u.id for u in window],
                  "kama": [u.id for u in kama], "yoko": [u.id for u in yoko], "stopped": stopped.id,
                  "yokohama": [u.id for u in secret_yokohama], "oita": [u.id for u in secret_oita]},
        "codes": {k: c.code for k, c in certs.items()},
        "reviewers": {k: u.login_id for k, u in reviewers.items()},
        # what each jurisdiction's reviewer must never see from the others
        "secrets": {"kanagawa": ["藤沢", "鎌倉", "横須賀", "窓口 花子", certs["heisei"].code, certs["window"].code],
                    "yokohama": ["横浜秘匿", "横浜市中区", certs["yokohama"].code],
                    "oita": ["大分秘匿", "別府市", certs["oita"].code]},
    }


def make_world(app, tmp_path_factory) -> dict:
    from tests.conftest import PASSWORD, _empty_all_tables, import_fixture_content
    from trainer.extensions import db
    from trainer.services import accounts, mastery_report, orgs

    with app.app_context():
        db.session.remove()
        _empty_all_tables()
        orgs.seed_jurisdictions()
        import_fixture_content(tmp_path_factory.mktemp("content"))
        world = build_world(PASSWORD)
        pref = orgs.by_code("140007")
        for visitor, role in ROLE_OF.items():  # the generic visitors of the access matrix
            accounts.create_user(login_id=f"{visitor}-1", display_name=visitor, organization=pref, password=PASSWORD,
                                 roles=[role], reviewer_scope=pref if role == REVIEWER else None)
        db.session.commit()
    world["paths"] = {"unit": world["ids"]["fujisawa"], "trainee": world["users"]["fuji"][0],
                      "code": world["codes"]["heisei"]}
    return world


@pytest.fixture(scope="module")
def world(app, tmp_path_factory):
    yield make_world(app, tmp_path_factory)
    from trainer.extensions import db

    with app.app_context():
        db.session.remove()


def client_for(app, login_id: str | None):
    from tests.conftest import PASSWORD

    client = app.test_client()
    if login_id is not None:
        assert client.post("/auth/login", data={"login_id": login_id, "password": PASSWORD}).status_code == 302
    return client


# --- the matrix ---------------------------------------------------------------------------------

@pytest.mark.parametrize("visitor", VISITORS)
@pytest.mark.parametrize("method,template,expected", AREA_MATRIX, ids=[f"{m} {t}" for m, t, _ in AREA_MATRIX])
def test_review_route_access(app, world, visitor, method, template, expected):
    client = client_for(app, None if visitor == ANON else f"{visitor}-1")
    path = template.format(**world["paths"])
    response = client.open(path, method=method)
    assert response.status_code == expected[visitor], f"{visitor} {method} {path}"
    if visitor == ANON:
        assert "/auth/login" in response.headers["Location"]


# --- isolation ----------------------------------------------------------------------------------

def _body(response) -> str:
    """Text of any response: HTML, CSV, the strings of an XLSX, or the names and text of a ZIP's PDFs."""
    import io
    import zipfile

    data = response.get_data()
    kind = response.mimetype
    if kind == "application/zip" or "spreadsheetml" in kind:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.namelist()
            for name in archive.namelist():
                content = archive.read(name)
                parts.append(_pdf_text(content) if name.endswith(".pdf") else content.decode("utf-8", "replace"))
        return "\n".join(parts)
    if kind == "application/pdf":
        return _pdf_text(data)
    return data.decode("utf-8-sig", "replace")


def _pdf_text(data: bytes) -> str:
    import subprocess

    return subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True).stdout.decode()


REVIEWER_PATHS = [
    "/review/", "/review/mastery", "/review/municipalities/{own_unit}", "/review/trainees/{own_trainee}",
    "/review/certificates/{own_code}.pdf", "/review/municipalities/{own_unit}/certificates.zip",
    *[f"/review/exports/{k}.{f}" for k in ("summary", "modules", "records", "courses", "mastery") for f in ("csv", "xlsx")],
]
OWN = {
    "kanagawa": {"own_unit": "fujisawa", "own_trainee": ("fuji", 0), "own_code": "heisei"},
    "yokohama": {"own_unit": "naka", "own_trainee": ("yokohama", 0), "own_code": "yokohama"},
    "oita": {"own_unit": "beppu", "own_trainee": ("oita", 0), "own_code": "oita"},
}


def _own(world, who: str) -> dict:
    own = OWN[who]
    group, index = own["own_trainee"]
    return {"own_unit": world["ids"][own["own_unit"]], "own_trainee": world["users"][group][index],
            "own_code": world["codes"][own["own_code"]]}


@pytest.mark.parametrize("who", ["kanagawa", "yokohama", "oita"])
@pytest.mark.parametrize("template", REVIEWER_PATHS)
def test_every_reviewer_page_and_export_shows_only_its_jurisdiction(app, world, who, template):
    client = client_for(app, world["reviewers"][who])
    response = client.get(template.format(**_own(world, who)))
    assert response.status_code == 200
    body = _body(response)
    for other, secrets in world["secrets"].items():
        if other != who:
            for secret in secrets:
                assert secret not in body, f"{who} sees {secret!r} of {other}"
    assert REFLECTION not in body


@pytest.mark.parametrize("who", ["kanagawa", "yokohama", "oita"])
def test_own_data_is_visible(app, world, who):
    """The isolation test above would pass on empty pages: make sure each reviewer sees their own."""
    client = client_for(app, world["reviewers"][who])
    own = _own(world, who)
    home = client.get("/review/").get_data(as_text=True)
    assert world["secrets"][who][0].split()[0] in client.get(f"/review/municipalities/{own['own_unit']}").get_data(as_text=True)
    assert own["own_code"] in client.get(f"/review/trainees/{own['own_trainee']}").get_data(as_text=True)
    assert f"/review/municipalities/{own['own_unit']}" in home


def _foreign(world, who: str) -> dict:
    others = [o for o in OWN if o != who]
    return {o: _own(world, o) for o in others}


@pytest.mark.parametrize("who", ["kanagawa", "yokohama", "oita"])
def test_guessed_ids_in_urls_are_404(app, world, who):
    client = client_for(app, world["reviewers"][who])
    for other, own in _foreign(world, who).items():
        for path in (f"/review/municipalities/{own['own_unit']}", f"/review/trainees/{own['own_trainee']}",
                     f"/review/certificates/{own['own_code']}.pdf",
                     f"/review/municipalities/{own['own_unit']}/certificates.zip"):
            assert client.get(path).status_code == 404, f"{who} -> {other}: {path}"
    for path in ("/review/municipalities/999999", "/review/trainees/999999", "/review/trainees/0",
                 "/review/certificates/XXXX-XXXX-XXXX.pdf", "/review/municipalities/999999/certificates.zip"):
        assert client.get(path).status_code == 404, path


@pytest.mark.parametrize("who", ["kanagawa", "yokohama", "oita"])
@pytest.mark.parametrize("param", ["municipality", "organization"])
@pytest.mark.parametrize("target", ["/review/", "/review/mastery", "/review/exports/records.csv",
                                    "/review/exports/summary.xlsx", "/review/exports/mastery.csv",
                                    "/review/municipalities/{own_unit}", "/review/municipalities/{own_unit}/certificates.zip"])
def test_guessed_ids_in_filters_are_404(app, world, who, param, target):
    client = client_for(app, world["reviewers"][who])
    path = target.format(**_own(world, who))
    foreign = [own["own_unit"] for own in _foreign(world, who).values()] + [world["ids"][o] for o in OWN if o != who]
    for org_id in foreign + [999999, "1 OR 1=1", "-1"]:
        response = client.get(path, query_string={param: org_id})
        assert response.status_code == 404, f"{who} {path} {param}={org_id}"


def test_designated_city_is_not_part_of_its_prefecture(app, world):
    """横浜市 sits inside 神奈川県 but is its own jurisdiction: not a row, not a filter choice."""
    kanagawa = client_for(app, world["reviewers"]["kanagawa"])
    body = kanagawa.get("/review/").get_data(as_text=True)
    assert "横浜市" not in body
    assert kanagawa.get("/review/", query_string={"municipality": world["ids"]["yokohama"]}).status_code == 404
    yokohama = client_for(app, world["reviewers"]["yokohama"])
    body = yokohama.get("/review/").get_data(as_text=True)
    assert "横浜市中区" in body and "藤沢市" not in body and "鎌倉市" not in body
    assert yokohama.get(f"/review/municipalities/{world['ids']['kanagawa']}").status_code == 404


def test_other_roles_and_foreign_reviewers_leave_no_audit_trail_of_views(app, world):
    """A refused request is not logged as a view (it showed nothing)."""
    from sqlalchemy import func, select

    from trainer.extensions import db
    from trainer.models import AuditEvent

    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("review.%")))
    client = client_for(app, world["reviewers"]["oita"])
    client.get(f"/review/trainees/{world['users']['fuji'][0]}")
    client_for(app, "trainee-1").get(f"/review/trainees/{world['users']['fuji'][0]}")
    with app.app_context():
        after = db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("review.%")))
    assert after == before
