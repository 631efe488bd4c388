"""Item statistics on constructed answer sets: every expected figure is worked out by hand here.

The question is case-01-q1 of the small fixture content (single choice: a 最適, b 要注意, c 許容).
Each trainee gets one finished first attempt at m-case-01 with a module score we choose, and one
answer to the question; retakes, other prefectures, workshop attempts and other days are added
where a filter must leave them out.
"""
from __future__ import annotations

import math
from datetime import timedelta

import pytest
from sqlalchemy import select

from trainer.dates import today_jst, utcnow
from trainer.extensions import db
from trainer.models import Answer, Attempt, Question, Role, Workshop
from trainer.services import accounts, grading, itemstats, orgs
from trainer.services.itemstats import StatFilters

RATING_OF = {"a": "best", "b": "caution", "c": "acceptable"}


class Builder:
    def __init__(self):
        self.n = 0
        self.question = db.session.scalar(select(Question).where(Question.key == "case-01-q1"))
        self.version = self.question.current_version
        self.kanagawa = orgs.by_code("140007")
        self.oita = orgs.by_code("440001")

    def answer(self, choice: str, module_score: float, *, org=None, number: int = 1, days_ago: int = 0,
               workshop_id: int | None = None, seconds: int = 60, user=None):
        self.n += 1
        if user is None:
            user = accounts.create_user(login_id=f"is-{self.n:04d}", display_name=f"受講者{self.n}",
                                        organization=org or self.kanagawa, password="", generated=True,
                                        password_hash="pbkdf2:sha256:1$x$x", roles=(Role.TRAINEE,))
        started = utcnow() - timedelta(days=days_ago, minutes=30)
        attempt = Attempt(user_id=user.id, module_id="m-case-01", number=number, started_at=started,
                          completed_at=started + timedelta(minutes=20), score=module_score,
                          workshop_id=workshop_id)
        db.session.add(attempt)
        db.session.flush()
        grade = grading.grade("single", self.version.data, {"choice": choice})
        db.session.add(Answer(attempt_id=attempt.id, user_id=user.id, question_id=self.question.id,
                              version_id=self.version.id, token=f"t{self.n}", response={"choice": choice},
                              score=grade.score, rating=grade.rating, created_at=started + timedelta(seconds=seconds)))
        db.session.flush()
        return user

    def many(self, count: int, choice: str, module_score: float, **kw):
        return [self.answer(choice, module_score, **kw) for _ in range(count)]

    def stats(self, filters: StatFilters = StatFilters()):
        (stats,) = [s for s in itemstats.question_stats([self.question], filters)]
        return stats


@pytest.fixture
def build(app_ctx, small_content):
    return Builder()


def test_wilson_interval_by_hand():
    # 5 of 10, z = 1.96: centre = (0.5 + 1.96²/20) / (1 + 1.96²/10) = 0.5; half-width
    # = 1.96·sqrt(0.025 + 1.96²/400) / 1.38416 = 0.26340
    z = itemstats.Z95
    half = z * math.sqrt(0.5 * 0.5 / 10 + z * z / 400) / (1 + z * z / 10)
    low, high = itemstats.wilson(5, 10)
    assert low == pytest.approx(0.5 - half) and high == pytest.approx(0.5 + half)
    assert low == pytest.approx(0.2366, abs=1e-4)
    assert itemstats.wilson(0, 10)[0] == 0.0 and itemstats.wilson(0, 0) is None
    assert itemstats.wilson(10, 10)[1] == pytest.approx(1.0)


