"""The imported framework's texts that pages show next to the points."""
from __future__ import annotations

from trainer.extensions import db
from trainer.models import FrameworkEntry


def honesty_note() -> str:
    """The note that the point wording was written for this training (shown wherever points are listed)."""
    entry = db.session.get(FrameworkEntry, "note")
    return entry.body if entry is not None and entry.retired_at is None else ""
