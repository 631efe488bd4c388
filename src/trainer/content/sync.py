"""Validated content -> database, idempotently, keyed by stable IDs plus content hashes.

Flushes but never commits: the CLI command commits once. A second import of unchanged files changes
nothing and creates no release. Rows that leave the files are retired (``retired_at``), never
deleted, so answers keep their question versions.
"""
from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from trainer.content import schema as s
from trainer.content.render import render_markdown
from trainer.extensions import db
from trainer.models import (
    Case, ContentRelease, Course, FrameworkEntry, Item, Module, ModuleStep, Point, Question, QuestionPoint,
    QuestionVersion, Stage,
)
from trainer.dates import utcnow

KIND_LABELS = {
    "framework": "枠組み（注記・価値・姿勢・留意点・パターン）", "item": "項目", "point": "支援のポイント",
    "case": "事例", "stage": "場面", "module": "モジュール", "question": "問題", "course": "コース",
}


@dataclass
class SyncReport:
    release: ContentRelease | None = None
    counts: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))

    def note(self, kind: str, outcome: str) -> None:
        self.counts[kind][outcome] += 1

    @property
    def changed(self) -> bool:
        return any(c.get(k) for c in self.counts.values() for k in ("created", "updated", "retired", "new_version"))

    def lines(self) -> list[str]:
        out = []
        for kind, label in KIND_LABELS.items():
            c = self.counts.get(kind, {})
            parts = [f"{word} {c[key]}" for key, word in (("created", "新規"), ("updated", "更新"),
                     ("new_version", "新しい版"), ("retired", "廃止")) if c.get(key)]
            if parts:
                out.append(f"{label}: " + "、".join(parts))
        return out


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def _apply(row: Any, values: dict[str, Any]) -> bool:
    """Set attributes that differ (and un-retire); True when anything changed."""
    changed = False
    for name, value in {**values, "retired_at": None}.items():
        if hasattr(row, name) and getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def _upsert(model: type, key: Any, values: dict[str, Any], report: SyncReport, kind: str) -> Any:
    row = db.session.get(model, key)
    if row is None:
        row = model(id=key, **values)
        db.session.add(row)
        report.note(kind, "created")
    elif _apply(row, values):
        report.note(kind, "updated")
    return row


def _retire(model: type, keep: set, report: SyncReport, kind: str, *where) -> None:
    stmt = select(model).where(model.retired_at.is_(None), *where)
    for row in db.session.scalars(stmt):
        if row.id not in keep:
            row.retired_at = utcnow()
            report.note(kind, "retired")


def import_content(content: s.Content, content_hash: str) -> SyncReport:
    """Bring the database in line with validated content; returns what changed."""
    report = SyncReport()
    _sync_framework(content.framework, report)
    _sync_cases(content.cases, report)
    db.session.flush()
    _sync_modules(content.modules, report, content_hash)
    _sync_courses(content.courses, report)
    if report.changed and report.release is None:
        report.release = _new_release(content_hash)
    if report.release is not None:
        report.release.summary = {k: dict(v) for k, v in report.counts.items()}
    db.session.flush()
    return report


def _new_release(content_hash: str) -> ContentRelease:
    release = ContentRelease(content_hash=content_hash)
    db.session.add(release)
    db.session.flush()
    return release


def _sync_framework(fw: s.Framework, report: SyncReport) -> None:
    entries = [("note", "note", "注記", fw.note)]
    entries += [(v.id, "value", v.title, v.explanation) for v in fw.values]
    entries += [(a.id, "attitude", a.title, a.explanation) for a in fw.attitudes]
    entries += [(c.id, "caveat", c.title, c.explanation) for c in fw.caveats]
    entries += [(p.id, "pattern", p.title, p.description) for p in fw.patterns]
    for sort, (key, kind, title, body) in enumerate(entries):
        _upsert(FrameworkEntry, key, {"kind": kind, "title": title, "body": body, "sort": sort}, report, "framework")
    _retire(FrameworkEntry, {e[0] for e in entries}, report, "framework")
    sort = 0
    for item in fw.items:
        row = db.session.get(Item, item.id)
        values = {"number": item.number, "title": item.title, "summary": item.summary}
        if row is None:
            db.session.add(Item(id=item.id, **values))
            report.note("item", "created")
        elif any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            report.note("item", "updated")
        for point in item.points:
            sort += 1
            tags = {"values": list(point.values), "attitudes": list(point.attitudes), "caveats": list(point.caveats)}
            _upsert(Point, point.id, {"item_id": item.id, "title": point.title, "explanation": point.explanation,
                                      "pitfalls": list(point.pitfalls), "tags": tags, "sort": sort}, report, "point")
    db.session.flush()
    _retire(Point, {p.id for p in fw.points()}, report, "point")


