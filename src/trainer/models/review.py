"""The reviewer home's running totals (services/review_counts.py): per organization, Tokyo day and
figure, how many counted trainees it counts, kept beside the attempts so the home never reads them all.

``review_dirty`` holds the trainees whose figures changed since the last refresh; database triggers
(migration 0014) mark them in the same transaction as the change, whatever code path writes the
attempts, accounts or roles. ``review_people`` holds what each trainee contributes to the totals
(so a refresh can take the old contribution away); ``review_counts`` the totals themselves;
``review_state`` the catalogue they were built for and a version that every refresh increments.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from trainer.extensions import db
from trainer.models.types import UTCDateTime


class ReviewDirty(db.Model):
    """A trainee whose contribution to the totals may have changed (upsert, ``marks`` + 1; no foreign
    key: a deleted account must still be taken out of the totals)."""

    __tablename__ = "review_dirty"

    user_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    marks: Mapped[int] = mapped_column(default=1)


class ReviewPerson(db.Model):
    """What one counted trainee contributes: ``facts`` is a list of [kind, key, day ordinal] and
    ``lasts`` {selection: ISO timestamp}. ``odd``: an event before the account's registration day —
    such a trainee is counted from these rows on every page instead of from the totals."""

    __tablename__ = "review_people"
    __table_args__ = (Index("ix_review_people_odd_org", "odd", "org_id"),)

    user_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    org_id: Mapped[int] = mapped_column(index=True)
    created_day: Mapped[date] = mapped_column(Date)
    odd: Mapped[bool] = mapped_column(default=False)
    facts: Mapped[list[Any]] = mapped_column(JSON)
    lasts: Mapped[dict[str, Any]] = mapped_column(JSON)


class ReviewCount(db.Model):
    """Per organization, figure (kind, key) and Tokyo day: ``n`` trainees that day and ``cum`` through
    that day; for kind "last" the latest activity of the trainees registered that day and through it.
    Every (org, kind, key) also has a row on 9999-12-31 holding its total."""

    __tablename__ = "review_counts"

    org_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    n: Mapped[int] = mapped_column(default=0)
    cum: Mapped[int] = mapped_column(default=0)
    last_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cum_last: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReviewState(db.Model):
    """One row: the catalogue the totals were built for (None: not built yet, every page counts the
    direct way) and a version every refresh increments (a page that saw it change reads again)."""

    __tablename__ = "review_state"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(default=0)
