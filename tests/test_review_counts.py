"""The reviewer home's running totals (services/review_counts.py) count exactly what the direct
queries (services/figures.direct_*) count: random trainees, attempts, retakes and periods (Tokyo day
boundaries, since only, until only, both), and after every kind of change — before the refresh (the
page corrects the totals with the marked trainees) and after it."""
from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select, update

from tests.conftest import import_fixture_content
from trainer.dates import utcnow
from trainer.extensions import db
from trainer.models import Attempt, Module, ReviewDirty, Role, User, UserRole
from trainer.services import accounts, figures, orgs, review, review_counts
from trainer.services.review import JST


def _tokyo(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), JST)


@pytest.fixture
def world(app_ctx, tmp_path):
    """A prefecture with three municipalities (one with an office) and 40 random trainees."""
    from trainer.models import Organization

    import_fixture_content(tmp_path)
    pref = orgs.by_code("140007")
    units = []
    for n in range(3):
        unit = Organization(name=f"集計市{n}", code=f"99{n:04d}", kind="municipality", parent=pref,
                            jurisdiction_id=pref.id, programme=("center", "station", None)[n])
        db.session.add(unit)
        units.append(unit)
    db.session.flush()
    office = orgs.create_office(units[0], "集計窓口", "相談窓口")
    db.session.commit()
    rng = random.Random(15)
    today = utcnow().astimezone(JST).date()
    modules = [m.id for m in review.catalogue().modules]
    places = [u.id for u in units] + [office.id]
    people = []
    for i in range(40):
        user = accounts.create_user(login_id=f"rc{i:03d}", display_name=f"集計 {i}",
                                    organization=db.session.get(Organization, rng.choice(places)),
                                    password="Kx7-review-counts-1", roles=[Role.TRAINEE])
        registered = today - timedelta(days=rng.randrange(40, 60))
        user.created_at = _tokyo(registered, rng.randrange(24), rng.randrange(60))
        people.append(user)
        db.session.flush()
        for module_id in rng.sample(modules, rng.randrange(0, len(modules) + 1)):
            _attempts(rng, user, module_id, registered, today)
    db.session.commit()
    return {"scope": review.load_scope(pref.id), "units": units, "office": office, "people": people,
            "rng": rng, "today": today}


def _attempts(rng, user, module_id, registered, today, first_number=1):
    for number in range(first_number, first_number + rng.choice((1, 1, 2, 3))):
        day = registered + timedelta(days=rng.randrange(0, (today - registered).days + 1))
        started = _tokyo(day, rng.choice((0, 8, 15, 23)), rng.choice((0, 30, 59)))
        done = rng.random() < 0.7
        finished = started + timedelta(minutes=rng.choice((5, 50, 70))) if done else None  # may cross midnight
        db.session.add(Attempt(user_id=user.id, module_id=module_id, number=number, started_at=started,
                               last_activity_at=finished or started + timedelta(minutes=3), completed_at=finished,
                               score=rng.choice((40.0, 60.0, 70.0, 100.0)) if done else None))


def _periods(today: date) -> list[review.Filters]:
    days = [today - timedelta(days=d) for d in (0, 1, 7, 20, 45, 59, 70)]
    out = [review.Filters()]
    for a in days:
        out += [review.Filters(since=a), review.Filters(until=a)]
        for b in days:
            if b >= a:
                out.append(review.Filters(since=a, until=b))
    return out


def _normal(by_org: dict, courses, org_ids) -> dict:
    out = {}
    for org_id in org_ids:
        f = by_org.get(org_id)
        if f is None:
            continue
        values = (f.registered, f.started, tuple(f.completed.get(c.id, 0) for c in courses), f.last_activity)
        if values != (0, 0, (0,) * len(courses), None):
            out[org_id] = values
    return out


