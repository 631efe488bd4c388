"""Options are shown in an order of their own per attempt (and one order per live session, the same
on every phone and the projector), stored with the attempt so a reload, a resume and the feedback
show the order that was shown first."""
from __future__ import annotations

import re

import pytest

from tests.conftest import PASSWORD
from tests.test_player import _page, _start
from trainer.extensions import db
from trainer.models import Attempt
from trainer.services import player

OPTION = re.compile(r'name="choice" id="choice-([a-z])"')


def test_presented_is_a_stable_permutation():
    data = {"choices": [{"id": c} for c in "abcde"], "prompt": "p"}
    first = player.presented(data, 12345, "q1")
    assert sorted(c["id"] for c in first["choices"]) == list("abcde")
    assert player.presented(data, 12345, "q1") == first  # same seed, same order
    orders = {tuple(c["id"] for c in player.presented(data, seed, "q1")["choices"]) for seed in range(1, 40)}
    assert len(orders) > 10  # seeds really vary the order
    assert player.presented(data, None, "q1") is data  # attempts from before shuffling keep the file order
    assert data["choices"][0]["id"] == "a"  # the cached version data itself is never reordered


@pytest.fixture
def trainee(make_user, login, small_content):
    user = make_user(name="順番 確子")
    login(user)
    return user


def _first_single(app, attempt_id):
    index = 0
    while True:
        total, key, qtype, data = _page(app, attempt_id, index)
        if qtype == "single":
            return index, key, data
        index += 1


def _shown(client, attempt_id, index):
    return OPTION.findall(client.get(f"/learn/attempts/{attempt_id}/pages/{index}").get_data(as_text=True))


def test_each_attempt_has_its_order_and_keeps_it(app, client, trainee, monkeypatch):
    seeds = iter([11, 22])
    monkeypatch.setattr(player, "new_seed", lambda: next(seeds))
    attempt_id, _ = _start(client, "m-case-01")
    with app.app_context():
        db.session.get(Attempt, attempt_id).position = 99  # let every page open (a finished attempt can)
        db.session.get(Attempt, attempt_id).completed_at = db.session.get(Attempt, attempt_id).started_at
        db.session.commit()
    index, key, data = _first_single(app, attempt_id)
    shown = _shown(client, attempt_id, index)
    expected = [c["id"] for c in player.presented(data, 11, key)["choices"]]
    assert shown == expected
    assert _shown(client, attempt_id, index) == shown  # a reload shows the same order
    response = client.post(f"/learn/attempts/{attempt_id}/pages/{index}/answer",
                           data={"token": "t1", "choice": shown[-1]})
    assert response.status_code == 302
    feedback = client.get(f"/learn/attempts/{attempt_id}/pages/{index}").get_data(as_text=True)
    others = [c for c in player.presented(data, 11, key)["choices"] if c["id"] != shown[-1]]
    chosen_best = next(c for c in data["choices"] if c["id"] == shown[-1])["rating"] == "best"
    if not chosen_best:  # the best option comes first, inline; then the rest, each group in the shown order
        others = [c for c in others if c["rating"] == "best"] + [c for c in others if c["rating"] != "best"]
    positions = [feedback.find(c["text"]) for c in others]
    assert all(p > 0 for p in positions) and positions == sorted(positions)  # the others, in the shown order
    second = player.presented(data, 22, key)["choices"]
    assert [c["id"] for c in second] != expected  # another attempt (seed 22): another order for this question


def test_a_live_room_shares_one_order(app, make_user, small_content, midday):
    from tests.test_workshops import _create, _pages

    from trainer.models import Role

    make_user(Role.FACILITATOR, login_id="fac-s")
    for i in range(2):
        make_user(Role.TRAINEE, login_id=f"room-{i}")
    facilitator = app.test_client()
    facilitator.post("/auth/login", data={"login_id": "fac-s", "password": PASSWORD})
    wid = _create(facilitator, participants="room-0 room-1")
    sid = int(facilitator.post(f"/facilitate/workshops/{wid}/live", data={"module_id": "m-case-01"})
              .headers["Location"].rsplit("/", 1)[1])
    single = next(i for i, t, _ in _pages(app) if t == "single")
    facilitator.post(f"/facilitate/live/{sid}/action", data={"action": "goto", "page": single})
    facilitator.post(f"/facilitate/live/{sid}/action", data={"action": "open"})
    orders = []
    for i in range(2):
        phone = app.test_client()
        phone.post("/auth/login", data={"login_id": f"room-{i}", "password": PASSWORD})
        orders.append(OPTION.findall(phone.get(f"/live/{sid}").get_data(as_text=True)))
    projector = facilitator.get(f"/facilitate/live/{sid}/projector").get_data(as_text=True)
    shown = re.findall(r'data-count="([a-z])"', projector)
    assert orders[0] == orders[1] == shown and len(shown) >= 3
    facilitator.post(f"/facilitate/live/{sid}/action", data={"action": "end", "confirmed": "1"})
    again = int(facilitator.post(f"/facilitate/workshops/{wid}/live", data={"module_id": "m-case-01"})
                .headers["Location"].rsplit("/", 1)[1])
    with app.app_context():
        from trainer.models import LiveSession

        assert db.session.get(LiveSession, again).seed == db.session.get(LiveSession, sid).seed  # a restart keeps it
