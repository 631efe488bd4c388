"""One answer, one round trip: a POST sent by the player script (header X-Trainer-Swap: 1) is answered
with the page itself and its address; without the header the forms still post and redirect."""
from __future__ import annotations

from tests.test_player import _answers, _page, _start, best_answer, play_to_end_until, trainee  # noqa: F401

SWAP = {"X-Trainer-Swap": "1"}


def _first_question(app, attempt_id: int) -> int:
    total = _page(app, attempt_id, 0)[0]
    return next(i for i in range(total) if _page(app, attempt_id, i)[1])


def test_a_swapped_answer_returns_the_feedback_page_and_its_address(app, client, trainee):
    attempt_id, _ = _start(client)
    index = _first_question(app, attempt_id)
    play_to_end_until(app, client, attempt_id, index)
    _, _, qtype, data = _page(app, attempt_id, index)
    response = client.post(f"/learn/attempts/{attempt_id}/pages/{index}/answer", headers=SWAP,
                           data={"token": "swap-1", **best_answer(qtype, data)})
    assert response.status_code == 200
    assert response.headers["X-Trainer-Url"] == f"/learn/attempts/{attempt_id}/pages/{index}"
    body = response.get_data(as_text=True)
    assert 'id="feedback"' in body and "<main" in body and 'class="answer-form"' not in body
    assert _answers(app, attempt_id) == 1
    again = client.post(f"/learn/attempts/{attempt_id}/pages/{index}/answer", headers=SWAP,
                        data={"token": "swap-1", **best_answer(qtype, data)})
    assert again.status_code == 200 and _answers(app, attempt_id) == 1  # a retry records nothing twice


def test_without_the_header_the_answer_still_redirects_to_the_feedback(app, client, trainee):
    attempt_id, _ = _start(client)
    index = _first_question(app, attempt_id)
    play_to_end_until(app, client, attempt_id, index)
    _, _, qtype, data = _page(app, attempt_id, index)
    response = client.post(f"/learn/attempts/{attempt_id}/pages/{index}/answer",
                           data={"token": "plain", **best_answer(qtype, data)})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/learn/attempts/{attempt_id}/pages/{index}#feedback")
    assert "X-Trainer-Url" not in response.headers


def test_a_swapped_invalid_answer_returns_the_error_and_stores_nothing(app, client, trainee):
    attempt_id, _ = _start(client)
    total = _page(app, attempt_id, 0)[0]
    ordering = next(i for i in range(total) if _page(app, attempt_id, i)[2] == "ordering")
    play_to_end_until(app, client, attempt_id, ordering)
    before = _answers(app, attempt_id)
    ids = [c["id"] for c in _page(app, attempt_id, ordering)[3]["choices"]]
    response = client.post(f"/learn/attempts/{attempt_id}/pages/{ordering}/answer", headers=SWAP,
                           data={f"rank-{ids[0]}": "1", f"rank-{ids[1]}": "1", "token": "bad"})
    assert response.status_code == 422
    assert response.headers["X-Trainer-Url"] == f"/learn/attempts/{attempt_id}/pages/{ordering}"
    assert "重ならないように順位" in response.get_data(as_text=True)
    assert _answers(app, attempt_id) == before


