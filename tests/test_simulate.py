"""The synthetic demo population (services/simulate, services/answer_model, `trainer demo simulate`):
labelled, graded by the real grader, counted by the national view, idempotent and removable."""
from __future__ import annotations

import random
import statistics

import pytest
from sqlalchemy import func, select

from trainer.extensions import db
from trainer.models import Answer, Attempt, Opinion, Organization, QuestionVersion, Role, User
from trainer.models import PointMastery as Summary
from trainer.services import answer_model, grading, mastery, simulate

SINGLE = {"choices": [{"id": "a", "rating": "best"}, {"id": "b", "rating": "acceptable"},
                      {"id": "c", "rating": "caution"}, {"id": "d", "rating": "caution"}]}


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_the_ability_model_is_monotone_and_its_roles_show():
    """Stronger trainees find the best answer more often; an easy question is found by nearly
    everyone; a lure question's tempting 要注意 option beats the best one."""
    rng = random.Random(7)
    abilities = [rng.gauss(0, 1) for _ in range(3000)]
    ordinary = answer_model.Traits(difficulty=0.0, discrimination=1.5)
    picks = [(a, answer_model.answer("single", SINGLE, ordinary, a, rng)[1].rating == "best") for a in abilities]
    strong = [hit for a, hit in picks if a > 0.5]
    weak = [hit for a, hit in picks if a < -0.5]
    assert sum(strong) / len(strong) > sum(weak) / len(weak) + 0.3
    # the point-biserial correlation between ability and the best answer is clearly positive
    hits = [1.0 if hit else 0.0 for _, hit in picks]
    assert statistics.correlation(abilities, hits) > 0.3

    easy = answer_model.Traits(difficulty=-4.0, discrimination=1.0, role="easy")
    assert sum(answer_model.answer("single", SINGLE, easy, a, rng)[1].rating == "best" for a in abilities) > 0.95 * 3000

    lure = answer_model.Traits(difficulty=1.2, discrimination=1.0, role="lure", lure="d")
    chosen = [answer_model.answer("single", SINGLE, lure, a, rng)[0]["choice"] for a in abilities]
    assert chosen.count("d") > chosen.count("a") > 0


def test_every_response_fits_the_grader():
    rng = random.Random(3)
    multiple = {"choices": [{"id": "a", "rating": "best"}, {"id": "b", "rating": "best"},
                            {"id": "c", "rating": "caution"}, {"id": "d", "rating": "acceptable"}]}
    ordering = {"choices": [{"id": x, "rating": "best"} for x in "abcd"], "order": list("abcd")}
    for ability in (-2.5, -1.0, 0.0, 1.0, 2.5):
        for qtype, data in (("multiple", multiple), ("ordering", ordering), ("single", SINGLE),
                            ("self_rating", {"choices": [], "points": ["P01", "P02"]}),
                            ("reflection", {"choices": []})):
            for _ in range(50):
                response = answer_model.respond(qtype, data, None, ability, rng)
                assert grading.validate(qtype, data, response) == response
    misses = [answer_model.respond("multiple", multiple, answer_model.Traits(difficulty=9), 0.0, rng)
              for _ in range(200)]
    assert all(grading.grade("multiple", multiple, r).rating != "best" for r in misses)


@pytest.fixture
def population(app_ctx, small_content, make_user):
    real = make_user(Role.TRAINEE, login_id="real-trainee")
    result = simulate.simulate(trainees=60, seed=5)
    db.session.commit()
    return result, real


