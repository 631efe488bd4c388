"""Workshops and live sessions through the Flask client: creation, joining, the live state machine,
answers in the trainee's record, moderation, dashboards and the exported record."""
from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from trainer.extensions import db
from trainer.models import Answer, Attempt, LiveSession, Module, Role, User, Workshop, WorkshopParticipant
from trainer.dates import today_jst, utcnow
from trainer.services import player
from trainer.services.spreadsheets import read_csv_table


@pytest.fixture
def people(app, make_user, small_content, midday):
    fac = make_user(Role.FACILITATOR, login_id="fac-a", name="進行 役")
    trainees = [make_user(Role.TRAINEE, login_id=f"tr-{i}", name=f"受講者{i}") for i in range(3)]
    return fac, trainees


def _today() -> str:
    """The workshop day: today on the app's clock (the midday fixture holds it at noon)."""
    return today_jst().isoformat()


def _client(app, login_id):
    client = app.test_client()
    assert client.post("/auth/login", data={"login_id": login_id, "password": PASSWORD}).status_code == 302
    return client


def _create(fac_client, **extra) -> int:
    data = {"title": "ひきこもり支援研修会", "day": _today(), "start": "00:00", "end": "23:59", "venue": "市役所 会議室",
            "modules": ["m-case-01", "m-values"], **extra}
    response = fac_client.post("/facilitate/workshops/new", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    return int(re.search(r"/workshops/(\d+)", response.headers["Location"]).group(1))


def _pages(app, module_id="m-case-01"):
    with app.app_context():
        return [(p.index, p.question.type if p.question else None, p.question.current_version.data if p.question else None)
                for p in player.pages(db.session.get(Module, module_id))]


def test_create_workshop_validates_in_japanese(app, people):
    fac, _ = people
    client = _client(app, fac.login_id)
    body = client.post("/facilitate/workshops/new", data={"title": "x", "day": _today(), "start": "15:00", "end": "10:00",
                                                          "modules": ["m-values"]}).get_data(as_text=True)
    assert "終了日時は開始日時より後に" in body
    body = client.post("/facilitate/workshops/new", data={"title": "x", "day": _today(), "start": "13:00", "end": "15:00",
                                                          "modules": ["m-values"], "participants": "nobody-1\ntr-0"}).get_data(as_text=True)
    assert "受講者として招待できないログインID: nobody-1（神奈川県の管内で" in body
    body = client.post("/facilitate/workshops/new", data={"title": "x", "day": _today(), "start": "13:00", "end": "15:00"}).get_data(as_text=True)
    assert "モジュールを1つ以上選んで" in body
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Workshop)) == 0


def test_invited_participants_see_the_workshop_on_their_home(app, people):
    fac, trainees = people
    wid = _create(_client(app, fac.login_id), participants="tr-0 tr-1")
    home = _client(app, "tr-0").get("/learn/").get_data(as_text=True)
    assert "ひきこもり支援研修会" in home
    assert "ひきこもり支援研修会" not in _client(app, "tr-2").get("/learn/").get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(WorkshopParticipant).where(WorkshopParticipant.workshop_id == wid)) == 2


def test_join_with_code_and_walk_in_registration(app, people):
    fac, trainees = people
    wid = _create(_client(app, fac.login_id))
    with app.app_context():
        code = db.session.get(Workshop, wid).join_code
    member = _client(app, "tr-2")
    assert member.post(f"/join/{code.lower()}").status_code == 302
    anonymous = app.test_client()
    page = anonymous.get(f"/join/{code}").get_data(as_text=True)
    assert "はじめての方" in page and "藤沢" not in page
    with app.app_context():
        from trainer.services import orgs

        org_id = orgs.by_code("140007").id
        other = orgs.by_code("440001").id  # 大分県: outside the facilitator's jurisdiction
    token = "0123456789abcdef" * 2
    bad = anonymous.post(f"/join/{code}", data={"display_name": "来場 者", "organization": str(other), "form_token": token,
                                                "password": "walk-in-pass-1", "confirm": "walk-in-pass-1"})
    assert bad.status_code == 200 and "選択肢が正しくありません" in bad.get_data(as_text=True)
    ok = anonymous.post(f"/join/{code}", data={"display_name": "来場 者", "organization": str(org_id), "form_token": token,
                                               "password": "walk-in-pass-1", "confirm": "walk-in-pass-1"})
    assert ok.status_code == 302
    shown = anonymous.get("/learn/workshops").get_data(as_text=True)
    with app.app_context():
        user = db.session.scalar(select(User).where(User.display_name == "来場 者"))
        assert user.has_role(Role.TRAINEE) and user.organization_id == org_id
        assert re.fullmatch(r"w-[a-z2-9]{4}-[a-z2-9]{4}", user.login_id) and user.login_id in shown
        assert not user.registration_confirmed  # until a facilitator confirms it
        joined = set(db.session.scalars(select(WorkshopParticipant.user_id).where(WorkshopParticipant.workshop_id == wid)))
        assert {user.id, trainees[2].id} <= joined


