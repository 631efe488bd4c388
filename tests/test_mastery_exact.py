"""The reviewers' mastery summaries are exact: an answer marks its trainee in its own transaction and
a refresh rebuilds the marked trainees, so an answer whose id was allocated before a later one
committed is still counted (the id watermark skipped it for good on PostgreSQL). The summaries are
rebuilt off the page view, by a thread per process or `trainer mastery refresh`."""
from __future__ import annotations

import os
import random
import threading
import time
from collections import defaultdict
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import delete, func, select

from tests.test_point_mastery import _computed, _play, _summary
from trainer import mastery_refresh
from trainer.dates import JST, utcnow
from trainer.extensions import db
from flask import current_app

from trainer.models import (Answer, Attempt, MasteryDirty, MasteryMember, MasteryMonth, MasteryOrg, MasterySpan, Module,
                            Organization, OrgKind, Point, PointMastery, QuestionPoint, Role, User)
from trainer.services import answering, mastery, mastery_report, mastery_spans, player, review


def _months() -> dict:
    rows = db.session.scalars(select(MasteryMonth))
    return {(r.user_id, r.month, r.point_id): (r.answered, round(r.score_sum, 6), r.repeats) for r in rows}


def _months_from_scratch() -> dict:
    """mastery_months as the definition says, computed here independently from every scored answer."""
    points = defaultdict(list)
    for vid, pid in db.session.execute(select(QuestionPoint.version_id, QuestionPoint.point_id)):
        points[vid].append(pid)
    last_in_month = {}
    for uid, qid, vid, score, created in db.session.execute(
            select(Answer.user_id, Answer.question_id, Answer.version_id, Answer.score, Answer.created_at)
            .where(Answer.score.is_not(None)).order_by(Answer.id)):
        month = created.astimezone(JST).date().replace(day=1)
        last_in_month[(uid, month, qid)] = (vid, score)
    out: dict = {}
    for (uid, month, qid), (vid, score) in last_in_month.items():
        earlier = any(u == uid and q == qid and m < month for (u, m, q) in last_in_month)
        for pid in [mastery.ALL_POINTS, *points[vid]]:
            n, total, repeats = out.get((uid, month, pid), (0, 0.0, 0))
            out[(uid, month, pid)] = (n + 1, total + score, repeats + (earlier and pid == mastery.ALL_POINTS))
    return {k: (n, round(total, 6), r) for k, (n, total, r) in out.items()}


def _all_trainees() -> list[int]:
    return list(db.session.scalars(select(User.id)))


# --- the interleaving that the watermark lost -------------------------------------------------

def _first_scored(module_id: str):
    module = db.session.get(Module, module_id)
    page = next(p for p in player.pages(module) if p.question is not None and p.question.type == "single")
    return player.version_data(page.question.id, None)


def _insert(conn, attempt: Attempt, version, token: str) -> int:
    """What answering.store does, on a connection of the test's choosing: insert + mark, no commit."""
    now = utcnow()
    choice = version.data["choices"][0]["id"]
    row = conn.execute(answering._INSERT[conn.dialect.name], {
        "attempt_id": attempt.id, "user_id": attempt.user_id, "question_id": version.question_id,
        "version_id": version.id, "token": token, "response": {"choice": choice}, "score": 1.0,
        "rating": "best", "hidden": False, "created_at": now}).first()
    mastery.mark_dirty(conn, attempt.user_id, now)
    return row.id


