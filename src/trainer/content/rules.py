"""Editorial rules over a loaded content tree, run by ``trainer content check`` after the loader.

The loader (``load_content``) rejects content that the platform cannot use; these rules reject
content that works but teaches badly, across files: a feedback that names a point the question is
not tagged with, two cases about the same persona, a case module without its before/after
self-rating, a point that too few questions practise first. ``editorial_problems(content, root)``
returns them as ``Problem`` (``file:line: message`` in Japanese), the same shape as the loader's,
so ``content check`` lists and counts them alike. ``content import`` does not run them: a tree
being rewritten stays importable while ``content check`` (CI) stays red until it is fixed.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from pathlib import Path

from trainer.content.schema import Case, Choice, Content, Module, Question
from trainer.content.yamlnodes import Problem

__all__ = ["FIRST_TAG_MIN_MODULES", "FIRST_TAG_MIN_QUESTIONS", "editorial_problems"]

FIRST_TAG_MIN_QUESTIONS = 3  # scored questions whose points list starts with the point ...
FIRST_TAG_MIN_MODULES = 2  # ... spread over at least this many modules

# A point ID as written in feedback or guidance (after NFKC, so "Ｐ０７" counts as P07).
_POINT_REF = re.compile(r"(?<![A-Za-z0-9])P\d{2}(?!\d)")
# A parenthesised remark in a persona field: 「両親と同居（妹は県外）」 is the household 「両親と同居」.
_REMARK = re.compile(r"\([^()]*\)")
# A pseudonym with an age in a stage text: 「Aさん、24歳」「Aさん（24歳）」「ユキさん 19歳」 (after NFKC).
# Only Latin initials and katakana names: kanji would also catch 「お母さん（52歳）」.
_NAME_AGE = re.compile(r"(?<![A-Za-z])(?P<name>[A-Z]{1,2}|[ァ-ヺー]{2,8})さん\s*[(、,]\s*(?P<age>\d{1,3})\s*歳")


def editorial_problems(content: Content, root: Path) -> list[Problem]:
    """All editorial problems of ``content`` (loaded from ``root``), in file and line order."""
    root = Path(root)
    problems = [
        *_untagged_citations(content, root),
        *_persona_clashes(content.cases, root),
        *_name_age_clashes(content.cases, root),
        *_self_rating_phases(content.modules, root),
        *_first_tag_coverage(content, root),
    ]
    return sorted(problems, key=lambda p: (p.path, p.line))


def cited_points(text: str | None) -> list[str]:
    """Point IDs named in ``text`` (e.g. 「（P01、P25）」), each once, in order of appearance."""
    return list(dict.fromkeys(_POINT_REF.findall(unicodedata.normalize("NFKC", text or ""))))


# --- feedback and guidance cite only tagged points ---------------------------------------------


def _untagged_citations(content: Content, root: Path) -> list[Problem]:
    """A point cited in a choice's feedback or a reflection's guidance must be a tagged point."""
    problems = []
    for module, question in content.questions():
        path = (root / module.source).as_posix()
        for choice in question.choices:
            problems += _citation_problems(path, question, choice.feedback, choice.feedback_line, _choice_label(choice))
        problems += _citation_problems(path, question, question.guidance, question.guidance_line, "guidance")
    return problems


def _choice_label(choice: Choice) -> str:
    """「選択肢 b のフィードバック」."""
    return f"選択肢 {choice.id} のフィードバック"


def _citation_problems(path: str, question: Question, text: str | None, line: int, where: str) -> list[Problem]:
    """One problem per point cited in ``text`` that ``question`` is not tagged with."""
    tagged = "、".join(question.points)
    hint = "points に加えるか、本文の論点を直してください"
    return [
        Problem(path, line or question.line,
                f"問題 {question.id} の{where}が論点 {point} に触れていますが、"
                f"この問題の points（{tagged}）にありません（{hint}）")
        for point in cited_points(text) if point not in question.points
    ]


# --- personas are distinct --------------------------------------------------------------------


def persona_key(case: Case) -> tuple[str, str, str, str]:
    """(age band, sex, household, first contact) with remarks in brackets and spaces removed."""
    persona = case.persona
    return (persona.age_band, persona.sex, _bare(persona.household), _bare(persona.first_contact))


def _bare(text: str) -> str:
    """NFKC text without parenthesised remarks and without spaces."""
    text = unicodedata.normalize("NFKC", text)
    while _REMARK.search(text):
        text = _REMARK.sub("", text)
    return "".join(text.split())


def _persona_clashes(cases: tuple[Case, ...], root: Path) -> list[Problem]:
    """Report every case whose persona key equals that of an earlier case."""
    first: dict[tuple[str, str, str, str], Case] = {}
    problems = []
    for case in cases:
        key = persona_key(case)
        other = first.setdefault(key, case)
        if other is not case:
            shown = "・".join(key)
            hint = "年代・性別・世帯・最初の相談者のどれかを変えて、事例ごとに別の人物にしてください"
            where = f"{(root / other.source).as_posix()}:{other.persona_line}"
            problems.append(Problem((root / case.source).as_posix(), case.persona_line,
                                    f"事例 {case.id} の persona（{shown}）が事例 {other.id}（{where}）と同じです（{hint}）"))
    return problems


def name_ages(case: Case) -> list[tuple[str, int, str]]:
    """(「Aさん、24歳」 as written, line, key "A/24") for each name-with-age in the case's stages."""
    found = []
    for stage in case.stages:
        text = unicodedata.normalize("NFKC", stage.markdown)
        for match in _NAME_AGE.finditer(text):
            line = stage.body_line + text.count("\n", 0, match.start())
            found.append((match.group(0), line, f"{match['name']}/{int(match['age'])}"))
    return found


