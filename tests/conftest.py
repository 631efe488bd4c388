"""Shared fixtures: one app per test session on SQLite (default) or PostgreSQL.

Set TRAINER_TEST_DATABASE_URL=postgresql://127.0.0.1/test to run the suite on PostgreSQL.
"""
from __future__ import annotations

import os
from datetime import datetime, time
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import text

from trainer import create_app
from trainer.dates import JST, today_jst
from trainer.extensions import db, limiter
from trainer.models import Organization, OrgKind, Role
from trainer.services import accounts, orgs

# Under libfaketime (.ci/run's runs with the clock a year ahead and back, FAKETIME_DONT_FAKE_MONOTONIC=1),
# time.sleep fails with EINVAL: CPython sleeps with clock_nanosleep on an absolute monotonic deadline, which
# the library rewrites. select() with a timeout is not rewritten, so sleep through it; and start child
# processes (gunicorn, redis-server) on the real clock, without the library.
if "faketime" in os.environ.get("LD_PRELOAD", ""):
    import select
    import time as _time

    def _select_sleep(seconds: float) -> None:
        if seconds > 0:
            select.select([], [], [], seconds)

    _time.sleep = _select_sleep
    os.environ.pop("LD_PRELOAD")  # this process keeps the library (and its FAKETIME setting); children do not

# Every app a test builds (not only the fixtures') brings the mastery summary up to date when it is read,
# instead of starting a refresher thread that would outlive its test and write to the shared test database
# (tests/test_mastery_exact.py starts the thread on purpose, with its own setting).
os.environ.setdefault("TRAINER_MASTERY_REFRESH_SECONDS", "0")

PASSWORD = "correct-horse-42"
ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(config, items):
    """Browser tests last: their live server and browser threads must not run beside the unit tests
    (some measure memory), and the fast tests report first."""
    items.sort(key=lambda item: "tests/e2e/" in str(item.fspath).replace("\\", "/"))


def _database_url(tmp_path_factory) -> str:
    url = os.environ.get("TRAINER_TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


def _reset_schema(app) -> None:
    """Drop everything and build the schema through the migrations (so they are exercised)."""
    from flask_migrate import upgrade

    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        else:
            db.drop_all()
            with db.engine.begin() as conn:
                conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        upgrade()


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    instance = tmp_path_factory.mktemp("instance")
    os.environ["TRAINER_INSTANCE_PATH"] = str(instance)
    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": _database_url(tmp_path_factory),
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "CONTENT_DIR": str(ROOT / "content"),
        "WTF_CSRF_ENABLED": False,
        "MASTERY_REFRESH_SECONDS": 0,  # summaries brought up to date when read (tests/test_mastery_exact.py checks the thread)
    })
    _reset_schema(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _empty_all_tables() -> None:
    from trainer.services import player

    player.clear_caches()
    tables = [t.name for t in db.metadata.sorted_tables]
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        return
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.commit()
        for name in reversed(tables):
            conn.exec_driver_sql(f"DELETE FROM {name}")
        conn.commit()
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        conn.commit()


@pytest.fixture
def clean_db(app):
    """Every test starts from the seeded jurisdictions and nothing else."""
    with app.app_context():
        db.session.remove()
        _empty_all_tables()
        orgs.seed_jurisdictions()
        db.session.commit()
        limiter.reset()
    yield
    with app.app_context():
        db.session.remove()


@pytest.fixture
def midday():
    """The clock at 12:00 in Japan today, still ticking: an event "today 00:00-23:59" is under way
    whatever the real date and hour (tests never name a calendar date that can expire)."""
    day = today_jst()
    with time_machine.travel(datetime.combine(day, time(12), tzinfo=JST), tick=True):
        yield day


@pytest.fixture
def app_ctx(app, clean_db):
    with app.app_context():
        yield app


@pytest.fixture
def client(app, clean_db):
    return app.test_client()


@pytest.fixture
def runner(app, clean_db):
    return app.test_cli_runner()


def _in_app_context(app):
    """Run a factory in its own app context, so requests made later get a fresh `g`."""

    def decorate(func):
        def wrapped(*args, **kwargs):
            with app.app_context():
                org = kwargs.get("org")
                if org is not None:
                    kwargs["org"] = db.session.merge(org)
                obj = func(*args, **kwargs)
                _ = obj.organization if hasattr(obj, "organization") else obj.parent  # load for later use
                return obj

        return wrapped

    return decorate


@pytest.fixture
def make_org(app, clean_db):
    """Factory: a municipality or office under a parent given by code or object."""

    @_in_app_context(app)
    def make(name: str, parent: Organization | str = "140007", *, code: str | None = None,
             kind: OrgKind = OrgKind.MUNICIPALITY) -> Organization:
        parent_org = orgs.by_code(parent) if isinstance(parent, str) else parent
        if kind == OrgKind.OFFICE:
            org = orgs.create_office(parent_org, name, "相談窓口")
        else:
            org = Organization(name=name, code=code, kind=kind, parent=parent_org, programme="none",
                               jurisdiction_id=orgs.jurisdiction_for(parent_org))
            db.session.add(org)
        db.session.commit()
        return org

    return make


@pytest.fixture
def make_user(app, clean_db):
    """Factory: an account with the given roles (a reviewer gets the scope's code)."""
    counter = iter(range(1, 10_000))

    @_in_app_context(app)
    def make(*roles: Role, org: Organization | None = None, scope: str | Organization | None = None,
             login_id: str | None = None, name: str | None = None) -> object:
        n = next(counter)
        roles = roles or (Role.TRAINEE,)
        scope_org = orgs.by_code(scope) if isinstance(scope, str) else scope
        if Role.REVIEWER in roles and scope_org is None:
            scope_org = orgs.by_code("140007")
        user = accounts.create_user(
            login_id=login_id or f"user{n:03d}", display_name=name or f"利用者{n}",
            organization=org or scope_org or orgs.by_code("140007"), password=PASSWORD,
            roles=roles, reviewer_scope=scope_org,
        )
        db.session.commit()
        return user

    return make


@pytest.fixture
def login(client):
    """Log a user in through the real login form."""

    def do(user_or_login, password: str = PASSWORD):
        login_id = getattr(user_or_login, "login_id", user_or_login)
        return client.post("/auth/login", data={"login_id": login_id, "password": password})

    return do


FIXTURE_CONTENT = ROOT / "tests" / "content" / "fixtures" / "valid"


def import_fixture_content(tmp_path: Path):
    """Copy the small valid fixture tree to tmp_path/content and import it (inside an app context)."""
    import shutil

    from tests.content.conftest import framework_yaml
    from trainer.content.loader import content_hash, load_content
    from trainer.content.sync import import_content

    root = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, root)
    (root / "framework.yaml").write_text(framework_yaml(), encoding="utf-8")
    content, problems = load_content(root)
    assert problems == []
    import_content(content, content_hash(root))
    db.session.commit()
    return content


@pytest.fixture
def small_content(app, clean_db, tmp_path):
    """The small valid fixture tree (tests/content/fixtures/valid) imported into the database."""
    with app.app_context():
        return import_fixture_content(tmp_path)
