"""The live panel is cached whole per session version and variant (live/panel.py), with each
participant's CSRF token and answer-form token written in per response: every participant gets the
right panel, never another's token or answer; it works without JavaScript; a new version is a new
panel; the panel, the poll and the answer load no user and keep the access rules."""
from __future__ import annotations

import re

from sqlalchemy import func, select, update

from tests.test_statement_counts import counting
from tests.test_workshops import _act, _answer_form, _client, _live, _pages, people  # noqa: F401 (fixture)
from trainer.extensions import db
from trainer.models import Answer, Role, User
from trainer.services import sessions

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]*)"')
TOKEN_RE = re.compile(r'name="token" value="([^"]*)"')
OWN_RE = re.compile(r"あなたの回答：</span>(.*?)</p>")


def _single(app):
    index = next(i for i, t, _ in _pages(app) if t == "single")
    return index, next(d for i, _, d in _pages(app) if i == index)


def _text(response) -> str:
    body = response.get_data(as_text=True)
    assert "\x00" not in body  # every mark was filled in
    return body


def _choice_text(data, rating: str) -> str:
    return next(c["text"] for c in data["choices"] if c["rating"] == rating)


def test_each_participant_gets_the_shared_panel_with_their_own_tokens(app, people, monkeypatch):  # noqa: F811
    facilitator, participants, _, sid = _live(app, people)
    index, data = _single(app)
    _act(facilitator, sid, "goto", page=index)
    _act(facilitator, sid, "open")
    bodies = [_text(p.get(f"/live/{sid}/panel")) for p in participants]
    assert all("回答する" in b for b in bodies)
    csrfs = [CSRF_RE.search(b).group(1) for b in bodies]
    tokens = [TOKEN_RE.search(b).group(1) for b in bodies]
    assert all(csrfs) and all(tokens) and len(set(tokens)) == 3
    blank = {CSRF_RE.sub("", TOKEN_RE.sub("", b)) for b in bodies}
    assert len(blank) == 1  # the same panel, apart from the two tokens
    again = _text(participants[0].get(f"/live/{sid}/panel"))
    assert TOKEN_RE.search(again).group(1) not in tokens  # a new form token per response
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    form = _answer_form("single", data)
    stolen = participants[0].post(f"/live/{sid}/answer", data={"csrf_token": csrfs[1], "token": tokens[0], **form})
    assert stolen.status_code == 400  # the token in someone else's panel is theirs alone
    for n, phone in enumerate(participants):
        sent = phone.post(f"/live/{sid}/answer", data={"csrf_token": csrfs[n], "token": tokens[n], **form})
        assert sent.status_code == 200 and "回答を送りました" in _text(sent)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Answer)) == 3


def test_answered_and_revealed_panels_show_only_the_own_answer(app, people, make_user):  # noqa: F811
    fourth = make_user(Role.TRAINEE, login_id="tr-3", name="受講者3")
    facilitator, participants, _, sid = _live(app, people, extra=[fourth])
    index, data = _single(app)
    _act(facilitator, sid, "goto", page=index)
    _act(facilitator, sid, "open")
    for phone, rating, token in ((participants[0], "best", "a"), (participants[1], "caution", "b"),
                                 (participants[3], "best", "d")):
        assert phone.post(f"/live/{sid}/answer", data={"token": token, **_answer_form("single", data, rating)}).status_code == 200
    answered, waiting = _text(participants[0].get(f"/live/{sid}/panel")), _text(participants[2].get(f"/live/{sid}/panel"))
    assert "回答を送りました" in answered and "回答する" not in answered and 'name="token"' not in answered
    assert "回答を送りました" not in waiting and "回答する" in waiting
    _act(facilitator, sid, "reveal")
    own = {n: _text(participants[n].get(f"/live/{sid}/panel")) for n in (1, 0, 3, 2)}
    assert OWN_RE.search(own[0]).group(1) == _choice_text(data, "best")
    assert OWN_RE.search(own[1]).group(1) == _choice_text(data, "caution")
    assert own[3] == own[0]  # the same answer: the same cached panel
    assert OWN_RE.search(own[2]) is None and "この問いの回答は締め切られています" in own[2]
    assert OWN_RE.search(_text(participants[1].get(f"/live/{sid}/panel"))).group(1) == _choice_text(data, "caution")


