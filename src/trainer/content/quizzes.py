"""Read quizzes/*.yaml (guided modules: steps, questions, choices) and the optional courses.yaml.

Called by ``loader.load_content`` after the framework and the cases, so a module's ``case`` and
``stage`` and a question's ``points`` are checked against what was read before; a course's
``modules`` are checked against the modules read here.
"""

from __future__ import annotations

from pathlib import Path

from yaml.nodes import Node

from trainer.content import schema as s
from trainer.content.state import LoadState
from trainer.content.yamlnodes import Source, YamlMap, peek_id

__all__ = ["load_courses_file", "load_module_file"]

_QUESTION_KEYS = ("id", "type", "points", "prompt")
_QUESTION_OPTIONAL = ("choices", "order", "guidance", "phase")


def load_module_file(state: LoadState, rel: str) -> s.Module | None:
    """Read one module: its case, steps and questions."""
    src = state.source(rel)
    node = src.compose() if src else None
    label = f"モジュール {peek_id(node) or Path(rel).stem}"
    keys = ("id", "title", "summary", "minutes", "steps")
    m = src.mapping(node, label, keys, ("case",)) if src and node else None
    if src is None or m is None:
        state.bad_modules.add(Path(rel).stem)
        return None
    module_id = state.own_id(src, m, "モジュール")
    state.module_ids.add(module_id)
    case_id = _module_case(state, src, m)
    minutes = src.integer(m, "minutes", 1)
    nodes = src.items(m, "steps")
    if "steps" in m.values and not nodes:
        src.error(m.values["steps"], f"{m.label}にステップがありません")
    steps = tuple(step for n, node in enumerate(nodes, 1) if (step := _load_step(state, src, node, n, m, case_id)))
    if case_id in state.case_stages and nodes and not any(step.stage for step in steps):
        message = f"{m.label}は事例 {case_id} のモジュールですが、stage を指定したステップがありません"
        src.error(m.keys["steps"], message)
    title, summary = src.text(m, "title"), src.text(m, "summary")
    return s.Module(module_id, case_id, title, summary, minutes or 0, steps, src.rel, src.line_of(m, "case"))


def _module_case(state: LoadState, src: Source, m: YamlMap) -> str | None:
    """Read the optional ``case``; it must name a case file."""
    if "case" not in m.values:
        return None
    case_id = src.slug(m, "case")
    if case_id and case_id not in state.case_stages and case_id not in state.bad_cases:
        src.error(m.values["case"], f"{m.label}の case「{case_id}」は cases/ にありません")
    return case_id or None


def _load_step(
    state: LoadState, src: Source, node: Node, number: int, module: YamlMap, case_id: str | None
) -> s.Step | None:
    """Read one step: stage (must be a stage of the module's case) and/or intro, then questions."""
    label = f"{module.label}のステップ {number}"
    m = src.mapping(node, label, (), ("stage", "intro", "questions"))
    if m is None:
        return None
    stage, intro = src.optional_text(m, "stage"), src.optional_text(m, "intro")
    if stage and case_id is None:
        src.error(m.values["stage"], f"{m.label}に stage がありますが、モジュールに case がありません")
    elif stage and case_id in state.case_stages and stage not in state.case_stages[case_id]:
        src.error(m.values["stage"], f"{m.label}の stage「{stage}」は事例 {case_id} にありません")
    if not stage and not intro and "stage" not in m.values and "intro" not in m.values:
        src.error(node, f"{m.label}に stage も intro もありません（どちらかが必要です）")
    nodes = src.items(m, "questions")
    questions = (_load_question(state, src, q, f"{m.label}の {n} 番目の問題") for n, q in enumerate(nodes, 1))
    return s.Step(stage, intro, tuple(q for q in questions if q))


def _load_question(state: LoadState, src: Source, node: Node, fallback: str) -> s.Question | None:
    """Read one question and check it against the rules of its type."""
    label = f"問題 {peek_id(node)}" if peek_id(node) else fallback
    m = src.mapping(node, label, _QUESTION_KEYS, _QUESTION_OPTIONAL)
    if m is None:
        return None
    question_id = src.slug(m, "id")
    state.register(src, m.values.get("id", m.node), "問題", question_id)
    qtype = src.enum(m, "type", s.QUESTION_TYPES)
    points = src.refs(m, "points", state.known["points"], "論点")
    count = len(src.items(m, "points", report=False))
    if src.is_list(m, "points") and not 1 <= count <= 3:
        src.error(m.values["points"], f"{m.label}の論点（points）は 1〜3 個にしてください（現在 {count} 個）")
    choices = _load_choices(state, src, m, qtype)
    order = _load_order(src, m, qtype, choices)
    guidance = _only_for(src, m, "guidance", qtype, ("reflection",))
    phase = _only_for(src, m, "phase", qtype, ("self_rating",))
    src.check_enum(m, "phase", phase, s.PHASES)
    prompt, line = src.text(m, "prompt"), m.node.start_mark.line + 1
    guidance_line = src.line_of(m, "guidance")
    return s.Question(question_id, qtype, points, prompt, choices, order, guidance, phase, src.rel, line, guidance_line)


