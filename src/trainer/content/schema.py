"""Frozen dataclasses for validated training content (see docs/content-format.md).

Instances are only built by ``trainer.content.loader`` after validation, so code that receives a
``Content`` may trust every reference in it (point IDs, stage IDs, module IDs) to resolve.
All collections are tuples; IDs are plain strings and stay stable forever.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")  # case, stage, module, question, choice, course
ID_HINT = "英小文字・数字・ハイフンだけを使い、先頭は英小文字か数字にしてください"
QUESTION_TYPES: tuple[str, ...] = ("single", "multiple", "ordering", "reflection", "self_rating")
SCORED_TYPES: tuple[str, ...] = ("single", "multiple", "ordering")
CHOICE_TYPES: tuple[str, ...] = ("single", "multiple", "ordering")
RATINGS: tuple[str, ...] = ("best", "acceptable", "caution")
RATING_LABELS: dict[str, str] = {"best": "最適", "acceptable": "許容", "caution": "要注意"}
QUESTION_TYPE_LABELS: dict[str, str] = {
    "single": "単一選択",
    "multiple": "複数選択",
    "ordering": "並べ替え",
    "reflection": "振り返り",
    "self_rating": "自己評価",
}
PHASES: tuple[str, ...] = ("before", "after")
AGE_BANDS: tuple[str, ...] = ("10代", "20代", "30代", "40代", "50代", "60代", "70代")
SEXES: tuple[str, ...] = ("男性", "女性", "記載なし")
SETTINGS: tuple[str, ...] = ("都市部", "地方")

# Fixed framework shape: item ID -> (first point number, last point number).
ITEM_POINT_RANGES: dict[str, tuple[int, int]] = {
    "I1": (1, 9),
    "I2": (10, 16),
    "I3": (17, 24),
    "I4": (25, 31),
    "I5": (32, 38),
    "I6": (39, 45),
    "I7": (46, 50),
}
VALUE_COUNT, ATTITUDE_COUNT, CAVEAT_COUNT = 3, 4, 6
ITEM_COUNT, POINT_COUNT, PATTERN_COUNT = 7, 50, 11


@dataclass(frozen=True, slots=True)
class Value:
    """One of the three values (V1 人間観, V2 社会観, V3 支援観)."""

    id: str
    title: str
    explanation: str


@dataclass(frozen=True, slots=True)
class Attitude:
    """One of the four attitudes (A1..A4)."""

    id: str
    title: str
    explanation: str


@dataclass(frozen=True, slots=True)
class Caveat:
    """One of the six caveats (C1..C6)."""

    id: str
    title: str
    explanation: str


@dataclass(frozen=True, slots=True)
class Point:
    """A practice point (P01..P50) belonging to one item; references hold IDs only."""

    id: str
    item_id: str
    title: str
    explanation: str
    pitfalls: tuple[str, ...]
    values: tuple[str, ...] = ()
    attitudes: tuple[str, ...] = ()
    caveats: tuple[str, ...] = ()
    line: int = field(default=0, compare=False)  # 1-based line of its id in framework.yaml


@dataclass(frozen=True, slots=True)
class Item:
    """One of the seven items (I1..I7); ``number`` is 1-7."""

    id: str
    number: int
    title: str
    summary: str
    points: tuple[Point, ...]


@dataclass(frozen=True, slots=True)
class Pattern:
    """One of the eleven case patterns (PT01..PT11)."""

    id: str
    title: str
    description: str


@dataclass(frozen=True, slots=True)
class Persona:
    """Who the case is about; ``age_band``, ``sex`` and ``setting`` are enum-checked."""

    age_band: str
    sex: str
    household: str
    duration: str
    first_contact: str
    first_place: str
    setting: str


@dataclass(frozen=True, slots=True)
class Stage:
    """A ``## Title {#id}`` section of a case; ``markdown`` is raw (not rendered or sanitized).

    ``line`` is the heading's 1-based line, ``body_line`` the line where ``markdown`` begins.
    """

    id: str
    title: str
    markdown: str
    line: int
    body_line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Case:
    """A case narrative; ``source`` is the file path relative to the content root.

    ``persona_line`` is the 1-based line of the ``persona:`` key (for editorial messages).
    """

    id: str
    pattern: str
    title: str
    persona: Persona
    summary: str
    points: tuple[str, ...]
    stages: tuple[Stage, ...]
    source: str
    persona_line: int = field(default=0, compare=False)

    def stage(self, stage_id: str) -> Stage:
        """Return the stage with ``stage_id`` (KeyError if absent)."""
        for stage in self.stages:
            if stage.id == stage_id:
                return stage
        raise KeyError(stage_id)


@dataclass(frozen=True, slots=True)
class Choice:
    """An answer option; ``rating`` is None for ordering questions.

    ``feedback_line`` is the 1-based line of the ``feedback:`` key (for editorial messages).
    """

    id: str
    text: str
    rating: str | None
    feedback: str
    feedback_line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Question:
    """A question of any type in ``QUESTION_TYPES``; ``order`` is set for ordering only.

    ``line`` is the 1-based line where the question starts, ``guidance_line`` that of ``guidance:``.
    """

    id: str
    type: str
    points: tuple[str, ...]
    prompt: str
    choices: tuple[Choice, ...] = ()
    order: tuple[str, ...] = ()
    guidance: str | None = None
    phase: str | None = None
    source: str = ""
    line: int = 0
    guidance_line: int = field(default=0, compare=False)

    @property
    def scored(self) -> bool:
        """True for single, multiple and ordering questions."""
        return self.type in SCORED_TYPES

    def choice(self, choice_id: str) -> Choice:
        """Return the choice with ``choice_id`` (KeyError if absent)."""
        for choice in self.choices:
            if choice.id == choice_id:
                return choice
        raise KeyError(choice_id)


@dataclass(frozen=True, slots=True)
class Step:
    """A step of a module: a case stage and/or intro text, then questions."""

    stage: str | None
    intro: str | None
    questions: tuple[Question, ...]


@dataclass(frozen=True, slots=True)
class Module:
    """A guided module (one quizzes/*.yaml file); ``case`` is None for case-less modules.

    ``case_line`` is the 1-based line of the ``case:`` key (0 without a case).
    """

    id: str
    case: str | None
    title: str
    summary: str
    minutes: int
    steps: tuple[Step, ...]
    source: str = ""
    case_line: int = field(default=0, compare=False)

    def questions(self) -> Iterator[Question]:
        """Yield the module's questions in step order."""
        for step in self.steps:
            yield from step.questions


@dataclass(frozen=True, slots=True)
class Course:
    """An ordered list of module IDs; ``pass_score`` is a percentage or None."""

    id: str
    title: str
    summary: str
    modules: tuple[str, ...]
    pass_score: int | None = None


@dataclass(frozen=True, slots=True)
class Framework:
    """The handbook framework: values, attitudes, caveats, items with points, patterns."""

    note: str
    values: tuple[Value, ...]
    attitudes: tuple[Attitude, ...]
    caveats: tuple[Caveat, ...]
    items: tuple[Item, ...]
    patterns: tuple[Pattern, ...]

    def points(self) -> tuple[Point, ...]:
        """All points in item order."""
        return tuple(point for item in self.items for point in item.points)


@dataclass(frozen=True, slots=True)
class Content:
    """Everything loaded from one content root, validated and cross-referenced."""

    framework: Framework
    cases: tuple[Case, ...]
    modules: tuple[Module, ...]
    courses: tuple[Course, ...] = ()

    def points_by_id(self) -> dict[str, Point]:
        """Map point ID -> Point, in item order."""
        return {point.id: point for point in self.framework.points()}

    def point(self, point_id: str) -> Point:
        """Return the point with ``point_id`` (KeyError if absent)."""
        return self.points_by_id()[point_id]

    def item(self, item_id: str) -> Item:
        """Return the item with ``item_id`` (KeyError if absent)."""
        return _find(self.framework.items, item_id)

    def pattern(self, pattern_id: str) -> Pattern:
        """Return the pattern with ``pattern_id`` (KeyError if absent)."""
        return _find(self.framework.patterns, pattern_id)

    def case(self, case_id: str) -> Case:
        """Return the case with ``case_id`` (KeyError if absent)."""
        return _find(self.cases, case_id)

    def module(self, module_id: str) -> Module:
        """Return the module with ``module_id`` (KeyError if absent)."""
        return _find(self.modules, module_id)

    def course(self, course_id: str) -> Course:
        """Return the course with ``course_id`` (KeyError if absent)."""
        return _find(self.courses, course_id)

    def questions(self) -> Iterator[tuple[Module, Question]]:
        """Yield (module, question) for every question, in module and step order."""
        for module in self.modules:
            for question in module.questions():
                yield module, question

    def question(self, question_id: str) -> Question:
        """Return the question with ``question_id`` (KeyError if absent)."""
        for _module, question in self.questions():
            if question.id == question_id:
                return question
        raise KeyError(question_id)


class _HasId(Protocol):
    """Anything with a read-only string ``id``."""

    @property
    def id(self) -> str:
        """The stable ID."""
        ...


_T = TypeVar("_T", bound=_HasId)


def _find(objects: tuple[_T, ...], object_id: str) -> _T:
    """Return the element of ``objects`` whose ``id`` is ``object_id`` (KeyError if absent)."""
    for obj in objects:
        if obj.id == object_id:
            return obj
    raise KeyError(object_id)
