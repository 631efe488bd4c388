"""Read and validate a content tree (docs/content-format.md) into ``schema`` dataclasses.

``load_content(root)`` reads root/framework.yaml, root/cases/*.md, root/quizzes/*.yaml and the
optional root/courses.yaml in sorted order, collects every problem it finds as a ``Problem``
(``file:line: message`` in Japanese, for content editors) and returns ``(Content, [])`` only when
there is none. YAML is composed into nodes (safe loader; libyaml when present) so each message
names the line of the key, item or value at fault. Files are read in dependency order (framework,
cases, modules, courses), so references are checked as soon as a file names them; a file that
cannot be read at all does not make every reference to it an error too.

Layout: public API and the per-file readers first, then ``Source``/``YamlMap``, the small layer
that reads YAML nodes with line numbers (a candidate for its own module if this one grows).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from trainer.content import schema as s

__all__ = ["Problem", "content_hash", "content_files", "load_content"]

_LEVEL2 = re.compile(r"^##(?!#)")
_STAGE_HEADING = re.compile(r"^## +(?P<title>.*?)\s*\{#(?P<id>[^{}]*)\}\s*$")
_FENCE = ("```", "~~~")

_VALUE_IDS = tuple(f"V{n}" for n in range(1, s.VALUE_COUNT + 1))
_ATTITUDE_IDS = tuple(f"A{n}" for n in range(1, s.ATTITUDE_COUNT + 1))
_CAVEAT_IDS = tuple(f"C{n}" for n in range(1, s.CAVEAT_COUNT + 1))
_PATTERN_IDS = tuple(f"PT{n:02d}" for n in range(1, s.PATTERN_COUNT + 1))
_ITEM_IDS = tuple(s.ITEM_POINT_RANGES)
_POINT_ITEM = {
    f"P{n:02d}": item_id
    for item_id, (first, last) in s.ITEM_POINT_RANGES.items()
    for n in range(first, last + 1)
}
# framework.yaml list key -> (Japanese kind, dataclass, text key, the fixed IDs)
_SIMPLE = {
    "values": ("価値", s.Value, "explanation", _VALUE_IDS),
    "attitudes": ("態度", s.Attitude, "explanation", _ATTITUDE_IDS),
    "caveats": ("留意点", s.Caveat, "explanation", _CAVEAT_IDS),
    "patterns": ("パターン", s.Pattern, "description", _PATTERN_IDS),
}
_PERSONA_ENUMS = {"age_band": s.AGE_BANDS, "sex": s.SEXES, "setting": s.SETTINGS}
_PERSONA_KEYS = ("age_band", "sex", "household", "duration", "first_contact", "first_place", "setting")
_QUESTION_KEYS = ("id", "type", "points", "prompt")
_QUESTION_OPTIONAL = ("choices", "order", "guidance", "phase")
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: ~10x faster
_NULL_TAG = "tag:yaml.org,2002:null"
_INT_TAG = "tag:yaml.org,2002:int"


@dataclass(frozen=True, slots=True)
class Problem:
    """One validation problem; ``str()`` gives ``path:line: message`` (line is 1-based)."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(slots=True)
class _State:
    """What one load has seen so far: problems, known IDs and first occurrences."""

    root: Path
    problems: list[Problem] = field(default_factory=list)
    known: dict[str, set[str] | None] = field(default_factory=dict)
    case_stages: dict[str, set[str]] = field(default_factory=dict)
    bad_cases: set[str] = field(default_factory=set)
    module_ids: set[str] = field(default_factory=set)
    bad_modules: set[str] = field(default_factory=set)
    seen: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def source(self, rel: str) -> Source | None:
        """Open root/rel as a Source, or report why it cannot be read."""
        return Source.open(self.root, rel, self.problems)

    def register(self, src: Source, node: Node | int, kind: str, ident: str, scope: str = "") -> None:
        """Record the first occurrence of ``ident``; report later ones as duplicates."""
        if not ident:
            return
        key = (kind, scope, ident)
        if key in self.seen:
            src.error(node, f"{kind} ID「{ident}」が重複しています（最初の定義: {self.seen[key]}）")
        else:
            self.seen[key] = src.where(node)


