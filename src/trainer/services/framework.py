"""The imported framework's texts that pages show next to the points."""
from __future__ import annotations


def honesty_note() -> str:
    """The note that the point wording was written for this training (shown wherever points are
    listed): from the content cache of the current release, so listing points costs no query."""
    from trainer.services import content_views

    return content_views.current().note
