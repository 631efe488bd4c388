"""The editors' workflow: statistics pages and exports, opinions with a status and a reply that the
author sees, the opinion form on a question's feedback page, the revision sheet."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from tests.test_itemstats import Builder
from trainer.extensions import db
from trainer.models import AuditEvent, ContentRelease, Opinion, Question, Role


@pytest.fixture
def editor(make_user):
    return make_user(Role.EDITOR, login_id="editor-1")


@pytest.fixture
def trainee(make_user):
    return make_user(Role.TRAINEE, login_id="trainee-1")


@pytest.fixture
def answers(app, small_content):
    """40 answers to case-01-q1: 20 best, 10 acceptable, 10 caution (see test_itemstats)."""
    with app.app_context():
        build = Builder()
        build.many(20, "a", 0.9)
        build.many(10, "c", 0.5)
        build.many(10, "b", 0.3)
        db.session.commit()


def _opinion(app, user, body="説明が分かりにくい", **target) -> int:
    from trainer.services import opinions

    with app.app_context():
        op = opinions.add(db.session.merge(user), body, **target)
        db.session.commit()
        return op.id


def test_point_page_shows_the_statistics_of_its_questions(client, login, editor, answers):
    login(editor)
    page = client.get("/editor/points/P01")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "case-01-q1" in html and "50%" in html  # facility 20/40
    assert "回答が30件未満" not in html.split("case-01-q1")[1].split("</tr>")[0]


def test_bad_filters_get_a_japanese_message_and_no_figures(client, login, editor, answers):
    login(editor)
    page = client.get("/editor/points/P01?since=2020-13-01&mode=x&prefecture=abc")
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert "年-月-日" in html and "受講の形は一覧から" in html and "都道府県は一覧から" in html
    assert "case-01-q1</a>" not in html


def test_export_matches_the_screen_and_is_audited(app, client, login, editor, answers):
    login(editor)
    csv = client.get("/editor/points/P01/stats.csv")
    assert csv.status_code == 200
    text = csv.data.decode("utf-8-sig")
    row = next(line for line in text.splitlines() if line.startswith("case-01-q1"))
    assert ",40,50.0," in row  # n and facility as on the screen
    xlsx = client.get("/editor/cases/case-01/sheet.xlsx")
    book = load_workbook(io.BytesIO(xlsx.data))
    assert book.sheetnames == ["条件", "項目統計", "意見", "現在の本文"]
    keys = [r[0].value for r in book["項目統計"].iter_rows(min_row=2)]
    assert "case-01-q1" in keys
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "editor.export")) == 2


def test_status_change_and_reply_reach_the_author(app, client, login, editor, trainee, small_content):
    opinion_id = _opinion(app, trainee, point_id="P01")
    with app.app_context():
        release = db.session.scalar(select(ContentRelease.id))
    login(editor)
    listing = client.get("/editor/opinions?status=open")
    assert "説明が分かりにくい" in listing.get_data(as_text=True)
    assert "利用者" not in listing.get_data(as_text=True).split("意見照会")[-1]  # no author name
    # 反映済 without the release that answered it: refused, nothing changed
    refused = client.post(f"/editor/opinions/{opinion_id}", data={
        f"o{opinion_id}-status": "done", f"o{opinion_id}-reply": "直しました", f"o{opinion_id}-tags": "",
        f"o{opinion_id}-release": ""}, follow_redirects=True)
    assert "反映した教材の版を選んでください" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Opinion, opinion_id).status == "open"
    saved = client.post(f"/editor/opinions/{opinion_id}", data={
        f"o{opinion_id}-status": "done", f"o{opinion_id}-reply": "第2版で説明を書き直しました。<b>ありがとう</b>",
        f"o{opinion_id}-tags": "表現、P01, 表現", f"o{opinion_id}-release": str(release)}, follow_redirects=True)
    assert "対応を保存しました" in saved.get_data(as_text=True)
    with app.app_context():
        op = db.session.get(Opinion, opinion_id)
        assert (op.status, op.tags, op.resolved_release_id) == ("done", ["表現", "P01"], release)
        assert op.replied_by_id == editor.id and op.replied_at is not None
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "opinion.update"))
        assert event.actor_label == "editor-1" and event.detail["status"] == ["open", "done"]
    client.post("/auth/logout")
    login(trainee)
    mine = client.get("/learn/opinions").get_data(as_text=True)
    assert "反映済" in mine and "第2版で説明を書き直しました。&lt;b&gt;ありがとう&lt;/b&gt;" in mine


def test_an_unknown_status_is_refused(app, client, login, editor, trainee, small_content):
    opinion_id = _opinion(app, trainee, point_id="P01")
    login(editor)
    client.post(f"/editor/opinions/{opinion_id}", data={f"o{opinion_id}-status": "deleted"})
    with app.app_context():
        assert db.session.get(Opinion, opinion_id).status == "open"


def test_a_trainee_sees_only_their_own_opinions(app, client, login, make_user, trainee, small_content):
    other = make_user(Role.TRAINEE, login_id="trainee-2")
    _opinion(app, other, "ほかの人の意見です", point_id="P01")
    _opinion(app, trainee, "自分の意見です", point_id="P01")
    login(trainee)
    page = client.get("/learn/opinions").get_data(as_text=True)
    assert "自分の意見です" in page and "ほかの人の意見です" not in page


def test_opinion_from_a_question_feedback_page(app, client, login, trainee, small_content):
    login(trainee)
    start = client.post("/learn/modules/m-case-01/start")
    attempt_path = start.headers["Location"].rsplit("/pages/", 1)[0]
    with app.app_context():
        question = db.session.scalar(select(Question).where(Question.key == "case-01-q0"))
        points = question.current_version.data["points"]
    client.post(f"{attempt_path}/pages/0/answer", data={f"rating-{p}": "3" for p in points})
    page = client.get(f"{attempt_path}/pages/0").get_data(as_text=True)
    assert 'name="question_id"' in page and f'value="{question.id}"' in page
    sent = client.post("/learn/opinions", data={"body": "この問いの言い回しが難しい", "question_id": str(question.id),
                                                "module_id": "m-case-01", "case_id": "case-01"})
    assert sent.status_code == 302
    with app.app_context():
        op = db.session.scalar(select(Opinion))
        assert (op.question_id, op.module_id, op.case_id, op.status) == (question.id, "m-case-01", "case-01", "open")


def test_question_page_compares_versions_and_lists_its_opinions(app, client, login, editor, trainee, answers):
    with app.app_context():
        qid = db.session.scalar(select(Question.id).where(Question.key == "case-01-q1"))
    _opinion(app, trainee, "選択肢bの解説に疑問", question_id=qid)
    login(editor)
    html = client.get("/editor/questions/case-01-q1").get_data(as_text=True)
    assert "第1版（現在の版）" in html and "選択肢bの解説に疑問" in html
    assert client.get("/editor/questions/no-such-key").status_code == 404


def test_revision_sheet_has_text_statistics_and_opinions(app, client, login, editor, trainee, answers):
    _opinion(app, trainee, "事例の状況が現実的でない", case_id="case-01")
    login(editor)
    html = client.get("/editor/cases/case-01/sheet").get_data(as_text=True)
    assert "1. 現在の本文" in html and "2. 項目統計" in html and "事例の状況が現実的でない" in html
    assert "case-01-q1" in html and "print-sheet" in html


def test_a_point_page_costs_the_same_statements_whatever_the_number_of_answers(app, client, login, editor, answers):
    from sqlalchemy import event

    login(editor)
    with app.app_context():
        engine = db.engine

    def statements() -> int:
        seen = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert client.get("/editor/points/P01").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    before = statements()
    with app.app_context():
        build = Builder()
        build.n = 1000
        build.many(40, "a", 0.6)
        db.session.commit()
    assert statements() == before
    assert before <= 20, before


@pytest.mark.parametrize("field,value,message", [
    ("tags", "、".join(f"タグ{n}" for n in range(9)), "タグは8個まで"),
    ("tags", "あ" * 31, "1つ30文字以内"),
    ("reply", "あ" * 2001, "2000文字以内"),
    ("release", "999999", "反映した教材の版が見つかりません"),
])
def test_bad_workflow_input_is_refused_in_japanese_and_changes_nothing(app, client, login, editor, trainee,
                                                                      small_content, field, value, message):
    opinion_id = _opinion(app, trainee, point_id="P01")
    login(editor)
    data = {f"o{opinion_id}-status": "considering", f"o{opinion_id}-reply": "", f"o{opinion_id}-tags": "",
            f"o{opinion_id}-release": "", f"o{opinion_id}-{field}": value}
    page = client.post(f"/editor/opinions/{opinion_id}", data=data, follow_redirects=True)
    assert message in page.get_data(as_text=True)
    with app.app_context():
        op = db.session.get(Opinion, opinion_id)
        assert (op.status, op.reply, op.tags, op.resolved_release_id) == ("open", None, None, None)
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "opinion.update")) == 0
