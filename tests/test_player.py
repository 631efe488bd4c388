"""The guided player through the Flask client: answers once, errors keep the choice, resume, retake,
completion, mastery, certificates and their public verification, opinions."""
from __future__ import annotations

import re
import subprocess

import pytest
from sqlalchemy import func, select

from trainer.extensions import db
from trainer.models import Answer, Attempt, Certificate, Opinion, Question, Role
from trainer.services import player

PAGE_RE = re.compile(r"/learn/attempts/(\d+)/pages/(\d+)")


@pytest.fixture
def trainee(make_user, login, small_content):
    user = make_user(Role.TRAINEE, name="受講 太郎")
    login(user)
    return user


def _start(client, module_id="m-case-01", retake=False) -> tuple[int, int]:
    data = {"retake": "1"} if retake else {}
    response = client.post(f"/learn/modules/{module_id}/start", data=data)
    assert response.status_code == 302
    attempt_id, index = PAGE_RE.search(response.headers["Location"]).groups()
    return int(attempt_id), int(index)


def _page(app, attempt_id: int, index: int):
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        pages = player.pages(attempt.module)
        page = pages[index]
        version = page.question.current_version if page.question else None
        return len(pages), page.question.key if page.question else None, version.type if version else None, \
            version.data if version else None


def best_answer(qtype: str, data: dict) -> dict:
    if qtype == "single":
        return {"choice": next(c["id"] for c in data["choices"] if c["rating"] == "best")}
    if qtype == "multiple":
        return {"choices": [c["id"] for c in data["choices"] if c["rating"] == "best"]}
    if qtype == "ordering":
        return {f"rank-{cid}": str(i + 1) for i, cid in enumerate(data["order"])}
    if qtype == "reflection":
        return {"text": "家族の疲れを受け止め、本人のペースを大切にしたい。"}
    return {f"rating-{p}": "3" for p in data["points"]}


def play_to_end(app, client, attempt_id: int, index: int, answer=best_answer) -> None:
    """Answer every remaining page of an attempt, then press 次へ on the last page."""
    while True:
        total, key, qtype, data = _page(app, attempt_id, index)
        if key is not None:
            form = {"token": f"tok-{attempt_id}-{index}", **answer(qtype, data)}
            response = client.post(f"/learn/attempts/{attempt_id}/pages/{index}/answer", data=form)
            assert response.status_code == 302, response.get_data(as_text=True)[:500]
        response = client.post(f"/learn/attempts/{attempt_id}/pages/{index}/next")
        if index == total - 1:
            assert response.headers["Location"].endswith(f"/learn/attempts/{attempt_id}/done")
            return
        index += 1


def _answers(app, attempt_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Answer).where(Answer.attempt_id == attempt_id))


def test_single_answer_feedback_and_other_choices(app, client, trainee):
    attempt_id, index = _start(client)
    # find the single-choice page
    total, _, _, _ = _page(app, attempt_id, 0)
    play_to = next(i for i in range(total) if _page(app, attempt_id, i)[2] == "single")
    play_to_end_until(app, client, attempt_id, play_to)
    _, key, _, data = _page(app, attempt_id, play_to)
    caution = next(c for c in data["choices"] if c["rating"] == "caution")
    client.post(f"/learn/attempts/{attempt_id}/pages/{play_to}/answer", data={"choice": caution["id"], "token": "t1"})
    body = client.get(f"/learn/attempts/{attempt_id}/pages/{play_to}").get_data(as_text=True)
    assert "要注意" in body and caution["text"] in body
    assert "ほかの選択肢の解説を読む" in body
    best = next(c for c in data["choices"] if c["rating"] == "best")
    assert best["text"] in body and "最適" in body  # the other choices' feedback is there to read
    assert "この問いの支援のポイント" in body and "P01" in body


def play_to_end_until(app, client, attempt_id: int, stop: int) -> None:
    for index in range(stop):
        _, key, qtype, data = _page(app, attempt_id, index)
        if key:
            client.post(f"/learn/attempts/{attempt_id}/pages/{index}/answer",
                        data={"token": f"u{index}", **best_answer(qtype, data)})
        client.post(f"/learn/attempts/{attempt_id}/pages/{index}/next")


def test_double_submit_records_one_answer(app, client, trainee):
    attempt_id, index = _start(client)
    _, _, qtype, data = _page(app, attempt_id, index)
    form = {"token": "same-token", **best_answer(qtype, data)}
    first = client.post(f"/learn/attempts/{attempt_id}/pages/{index}/answer", data=form)
    second = client.post(f"/learn/attempts/{attempt_id}/pages/{index}/answer", data=form)
    third = client.post(f"/learn/attempts/{attempt_id}/pages/{index}/answer", data={**form, "token": "other"})
    assert first.status_code == second.status_code == third.status_code == 302
    assert _answers(app, attempt_id) == 1


