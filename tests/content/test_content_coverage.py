"""Coverage numbers and the plain-text table for the valid fixture tree."""

from __future__ import annotations

import json

from trainer.content.coverage import coverage, format_table


def test_counts(tree):
    """Totals and questions by type."""
    cov = coverage(tree.content())
    assert cov["counts"] == {
        "items": 7, "points": 50, "patterns": 11, "cases": 2, "modules": 3,
        "questions": 8, "scored_questions": 5,
        "questions_by_type": {"single": 3, "multiple": 1, "ordering": 1, "reflection": 1, "self_rating": 2},
    }
    json.dumps(cov)  # plain data only


def test_questions_per_point_and_item(tree):
    """Scored questions only; a question counts once per item even with two points there."""
    cov = coverage(tree.content())
    tagged = {point: n for point, n in cov["questions_per_point"].items() if n}
    assert tagged == {"P01": 3, "P10": 2, "P17": 1, "P46": 1}
    assert len(cov["questions_per_point"]) == 50
    assert cov["questions_per_item"] == {"I1": 3, "I2": 2, "I3": 1, "I4": 0, "I5": 0, "I6": 0, "I7": 1}


def test_one_question_with_two_points_of_one_item_counts_once(tree):
    """values-q1 tagged P01 and P02 (both I1) adds 1 to I1, 1 to each point."""
    tree.replace("quizzes/m-values.yaml", "points: [P01]", "points: [P01, P02]")
    cov = coverage(tree.content())
    assert cov["questions_per_item"]["I1"] == 3
    assert (cov["questions_per_point"]["P01"], cov["questions_per_point"]["P02"]) == (3, 1)


def test_cases_per_point_and_pattern(tree):
    """Distinct cases whose module questions (any type) tag a point; cases per pattern."""
    cov = coverage(tree.content())
    assert {point: n for point, n in cov["cases_per_point"].items() if n} == {
        "P01": 2, "P02": 1, "P10": 1, "P17": 1, "P32": 1, "P46": 1}
    assert cov["cases_per_pattern"] == {f"PT{n:02d}": (1 if n <= 2 else 0) for n in range(1, 12)}


def test_unpractised_points(tree):
    """Points without a scored question, in point order (P02 and P32 only have unscored ones)."""
    unpractised = coverage(tree.content())["unpractised_points"]
    assert len(unpractised) == 46
    assert unpractised[:3] == ["P02", "P03", "P04"] and "P32" in unpractised and "P46" not in unpractised


def test_format_table(tree):
    """The table lists items with their points, cases per pattern and the unpractised points."""
    content = tree.content()
    table = format_table(coverage(content), content)
    lines = table.splitlines()
    assert lines[0] == "コンテンツのカバレッジ"
    assert "  問題 8 問（単一選択 3、複数選択 1、並べ替え 1、振り返り 1、自己評価 2）、うち採点対象 5 問" in lines
    assert "I1 項目I1（採点問題 3 問）" in lines
    assert "    P01   3 問   2 事例  論点1の見出し" in lines
    assert "  × P02   0 問   1 事例  論点2の見出し" in lines
    assert "  PT01   1 事例  パターン1（case-01）" in lines
    assert "  PT03   0 事例  パターン3" in lines
    assert "■ 未練習の論点（採点問題なし）: 46 件" in lines
    assert lines[-1] == "  P50 論点50の見出し"