def test_join_code_expires_with_the_workshop(app, people):
    fac, _ = people
    wid = _create(_client(app, fac.login_id))
    with app.app_context():
        workshop = db.session.get(Workshop, wid)
        workshop.ends_at = utcnow() - timedelta(minutes=1)
        code = workshop.join_code
        db.session.commit()
    response = _client(app, "tr-0").post(f"/join/{code}")
    assert response.status_code == 404 and "受付が終わって" in response.get_data(as_text=True)


def _live(app, people, extra=()):
    """A workshop with tr-0..tr-2 (and the ``extra`` trainees) and a live session of m-case-01."""
    fac, trainees = people
    facilitator = _client(app, fac.login_id)
    logins = ["tr-0", "tr-1", "tr-2", *(u.login_id for u in extra)]
    wid = _create(facilitator, participants=" ".join(logins))
    response = facilitator.post(f"/facilitate/workshops/{wid}/live", data={"module_id": "m-case-01"})
    sid = int(re.search(r"/live/(\d+)", response.headers["Location"]).group(1))
    participants = [_client(app, login) for login in logins]
    return facilitator, participants, wid, sid


def _act(facilitator, sid, action, **extra):
    if action == "end":
        extra.setdefault("confirmed", "1")  # what the confirmation page sends
    assert facilitator.post(f"/facilitate/live/{sid}/action", data={"action": action, **extra}).status_code == 302


def _answer_form(qtype, data, pick="best"):
    if qtype == "single":
        return {"choice": next(c["id"] for c in data["choices"] if c["rating"] == pick)}
    if qtype == "multiple":
        return {"choices": [c["id"] for c in data["choices"] if c["rating"] == pick]}
    if qtype == "ordering":
        return {f"rank-{cid}": str(i + 1) for i, cid in enumerate(data["order"])}
    if qtype == "reflection":
        return {"text": "本人の気持ちを待ちたい"}
    return {f"rating-{p}": "2" for p in data["points"]}


def test_live_state_machine_answers_and_reveal(app, people):
    facilitator, participants, wid, sid = _live(app, people)
    single = next(i for i, t, _ in _pages(app) if t == "single")
    data = next(d for i, t, d in _pages(app) if i == single)
    for client in participants[:2]:
        assert client.get(f"/live/{sid}").status_code == 200
    v0 = participants[0].get(f"/live/{sid}/state").get_json()["version"]
    _act(facilitator, sid, "goto", page=single)
    state = participants[0].get(f"/live/{sid}/state").get_json()
    assert state["version"] > v0
    waiting = participants[0].get(f"/live/{sid}/panel").get_data(as_text=True)
    assert "受付を始めるまでお待ちください" in waiting and "回答する" not in waiting
    early = participants[0].post(f"/live/{sid}/answer", data={"token": "t0", **_answer_form("single", data)})
    assert early.status_code == 422 and "締め切られました" in early.get_data(as_text=True)
    _act(facilitator, sid, "open")
    assert "回答する" in participants[0].get(f"/live/{sid}/panel").get_data(as_text=True)
    form = {"token": "same", **_answer_form("single", data)}
    assert participants[0].post(f"/live/{sid}/answer", data=form).status_code == 200
    assert participants[0].post(f"/live/{sid}/answer", data=form).status_code == 200  # a double tap
    caution = {"token": "c1", **_answer_form("single", data, "caution")}
    assert participants[1].post(f"/live/{sid}/answer", data=caution).status_code == 200
    stats = facilitator.get(f"/facilitate/live/{sid}/stats.json").get_json()
    assert stats["answered"] == 2 and stats["joined"] == 2 and sum(stats["counts"].values()) == 2
    projector = facilitator.get(f"/facilitate/live/{sid}/projector").get_data(as_text=True)
    assert "受講者0" not in projector and "要注意" not in projector  # anonymous, and not yet revealed
    # a late joiner lands on the current page
    assert "回答する" in participants[2].get(f"/live/{sid}/panel").get_data(as_text=True)
    _act(facilitator, sid, "close")
    late = participants[2].post(f"/live/{sid}/answer", data={"token": "x", **_answer_form("single", data)})
    assert late.status_code == 422
    _act(facilitator, sid, "reveal")
    revealed = participants[0].get(f"/live/{sid}/panel").get_data(as_text=True)
    assert "解説" in revealed and "最適" in revealed
    assert "要注意" in facilitator.get(f"/facilitate/live/{sid}/projector").get_data(as_text=True)
    with app.app_context():
        rows = db.session.execute(select(Answer.user_id, Attempt.workshop_id, Attempt.live_session_id)
                                  .join(Attempt, Attempt.id == Answer.attempt_id)).all()
    assert len(rows) == 2 and all(w == wid and s == sid for _, w, s in rows)