def _load_choices(state: LoadState, src: Source, m: YamlMap, qtype: str) -> tuple[s.Choice, ...]:
    """Read choices: required (2 or more) for single/multiple/ordering, forbidden otherwise."""
    if qtype not in s.CHOICE_TYPES:
        if qtype and "choices" in m.values:
            src.error(m.keys["choices"], f"{m.label.rstrip()}（{qtype}）には choices を書けません")
        return ()
    if "choices" not in m.values:
        src.error(m.node, f"{m.label}に choices がありません")
        return ()
    nodes = src.items(m, "choices")
    if len(nodes) < 2:
        src.error(m.keys["choices"], f"{m.label}の選択肢は 2 つ以上必要です（現在 {len(nodes)} 個）")
    choices = tuple(c for node in nodes if (c := _load_choice(state, src, node, m, qtype)))
    if qtype != "ordering" and nodes and not any(choice.rating == "best" for choice in choices):
        src.error(m.keys["choices"], f"{m.label}に rating: best（最適）の選択肢がありません（1 つ以上必要です）")
    return choices


def _load_choice(state: LoadState, src: Source, node: Node, question: YamlMap, qtype: str) -> s.Choice | None:
    """Read one choice; single/multiple need a rating, ordering must not have one."""
    label = f"{question.label}の選択肢 {peek_id(node) or '（ID なし）'}"
    rated = qtype != "ordering"
    m = src.mapping(node, label, ("id", "text", "feedback", *(("rating",) if rated else ())), ("rating",))
    if m is None:
        return None
    choice_id = src.slug(m, "id")
    scope = f"{src.rel}:{question.node.start_mark.line}"
    state.register(src, m.values.get("id", m.node), f"{question.label}の選択肢", choice_id, scope)
    if not rated and "rating" in m.values:
        src.error(m.keys["rating"], f"{m.label}に rating があります（並べ替え問題の選択肢には書けません）")
    rating = src.enum(m, "rating", s.RATINGS) if rated else None
    feedback_line = src.line_of(m, "feedback")
    return s.Choice(choice_id, src.text(m, "text"), rating or None, src.text(m, "feedback"), feedback_line)


def _load_order(src: Source, m: YamlMap, qtype: str, choices: tuple[s.Choice, ...]) -> tuple[str, ...]:
    """Read ``order`` of an ordering question: every choice ID exactly once."""
    if qtype != "ordering":
        if qtype and "order" in m.values:
            message = f"{m.label.rstrip()}（{qtype}）には order を書けません（並べ替え問題だけで使います）"
            src.error(m.keys["order"], message)
        return ()
    if "order" not in m.values:
        src.error(m.node, f"{m.label}に order（推奨する順番）がありません")
        return ()
    ids = [choice.id for choice in choices]
    order = src.refs(m, "order", set(ids), "選択肢", "はこの問題の choices にありません")
    missing = [ident for ident in ids if ident not in order]
    if missing:
        hint = "すべての選択肢を 1 回ずつ並べてください"
        src.error(m.values["order"], f"{m.label}の order に選択肢 {', '.join(missing)} がありません（{hint}）")
    return order


def _only_for(src: Source, m: YamlMap, key: str, qtype: str, types: tuple[str, ...]) -> str | None:
    """Read an optional text that only questions of ``types`` may have."""
    if key not in m.values:
        return None
    if qtype not in types:
        if qtype:
            hint = f"{' / '.join(types)} の問題だけで使います"
            src.error(m.keys[key], f"{m.label.rstrip()}（{qtype}）には {key} を書けません（{hint}）")
        return None
    return src.optional_text(m, key)


# --- courses.yaml ---------------------------------------------------------------------------


def load_courses_file(state: LoadState) -> list[s.Course]:
    """Read the optional courses.yaml (absent = no courses)."""
    if not (state.root / "courses.yaml").exists():
        return []
    src = state.source("courses.yaml")
    node = src.compose() if src else None
    m = src.mapping(node, "courses.yaml", ("courses",)) if src and node else None
    if src is None or m is None:
        return []
    return [course for node in src.items(m, "courses") if (course := _load_course(state, src, node))]


def _load_course(state: LoadState, src: Source, node: Node) -> s.Course | None:
    """Read one course; its modules must exist."""
    label = f"コース {peek_id(node) or '（ID なし）'}"
    m = src.mapping(node, label, ("id", "title", "summary", "modules"), ("pass_score",))
    if m is None:
        return None
    course_id = src.slug(m, "id")
    state.register(src, m.values.get("id", m.node), "コース", course_id)
    known = state.module_ids | state.bad_modules
    modules = src.refs(m, "modules", known, "モジュール", "は quizzes/ にありません")
    if src.is_list(m, "modules") and not src.items(m, "modules", report=False):
        src.error(m.values["modules"], f"{m.label}の modules が空です")
    pass_score = src.integer(m, "pass_score", 0, 100)
    return s.Course(course_id, src.text(m, "title"), src.text(m, "summary"), modules, pass_score)