def test_invalid_answer_keeps_the_choice_and_stores_nothing(app, client, trainee):
    attempt_id, _ = _start(client)
    total = _page(app, attempt_id, 0)[0]
    ordering = next(i for i in range(total) if _page(app, attempt_id, i)[2] == "ordering")
    play_to_end_until(app, client, attempt_id, ordering)
    before = _answers(app, attempt_id)
    _, _, _, data = _page(app, attempt_id, ordering)
    ids = [c["id"] for c in data["choices"]]
    form = {f"rank-{ids[0]}": "1", f"rank-{ids[1]}": "1", "token": "x"}
    response = client.post(f"/learn/attempts/{attempt_id}/pages/{ordering}/answer", data=form)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "重ならないように順位" in body and "1位が2つの項目に付いています" in body
    assert re.search(rf'name="rank-{ids[0]}".*?<option value="1" selected', body, re.S)
    assert _answers(app, attempt_id) == before


def test_pages_cannot_be_skipped(app, client, trainee):
    attempt_id, index = _start(client)
    total = _page(app, attempt_id, 0)[0]
    first_question = next(i for i in range(total) if _page(app, attempt_id, i)[1])
    assert client.get(f"/learn/attempts/{attempt_id}/pages/{first_question + 1}").status_code == 404
    assert client.post(f"/learn/attempts/{attempt_id}/pages/{first_question}/next").status_code == 302
    assert _answers(app, attempt_id) == 0


def test_resume_after_logout_returns_to_the_exact_page(app, client, trainee, login):
    attempt_id, _ = _start(client)
    play_to_end_until(app, client, attempt_id, 3)
    client.post("/auth/logout")
    login(trainee)
    attempt_again, index = _start(client)
    assert (attempt_again, index) == (attempt_id, 3)
    assert client.get(f"/learn/attempts/{attempt_id}").headers["Location"].endswith(f"/pages/3")


def test_completion_score_retake_and_history(app, client, trainee):
    attempt_id, index = _start(client)
    play_to_end(app, client, attempt_id, index)
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        assert attempt.completed_at is not None and attempt.score == 100.0
    done = client.get(f"/learn/attempts/{attempt_id}/done").get_data(as_text=True)
    assert "このモジュールに最後まで取り組みました" in done and "100%" in done
    second, _ = _start(client, retake=True)
    assert second != attempt_id
    with app.app_context():
        numbers = db.session.scalars(select(Attempt.number).where(Attempt.user_id == trainee.id)).all()
    assert sorted(numbers) == [1, 2]
    assert "1回目" in client.get("/learn/modules/m-case-01").get_data(as_text=True)


def test_low_score_is_encouraged_not_punished(app, client, trainee):
    def worst(qtype, data):
        if qtype == "single":
            return {"choice": next(c["id"] for c in data["choices"] if c["rating"] == "caution")}
        if qtype == "multiple":
            return {"choices": [c["id"] for c in data["choices"] if c["rating"] == "caution"]}
        if qtype == "ordering":
            return {f"rank-{cid}": str(i + 1) for i, cid in enumerate(reversed(data["order"]))}
        return best_answer(qtype, data)

    attempt_id, index = _start(client)
    play_to_end(app, client, attempt_id, index, answer=worst)
    body = client.get(f"/learn/attempts/{attempt_id}/done").get_data(as_text=True)
    assert "0%" in body and "もう一度取り組んでみてください" in body and "何度でも" in body


def test_mastery_map_changes(app, client, trainee):
    body = client.get("/learn/progress").get_data(as_text=True)
    assert "未練習 50" in body and "平均が80%以上なら「定着」" in body
    attempt_id, index = _start(client)
    play_to_end(app, client, attempt_id, index)
    body = client.get("/learn/progress").get_data(as_text=True)
    assert "未練習 50" not in body
    assert re.search(r"学習中 [1-9]|定着 [1-9]", body)


