"""Live polling revalidates instead of re-sending: the state and the panel carry an ETag (the session
version; for the panel also the participant's own answer) and a matching If-None-Match gets 304 with
no body — after the access check, never instead of it."""
from __future__ import annotations

from pathlib import Path

from tests.test_workshops import _act, _answer_form, _client, _live, _pages, people  # noqa: F401 (fixture)
from trainer.models import Role


def _get(client, path: str, tag: str | None = None):
    return client.get(path, headers={"If-None-Match": tag} if tag else {})


def test_state_answers_304_while_the_version_stays(app, people):  # noqa: F811
    facilitator, participants, _, sid = _live(app, people)
    phone = participants[0]
    first = _get(phone, f"/live/{sid}/state")
    tag = first.headers["ETag"]
    assert first.status_code == 200 and tag and first.get_json()["ended"] is False
    assert first.headers["Cache-Control"] == "private, no-cache"
    again = _get(phone, f"/live/{sid}/state", tag)
    assert again.status_code == 304 and again.get_data() == b"" and again.headers["ETag"] == tag
    assert _get(phone, f"/live/{sid}/state", "W/" + tag).status_code == 304  # a proxy's gzip weakens it
    _act(facilitator, sid, "goto", page=1)
    moved = _get(phone, f"/live/{sid}/state", tag)
    assert moved.status_code == 200 and moved.headers["ETag"] != tag
    assert moved.get_json()["version"] > first.get_json()["version"]
    assert _get(phone, f"/live/{sid}/state", moved.headers["ETag"]).status_code == 304


def test_an_ended_session_is_always_answered_in_full(app, people):  # noqa: F811
    facilitator, participants, _, sid = _live(app, people)
    tag = _get(participants[0], f"/live/{sid}/state").headers["ETag"]
    _act(facilitator, sid, "end")
    ended = _get(participants[0], f"/live/{sid}/state", tag)
    assert ended.status_code == 200 and ended.get_json()["ended"] is True and "ETag" not in ended.headers


def test_a_known_tag_opens_nothing_to_someone_outside(app, people, make_user):  # noqa: F811
    _, participants, _, sid = _live(app, people)
    tag = _get(participants[0], f"/live/{sid}/state").headers["ETag"]
    make_user(Role.TRAINEE, login_id="outsider")
    outsider = _client(app, "outsider")
    assert _get(outsider, f"/live/{sid}/state", tag).status_code == 404
    assert _get(outsider, f"/live/{sid}/panel", tag).status_code == 404
    assert _get(app.test_client(), f"/live/{sid}/state", tag).status_code == 404  # signed out


def test_panel_revalidates_until_the_version_or_the_own_answer_changes(app, people):  # noqa: F811
    facilitator, participants, _, sid = _live(app, people)
    single = next(i for i, t, _ in _pages(app) if t == "single")
    data = next(d for i, _, d in _pages(app) if i == single)
    phone, other = participants[0], participants[1]
    _act(facilitator, sid, "goto", page=single)
    _act(facilitator, sid, "open")
    first = _get(phone, f"/live/{sid}/panel")
    tag = first.headers["ETag"]
    assert first.status_code == 200 and "回答する" in first.get_data(as_text=True)
    assert first.headers["Cache-Control"] == "private, no-cache"
    assert _get(phone, f"/live/{sid}/panel", tag).status_code == 304
    other.post(f"/live/{sid}/answer", data={"token": "o1", **_answer_form("single", data)})
    assert _get(phone, f"/live/{sid}/panel", tag).status_code == 304  # someone else's answer: same panel
    assert phone.post(f"/live/{sid}/answer", data={"token": "p1", **_answer_form("single", data)}).status_code == 200
    answered = _get(phone, f"/live/{sid}/panel", tag)
    assert answered.status_code == 200 and answered.headers["ETag"] != tag
    assert "回答する" not in answered.get_data(as_text=True)
    _act(facilitator, sid, "reveal")
    revealed = _get(phone, f"/live/{sid}/panel", answered.headers["ETag"])
    assert revealed.status_code == 200 and "解説" in revealed.get_data(as_text=True)


def test_live_js_lets_the_browser_revalidate():
    script = (Path(__file__).resolve().parents[1] / "src/trainer/static/js/live.js").read_text(encoding="utf-8")
    assert script.count('cache: "no-cache"') == 2 and 'cache: "no-store"' not in script