def assert_same(scope, *, totals_used: bool = True, many: bool = True) -> int:
    """Every period, with and without a course, whole scope and one municipality: totals == direct."""
    cat = review.catalogue()
    today = utcnow().astimezone(JST).date()
    checked = 0
    filters_list = _periods(today) if many else _periods(today)[:6]
    courses_filters = [None] + [c.id for c in cat.courses]
    for base in filters_list:
        for course_id in courses_filters:
            for unit in [None, scope.units[1].id]:
                filters = review.Filters(since=base.since, until=base.until, course_id=course_id, municipality_id=unit)
                courses, modules = cat.selected(filters)
                module_ids = [m.id for m in modules]
                ids = scope.org_ids(filters)
                counted = review_counts.counted(ids, filters, cat, figures._wanted(filters, cat, courses, module_ids))
                assert (counted is not None) == totals_used
                fast = figures.org_figures(scope, filters, cat, courses, module_ids)
                slow = figures.direct_org_figures(scope, filters, cat, courses, module_ids)
                assert _normal(fast, courses, ids) == _normal(slow, courses, ids), filters
                fast_m = {k: v for k, v in figures.module_counts(scope, filters, cat, module_ids).items() if any(v)}
                slow_m = {k: v for k, v in figures.direct_module_counts(scope, filters, cat, module_ids).items() if any(v)}
                assert fast_m == slow_m, filters
                checked += 1
    return checked


def _refresh():
    done = review_counts.refresh(review.catalogue())
    db.session.commit()
    return done


def test_not_built_counts_directly_then_totals_agree(world):
    scope = world["scope"]
    assert_same(scope, totals_used=False, many=False)
    assert _refresh() >= 40  # first refresh: everyone
    assert review_counts.pending() == 0
    assert assert_same(scope) > 100
    assert _refresh() == 0  # nothing marked


def test_changes_are_exact_before_and_after_the_refresh(world):
    scope, rng, today, people = world["scope"], world["rng"], world["today"], world["people"]
    _refresh()
    modules = [m.id for m in review.catalogue().modules]
    # new attempts and retakes (one of them passing today), an answer's activity on an open attempt
    for user in people[:6]:
        _attempts(rng, user, rng.choice(modules), today - timedelta(days=3), today, first_number=10)
    open_attempt = db.session.scalar(select(Attempt).where(Attempt.completed_at.is_(None)).limit(1))
    open_attempt.last_activity_at = utcnow()
    db.session.commit()
    assert review_counts.pending() >= 6
    assert_same(scope, many=False)  # marked: corrected on the page
    _refresh()
    assert review_counts.pending() == 0
    assert_same(scope)

    # a deactivated account, a trainee moved to another municipality, a role taken away, a registration
    # day moved after the first attempts (counted from review_people on every page), an attempt deleted
    latest = max(people, key=lambda u: max((a.last_activity_at for a in db.session.scalars(
        select(Attempt).where(Attempt.user_id == u.id))), default=u.created_at))
    latest.active = False
    people[7].organization_id = world["units"][2].id
    db.session.execute(UserRole.__table__.delete().where(UserRole.user_id == people[8].id))
    people[9].created_at = utcnow() - timedelta(days=2)
    victim = db.session.scalar(select(Attempt).where(Attempt.user_id == people[10].id).limit(1))
    if victim is not None:
        db.session.delete(victim)
    db.session.commit()
    marked = set(db.session.scalars(select(ReviewDirty.user_id)))
    assert {latest.id, people[7].id, people[8].id, people[9].id} <= marked
    assert_same(scope, many=False)
    _refresh()
    assert_same(scope)
    assert db.session.scalar(select(review_counts.ReviewPerson.odd).where(
        review_counts.ReviewPerson.user_id == people[9].id)) in (True, None)


