"""Pages cost what they render: the SQL statements of the trainee's pages are bounded and do not grow
with the content or with the trainee's answers (no lazy loads from views or templates: the content
comes from services/content_views, the user with roles and organization from one statement)."""
from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event

from tests.test_player import PAGE_RE, _page, best_answer
from trainer.extensions import db
from trainer.models import Role

ROOT = Path(__file__).resolve().parents[1]
SWAP = {"X-Trainer-Swap": "1"}

#: The most statements each page may run (the user loader's statement included).
# answer+feedback: user, attempt, insert, the mastery_dirty mark (services/mastery.mark_dirty), update, and
# the attempt with its answers — read in the answer's transaction instead of a count, so the page reads nothing;
# home: +1 for the certificates the next-step panel offers for download (services/next_step.py)
BOUNDS = {"player": 2, "feedback": 2, "answer+feedback": 6, "module": 2, "progress": 3, "home": 4}


@contextmanager
def counting(app):
    seen: list[str] = []
    with app.app_context():
        engine = db.engine

    def note(_conn, _cursor, statement, *_args):
        seen.append(re.sub(r"\s+", " ", statement)[:120])

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def _import_full_content(app) -> int:
    """The project's real content (ten times the modules of the small fixture): a new release."""
    from trainer.content.loader import content_hash, load_content
    from trainer.content.sync import import_content

    with app.app_context():
        content, problems = load_content(ROOT / "content")
        assert problems == []
        import_content(content, content_hash(ROOT / "content"))
        db.session.commit()
        return len(content.modules)


def _start(client, module_id: str) -> int:
    response = client.post(f"/learn/modules/{module_id}/start")
    return int(PAGE_RE.search(response.headers["Location"]).group(1))


def _answer_through(app, client, attempt_id: int, pages: int) -> int:
    """Answer (without counting) up to ``pages`` pages; returns the index of the next question page."""
    index = 0
    while True:
        total, key, qtype, data = _page(app, attempt_id, index)
        if key is not None and index >= pages and qtype not in ("self_rating", "reflection"):
            return index  # a scored question: its answer also marks the trainee for the mastery summary
        if key is not None:
            client.post(f"/learn/attempts/{attempt_id}/pages/{index}/answer", data={"token": f"w{index}", **best_answer(qtype, data)})
        client.post(f"/learn/attempts/{attempt_id}/pages/{index}/next")
        index += 1


def _measure(app, client, module_id: str, answered_pages: int) -> dict[str, int]:
    attempt_id = _start(client, module_id)
    index = _answer_through(app, client, attempt_id, answered_pages)
    client.get("/learn/")  # warm: the first request after an import builds the content cache
    _, _, qtype, data = _page(app, attempt_id, index)
    page_url = f"/learn/attempts/{attempt_id}/pages/{index}"
    counts = {}
    for name, call in [
        ("player", lambda: client.get(page_url)),
        ("answer+feedback", lambda: client.post(f"{page_url}/answer", headers=SWAP,
                                                data={"token": f"m{index}", **best_answer(qtype, data)})),
        ("feedback", lambda: client.get(page_url)),
        ("module", lambda: client.get(f"/learn/modules/{module_id}")),
        ("progress", lambda: client.get("/learn/progress")),
        ("home", lambda: client.get("/learn/")),
    ]:
        with counting(app) as seen:
            response = call()
        assert response.status_code == 200, (name, response.status_code)
        counts[name] = len(seen)
        assert len(seen) <= BOUNDS[name], (name, "\n".join(seen))
    return counts


def test_trainee_pages_run_few_statements_whatever_the_content_and_answers(app, client, make_user, login, small_content):
    login(make_user(Role.TRAINEE))
    small = _measure(app, client, "m-case-01", answered_pages=0)
    modules = _import_full_content(app)
    assert modules > 10  # much more content than the fixture's three modules
    large = _measure(app, client, "m-case-02", answered_pages=6)  # ... and more answers
    assert large == small, (small, large)


def _title(app, module_id: str) -> str:
    from trainer.models import Module

    with app.app_context():
        return db.session.get(Module, module_id).title


def test_the_content_cache_follows_a_new_release(app, client, make_user, login, small_content):
    login(make_user(Role.TRAINEE))
    before = _title(app, "m-case-01")
    assert before in client.get("/learn/modules/m-case-01").get_data(as_text=True)
    assert client.get("/learn/modules/m-case-03").status_code == 404  # not in the small fixture
    _import_full_content(app)
    after = _title(app, "m-case-01")
    assert after != before
    with counting(app) as seen:
        body = client.get("/learn/modules/m-case-01").get_data(as_text=True)
    assert after in body and before not in body
    assert len(seen) > BOUNDS["module"]  # the first request after the release rebuilt the cache
    with counting(app) as seen:
        assert client.get("/learn/modules/m-case-03").status_code == 200
    assert len(seen) <= BOUNDS["module"]
