"""Broken framework.yaml and cases/*.md variants: each reports exact ``file:line: message``s.

Each case edits one file of the valid tree (``old`` -> ``new``) and lists the expected problems
as (file, text on the expected line or (text, nth), message); lines are looked up after the edit.
"""

from __future__ import annotations

import pytest

FW = "framework.yaml"
C1 = "cases/case-01.md"
C2 = "cases/case-02.md"
M1 = "quizzes/m-case-01.yaml"
M2 = "quizzes/m-case-02.yaml"
V3 = "  - id: V3\n    title: values3の名前\n    explanation: values3の説明。\n"
A4 = "  - id: A4\n    title: attitudes4の名前\n    explanation: attitudes4の説明。\n"
C6 = "  - id: C6\n    title: caveats6の名前\n    explanation: caveats6の説明。\n"
PT11 = "  - id: PT11\n    title: パターン11\n    description: パターン11の説明。\n"
P01_TEXT = "        explanation: 論点1の説明。\n"
PITFALLS = "        pitfalls: [よくある落とし穴。]\n"
HEADING_HINT = "（「## タイトル {#s1}」の形で書いてください）"
ID_HINT = "（英小文字・数字・ハイフンだけを使い、先頭は英小文字か数字にしてください）"

VARIANTS = [
    pytest.param(FW, V3, "", [(FW, "values:", "価値は 3 件必要です（現在 2 件）")], id="values-count"),
    pytest.param(FW, A4, "", [(FW, "attitudes:", "態度は 4 件必要です（現在 3 件）")], id="attitudes-count"),
    pytest.param(FW, C6, C6 + C6.replace("6", "7"), [
        (FW, "caveats:", "留意点は 6 件必要です（現在 7 件）"),
        (FW, "- id: C7", "留意点の ID「C7」は使えません（C1〜C6 のいずれか）"),
    ], id="caveats-count-and-id"),
    pytest.param(FW, PT11, "", [(FW, "patterns:", "パターンは 11 件必要です（現在 10 件）")], id="patterns-count"),
    pytest.param(FW, "  - id: V3\n", "  - id: V9\n", [
        (FW, "- id: V9", "価値の ID「V9」は使えません（V1〜V3 のいずれか）"),
    ], id="value-id"),
    pytest.param(FW, "      - id: P09\n", "      - id: P10\n", [
        (FW, "- id: P10", "論点 P10 は項目 I2 の points に置いてください（現在は I1）"),
        (FW, ("- id: P10", 2), "論点 ID「P10」が重複しています（最初の定義: content/framework.yaml:85）"),
    ], id="point-duplicate-and-wrong-item"),
    pytest.param(FW, "values: [V1]", "values: [V7]", [
        (FW, "values: [V7]", "論点 P01 の values にある価値 V7 は framework.yaml にありません"),
    ], id="point-unknown-value"),
    pytest.param(FW, "attitudes: [A1, A2]", "attitudes: [A1, A9]", [
        (FW, "attitudes: [A1, A9]", "論点 P01 の attitudes にある態度 A9 は framework.yaml にありません"),
    ], id="point-unknown-attitude"),
    pytest.param(FW, "caveats: [C1]", "caveats: C1", [
        (FW, "caveats: C1", "論点 P01 の caveats はリスト（「- 」の行か [a, b]）で書いてください"),
    ], id="point-caveats-not-a-list"),
    pytest.param(FW, P01_TEXT + PITFALLS, P01_TEXT, [
        (FW, "- id: P01", "論点 P01 に pitfalls がありません"),
    ], id="point-missing-key"),
    pytest.param(FW, P01_TEXT + PITFALLS, P01_TEXT + "        pitfalls: []\n", [
        (FW, "pitfalls: []", "論点 P01 の pitfalls が空です（よくある落とし穴を 1〜3 件書いてください）"),
    ], id="point-empty-pitfalls"),
    pytest.param(FW, "    description: パターン1の説明。\n", "    description: パターン1の説明。\n    colour: red\n", [
        (FW, "colour: red", "パターン PT01 に不明なキー colour があります（使えるキー: id, title, description）"),
    ], id="unknown-key"),
    pytest.param(FW, "note: |\n  この教材は研修用に要約したものです。\n", "", [
        (FW, "values:", "framework.yaml に note がありません"),
    ], id="missing-note"),
    pytest.param(C2, "---\nid: case-02\n", "id: case-02\n", [
        (C2, "id: case-02", "先頭に front matter がありません（1 行目を --- にして事例の情報を YAML で書き、--- の行で閉じてください）"),
    ], id="front-matter-missing"),
    pytest.param(C2, "points: [P01, P46]\n---\n", "points: [P01, P46]\n", [
        (C2, "---", "front matter が閉じられていません（YAML の後に --- だけの行を入れてください）"),
    ], id="front-matter-unterminated"),
    pytest.param(C1, "age_band: 20代", "age_band: 80代", [
        (C1, "age_band: 80代", "事例 case-01 の persona の age_band「80代」は使えません"
                              "（10代 / 20代 / 30代 / 40代 / 50代 / 60代 / 70代 のいずれか）"),
    ], id="persona-age-band"),
    pytest.param(C2, "sex: 記載なし", "sex: 不明", [
        (C2, "sex: 不明", "事例 case-02 の persona の sex「不明」は使えません（男性 / 女性 / 記載なし のいずれか）"),
    ], id="persona-sex"),
    pytest.param(C2, "setting: 都市部", "setting: 郊外", [
        (C2, "setting: 郊外", "事例 case-02 の persona の setting「郊外」は使えません（都市部 / 地方 のいずれか）"),
    ], id="persona-setting"),
    pytest.param(C1, "  duration: 約3年\n", "", [
        (C1, "age_band:", "事例 case-01 の persona に duration がありません"),
    ], id="persona-missing-key"),
    pytest.param(C1, "pattern: PT01", "pattern: PT12", [
        (C1, "pattern: PT12", "事例 case-01 の pattern にあるパターン PT12 は framework.yaml にありません"),
    ], id="case-unknown-pattern"),
    pytest.param(C1, "points: [P01, P10, P32]", "points: [P01, P99]", [
        (C1, "points: [P01, P99]", "事例 case-01 の points にある論点 P99 は framework.yaml にありません"),
    ], id="case-unknown-point"),
    pytest.param(C1, "points: [P01, P10, P32]", "points: []", [
        (C1, "points: []", "事例 case-01 の points が空です（事例で強調する論点を書いてください）"),
    ], id="case-no-points"),
    pytest.param(C2, "id: case-02", "id: case-03", [
        (C2, "id: case-03", "事例の id「case-03」がファイル名 case-02.md と一致しません"),
        (M2, "case: case-02", "モジュール m-case-02 の case「case-02」は cases/ にありません"),
    ], id="case-id-not-file-name"),
    pytest.param(C2, "id: case-02", "id: Case_02", [
        (C2, "id: Case_02", "事例 Case_02 の id「Case_02」は ID として使えません" + ID_HINT),
        (C2, "id: Case_02", "事例の id「Case_02」がファイル名 case-02.md と一致しません"),
        (M2, "case: case-02", "モジュール m-case-02 の case「case-02」は cases/ にありません"),
    ], id="case-id-syntax"),
    pytest.param(C1, "## 関係づくり {#s2}", "## 関係づくり", [
        (C1, "## 関係づくり", "ステージ見出し「## 関係づくり」の形式が正しくありません" + HEADING_HINT),
        (M1, "- stage: s2", "モジュール m-case-01 のステップ 3 の stage「s2」は事例 case-01 にありません"),
    ], id="stage-heading-without-id"),
    pytest.param(C2, "## 見守り {#s4}", "##見守り {#s4}", [
        (C2, "##見守り", "ステージ見出し「##見守り {#s4}」の形式が正しくありません" + HEADING_HINT),
    ], id="stage-heading-without-space"),
    pytest.param(C2, "## 見守り {#s4}", "## 見守り {#S4}", [
        (C2, "## 見守り", "ステージ ID「S4」は使えません" + ID_HINT),
    ], id="stage-id-syntax"),
    pytest.param(C2, "## 見守り {#s4}", "## {#s4}", [
        (C2, "## {#s4}", "ステージ s4 の見出しにタイトルがありません"),
    ], id="stage-without-title"),
    pytest.param(C2, "## 見守り {#s4}", "## 見守り {#s3}", [
        (C2, "## 見守り", "ステージ ID「s3」が重複しています（最初の定義: content/cases/case-02.md:25）"),
    ], id="stage-duplicate"),
    pytest.param(C2, "\n定期的な訪問を続けた。\n", "\n", [
        (C2, "## 見守り", "ステージ s4 に本文がありません"),
    ], id="stage-without-text"),
    pytest.param(C2, "---\n\n## 気づき", "---\n\n前置きの文章。\n\n## 気づき", [
        (C2, "前置き", "最初のステージ見出しより前に本文があります（本文は「## タイトル {#ステージID}」の見出しの後に書いてください）"),
    ], id="text-before-first-stage"),
]


