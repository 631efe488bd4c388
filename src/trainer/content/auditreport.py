"""The cue audit (``audit.audit``) as Japanese plain text for the terminal.

``format_report(report)`` renders everything (``trainer content audit``); ``format_summary`` the
few lines ``trainer content check`` prints; ``format_worst`` the questions that give themselves
away most; ``format_module(report, module_id)`` one module's figures and questions, for a writer
checking their own module (``trainer content audit --module m-case-01``).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from trainer.content.audit import RULES, exceeds, percent

__all__ = ["format_module", "format_report", "format_summary", "format_worst"]

_SHORT = {"longest": "最長", "second_longest": "2番目", "shortest": "最短", "fewest_sentences": "文最少",
          "most_sentences": "文最多", "no_motive": "動機なし"}
_TYPE = {"single": "単一選択", "multiple": "複数選択"}


def format_summary(report: dict[str, Any]) -> str:
    """Header, chance and limits, the rule and classifier accuracies (a few lines)."""
    lines = _header(report)
    for rule in report["rules"]:
        lines.append(f"  {rule['label']}を選ぶ: {percent(rule['accuracy'])}{_flag(rule['accuracy'], report, 'rule')}")
    if report["tokens"]:
        top = report["tokens"][0]
        lines.append(f"  最もよく当たる語句: {top['label']}を選ぶ: {percent(top['accuracy'])}"
                     f"{_flag(top['accuracy'], report, 'rule')}")
    accuracy = report["classifier"]["accuracy"]
    lines.append(f"  分類器（ほかのモジュールで学習）: {percent(accuracy)}{_flag(accuracy, report, 'classifier')}")
    second = report.get("second_classifier", {}).get("accuracy")
    lines.append(f"  別の作りの分類器（2〜4文字と語）: {percent(second)}{_flag(second, report, 'classifier')}")
    return "\n".join(lines) + "\n"


def format_report(report: dict[str, Any]) -> str:
    """The whole audit: summary, length ranks, tokens, structure, modules, worst questions."""
    lines = format_summary(report).rstrip("\n").split("\n")
    lines += ["", "■ 最適の選択肢の長さの順位（1 = 最長。同じ長さは同じ順位）"]
    for kind, ranks in report["length_ranks"].items():
        total = sum(ranks.values())
        shown = "、".join(f"{rank}位 {n} 個（{percent(n / total)}）" for rank, n in ranks.items()) or "なし"
        lines.append(f"  {_TYPE[kind]}: {shown}")
    lines += ["", f"■ 最適の選択肢に多い語句（上位 {len(report['tokens'])} 件。その語句を含む選択肢を選ぶ規則の正答率）"]
    lines += [f"  「{t['token']}」 {percent(t['accuracy'])}（最適に含む {t['best_questions']} 問、"
              f"ほかの選択肢に含む {t['other_questions']} 問）" for t in report["tokens"]] or ["  なし"]
    lines += ["", *_structure_lines(report["structure"])]
    lines += ["", *_module_table(report)]
    lines += ["", format_worst(report).rstrip("\n")]
    return "\n".join(lines) + "\n"


def format_worst(report: dict[str, Any]) -> str:
    """The questions whose best option the most cues pick, with file:line and the cues."""
    lines = [f"■ 選択肢の文面だけで最適がわかりやすい問題（上位 {len(report['worst'])} 問）"]
    lines += [f"  {_where(q)} {q['question']}  手がかり {q['cue_count']}: {_cues(q)}" for q in report["worst"]] or ["  なし"]
    return "\n".join(lines) + "\n"


def format_module(report: dict[str, Any], module_id: str) -> str:
    """One module: its figures (beside the whole tree's) and every single question with its cues."""
    module = next((m for m in report["modules"] if m["id"] == module_id), None)
    if module is None:
        return f"モジュール {module_id} はありません\n"
    lines = [f"手がかり監査: モジュール {module['id']}（{module['source']}）",
             f"  単一選択 {module['single']} 問、複数選択 {module['multiple']} 問、偶然の水準 {percent(module['chance'])}",
             "  規則の正答率（このモジュール / 全体）:"]
    overall = {rule["key"]: rule["accuracy"] for rule in report["rules"]}
    for key, (label, _scorer) in RULES.items():
        lines.append(f"    {label}を選ぶ: {percent(module['rules'][key])} / {percent(overall[key])}")
    lines.append(f"  分類器: {percent(module['classifier'])} / {percent(report['classifier']['accuracy'])}")
    for kind, ranks in module["length_ranks"].items():
        if ranks:
            lines.append(f"  最適の長さの順位（{_TYPE[kind]}）: " + "、".join(f"{r}位 {n}" for r, n in ranks.items()))
    lines += ["", "  単一選択の問題（最適の長さの順位、最適を単独で選ぶ手がかり）:"]
    for q in module["questions"]:
        lines.append(f"    {_where(q)} {q['question']}  長さ {q['best_length_rank']}位  手がかり {q['cue_count']}: {_cues(q)}")
    return "\n".join(lines) + "\n"


def _header(report: dict[str, Any]) -> list[str]:
    """Counts, chance level and limits; a note when the tree is too small to enforce them."""
    counts, limits = report["counts"], report["thresholds"]
    lines = ["手がかり監査（選択肢の文面だけで最適の選択肢がわかるか）",
             f"  対象: 単一選択 {counts['single']} 問、複数選択 {counts['multiple']} 問、選択肢 {counts['options']} 個"
             f"（{counts['modules']} モジュール。並べ替えは評価がないため対象外）",
             f"  偶然の水準（単一選択）: {percent(report['chance'])}　上限: 表層の規則 {percent(limits['rule'])}、"
             f"分類器 {percent(limits['classifier'])}"]
    if not report["enforced"]:
        lines.append(f"  （単一選択が {limits['min_single_questions']} 問未満のため、数字は参考値で、上限は適用しません）")
    return lines


def _flag(accuracy: float | None, report: dict[str, Any], kind: str) -> str:
    """「  ← 上限超え」 when the figure is one of the failures."""
    over = exceeds(accuracy, report["thresholds"][kind])
    return "  ← 上限超え" if over and report["enforced"] else ""


def _structure_lines(structure: dict[str, Any]) -> list[str]:
    """Option counts, rating mixes, bests per multiple question, best positions."""
    lines = ["■ 選択肢の構成"]
    for kind, counts in structure["option_counts"].items():
        lines.append(f"  {_TYPE[kind]}の選択肢の数: " + ("、".join(f"{n} 個 {c} 問" for n, c in counts.items()) or "なし"))
    for mix in structure["rating_mixes"]:
        lines.append(f"  {_TYPE[mix['type']]} {mix['options']} 択 最適 {mix['best']}・許容 {mix['acceptable']}・"
                     f"要注意 {mix['caution']}: {mix['questions']} 問")
    bests = structure["bests_per_multiple"]
    lines.append("  複数選択の最適の数: " + ("、".join(f"{n} 個 {c} 問" for n, c in bests.items()) or "なし"))
    positions = structure["best_positions_single"]
    lines.append("  単一選択の最適の位置（何番目/選択肢の数）: " + ("、".join(f"{p} {c} 問" for p, c in positions.items()) or "なし"))
    return lines


def _module_table(report: dict[str, Any]) -> list[str]:
    """One line per module: single questions, chance, each rule, the classifier (aligned for a terminal)."""
    labels = ["単一", "偶然", *(_SHORT[key] for key in RULES), "分類器"]
    head = "  " + _pad("モジュール", 14, left=True) + " " + " ".join(_pad(label, 4 if n == 0 else 8)
                                                                    for n, label in enumerate(labels))
    lines = ["■ モジュールごと（単一選択の正答率。問題が少ないモジュールの数字はぶれやすい）", head]
    for module in report["modules"]:
        figures = [module["chance"], *(module["rules"][key] for key in RULES), module["classifier"]]
        cells = " ".join(f"{percent(value):>8}" for value in figures)
        lines.append(f"  {module['id']:<14} {module['single']:>4} {cells}")
    return lines


def _pad(text: str, width: int, left: bool = False) -> str:
    """``text`` padded to ``width`` terminal columns (East Asian wide characters take two)."""
    columns = sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)
    fill = " " * max(width - columns, 0)
    return text + fill if left else fill + text


def _where(q: dict[str, Any]) -> str:
    """``file:line`` of a question."""
    return f"{q['path']}:{q['line']}"


def _cues(q: dict[str, Any]) -> str:
    """The cues that pick the question's best option, as one Japanese line."""
    cues = list(q["rules"])
    if q["tokens"]:
        cues.append("語句" + "".join(f"「{t}」" for t in q["tokens"]))
    if q["classifier"]:
        cues.append(f"分類器（差 {q['classifier_margin']:+.1f}）")
    return "、".join(cues) or "なし"
