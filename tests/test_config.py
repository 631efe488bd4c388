"""Configuration defaults, overrides and the production guard."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from trainer import create_app
from trainer.config import ConfigError
from trainer.extensions import db


def test_secret_key_is_generated_once_under_instance(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINER_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("TRAINER_SECRET_KEY", raising=False)
    first = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}).config["SECRET_KEY"]
    second = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}).config["SECRET_KEY"]
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_default_database_is_sqlite_under_instance(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINER_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("TRAINER_DATABASE_URL", raising=False)
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'trainer.sqlite3'}"
    with app.app_context():
        with db.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 5000  # TRAINER_SQLITE_BUSY_TIMEOUT: 5 s, below the request timeout
        db.engine.dispose()


def test_environment_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINER_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("TRAINER_DATABASE_URL", "postgresql://someone@db.invalid/trainer")
    monkeypatch.setenv("TRAINER_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("TRAINER_IDLE_MINUTES", "30")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://someone@db.invalid/trainer"
    assert app.config["SECRET_KEY"] == "k" * 40
    assert app.config["PERMANENT_SESSION_LIFETIME"].total_seconds() == 1800


@pytest.mark.parametrize("secret,phrase", [(None, "requires TRAINER_SECRET_KEY"), ("dev", "default or too short"),
                                           ("short-secret", "default or too short")])
def test_production_refuses_missing_or_weak_secret(tmp_path, monkeypatch, secret, phrase):
    monkeypatch.setenv("TRAINER_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("TRAINER_ENV", "production")
    if secret is None:
        monkeypatch.delenv("TRAINER_SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("TRAINER_SECRET_KEY", secret)
    with pytest.raises(ConfigError, match=phrase):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert not (tmp_path / "secret_key").exists()


def test_production_sets_secure_cookies(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINER_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("TRAINER_ENV", "production")
    monkeypatch.setenv("TRAINER_SECRET_KEY", "s" * 48)
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_instance_folder_is_created_for_the_default_database(tmp_path, monkeypatch):
    instance = tmp_path / "new" / "instance"
    monkeypatch.setenv("TRAINER_INSTANCE_PATH", str(instance))
    monkeypatch.setenv("TRAINER_SECRET_KEY", "s" * 40)  # no generated key file to create the folder
    monkeypatch.delenv("TRAINER_DATABASE_URL", raising=False)
    app = create_app()
    with app.app_context():
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
        db.engine.dispose()
    assert (instance / "trainer.sqlite3").exists()
