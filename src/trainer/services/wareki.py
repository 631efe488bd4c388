"""和暦 (Japanese era) dates: 令和7年2月1日, 令和元年5月1日, 平成31年4月30日."""
from __future__ import annotations

from datetime import date

#: (first day, era name), newest first.
ERAS = (
    (date(2019, 5, 1), "令和"),
    (date(1989, 1, 8), "平成"),
    (date(1926, 12, 25), "昭和"),
    (date(1912, 7, 30), "大正"),
    (date(1873, 1, 1), "明治"),
)


def to_wareki(day: date) -> str:
    """Format a Gregorian date in the Japanese era in force on that day (元年 for year 1)."""
    for start, name in ERAS:
        if day >= start:
            year = day.year - start.year + 1
            return f"{name}{'元' if year == 1 else year}年{day.month}月{day.day}日"
    raise ValueError("dates before 1873 (明治6年) are not supported")