def test_live_answers_count_in_progress_and_mastery(app, people):
    facilitator, participants, wid, sid = _live(app, people)
    trainee = participants[0]
    trainee.get(f"/live/{sid}")
    for index, qtype, data in _pages(app):
        _act(facilitator, sid, "goto", page=index)
        if qtype:
            _act(facilitator, sid, "open")
            assert trainee.post(f"/live/{sid}/answer", data={"token": f"p{index}", **_answer_form(qtype, data)}).status_code == 200
            _act(facilitator, sid, "reveal")
    _act(facilitator, sid, "end")
    assert "ライブ進行は終了しました" in trainee.get(f"/live/{sid}/panel").get_data(as_text=True)
    progress = trainee.get("/learn/progress").get_data(as_text=True)
    assert "合格" in progress and "未練習 50" not in progress
    debrief = facilitator.get(f"/facilitate/live/{sid}/debrief").get_data(as_text=True)
    assert "振り返り資料" in debrief and "支援のポイント" in debrief and "回答 1人" in debrief


def test_wall_moderation(app, people):
    """The wall is opt-in: the facilitator opens it for the question, the author consents per post,
    and a post reaches the projector only when the facilitator shows it (docs/live.md)."""
    facilitator, participants, wid, sid = _live(app, people)
    reflection = next(i for i, t, _ in _pages(app) if t == "reflection")
    _act(facilitator, sid, "goto", page=reflection)
    _act(facilitator, sid, "wall_open")
    _act(facilitator, sid, "open")
    participants[0].get(f"/live/{sid}")
    participants[1].get(f"/live/{sid}")
    participants[0].post(f"/live/{sid}/answer", data={"token": "r0", "text": "家族の疲れにも目を向けたい", "to_wall": "1"})
    participants[1].post(f"/live/{sid}/answer", data={"token": "r1", "text": "<b>不適切な書き込み</b>", "to_wall": "1"})
    assert facilitator.get(f"/facilitate/live/{sid}/stats.json").get_json()["wall"] == []  # queued, not shown
    with app.app_context():
        good, bad = (db.session.scalar(select(Answer.id).where(Answer.token == t)) for t in ("r0", "r1"))
    assert facilitator.post(f"/facilitate/live/{sid}/wall/{good}", data={"state": "shown"}).status_code == 302
    assert facilitator.post(f"/facilitate/live/{sid}/wall/{bad}", data={"state": "hidden"}).status_code == 302
    wall = facilitator.get(f"/facilitate/live/{sid}/stats.json").get_json()["wall"]
    assert wall == ["家族の疲れにも目を向けたい"]
    _act(facilitator, sid, "reveal")
    panel = participants[0].get(f"/live/{sid}/panel").get_data(as_text=True)
    assert "家族の疲れにも目を向けたい" in panel and "不適切な書き込み" not in panel
    control = facilitator.get(f"/facilitate/live/{sid}").get_data(as_text=True)
    assert "&lt;b&gt;不適切な書き込み&lt;/b&gt;" in control and "映すのをやめる" in control  # escaped, never HTML