def test_the_population_is_labelled_spread_and_graded_like_real_answers(population):
    result, _ = population
    assert result.created and result.trainees == 60 and result.answers > 0
    people = db.session.scalars(select(User).where(User.login_id.like("sim-%"))).all()
    assert len(people) == 60
    assert all(p.display_name.startswith("【模擬】") and p.organization.name.startswith("【模擬】") for p in people)
    assert all(p.has_role(Role.TRAINEE) and p.password_hash == simulate.UNUSABLE_HASH for p in people)
    jurisdictions = {p.organization.jurisdiction_id for p in people}
    assert len(jurisdictions) >= 8  # several prefectures and designated cities
    # every stored answer is exactly what the real grader gives its response
    versions = {v.id: v for v in db.session.scalars(select(QuestionVersion))}
    for answer in db.session.scalars(select(Answer).join(User, User.id == Answer.user_id)
                                     .where(User.login_id.like("sim-%"))):
        version = versions[answer.version_id]
        grade = grading.grade(version.type, version.data, grading.validate(version.type, version.data, answer.response))
        assert (answer.score, answer.rating) == (grade.score, grade.rating)
    # a few opinions, labelled, on a case or point that exists
    from trainer.models import Case, Opinion, Point

    opinions = db.session.scalars(select(Opinion).join(User, User.id == Opinion.user_id)
                                  .where(User.login_id.like("sim-%"))).all()
    assert opinions and all(o.body.startswith("【模擬】") for o in opinions)
    assert all((o.case_id and db.session.get(Case, o.case_id)) or (o.point_id and db.session.get(Point, o.point_id))
               for o in opinions)
    # a completed attempt's score is the mean of its scored answers, as the player computes it
    for attempt in db.session.scalars(select(Attempt).where(Attempt.completed_at.is_not(None))):
        scores = [s for s in db.session.scalars(select(Answer.score).where(Answer.attempt_id == attempt.id))
                  if s is not None]
        assert attempt.score == (round(100 * sum(scores) / len(scores), 1) if scores else None)
        assert attempt.completed_at >= attempt.started_at


def test_the_mastery_summary_is_up_to_date_for_simulated_trainees(population):
    ids = list(db.session.scalars(simulate.simulated_users()))
    summary = {(s.user_id, s.point_id): (s.answered, s.score_sum)
               for s in db.session.scalars(select(Summary).where(Summary.user_id.in_(ids)))}
    computed = mastery.computed_point_stats(ids)
    assert summary and summary.keys() == computed.keys()
    for key, (n, total) in computed.items():
        assert summary[key][0] == n and summary[key][1] == pytest.approx(total)


def test_simulating_twice_changes_nothing(population):
    before = (_count(User), _count(Organization), _count(Attempt), _count(Answer))
    again = simulate.simulate(trainees=60, seed=5)
    db.session.commit()
    assert not again.created and again.trainees == 60
    assert (_count(User), _count(Organization), _count(Attempt), _count(Answer)) == before


def test_removal_takes_exactly_what_was_made(population):
    _, real = population
    from trainer.services import accounts
    from trainer.services import orgs

    # a real account placed in a 【模擬】 organization keeps that organization
    place = db.session.scalar(select(Organization).where(Organization.name.like("【模擬】%"),
                                                         Organization.kind == "municipality"))
    kept = accounts.create_user(login_id="real-in-sim", display_name="本物 さん", organization=place,
                                password="correct-horse-42")
    real_attempt = Attempt(user_id=real.id, module_id="m-values")
    db.session.add(real_attempt)
    # rows of other tables that point at a simulated account go with it (found through the foreign keys)
    from trainer.dates import utcnow
    from trainer.models import Certificate, UserSession

    someone = db.session.scalar(select(User).where(User.login_id == "sim-00001"))
    db.session.add(Certificate(code="SIMU-LATE-0001", user_id=someone.id, course_id="basic", holder_name="x",
                               organization_name="y", course_title="z", points=[], completed_on=utcnow()))
    db.session.add(UserSession(user_id=someone.id, token_hash="0" * 64, created_at=utcnow(), expires_at=utcnow()))
    db.session.commit()
    people, places = simulate.remove()
    db.session.commit()
    assert people == 60 and places > 0
    assert _count(User, User.login_id.like("sim-%")) == 0
    assert _count(Answer, Answer.user_id.not_in([real.id, kept.id])) == 0
    assert _count(Opinion) == 0 and _count(Certificate) == 0 and _count(UserSession) == 0
    assert _count(Attempt) == 1 and db.session.get(Attempt, real_attempt.id) is not None
    left = db.session.scalars(select(Organization).where(Organization.name.like("【模擬】%"))).all()
    assert [o.id for o in left] == [place.id]
    assert orgs.by_code("310000") is not None  # the jurisdictions themselves are never touched
    assert simulate.remove() == (0, 0)


def test_the_national_view_counts_the_population_and_hides_the_small_jurisdictions(population):
    from trainer.services import national, review

    report = national.report(review.catalogue())
    by_name = {g.label: g for g in report.jurisdictions}
    assert report.total.figures.registered == 61  # the population and the real trainee
    assert by_name["鳥取県"].figures.registered == 3 and by_name["鳥取県"].hidden
    assert by_name["島根県"].figures.registered == 4 and by_name["島根県"].hidden
    shown = sum(g.figures.registered for g in report.jurisdictions if not g.hidden)
    assert report.total.figures.registered - shown >= 5


