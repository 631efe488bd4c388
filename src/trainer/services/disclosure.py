"""What may be shown about small groups: one rule for reviewers, national viewers and facilitators.

Point-level figures (the 50-point mastery map, self-ratings per point) describe what individual
people know. They are shown for a group only when at least ``min_group`` people are in it
(REVIEW_MIN_GROUP_SIZE in the Flask config, default 5), and never in a way that lets two permitted
figures be subtracted to describe fewer than ``min_group`` people:

- a group shown next to a total is hidden when the rest of that total is 1 .. min_group-1 people
  (the complement rule; :func:`safe_part`);
- among groups shown side by side under a total, the hidden ones are topped up with the smallest
  shown ones until together they are at least min_group (:func:`suppressed_groups`);
- periods for point-level figures are cut only where both sides hold enough people
  (services/mastery_report: safe period boundaries).

docs/security.md explains the rule with the attacks it stops; tests/test_disclosure.py tries them.
"""
from __future__ import annotations

from flask import current_app, has_app_context

#: Groups with fewer people than this get no point-level figures.
MIN_GROUP_SIZE = 5


def min_group() -> int:
    """The configured minimum group size (REVIEW_MIN_GROUP_SIZE, default 5)."""
    if has_app_context():
        return int(current_app.config.get("REVIEW_MIN_GROUP_SIZE", MIN_GROUP_SIZE))
    return MIN_GROUP_SIZE


def too_small(n: int, minimum: int | None = None) -> bool:
    """1 .. minimum-1 people: figures about them would describe individuals (0 describes no one)."""
    minimum = min_group() if minimum is None else minimum
    return 0 < n < minimum


def safe_part(part: int, whole: int, minimum: int | None = None) -> bool:
    """May figures of ``part`` people be shown beside figures of the ``whole`` that contains them?
    Both the part and the rest of the whole must be empty or at least ``minimum``."""
    return not too_small(part, minimum) and not too_small(whole - part, minimum)


def suppressed_groups(sizes: dict[int, int], minimum: int | None = None) -> set[int]:
    """Groups with 1..minimum-1 people, plus the smallest others when the hidden ones together are
    still fewer than minimum (otherwise the total minus the shown groups would reveal them)."""
    minimum = min_group() if minimum is None else minimum
    hidden = {g for g, n in sizes.items() if 0 < n < minimum}
    others = sorted((n, g) for g, n in sizes.items() if n >= minimum)
    while hidden and sum(sizes[g] for g in hidden) < minimum and others:
        hidden.add(others.pop(0)[1])
    return hidden