def _name_age_clashes(cases: tuple[Case, ...], root: Path) -> list[Problem]:
    """Report a name-with-age (「Aさん、24歳」) that an earlier case already introduced."""
    first: dict[str, tuple[Case, int]] = {}
    problems = []
    for case in cases:
        for written, line, key in name_ages(case):
            other, other_line = first.setdefault(key, (case, line))
            if other is not case:
                where = f"{(root / other.source).as_posix()}:{other_line}"
                hint = "別の人物だとわかるよう、名前か年齢を変えてください"
                problems.append(Problem((root / case.source).as_posix(), line,
                                        f"事例 {case.id} の「{written}」は事例 {other.id}（{where}）と同じ名前と年齢です（{hint}）"))
    return problems


# --- case modules ask for self-rating before and after -----------------------------------------


def _self_rating_phases(modules: tuple[Module, ...], root: Path) -> list[Problem]:
    """Every module with ``case:`` has a self_rating question with phase before and one with after."""
    problems = []
    for module in modules:
        if not module.case:
            continue
        phases = {q.phase for q in module.questions() if q.type == "self_rating"}
        for phase in ("before", "after"):
            if phase not in phases:
                hint = "事例モジュールには phase: before と phase: after の自己評価が両方必要です"
                problems.append(Problem((root / module.source).as_posix(), module.case_line or 1,
                                        f"モジュール {module.id} に phase: {phase} の自己評価（self_rating）の問題がありません（{hint}）"))
    return problems


# --- every point is practised first in enough questions -----------------------------------------


def first_tag_counts(content: Content) -> dict[str, tuple[int, set[str]]]:
    """Point ID -> (scored questions whose first point it is, IDs of the modules they are in)."""
    counts: dict[str, tuple[int, set[str]]] = {point.id: (0, set()) for point in content.framework.points()}
    tally: dict[str, list[str]] = defaultdict(list)
    for module, question in content.questions():
        if question.scored and question.points:
            tally[question.points[0]].append(module.id)
    for point_id, module_ids in tally.items():
        if point_id in counts:
            counts[point_id] = (len(module_ids), set(module_ids))
    return counts


def _first_tag_coverage(content: Content, root: Path) -> list[Problem]:
    """Every point is the first tag of >= 3 scored questions in >= 2 modules."""
    path = (root / "framework.yaml").as_posix()
    points = content.points_by_id()
    problems = []
    for point_id, (questions, modules) in first_tag_counts(content).items():
        if questions >= FIRST_TAG_MIN_QUESTIONS and len(modules) >= FIRST_TAG_MIN_MODULES:
            continue
        need = f"{FIRST_TAG_MIN_QUESTIONS} 問以上、{FIRST_TAG_MIN_MODULES} つ以上のモジュールに必要です"
        problems.append(Problem(path, points[point_id].line or 1,
                                f"論点 {point_id} を最初の論点（points の先頭）にした採点問題が "
                                f"{questions} 問・{len(modules)} モジュールしかありません（{need}）"))
    return problems