def test_facility_and_discrimination_on_a_constructed_set(build):
    build.many(10, "a", 0.9)
    build.many(10, "a", 0.7)
    build.many(10, "c", 0.5)
    build.many(10, "b", 0.3)
    s = build.stats()
    assert s.n == 40 and s.shown
    assert s.facility.value == 20 / 40
    assert s.caution.value == 10 / 40
    # point-biserial by hand: item scores 1 (20), 0.5 (10), 0 (10): mean 0.625; module scores mean 0.6
    sxy = 10 * 0.375 * 0.3 + 10 * 0.375 * 0.1 + 10 * (-0.125) * (-0.1) + 10 * (-0.625) * (-0.3)  # 3.5
    sxx = 20 * 0.375 ** 2 + 10 * 0.125 ** 2 + 10 * 0.625 ** 2  # 6.875
    syy = 10 * (0.3 ** 2 + 0.1 ** 2 + 0.1 ** 2 + 0.3 ** 2)  # 2.0
    assert s.point_biserial == pytest.approx(sxy / math.sqrt(sxx * syy))
    assert s.point_biserial == pytest.approx(0.9439, abs=1e-4)
    # upper/lower 27 %: k = round(10.8) = 11; the upper 11 all chose a (1.0), the lower 11 none (0.0)
    assert s.upper_lower == pytest.approx(1.0)
    assert {o.id: o.count for o in s.options} == {"a": 20, "b": 10, "c": 10}
    assert {o.id: o.rating for o in s.options} == RATING_OF
    assert s.median_seconds == 60
    assert s.flags == []


def test_no_figures_and_no_flags_below_thirty_responses(build):
    build.many(20, "b", 0.2)  # a caution option chosen far more than the best ...
    build.many(9, "a", 0.8)
    s = build.stats()
    assert s.n == 29 and not s.shown and s.flags == []
    rows = list(itemstats.table_rows([s]))
    assert rows[0][5] is None and "30件未満" in rows[0][13]
    build.answer("a", 0.8)  # ... the 30th answer makes it visible, with its flag
    s = build.stats()
    assert s.shown and [f.code for f in s.flags] == ["caution"]
    assert "20 件" in s.flags[0].reason


def test_too_easy_needs_a_hundred_responses(build):
    build.many(96, "a", 0.9)
    build.many(3, "c", 0.4)
    s = build.stats()
    assert s.facility.value == pytest.approx(96 / 99) and "easy" not in [f.code for f in s.flags]
    build.answer("a", 0.9)
    s = build.stats()
    assert s.n == 100 and s.facility.value == pytest.approx(0.97)
    assert "easy" in [f.code for f in s.flags]


def test_negative_discrimination_is_flagged(build):
    build.many(15, "a", 0.2)  # the best answer from the weakest trainees
    build.many(15, "c", 0.9)
    s = build.stats()
    assert s.point_biserial == pytest.approx(-1.0)
    # k = round(8.1) = 8: the upper 8 chose c (facility 0), the lower 8 chose a (facility 1)
    assert s.upper_lower == pytest.approx(-1.0)
    codes = [f.code for f in s.flags]
    assert "discrimination" in codes and "負の識別力" in s.flags[codes.index("discrimination")].reason
    # and the upper group chose the acceptable option c (8) more than the best a (0)
    assert "upper" in codes


def test_filters_period_mode_prefecture_and_first_attempts(build):
    first = build.many(30, "a", 0.8)
    for user in first[:5]:
        build.answer("b", 0.1, user=user, number=2)  # retakes do not count
    build.many(4, "b", 0.1, org=build.oita)
    build.many(3, "c", 0.5, days_ago=40)
    facilitator = accounts.create_user(login_id="is-fac", display_name="進行", organization=build.kanagawa,
                                       password="", generated=True, password_hash="pbkdf2:sha256:1$x$x", roles=(Role.FACILITATOR,))
    workshop = Workshop(title="研修会", starts_at=utcnow(), ends_at=utcnow(), join_code="ABCDEFGH",
                        organization_id=build.kanagawa.id, created_by_id=facilitator.id)
    db.session.add(workshop)
    db.session.flush()
    build.many(2, "c", 0.5, workshop_id=workshop.id)
    assert build.stats().n == 30 + 4 + 3 + 2
    assert build.stats(StatFilters(prefecture_id=build.oita.id)).n == 4
    assert build.stats(StatFilters(prefecture_id=build.kanagawa.id)).n == 35
    assert build.stats(StatFilters(since=today_jst() - timedelta(days=7))).n == 36
    assert build.stats(StatFilters(until=today_jst() - timedelta(days=30))).n == 3
    assert build.stats(StatFilters(mode="workshop")).n == 2
    assert build.stats(StatFilters(mode="self")).n == 37


