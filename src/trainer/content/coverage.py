"""Which points, items and patterns the content practises (for ``trainer content check``).

``coverage(content)`` returns plain, JSON-serialisable numbers; ``format_table`` renders them as a
Japanese plain-text table for the terminal. A point counts as *practised* only when at least one
scored question (single, multiple, ordering) is tagged with it; reflection and self-rating
questions count for ``cases_per_point`` (the case discusses the point) but not as practice.
"""

from __future__ import annotations

from typing import Any

from trainer.content.schema import QUESTION_TYPE_LABELS, QUESTION_TYPES, SCORED_TYPES, Content


def coverage(content: Content) -> dict[str, Any]:
    """Count questions and cases per point, item and pattern.

    Keys: ``counts`` (items, points, patterns, cases, modules, questions, scored_questions,
    questions_by_type), ``questions_per_point`` and ``questions_per_item`` (scored questions;
    a question tagged with two points of one item counts once for that item),
    ``cases_per_point`` (distinct cases whose module questions of any type tag the point),
    ``cases_per_pattern`` and ``unpractised_points`` (point IDs without a scored question).
    Every point, item and pattern appears, with 0 where nothing refers to it.
    """
    framework = content.framework
    per_point, per_item, cases_per_point, by_type = _tally_questions(content)
    per_pattern = dict.fromkeys((pattern.id for pattern in framework.patterns), 0)
    for case in content.cases:
        per_pattern[case.pattern] += 1
    counts = {
        "items": len(framework.items),
        "points": len(per_point),
        "patterns": len(framework.patterns),
        "cases": len(content.cases),
        "modules": len(content.modules),
        "questions": sum(by_type.values()),
        "scored_questions": sum(by_type[kind] for kind in SCORED_TYPES),
        "questions_by_type": by_type,
    }
    return {
        "counts": counts,
        "questions_per_point": per_point,
        "questions_per_item": per_item,
        "cases_per_point": cases_per_point,
        "cases_per_pattern": per_pattern,
        "unpractised_points": [point_id for point_id, count in per_point.items() if count == 0],
    }


def _tally_questions(content: Content) -> tuple[dict[str, int], dict[str, int], dict[str, int], dict[str, int]]:
    """Scored questions per point and per item, distinct cases per point, questions per type."""
    points = content.framework.points()
    item_of = {point.id: point.item_id for point in points}
    per_point = dict.fromkeys((point.id for point in points), 0)
    per_item = dict.fromkeys((item.id for item in content.framework.items), 0)
    cases_of_point: dict[str, set[str]] = {point.id: set() for point in points}
    by_type = dict.fromkeys(QUESTION_TYPES, 0)
    for module, question in content.questions():
        by_type[question.type] += 1
        for point_id in question.points:
            if module.case:
                cases_of_point[point_id].add(module.case)
            if question.scored:
                per_point[point_id] += 1
        if question.scored:
            for item_id in {item_of[point_id] for point_id in question.points}:
                per_item[item_id] += 1
    cases_per_point = {point_id: len(cases) for point_id, cases in cases_of_point.items()}
    return per_point, per_item, cases_per_point, by_type


def format_table(cov: dict[str, Any], content: Content) -> str:
    """Render ``coverage(content)`` as a Japanese plain-text table."""
    lines = _summary_lines(cov)
    lines += ["", "■ 項目と論点（採点問題の数 / 扱う事例の数）"]
    for item in content.framework.items:
        lines.append(f"{item.id} {item.title}（採点問題 {cov['questions_per_item'][item.id]} 問）")
        for point in item.points:
            questions = cov["questions_per_point"][point.id]
            cases = cov["cases_per_point"][point.id]
            mark = "  " if questions else "× "
            lines.append(f"  {mark}{point.id} {questions:>3} 問 {cases:>3} 事例  {point.title}")
    lines += ["", "■ 事例パターンごとの事例"]
    for pattern in content.framework.patterns:
        case_ids = [case.id for case in content.cases if case.pattern == pattern.id]
        listed = f"（{', '.join(case_ids)}）" if case_ids else ""
        lines.append(f"  {pattern.id} {len(case_ids):>3} 事例  {pattern.title}{listed}")
    lines += ["", f"■ 未練習の論点（採点問題なし）: {len(cov['unpractised_points'])} 件"]
    points = content.points_by_id()
    lines += [f"  {point_id} {points[point_id].title}" for point_id in cov["unpractised_points"]] or ["  なし"]
    return "\n".join(lines) + "\n"


def _summary_lines(cov: dict[str, Any]) -> list[str]:
    """The header lines: totals and questions by type."""
    counts = cov["counts"]
    by_type = "、".join(
        f"{QUESTION_TYPE_LABELS[kind]} {count}" for kind, count in counts["questions_by_type"].items()
    )
    return [
        "コンテンツのカバレッジ",
        f"  項目 {counts['items']} / 論点 {counts['points']} / パターン {counts['patterns']} / "
        f"事例 {counts['cases']} / モジュール {counts['modules']}",
        f"  問題 {counts['questions']} 問（{by_type}）、うち採点対象 {counts['scored_questions']} 問",
    ]