def test_a_new_version_is_a_new_panel(app, people):  # noqa: F811
    facilitator, participants, _, sid = _live(app, people)
    index, _ = _single(app)
    phone = participants[0]
    _act(facilitator, sid, "goto", page=index)
    waiting = phone.get(f"/live/{sid}/panel")
    assert "受付を始めるまでお待ちください" in _text(waiting)
    assert phone.get(f"/live/{sid}/panel", headers={"If-None-Match": waiting.headers["ETag"]}).status_code == 304
    _act(facilitator, sid, "open")
    opened = phone.get(f"/live/{sid}/panel", headers={"If-None-Match": waiting.headers["ETag"]})
    assert opened.status_code == 200 and "回答する" in _text(opened) and opened.headers["ETag"] != waiting.headers["ETag"]
    _act(facilitator, sid, "goto", page=index + 1)
    moved = phone.get(f"/live/{sid}/panel", headers={"If-None-Match": opened.headers["ETag"]})
    assert moved.status_code == 200 and "回答する" not in _text(moved)
    assert f'data-version="{phone.get(f"/live/{sid}/state").get_json()["version"]}"' in _text(moved)


def test_the_panel_tag_is_per_browser(app, people):  # noqa: F811
    _, participants, _, sid = _live(app, people)
    first, second = participants[0].get(f"/live/{sid}/panel"), participants[1].get(f"/live/{sid}/panel")
    assert first.headers["ETag"] != second.headers["ETag"]  # neither answered, yet their panels carry their tokens
    assert participants[1].get(f"/live/{sid}/panel", headers={"If-None-Match": first.headers["ETag"]}).status_code == 200
    again = _client(app, "tr-0")  # the same person on another browser (or after signing in again)
    assert again.get(f"/live/{sid}/panel", headers={"If-None-Match": first.headers["ETag"]}).status_code == 200


def test_without_javascript_the_page_and_its_form_work(app, people):  # noqa: F811
    facilitator, participants, _, sid = _live(app, people)
    index, data = _single(app)
    _act(facilitator, sid, "goto", page=index)
    _act(facilitator, sid, "open")
    page = _text(participants[0].get(f"/live/{sid}"))
    assert f'action="/live/{sid}/answer"' in page and CSRF_RE.search(page).group(1) and TOKEN_RE.search(page).group(1)
    form = {"csrf_token": CSRF_RE.search(page).group(1), "token": TOKEN_RE.search(page).group(1),
            "version": re.search(r'name="version" value="(\d+)"', page).group(1), **_answer_form("single", data)}
    for _ in range(2):  # a double submit stores one answer
        sent = participants[0].post(f"/live/{sid}/answer", data=form)
        assert sent.status_code == 200 and "回答を送りました" in _text(sent)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Answer)) == 1


def test_panel_and_poll_run_one_statement(app, people):  # noqa: F811
    facilitator, participants, _, sid = _live(app, people)
    index, data = _single(app)
    _act(facilitator, sid, "goto", page=index)
    _act(facilitator, sid, "open")
    participants[0].get(f"/live/{sid}/panel")  # renders this version's panel once
    participants[0].post(f"/live/{sid}/answer", data={"token": "a", **_answer_form("single", data)})
    participants[0].get(f"/live/{sid}/panel")
    for phone in participants[1:]:
        phone.get(f"/live/{sid}/panel")  # joined (their attempt exists)
    for phone in participants:
        with counting(app) as seen:
            assert phone.get(f"/live/{sid}/panel").status_code == 200
        assert len(seen) == 1, seen
        with counting(app) as seen:
            assert phone.get(f"/live/{sid}/state").status_code == 200
        assert len(seen) == 1, seen


