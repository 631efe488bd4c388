"""Backups that restore (issue 16.3): a consistent copy while trainees answer, checked against its
manifest, restored into an empty instance or (only with --force) over a database with data.

Runs on the suite's database: SQLite by default, PostgreSQL with TRAINER_TEST_DATABASE_URL."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, insert, select

from trainer.dates import utcnow
from trainer.extensions import db
from trainer.models import Answer, Attempt, Question, Role
from trainer.operations import backup


class AnswerWriter(threading.Thread):
    """Inserts an attempt and an answer per loop (one transaction each) until stopped."""

    def __init__(self, app, user_id: int, first: int = 1) -> None:
        super().__init__(daemon=True)
        self.app, self.user_id, self.stored, self.error = app, user_id, 0, None
        self.first = first
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            with self.app.app_context():
                question = db.session.scalars(select(Question).order_by(Question.id)).first()
                db.session.remove()
                number = self.first - 1
                while not self.stop.is_set():
                    number += 1
                    with db.engine.begin() as conn:
                        attempt_id = conn.execute(insert(Attempt).values(
                            user_id=self.user_id, module_id=question.module_id, number=number,
                            started_at=utcnow(), last_activity_at=utcnow()).returning(Attempt.id)).scalar_one()
                        conn.execute(insert(Answer).values(
                            attempt_id=attempt_id, user_id=self.user_id, question_id=question.id,
                            version_id=question.current_version_id, token=f"t{number}",
                            response={"choice": 0}, score=1.0, rating="best", created_at=utcnow()))
                    self.stored = number - self.first + 1
        except Exception as exc:  # reported by the test
            self.error = exc

    def wait_for(self, n: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.stored < n and self.error is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.error is None, self.error
        assert self.stored >= n, f"writer stored only {self.stored}"


def _answers(app) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Answer))
        db.session.remove()
        return count


@pytest.fixture
def trainee_id(make_user, small_content):
    return make_user(Role.TRAINEE, login_id="writer").id


def test_backup_under_writes_matches_its_manifest_and_restores(app, trainee_id, tmp_path):
    writer = AnswerWriter(app, trainee_id)
    writer.start()
    try:
        writer.wait_for(20)
        with app.app_context():
            manifest = backup.create(db.engine, tmp_path / "b1", Path(app.instance_path) / "secret_key")
        during = writer.stored
        writer.wait_for(during + 20)  # writes went on after the snapshot
    finally:
        writer.stop.set()
        writer.join()
    assert writer.error is None
    copied = manifest["counts"]["answers"]
    assert 20 <= copied <= during and copied == manifest["counts"]["attempts"]
    assert _answers(app) == writer.stored > copied
    check = backup.verify(tmp_path / "b1")
    assert check.ok, check.problems
    assert manifest["revision"] and set(manifest["files"]) == {manifest["database_file"], "secret_key"}

    with app.app_context():  # the live database has more answers now: restoring needs --force
        with pytest.raises(backup.BackupError, match="--force"):
            backup.restore(db.engine, tmp_path / "b1")
        assert db.session.scalar(select(func.count()).select_from(Answer)) == writer.stored  # untouched
        db.session.remove()
        backup.restore(db.engine, tmp_path / "b1", force=True)
        with db.engine.connect() as conn:
            assert backup.table_counts(conn) == manifest["counts"]
    assert _answers(app) == copied
    writer = AnswerWriter(app, trainee_id, first=100_000)  # sequences restored too: new rows get fresh ids
    writer.start()
    writer.wait_for(3)
    writer.stop.set()
    writer.join()
    assert writer.error is None and _answers(app) == copied + writer.stored


def test_tampered_or_mismatched_backup_is_reported_and_not_restored(app, trainee_id, tmp_path):
    with app.app_context():
        manifest = backup.create(db.engine, tmp_path / "b", None)
    data = json.loads((tmp_path / "b" / "manifest.json").read_text(encoding="utf-8"))
    data["counts"]["users"] += 1
    (tmp_path / "b" / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    check = backup.verify(tmp_path / "b")
    assert [p for p in check.problems if p.startswith("users の行数が違います")], check.problems
    dump = tmp_path / "b" / manifest["database_file"]
    dump.write_bytes(dump.read_bytes()[:-10] + b"0123456789")
    assert any("sha256" in p for p in backup.verify(tmp_path / "b").problems)
    with app.app_context(), pytest.raises(backup.BackupError, match="一致しない"):
        backup.restore(db.engine, tmp_path / "b", force=True)
    assert _answers(app) == 0 and "users" in manifest["counts"]


def test_cli_backup_verify_and_restore_into_an_empty_instance(app, runner, trainee_id, tmp_path):
    result = runner.invoke(args=["backup", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    assert "バックアップを取りました" in result.output
    result = runner.invoke(args=["backup", "verify", str(tmp_path / "cli")])
    assert result.exit_code == 0 and "問題ありません" in result.output, result.output
    result = runner.invoke(args=["restore", str(tmp_path / "cli")])
    assert result.exit_code != 0 and "--force" in result.output
    manifest = backup.read_manifest(tmp_path / "cli")
    if manifest["kind"] == "sqlite":  # a brand-new instance: an empty file in another folder
        empty = create_engine(f"sqlite:///{tmp_path / 'new' / 'trainer.sqlite3'}")
        notes = backup.restore(empty, tmp_path / "cli", secret_file=tmp_path / "new" / "secret_key")
        with empty.connect() as conn:
            assert backup.table_counts(conn) == manifest["counts"]
        empty.dispose()
        assert (tmp_path / "new" / "secret_key").read_bytes() == (Path(app.instance_path) / "secret_key").read_bytes()
        assert notes == [] or "秘密鍵" in notes[0]
    else:  # PostgreSQL: an empty database is the schema dropped
        from sqlalchemy import text
        with app.app_context():
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        result = runner.invoke(args=["restore", str(tmp_path / "cli")])
        assert result.exit_code == 0, result.output
        with app.app_context(), db.engine.connect() as conn:
            assert backup.table_counts(conn) == manifest["counts"]
    result = runner.invoke(args=["backup", "verify", str(tmp_path / "missing")])
    assert result.exit_code != 0 and "目録" in result.output
