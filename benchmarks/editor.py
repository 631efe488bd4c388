"""Benchmark: the editor's statistics pages on a synthetic population (in process, Flask test client).

    .venv/bin/python benchmarks/editor.py [--trainees 1000] [--runs 3] [--database-url URL]

Generates trainees who each made a finished first attempt at every module of the real content and
answered every scored question (random choices, module scores from a per-trainee ability), then
times the page of the point carried by the most questions, the page of the first case, its revision
sheet as XLSX and one question's version comparison; reports the median of ``--runs`` and the
number of SQL statements of each page.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 20_000


def generate(app, trainees: int) -> dict:
    from sqlalchemy import func, insert, select

    from trainer.dates import utcnow
    from trainer.extensions import db
    from trainer.models import Answer, Attempt, Case, Question, QuestionPoint, QuestionVersion, Role, User, UserRole
    from trainer.services import accounts, grading, orgs

    rng = random.Random(18)
    with app.app_context():
        pref = orgs.by_code("140007")
        editor = accounts.create_user(login_id="bench-editor", display_name="教材 担当", organization=pref,
                                      password="Kx7-revision-loop-22", roles=[Role.EDITOR])
        db.session.commit()
        first = (db.session.scalar(select(func.max(User.id))) or 0) + 1
        now = utcnow()
        people = [{"id": first + i, "login_id": f"bench{first + i:06d}", "display_name": f"受講者 {i}",
                   "organization_id": pref.id, "password_hash": editor.password_hash, "active": True,
                   "session_version": 1, "must_change_password": False, "registration_confirmed": True,
                   "created_at": now} for i in range(trainees)]
        db.session.execute(insert(User), people)
        db.session.execute(insert(UserRole), [{"user_id": p["id"], "role": "trainee", "created_at": now} for p in people])
        questions: dict[str, list] = {}
        for q, v in db.session.execute(select(Question, QuestionVersion).join(
                QuestionVersion, QuestionVersion.id == Question.current_version_id).where(Question.retired_at.is_(None))):
            if v.type in ("single", "multiple", "ordering"):
                questions.setdefault(q.module_id, []).append((q.id, v.id, v.type, v.data))
        attempt_id = (db.session.scalar(select(func.max(Attempt.id))) or 0) + 1
        attempts, answers = [], []
        for p in people:
            ability = rng.random()
            for module_id, qs in questions.items():
                started = now - timedelta(days=rng.randrange(200), minutes=rng.randrange(600))
                attempts.append({"id": attempt_id, "user_id": p["id"], "module_id": module_id, "number": 1,
                                 "position": 0, "started_at": started, "last_activity_at": started,
                                 "completed_at": started + timedelta(minutes=30), "seconds_spent": 1800,
                                 "score": round(100 * min(1.0, ability + rng.uniform(-0.2, 0.2)), 1)})
                for k, (qid, vid, qtype, data) in enumerate(qs):
                    ids = [c["id"] for c in data["choices"]]
                    if qtype == "single":
                        response = {"choice": rng.choice(ids)}
                    elif qtype == "multiple":
                        response = {"choices": rng.sample(ids, rng.randint(1, len(ids)))}
                    else:
                        response = {"order": rng.sample(ids, len(ids))}
                    grade = grading.grade(qtype, data, response)
                    answers.append({"attempt_id": attempt_id, "user_id": p["id"], "question_id": qid, "version_id": vid,
                                    "token": f"b{attempt_id}-{k}", "response": response, "score": grade.score,
                                    "rating": grade.rating, "hidden": False,
                                    "created_at": started + timedelta(seconds=40 * (k + 1) + rng.randrange(60))})
                attempt_id += 1
            if len(answers) >= CHUNK:
                db.session.execute(insert(Attempt), attempts)
                db.session.execute(insert(Answer), answers)
                attempts, answers = [], []
        if answers:
            db.session.execute(insert(Attempt), attempts)
            db.session.execute(insert(Answer), answers)
        db.session.commit()
        point = db.session.execute(select(QuestionPoint.point_id, func.count()).join(
            Question, Question.current_version_id == QuestionPoint.version_id).group_by(QuestionPoint.point_id)
            .order_by(func.count().desc())).first()
        case = db.session.scalar(select(Case.id).order_by(Case.id))
        key = db.session.scalar(select(Question.key).where(Question.type == "single").order_by(Question.id))
        total = db.session.scalar(select(func.count()).select_from(Answer))
        return {"point": point[0], "point_questions": point[1], "case": case, "question": key, "answers": total}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trainees", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-editor-"))
    os.environ["TRAINER_INSTANCE_PATH"] = str(tmp)
    from flask_migrate import upgrade
    from sqlalchemy import event

    from trainer import create_app
    from trainer.content.loader import content_hash, load_content
    from trainer.content.sync import import_content
    from trainer.extensions import db
    from trainer.services import orgs

    app = create_app({"SQLALCHEMY_DATABASE_URI": args.database_url or f"sqlite:///{tmp / 'bench.sqlite3'}",
                      "SECRET_KEY": "b" * 48, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "WTF_CSRF_ENABLED": False})
    with app.app_context():
        upgrade()
        orgs.seed_jurisdictions()
        content, problems = load_content(ROOT / "content")
        assert not problems, problems
        import_content(content, content_hash(ROOT / "content"))
        db.session.commit()
    t0 = time.perf_counter()
    ids = generate(app, args.trainees)
    print(f"generated {args.trainees} trainees, {ids['answers']} answers in {time.perf_counter() - t0:.1f} s "
          f"(point {ids['point']} carried by {ids['point_questions']} questions)")
    client = app.test_client()
    assert client.post("/auth/login", data={"login_id": "bench-editor", "password": "Kx7-revision-loop-22"}).status_code == 302
    with app.app_context():
        engine = db.engine
    for label, path in (("point page", f"/editor/points/{ids['point']}"), ("case page", f"/editor/cases/{ids['case']}"),
                        ("case sheet XLSX", f"/editor/cases/{ids['case']}/sheet.xlsx"),
                        ("question versions", f"/editor/questions/{ids['question']}")):
        times, seen = [], []
        listener = lambda *a: seen.append(1)  # noqa: E731
        for run in range(args.runs):
            if run == 0:
                event.listen(engine, "before_cursor_execute", listener)
            start = time.perf_counter()
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            _ = response.data
            times.append(time.perf_counter() - start)
            if run == 0:
                event.remove(engine, "before_cursor_execute", listener)
        print(f"{label:18s} {path:40s} median {statistics.median(times) * 1000:7.0f} ms  statements {len(seen)}")


if __name__ == "__main__":
    sys.exit(main())