def test_course_certificate_pdf_and_public_verification(app, client, trainee):
    response = client.post("/learn/courses/values-only/certificate")
    assert response.status_code == 302
    assert "修了証を発行できます" in client.get("/learn/courses/values-only").get_data(as_text=True)
    attempt_id, index = _start(client, "m-values")
    play_to_end(app, client, attempt_id, index)
    client.post("/learn/courses/values-only/certificate")
    client.post("/learn/courses/values-only/certificate")  # twice: one certificate
    with app.app_context():
        certs = db.session.scalars(select(Certificate).where(Certificate.user_id == trainee.id)).all()
    assert len(certs) == 1
    code = certs[0].code
    pdf = client.get(f"/learn/certificates/{code}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf.data, capture_output=True, check=True).stdout.decode()
    assert "受講 太郎" in text and "修 了 証" in text and code in text and "令和" in text
    client.post("/auth/logout")
    page = client.get(f"/verify/{code}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "この修了証は有効です" in body and "受講 太郎" in body
    assert "login_id" not in body and trainee.login_id not in body
    assert client.get(f"/verify?code={code.lower().replace('-', '')}").status_code == 200
    unknown = client.get("/verify/ZZZZ-ZZZZ-ZZZZ")
    assert unknown.status_code == 404 and "見つかりません" in unknown.get_data(as_text=True)


def test_opinions_are_collected_and_exported(app, client, trainee, make_user, login):
    client.post("/learn/opinions", data={"body": "=1+1 この事例の母親の言葉が印象的でした", "case_id": "case-01",
                                         "next": "/learn/modules/m-case-01"})
    client.post("/learn/opinions", data={"body": "P01の説明が分かりやすい", "point_id": "P01"})
    client.post("/learn/opinions", data={"body": "", "point_id": "P01"})
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Opinion)) == 2
    client.post("/auth/logout")
    login(make_user(Role.ADMIN))
    listing = client.get("/admin/opinions?case=case-01").get_data(as_text=True)
    assert "母親の言葉" in listing and "P01の説明" not in listing
    export = client.get("/admin/opinions.csv")
    text = export.data.decode("utf-8")
    assert text.startswith("\ufeff日時,")
    assert "'=1+1 この事例" in text


def test_edited_question_keeps_the_answered_version(app, client, trainee, tmp_path):
    attempt_id, index = _start(client)
    play_to_end(app, client, attempt_id, index)
    with app.app_context():
        question = db.session.scalar(select(Question).where(Question.key == "case-01-q1"))
        answered_version = db.session.scalar(select(Answer.version_id).where(
            Answer.attempt_id == attempt_id, Answer.question_id == question.id))
        assert answered_version == question.current_version_id
    from tests.content.conftest import framework_yaml
    from trainer.content.loader import content_hash, load_content
    from trainer.content.sync import import_content
    import shutil
    from tests.conftest import FIXTURE_CONTENT

    root = tmp_path / "edited"
    shutil.copytree(FIXTURE_CONTENT, root)
    (root / "framework.yaml").write_text(framework_yaml(), encoding="utf-8")
    path = root / "quizzes" / "m-case-01.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("最初にどう応じますか。", "最初にどのように応じますか。"), encoding="utf-8")
    content, problems = load_content(root)
    assert problems == []
    with app.app_context():
        import_content(content, content_hash(root))
        db.session.commit()
        question = db.session.scalar(select(Question).where(Question.key == "case-01-q1"))
        assert question.current_version_id != answered_version
        answer = db.session.scalar(select(Answer).where(Answer.attempt_id == attempt_id, Answer.question_id == question.id))
        assert answer.version_id == answered_version
    # the old attempt's feedback still shows the wording that was answered
    _, _, qtype, _ = _page(app, attempt_id, 0)
    pages_total = _page(app, attempt_id, 0)[0]
    single = next(i for i in range(pages_total) if _page(app, attempt_id, i)[1] == "case-01-q1")
    body = client.get(f"/learn/attempts/{attempt_id}/pages/{single}").get_data(as_text=True)
    assert "最初にどう応じますか。" in body


def test_honesty_note_is_shown_wherever_points_are_listed(app, client, trainee, tmp_path):
    with app.app_context():
        from trainer.services.framework import honesty_note

        note = honesty_note()
    assert note
    for path in ("/learn/progress", "/learn/points/P01", "/learn/modules/m-case-01"):
        assert note in client.get(path).get_data(as_text=True), path


def test_a_repeated_answer_is_reported_as_not_new(app, client, trainee):
    """The answer path tells a new answer from a resent one on both databases (psycopg 3 gives no
    rowcount for INSERT .. ON CONFLICT DO NOTHING, so it must not be read)."""
    from trainer.services import answering

    attempt_id, index = _start(client)
    _, _, qtype, data = _page(app, attempt_id, index)
    with app.app_context():
        row = answering.load_attempt(attempt_id, trainee.id)
        version, total = answering.page_version(row, index, None)
        raw = {"ratings": {p: 3 for p in data["points"]}} if qtype == "self_rating" else best_answer(qtype, data)
        assert answering.answer(row, index, version, total, raw, "first") is True
        assert answering.answer(row, index, version, total, raw, "again") is False
        db.session.commit()
