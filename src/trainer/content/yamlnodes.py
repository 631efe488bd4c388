"""Read YAML nodes with line numbers: ``Source`` (one content file) and ``YamlMap``.

Every check reports into a shared list of ``Problem`` (``file:line: message`` in Japanese, for
content editors). YAML is composed into nodes (safe loader; libyaml when present) so each message
names the line of the key, item or value at fault. Used by ``loader`` and ``quizzes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from trainer.content import schema as s

__all__ = ["Problem", "Source", "YamlMap", "peek_id", "spaced"]

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

    def line_of(self, m: YamlMap, key: str) -> int:
        """1-based line of ``key`` in ``m`` (0 when the key is absent)."""
        return _line(m.keys[key]) if key in m.keys else 0

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
