"""The reviewer's filter form: query-string values checked against the reviewer's own scope.

An organization id that is not in the scope is treated like a guessed URL (404); a value that is
merely malformed (a date, an unknown course) is a form error shown in Japanese.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from werkzeug.datastructures import MultiDict

from trainer.dates import DAY_RANGE_TEXT, day_in_range
from trainer.services.figures import sort_keys
from trainer.services.review import PROGRAMME_CHOICES, Catalogue, Filters, Scope


class OutOfScope(LookupError):
    """A filter names an organization outside the reviewer's jurisdiction (or no organization)."""


@dataclass
class ParsedFilters:
    filters: Filters
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _day(value: str | None, label: str, errors: list[str]) -> date | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        errors.append(f"{label}は 2025-04-01 のように、年-月-日で入力してください。")
        return None
    if not day_in_range(day):
        errors.append(f"{label}は{DAY_RANGE_TEXT}の日付で入力してください。")
        return None
    return day


def _org_id(value: str | None, allowed: set[int]) -> int | None:
    if not value:
        return None
    if not value.isdigit() or int(value) not in allowed:
        raise OutOfScope(value)
    return int(value)


def parse_filters(args: MultiDict, scope: Scope, cat: Catalogue) -> ParsedFilters:
    """Filters from request.args; raises OutOfScope for an organization the reviewer may not see."""
    errors: list[str] = []
    since = _day(args.get("since"), "開始日", errors)
    until = _day(args.get("until"), "終了日", errors)
    if since and until and since > until:
        errors.append("終了日は、開始日と同じ日かそれより後の日にしてください。")
    municipality = _org_id(args.get("municipality"), {u.id for u in scope.units})
    organization = _org_id(args.get("organization"), set(scope.orgs))
    course = args.get("course") or None
    if course is not None and cat.course(course) is None:
        errors.append("コースは一覧から選んでください。")
        course = None
    programme = args.get("programme") or None
    if programme is not None and programme not in PROGRAMME_CHOICES:
        errors.append("実施事業は一覧から選んでください。")
        programme = None
    sort = args.get("sort") or "code"
    if sort not in sort_keys(cat.courses):
        sort = "code"
    filters = Filters(since, until, municipality, organization, course, programme, sort, args.get("dir") == "desc")
    return ParsedFilters(filters, errors)


def org_choices(scope: Scope) -> list[tuple[int, str]]:
    """Every organization of the scope for the 所属 select: each municipality, then its offices."""
    out = []
    for unit in scope.units:
        for org in scope.members(unit.id):
            out.append((org.id, org.name if org.id == unit.id else f"{unit.name} {org.name}"))
    return out


def describe(filters: Filters, scope: Scope, cat: Catalogue) -> str:
    """The filters in words, for the audit log and the page ("指定なし" when there are none)."""
    parts = []
    if filters.since or filters.until:
        parts.append(f"期間 {filters.since or ''}〜{filters.until or ''}")
    if filters.municipality_id is not None:
        parts.append(f"市区町村 {scope.orgs[filters.municipality_id].name}")
    if filters.organization_id is not None:
        parts.append(f"所属 {scope.orgs[filters.organization_id].name}")
    if filters.course_id:
        parts.append(f"コース {cat.course(filters.course_id).title}")
    if filters.programme:
        parts.append(f"実施事業 {PROGRAMME_CHOICES[filters.programme]}")
    return "、".join(parts) or "指定なし"
