"""Times are stored in UTC and shown in Asia/Tokyo."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")


def jst(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Format a UTC time in Asia/Tokyo ("" for None)."""
    if value is None:
        return ""
    return value.astimezone(JST).strftime(fmt)
