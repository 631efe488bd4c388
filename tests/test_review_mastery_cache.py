"""The mastery aggregate follows new answers and changes to the set of trainees. The tests run with
MASTERY_REFRESH_SECONDS = 0, where the summary is brought up to date when read; in production a
thread rebuilds it off the request (tests/test_mastery_exact.py checks that path)."""
from __future__ import annotations

from datetime import datetime, timezone

from trainer.extensions import db
from trainer.models import Role


def test_cached_mastery_follows_new_answers_and_trainee_changes(app, make_user, make_org, small_content):
    from tests.test_review_access import WorldBuilder
    from tests.conftest import PASSWORD
    from trainer.models import User
    from trainer.services import mastery_report, review

    city = make_org("藤沢市", code="142051")
    people = [make_user(Role.TRAINEE, org=city) for _ in range(5)]
    with app.app_context():
        builder = WorldBuilder(PASSWORD)
        for person in people[:4]:
            builder.attempt(db.session.get(User, person.id), "m-case-02", datetime(2025, 1, 5, tzinfo=timezone.utc))
        db.session.commit()
        scope = review.load_scope(city.jurisdiction_id)
        first = mastery_report.mastery_report(scope, review.Filters())
        assert first.total.practised == 4 and first.total.suppressed
        assert mastery_report.mastery_report(scope, review.Filters()).total.practised == 4

        builder.attempt(db.session.get(User, people[4].id), "m-case-02", datetime(2025, 1, 6, tzinfo=timezone.utc))
        db.session.commit()
        second = mastery_report.mastery_report(scope, review.Filters())
        assert second.total.practised == 5 and not second.total.suppressed
        assert second.total.counts("P01") == (0, 5, 0)  # one question on P01 in m-case-02: 学習中, not yet 定着

        db.session.get(User, people[0].id).active = False
        db.session.commit()
        assert mastery_report.mastery_report(scope, review.Filters()).total.practised == 4
