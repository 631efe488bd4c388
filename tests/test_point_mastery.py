"""The point_mastery summary, once refreshed (services/mastery.refresh_summary), equals what the answers say,
through retakes, double submits, and a question whose new version practises other points."""
from __future__ import annotations

import random
import shutil

from sqlalchemy import select

from tests.conftest import FIXTURE_CONTENT
from tests.content.conftest import framework_yaml
from trainer.content.loader import content_hash, load_content
from trainer.content.sync import import_content
from trainer.extensions import db
from trainer.models import Module, PointMastery, Role
from trainer.services import answering, mastery, player


def _summary(user_ids) -> dict:
    rows = db.session.scalars(select(PointMastery).where(PointMastery.user_id.in_(user_ids), PointMastery.answered != 0))
    return {(r.user_id, r.point_id): (r.answered, round(r.score_sum, 6)) for r in rows}


def _computed(user_ids) -> dict:
    return {k: (n, round(total, 6)) for k, (n, total) in mastery.computed_point_stats(user_ids).items()}


def _play(user, module_id: str, rng: random.Random, retake: bool = False) -> None:
    module = db.session.get(Module, module_id)
    attempt = player.start(user, module, retake=retake)
    for page in player.pages(module):
        if page.question is None:
            continue
        data = page.question.current_version.data
        qtype = page.question.type
        if qtype == "single":
            raw = {"choice": rng.choice(data["choices"])["id"]}
        elif qtype == "multiple":
            raw = {"choices": [c["id"] for c in data["choices"] if rng.random() < 0.6] or [data["choices"][0]["id"]]}
        elif qtype == "ordering":
            order = list(data["order"])
            rng.shuffle(order)
            raw = {"order": order}
        elif qtype == "reflection":
            raw = {"text": "考え"}
        else:
            raw = {"ratings": {p: "3" for p in data["points"]}}
        token = f"{attempt.id}-{page.index}"
        answering.submit(attempt, page.question, raw, token)
        answering.submit(attempt, page.question, raw, token)  # a double submit changes nothing
    player.finish_if_complete(attempt, module)
    db.session.commit()


def test_summary_follows_retakes_and_new_versions(app_ctx, small_content, make_user, tmp_path):
    rng = random.Random(7)
    users = [make_user(Role.TRAINEE) for _ in range(3)]
    ids = [u.id for u in users]
    for user in users:
        _play(db.session.merge(user), "m-case-01", rng)
        _play(db.session.merge(user), "m-values", rng)
    assert mastery.refresh_summary() == 3
    assert _summary(ids) == _computed(ids) != {}
    assert mastery.refresh_summary() == 0  # nothing new: nothing recomputed
    # the question case-01-q1 now practises other points (a new version)
    root = tmp_path / "edited"
    shutil.copytree(FIXTURE_CONTENT, root)
    (root / "framework.yaml").write_text(framework_yaml(), encoding="utf-8")
    path = root / "quizzes" / "m-case-01.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("points: [P01, P10]", "points: [P10, P20]", 1), encoding="utf-8")
    content, problems = load_content(root)
    assert problems == []
    import_content(content, content_hash(root))
    db.session.commit()
    for user in users[:2]:
        _play(db.session.merge(user), "m-case-01", rng, retake=True)
    assert _summary(ids) != _computed(ids)  # the retakes are not folded in yet
    assert mastery.refresh_summary() == 2
    assert _summary(ids) == _computed(ids)
    stats = mastery.user_point_stats(ids[0])
    assert stats == {pid: (n, total / n) for (uid, pid), (n, total) in mastery.computed_point_stats([ids[0]]).items()}


def test_rebuild_matches(app_ctx, small_content, make_user):
    rng = random.Random(3)
    user = make_user(Role.TRAINEE)
    _play(db.session.merge(user), "m-case-01", rng)
    mastery.refresh_summary()
    before = _summary([user.id])
    db.session.execute(PointMastery.__table__.delete())
    mastery.rebuild([user.id])
    db.session.commit()
    assert _summary([user.id]) == before


def test_migration_backfills_the_summary_from_existing_answers(app, small_content, make_user):
    from flask_migrate import downgrade, upgrade

    user = make_user(Role.TRAINEE)
    with app.app_context():
        _play(db.session.merge(user), "m-case-01", random.Random(11))
        expected = _computed([user.id])
        db.session.remove()
        downgrade(revision="0004_workshops")
        try:
            upgrade()  # 0005 creates the table and fills it from the answers
        finally:
            upgrade()
        assert _summary([user.id]) == expected != {}
