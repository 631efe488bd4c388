"""A synthetic population for the demo (`trainer demo simulate`, `trainer setup --demo --simulate N`):
clearly labelled, removable, idempotent.

Everything it creates is marked: organizations are named 「【模擬】…」 (municipalities and an office
under several prefectures and designated cities, no 団体コード), trainee accounts have login IDs
``sim-00001`` … and names 「【模擬】受講者00001」, and their password hash can never match a
password (nobody signs in as a simulated trainee). Two jurisdictions get only a handful of
trainees, so the national view shows the small-group rule at work.

Answers come from an ability model (services/answer_model) through the real grader; attempts,
their scores and completion dates follow services/completion's words as if the trainees had used
the player. Run twice, it changes nothing; ``remove`` deletes exactly what it made (and nothing
else: the organizations are matched by their 【模擬】 name *and* by holding only simulated accounts).
"""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from trainer.dates import utcnow
from trainer.extensions import db
from trainer.models import (
    Answer, Attempt, Course, Module, Opinion, Organization, OrgKind, Programme, Question, Role, User,
    UserRole,
)
from trainer.services import answer_model, mastery, orgs, unique

PREFIX = "【模擬】"
LOGIN_PREFIX = "sim-"
UNUSABLE_HASH = "!simulated-account-no-password"
DEFAULT_TRAINEES = 3000
MIN_TRAINEES, MAX_TRAINEES = 20, 20000

#: (団体コード of the jurisdiction, share of the trainees); the last two get a fixed handful.
PLAN = [("010006", 6), ("040002", 4), ("130001", 14), ("140007", 10), ("141003", 8), ("230006", 8),
        ("270008", 9), ("271004", 6), ("400009", 6), ("440001", 4)]
SMALL = [("310000", 3), ("320005", 4)]  # 鳥取県, 島根県: withheld in the national view
AREAS = ("中央地域", "東部地域", "西部地域")
OPINION_SHARE = 0.05  # of the trainees write one opinion on a case or a point they practised
OPINIONS = ("【模擬】この場面の選択肢の違いが分かりにくかったです。",
            "【模擬】現場ではこの対応が難しいことがあります。具体的な言い方の例があると助かります。",
            "【模擬】解説の言葉づかいが参考になりました。家族への説明に使えそうです。",
            "【模擬】本人に会えない期間が長い場合の考え方を、もう少し詳しく知りたいです。")
PROGRAMMES = (Programme.CENTER, Programme.STATION, Programme.SUPPORT, Programme.NONE)


class SimulationError(Exception):
    """Why the population cannot be made (a Japanese message)."""


@dataclass
class Result:
    created: bool
    trainees: int
    organizations: int
    attempts: int
    answers: int


def simulated_users():
    return select(User.id).where(User.login_id.like(f"{LOGIN_PREFIX}%"), User.display_name.like(f"{PREFIX}%"))


def existing() -> int:
    return db.session.scalar(select(func.count()).select_from(simulated_users().subquery())) or 0


def simulate(trainees: int = DEFAULT_TRAINEES, seed: int = 1) -> Result:
    """Create the population unless it exists (then nothing changes). The caller commits."""
    if not MIN_TRAINEES <= trainees <= MAX_TRAINEES:
        raise SimulationError(f"受講者の数は {MIN_TRAINEES}〜{MAX_TRAINEES} の範囲で指定してください。")
    if (count := existing()):
        return Result(False, count, 0, 0, 0)
    questions = _questions()
    if not questions:
        raise SimulationError("教材が取り込まれていません。先に trainer content import（または trainer setup）を実行してください。")
    rng = random.Random(seed)
    places = _organizations()
    people = _trainees(places, trainees, rng)
    attempts, answers = _progress(people, questions, rng)
    refresh_mastery([user_id for user_id, _, _ in people])
    _analyze()
    return Result(True, len(people), len(places), attempts, answers)


def _analyze() -> None:
    """PostgreSQL plans from table statistics: after a bulk insert of thousands of rows, refresh them
    now rather than when autovacuum gets to it (the national view was 4-5 times slower before)."""
    if db.engine.dialect.name == "postgresql":
        for table in ("organizations", "users", "user_roles", "attempts", "answers", "point_mastery", "opinions"):
            db.session.execute(text(f"ANALYZE {table}"))


def refresh_mastery(user_ids: list[int]) -> None:
    """Build the simulated trainees' mastery summaries now: the answer path marks a trainee for the
    summary (``mastery.mark_dirty``), a bulk insert marks nobody, so their summaries are rebuilt directly."""
    mastery.rebuild(user_ids)


# --- organizations and accounts ----------------------------------------------------------------