def load_content(root: Path) -> tuple[s.Content | None, list[Problem]]:
    """Load and validate the tree at ``root``; return (content, []) or (None, problems)."""
    state = _State(Path(root))
    if not state.root.is_dir():
        return None, [Problem(state.root.as_posix(), 1, "コンテンツのディレクトリがありません")]
    framework = _load_framework_file(state)
    cases = [case for rel in _listing(state.root, "cases", ".md") if (case := _load_case_file(state, rel))]
    modules = [m for rel in _listing(state.root, "quizzes", ".yaml") if (m := _load_module_file(state, rel))]
    courses = _load_courses_file(state)
    if state.problems or framework is None:
        order = {path: n for n, path in enumerate(dict.fromkeys(p.path for p in state.problems))}
        return None, sorted(state.problems, key=lambda p: (order[p.path], p.line))
    return s.Content(framework, tuple(cases), tuple(modules), tuple(courses)), []


def content_files(root: Path) -> list[str]:
    """Relative paths (posix) of all content files under ``root``, sorted."""
    root = Path(root)
    rels = [rel for rel in ("framework.yaml", "courses.yaml") if (root / rel).is_file()]
    rels += _listing(root, "cases", ".md") + _listing(root, "quizzes", ".yaml")
    return sorted(rels)


