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


#: The days a person may type in a form or a filter: far enough either way for any real record, and
#: clear of datetime's own limits (9999-12-31 + 1 day, or 0001-01-01 in Japan converted to UTC, overflow).
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)
DAY_RANGE_TEXT = f"{FIRST_DAY.isoformat()}から{LAST_DAY.isoformat()}まで"


def day_in_range(day: date) -> bool:
    return FIRST_DAY <= day <= LAST_DAY


def jst(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Format a UTC time in Asia/Tokyo ("" for None)."""
    if value is None:
        return ""
    return value.astimezone(JST).strftime(fmt)
