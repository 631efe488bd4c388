"""``LoadState``: what one ``load_content`` run has seen so far, shared by the per-file readers.

The readers in ``loader`` (framework, cases) and ``quizzes`` (modules, courses) record known IDs
here as they go, so that later files can check their references against earlier ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from yaml.nodes import Node

from trainer.content.yamlnodes import Problem, Source, YamlMap

__all__ = ["LoadState"]


@dataclass(slots=True)
class LoadState:
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

    def own_id(self, src: Source, m: YamlMap, kind: str) -> str:
        """Read a file's own slug ID: valid, equal to the file name and unique."""
        ident = src.slug(m, "id")
        if ident and ident != src.stem:
            src.error(m.values["id"], f"{kind}の id「{ident}」がファイル名 {Path(src.rel).name} と一致しません")
        self.register(src, m.values.get("id", m.node), kind, ident)
        return ident
