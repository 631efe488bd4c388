"""Migrations never lose data.

For every revision: a database is built at that revision and filled with rows in every table
(every column given a value, references between the rows), then upgraded to head; every row of
every column that existed before must still be there, unchanged (compared by hashes per table).
Downgrades: from head with data, each step down either keeps everything that survives it or, when it
would drop data, refuses with a message naming what would be lost, changing nothing; with --force it
goes through and keeps everything else. Runs on SQLite and on PostgreSQL (TRAINER_TEST_DATABASE_URL).
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import MetaData, create_engine, select, text
from sqlalchemy.engine import make_url

from trainer import create_app
from trainer.extensions import db
from trainer.migrating import MigrationRefused, _alembic_config

MIGRATIONS = str(Path(__file__).resolve().parents[1] / "migrations")
ROWS = 4
BASE_TIME = datetime(2020, 4, 1, 9, 0)  # stored data, not "now": any past instant will do


def _revisions() -> list[str]:
    script = ScriptDirectory.from_config(_alembic_config(MIGRATIONS))
    return [r.revision for r in reversed(list(script.walk_revisions("base", "heads")))]


REVISIONS = _revisions()


@pytest.fixture
def scratch_url(tmp_path):
    """An empty database of the kind the suite runs on (a separate PostgreSQL database)."""
    base = os.environ.get("TRAINER_TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    url = make_url(base).set(drivername="postgresql+psycopg")
    name = f"{url.database}_migrations"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def scratch_app(scratch_url, tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINER_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": scratch_url, "SECRET_KEY": "m" * 40, "TESTING": True})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# --- filling every table of whatever schema a revision has ---------------------------------

def _value(table, column, i: int):
    """A value for a plain (non-reference) column: distinct per row, with Japanese text and quotes."""
    try:
        kind = column.type.python_type
    except NotImplementedError:
        kind = str
    if kind is bool:
        return i % 2 == 0
    if kind is int:
        return i + 1
    if kind is float:
        return i + 0.25
    if kind is datetime:
        return BASE_TIME + timedelta(days=i, minutes=7 * i)
    if kind is date:
        return BASE_TIME.date() + timedelta(days=i)
    if kind in (dict, list):
        return {"row": i, "text": "日本語の値", "items": [i, "a'b"]}
    length = getattr(column.type, "length", None) or 200
    return f"{i}{table.name[:2]}値'「{column.name}」"[:length]


def _insert_order(tables) -> list:
    """Tables in an order where every NOT NULL reference points to a table filled earlier."""
    ordered, done = [], set()
    pending = list(tables)
    while pending:
        for table in pending:
            needs = {fk.column.table.name for c in table.columns if not c.nullable for fk in c.foreign_keys}
            if needs - {table.name} <= done:
                ordered.append(table)
                done.add(table.name)
                pending.remove(table)
                break
        else:
            raise AssertionError(f"circular NOT NULL references among {[t.name for t in pending]}")
    return ordered


#: Tables that triggers write into when other tables change (0014: the trainees marked for the
#: reviewer home's running totals).
MARKED_BY_TRIGGERS = {"review_dirty"}


def fill(conn) -> None:
    """ROWS rows in every table; nullable references are set in a second pass (cycles, self-refs)."""
    md = MetaData()
    md.reflect(conn)
    rows: dict[str, list[dict]] = {}
    later: list[tuple] = []
    for table in _insert_order([t for t in md.tables.values() if t.name != "alembic_version"]):
        rows[table.name] = []
        for i in range(ROWS):
            row = {}
            for column in table.columns:
                fk = next(iter(column.foreign_keys), None)
                if fk is None:
                    row[column.name] = _value(table, column, 100 + i)  # clear of rows a migration seeded
                elif fk.column.table.name in rows and fk.column.table.name != table.name:
                    row[column.name] = rows[fk.column.table.name][i][fk.column.name]
                else:
                    row[column.name] = None
                    later.append((table, column, fk, i))
            rows[table.name].append(row)
        if table.name in MARKED_BY_TRIGGERS:
            conn.execute(table.delete())  # the users and attempts filled before marked themselves there
        conn.execute(table.insert(), rows[table.name])
    for table, column, fk, i in later:
        if i == 0:
            continue  # the first row keeps its NULL: optional references are often empty
        target = rows[fk.column.table.name][i - 1 if fk.column.table.name == table.name else i]
        key = {c.name: rows[table.name][i][c.name] for c in table.primary_key.columns}
        conn.execute(table.update().where(*[table.c[k] == v for k, v in key.items()])
                     .values({column.name: target[fk.column.name]}))
    if conn.dialect.name == "postgresql":
        for table in md.tables.values():
            for column in table.primary_key.columns:
                if column.autoincrement is True or (column.type.python_type is int and len(table.primary_key.columns) == 1):
                    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                                      f"(SELECT max({column.name}) FROM {table.name}))"))


def _norm(value):
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value, float):
        return round(value, 6)
    return value


def snapshot(conn) -> dict[str, dict[str, object]]:
    """Per table: its columns, sorted normalised rows and their hash."""
    md = MetaData()
    md.reflect(conn)
    out = {}
    for table in md.tables.values():
        if table.name == "alembic_version":
            continue
        names = sorted(c.name for c in table.columns)
        data = sorted((tuple(_norm(r[n]) for n in names) for r in conn.execute(select(table)).mappings()), key=repr)
        out[table.name] = {"columns": names, "rows": data,
                           "hash": hashlib.sha256(repr(data).encode()).hexdigest()}
    return out


def project(snap: dict, keep: dict) -> dict[str, str]:
    """The hash of each table of ``snap`` restricted to the columns ``keep`` had for it."""
    hashes = {}
    for name, old in keep.items():
        if name not in snap:
            continue
        cols = [c for c in old["columns"] if c in snap[name]["columns"]]
        idx = [snap[name]["columns"].index(c) for c in cols]
        rows = sorted((tuple(r[i] for i in idx) for r in snap[name]["rows"]), key=repr)
        hashes[name] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return hashes


#: Tables a later revision drops on purpose: derived from the answers, rebuilt from them.
DROPPED_DERIVED = {"mastery_watermark"}  # 0009: replaced by a mark per trainee (mastery_dirty)


def _restricted(old: dict, new: dict) -> tuple[dict, dict]:
    """Both snapshots hashed on the columns that exist in both (what must have survived)."""
    common = {n: {"columns": [c for c in old[n]["columns"] if c in new[n]["columns"]]} for n in old if n in new}
    return project(old, common), project(new, common)


def _revision(app) -> str | None:
    with app.app_context(), db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


# --- the tests -------------------------------------------------------------------------------

@pytest.mark.parametrize("revision", REVISIONS[:-1])
def test_data_at_every_revision_survives_the_upgrade_to_head(scratch_app, revision):
    with scratch_app.app_context():
        upgrade(revision=revision)
        with db.engine.begin() as conn:
            fill(conn)
        with db.engine.connect() as conn:
            before = snapshot(conn)
        assert all(len(t["rows"]) >= ROWS for t in before.values())  # a migration may seed rows too
        upgrade()
        with db.engine.connect() as conn:
            after = snapshot(conn)
            if conn.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1  # enforcement back on
    assert _revision(scratch_app) == REVISIONS[-1]
    before = {n: t for n, t in before.items() if n not in DROPPED_DERIVED}
    old, new = _restricted(before, after)
    assert set(old) == set(before), "a table disappeared in the upgrade"
    assert {n for n in old if old[n] != new[n]} == set()
    assert all(before[n]["columns"] == [c for c in after[n]["columns"] if c in before[n]["columns"]] for n in before), \
        "a column disappeared in the upgrade"


def test_answers_at_0003_survive_the_upgrade_that_rebuilt_attempts(scratch_app):
    """The reported loss: answers at 0003_progress, upgrade to head (0004 rebuilds attempts)."""
    with scratch_app.app_context():
        upgrade(revision="0003_progress")
        with db.engine.begin() as conn:
            fill(conn)
            answers = conn.execute(text("SELECT count(*) FROM answers")).scalar_one()
        upgrade()
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM answers")).scalar_one() == answers == ROWS


@pytest.mark.parametrize("step", range(len(REVISIONS) - 1, 0, -1))
def test_each_downgrade_step_keeps_data_or_refuses(scratch_app, step):
    target, source = REVISIONS[step - 1], REVISIONS[step]
    with scratch_app.app_context():
        upgrade(revision=source)
        with db.engine.begin() as conn:
            fill(conn)
        with db.engine.connect() as conn:
            before = snapshot(conn)
        try:
            downgrade(revision=target)
        except MigrationRefused as exc:
            message = str(exc)
            assert "--force" in message and "失われます" in message
            with db.engine.connect() as conn:
                assert snapshot(conn) == before  # refused: nothing changed
            assert _revision(scratch_app) == source
            downgrade(revision=target, x_arg=["force=1"])
        assert _revision(scratch_app) == target
        with db.engine.connect() as conn:
            after = snapshot(conn)
    old, new = _restricted(before, after)
    assert {n for n in old if old[n] != new[n]} == set(), "a surviving table changed in the downgrade"


def test_downgrades_that_would_drop_records_refuse(scratch_app):
    """Workshops and answers are records; the mastery summary is derived and may go."""
    with scratch_app.app_context():
        upgrade(revision="0005_point_mastery")
        with db.engine.begin() as conn:
            fill(conn)
        head = _revision(scratch_app)
        with pytest.raises(MigrationRefused, match="テーブル workshops（4 行）.*attempts.workshop_id（3 行）"):
            downgrade(revision="0003_progress")
        assert _revision(scratch_app) == head  # one transaction: not even the derived step was undone
        downgrade(revision="0004_workshops")  # point_mastery is derived from the answers
        assert _revision(scratch_app) == "0004_workshops"
        downgrade(revision="0003_progress", x_arg=["force=1"])
        with pytest.raises(MigrationRefused, match="テーブル attempts（4 行）、テーブル answers（4 行）"):
            downgrade(revision="0002_content")
        assert _revision(scratch_app) == "0003_progress"


def test_cli_upgrade_copies_a_sqlite_database_with_data_first(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINER_INSTANCE_PATH", str(tmp_path / "instance"))
    path = tmp_path / "old.sqlite3"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "m" * 40})
    with app.app_context():
        upgrade(revision="0003_progress")
        with db.engine.begin() as conn:
            fill(conn)
        db.engine.dispose()
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "マイグレーションの前にデータベースを複製しました" in result.output
    copy = Path(result.output.split("複製しました: ")[1].split()[0])
    assert copy.parent == tmp_path / "instance" / "backups"
    with sqlite3.connect(copy) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0003_progress",)
        assert conn.execute("SELECT count(*) FROM answers").fetchone() == (ROWS,)
    again = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert again.exit_code == 0 and "複製" not in again.output  # nothing pending: no copy
    with app.app_context():
        db.engine.dispose()


def test_cli_downgrade_refuses_without_force_and_says_what(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINER_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'd.sqlite3'}", "SECRET_KEY": "m" * 40})
    with app.app_context():
        upgrade()
        with db.engine.begin() as conn:
            fill(conn)
        db.engine.dispose()
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["db", "downgrade", "base"])
    assert refused.exit_code != 0
    assert "失われます" in refused.output and "テーブル" in refused.output and "（4 行）" in refused.output
    assert _revision(app) == REVISIONS[-1]
    forced = runner.invoke(args=["db", "downgrade", "base", "--force"])
    assert forced.exit_code == 0, forced.output
    assert _revision(app) is None
    with app.app_context():
        db.engine.dispose()
