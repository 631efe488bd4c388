"""Limits of what people type, derived from the model columns in one place, so every entry path
(forms, roster import, CLI, walk-in registration) refuses the same values with the same Japanese
message instead of letting the database refuse them (PostgreSQL) or store them past the form's
limits (SQLite).
"""
from __future__ import annotations

import re

from trainer.models import Organization, User, Workshop

#: The largest value an INTEGER column (and so an id in a path or a query) can hold.
INT_MAX = 2**31 - 1
#: Control characters: never in a one-line value; in multi-line text only tab, LF and CR.
_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def length(column) -> int:
    """The maximum length of a String column (an instrumented attribute such as User.furigana)."""
    return column.property.columns[0].type.length


LOGIN_ID = length(User.login_id)
DISPLAY_NAME = length(User.display_name)
FURIGANA = length(User.furigana)
EMAIL = length(User.email)
ORG_NAME = length(Organization.name)
WORKSHOP_TITLE = length(Workshop.title)
VENUE = length(Workshop.venue)


def problem(value: str | None, column, label: str, *, multiline: bool = False) -> str | None:
    """Why ``value`` cannot be stored in ``column`` (control characters, too long), or None."""
    if not value:
        return None
    if (_TEXT_CONTROL if multiline else _LINE_CONTROL).search(value):
        return f"{label}に使えない文字（制御文字）が含まれています。"
    limit = length(column)
    if len(value) > limit:
        return f"{label}は{limit}文字以内にしてください（いま{len(value)}文字です）。"
    return None


def int_arg(value: str) -> int:
    """``type=`` for request.args.get: an integer an INTEGER column can hold (ValueError otherwise,
    which makes werkzeug return the default)."""
    number = int(value)
    if not -INT_MAX - 1 <= number <= INT_MAX:
        raise ValueError("out of range")
    return number