def test_an_answer_committed_after_a_later_one_is_still_counted(app_ctx, small_content, make_user):
    """T1 allocates an id, T2 commits a higher one, a refresh runs, T1 commits, a refresh runs: both
    are counted (on PostgreSQL: ids come from a sequence, so T1's id is lower yet commits later)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: two open write transactions cannot interleave")
    first, second = (db.session.merge(make_user(Role.TRAINEE)) for _ in range(2))
    module = db.session.get(Module, "m-case-01")
    attempts = [player.start(user, module) for user in (first, second)]
    db.session.commit()
    version = _first_scored("m-case-01")
    t1, t2 = db.engine.connect(), db.engine.connect()
    try:
        t1.begin()
        early = _insert(t1, attempts[0], version, "t1")  # allocated, not committed
        with t2.begin():
            late = _insert(t2, attempts[1], version, "t2")
        assert early < late
        assert mastery.refresh_summary() == 1  # only the committed trainee is marked so far
        db.session.commit()
        assert _summary([first.id]) == {} and _summary([second.id]) != {}
        t1.commit()
    finally:
        t1.close()
        t2.close()
    assert mastery.refresh_summary() == 1
    db.session.commit()
    ids = [first.id, second.id]
    assert _summary(ids) == _computed(ids) and _summary([first.id]) != {}
    assert mastery.pending() == 0


def test_a_mark_made_while_a_refresh_runs_is_not_cleared(app_ctx, small_content, make_user):
    """The refresh deletes only the marks it read: one made again meanwhile (marks + 1) stays."""
    user = db.session.merge(make_user(Role.TRAINEE))
    _play(user, "m-case-01", random.Random(1))
    seen = db.session.scalar(select(MasteryDirty.marks).where(MasteryDirty.user_id == user.id))
    assert seen >= 1
    mastery.mark_dirty(db.session.connection(), user.id, utcnow())  # another answer, after the read
    db.session.connection().execute(mastery._CONSUME, [{"uid": user.id, "seen": seen}])
    db.session.commit()
    assert mastery.pending() == 1
    mastery.refresh_summary()
    db.session.commit()
    assert mastery.pending() == 0


def test_the_answer_path_marks_the_trainee_in_its_transaction(client, login, make_user, small_content, app):
    user = make_user(Role.TRAINEE)
    login(user)
    client.post("/learn/modules/m-case-01/start")
    with app.app_context():
        attempt = db.session.scalar(select(Attempt).where(Attempt.user_id == user.id))
        module = db.session.get(Module, "m-case-01")
        page = next(p for p in player.pages(module) if p.question is not None and p.question.type == "single")
        choice = page.question.current_version.data["choices"][0]["id"]
        version = page.question.current_version_id
        attempt.position = page.index  # the page is within reach
        db.session.commit()
        assert mastery.pending() == 0
    response = client.post(f"/learn/attempts/{attempt.id}/pages/{page.index}/answer",
                           data={"choice": choice, "token": "tok-1", "version": version})
    assert response.status_code in (302, 303, 200)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Answer).where(Answer.user_id == user.id)) == 1
        assert db.session.scalar(select(MasteryDirty.marks).where(MasteryDirty.user_id == user.id)) == 1


# --- property: after random concurrent loads, the summaries equal a from-scratch computation ---

def _load(app, user_ids: list[int], seed: int, errors: list) -> None:
    rng = random.Random(seed)
    with app.app_context():
        try:
            for uid in user_ids:
                for module_id in rng.sample(["m-case-01", "m-values"], rng.randint(1, 2)):
                    _play(db.session.get(User, uid), module_id, rng, retake=rng.random() < 0.5)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            db.session.remove()


def _refresher(app, stop: threading.Event, errors: list) -> None:
    with app.app_context():
        while not stop.is_set():
            try:
                mastery.refresh_summary()
                db.session.commit()
            except Exception as exc:  # noqa: BLE001
                db.session.rollback()
                errors.append(exc)
            time.sleep(0.01)
        db.session.remove()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_summaries_equal_a_from_scratch_computation_after_random_concurrent_loads(app, small_content, make_user, seed):
    rng = random.Random(seed)
    users = [make_user(Role.TRAINEE).id for _ in range(rng.randint(4, 7))]
    errors: list = []
    # three phases in three months (relative to today): retakes in a later month are repeats
    for months_ago in (2, 1, 0):
        with time_machine.travel(utcnow() - timedelta(days=31 * months_ago), tick=True):
            stop = threading.Event()
            refresher = threading.Thread(target=_refresher, args=(app, stop, errors))
            refresher.start()
            loads = [threading.Thread(target=_load, args=(app, users[i::3], seed * 10 + i + months_ago, errors))
                     for i in range(3)]
            for thread in loads:
                thread.start()
            for thread in loads:
                thread.join()
            stop.set()
            refresher.join()
    assert errors == []
    with app.app_context():
        mastery.refresh_summary()
        db.session.commit()
        assert mastery.pending() == 0
        assert _summary(users) == _computed(users) != {}
        assert mastery_spans.stored() == mastery_spans.check() != {}  # kept through the concurrent refreshes
        months = _months()
        assert months == _months_from_scratch()
        assert len({m for _, m, _ in months}) >= 2
        # and a rebuild of everyone changes nothing
        db.session.execute(delete(PointMastery))
        db.session.execute(delete(MasteryMonth))
        assert mastery.refresh_summary(all_trainees=True) == len(users)
        db.session.commit()
        assert _summary(users) == _computed(users) and _months() == months


# --- off the page view ------------------------------------------------------------------------

@pytest.fixture
def background_refresh(app):
    """The production setting: a refresher thread, not the view, brings the summary up to date."""
    before = app.config["MASTERY_REFRESH_SECONDS"]
    app.config["MASTERY_REFRESH_SECONDS"] = 0.05
    yield
    mastery_refresh.stop()
    app.config["MASTERY_REFRESH_SECONDS"] = before


def test_the_page_view_does_not_refresh_and_the_thread_does(app, small_content, make_org, make_user, background_refresh):
    city = make_org("藤沢市", code="142051")
    people = [make_user(Role.TRAINEE, org=city) for _ in range(5)]
    with app.app_context():
        for person in people:
            _play(db.session.get(User, person.id), "m-case-01", random.Random(person.id))
        scope = review.load_scope(city.jurisdiction_id)
        assert mastery.pending() == 5
        stale = mastery_report.mastery_report(scope, review.Filters())
        assert stale.total.practised == 0 and mastery.pending() == 5  # the view read, did not rebuild
        db.session.remove()
    mastery_refresh.start(app)  # what the first request of a process does
    deadline = time.monotonic() + 10
    with app.app_context():
        while mastery.pending() and time.monotonic() < deadline:
            db.session.remove()
            time.sleep(0.05)
        fresh = mastery_report.mastery_report(scope, review.Filters())
        assert fresh.total.practised == 5
        assert mastery.pending() == 0


def test_refresh_once_survives_a_database_error(app, small_content, make_user, monkeypatch, caplog):
    def broken(**_):
        raise RuntimeError("connection reset")

    monkeypatch.setattr(mastery, "refresh_summary", broken)
    assert mastery_refresh.refresh_once(app) == 0
    assert "retried on the next round" in caplog.text


def test_cli_refresh_and_refresh_all(app, runner, small_content, make_user):
    user = make_user(Role.TRAINEE)
    with app.app_context():
        _play(db.session.get(User, user.id), "m-values", random.Random(5))
    result = runner.invoke(args=["mastery", "refresh"])
    assert result.exit_code == 0 and "1 人" in result.output
    with app.app_context():
        expected = _summary([user.id])
        assert expected == _computed([user.id]) != {}
        db.session.execute(delete(PointMastery))
        db.session.commit()
    result = runner.invoke(args=["mastery", "refresh"])
    assert "0 人" in result.output  # nothing marked
    result = runner.invoke(args=["mastery", "refresh", "--all"])
    assert result.exit_code == 0 and "1 人" in result.output
    with app.app_context():
        assert _summary([user.id]) == expected


# --- a period's map from the month summaries equals the one computed from the answers ----------

def _figures(groups: dict) -> dict:
    return {org: (g.practised, dict(g.secure), {k: v for k, v in g.answered.items() if v}) for org, g in groups.items()
            if g.practised or any(g.answered.values())}


@pytest.mark.parametrize("seed", [4, 5])
def test_period_map_from_months_equals_the_computation_from_answers(app, small_content, make_user, seed):
    rng = random.Random(seed)
    with time_machine.travel(utcnow() - timedelta(days=31 * 4)):  # registered before the first period
        users = [make_user(Role.TRAINEE).id for _ in range(6)]
    with app.app_context():
        for months_ago in (3, 2, 1, 0):  # retakes in later months make repeats
            with time_machine.travel(utcnow() - timedelta(days=31 * months_ago)):
                for uid in rng.sample(users, 4):
                    _play(db.session.get(User, uid), rng.choice(["m-case-01", "m-values"]), rng, retake=True)
        mastery.refresh_summary()
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(MasteryMonth).where(MasteryMonth.repeats > 0))
        months = sorted({m for m in db.session.scalars(select(MasteryMonth.month).distinct())})
        scope = review.load_scope(db.session.get(User, users[0]).organization.jurisdiction_id)
        last_day = lambda m: (m + timedelta(days=32)).replace(day=1) - timedelta(days=1)  # noqa: E731
        periods = [(a, last_day(b)) for i, a in enumerate(months) for b in months[i:]]
        periods += [(None, last_day(months[0])), (months[-1], None), (months[1], None)]
        for since, until in periods:
            filters = review.Filters(since=since, until=until)
            people = review.trainees(scope, filters).subquery("people")
            from_months = mastery_report._months_by_org(people, filters)
            from_answers = mastery_report._compute_mastery_by_org(people, filters)
            assert _figures(from_months) == _figures(from_answers), (since, until)
            assert _figures(from_answers), (since, until, months)


def test_a_serving_process_starts_its_refresher_once_and_a_testing_app_none(app, tmp_path):
    from trainer import create_app

    assert mastery_refresh._started == {}
    app.config["MASTERY_REFRESH_SECONDS"], before = 5.0, app.config["MASTERY_REFRESH_SECONDS"]
    try:
        app.test_client().get("/auth/login")
        assert mastery_refresh._started == {}  # TESTING: several apps share the test database
    finally:
        app.config["MASTERY_REFRESH_SECONDS"] = before
    serving = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'other.sqlite3'}", "SECRET_KEY": "s" * 40,
                          "MASTERY_REFRESH_SECONDS": 5.0})
    try:
        serving.test_client().get("/auth/login")
        thread = mastery_refresh._started[os.getpid()][0]
        serving.test_client().get("/auth/login")
        assert thread.is_alive() and len(mastery_refresh._started) == 1
    finally:
        mastery_refresh.stop()
    assert not thread.is_alive() and mastery_refresh._started == {}


def test_safe_cuts_from_counts_equal_the_cuts_from_who_practised(app, small_content, make_user):
    """When every month holds enough people, the cuts come from the counts alone: the same cuts."""
    with time_machine.travel(utcnow() - timedelta(days=31 * 4)):
        users = [make_user(Role.TRAINEE).id for _ in range(8)]
    rng = random.Random(9)
    with app.app_context():
        for months_ago in (3, 2, 1):
            with time_machine.travel(utcnow() - timedelta(days=31 * months_ago)):
                for uid in users[:3 + months_ago]:
                    _play(db.session.get(User, uid), "m-values", rng, retake=True)
        mastery.refresh_summary()
        db.session.commit()
        scope = review.load_scope(db.session.get(User, users[0]).organization.jurisdiction_id)
        counts = mastery_report._practising_per_month(scope, review.Filters())
        who = mastery_report._practising_by_month(scope, review.Filters())
        assert [(m, len(people)) for m, people in who] == counts and len(counts) >= 3
        for min_group in (1, 3, 4, 5, 6, 7):
            assert all(n >= 3 for _, n in counts)
            if all(n >= min_group for _, n in counts):
                assert mastery_report._safe_cuts(who, min_group) == [m for m, _ in counts[1:]]
            one_month = review.Filters(since=counts[1][0], until=counts[1][0] + timedelta(days=3))
            widened = mastery_report.safe_period(scope, one_month, min_group)
            assert (widened.since is None or widened.since <= counts[1][0]) and (widened.until is None or widened.until >= one_month.until)


def test_rebuilding_everyone_gives_the_rows_of_the_rebuild_per_trainee(app, small_content, make_user):
    """refresh --all (set-based on PostgreSQL) and the per-trainee rebuild agree to the row."""
    with time_machine.travel(utcnow() - timedelta(days=31 * 3)):
        users = [make_user(Role.TRAINEE).id for _ in range(4)]
    rng = random.Random(12)
    with app.app_context():
        for months_ago in (2, 1, 0):
            with time_machine.travel(utcnow() - timedelta(days=31 * months_ago)):
                for uid in users[:2 + months_ago]:
                    _play(db.session.get(User, uid), rng.choice(["m-case-01", "m-values"]), rng, retake=True)
        mastery.rebuild(users)
        db.session.commit()
        per_trainee = (_summary(users), _months())
        assert any(r for _, _, r in per_trainee[1].values())  # repeats are in the data
        assert mastery.refresh_summary(all_trainees=True) == len(users)
        db.session.commit()
        assert (_summary(users), _months()) == per_trainee


def test_many_repeaters_use_a_subquery_with_the_same_figures(app, small_content, make_user, monkeypatch):
    """Past 1,000 trainees with repeats the list becomes a subquery (bound parameters are limited)."""
    with time_machine.travel(utcnow() - timedelta(days=31 * 3)):
        users = [make_user(Role.TRAINEE).id for _ in range(4)]
    rng = random.Random(21)
    with app.app_context():
        for months_ago in (2, 1):
            with time_machine.travel(utcnow() - timedelta(days=31 * months_ago)):
                for uid in users:
                    _play(db.session.get(User, uid), "m-values", rng, retake=True)
        mastery.refresh_summary()
        db.session.commit()
        scope = review.load_scope(db.session.get(User, users[0]).organization.jurisdiction_id)
        months = sorted(set(db.session.scalars(select(MasteryMonth.month).distinct())))
        filters = review.Filters(since=months[0], until=(months[-1] + timedelta(days=32)).replace(day=1) - timedelta(days=1))
        people = review.trainees(scope, filters).subquery("people")
        short = _figures(mastery_report._months_by_org(people, filters))
        real_len = len
        monkeypatch.setattr(mastery_report, "len", lambda x: 5000 if isinstance(x, list) else real_len(x), raising=False)
        long = _figures(mastery_report._months_by_org(people, filters))
        assert short == long == _figures(mastery_report._compute_mastery_by_org(people, filters)) and short


# --- per-organization spans (mastery_orgs): the same figures as the computation from answers ----

def _all_periods(months: list) -> list:
    last_day = lambda m: (m + timedelta(days=32)).replace(day=1) - timedelta(days=1)  # noqa: E731
    periods = [(a, last_day(b)) for i, a in enumerate(months) for b in months[i:]]
    periods += [(None, None), (None, last_day(months[0])), (months[-1], None), (months[len(months) > 1], None)]
    before = (months[0] - timedelta(days=1)).replace(day=1)
    return periods + [(before, last_day(before)), (before, None)]  # a month nobody answered in


def _assert_spans_exact(scope) -> None:
    """mastery_orgs equals its definition (the members' rows), and for every whole-month period the
    figures read from it equal the computation from the answers (all time: from point_mastery), and
    the whole report (suppression, complements, safe periods) equals the one without spans."""
    assert mastery_spans.stored() == mastery_spans.check()
    assert mastery_spans.usable(scope.orgs)
    months = sorted(set(db.session.scalars(select(MasteryMonth.month).distinct())))
    app = current_app
    for since, until in _all_periods(months):
        filters = review.Filters(since=since, until=until)
        people = review.trainees(scope, filters).subquery("people")
        spans = mastery_report._spans_by_org(scope, filters, people)
        if since is None and until is None:
            expected = mastery_report._summary_by_org(people)
        else:
            expected = mastery_report._compute_mastery_by_org(people, filters)
        assert _figures(spans) == _figures(expected), (since, until)
        counts = mastery_report._spans_by_org(scope, filters, people, counts_only=True)
        assert {o: g.practised for o, g in counts.items() if g.practised} == \
            {o: g.practised for o, g in expected.items() if g.practised}, (since, until)
        for min_group in (1, 3):
            reports = []
            for use in (True, False):
                app.config["MASTERY_SPANS"] = use
                try:
                    report = mastery_report.mastery_report(scope, filters, min_group)
                finally:
                    app.config["MASTERY_SPANS"] = True
                reports.append((report.filters, _report_figures(report)))
            assert reports[0] == reports[1], (since, until, min_group)


def _report_figures(report) -> tuple:
    def one(group):
        return (group.org.id if group.org else None, group.practised, group.suppressed, group.complement,
                {k: v for k, v in group.secure.items() if v}, {k: v for k, v in group.answered.items() if v})
    return one(report.total), [one(u) for u in report.units]


def _refresh() -> None:
    mastery.refresh_summary()
    db.session.commit()


@pytest.mark.parametrize("seed", [31, 32])
def test_spans_equal_the_computation_from_answers_through_moves_retirements_and_new_months(
        app, small_content, make_org, make_user, seed):
    """Random answers with retakes over four months (repeats), trainees in a municipality, its office
    and a neighbour; between the months a trainee moves, one is deactivated, one joins, a module is
    retired. After each refresh every period's figures from mastery_orgs are exact; while a move is
    not yet refreshed, the map does not read mastery_orgs (and is exact all the same)."""
    rng = random.Random(seed)
    with time_machine.travel(utcnow() - timedelta(days=31 * 5)):
        city = make_org("藤沢市", code="142051")
        office = make_org("藤沢市 相談窓口", city, kind=OrgKind.OFFICE)
        other = make_org("茅ヶ崎市", code="142077")
        places = [city, city, city, office, office, other, other, other]
        users = [make_user(Role.TRAINEE, org=org).id for org in places]
    with app.app_context():
        scope = review.load_scope(db.session.get(Organization, city.id).jurisdiction_id)
        for months_ago in (3, 2, 1, 0):
            with time_machine.travel(utcnow() - timedelta(days=31 * months_ago)):
                for uid in rng.sample(users, 6):
                    _play(db.session.get(User, uid), rng.choice(["m-case-01", "m-values"]), rng, retake=True)
                _refresh()
                _assert_spans_exact(scope)
                if months_ago == 3:  # a trainee moves: not read from mastery_orgs until refreshed
                    db.session.get(User, users[0]).organization_id = other.id
                    db.session.commit()
                    assert not mastery_spans.usable(scope.orgs)
                    people = review.trainees(scope, review.Filters()).subquery("people")
                    assert not mastery_report._spans_usable(scope)
                    assert _figures(mastery_report._mastery_by_org(scope, review.Filters())) == \
                        _figures(mastery_report._summary_by_org(people))
                elif months_ago == 2:  # one leaves, one joins, a module is retired
                    db.session.get(User, users[5]).active = False
                    db.session.get(Module, "m-values").retired_at = utcnow()
                    db.session.commit()
                    users.append(make_user(Role.TRAINEE, org=office).id)
                    assert not mastery_spans.usable(scope.orgs)
                elif months_ago == 1:  # back to where they were, and a retired point
                    db.session.get(User, users[0]).organization_id = city.id
                    point = db.session.scalars(select(QuestionPoint.point_id)).first()
                    db.session.get(Point, point).retired_at = utcnow()
                    db.session.commit()
        _refresh()
        _assert_spans_exact(scope)
        assert db.session.scalar(select(func.count()).select_from(MasteryMonth).where(MasteryMonth.repeats > 0))
        assert len(mastery_spans.months()) >= 4


def test_spans_are_rebuilt_when_answers_arrive_in_an_earlier_month(app, small_content, make_org, make_user):
    """Answers dated before the last span month (an import, `refresh --all`): the tables are emptied and
    built again from every trainee's rows, in the same refresh; the figures stay exact."""
    with time_machine.travel(utcnow() - timedelta(days=31 * 4)):
        city = make_org("藤沢市", code="142051")
        users = [make_user(Role.TRAINEE, org=city).id for _ in range(4)]
    rng = random.Random(41)
    with app.app_context():
        scope = review.load_scope(db.session.get(Organization, city.id).jurisdiction_id)
        for months_ago in (1, 0):
            with time_machine.travel(utcnow() - timedelta(days=31 * months_ago)):
                for uid in users[:3]:
                    _play(db.session.get(User, uid), "m-values", rng, retake=True)
        _refresh()
        _assert_spans_exact(scope)
        with time_machine.travel(utcnow() - timedelta(days=31 * 3)):
            _play(db.session.get(User, users[3]), "m-case-01", rng)
        _refresh()
        assert mastery_spans.months()[0] < sorted(db.session.scalars(select(MasteryMonth.month).distinct()))[1]
        _assert_spans_exact(scope)
        db.session.execute(delete(MasteryMonth))
        db.session.commit()
        assert mastery.refresh_summary(all_trainees=True) == 4
        db.session.commit()
        _assert_spans_exact(scope)


def test_the_migration_leaves_spans_empty_and_the_first_refresh_builds_them(app, small_content, make_org, make_user):
    """Empty mastery_orgs / mastery_members (as the upgrade leaves them): the map is computed without
    them (exact), and the next refresh, with no trainee marked, builds them from mastery_months."""
    city = make_org("藤沢市", code="142051")
    users = [make_user(Role.TRAINEE, org=city).id for _ in range(3)]
    with app.app_context():
        for uid in users:
            _play(db.session.get(User, uid), "m-values", random.Random(uid))
        _refresh()
        scope = review.load_scope(db.session.get(Organization, city.id).jurisdiction_id)
        for model in (MasteryOrg, MasteryMember, MasterySpan):
            db.session.execute(delete(model))
        db.session.commit()
        assert not mastery_spans.usable(scope.orgs) and mastery.pending() == 0
        people = review.trainees(scope, review.Filters()).subquery("people")
        assert _figures(mastery_report._mastery_by_org(scope, review.Filters())) == \
            _figures(mastery_report._summary_by_org(people))  # read while empty: the old path
        assert mastery.refresh_summary() == 0  # nothing rebuilt, but the spans are built
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(MasteryMember)) == 3
        _assert_spans_exact(scope)


def test_a_trainee_with_answers_before_registration_keeps_the_map_off_spans(app, small_content, make_org, make_user):
    """Rows in a month before the trainee registered (bulk-loaded answers): a period ending before
    the registration must leave them out, which mastery_orgs cannot; so the scope is computed apart."""
    city = make_org("藤沢市", code="142051")
    users = [make_user(Role.TRAINEE, org=city).id for _ in range(2)]
    with app.app_context():
        with time_machine.travel(utcnow() - timedelta(days=62)):
            _play(db.session.get(User, users[0]), "m-values", random.Random(3))
        _play(db.session.get(User, users[1]), "m-values", random.Random(4))
        _refresh()
        scope = review.load_scope(db.session.get(Organization, city.id).jurisdiction_id)
        assert db.session.get(MasteryMember, users[0]).early
        assert not mastery_spans.usable(scope.orgs)
        assert mastery_spans.stored() == mastery_spans.check()
