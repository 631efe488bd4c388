"""Imported content: releases, the framework, cases, modules, versioned questions, courses.

Files are the source of truth; these rows are what an import produced. String primary keys are the
stable content IDs (P01, case-01, m-case-01 ...). Nothing referred to by answers is ever deleted:
content that leaves the files gets ``retired_at``. A question whose wording changes gets a new
QuestionVersion; answers point at the version that was answered.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from trainer.extensions import db
from trainer.dates import utcnow
from trainer.models.types import UTCDateTime


class ContentRelease(db.Model):
    __tablename__ = "content_releases"

    id: Mapped[int] = mapped_column(primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class FrameworkEntry(db.Model):
    """The note, values, attitudes, caveats and patterns (small, read together)."""

    __tablename__ = "framework_entries"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # note, V1, A1, C1, PT01
    kind: Mapped[str] = mapped_column(String(16), index=True)  # note value attitude caveat pattern
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    sort: Mapped[int] = mapped_column(default=0)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Item(db.Model):
    __tablename__ = "items"

    id: Mapped[str] = mapped_column(String(8), primary_key=True)
    number: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)

    points: Mapped[list["Point"]] = relationship(back_populates="item", order_by="Point.sort")


class Point(db.Model):
    __tablename__ = "points"

    id: Mapped[str] = mapped_column(String(8), primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    explanation: Mapped[str] = mapped_column(Text)
    pitfalls: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)  # values/attitudes/caveats
    sort: Mapped[int] = mapped_column(default=0)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    item: Mapped[Item] = relationship(back_populates="points")


class Case(db.Model):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    pattern_id: Mapped[str] = mapped_column(String(16), index=True)
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text)
    persona: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    points: Mapped[list[str]] = mapped_column(JSON, default=list)
    content_hash: Mapped[str] = mapped_column(String(64))
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    stages: Mapped[list["Stage"]] = relationship(back_populates="case", order_by="Stage.sort")


class Stage(db.Model):
    __tablename__ = "stages"
    __table_args__ = (UniqueConstraint("case_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    html: Mapped[str] = mapped_column(Text)
    sort: Mapped[int] = mapped_column(default=0)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    case: Mapped[Case] = relationship(back_populates="stages")


class Module(db.Model):
    __tablename__ = "modules"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text)
    minutes: Mapped[int] = mapped_column(default=30)
    sort: Mapped[int] = mapped_column(default=0)
    content_hash: Mapped[str] = mapped_column(String(64))
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    case: Mapped[Case | None] = relationship()
    steps: Mapped[list["ModuleStep"]] = relationship(
        back_populates="module", order_by="ModuleStep.position", cascade="all, delete-orphan")


class ModuleStep(db.Model):
    """One step of a module: a stage (or intro text) and the keys of its questions, in order."""

    __tablename__ = "module_steps"
    __table_args__ = (UniqueConstraint("module_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[str] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    stage_key: Mapped[str | None] = mapped_column(String(64))
    intro_html: Mapped[str | None] = mapped_column(Text)
    question_keys: Mapped[list[str]] = mapped_column(JSON, default=list)

    module: Mapped[Module] = relationship(back_populates="steps")


class Question(db.Model):
    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    module_id: Mapped[str] = mapped_column(ForeignKey("modules.id"), index=True)
    type: Mapped[str] = mapped_column(String(16))
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("question_versions.id", use_alter=True, name="fk_questions_current_version_id"))
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    current_version: Mapped["QuestionVersion | None"] = relationship(foreign_keys=[current_version_id], post_update=True)


class QuestionVersion(db.Model):
    """One wording of a question. ``data`` holds prompt, choices (ratings, feedback), order ..."""

    __tablename__ = "question_versions"
    __table_args__ = (UniqueConstraint("question_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id"), index=True)
    version: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64))
    release_id: Mapped[int] = mapped_column(ForeignKey("content_releases.id"))
    type: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    question: Mapped[Question] = relationship(foreign_keys=[question_id])


class QuestionPoint(db.Model):
    """Which points a question version practises (for mastery aggregates in SQL)."""

    __tablename__ = "question_points"
    __table_args__ = (Index("ix_question_points_point_id", "point_id"),)

    version_id: Mapped[int] = mapped_column(ForeignKey("question_versions.id"), primary_key=True)
    point_id: Mapped[str] = mapped_column(ForeignKey("points.id"), primary_key=True)


class Course(db.Model):
    __tablename__ = "courses"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text)
    module_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    pass_score: Mapped[int | None]
    sort: Mapped[int] = mapped_column(default=0)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
