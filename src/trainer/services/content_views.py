"""Imported content as read-only views, cached in each process per content release.

Content rows never change in place without a new release: an import that changes anything adds a
ContentRelease row (content/sync.py), a changed question gets a new QuestionVersion, and nothing is
deleted. So the modules, steps, questions, versions, cases, points, items, framework entries and
courses a page shows can be read once per release and kept as frozen views: the player, feedback,
module, progress and home pages then read no content from the database at all.

The cache key is the newest release id. The user loader reads it in its own statement (web.py puts
it in ``g``), so checking the cache costs nothing; without a user one small query asks for it.
Whatever writes content must go through content/sync.import_content (or add a ContentRelease).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import g
from sqlalchemy import func, select

from trainer.extensions import db
from trainer.models import (
    Case, ContentRelease, Course, FrameworkEntry, Item, Module, ModuleStep, Point, Question, QuestionVersion, Stage,
)

#: The newest release id as a scalar subquery (folded into the user loader's statement).
RELEASE_ID = select(func.coalesce(func.max(ContentRelease.id), 0)).scalar_subquery()


@dataclass(frozen=True, slots=True)
class StepView:
    id: int
    position: int
    stage_key: str | None
    intro_html: str | None
    question_keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QuestionView:
    id: int
    key: str
    module_id: str
    type: str
    current_version_id: int | None


@dataclass(frozen=True, slots=True)
class VersionView:
    id: int
    question_id: int
    version: int
    type: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StageView:
    key: str
    title: str
    html: str
    sort: int


@dataclass(frozen=True, slots=True)
class CaseView:
    id: str
    pattern_id: str
    title: str
    summary: str
    persona: dict[str, str]
    points: tuple[str, ...]
    stages: tuple[StageView, ...]


@dataclass(frozen=True, slots=True)
class ModuleView:
    id: str
    case_id: str | None
    title: str
    summary: str
    minutes: int
    sort: int
    content_hash: str
    case: CaseView | None
    steps: tuple[StepView, ...]
    retired_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PointView:
    id: str
    item_id: str
    title: str
    explanation: str
    pitfalls: tuple[str, ...]
    tags: dict[str, list[str]]
    sort: int
    retired_at: datetime | None


@dataclass(frozen=True, slots=True)
class ItemView:
    id: str
    number: int
    title: str
    summary: str
    points: tuple[PointView, ...]  # the active ones, in order


@dataclass(frozen=True, slots=True)
class EntryView:
    id: str
    kind: str
    title: str
    body: str
    sort: int


@dataclass(frozen=True, slots=True)
class CourseView:
    id: str
    title: str
    summary: str
    module_ids: tuple[str, ...]
    pass_score: int | None
    sort: int
    retired_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PageView:
    """One page of a module (the same shape as player.Page)."""

    index: int
    step: StepView
    question: QuestionView | None


@dataclass(frozen=True)
class Snapshot:
    """Everything immutable a trainee's pages show, for one content release."""

    release_id: int
    modules: dict[str, ModuleView]  # active modules
    module_list: tuple[ModuleView, ...]  # active modules in catalogue order
    pages: dict[str, tuple[PageView, ...]]
    versions: dict[int, VersionView]
    current_versions: dict[int, int | None]  # question id (retired ones too) -> its current version
    module_points: dict[str, list[str]]
    points: dict[str, PointView]
    items: tuple[ItemView, ...]
    entries: dict[str, EntryView]  # active framework entries
    courses: tuple[CourseView, ...]  # active courses in order
    marks: dict[str, int] = field(default_factory=dict)

    def module(self, module_id: str) -> ModuleView | None:
        return self.modules.get(module_id)

    def version_for(self, question: QuestionView, version_id: int | None) -> VersionView:
        """The version the trainee saw (if it is one of this question's), else the current one."""
        return self.version_of(question.id, version_id)

    def version_of(self, question_id: int, version_id: int | None) -> VersionView:
        seen = self.versions.get(version_id) if version_id else None
        if seen is not None and seen.question_id == question_id:
            return seen
        return self.versions[self.current_versions[question_id]]

    def points_of(self, ids) -> list[PointView]:
        return sorted((self.points[i] for i in ids if i in self.points), key=lambda p: p.sort)

    def question_count(self, module_id: str) -> int:
        return sum(1 for p in self.pages.get(module_id, ()) if p.question is not None)

    @property
    def note(self) -> str:
        entry = self.entries.get("note")
        return entry.body if entry is not None else ""


