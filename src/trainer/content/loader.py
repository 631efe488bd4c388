"""Read and validate a content tree (docs/content-format.md) into ``schema`` dataclasses.

``load_content(root)`` reads root/framework.yaml, root/cases/*.md, root/quizzes/*.yaml and the
optional root/courses.yaml in sorted order, collects every problem it finds as a ``Problem``
(``file:line: message`` in Japanese, for content editors) and returns ``(Content, [])`` only when
there is none. YAML is composed into nodes (safe loader; libyaml when present) so each message
names the line of the key, item or value at fault. Files are read in dependency order (framework,
cases, modules, courses), so references are checked as soon as a file names them; a file that
cannot be read at all does not make every reference to it an error too.

Layout: this module holds the public API and the framework and case readers; ``quizzes`` reads
modules and courses, ``state`` holds what one load has seen so far, and ``yamlnodes``
(``Source``/``YamlMap``/``Problem``) reads YAML nodes with line numbers.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from yaml.nodes import Node

from trainer.content import schema as s
from trainer.content.quizzes import load_courses_file, load_module_file
from trainer.content.state import LoadState
from trainer.content.yamlnodes import Problem, Source, YamlMap, peek_id

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


def load_content(root: Path) -> tuple[s.Content | None, list[Problem]]:
    """Load and validate the tree at ``root``; return (content, []) or (None, problems)."""
    state = LoadState(Path(root))
    if not state.root.is_dir():
        return None, [Problem(state.root.as_posix(), 1, "コンテンツのディレクトリがありません")]
    framework = _load_framework_file(state)
    cases = [case for rel in _listing(state.root, "cases", ".md") if (case := _load_case_file(state, rel))]
    modules = [m for rel in _listing(state.root, "quizzes", ".yaml") if (m := load_module_file(state, rel))]
    courses = load_courses_file(state)
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


def _load_framework_file(state: LoadState) -> s.Framework | None:
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


def _load_simple(state: LoadState, src: Source, m: YamlMap, key: str) -> tuple[Any, ...]:
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


def _load_items(state: LoadState, src: Source, m: YamlMap) -> tuple[s.Item, ...]:
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


def _load_point(state: LoadState, src: Source, node: Node, item_id: str) -> s.Point | None:
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
    title, explanation, line = src.text(m, "title"), src.text(m, "explanation"), src.line_of(m, "id")
    return s.Point(point_id, item_id, title, explanation, pitfalls, **refs, line=line)


def _fixed_id(state: LoadState, src: Source, m: YamlMap, kind: str, expected: tuple[str, ...]) -> str:
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


def _load_case_file(state: LoadState, rel: str) -> s.Case | None:
    """Read one case file; remember its stages so that modules can refer to them."""
    src = state.source(rel)
    case = _load_case(state, src) if src else None
    if case is None:
        state.bad_cases.add(Path(rel).stem)
    return case


def _load_case(state: LoadState, src: Source) -> s.Case | None:
    """Split front matter from body, read both and check every reference."""
    split = src.front_matter()
    node = src.compose(split[0]) if split else None
    label = f"事例 {peek_id(node) or src.stem}" if node else ""
    m = src.mapping(node, label, ("id", "pattern", "title", "persona", "summary", "points")) if node else None
    if split is None or m is None:
        return None
    case_id = state.own_id(src, m, "事例")
    pattern = src.ref(m, "pattern", state.known["patterns"], "パターン")
    points = src.refs(m, "points", state.known["points"], "論点")
    if src.is_list(m, "points") and not src.items(m, "points", report=False):
        src.error(m.values["points"], f"{m.label}の points が空です（事例で強調する論点を書いてください）")
    persona = _load_persona(src, m)
    stages = _load_stages(state, src, split[1], split[2], m.label)
    state.case_stages[case_id] = {stage.id for stage in stages}
    return s.Case(
        case_id, pattern, src.text(m, "title"), persona, src.text(m, "summary"), points, stages, src.rel,
        persona_line=src.line_of(m, "persona"),
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


def _load_stages(state: LoadState, src: Source, first: int, lines: list[str], label: str) -> tuple[s.Stage, ...]:
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


def _stage(state: LoadState, src: Source, number: int, heading: str, body: list[str]) -> s.Stage | None:
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
    body_line = number + 1
    while body and not body[0].strip():
        body.pop(0)
        body_line += 1
    while body and not body[-1].strip():
        body.pop()
    if not body:
        src.error(number, f"ステージ {stage_id} に本文がありません")
    return s.Stage(stage_id, title, "\n".join(body), number, body_line)