def content_hash(root: Path) -> str:
    """SHA-256 (hex) over the sorted relative paths and bytes of every content file."""
    digest = hashlib.sha256()
    for rel in content_files(root):
        data = (Path(root) / rel).read_bytes()
        digest.update(f"{rel}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _listing(root: Path, sub: str, suffix: str) -> list[str]:
    """Sorted ``sub/name`` for the files directly in root/sub ending in ``suffix``."""
    folder = root / sub
    if not folder.is_dir():
        return []
    return [f"{sub}/{p.name}" for p in sorted(folder.iterdir()) if p.is_file() and p.name.endswith(suffix)]


# --- framework.yaml -------------------------------------------------------------------------


def _load_framework_file(state: _State) -> s.Framework | None:
    """Read framework.yaml; leave reference checks off if it cannot be read at all."""
    for kind in ("values", "attitudes", "caveats", "patterns", "points"):
        state.known[kind] = None
    src = state.source("framework.yaml")
    node = src.compose() if src else None
    m = src.mapping(node, "framework.yaml", ("note", *_SIMPLE, "items")) if src and node else None
    if src is None or m is None:
        return None
    simple = {key: _load_simple(state, src, m, key) for key in _SIMPLE}
    for key, entries in simple.items():
        state.known[key] = {entry.id for entry in entries}
    items = _load_items(state, src, m)
    state.known["points"] = {point.id for item in items for point in item.points}
    return s.Framework(
        src.text(m, "note"), simple["values"], simple["attitudes"], simple["caveats"], items, simple["patterns"]
    )


def _load_simple(state: _State, src: Source, m: YamlMap, key: str) -> tuple[Any, ...]:
    """Read one of values/attitudes/caveats/patterns: id, title and one text field each."""
    kind, cls, text_key, expected = _SIMPLE[key]
    nodes = src.items(m, key)
    entries = []
    for node in nodes:
        entry = src.mapping(node, f"{kind} {peek_id(node) or '（ID なし）'}", ("id", "title", text_key))
        if entry is not None:
            ident = _fixed_id(state, src, entry, kind, expected)
            entries.append(cls(ident, src.text(entry, "title"), src.text(entry, text_key)))
    _check_count(src, m, key, f"{kind}は", len(nodes), len(expected))
    return tuple(entries)


def _load_items(state: _State, src: Source, m: YamlMap) -> tuple[s.Item, ...]:
    """Read the seven items and their points; check the fixed counts."""
    nodes = src.items(m, "items")
    items, point_count = [], 0
    for node in nodes:
        label = f"項目 {peek_id(node) or '（ID なし）'}"
        entry = src.mapping(node, label, ("id", "title", "summary", "points"))
        if entry is None:
            continue
        item_id = _fixed_id(state, src, entry, "項目", _ITEM_IDS)
        point_nodes = src.items(entry, "points")
        point_count += len(point_nodes)
        points = tuple(_load_point(state, src, node, item_id) for node in point_nodes)
        number = int(item_id[1:]) if item_id in _ITEM_IDS else 0
        title, summary = src.text(entry, "title"), src.text(entry, "summary")
        items.append(s.Item(item_id, number, title, summary, tuple(p for p in points if p)))
    _check_count(src, m, "items", "項目は", len(nodes), s.ITEM_COUNT)
    _check_count(src, m, "items", "論点は全部で", point_count, s.POINT_COUNT)
    return tuple(items)


def _load_point(state: _State, src: Source, node: Node, item_id: str) -> s.Point | None:
    """Read one point; it must sit under its fixed item and name known values etc."""
    label = f"論点 {peek_id(node) or '（ID なし）'}"
    m = src.mapping(node, label, ("id", "title", "explanation", "pitfalls"), ("values", "attitudes", "caveats"))
    if m is None:
        return None
    point_id = _fixed_id(state, src, m, "論点", tuple(_POINT_ITEM))
    home = _POINT_ITEM.get(point_id)
    if home and item_id and home != item_id:
        src.error(m.values["id"], f"論点 {point_id} は項目 {home} の points に置いてください（現在は {item_id}）")
    pitfalls = src.texts(m, "pitfalls")
    if src.is_list(m, "pitfalls") and not src.items(m, "pitfalls", report=False):
        src.error(m.values["pitfalls"], f"{m.label}の pitfalls が空です（よくある落とし穴を 1〜3 件書いてください）")
    refs = {key: src.refs(m, key, state.known[key], kind) for key, kind in
            (("values", "価値"), ("attitudes", "態度"), ("caveats", "留意点"))}
    return s.Point(point_id, item_id, src.text(m, "title"), src.text(m, "explanation"), pitfalls, **refs)


def _fixed_id(state: _State, src: Source, m: YamlMap, kind: str, expected: tuple[str, ...]) -> str:
    """Read a framework ID that must be one of ``expected`` and unique."""
    ident = src.text(m, "id")
    if ident and ident not in expected:
        src.error(m.values["id"], f"{kind}の ID「{ident}」は使えません（{expected[0]}〜{expected[-1]} のいずれか）")
    state.register(src, m.values.get("id", m.node), kind, ident)
    return ident


def _check_count(src: Source, m: YamlMap, key: str, what: str, count: int, expected: int) -> None:
    """Report a fixed-size framework list with the wrong number of entries."""
    if key in m.values and count != expected:
        src.error(m.keys[key], f"{what} {expected} 件必要です（現在 {count} 件）")


# --- cases/*.md -----------------------------------------------------------------------------


def _load_case_file(state: _State, rel: str) -> s.Case | None:
    """Read one case file; remember its stages so that modules can refer to them."""
    src = state.source(rel)
    case = _load_case(state, src) if src else None
    if case is None:
        state.bad_cases.add(Path(rel).stem)
    return case


def _load_case(state: _State, src: Source) -> s.Case | None:
    """Split front matter from body, read both and check every reference."""
    split = src.front_matter()
    node = src.compose(split[0]) if split else None
    label = f"事例 {peek_id(node) or src.stem}" if node else ""
    m = src.mapping(node, label, ("id", "pattern", "title", "persona", "summary", "points")) if node else None
    if split is None or m is None:
        return None
    case_id = _own_id(state, src, m, "事例")
    pattern = src.ref(m, "pattern", state.known["patterns"], "パターン")
    points = src.refs(m, "points", state.known["points"], "論点")
    if src.is_list(m, "points") and not src.items(m, "points", report=False):
        src.error(m.values["points"], f"{m.label}の points が空です（事例で強調する論点を書いてください）")
    persona = _load_persona(src, m)
    stages = _load_stages(state, src, split[1], split[2], m.label)
    state.case_stages[case_id] = {stage.id for stage in stages}
    return s.Case(
        case_id, pattern, src.text(m, "title"), persona, src.text(m, "summary"), points, stages, src.rel
    )


def _load_persona(src: Source, case: YamlMap) -> s.Persona:
    """Read the persona mapping; age band, sex and setting must be allowed values."""
    node = case.values.get("persona")
    m = src.mapping(node, f"{case.label}の persona", _PERSONA_KEYS) if node else None
    if m is None:
        return s.Persona(*[""] * len(_PERSONA_KEYS))
    fields = {key: src.text(m, key) for key in _PERSONA_KEYS}
    for key, allowed in _PERSONA_ENUMS.items():
        src.check_enum(m, key, fields[key], allowed)
    return s.Persona(**fields)


def _own_id(state: _State, src: Source, m: YamlMap, kind: str) -> str:
    """Read a file's own slug ID: valid, equal to the file name and unique."""
    ident = src.slug(m, "id")
    if ident and ident != src.stem:
        src.error(m.values["id"], f"{kind}の id「{ident}」がファイル名 {Path(src.rel).name} と一致しません")
    state.register(src, m.values.get("id", m.node), kind, ident)
    return ident


def _load_stages(state: _State, src: Source, first: int, lines: list[str], label: str) -> tuple[s.Stage, ...]:
    """Cut the body into ``## Title {#id}`` stages; only blank lines may precede the first."""
    heads: list[tuple[int, str, list[str]]] = []
    fenced, stray = False, 0
    for number, line in enumerate(lines, start=first):
        if not fenced and _LEVEL2.match(line):
            heads.append((number, line, []))
            continue
        if line.lstrip().startswith(_FENCE):
            fenced = not fenced
        if heads:
            heads[-1][2].append(line)
        elif line.strip() and not stray:
            stray = number
    if stray:
        hint = "本文は「## タイトル {#ステージID}」の見出しの後に書いてください"
        src.error(stray, f"最初のステージ見出しより前に本文があります（{hint}）")
    stages = tuple(stage for head in heads if (stage := _stage(state, src, *head)))
    if not heads:
        hint = "「## タイトル {#s1}」の見出しで本文を区切ってください"
        src.error(first - 1, f"{label}にステージがありません（{hint}）")
    return stages


def _stage(state: _State, src: Source, number: int, heading: str, body: list[str]) -> s.Stage | None:
    """Build one stage from its heading line and body lines, reporting what is wrong."""
    match = _STAGE_HEADING.match(heading)
    if match is None:
        hint = "「## タイトル {#s1}」の形で書いてください"
        src.error(number, f"ステージ見出し「{heading.strip()}」の形式が正しくありません（{hint}）")
        return None
    stage_id, title = match["id"].strip(), match["title"].strip()
    if not s.ID_PATTERN.match(stage_id):
        src.error(number, f"ステージ ID「{stage_id}」は使えません（{s.ID_HINT}）")
    if not title:
        src.error(number, f"ステージ {stage_id} の見出しにタイトルがありません")
    state.register(src, number, "ステージ", stage_id, scope=src.rel)
    while body and not body[0].strip():
        body.pop(0)
    while body and not body[-1].strip():
        body.pop()
    if not body:
        src.error(number, f"ステージ {stage_id} に本文がありません")
    return s.Stage(stage_id, title, "\n".join(body), number)


# --- quizzes/*.yaml -------------------------------------------------------------------------


def _load_module_file(state: _State, rel: str) -> s.Module | None:
    """Read one module: its case, steps and questions."""
    src = state.source(rel)
    node = src.compose() if src else None
    label = f"モジュール {peek_id(node) or Path(rel).stem}"
    keys = ("id", "title", "summary", "minutes", "steps")
    m = src.mapping(node, label, keys, ("case",)) if src and node else None
    if src is None or m is None:
        state.bad_modules.add(Path(rel).stem)
        return None
    module_id = _own_id(state, src, m, "モジュール")
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
    return s.Module(module_id, case_id, title, summary, minutes or 0, steps, src.rel)


def _module_case(state: _State, src: Source, m: YamlMap) -> str | None:
    """Read the optional ``case``; it must name a case file."""
    if "case" not in m.values:
        return None
    case_id = src.slug(m, "case")
    if case_id and case_id not in state.case_stages and case_id not in state.bad_cases:
        src.error(m.values["case"], f"{m.label}の case「{case_id}」は cases/ にありません")
    return case_id or None


def _load_step(
    state: _State, src: Source, node: Node, number: int, module: YamlMap, case_id: str | None
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


def _load_question(state: _State, src: Source, node: Node, fallback: str) -> s.Question | None:
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
    return s.Question(question_id, qtype, points, prompt, choices, order, guidance, phase, src.rel, line)


def _load_choices(state: _State, src: Source, m: YamlMap, qtype: str) -> tuple[s.Choice, ...]:
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


def _load_choice(state: _State, src: Source, node: Node, question: YamlMap, qtype: str) -> s.Choice | None:
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
    return s.Choice(choice_id, src.text(m, "text"), rating or None, src.text(m, "feedback"))


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


def _load_courses_file(state: _State) -> list[s.Course]:
    """Read the optional courses.yaml (absent = no courses)."""
    if not (state.root / "courses.yaml").exists():
        return []
    src = state.source("courses.yaml")
    node = src.compose() if src else None
    m = src.mapping(node, "courses.yaml", ("courses",)) if src and node else None
    if src is None or m is None:
        return []
    return [course for node in src.items(m, "courses") if (course := _load_course(state, src, node))]


def _load_course(state: _State, src: Source, node: Node) -> s.Course | None:
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


# --- reading YAML nodes with line numbers ---------------------------------------------------


@dataclass(slots=True)
class YamlMap:
    """A checked YAML mapping: key and value nodes by key, and the label used in messages."""

    label: str
    node: MappingNode
    keys: dict[str, Node]
    values: dict[str, Node]


def peek_id(node: Node | None) -> str | None:
    """The scalar ``id`` of a mapping node, if any (used to label messages)."""
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == "id" and isinstance(value, ScalarNode):
                return value.value.strip() or None
    return None


def spaced(label: str) -> str:
    """``label`` with a trailing space when it ends in ASCII, so that "問題 q1 の…" reads well."""
    return f"{label} " if label and label[-1].isascii() and not label[-1].isspace() else label


def _line(where: Node | int) -> int:
    """1-based line of a node, or the line itself."""
    return where if isinstance(where, int) else where.start_mark.line + 1


class Source:
    """One content file being read; every check reports into the shared problem list."""

    def __init__(self, root: Path, rel: str, raw: str, problems: list[Problem]) -> None:
        self.rel, self.raw, self.problems = rel, raw, problems
        self.display = (root / rel).as_posix()
        self.stem = Path(rel).stem

    @classmethod
    def open(cls, root: Path, rel: str, problems: list[Problem]) -> Source | None:
        """Read root/rel as UTF-8, or report why it cannot be read."""
        display = (root / rel).as_posix()
        try:
            data = (root / rel).read_bytes()
            return cls(root, rel, data.decode("utf-8").removeprefix("\ufeff"), problems)
        except FileNotFoundError:
            problems.append(Problem(display, 1, "ファイルがありません"))
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            problems.append(Problem(display, line, "UTF-8 として読めない文字があります（UTF-8 で保存してください）"))
        except OSError as exc:
            problems.append(Problem(display, 1, f"ファイルを読めません（{exc.strerror}）"))
        return None

    def error(self, where: Node | int, message: str) -> None:
        """Report ``message`` at a node's line or at a line number."""
        self.problems.append(Problem(self.display, _line(where), message))

    def where(self, where: Node | int) -> str:
        """``file:line`` of a node, for "first defined at" messages."""
        return f"{self.display}:{_line(where)}"

    def compose(self, text: str | None = None) -> Node | None:
        """Compose YAML (the whole file by default) into nodes, or report the syntax error."""
        text = self.raw if text is None else text
        try:
            node = yaml.compose(text, Loader=_YAML_LOADER)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            self.error(mark.line + 1 if mark else 1, f"YAML の書き方に誤りがあります（{exc.problem or exc.context}）")
            return None
        except yaml.reader.ReaderError as exc:  # a control character; positions differ by parser
            char = chr(exc.character) if isinstance(exc.character, int) else "\0"
            line = text[: max(text.find(char), 0)].count("\n") + 1
            self.error(line, f"YAML に使えない文字（U+{ord(char):04X}）があります。削除してください")
            return None
        except yaml.YAMLError as exc:
            self.error(1, f"YAML として読めません（{exc}）")
            return None
        if node is None:
            self.error(1, "内容が空です")
        return node

    def front_matter(self) -> tuple[str, int, list[str]] | None:
        """Split ``---`` front matter: (YAML text incl. the opening ---, first body line, body lines)."""
        lines = [line.rstrip("\r") for line in self.raw.split("\n")]
        if lines[0].rstrip() != "---":
            hint = "1 行目を --- にして事例の情報を YAML で書き、--- の行で閉じてください"
            self.error(1, f"先頭に front matter がありません（{hint}）")
            return None
        for index in range(1, len(lines)):
            if lines[index].rstrip() == "---":
                return "\n".join(lines[:index]) + "\n", index + 2, lines[index + 1 :]
        self.error(1, "front matter が閉じられていません（YAML の後に --- だけの行を入れてください）")
        return None

    def mapping(
        self, node: Node | None, label: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> YamlMap | None:
        """Check that ``node`` is a mapping with the required keys and no unknown or repeated ones."""
        if node is None:
            return None
        label = spaced(label)
        if not isinstance(node, MappingNode):
            self.error(node, f"{label}は「キー: 値」の形（マッピング）で書いてください")
            return None
        m, allowed = YamlMap(label, node, {}, {}), (*required, *optional)
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else "?"
            if key in m.keys:
                first = _line(m.keys[key])
                self.error(key_node, f"{label}でキー {key} が 2 回書かれています（最初: {first} 行目）")
            elif key not in allowed:
                self.error(key_node, f"{label}に不明なキー {key} があります（使えるキー: {', '.join(allowed)}）")
            else:
                m.keys[key], m.values[key] = key_node, value_node
        for key in required:
            if key not in m.keys:
                self.error(node, f"{label}に {key} がありません")
        return m

    def _scalar(self, m: YamlMap, key: str, node: Node) -> str | None:
        """The text of a non-null scalar, else report and return None."""
        if isinstance(node, ScalarNode) and node.tag != _NULL_TAG:
            if node.value.strip():
                return node.value.strip()
            self.error(node, f"{m.label}の {key} が空です")
        elif isinstance(node, ScalarNode):
            self.error(node, f"{m.label}の {key} が空です")
        else:
            self.error(node, f"{m.label}の {key} は文字列で書いてください")
        return None

    def text(self, m: YamlMap, key: str) -> str:
        """A required text value, stripped ('' when missing or invalid, which is reported)."""
        node = m.values.get(key)
        return (self._scalar(m, key, node) or "") if node is not None else ""

    def optional_text(self, m: YamlMap, key: str) -> str | None:
        """An optional text value: None when the key is absent."""
        return self.text(m, key) or None if key in m.values else None

    def slug(self, m: YamlMap, key: str) -> str:
        """A text value that must match the ID syntax ^[a-z0-9][a-z0-9-]*$."""
        value = self.text(m, key)
        if value and not s.ID_PATTERN.match(value):
            self.error(m.values[key], f"{m.label}の {key}「{value}」は ID として使えません（{s.ID_HINT}）")
        return value

    def enum(self, m: YamlMap, key: str, allowed: tuple[str, ...]) -> str:
        """A text value that must be one of ``allowed`` ('' when it is not, which is reported)."""
        value = self.text(m, key)
        self.check_enum(m, key, value, allowed)
        return value if value in allowed else ""

    def check_enum(self, m: YamlMap, key: str, value: str | None, allowed: tuple[str, ...]) -> None:
        """Report ``value`` (if any) when it is not one of ``allowed``."""
        if value and value not in allowed:
            self.error(m.values[key], f"{m.label}の {key}「{value}」は使えません（{' / '.join(allowed)} のいずれか）")

    def integer(self, m: YamlMap, key: str, low: int, high: int | None = None) -> int | None:
        """An integer value within [low, high]; None when absent or invalid."""
        node = m.values.get(key)
        if node is None:
            return None
        if not (isinstance(node, ScalarNode) and node.tag == _INT_TAG):
            self.error(node, f"{m.label}の {key} は整数で書いてください")
            return None
        value = int(SafeConstructor().construct_yaml_int(node))
        if value < low or (high is not None and value > high):
            limit = f"{low}〜{high} " if high is not None else f"{low} 以上"
            self.error(node, f"{m.label}の {key} は {limit}にしてください（現在 {value}）")
        return value

    def items(self, m: YamlMap, key: str, report: bool = True) -> list[Node]:
        """The item nodes of a list value ([] when absent or empty)."""
        node = m.values.get(key)
        if isinstance(node, SequenceNode):
            return list(node.value)
        if node is not None and report and not (isinstance(node, ScalarNode) and node.tag == _NULL_TAG):
            self.error(node, f"{m.label}の {key} はリスト（「- 」の行か [a, b]）で書いてください")
        return []

    def is_list(self, m: YamlMap, key: str) -> bool:
        """True when ``key`` is present with a list or an empty value (``key:``)."""
        node = m.values.get(key)
        return isinstance(node, SequenceNode) or (isinstance(node, ScalarNode) and node.tag == _NULL_TAG)

    def texts(self, m: YamlMap, key: str) -> tuple[str, ...]:
        """A list of non-empty texts."""
        nodes = enumerate(self.items(m, key), 1)
        return tuple(value for n, node in nodes if (value := self._scalar(m, f"{key} の {n} 番目", node)))

    def refs(
        self, m: YamlMap, key: str, known: set[str] | None, kind: str, missing: str = "は framework.yaml にありません"
    ) -> tuple[str, ...]:
        """A list of IDs, each once, each in ``known`` (not checked when ``known`` is None)."""
        found: list[str] = []
        for node in self.items(m, key):
            value = self._scalar(m, key, node)
            if value and value in found:
                self.error(node, f"{m.label}の {key} で {value} が重複しています")
            elif value and known is not None and value not in known:
                self.error(node, f"{m.label}の {key} にある{kind} {value} {missing}")
            elif value:
                found.append(value)
        return tuple(found)

    def ref(self, m: YamlMap, key: str, known: set[str] | None, kind: str) -> str:
        """A single ID that must be in ``known`` (not checked when ``known`` is None)."""
        value = self.text(m, key)
        if value and known is not None and value not in known:
            self.error(m.values[key], f"{m.label}の {key} にある{kind} {value} は framework.yaml にありません")
        return value
