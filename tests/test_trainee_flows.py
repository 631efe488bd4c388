"""Issue 17, trainee flows (server side): one primary next step on home, result and course pages;
the certificate issued and downloaded from where the course was completed; result pages in the
trainee's words (問1, 問2… and their own before/after self-rating); the best option shown inline; the
scene folded after a step's first question; errors summarised and linked to their fields."""
from __future__ import annotations

import re

import pytest

from tests.test_player import _page, _start, best_answer, play_to_end, play_to_end_until
from trainer.extensions import db
from trainer.models import Attempt, Certificate, Role
from trainer.services import accounts, grading, next_step

START_FORM = re.compile(r'action="/learn/modules/([\w-]+)/start"')


@pytest.fixture
def trainee(make_user, login, small_content):
    user = make_user(Role.TRAINEE, name="次へ 進子", login_id="next-trainee")
    login(user)
    return user


def _step(app, login_id="next-trainee") -> next_step.NextStep:
    with app.app_context():
        step = next_step.decide(accounts.find_by_login(login_id))
        _ = step.module.title if step.module else None
        return step


def _panel(body: str) -> str:
    start = body.index('class="panel next-step"')
    return body[start:body.index("</section>", start)]


def test_new_trainee_home_offers_the_values_module_first(app, client, trainee):
    body = client.get("/learn/").get_data(as_text=True)
    panel = _panel(body)
    assert START_FORM.findall(panel) == ["m-values"]  # one primary action, the course's first module
    assert "始める" in panel and "button--primary" in panel
    assert body.index("next-step") < body.index("<h2>コース</h2>")  # at the top, before the catalogue of courses
    assert _step(app).kind == "start"


def test_an_open_attempt_is_resumed_first(app, client, trainee):
    _start(client, "m-case-01")
    step = _step(app)
    assert (step.kind, step.module.id) == ("resume", "m-case-01")
    panel = _panel(client.get("/learn/").get_data(as_text=True))
    assert START_FORM.findall(panel) == ["m-case-01"] and "続きから再開する" in panel


def test_a_finished_module_leads_to_the_next_module_of_the_course(app, client, trainee):
    attempt_id, index = _start(client, "m-case-01")
    play_to_end(app, client, attempt_id, index)
    step = _step(app)
    assert (step.kind, step.module.id) == ("start", "m-values")  # the course's first module that does not count yet
    done = client.get(f"/learn/attempts/{attempt_id}/done").get_data(as_text=True)
    assert START_FORM.findall(_panel(done)) == ["m-values"]


def test_below_pass_mark_asks_for_a_retake(app, client, trainee):
    attempt_id, index = _start(client, "m-values")

    def worst(qtype, data):
        if qtype == "single":
            return {"choice": next(c["id"] for c in data["choices"] if c["rating"] == "caution")}
        return best_answer(qtype, data)

    play_to_end(app, client, attempt_id, index, answer=worst)
    step = _step(app)
    assert (step.kind, step.module.id) == ("retake", "m-values")
    panel = _panel(client.get("/learn/").get_data(as_text=True))
    assert 'name="retake" value="1"' in panel


