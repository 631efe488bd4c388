"""A content editor (demo-editor) at 360 px and 1280 px: opens a point, sees how its questions behave
and what practitioners said, marks an opinion with the keyboard, opens the printable revision sheet;
the trainee then sees the reply. axe finds no serious or critical violation on any editor page."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.e2e.conftest import axe_violations
from trainer.extensions import db

OPINION = "この問いの選択肢の言い回しが分かりにくいです"
REPLY = "次の版で選択肢の表現を見直します"


@pytest.fixture(scope="session")
def editor_data(e2e_app):
    """40 first attempts at one single-choice question of the real content, and one opinion on it."""
    from trainer.dates import utcnow
    from trainer.models import Answer, Attempt, Question, QuestionPoint, Role
    from trainer.services import accounts, grading, opinions, orgs

    with e2e_app.app_context():
        question = db.session.scalars(select(Question).where(Question.type == "single", Question.retired_at.is_(None))
                                      .order_by(Question.id)).first()
        version = question.current_version
        point = db.session.scalar(select(QuestionPoint.point_id).where(QuestionPoint.version_id == version.id))
        if accounts.login_exists("ed-0001"):
            return {"question": question.key, "point": point}
        org = orgs.by_code("140007")
        choices = [c["id"] for c in version.data["choices"]]
        for n in range(40):
            user = accounts.create_user(login_id=f"ed-{n:04d}", display_name=f"統計用{n}", organization=org, password="",
                                        generated=True, password_hash="pbkdf2:sha256:1$x$x", roles=(Role.TRAINEE,))
            started = utcnow() - timedelta(days=2, minutes=n)
            attempt = Attempt(user_id=user.id, module_id=question.module_id, number=1, started_at=started,
                              completed_at=started + timedelta(minutes=15), score=(n % 10) / 10)
            db.session.add(attempt)
            db.session.flush()
            choice = choices[n % len(choices)]
            grade = grading.grade("single", version.data, {"choice": choice})
            db.session.add(Answer(attempt_id=attempt.id, user_id=user.id, question_id=question.id, version_id=version.id,
                                  token=f"ed{n}", response={"choice": choice}, score=grade.score, rating=grade.rating,
                                  created_at=started + timedelta(seconds=90)))
        trainee = accounts.find_by_login("demo-trainee")
        opinions.add(trainee, OPINION, question_id=question.id)
        db.session.commit()
        return {"question": question.key, "point": point}


def _fits(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("width", [360, 1280])
def test_editor_pages_pass_axe(page, live_server, login_as, screenshot, editor_data, width):
    page.set_viewport_size({"width": width, "height": 900})
    login_as("demo-editor")
    assert page.url == f"{live_server}/editor/"
    _fits(page, width)
    assert axe_violations(page) == []
    page.get_by_role("link", name=editor_data["point"], exact=False).first.click()
    page.wait_for_load_state("networkidle")
    assert editor_data["question"] in page.content() and OPINION in page.content()
    _fits(page, width)
    screenshot(f"editor-point-{width}")
    assert axe_violations(page) == []
    page.get_by_role("link", name="改訂シートを開く").click()
    page.wait_for_load_state("networkidle")
    assert "改訂シート" in page.title()
    _fits(page, width)
    assert axe_violations(page) == []
    page.emulate_media(media="print")
    assert not page.get_by_role("navigation", name="メインメニュー").is_visible()  # menus are not printed
    page.emulate_media(media="screen")
    page.goto(f"{live_server}/editor/questions/{editor_data['question']}")
    assert "現在の版" in page.content()
    _fits(page, width)
    assert axe_violations(page) == []
    page.goto(f"{live_server}/editor/opinions")
    _fits(page, width)
    assert axe_violations(page) == []


def test_editor_marks_an_opinion_and_the_author_reads_the_reply(page, live_server, login_as, editor_data, e2e_app):
    login_as("demo-editor")
    page.goto(f"{live_server}/editor/opinions?status=open")
    item = page.locator(".opinion-item", has_text=OPINION)
    item.get_by_label("対応状況").select_option(label="反映予定")
    item.get_by_label("タグ").fill("表現")
    reply = item.get_by_label("投稿者への回答")
    reply.fill(REPLY)
    box = item.get_by_role("button", name="対応を保存").bounding_box()
    assert box["height"] >= 44  # a 44 px target
    reply.focus()
    page.keyboard.press("Tab")  # to the save button, then Enter: the keyboard alone saves it
    page.keyboard.press("Enter")
    page.wait_for_load_state("networkidle")
    assert "対応を保存しました" in page.content()
    assert OPINION not in page.content()  # no longer 未対応: gone from this filtered list
    page.get_by_role("button", name="ログアウト").click()
    page.wait_for_load_state("networkidle")
    login_as("demo-trainee")
    page.goto(f"{live_server}/learn/opinions")
    assert REPLY in page.content() and "反映予定" in page.content()
    assert axe_violations(page) == []