def test_swapped_next_returns_the_next_page_and_the_end_returns_204(app, client, trainee):
    attempt_id, _ = _start(client)
    total = _page(app, attempt_id, 0)[0]
    index = _first_question(app, attempt_id)
    play_to_end_until(app, client, attempt_id, index)
    refused = client.post(f"/learn/attempts/{attempt_id}/pages/{index}/next", headers=SWAP)
    assert refused.status_code == 200 and "先に、この問題に回答してください。" in refused.get_data(as_text=True)
    assert refused.headers["X-Trainer-Url"] == f"/learn/attempts/{attempt_id}/pages/{index}"
    play_to_end_until(app, client, attempt_id, total - 1)
    _, key, qtype, data = _page(app, attempt_id, total - 1)
    if key:
        client.post(f"/learn/attempts/{attempt_id}/pages/{total - 1}/answer", data={"token": "last", **best_answer(qtype, data)})
    moved = client.post(f"/learn/attempts/{attempt_id}/pages/{total - 2}/next", headers=SWAP)
    assert moved.status_code == 200
    assert moved.headers["X-Trainer-Url"] == f"/learn/attempts/{attempt_id}/pages/{total - 1}"
    assert f"{total} / {total} ページ" in moved.get_data(as_text=True)
    end = client.post(f"/learn/attempts/{attempt_id}/pages/{total - 1}/next", headers=SWAP)
    assert end.status_code == 204 and end.get_data() == b""
    assert end.headers["X-Trainer-Url"] == f"/learn/attempts/{attempt_id}/done"
    assert client.get(end.headers["X-Trainer-Url"]).status_code == 200


def _hidden(body: str, name: str) -> str:
    import re

    return re.search(rf'name="{name}" type="hidden" value="([^"]*)"|type="hidden" name="{name}" value="([^"]*)"',
                     body).group(0).rsplit('value="', 1)[1][:-1]


def test_the_opinion_form_of_a_swapped_feedback_page_returns_to_the_page(app, client, trainee):
    """After a swapped answer the page's address is the POST's (.../answer); the opinion form must send
    the trainee back to the page itself, not to the answer URL (a GET there is a 405)."""
    from sqlalchemy import select

    from trainer.extensions import db
    from trainer.models import Opinion

    attempt_id, _ = _start(client)
    index = _first_question(app, attempt_id)
    play_to_end_until(app, client, attempt_id, index)
    _, _, qtype, data = _page(app, attempt_id, index)
    response = client.post(f"/learn/attempts/{attempt_id}/pages/{index}/answer", headers=SWAP,
                           data={"token": "swap-op", **best_answer(qtype, data)})
    body = response.get_data(as_text=True)
    page_url = f"/learn/attempts/{attempt_id}/pages/{index}"
    assert _hidden(body, "next") == page_url
    sent = client.post("/learn/opinions", data={
        "body": "この解説が分かりやすかった", "next": _hidden(body, "next"), "case_id": _hidden(body, "case_id"),
        "module_id": _hidden(body, "module_id"), "question_id": _hidden(body, "question_id"),
        "client_token": _hidden(body, "client_token")})
    assert sent.status_code == 302 and sent.headers["Location"].endswith(page_url)
    back = client.get(sent.headers["Location"])
    assert back.status_code == 200 and "ご意見を受け付けました" in back.get_data(as_text=True)
    with app.app_context():
        opinion = db.session.scalars(select(Opinion)).one()
        assert opinion.module_id and opinion.question_id is not None


def test_the_swapped_page_counts_the_new_answer_and_the_last_answer_completes(app, client, trainee):
    """The page after a swapped answer uses the attempt and answers read in the answer's own transaction
    (answering.answer_and_read); the last answer completes the attempt and its page is read afresh."""
    from trainer.extensions import db
    from trainer.models import Attempt

    attempt_id, _ = _start(client)
    total = _page(app, attempt_id, 0)[0]
    questions = [i for i in range(total) if _page(app, attempt_id, i)[1]]
    for n, index in enumerate(questions, start=1):
        play_to_end_until(app, client, attempt_id, index)
        _, _, qtype, data = _page(app, attempt_id, index)
        response = client.post(f"/learn/attempts/{attempt_id}/pages/{index}/answer", headers=SWAP,
                               data={"token": f"count-{n}", **best_answer(qtype, data)})
        body = response.get_data(as_text=True)
        assert response.status_code == 200 and 'id="feedback"' in body
        assert f"回答済み {n} / {len(questions)} 問" in body
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        assert attempt.completed_at is not None and attempt.score is not None