def test_course_complete_issue_and_download_from_the_result_page(app, client, trainee):
    attempt_id, index = _start(client, "m-values")
    play_to_end(app, client, attempt_id, index)  # completes the one-module course 「価値だけ」
    done_url = f"/learn/attempts/{attempt_id}/done"
    step = _step(app)
    assert (step.kind, step.course_id) == ("certificate", "values-only")
    panel = _panel(client.get(done_url).get_data(as_text=True))
    assert "/learn/courses/values-only/certificate" in panel and "修了証を発行する" in panel
    response = client.post("/learn/courses/values-only/certificate", data={"next": done_url})
    assert response.status_code == 302 and response.headers["Location"] == done_url  # back where they were
    with app.app_context():
        code = db.session.scalar(db.select(Certificate.code))
    page = client.get(done_url).get_data(as_text=True)
    assert f"/learn/certificates/{code}.pdf" in _panel(page)  # the download is right there
    pdf = client.get(f"/learn/certificates/{code}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    step = _step(app)
    assert step.kind == "start" and step.module.id == "m-case-01" and len(step.downloads) == 1


def test_issue_certificate_ignores_a_foreign_next(app, client, trainee):
    attempt_id, index = _start(client, "m-values")
    play_to_end(app, client, attempt_id, index)
    response = client.post("/learn/courses/values-only/certificate", data={"next": "https://evil.example/"})
    assert response.headers["Location"].endswith("/learn/courses/values-only")


def test_course_page_shows_the_next_step_before_the_module_list(app, client, trainee):
    body = client.get("/learn/courses/basic").get_data(as_text=True)
    assert body.index("next-step") < body.index("<h2>モジュール</h2>")
    assert START_FORM.findall(_panel(body)) == ["m-values"]


def test_result_page_numbers_questions_and_shows_before_after_self_rating(app, client, trainee):
    attempt_id, index = _start(client, "m-case-01")

    def rated(qtype, data):  # before: 2 on every point, after: 4
        if qtype == "self_rating":
            value = "4" if data.get("phase") == "after" else "2"
            return {f"rating-{p}": value for p in data["points"]}
        return best_answer(qtype, data)

    play_to_end(app, client, attempt_id, index, answer=rated)
    body = client.get(f"/learn/attempts/{attempt_id}/done").get_data(as_text=True)
    review = body[body.index("問いごとのふりかえり"):]
    numbers = [int(n) for n in re.findall(r">問(\d+)</a>", review)]
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        questions = sum(1 for i in range(_page(app, attempt_id, 0)[0]) if _page(app, attempt_id, i)[1])
    assert numbers == list(range(1, questions + 1))
    assert "case-01-q" not in body  # no internal IDs
    table = body[body.index('id="self-rating-title"'):body.index("問いごとのふりかえり")]
    rows = re.findall(r'<th scope="row">(P\d\d)[^<]*</th>\s*<td class="num">(\S+)</td><td class="num">(\S+)</td>', table)
    assert rows and all((before, after) == ("2", "4") for _, before, after in rows)
    assert "+2<span class=\"visually-hidden\">（上がった）</span>" in table


def test_after_self_rating_feedback_shows_the_before_value(app, client, trainee):
    attempt_id, _ = _start(client, "m-case-01")
    total = _page(app, attempt_id, 0)[0]
    last = total - 1
    assert _page(app, attempt_id, last)[2] == "self_rating"

    def rated(qtype, data):
        if qtype == "self_rating":
            return {f"rating-{p}": "1" for p in data["points"]}
        return best_answer(qtype, data)

    for i in range(last):
        _, key, qtype, data = _page(app, attempt_id, i)
        if key:
            client.post(f"/learn/attempts/{attempt_id}/pages/{i}/answer", data={"token": f"b{i}", **rated(qtype, data)})
        client.post(f"/learn/attempts/{attempt_id}/pages/{i}/next")
    _, _, _, data = _page(app, attempt_id, last)
    client.post(f"/learn/attempts/{attempt_id}/pages/{last}/answer",
                data={"token": "after", **{f"rating-{p}": "5" for p in data["points"]}})
    body = client.get(f"/learn/attempts/{attempt_id}/pages/{last}").get_data(as_text=True)
    shared = re.findall(r"学ぶ前 <strong>(\S+)</strong> → 学んだ後 <strong>(\S+)</strong>", body)
    assert shared and ("1", "5") in shared


def test_best_option_is_shown_inline_when_not_chosen(app, client, trainee):
    attempt_id, _ = _start(client, "m-case-01")
    total = _page(app, attempt_id, 0)[0]
    single = next(i for i in range(total) if _page(app, attempt_id, i)[2] == "single")
    play_to_end_until(app, client, attempt_id, single)
    _, _, _, data = _page(app, attempt_id, single)
    caution = next(c for c in data["choices"] if c["rating"] == "caution")
    best = next(c for c in data["choices"] if c["rating"] == "best")
    client.post(f"/learn/attempts/{attempt_id}/pages/{single}/answer", data={"choice": caution["id"], "token": "c"})
    body = client.get(f"/learn/attempts/{attempt_id}/pages/{single}").get_data(as_text=True)
    inline = body[body.index("最適な選択肢"):]
    assert best["text"] in inline.split("<details", 1)[0]  # before any folded part
    assert best["text"] not in body[body.find('<details class="others"'):]  # and not repeated in the fold


def test_best_option_when_chosen_is_not_repeated(app, client, trainee):
    attempt_id, _ = _start(client, "m-case-01")
    total = _page(app, attempt_id, 0)[0]
    single = next(i for i in range(total) if _page(app, attempt_id, i)[2] == "single")
    play_to_end_until(app, client, attempt_id, single + 1)
    body = client.get(f"/learn/attempts/{attempt_id}/pages/{single}").get_data(as_text=True)
    assert "最適な選択肢" not in body and "ほかの選択肢の解説を読む" in body


def test_scene_folds_after_the_steps_first_question(app, client, trainee):
    attempt_id, _ = _start(client, "m-case-01")
    total = _page(app, attempt_id, 0)[0]
    with app.app_context():
        from trainer.services import player
        pages = player.pages(db.session.get(Attempt, attempt_id).module)
        second = next(p.index for p in pages if p.index > 0 and pages[p.index - 1].step.id == p.step.id and p.question)
        first = next(p.index for p in pages if p.step.id == pages[second].step.id)
    play_to_end_until(app, client, attempt_id, second)
    opening = client.get(f"/learn/attempts/{attempt_id}/pages/{first}").get_data(as_text=True)
    later = client.get(f"/learn/attempts/{attempt_id}/pages/{second}").get_data(as_text=True)
    assert '<details class="stage__text">' not in opening
    assert '<details class="stage__text">' in later and "<details open" not in later
    assert total > second


def test_ordering_problem_names_the_colliding_ranks():
    message, field = grading.ordering_problem({"a": "2", "b": "2", "c": "1", "d": ""})
    assert "2位が2つの項目に付いています" in message and "順位を選んでいない項目が1つ" in message
    assert field == "rank-b"
    message, field = grading.ordering_problem({"a": "1", "b": "1", "c": "3", "d": "3"})
    assert "1位が2つ" in message and "3位が2つ" in message and "2位" not in message
    assert grading.ordering_problem({"a": "1", "b": "2"}) is None
    with pytest.raises(grading.ResponseError) as caught:
        grading.validate("ordering", {"choices": [{"id": "a"}, {"id": "b"}]}, {"order": [], "ranks": {"a": "1", "b": "1"}})
    assert "1位が2つの項目" in str(caught.value) and caught.value.field == "rank-b"


def test_empty_submit_gets_a_summary_that_links_to_the_first_shown_option(app, client, trainee):
    attempt_id, _ = _start(client, "m-case-01")
    total = _page(app, attempt_id, 0)[0]
    single = next(i for i in range(total) if _page(app, attempt_id, i)[2] == "single")
    play_to_end_until(app, client, attempt_id, single)
    shown = re.findall(r'name="choice" id="choice-([a-z])"', client.get(f"/learn/attempts/{attempt_id}/pages/{single}").get_data(as_text=True))
    response = client.post(f"/learn/attempts/{attempt_id}/pages/{single}/answer", data={"token": "empty"})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    summary = body[body.index('class="error-summary"'):]
    summary = summary[:summary.index("</div>")]
    assert 'role="alert"' in summary and "data-autofocus" in summary
    assert f'href="#choice-{shown[0]}"' in summary and "選択肢を1つ選んでください。" in summary
    assert body.index("error-summary") < body.index('id="question-title"')  # at the top of the page
    assert 'id="answer-error"' in body and "choices--error" in body  # and inline, by the options
    assert "js/errors.js" in body


def test_unrated_points_are_named_in_the_self_rating_error(app, client, trainee):
    attempt_id, index = _start(client, "m-case-01")
    _, _, qtype, data = _page(app, attempt_id, index)
    assert qtype == "self_rating" and len(data["points"]) > 1
    first, *rest = data["points"]
    response = client.post(f"/learn/attempts/{attempt_id}/pages/{index}/answer",
                           data={"token": "part", f"rating-{first}": "3"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "、".join(rest) in body and f'href="#rating-{rest[0]}-1"' in body


def test_form_errors_are_summarised_with_links_to_their_fields(app, client, trainee):
    response = client.post("/auth/password", data={"current": "", "new": "", "confirm": ""})
    body = response.get_data(as_text=True)
    summary = body[body.index('error-summary-box'):]
    summary = summary[:summary.index("</div>")]
    assert 'role="alert"' in summary and "data-autofocus" in summary
    links = re.findall(r'<a href="#([\w-]+)" data-error-link>', summary)
    assert links and all(f'id="{field}"' in body for field in links)  # each link goes to a field on the page
    assert 'class="field__error"' in body  # and the errors stay inline too


def _statements(app, client, url: str) -> int:
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine
    seen: list[str] = []
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return len(seen)


def test_next_step_pages_cost_the_same_whatever_was_done(app, client, trainee):
    """The next step reuses the page's module and course statuses: no query per module or course."""
    client.get("/learn/")  # the first request after an import builds the content cache (services/content_views)
    fresh = {url: _statements(app, client, url) for url in ("/learn/", "/learn/courses/basic")}
    for module_id in ("m-values", "m-case-01"):
        attempt_id, index = _start(client, module_id)
        play_to_end(app, client, attempt_id, index)
    client.post("/learn/courses/values-only/certificate")
    _start(client, "m-case-02")  # an open attempt too
    later = {url: _statements(app, client, url) for url in fresh}
    assert later == fresh, (fresh, later)
