"""Broken quizzes/*.yaml and courses.yaml variants: each reports exact ``file:line: message``s.

Each case edits one file of the valid tree (``old`` -> ``new``) and lists the expected problems
as (file, text on the expected line, message); the line number is looked up after the edit.
"""

from __future__ import annotations

import pytest

M1 = "quizzes/m-case-01.yaml"
M2 = "quizzes/m-case-02.yaml"
MV = "quizzes/m-values.yaml"
CO = "courses.yaml"
CHOICE = "          - id: "  # a choice's first line (question IDs are indented less)
Q1_C = "          - id: c\n            text: 相談窓口の一覧を渡す。\n"
VQ_B = "            rating: caution\n            feedback: 本人のペースを尊重します（P01）。\n"

VARIANTS = [
    pytest.param(MV, "minutes: 15", "minutes: 十五分", [
        (MV, "minutes:", "モジュール m-values の minutes は整数で書いてください"),
    ], id="minutes-not-int"),
    pytest.param(MV, "minutes: 15", "minutes: 0", [
        (MV, "minutes:", "モジュール m-values の minutes は 1 以上にしてください（現在 0）"),
    ], id="minutes-zero"),
    pytest.param(MV, "minutes: 15\n", "", [
        (MV, "id: m-values", "モジュール m-values に minutes がありません"),
    ], id="missing-key"),
    pytest.param(MV, "minutes: 15\n", "minutes: 15\nlevel: 1\n", [
        (MV, "level:", "モジュール m-values に不明なキー level があります"
                       "（使えるキー: id, title, summary, minutes, steps, case）"),
    ], id="unknown-key"),
    pytest.param(MV, "minutes: 15\n", "minutes: 15\nminutes: 20\n", [
        (MV, "minutes: 20", "モジュール m-values でキー minutes が 2 回書かれています（最初: 4 行目）"),
    ], id="repeated-key"),
    pytest.param(MV, "id: m-values", "id: m_values", [
        (MV, "id: m_values", "モジュール m_values の id「m_values」は ID として使えません"
                             "（英小文字・数字・ハイフンだけを使い、先頭は英小文字か数字にしてください）"),
        (MV, "id: m_values", "モジュールの id「m_values」がファイル名 m-values.yaml と一致しません"),
        (CO, "modules: [m-values, m-case-01", "コース basic の modules にあるモジュール m-values は quizzes/ にありません"),
        (CO, "modules: [m-values]", "コース values-only の modules にあるモジュール m-values は quizzes/ にありません"),
    ], id="module-id-syntax-and-file-name"),
    pytest.param(MV, "id: values-q1", "id: case-01-q1", [
        (MV, "id: case-01-q1", "問題 ID「case-01-q1」が重複しています（最初の定義: content/quizzes/m-case-01.yaml:18）"),
    ], id="duplicate-question-across-modules"),
    pytest.param(MV, "id: values-q1", "id: Values-Q1", [
        (MV, "id: Values-Q1", "問題 Values-Q1 の id「Values-Q1」は ID として使えません"
                              "（英小文字・数字・ハイフンだけを使い、先頭は英小文字か数字にしてください）"),
    ], id="question-id-syntax"),
    pytest.param(MV, "type: single", "type: essay", [
        (MV, "type: essay", "問題 values-q1 の type「essay」は使えません"
                            "（single / multiple / ordering / reflection / self_rating のいずれか）"),
    ], id="question-type"),
    pytest.param(MV, "points: [P01]", "points: []", [
        (MV, "points: []", "問題 values-q1 の論点（points）は 1〜3 個にしてください（現在 0 個）"),
    ], id="question-no-points"),
    pytest.param(MV, "points: [P01]", "points: [P01, P02, P03, P04]", [
        (MV, "points: [P01", "問題 values-q1 の論点（points）は 1〜3 個にしてください（現在 4 個）"),
    ], id="question-too-many-points"),
    pytest.param(MV, "points: [P01]", "points: P01", [
        (MV, "points: P01", "問題 values-q1 の points はリスト（「- 」の行か [a, b]）で書いてください"),
    ], id="question-points-not-a-list"),
    pytest.param(MV, "points: [P01]", "points:", [
        (MV, "points:", "問題 values-q1 の論点（points）は 1〜3 個にしてください（現在 0 個）"),
    ], id="question-points-empty-value"),
    pytest.param(MV, "points: [P01]", "points: [P51]", [
        (MV, "points: [P51]", "問題 values-q1 の points にある論点 P51 は framework.yaml にありません"),
    ], id="question-unknown-point"),
    pytest.param(MV, "points: [P01]", "points: [P01, P01]", [
        (MV, "points: [P01", "問題 values-q1 の points で P01 が重複しています"),
    ], id="question-repeated-point"),
    pytest.param(MV, "          - id: b\n", "          - id: a\n", [
        (MV, (CHOICE + "a", 2), "問題 values-q1 の選択肢 ID「a」が重複しています（最初の定義: content/quizzes/m-values.yaml:15）"),
    ], id="duplicate-choice"),
    pytest.param(MV, "          - id: b\n            text: できるだけ早く就労させる。\n" + VQ_B, "", [
        (MV, "choices:", "問題 values-q1 の選択肢は 2 つ以上必要です（現在 1 個）"),
    ], id="single-one-choice"),
    pytest.param(M1, Q1_C + "            rating: acceptable\n", Q1_C, [
        (M1, CHOICE + "c", "問題 case-01-q1 の選択肢 c に rating がありません"),
    ], id="choice-without-rating"),
    pytest.param(MV, VQ_B, VQ_B.replace("caution", "bad"), [
        (MV, "rating: bad", "問題 values-q1 の選択肢 b の rating「bad」は使えません（best / acceptable / caution のいずれか）"),
    ], id="choice-invalid-rating"),
    pytest.param(MV, VQ_B, "            rating: caution\n", [
        (MV, CHOICE + "b", "問題 values-q1 の選択肢 b に feedback がありません"),
    ], id="choice-without-feedback"),
    pytest.param(MV, VQ_B, VQ_B.replace("本人のペースを尊重します（P01）。", "''"), [
        (MV, "feedback: ''", "問題 values-q1 の選択肢 b の feedback が空です"),
    ], id="choice-empty-feedback"),
    pytest.param(MV, "rating: best", "rating: acceptable", [
        (MV, "choices:", "問題 values-q1 に rating: best（最適）の選択肢がありません（1 つ以上必要です）"),
    ], id="single-without-best"),
    pytest.param(M1, "            text: 次の面談の約束。\n            rating: best\n",
                 "            text: 次の面談の約束。\n            rating: acceptable\n", [], id="multiple-one-best-is-fine"),
    pytest.param(M1, "            text: 相談に来てくれたことへの感謝。\n            rating: best\n",
                 "            text: 相談に来てくれたことへの感謝。\n            rating: caution\n", [], id="multiple-other-best"),
    pytest.param(M1, "        order: [b, a, c]", "        order: [b, a]", [
        (M1, "order: [b, a]", "問題 case-01-q3 の order に選択肢 c がありません（すべての選択肢を 1 回ずつ並べてください）"),
    ], id="ordering-missing"),
    pytest.param(M1, "        order: [b, a, c]", "        order: [b, a, c, d]", [
        (M1, "order: [b, a, c, d]", "問題 case-01-q3 の order にある選択肢 d はこの問題の choices にありません"),
    ], id="ordering-extra"),
    pytest.param(M1, "        order: [b, a, c]", "        order: [b, a, a, c]", [
        (M1, "order: [b, a, a, c]", "問題 case-01-q3 の order で a が重複しています"),
    ], id="ordering-repeated"),
    pytest.param(M1, "        order: [b, a, c]\n", "", [
        (M1, "- id: case-01-q3", "問題 case-01-q3 に order（推奨する順番）がありません"),
    ], id="ordering-without-order"),
    pytest.param(M1, "            feedback: 関係ができてからの働きかけです（P17）。\n", "", [
        (M1, (CHOICE + "c", 3), "問題 case-01-q3 の選択肢 c に feedback がありません"),
    ], id="ordering-choice-without-feedback"),
    pytest.param(M1, "            text: 本人への手紙を提案する。\n",
                 "            text: 本人への手紙を提案する。\n            rating: best\n", [
        (M1, ("rating: best", 4), "問題 case-01-q3 の選択肢 c に rating があります（並べ替え問題の選択肢には書けません）"),
    ], id="ordering-choice-with-rating"),
    pytest.param(M1, "        type: reflection\n", "        type: reflection\n        choices: []\n", [
        (M1, "choices: []", "問題 case-01-q4（reflection）には choices を書けません"),
    ], id="reflection-with-choices"),
    pytest.param(M1, "        type: reflection\n", "        type: reflection\n        order: [a]\n", [
        (M1, "order: [a]", "問題 case-01-q4（reflection）には order を書けません（並べ替え問題だけで使います）"),
    ], id="reflection-with-order"),
    pytest.param(M1, "        type: reflection\n", "        type: reflection\n        phase: before\n", [
        (M1, ("phase: before", 2), "問題 case-01-q4（reflection）には phase を書けません（self_rating の問題だけで使います）", ),
    ], id="phase-on-reflection"),
    pytest.param(M1, "phase: after", "phase: middle", [
        (M1, "phase: middle", "問題 case-01-q5 の phase「middle」は使えません（before / after のいずれか）"),
    ], id="self-rating-phase"),
    pytest.param(M1, "        phase: after\n", "        phase: after\n        guidance: 観点\n", [
        (M1, "guidance: 観点", "問題 case-01-q5（self_rating）には guidance を書けません（reflection の問題だけで使います）"),
    ], id="guidance-on-self-rating"),
    pytest.param(M1, "        phase: after\n", "        phase: after\n        choices:\n          - id: a\n", [
        (M1, ("choices:", 4), "問題 case-01-q5（self_rating）には choices を書けません", ),
    ], id="self-rating-with-choices"),
    pytest.param(M2, "case: case-02", "case: case-09", [
        (M2, "case: case-09", "モジュール m-case-02 の case「case-09」は cases/ にありません"),
    ], id="unknown-case"),
    pytest.param(M2, "  - stage: s2", "  - stage: s9", [
        (M2, "stage: s9", "モジュール m-case-02 のステップ 2 の stage「s9」は事例 case-02 にありません"),
    ], id="unknown-stage"),
    pytest.param(MV, "  - intro: |\n", "  - stage: s1\n    intro: |\n", [
        (MV, "stage: s1", "モジュール m-values のステップ 1 に stage がありますが、モジュールに case がありません"),
    ], id="stage-without-case"),
    pytest.param(M2, "  - stage: s2\n", "  - intro: まとめ\n", [], id="case-module-intro-step-is-fine"),
    pytest.param(M2, "  - stage: s1\n", "  - intro: はじめに\n", [], id="case-module-one-stage-step-is-fine"),
    pytest.param(MV, "steps:\n", "case: case-02\nsteps:\n", [
        (MV, "steps:", "モジュール m-values は事例 case-02 のモジュールですが、stage を指定したステップがありません"),
    ], id="case-module-without-stage-steps"),
    pytest.param(MV, "  - intro: |\n      ハンドブックは3つの価値を土台にしています。\n", "  - questions: []\n", [
        (MV, "- questions: []", "モジュール m-values のステップ 1 に stage も intro もありません（どちらかが必要です）"),
    ], id="step-without-stage-or-intro"),
    pytest.param(M1, "  - stage: s4\n", "  - stage: s4\n    questions: []\n", [], id="stage-step-without-questions-is-fine"),
    pytest.param(CO, "modules: [m-values]", "modules: [m-nothing]", [
        (CO, "m-nothing", "コース values-only の modules にあるモジュール m-nothing は quizzes/ にありません"),
    ], id="course-unknown-module"),
    pytest.param(CO, "modules: [m-values]", "modules: []", [
        (CO, "modules: []", "コース values-only の modules が空です"),
    ], id="course-without-modules"),
    pytest.param(CO, "id: values-only", "id: basic", [
        (CO, ("id: basic", 2), "コース ID「basic」が重複しています（最初の定義: content/courses.yaml:2）", ),
    ], id="duplicate-course"),
    pytest.param(CO, "pass_score: 60\n  - id: values-only", "pass_score: 160\n  - id: values-only", [
        (CO, "pass_score: 160", "コース basic の pass_score は 0〜100 にしてください（現在 160）"),
    ], id="course-pass-score"),
    pytest.param(CO, "courses:", "course:", [
        (CO, "course:", "courses.yaml に不明なキー course があります（使えるキー: courses）"),
        (CO, "course:", "courses.yaml に courses がありません"),
    ], id="courses-key"),
]


