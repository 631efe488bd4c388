"""Fixtures for the content loader tests: a small valid tree copied into tmp_path, or a generated one.

framework.yaml (3 values, 4 attitudes, 6 caveats, 7 items, 50 points, 11 patterns) is generated
by ``framework_yaml()``; cases, quizzes and courses come from tests/content/fixtures/valid/.
Tests run with the working directory at tmp_path and load ``Path("content")``, so problems read
``content/<file>:<line>: <message>`` exactly as an editor would see them. ``gen`` writes the
larger generated tree of ``tests.content.gentree`` instead (for the audit and editorial rules).
"""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import pytest

from trainer.content.loader import Problem, load_content
from trainer.content.schema import Content

FIXTURES = Path(__file__).parent / "fixtures"
ITEM_RANGES = {"I1": (1, 9), "I2": (10, 16), "I3": (17, 24), "I4": (25, 31), "I5": (32, 38),
               "I6": (39, 45), "I7": (46, 50)}


@functools.cache
def framework_yaml() -> str:
    """A valid framework.yaml text with the fixed shape and placeholder wording."""
    lines = ["note: |", "  この教材は研修用に要約したものです。", "values:"]
    for key, prefix, count, text_key in (("values", "V", 3, "explanation"),
                                         ("attitudes", "A", 4, "explanation"),
                                         ("caveats", "C", 6, "explanation")):
        if key != "values":
            lines.append(f"{key}:")
        for n in range(1, count + 1):
            lines += [f"  - id: {prefix}{n}", f"    title: {key}{n}の名前", f"    {text_key}: {key}{n}の説明。"]
    lines.append("items:")
    for item_id, (first, last) in ITEM_RANGES.items():
        lines += [f"  - id: {item_id}", f"    title: 項目{item_id}", f"    summary: 項目{item_id}の要約。",
                  "    points:"]
        for n in range(first, last + 1):
            lines += [f"      - id: P{n:02d}", f"        title: 論点{n}の見出し",
                      f"        explanation: 論点{n}の説明。", "        pitfalls: [よくある落とし穴。]"]
            if n == 1:
                lines += ["        values: [V1]", "        attitudes: [A1, A2]", "        caveats: [C1]"]
    lines.append("patterns:")
    for n in range(1, 12):
        lines += [f"  - id: PT{n:02d}", f"    title: パターン{n}", f"    description: パターン{n}の説明。"]
    return "\n".join(lines) + "\n"


class ContentTree:
    """A writable copy of the valid fixture tree at ./content (cwd = tmp_path)."""

    root = Path("content")

    def read(self, rel: str) -> str:
        """Text of content/<rel>."""
        return (self.root / rel).read_text(encoding="utf-8")

    def write(self, rel: str, text: str) -> None:
        """Overwrite (or create) content/<rel>."""
        (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
        (self.root / rel).write_text(text, encoding="utf-8")

    def replace(self, rel: str, old: str, new: str) -> None:
        """Replace the single occurrence of ``old`` in content/<rel>."""
        text = self.read(rel)
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {rel}"
        self.write(rel, text.replace(old, new))

    def line_of(self, rel: str, needle: str, nth: int = 1) -> int:
        """1-based line number of the ``nth`` line of content/<rel> containing ``needle``."""
        hits = [n for n, line in enumerate(self.read(rel).split("\n"), 1) if needle in line]
        assert len(hits) >= nth, f"{needle!r} not found {nth} times in {rel}"
        return hits[nth - 1]

    def at(self, rel: str, needle: str, message: str, nth: int = 1) -> str:
        """The expected problem string for ``message`` at the line holding ``needle``."""
        return f"content/{rel}:{self.line_of(rel, needle, nth)}: {message}"

    def load(self) -> tuple[Content | None, list[Problem]]:
        """Run the loader on ./content."""
        return load_content(self.root)

    def content(self) -> Content:
        """Load and assert the tree is valid."""
        content, problems = self.load()
        assert problems == [], [str(p) for p in problems]
        assert content is not None
        return content

    def problems(self) -> list[str]:
        """Load and return the problems as strings (asserting that loading failed)."""
        content, problems = self.load()
        assert content is None
        return [str(problem) for problem in problems]


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ContentTree:
    """A fresh valid content tree at tmp_path/content, with cwd = tmp_path."""
    shutil.copytree(FIXTURES / "valid", tmp_path / "content")
    (tmp_path / "content" / "framework.yaml").write_text(framework_yaml(), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return ContentTree()


@pytest.fixture
def gen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Return ``make(plant=None)``: write a generated tree at tmp_path/content (cwd = tmp_path)."""
    from tests.content.gentree import write_tree

    monkeypatch.chdir(tmp_path)

    def make(plant: str | None = None) -> ContentTree:
        write_tree(Path("content"), plant)
        return ContentTree()

    return make


@pytest.fixture
def cli(app):
    """A CLI runner for the content commands (they need no database)."""
    return app.test_cli_runner()