def release_id() -> int:
    """The newest content release: from the user loader's statement when it ran in this request, else
    asked (not kept in ``g``: a CLI command or a test may import content within one app context)."""
    found = g.get("content_release")
    return found if found is not None else db.session.scalar(select(RELEASE_ID))


def current() -> Snapshot:
    """The snapshot of the current release (built on the first request after an import)."""
    from trainer.services.player import app_cache  # the app's cache, emptied by player.clear_caches

    cache = app_cache("content_views")
    rid = release_id()
    snapshot = cache.get("snapshot")
    if snapshot is None or snapshot.release_id != rid:
        snapshot = build(rid)
        cache["snapshot"] = snapshot
    return snapshot


def build(rid: int) -> Snapshot:
    """Read every content table once (a handful of statements, whatever the size of the content)."""
    stages: dict[str, list[StageView]] = defaultdict(list)
    for s in db.session.scalars(select(Stage).where(Stage.retired_at.is_(None)).order_by(Stage.sort)):
        stages[s.case_id].append(StageView(s.key, s.title, s.html, s.sort))
    cases = {c.id: CaseView(c.id, c.pattern_id, c.title, c.summary, dict(c.persona or {}), tuple(c.points or ()),
                            tuple(stages.get(c.id, ())))
             for c in db.session.scalars(select(Case))}
    steps: dict[str, list[StepView]] = defaultdict(list)
    for st in db.session.scalars(select(ModuleStep).order_by(ModuleStep.module_id, ModuleStep.position)):
        steps[st.module_id].append(StepView(st.id, st.position, st.stage_key, st.intro_html, tuple(st.question_keys or ())))
    modules = tuple(
        ModuleView(m.id, m.case_id, m.title, m.summary, m.minutes, m.sort, m.content_hash,
                   cases.get(m.case_id) if m.case_id else None, tuple(steps.get(m.id, ())))
        for m in db.session.scalars(select(Module).where(Module.retired_at.is_(None)).order_by(Module.sort)))
    every_question = list(db.session.scalars(select(Question)))
    questions = {q.key: QuestionView(q.id, q.key, q.module_id, q.type, q.current_version_id)
                 for q in every_question if q.retired_at is None}
    versions = {v.id: VersionView(v.id, v.question_id, v.version, v.type, v.data)
                for v in db.session.scalars(select(QuestionVersion))}
    points = {p.id: PointView(p.id, p.item_id, p.title, p.explanation, tuple(p.pitfalls or ()), dict(p.tags or {}),
                              p.sort, p.retired_at)
              for p in db.session.scalars(select(Point).order_by(Point.sort))}
    items = tuple(ItemView(i.id, i.number, i.title, i.summary,
                           tuple(p for p in points.values() if p.item_id == i.id and p.retired_at is None))
                  for i in db.session.scalars(select(Item).order_by(Item.number)))
    entries = {e.id: EntryView(e.id, e.kind, e.title, e.body, e.sort)
               for e in db.session.scalars(select(FrameworkEntry).where(FrameworkEntry.retired_at.is_(None)))}
    courses = tuple(CourseView(c.id, c.title, c.summary, tuple(c.module_ids or ()), c.pass_score, c.sort)
                    for c in db.session.scalars(select(Course).where(Course.retired_at.is_(None)).order_by(Course.sort)))
    return Snapshot(
        release_id=rid, modules={m.id: m for m in modules}, module_list=modules,
        pages={m.id: _pages(m, questions) for m in modules}, versions=versions,
        current_versions={q.id: q.current_version_id for q in every_question},
        module_points=_module_points(), points=points, items=items, entries=entries, courses=courses,
        marks=_marks(courses))


def _pages(module: ModuleView, questions: dict[str, QuestionView]) -> tuple[PageView, ...]:
    """As player.pages: one page per (non-retired) question, and one for a step without questions."""
    out: list[PageView] = []
    for step in module.steps:
        for question in [questions[k] for k in step.question_keys if k in questions] or [None]:
            out.append(PageView(len(out), step, question))
    return tuple(out)


def _module_points() -> dict[str, list[str]]:
    from trainer.services.progress import module_points

    return dict(module_points())


def _marks(courses: tuple[CourseView, ...]) -> dict[str, int]:
    from trainer.services.completion import pass_marks

    return pass_marks(courses)
