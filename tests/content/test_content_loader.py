"""The valid fixture tree loads into the expected frozen dataclasses; loader-wide behaviour."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from trainer.content.loader import Problem, content_files, content_hash, load_content
from trainer.content.schema import (
    QUESTION_TYPES,
    RATING_LABELS,
    RATINGS,
    SCORED_TYPES,
    Choice,
    Persona,
    Question,
    Stage,
    Step,
)


def test_framework_shape(tree):
    """3 values, 4 attitudes, 6 caveats, 7 items, 50 points in fixed ranges, 11 patterns."""
    framework = tree.content().framework
    assert [len(framework.values), len(framework.attitudes), len(framework.caveats)] == [3, 4, 6]
    assert [item.number for item in framework.items] == [1, 2, 3, 4, 5, 6, 7]
    assert [len(item.points) for item in framework.items] == [9, 7, 8, 7, 7, 7, 5]
    assert len(framework.patterns) == 11 and framework.patterns[-1].id == "PT11"
    assert framework.note == "この教材は研修用に要約したものです。"
    p01 = framework.items[0].points[0]
    assert (p01.id, p01.item_id, p01.title, p01.pitfalls) == ("P01", "I1", "論点1の見出し", ("よくある落とし穴。",))
    assert (p01.values, p01.attitudes, p01.caveats) == (("V1",), ("A1", "A2"), ("C1",))
    assert framework.items[6].points[-1].values == ()


def test_case_round_trip(tree):
    """Front matter, persona and stages (raw Markdown, 1-based heading lines)."""
    case = tree.content().case("case-01")
    assert (case.id, case.pattern, case.points, case.source) == ("case-01", "PT01", ("P01", "P10", "P32"), "cases/case-01.md")
    assert case.persona == Persona("20代", "男性", "両親と同居", "約3年", "母親", "市の福祉相談窓口", "地方")
    assert [stage.id for stage in case.stages] == ["s1", "s2", "s3", "s4"]
    assert case.stage("s1") == Stage("s1", "初回相談", "母親から電話があった。息子が3年ほど部屋から出てこないという。", 17)
    assert case.stage("s2").markdown == (
        "母親との面談を月に1回続けた。\n\n```text\n## これはコードブロックの中なので見出しではない\n```"
    )
    assert case.stage("s3").markdown.endswith("### 小見出しはステージにならない\n\n本人の言葉を大切にする。")


def test_every_question_type_round_trips(tree):
    """single, multiple, ordering, reflection and self_rating become the expected dataclasses."""
    content = tree.content()
    q1 = content.question("case-01-q1")
    assert q1 == Question(
        id="case-01-q1", type="single", points=("P01", "P10"), prompt="最初にどう応じますか。",
        choices=(
            Choice("a", "相談に来たことを労い、まず話を聴く。", "best", "家族の労をねぎらうことが関係づくりの第一歩です（P01）。"),
            Choice("b", "本人を連れてくるように伝える。", "caution", "家族だけの相談も支援の始まりです（P10）。"),
            Choice("c", "相談窓口の一覧を渡す。", "acceptable", "情報提供は役に立ちますが、まず聴くことが大切です（P01）。"),
        ),
        source="quizzes/m-case-01.yaml", line=18,
    )
    q2 = content.question("case-01-q2")
    assert (q2.type, [c.rating for c in q2.choices], q2.order) == ("multiple", ["best", "best", "caution"], ())
    q3 = content.question("case-01-q3")
    assert (q3.type, q3.order, [c.rating for c in q3.choices]) == ("ordering", ("b", "a", "c"), [None, None, None])
    assert q3.choice("c").feedback == "関係ができてからの働きかけです（P17）。"
    q4 = content.question("case-01-q4")
    assert (q4.type, q4.choices, q4.guidance, q4.phase) == (
        "reflection", (), "本人のペースを尊重しているか、という視点で振り返ってください。", None)
    q0, q5 = content.question("case-01-q0"), content.question("case-01-q5")
    assert (q0.type, q0.phase, q5.phase, q0.points) == ("self_rating", "before", "after", ("P01", "P02"))
    assert [q.scored for q in (q1, q2, q3, q4, q5)] == [True, True, True, False, False]


def test_modules_steps_and_courses(tree):
    """Steps keep stage/intro/questions; case-less modules have case None; courses keep order."""
    content = tree.content()
    assert [module.id for module in content.modules] == ["m-case-01", "m-case-02", "m-values"]
    m1 = content.module("m-case-01")
    assert (m1.case, m1.minutes, m1.source) == ("case-01", 30, "quizzes/m-case-01.yaml")
    assert [(step.stage, len(step.questions)) for step in m1.steps] == [
        (None, 1), ("s1", 2), ("s2", 1), ("s3", 1), ("s4", 0), (None, 1)]
    assert m1.steps[0].intro == "はじめに、いまの自信を振り返ります。"
    assert m1.steps[1].intro == "母親からの最初の電話です。"
    values = content.module("m-values")
    assert values.case is None
    assert values.steps[0] == Step(None, "ハンドブックは3つの価値を土台にしています。", ())
    assert [q.id for q in m1.questions()] == [f"case-01-q{n}" for n in range(6)]
    basic, short = content.courses
    assert (basic.id, basic.modules, basic.pass_score) == ("basic", ("m-values", "m-case-01", "m-case-02"), 60)
    assert (short.id, short.pass_score) == ("values-only", 60)
    assert content.course("basic") is basic


def test_content_helpers(tree):
    """points_by_id, point, item, pattern and question lookups; KeyError when absent."""
    content = tree.content()
    assert list(content.points_by_id())[:3] == ["P01", "P02", "P03"]
    assert len(content.points_by_id()) == 50
    assert content.point("P46").item_id == "I7"
    assert content.item("I3").points[0].id == "P17"
    assert content.pattern("PT02").title == "パターン2"
    assert [(module.id, question.id) for module, question in content.questions()][-1] == ("m-values", "values-q1")
    with pytest.raises(KeyError):
        content.point("P51")
    with pytest.raises(KeyError):
        content.question("nope")


def test_dataclasses_are_frozen(tree):
    """Validated content cannot be changed by accident."""
    content = tree.content()
    with pytest.raises(dataclasses.FrozenInstanceError):
        content.cases[0].title = "x"  # type: ignore[misc]
    assert isinstance(content.cases, tuple) and isinstance(content.cases[0].stages, tuple)


def test_constants():
    """Question types, scored types and rating labels."""
    assert QUESTION_TYPES == ("single", "multiple", "ordering", "reflection", "self_rating")
    assert SCORED_TYPES == ("single", "multiple", "ordering")
    assert RATINGS == ("best", "acceptable", "caution")
    assert RATING_LABELS == {"best": "最適", "acceptable": "許容", "caution": "要注意"}


def test_loading_is_deterministic(tree):
    """Two loads give equal content; the hash is stable."""
    assert tree.content() == tree.content()
    assert content_hash(tree.root) == content_hash(tree.root)


def test_hash_covers_content_files_only(tree):
    """Editing a quiz changes the hash; files outside the content layout do not."""
    before = content_hash(tree.root)
    tree.write("reviews/another.md", "メモ")
    tree.write("quizzes/notes.txt", "メモ")
    assert content_hash(tree.root) == before
    assert content_files(tree.root) == [
        "cases/case-01.md", "cases/case-02.md", "courses.yaml", "framework.yaml",
        "quizzes/m-case-01.yaml", "quizzes/m-case-02.yaml", "quizzes/m-values.yaml",
    ]
    tree.replace("quizzes/m-values.yaml", "minutes: 15", "minutes: 16")
    assert content_hash(tree.root) != before


def test_courses_file_is_optional(tree):
    """Without courses.yaml there are no courses (and no problem)."""
    (tree.root / "courses.yaml").unlink()
    assert tree.content().courses == ()


def test_all_problems_are_reported(tree):
    """Two errors in two files: both are reported, in file order."""
    tree.replace("quizzes/m-values.yaml", "rating: best", "rating: great")
    tree.replace("cases/case-02.md", "setting: 都市部", "setting: 郊外")
    assert tree.problems() == [
        tree.at("cases/case-02.md", "setting: 郊外", "事例 case-02 の persona の setting「郊外」は使えません（都市部 / 地方 のいずれか）"),
        tree.at("quizzes/m-values.yaml", "choices:", "問題 values-q1 に rating: best（最適）の選択肢がありません（1 つ以上必要です）"),
        tree.at("quizzes/m-values.yaml", "rating: great",
                "問題 values-q1 の選択肢 a の rating「great」は使えません（best / acceptable / caution のいずれか）"),
    ]


def test_problem_string_and_fields(tree):
    """Problem is frozen and prints as file:line: message."""
    tree.replace("quizzes/m-values.yaml", "minutes: 15", "minutes: x")
    content, problems = tree.load()
    assert content is None
    assert problems == [Problem("content/quizzes/m-values.yaml", 4, "モジュール m-values の minutes は整数で書いてください")]
    assert str(problems[0]) == "content/quizzes/m-values.yaml:4: モジュール m-values の minutes は整数で書いてください"


def test_not_utf8_reports_the_line(tree):
    """A file that is not UTF-8 is reported at the line of the first bad byte."""
    path = tree.root / "quizzes/m-values.yaml"
    path.write_bytes(path.read_bytes().replace("minutes: 15".encode(), "minutes: 15 \x82\xa0".encode("latin-1")))
    assert tree.problems() == ["content/quizzes/m-values.yaml:4: UTF-8 として読めない文字があります（UTF-8 で保存してください）"]


def test_control_character_reports_the_line(tree):
    """A control character (not allowed in YAML) is reported at its line, whichever parser runs."""
    tree.replace("quizzes/m-values.yaml", "minutes: 15", "minutes: 15\x07")
    assert tree.problems() == ["content/quizzes/m-values.yaml:4: YAML に使えない文字（U+0007）があります。削除してください"]


def test_empty_yaml_file(tree):
    """An empty module file is reported, and its ID is not reported again by the courses."""
    tree.write("quizzes/m-values.yaml", "")
    assert tree.problems() == ["content/quizzes/m-values.yaml:1: 内容が空です"]


def test_missing_root(tmp_path):
    """A content root that does not exist is one problem."""
    content, problems = load_content(tmp_path / "nothing")
    assert content is None
    assert [p.message for p in problems] == ["コンテンツのディレクトリがありません"]


def test_absolute_root_is_printed_as_given(tree):
    """Problem paths are the given root joined with the file's relative path."""
    tree.replace("quizzes/m-values.yaml", "minutes: 15", "minutes: x")
    root = Path.cwd() / "content"
    _content, problems = load_content(root)
    assert problems[0].path == (root / "quizzes/m-values.yaml").as_posix()
