"""Files -> import -> database: idempotence, versions, retirement, sanitization, all-or-nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from trainer.content.loader import content_hash, load_content
from trainer.content.render import render_markdown
from trainer.content.sync import import_content
from trainer.extensions import db
from trainer.models import (
    Case, ContentRelease, Course, Module, ModuleStep, Point, Question, QuestionPoint, QuestionVersion, Stage,
)


def _import(tree) -> object:
    content = tree.content()
    report = import_content(content, content_hash(tree.root))
    db.session.commit()
    return report


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_round_trip_every_question_type(tree, app_ctx):
    report = _import(tree)
    assert report.changed and report.release is not None
    assert _count(Point) == 50
    by_type = dict(db.session.execute(select(Question.type, func.count()).group_by(Question.type)).all())
    assert set(by_type) == {"single", "multiple", "ordering", "reflection", "self_rating"}
    single = db.session.scalar(select(Question).where(Question.key == "case-01-q1")).current_version.data
    assert single["choices"][0]["rating"] in {"best", "acceptable", "caution"}
    assert single["choices"][0]["feedback_html"].startswith("<p>")
    ordering = db.session.scalar(select(Question).where(Question.type == "ordering")).current_version.data
    assert sorted(ordering["order"]) == sorted(c["id"] for c in ordering["choices"])
    reflection = db.session.scalar(select(Question).where(Question.type == "reflection")).current_version.data
    assert reflection["choices"] == []
    rating = db.session.scalar(select(Question).where(Question.type == "self_rating")).current_version.data
    assert rating["phase"] in {"before", "after", None}
    module = db.session.get(Module, "m-case-01")
    assert "s1" in [s.stage_key for s in module.steps]
    assert db.session.get(Case, "case-01").stages[0].html.startswith("<p>")
    # tagged points are queryable
    q1 = db.session.scalar(select(Question).where(Question.key == "case-01-q1"))
    tagged = set(db.session.scalars(select(QuestionPoint.point_id).where(QuestionPoint.version_id == q1.current_version_id)))
    assert tagged == set(single["points"])
    assert _count(Course) >= 1


def test_second_import_changes_nothing(tree, app_ctx):
    _import(tree)
    before = {m.__tablename__: _count(m) for m in (ContentRelease, Question, QuestionVersion, Stage, ModuleStep)}
    report = _import(tree)
    assert not report.changed and report.release is None and report.lines() == []
    assert {m.__tablename__: _count(m) for m in (ContentRelease, Question, QuestionVersion, Stage, ModuleStep)} == before


def test_edited_question_gets_a_new_version_and_keeps_the_old(tree, app_ctx):
    _import(tree)
    question = db.session.scalar(select(Question).where(Question.key == "case-01-q1"))
    old_version = question.current_version
    old_prompt = old_version.data["prompt"]
    tree.replace("quizzes/m-case-01.yaml", old_prompt.strip().splitlines()[0], "書き換えた問いの文です。")
    report = _import(tree)
    assert report.counts["question"]["new_version"] == 1
    db.session.expire_all()
    question = db.session.scalar(select(Question).where(Question.key == "case-01-q1"))
    assert question.current_version.version == 2
    assert "書き換えた" in question.current_version.data["prompt"]
    kept = db.session.get(QuestionVersion, old_version.id)
    assert kept.version == 1 and kept.data["prompt"] == old_prompt
    assert _count(ContentRelease) == 2


def test_point_wording_change_keeps_the_id(tree, app_ctx):
    _import(tree)
    tree.replace("framework.yaml", "title: 論点1の見出し", "title: 新しい公式の文言")
    report = _import(tree)
    assert report.counts["point"]["updated"] == 1
    assert db.session.get(Point, "P01").title == "新しい公式の文言"


def test_removed_module_is_retired_not_deleted(tree, app_ctx):
    _import(tree)
    (tree.root / "quizzes" / "m-case-02.yaml").unlink()
    courses = tree.read("courses.yaml")
    if "m-case-02" in courses:
        tree.write("courses.yaml", courses.replace(", m-case-02", "").replace("m-case-02, ", "").replace("- m-case-02\n", ""))
    report = _import(tree)
    assert report.counts["module"]["retired"] == 1
    module = db.session.get(Module, "m-case-02")
    assert module is not None and module.retired_at is not None
    retired_questions = db.session.scalars(select(Question).where(Question.module_id == "m-case-02")).all()
    assert retired_questions and all(q.retired_at is not None for q in retired_questions)


def test_broken_tree_imports_nothing(tree, runner, app):
    tree.replace("quizzes/m-case-01.yaml", "feedback: 家族の労をねぎらうことが関係づくりの第一歩です（P01）。", "rating: splendid")
    with app.app_context():
        before = _count(Question), _count(ContentRelease)
    result = runner.invoke(args=["content", "import", "content"])
    assert result.exit_code == 1
    assert "content/quizzes/m-case-01.yaml:" in result.output
    with app.app_context():
        assert (_count(Question), _count(ContentRelease)) == before == (0, 0)


def test_cli_import_is_idempotent(tree, runner):
    first = runner.invoke(args=["content", "import", "content"])
    assert first.exit_code == 0 and "を取り込みました" in first.output
    second = runner.invoke(args=["content", "import", "content"])
    assert second.exit_code == 0 and "変更はありません" in second.output


PAYLOADS = [
    "<script>alert(1)</script>本文",
    "<img src=x onerror=alert(1)>",
    "[クリック](javascript:alert(1))",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<a href="#" onclick="alert(1)">リンク</a>',
    "<iframe src='https://evil.example'></iframe>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<svg><script>alert(1)</script></svg>",
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<object data="x.swf"></object><embed src="x">',
    "<form action='https://evil.example'><input name=a></form>",
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    "![x](javascript:alert(1))",
    "<style>body{display:none}</style>",
    '<meta http-equiv="refresh" content="0;url=https://evil.example">',
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markdown_is_sanitized(payload):
    html = render_markdown(payload).lower()
    for bad in ("<script", "onerror", "onclick", "javascript:", "data:text", "<iframe", "style=", "<svg",
                "<object", "<embed", "<form", "<math", "<style", "<meta"):
        assert bad not in html, (payload, html)


def test_safe_markdown_survives():
    html = render_markdown("**大切**な[リンク](https://example.jp)\n\n- 一つ目\n- 二つ目")
    assert "<strong>大切</strong>" in html
    assert 'href="https://example.jp"' in html and 'rel="noopener noreferrer"' in html
    assert "<li>一つ目</li>" in html


def test_payload_in_a_stage_is_stored_sanitized(tree, app_ctx):
    text = tree.read("cases/case-01.md")
    tree.write("cases/case-01.md", text.replace("母親から電話があった。", "母親から<script>alert(1)</script>電話があった。<img src=x onerror=alert(2)>"))
    _import(tree)
    html = db.session.scalar(select(Stage.html).where(Stage.case_id == "case-01", Stage.key == "s1"))
    assert "<script" not in html and "onerror" not in html and "電話があった" in html


def test_the_real_content_tree_imports(app_ctx):
    from pathlib import Path

    root = Path(app_ctx.config["CONTENT_DIR"])
    content, problems = load_content(root)
    assert problems == []
    report = import_content(content, content_hash(root))
    db.session.commit()
    assert report.changed and _count(Point) == 50