def test_a_bulk_update_marks_too_and_a_retired_module_rebuilds(world):
    scope = world["scope"]
    _refresh()
    # a bulk UPDATE that no ORM event sees: the triggers mark the trainees all the same
    db.session.execute(update(Attempt).where(Attempt.completed_at.is_not(None)).values(score=100.0))
    db.session.commit()
    assert review_counts.pending() > 0
    assert_same(scope, many=False)
    _refresh()
    assert_same(scope, many=False)
    # another catalogue: the totals no longer fit, pages count directly until they are rebuilt
    module = db.session.scalar(select(Module).where(Module.retired_at.is_(None)).limit(1))
    module.retired_at = utcnow()
    db.session.commit()
    assert_same(scope, totals_used=False, many=False)
    assert _refresh() >= 40
    assert_same(scope)


def test_the_pages_show_the_same_whichever_way_they_count(app, world, client, login):
    """Home, drill-down and summary export: byte for byte the same from the totals as directly."""
    reviewer = accounts.create_user(login_id="rc-reviewer", display_name="閲覧", organization=orgs.by_code("140007"),
                                    password="Kx7-review-counts-1", roles=[Role.REVIEWER],
                                    reviewer_scope=orgs.by_code("140007"))
    db.session.commit()
    login(reviewer, "Kx7-review-counts-1")
    today = world["today"]
    paths = ["/review/", f"/review/?since={today - timedelta(days=20)}",
             f"/review/?until={today - timedelta(days=7)}&sort=started",
             f"/review/?since={today - timedelta(days=45)}&until={today}&programme=center",
             f"/review/municipalities/{world['units'][0].id}",
             f"/review/exports/summary.csv?since={today - timedelta(days=20)}",
             f"/review/exports/modules.csv?until={today - timedelta(days=1)}"]

    def pages():
        out = []
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, path
            body = response.get_data()
            if "exports" in path:
                body = body.split(b"\r\n", 3)[-1]  # after the conditions' time of output
            out.append(body)
        return out

    direct = pages()
    _refresh()
    assert pages() == direct


def test_the_refreshers_round_is_one_statement_when_nothing_is_marked(world):
    """review_counts.refresh_pending (mastery_refresh's round): the first round builds the totals, an idle
    round runs one statement (no catalogue, no lock), a mark is applied exactly, a new content release
    reads the catalogue again, and a trainee whose contribution did not change writes nothing."""
    from sqlalchemy import event

    from trainer.models import ContentRelease, ReviewCount

    scope, rng, today, people = world["scope"], world["rng"], world["today"], world["people"]
    assert review_counts.refresh_pending() >= 40
    db.session.commit()
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        assert review_counts.refresh_pending() == 0
        assert len(seen) == 1, seen
        db.session.commit()
        # an answer's activity and a retake: applied by the next round, exact after it
        modules = [m.id for m in review.catalogue().modules]
        _attempts(rng, people[3], rng.choice(modules), today - timedelta(days=2), today, first_number=20)
        db.session.commit()
        assert review_counts.refresh_pending(limit=50) >= 1
        db.session.commit()
        assert review_counts.pending() == 0
        # a new content release with the same catalogue: read again, nothing to rebuild
        db.session.add(ContentRelease(content_hash="r" * 64, summary={}))
        db.session.commit()
        seen.clear()
        assert review_counts.refresh_pending() == 0
        assert len(seen) > 1
        seen.clear()
        assert review_counts.refresh_pending() == 0
        assert len(seen) == 1, seen
        # marked (the trigger sees a write of ``active``), but the contribution is the same: no figure is
        # written again
        before = db.session.execute(select(ReviewCount.__table__).order_by(*ReviewCount.__table__.primary_key)).all()
        db.session.execute(update(User).where(User.id == people[4].id).values(active=User.active))
        db.session.commit()
        assert review_counts.pending() == 1
        seen.clear()
        assert review_counts.refresh_pending() == 1
        db.session.commit()
        assert not [s for s in seen if "review_counts" in s and s.lstrip().upper().startswith(("INSERT", "DELETE"))]
        assert db.session.execute(select(ReviewCount.__table__).order_by(*ReviewCount.__table__.primary_key)).all() == before
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert_same(scope)
