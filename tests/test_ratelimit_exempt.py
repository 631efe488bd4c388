"""The limiter skips its before-request work for blueprints exempt from every limit (extensions.Limiter),
and every limit that must hold still holds: defaults outside exempt blueprints, limits decorated on a
view (even inside an exempt blueprint), and the app's own limited routes (/verify)."""
from __future__ import annotations

from flask import Blueprint, Flask

from tests.test_player import trainee  # noqa: F401
from trainer.extensions import Limiter


def _tiny_app() -> Flask:
    app = Flask(__name__)
    app.config.update(RATELIMIT_STORAGE_URI="memory://", RATELIMIT_HEADERS_ENABLED=True)
    limiter = Limiter(key_func=lambda: "one-client", default_limits=["3 per minute"])
    free, guarded = Blueprint("free", __name__), Blueprint("guarded", __name__)

    @free.get("/free")
    def open_page():
        return "ok"

    @free.get("/free/limited")
    @limiter.limit("2 per minute")
    def limited_page():
        return "ok"

    @guarded.get("/guarded")
    def guarded_page():
        return "ok"

    app.register_blueprint(free)
    app.register_blueprint(guarded)
    limiter.exempt(free)
    limiter.init_app(app)
    return app


def test_exempt_blueprints_are_free_and_every_other_limit_holds():
    client = _tiny_app().test_client()
    assert [client.get("/free").status_code for _ in range(6)] == [200] * 6
    assert [client.get("/free/limited").status_code for _ in range(3)] == [200, 200, 429]
    assert [client.get("/guarded").status_code for _ in range(4)] == [200, 200, 200, 429]


def test_the_players_requests_skip_the_limiters_check_and_verify_does_not(app, client, trainee, monkeypatch):
    from tests.test_player import _start
    from trainer.extensions import limiter

    calls = []
    original = limiter.identify_request

    def counting():
        calls.append(1)
        return original()

    monkeypatch.setattr(limiter, "identify_request", counting)  # the first step of the limiter's check
    attempt_id, index = _start(client)
    assert client.get(f"/learn/attempts/{attempt_id}/pages/{index}").status_code == 200
    assert calls == []
    client.get("/verify/ZZZZ-ZZZZ-ZZZZ")
    assert calls  # the limited route: the check ran