def test_access_rules_hold_without_the_user_loader(app, people, make_user):  # noqa: F811
    facilitator, participants, _, sid = _live(app, people)
    index, data = _single(app)
    _act(facilitator, sid, "goto", page=index)
    _act(facilitator, sid, "open")
    form = {"token": "x", **_answer_form("single", data)}
    anonymous = app.test_client()
    assert "/auth/login" in anonymous.get(f"/live/{sid}/panel").headers["Location"]
    assert "/auth/login" in anonymous.post(f"/live/{sid}/answer", data=form).headers["Location"]
    make_user(Role.TRAINEE, login_id="outsider")
    outsider = _client(app, "outsider")
    assert outsider.get(f"/live/{sid}/panel").status_code == 404
    assert outsider.post(f"/live/{sid}/answer", data=form).status_code == 404
    assert facilitator.get(f"/live/{sid}/panel").status_code == 403  # not a trainee
    with app.app_context():
        db.session.execute(update(User).where(User.login_id == "tr-0").values(must_change_password=True))
        db.session.commit()
    for response in (participants[0].get(f"/live/{sid}/panel"), participants[0].post(f"/live/{sid}/answer", data=form)):
        assert response.status_code == 302 and response.headers["Location"].endswith("/auth/password")
    assert participants[0].get(f"/live/{sid}/state").status_code == 404
    with app.app_context():  # signed out elsewhere: this browser's copy of the cookie stops working too
        sessions.end_all(db.session.scalar(select(User).where(User.login_id == "tr-1")))
        db.session.commit()
    assert "/auth/login" in participants[1].get(f"/live/{sid}/panel").headers["Location"]
    assert "/auth/login" in participants[1].post(f"/live/{sid}/answer", data=form).headers["Location"]
    assert participants[1].get(f"/live/{sid}/state").status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Answer)) == 0


def test_a_state_for_a_new_version_carries_the_panel(app, people, make_user):  # noqa: F811
    facilitator, participants, _, sid = _live(app, people)
    index, data = _single(app)
    phone, other = participants[0], participants[1]
    phone.get(f"/live/{sid}")  # joined
    first = phone.get(f"/live/{sid}/state?panel=1")
    assert first.status_code == 200 and 'class="live-panel"' in first.get_json()["panel"]
    assert phone.get(f"/live/{sid}/state?panel=1", headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    _act(facilitator, sid, "goto", page=index)
    _act(facilitator, sid, "open")
    participants[2].get(f"/live/{sid}/panel")  # this version's panel is rendered once, for the first who asks
    with counting(app) as seen:
        moved = phone.get(f"/live/{sid}/state?panel=1", headers={"If-None-Match": first.headers["ETag"]})
    assert len(seen) == 2, seen  # the version, then the seat
    state = moved.get_json()
    assert moved.status_code == 200 and state["version"] > first.get_json()["version"]
    assert "回答する" in state["panel"] and f'data-version="{state["version"]}"' in state["panel"] and "\x00" not in state["panel"]
    with counting(app) as seen:
        assert phone.get(f"/live/{sid}/state?panel=1", headers={"If-None-Match": moved.headers["ETag"]}).status_code == 304
    assert len(seen) == 1
    form = {"csrf_token": CSRF_RE.search(state["panel"]).group(1), "token": TOKEN_RE.search(state["panel"]).group(1),
            **_answer_form("single", data)}
    assert "回答を送りました" in _text(phone.post(f"/live/{sid}/answer", data=form))
    # the tag names the browser: someone else (not joined yet) sending it gets the state, without a panel
    other_state = other.get(f"/live/{sid}/state?panel=1", headers={"If-None-Match": moved.headers["ETag"]})
    assert other_state.status_code == 200 and "panel" not in other_state.get_json()
    assert "panel" not in phone.get(f"/live/{sid}/state").get_json()  # without ?panel=1: the version alone
    make_user(Role.TRAINEE, login_id="outsider")
    assert _client(app, "outsider").get(f"/live/{sid}/state?panel=1").status_code == 404
    _act(facilitator, sid, "end")
    ended = phone.get(f"/live/{sid}/state?panel=1").get_json()
    assert ended["ended"] is True and "panel" not in ended