def test_the_command_line(runner, small_content):
    bad = runner.invoke(args=["demo", "simulate", "--trainees", "5"])
    assert bad.exit_code == 1 and "20〜20000" in bad.output
    made = runner.invoke(args=["demo", "simulate", "--trainees", "40", "--seed", "2"])
    assert made.exit_code == 0 and "受講者 40 人" in made.output, made.output
    again = runner.invoke(args=["demo", "simulate", "--trainees", "40"])
    assert again.exit_code == 0 and "作成済み" in again.output
    gone = runner.invoke(args=["demo", "simulate", "--remove"])
    assert gone.exit_code == 0 and "受講者 40 人" in gone.output


def test_without_content_it_says_what_to_do(runner):
    result = runner.invoke(args=["demo", "simulate", "--trainees", "40"])
    assert result.exit_code == 1 and "教材が取り込まれていません" in result.output


def _statements(app, client, path: str) -> int:
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine
    seen: list[str] = []
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return len(seen)


def test_national_pages_cost_the_same_statements_whatever_the_population(app, client, small_content, make_user,
                                                                         login):
    """No statement per jurisdiction, organization or trainee: one real trainee or a population
    spread over twelve jurisdictions, the pages read the same bounded number of statements."""
    login(make_user(Role.NATIONAL))
    make_user(Role.TRAINEE)
    paths = ("/national/", "/national/mastery", "/national/exports/summary.csv")
    for path in paths:
        client.get(path)
    few = [_statements(app, client, path) for path in paths]
    with app.app_context():
        simulate.simulate(trainees=60, seed=5)
        db.session.commit()
    for path in paths:
        client.get(path)
    many = [_statements(app, client, path) for path in paths]
    assert all(m <= f for m, f in zip(many, few)) and max(few) <= 40, (few, many)


def test_setup_with_simulate(runner, small_content, monkeypatch):
    from trainer import cli

    monkeypatch.setattr(cli, "_import_content", lambda root: None)  # the small content is already imported
    result = runner.invoke(args=["setup", "--demo", "--simulate", "30"])
    assert result.exit_code == 0, result.output
    assert "demo-national" in result.output and "受講者 30 人" in result.output
    assert "作成済み" in runner.invoke(args=["setup", "--demo", "--simulate", "30"]).output


def test_the_population_gives_the_item_statistics_something_to_flag(app_ctx, small_content):
    """Computed by hand from the stored answers: an easy question (facility above 0.95 with at least
    100 responses), a single-choice question whose 要注意 option is chosen more than the best one,
    and positive discrimination (point-biserial with the module score) for the ordinary questions."""
    from collections import Counter, defaultdict

    from trainer.models import Question

    simulate.simulate(trainees=300, seed=11)
    db.session.commit()
    rows = db.session.execute(
        select(Question.key, Question.type, Answer.response, Answer.rating, Attempt.score, QuestionVersion.data)
        .join(Answer, Answer.question_id == Question.id).join(Attempt, Attempt.id == Answer.attempt_id)
        .join(QuestionVersion, QuestionVersion.id == Answer.version_id)
        .where(Answer.score.is_not(None), Attempt.completed_at.is_not(None))).all()
    by_question = defaultdict(list)
    for row in rows:
        by_question[row.key].append(row)
    facility = {k: sum(r.rating == "best" for r in rs) / len(rs) for k, rs in by_question.items()}
    assert any(facility[k] > 0.95 and len(rs) >= 100 for k, rs in by_question.items())
    lured = []
    for key, rs in by_question.items():
        if rs[0].type != "single":
            continue
        ratings = {c["id"]: c["rating"] for c in rs[0].data["choices"]}
        counts = Counter(r.response["choice"] for r in rs)
        best = max(counts[c] for c, rating in ratings.items() if rating == "best")
        if any(counts[c] > best for c, rating in ratings.items() if rating == "caution"):
            lured.append(key)
    assert len(lured) >= 1
    ordinary = [k for k in by_question if facility[k] < 0.9 and k not in lured]
    correlations = [statistics.correlation([1.0 if r.rating == "best" else 0.0 for r in by_question[k]],
                                           [r.score for r in by_question[k]]) for k in ordinary]
    assert correlations and statistics.mean(correlations) > 0.2