def _organizations() -> list[Organization]:
    made = []
    for i, (code, _share) in enumerate(PLAN + SMALL):
        jurisdiction = orgs.by_code(code)
        if jurisdiction is None:
            raise SimulationError("都道府県・政令指定都市が登録されていません。先に trainer setup を実行してください。")
        areas = AREAS if i < len(PLAN) else AREAS[:1]
        for j, area in enumerate(areas):
            made.append(Organization(name=f"{PREFIX}{jurisdiction.name}{area}", kind=OrgKind.MUNICIPALITY,
                                     parent=jurisdiction, jurisdiction_id=jurisdiction.id,
                                     programme=PROGRAMMES[(i + j) % len(PROGRAMMES)]))
        db.session.add_all(made[-len(areas):])
    db.session.flush()
    office_parent = made[0]
    made.append(orgs.create_office(office_parent, f"{PREFIX}ひきこもり地域支援センター", "地域支援センター"))
    return made


def _trainees(places: list[Organization], total: int, rng: random.Random) -> list[tuple[int, float, datetime]]:
    """(user id, ability, registered at) for every simulated trainee, inserted in bulk."""
    by_jurisdiction: dict[int, list[Organization]] = defaultdict(list)
    for org in places:
        by_jurisdiction[org.jurisdiction_id].append(org)
    codes = {orgs.by_code(code).id: share for code, share in PLAN}
    fixed = {orgs.by_code(code).id: n for code, n in SMALL}
    left = total - sum(fixed.values())
    weight = sum(codes.values())
    counts = {jid: left * share // weight for jid, share in codes.items()}
    counts[next(iter(codes))] += left - sum(counts.values())
    counts.update(fixed)
    now, rows = utcnow(), []
    for jid, n in counts.items():
        for _ in range(n):
            number = len(rows) + 1
            rows.append({"login_id": f"{LOGIN_PREFIX}{number:05d}", "display_name": f"{PREFIX}受講者{number:05d}",
                         "organization_id": rng.choice(by_jurisdiction[jid]).id, "password_hash": UNUSABLE_HASH,
                         "active": True, "registration_confirmed": True, "must_change_password": False,
                         "session_version": 1, "created_at": now - timedelta(days=rng.randint(30, 400)),
                         "password_changed_at": None})
    users = User.__table__  # Core inserts: one multi-row statement per batch on both databases
    ids = list(db.session.scalars(insert(users).returning(users.c.id, sort_by_parameter_order=True), rows))
    db.session.execute(insert(UserRole.__table__),
                       [{"user_id": i, "role": Role.TRAINEE, "created_at": now} for i in ids])
    return [(i, rng.gauss(0, 1), row["created_at"]) for i, row in zip(ids, rows)]


# --- progress ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Question:
    id: int
    key: str
    version_id: int
    type: str
    data: dict
    case_id: str | None = None


def _questions() -> dict[str, list[_Question]]:
    """module id -> its current questions in play order (by the module's steps)."""
    modules = {m.id: m for m in db.session.scalars(select(Module).where(Module.retired_at.is_(None)))}
    rows = db.session.execute(select(Question).where(Question.retired_at.is_(None))).scalars().all()
    by_key = {q.key: q for q in rows if q.current_version is not None}
    out: dict[str, list[_Question]] = {}
    for module_id, module in modules.items():
        keys = [k for step in module.steps for k in step.question_keys if k in by_key]
        out[module_id] = [_Question(by_key[k].id, k, by_key[k].current_version.id, by_key[k].current_version.type,
                                    by_key[k].current_version.data, module.case_id) for k in keys]
    return {m: qs for m, qs in out.items() if qs}


def _route(rng: random.Random, ability: float, modules: list[str], courses: list[list[str]]) -> list[str]:
    """The modules a trainee takes: the courses in order, as far as they keep going (more able
    trainees go further), and up to three other modules picked out of interest."""
    route: list[str] = []
    keep_on = min(0.97, max(0.55, 0.85 + 0.08 * ability))
    stopped = False
    for module_id in (m for course in courses for m in course):
        if stopped:
            break
        if module_id not in route:
            route.append(module_id)
        stopped = rng.random() > keep_on
    extra = [m for m in modules if m not in route]
    return route + rng.sample(extra, min(len(extra), rng.randint(0, 3)))


def _progress(people, questions: dict[str, list[_Question]], rng: random.Random) -> tuple[int, int]:
    listed = [(q.key, q.type, q.data) for m in sorted(questions) for q in questions[m]]
    traits = answer_model.assign_traits(listed, rng)
    courses = [[m for m in c.module_ids if m in questions] for c in
               db.session.scalars(select(Course).where(Course.retired_at.is_(None)).order_by(Course.sort))]
    modules = sorted(questions)
    now, n_attempts, n_answers = utcnow(), 0, 0
    for start in range(0, len(people), 200):  # in batches: bounded memory for 20,000 trainees
        attempts, plans = [], []
        for user_id, ability, registered in people[start:start + 200]:
            moment = registered + timedelta(days=rng.randint(0, 20), hours=rng.randint(0, 10))
            for module_id in _route(rng, ability, modules, courses):
                if moment >= now:
                    break
                qs = questions[module_id]
                finished = rng.random() < min(0.97, 0.8 + 0.1 * ability)
                taken = qs if finished else qs[:rng.randint(1, max(1, len(qs) - 1))]
                answers, clock = [], moment
                for q in taken:
                    clock += timedelta(seconds=int(rng.lognormvariate(4.3, 0.5)))
                    response, grade = answer_model.answer(q.type, q.data, traits.get(q.key), ability, rng)
                    answers.append((q, response, grade, clock))
                scored = [g.score for _, _, g, _ in answers if g.score is not None]
                done = finished and clock < now
                attempts.append({"user_id": user_id, "module_id": module_id, "number": 1,
                                 "position": len(taken), "started_at": moment, "last_activity_at": clock,
                                 "completed_at": clock if done else None,
                                 "score": round(100 * sum(scored) / len(scored), 1) if done and scored else None,
                                 "seconds_spent": int((clock - moment).total_seconds())})
                plans.append((user_id, answers if clock < now else []))
                moment = clock + timedelta(days=rng.randint(1, 25), hours=rng.randint(0, 8))
        table = Attempt.__table__
        ids = list(db.session.scalars(insert(table).returning(table.c.id, sort_by_parameter_order=True), attempts))
        rows = [{"attempt_id": a, "user_id": uid, "question_id": q.id, "version_id": q.version_id,
                 "token": f"sim-{a}-{q.id}", "response": response, "score": grade.score, "rating": grade.rating,
                 "hidden": False, "created_at": when}
                for a, (uid, answers) in zip(ids, plans) for q, response, grade, when in answers]
        if rows:
            db.session.execute(insert(Answer.__table__), rows)
        _opinions(plans, rng)
        n_attempts, n_answers = n_attempts + len(ids), n_answers + len(rows)
    return n_attempts, n_answers


def _opinions(plans, rng: random.Random) -> None:
    """A few opinions (about OPINION_SHARE of the trainees) on a case or a point of a question they answered."""
    rows, seen = [], set()
    for user_id, answers in plans:
        if not answers or user_id in seen or rng.random() > OPINION_SHARE / 6:  # about six attempts per trainee
            continue
        seen.add(user_id)
        q, _, _, when = rng.choice(answers)
        points = q.data.get("points") or []
        on_point = points and (q.case_id is None or rng.random() < 0.5)
        rows.append({"user_id": user_id, "case_id": None if on_point else q.case_id,
                     "point_id": rng.choice(points) if on_point else None, "module_id": None,
                     "body": rng.choice(OPINIONS), "created_at": when, "client_token": f"sim-{user_id}"})
    rows = [r for r in rows if r["case_id"] or r["point_id"]]
    if rows:
        db.session.execute(insert(Opinion.__table__), rows)


# --- removal -------------------------------------------------------------------------------------

def remove() -> tuple[int, int]:
    """Delete the simulated trainees with everything they made, and the 【模擬】 organizations
    that hold nobody else; returns (trainees, organizations) removed. The caller commits."""
    ids = list(db.session.scalars(simulated_users()))
    for start in range(0, len(ids), 500):
        _delete_records(ids[start:start + 500])
    marked = select(Organization.id).where(Organization.name.like(f"{PREFIX}%"),
                                           Organization.kind.in_([OrgKind.MUNICIPALITY, OrgKind.OFFICE]))
    occupied = select(User.organization_id).distinct()
    parents = select(Organization.parent_id).where(Organization.parent_id.is_not(None))
    removed = 0
    for kind in (OrgKind.OFFICE, OrgKind.MUNICIPALITY):  # offices first: they point at municipalities
        org_ids = list(db.session.scalars(marked.where(Organization.kind == kind, Organization.id.not_in(occupied),
                                                       Organization.id.not_in(parents))))
        try:
            with unique.savepoint():  # an organization something else still points at stays
                db.session.execute(delete(Organization).where(Organization.id.in_(org_ids)))
        except IntegrityError:
            continue
        removed += len(org_ids)
    db.session.flush()
    return len(ids), removed


def _delete_records(user_ids: list[int]) -> None:
    """Every row that points at these accounts or at their attempts (whatever tables the house has:
    found through the foreign keys, dependents first), then the accounts."""
    users, attempts = User.__table__, Attempt.__table__
    their_attempts = select(attempts.c.id).where(attempts.c.user_id.in_(user_ids))
    for table in reversed(db.metadata.sorted_tables):
        if table is users:
            continue
        for column in table.columns:
            for key in column.foreign_keys:
                if key.column is users.c.id:
                    db.session.execute(delete(table).where(column.in_(user_ids)))
                elif key.column is attempts.c.id and table is not attempts:
                    db.session.execute(delete(table).where(column.in_(their_attempts)))
    db.session.execute(delete(users).where(users.c.id.in_(user_ids)))