def test_dashboard_and_exported_record(app, people):
    facilitator, participants, wid, sid = _live(app, people)
    with app.app_context():
        user = db.session.scalar(select(User).where(User.login_id == "tr-1"))
        user.display_name = "=HYPERLINK(\"http://evil\")"
        db.session.commit()
    single = next(i for i, t, _ in _pages(app) if t == "single")
    data = next(d for i, t, d in _pages(app) if i == single)
    _act(facilitator, sid, "goto", page=single)
    _act(facilitator, sid, "open")
    for n, client in enumerate(participants):
        client.get(f"/live/{sid}")
        client.post(f"/live/{sid}/answer", data={"token": f"d{n}", **_answer_form("single", data, "caution" if n else "best")})
    dashboard = facilitator.get(f"/facilitate/workshops/{wid}/dashboard").get_data(as_text=True)
    assert "参加者 × モジュール" in dashboard and "要注意の選択肢を選んだ人" in dashboard and "2人" in dashboard
    assert "5人未満のため" in dashboard and "弱い順" not in dashboard  # 3 people: no point-level figures
    csv = facilitator.get(f"/facilitate/workshops/{wid}/record.csv")
    block, rows = read_csv_table(csv.data)
    assert csv.data.startswith(b"\xef\xbb\xbf") and block["研修会"] == "ひきこもり支援研修会" and "ライブ進行" in block["注記1"]
    assert rows[0][:4] == ["研修会", "開催日", "開催日（和暦）", "氏名"]
    assert any(r[3] == "'=HYPERLINK(\"http://evil\")" for r in rows) and not any(r[3].startswith("=") for r in rows)
    assert len(rows) == 1 + 3 * 2  # header + 3 participants x 2 modules
    assert "filename*=UTF-8''" in csv.headers["Content-Disposition"] and "workshop-" in csv.headers["Content-Disposition"]
    sjis = facilitator.get(f"/facilitate/workshops/{wid}/record.csv?encoding=cp932")
    assert sjis.mimetype == "text/csv" and read_csv_table(sjis.data)[1] == rows  # same table, other encoding
    book = load_workbook(io.BytesIO(facilitator.get(f"/facilitate/workshops/{wid}/record.xlsx").data))
    assert book.sheetnames == ["条件", "受講記録", "問い別の回答", "ポイント別"]
    record = list(book["受講記録"].iter_rows(values_only=False))
    names = [c for c in record if str(c[3].value).startswith("=")]
    assert names and names[0][3].data_type == "s"
    assert record[1][1].is_date and record[1][2].value.startswith("令和")  # a date cell and its 和暦
    distribution = list(book["問い別の回答"].iter_rows(values_only=True))
    assert any(r[1] == "case-01-q1" and len(r[2]) > 10 and r[6] == "要注意" and r[7] == 2 for r in distribution)


def test_self_rating_before_and_after_on_the_dashboard(app, people, make_user):
    extra = [make_user(Role.TRAINEE, login_id=f"tr-x{i}") for i in range(2)]
    facilitator, participants, wid, sid = _live(app, people, extra)
    ratings = [(i, d) for i, t, d in _pages(app) if t == "self_rating"]
    assert {d["phase"] for _, d in ratings} == {"before", "after"}
    for client in participants:
        client.get(f"/live/{sid}")
    for index, data in ratings:
        _act(facilitator, sid, "goto", page=index)
        _act(facilitator, sid, "open")
        value = "2" if data["phase"] == "before" else "4"
        for n, client in enumerate(participants):
            form = {f"rating-{p}": value for p in data["points"]}
            client.post(f"/live/{sid}/answer", data={"token": f"s{index}-{n}", **form})
            client.post(f"/live/{sid}/answer", data={"token": f"t{index}-{n}", **form})  # a resend: still one person
        if data["phase"] == "before":
            before_only = facilitator.get(f"/facilitate/workshops/{wid}/dashboard").get_data(as_text=True)
            assert "2.0（5人）" in before_only
    dashboard = facilitator.get(f"/facilitate/workshops/{wid}/dashboard").get_data(as_text=True)
    assert "自己評価の変化" in dashboard and "+2.00" in dashboard and "4.0（5人）" in dashboard


def test_two_facilitators_share_one_state(app, people, make_user):
    facilitator, participants, wid, sid = _live(app, people)
    make_user(Role.FACILITATOR, login_id="fac-b")
    with app.app_context():
        from trainer.models import WorkshopFacilitator

        db.session.add(WorkshopFacilitator(workshop_id=wid, user_id=db.session.scalar(select(User.id).where(User.login_id == "fac-b"))))
        db.session.commit()
    other = _client(app, "fac-b")
    _act(other, sid, "next")
    _act(facilitator, sid, "next")
    with app.app_context():
        session = db.session.get(LiveSession, sid)
        assert session.page == 2 and session.version == 3


def test_cohort_of_several_workshops(app, people):
    fac, trainees = people
    client = _client(app, fac.login_id)
    first = _create(client, participants="tr-0")
    second = _create(client, title="第2回", participants="tr-1 tr-2")
    body = client.get(f"/facilitate/cohort?w={first}&w={second}").get_data(as_text=True)
    assert all(f"受講者{i}" in body for i in range(3))
    only = client.get(f"/facilitate/cohort?w={second}").get_data(as_text=True)
    assert "受講者0" not in only and "受講者1" in only
    assert client.get("/facilitate/cohort").status_code == 302
