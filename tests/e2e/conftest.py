"""Browser tests: a real HTTP server on a free port and the system Chromium through Playwright.

Without Chromium the tests skip with a reason; with TRAINER_REQUIRE_E2E=1 (CI) they fail instead.
"""
from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from trainer import create_app
from trainer.extensions import db
from trainer.models import Role
from trainer.services import accounts, demo, orgs

CHROMIUM = os.environ.get("TRAINER_CHROMIUM", "/usr/bin/chromium")
E2E_PASSWORD = "e2e-password-123"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"


def _chromium_missing() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium fonts-ipafont-gothic)"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _chromium_missing()
    if reason is None:
        return
    if os.environ.get("TRAINER_REQUIRE_E2E") == "1":
        raise pytest.UsageError(f"browser tests are required here, but {reason}")
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def browser_type_launch_args():
    return {
        "executable_path": CHROMIUM,
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
    }


@pytest.fixture(scope="session")
def browser_context_args():
    return {"locale": "ja-JP", "timezone_id": "Asia/Tokyo", "viewport": {"width": 360, "height": 780}}


@pytest.fixture(scope="session")
def e2e_app(tmp_path_factory):
    """An app on its own SQLite file, migrated and loaded like the quick start (demo data)."""
    from flask_migrate import upgrade

    base = tmp_path_factory.mktemp("e2e")
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": os.environ.get("TRAINER_TEST_DATABASE_URL") and
        os.environ["TRAINER_TEST_DATABASE_URL"] or f"sqlite:///{base / 'e2e.sqlite3'}",
        "SECRET_KEY": "e2e-secret-key-for-tests-only-0123456789",
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    })
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            from sqlalchemy import text

            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        orgs.seed_jurisdictions()
        _import_real_content(app)
        demo.load_sample_municipalities()
        demo.create_demo_accounts()
        for login_id, *_ in demo.DEMO_ACCOUNTS:  # known passwords for the browser
            user = accounts.find_by_login(login_id)
            user.password_hash = accounts.hash_password(E2E_PASSWORD)
        db.session.commit()
    return app


def _import_real_content(app) -> None:
    from trainer.content.loader import content_hash, load_content
    from trainer.content.sync import import_content

    root = Path(__file__).resolve().parents[2] / "content"
    content, problems = load_content(root)
    assert problems == [], problems
    import_content(content, content_hash(root))


@pytest.fixture(scope="session")
def live_server(e2e_app):
    server = make_server("127.0.0.1", 0, e2e_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    with e2e_app.app_context():
        db.engine.dispose()


@pytest.fixture
def login_as(page, live_server):
    def do(login_id: str, password: str = E2E_PASSWORD):
        page.goto(f"{live_server}/auth/login")
        page.get_by_label("ログインID").fill(login_id)
        page.get_by_label("パスワード").fill(password)
        page.get_by_role("button", name="ログイン").click()
        page.wait_for_load_state("networkidle")

    return do


@pytest.fixture
def screenshot(page):
    SCREENSHOTS.mkdir(exist_ok=True)

    def shoot(name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shoot


def axe_violations(page, impacts=("serious", "critical")) -> list[dict]:
    from axe_playwright_python.sync_playwright import Axe

    result = Axe().run(page)
    return [v for v in result.response["violations"] if v.get("impact") in impacts]


__all__ = ["axe_violations", "E2E_PASSWORD", "Role"]
