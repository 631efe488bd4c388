"""Migrations build the schema the models describe, and go down again cleanly."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from trainer import create_app
from trainer.extensions import db


def _diff(app) -> list:
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
        return compare_metadata(context, db.metadata)


def test_models_and_migrations_agree(app):
    """The session app was built with `upgrade()`: autogenerate must find nothing pending."""
    assert _diff(app) == []


def test_upgrade_from_empty_and_downgrade_to_base(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'm.sqlite3'}", "SECRET_KEY": "m" * 40})
    with app.app_context():
        upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert {"organizations", "users", "user_roles", "audit_events", "questions", "question_versions"} <= tables
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        db.engine.dispose()
    assert _diff(app) == []


#: services/review_counts.py is exact only while these mark every change (migration 0014); a later
#: migration that rebuilds attempts, users or user_roles (SQLite batch mode copies the table and
#: drops its triggers) must create them again
REVIEW_TRIGGERS_SQLITE = {
    "review_mark_attempts_insert": "attempts", "review_mark_attempts_delete": "attempts",
    "review_mark_attempts_update": "attempts",
    "review_mark_users_insert": "users", "review_mark_users_delete": "users", "review_mark_users_update": "users",
    "review_mark_roles_insert": "user_roles", "review_mark_roles_delete": "user_roles",
    "review_mark_roles_update": "user_roles",
}
REVIEW_TRIGGERS_PG = {"review_mark_attempts": "attempts", "review_mark_users": "users", "review_mark_roles": "user_roles"}


def _triggers(conn) -> dict[str, str]:
    """name -> table of the database's triggers."""
    if conn.dialect.name == "postgresql":
        rows = conn.execute(text("SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                                 "WHERE NOT t.tgisinternal AND t.tgenabled <> 'D'"))
    else:
        rows = conn.execute(text("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'"))
    return dict(rows.all())


def test_the_review_marking_triggers_exist_after_the_migrations(app):
    """The session app's database was built by `upgrade()` (SQLite or PostgreSQL, as the suite runs)."""
    with app.app_context(), db.engine.connect() as conn:
        expected = REVIEW_TRIGGERS_PG if conn.dialect.name == "postgresql" else REVIEW_TRIGGERS_SQLITE
        found = _triggers(conn)
    assert {name: found.get(name) for name in expected} == expected


def test_the_review_marking_triggers_survive_downgrade_and_upgrade(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 't.sqlite3'}", "SECRET_KEY": "t" * 40})
    with app.app_context():
        upgrade()
        downgrade(revision="0013_revision_loop")
        with db.engine.connect() as conn:
            assert not set(_triggers(conn)) & set(REVIEW_TRIGGERS_SQLITE)
        upgrade()
        with db.engine.connect() as conn:
            found = _triggers(conn)
        db.engine.dispose()
    assert {name: found.get(name) for name in REVIEW_TRIGGERS_SQLITE} == REVIEW_TRIGGERS_SQLITE