@pytest.mark.parametrize(("rel", "old", "new", "expected"), VARIANTS)
def test_broken_framework_and_cases(tree, rel, old, new, expected):
    """Each edit yields exactly the listed problems, at the listed lines."""
    tree.replace(rel, old, new)
    want = []
    for path, needle, message in expected:
        text, nth = needle if isinstance(needle, tuple) else (needle, 1)
        want.append(tree.at(path, text, message, nth))
    assert tree.problems() == want


def test_front_matter_yaml_error_has_the_file_line(tree):
    """Line numbers of front-matter YAML errors count from the top of the .md file."""
    tree.replace(C2, "  household: 80代の母親と同居\n", "  household: [80代の母親と同居\n")
    [problem] = tree.problems()
    # libyaml marks the next line ("did not find expected ',' or ']'"); pure-Python PyYAML may differ
    assert problem.startswith(f"content/cases/case-02.md:{tree.line_of(C2, 'duration:')}: YAML の書き方に誤りがあります（")


def test_missing_item_reports_counts_and_every_dangling_reference(tree):
    """Dropping I7 (P46-P50) is reported in framework.yaml and where P46 is used."""
    text = tree.read(FW)
    tree.write(FW, text[: text.index("  - id: I7\n")] + text[text.index("patterns:\n"):])
    assert tree.problems() == [
        tree.at(FW, "items:", "項目は 7 件必要です（現在 6 件）"),
        tree.at(FW, "items:", "論点は全部で 50 件必要です（現在 45 件）"),
        tree.at(C2, "points: [P01, P46]", "事例 case-02 の points にある論点 P46 は framework.yaml にありません"),
        tree.at(M2, "points: [P01, P46]", "問題 case-02-q1 の points にある論点 P46 は framework.yaml にありません"),
    ]


