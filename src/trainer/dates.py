"""The one seam for "now", and how times are shown.

Every piece of code that needs the current time asks :func:`utcnow` (or :func:`today_jst`), never
``datetime.now`` / ``time.time`` / the database's ``CURRENT_TIMESTAMP``. Tests move the clock for the
whole app at once (``time_machine.travel``, or ``faketime`` for a whole process) instead of patching
modules one by one. Times are stored in UTC and shown in Asia/Tokyo.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (also the callable default of every timestamp column)."""
    return datetime.now(timezone.utc)


def now_jst() -> datetime:
    """The current time in Asia/Tokyo (for file names, titles and "today" as people see it)."""
    return utcnow().astimezone(JST)


def today_jst() -> date:
    """Today's date in Japan."""
    return now_jst().date()


def epoch_seconds() -> int:
    """The current time as whole seconds since the epoch (session bookkeeping)."""
    return int(utcnow().timestamp())


def jst(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Format a UTC time in Asia/Tokyo ("" for None)."""
    if value is None:
        return ""
    return value.astimezone(JST).strftime(fmt)