@pytest.mark.parametrize(("rel", "old", "new", "expected"), VARIANTS)
def test_broken_quizzes_and_courses(tree, rel, old, new, expected):
    """Each edit yields exactly the listed problems (or none), at the listed lines."""
    tree.replace(rel, old, new)
    want = []
    for path, needle, message in expected:
        text, nth = needle if isinstance(needle, tuple) else (needle, 1)
        want.append(tree.at(path, text, message, nth))
    if want:
        assert tree.problems() == want
    else:
        tree.content()


def test_yaml_syntax_error_points_at_the_line(tree):
    """A YAML syntax error is reported with the line of the YAML error mark."""
    tree.replace(MV, "minutes: 15", "minutes: 15: 3")
    [problem] = tree.problems()
    prefix = "content/quizzes/m-values.yaml:4: YAML の書き方に誤りがあります（mapping values are not allowed"
    assert problem.startswith(prefix)  # libyaml says "in this context", pure-Python PyYAML "here"


def test_brief_example_message(tree):
    """The example message of the brief, exactly."""
    tree.replace(M1, "            feedback: 関係ができてからの働きかけです（P17）。\n", "")
    line = tree.line_of(M1, CHOICE + "c", 3)
    assert tree.problems() == [f"content/quizzes/m-case-01.yaml:{line}: 問題 case-01-q3 の選択肢 c に feedback がありません"]