def test_versions_are_compared_side_by_side(build):
    from trainer.models import ContentRelease, QuestionVersion

    build.many(30, "b", 0.3)
    old = build.version
    release = ContentRelease(content_hash="x" * 64, summary={})
    db.session.add(release)
    db.session.flush()
    data = {**old.data, "prompt": "書き直した問い"}
    new = QuestionVersion(question_id=build.question.id, version=old.version + 1, content_hash="y" * 64,
                          release_id=release.id, type="single", data=data)
    db.session.add(new)
    db.session.flush()
    build.question.current_version_id = new.id
    build.version = new
    db.session.flush()
    build.many(31, "a", 0.8)
    versions = itemstats.version_comparison(build.question, StatFilters())
    assert [(s.version.version, s.n, s.facility.value) for s in versions] == [(old.version, 30, 0.0),
                                                                             (new.version, 31, 1.0)]
    assert build.stats().version.id == new.id
    assert build.stats(StatFilters(release_id=old.release_id)).version.id == old.id


def test_time_on_the_page_runs_from_the_previous_answer(build):
    """case-01-q2 answered 100 s after case-01-q1 in the same attempt: its time is 100 s, not the
    time since the attempt began."""
    q2 = db.session.scalar(select(Question).where(Question.key == "case-01-q2"))
    for n in range(30):
        user = build.answer("a", 0.8, seconds=60 + n)
        attempt = db.session.scalar(select(Attempt).where(Attempt.user_id == user.id))
        first = db.session.scalar(select(Answer).where(Answer.attempt_id == attempt.id))
        response = {"choices": ["a", "b"]}
        grade = grading.grade("multiple", q2.current_version.data, response)
        db.session.add(Answer(attempt_id=attempt.id, user_id=user.id, question_id=q2.id,
                              version_id=q2.current_version_id, token=f"q2-{n}", response=response,
                              score=grade.score, rating=grade.rating,
                              created_at=first.created_at + timedelta(seconds=100)))
    db.session.flush()
    by_key = {s.question.key: s for s in itemstats.question_stats([build.question, q2], StatFilters())}
    assert by_key["case-01-q2"].median_seconds == 100
    assert by_key["case-01-q1"].median_seconds == 60 + 14.5  # median of 60..89
    assert by_key["case-01-q2"].facility.value == 1.0
    assert {o.id: o.count for o in by_key["case-01-q2"].options} == {"a": 30, "b": 30, "c": 0}


def test_point_summary_applies_the_mastery_rule_to_these_answers(build):
    """P01 is carried by case-01-q1 and case-02-q1 (and a values question nobody answers here).
    30 trainees answer case-01-q1 with the best choice; 12 of them also answer case-02-q1 with its
    best choice (2 answers, mean 1.0: 定着), 6 with a caution choice (mean 0.5: 学習中)."""
    q = db.session.scalar(select(Question).where(Question.key == "case-02-q1"))
    choice = {c["rating"]: c["id"] for c in q.current_version.data["choices"]}
    users = build.many(30, "a", 0.8)
    for n, user in enumerate(users[:18]):
        picked = choice["best"] if n < 12 else choice["caution"]
        attempt = Attempt(user_id=user.id, module_id="m-case-02", number=1, completed_at=utcnow(), score=0.7)
        db.session.add(attempt)
        db.session.flush()
        grade = grading.grade("single", q.current_version.data, {"choice": picked})
        db.session.add(Answer(attempt_id=attempt.id, user_id=user.id, question_id=q.id, version_id=q.current_version_id,
                              token=f"p{n}", response={"choice": picked}, score=grade.score, rating=grade.rating))
    db.session.flush()
    summary = itemstats.point_summary("P01", StatFilters())
    assert summary.trainees == 30 and summary.shown
    assert summary.secure.value == 12 / 30
    assert summary.mean_score == pytest.approx((30 + 12) / 48)
    items, rows = itemstats.stats_and_rows(itemstats.questions_by_id(itemstats.point_question_ids("P01")), StatFilters())
    assert itemstats.summary_of(rows) == summary
    assert {s.question.key for s in items} >= {"case-01-q1", "case-02-q1"}