def _sync_cases(cases: tuple[s.Case, ...], report: SyncReport) -> None:
    for case in cases:
        persona = {k: getattr(case.persona, k) for k in ("age_band", "sex", "household", "duration",
                                                        "first_contact", "first_place", "setting")}
        stages = [(st.id, st.title, st.markdown) for st in case.stages]
        values = {"pattern_id": case.pattern, "title": case.title, "summary": case.summary, "persona": persona,
                  "points": list(case.points), "content_hash": digest([persona, case.summary, case.title, stages])}
        _upsert(Case, case.id, values, report, "case")
        db.session.flush()
        _sync_stages(case, report)
    _retire(Case, {c.id for c in cases}, report, "case")


def _sync_stages(case: s.Case, report: SyncReport) -> None:
    existing = {st.key: st for st in db.session.scalars(select(Stage).where(Stage.case_id == case.id))}
    for sort, stage in enumerate(case.stages):
        values = {"title": stage.title, "html": render_markdown(stage.markdown), "sort": sort}
        row = existing.pop(stage.id, None)
        if row is None:
            db.session.add(Stage(case_id=case.id, key=stage.id, **values))
            report.note("stage", "created")
        elif _apply(row, values):
            report.note("stage", "updated")
    for row in existing.values():
        if row.retired_at is None:
            row.retired_at = utcnow()
            report.note("stage", "retired")


def _step_rows(module: s.Module) -> list[dict[str, Any]]:
    return [{"position": i, "stage_key": step.stage, "intro_html": render_markdown(step.intro) or None,
             "question_keys": [q.id for q in step.questions]} for i, step in enumerate(module.steps)]


def _sync_modules(modules: tuple[s.Module, ...], report: SyncReport, content_hash: str) -> None:
    for sort, module in enumerate(modules):
        steps = _step_rows(module)
        values = {"case_id": module.case, "title": module.title, "summary": module.summary,
                  "minutes": module.minutes, "sort": sort, "content_hash": digest(steps)}
        row = _upsert(Module, module.id, values, report, "module")
        _replace_steps(row, steps)
        for question in module.questions():
            _sync_question(question, module.id, report, content_hash)
    _retire(Module, {m.id for m in modules}, report, "module")
    keep = {q.id for m in modules for q in m.questions()}
    for row in db.session.scalars(select(Question).where(Question.retired_at.is_(None))):
        if row.key not in keep:
            row.retired_at = utcnow()
            report.note("question", "retired")


def _replace_steps(row: Module, steps: list[dict[str, Any]]) -> None:
    current = [{k: getattr(st, k) for k in ("position", "stage_key", "intro_html", "question_keys")} for st in row.steps]
    if current != steps:
        row.steps.clear()
        db.session.flush()  # deletes first: (module_id, position) is unique
        row.steps.extend(ModuleStep(**st) for st in steps)
    db.session.flush()


def question_data(q: s.Question) -> dict[str, Any]:
    """The stored body of a question version (rendered HTML included)."""
    return {
        "prompt": q.prompt, "prompt_html": render_markdown(q.prompt), "points": list(q.points),
        "choices": [{"id": c.id, "text": c.text, "rating": c.rating, "feedback": c.feedback,
                     "feedback_html": render_markdown(c.feedback)} for c in q.choices],
        "order": list(q.order), "guidance": q.guidance, "guidance_html": render_markdown(q.guidance),
        "phase": q.phase,
    }


def _sync_question(q: s.Question, module_id: str, report: SyncReport, content_hash: str) -> None:
    data = question_data(q)
    fingerprint = digest({"type": q.type, **data})
    row = db.session.scalar(select(Question).where(Question.key == q.id))
    if row is None:
        row = Question(key=q.id, module_id=module_id, type=q.type)
        db.session.add(row)
        db.session.flush()
        report.note("question", "created")
    elif (row.module_id, row.type, row.retired_at) != (module_id, q.type, None):
        row.module_id, row.type, row.retired_at = module_id, q.type, None
        report.note("question", "updated")
    current = row.current_version
    if current is not None and current.content_hash == fingerprint:
        return
    if report.release is None:
        report.release = _new_release(content_hash)
    number = (current.version + 1) if current is not None else 1
    version = QuestionVersion(question_id=row.id, version=number, content_hash=fingerprint,
                              release_id=report.release.id, type=q.type, data=data)
    db.session.add(version)
    db.session.flush()
    db.session.add_all(QuestionPoint(version_id=version.id, point_id=p) for p in dict.fromkeys(q.points))
    row.current_version = version
    if current is not None:
        report.note("question", "new_version")


def _sync_courses(courses: tuple[s.Course, ...], report: SyncReport) -> None:
    for sort, course in enumerate(courses):
        _upsert(Course, course.id, {"title": course.title, "summary": course.summary,
                                    "module_ids": list(course.modules), "pass_score": course.pass_score,
                                    "sort": sort}, report, "course")
    _retire(Course, {c.id for c in courses}, report, "course")