def test_case_without_stages(tree):
    """A case body with no stage heading; the steps naming its stages are reported too."""
    text = tree.read(C2)
    tree.write(C2, text[: text.index("## 気づき")])
    assert tree.problems() == [
        tree.at(C2, "---", "事例 case-02 にステージがありません（「## タイトル {#s1}」の見出しで本文を区切ってください）", 2),
        tree.at(M2, "stage: s1", "モジュール m-case-02 のステップ 1 の stage「s1」は事例 case-02 にありません"),
        tree.at(M2, "stage: s2", "モジュール m-case-02 のステップ 2 の stage「s2」は事例 case-02 にありません"),
    ]


def test_duplicate_case_names_the_first_file(tree):
    """Two files with one case ID: the second names the first occurrence."""
    tree.write("cases/case-03.md", tree.read(C1))
    assert tree.problems() == [
        "content/cases/case-03.md:2: 事例の id「case-01」がファイル名 case-03.md と一致しません",
        "content/cases/case-03.md:2: 事例 ID「case-01」が重複しています（最初の定義: content/cases/case-01.md:2）",
    ]


def test_missing_framework_is_one_problem(tree):
    """Without framework.yaml, references to points and patterns are not reported as well."""
    (tree.root / FW).unlink()
    assert tree.problems() == ["content/framework.yaml:1: ファイルがありません"]


def test_framework_syntax_error_is_one_problem(tree):
    """A YAML error in framework.yaml is reported once, at the error mark's line."""
    tree.replace(FW, "  - id: V2\n", "  - id: V2\n - x\n")
    [problem] = tree.problems()
    assert problem.startswith(f"content/framework.yaml:{tree.line_of(FW, ' - x')}: YAML の書き方に誤りがあります（")


def test_unreadable_case_does_not_cascade(tree):
    """A case whose front matter is broken: its module's stage steps are not reported too."""
    tree.replace(C1, "pattern: PT01", "pattern: [PT01")
    problems = tree.problems()
    assert len(problems) == 1 and problems[0].startswith("content/cases/case-01.md:")
