"""Two app instances sharing one database (as two gunicorn workers or two servers behind a load
balancer do): a facilitator acting on one is seen by a participant polling the other."""
from __future__ import annotations

import re

from tests.conftest import PASSWORD
from trainer import create_app
from trainer.extensions import db
from trainer.models import Role


def test_live_state_is_shared_between_instances(app, make_user, small_content, midday):
    other = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "TESTING": True,
                        "WTF_CSRF_ENABLED": False, "SECRET_KEY": app.config["SECRET_KEY"],
                        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    make_user(Role.FACILITATOR, login_id="fac-x")
    make_user(Role.TRAINEE, login_id="tr-x")
    facilitator = app.test_client()
    facilitator.post("/auth/login", data={"login_id": "fac-x", "password": PASSWORD})
    response = facilitator.post("/facilitate/workshops/new", data={
        "title": "二台構成", "day": midday.isoformat(), "start": "00:00", "end": "23:59", "modules": ["m-case-01"],
        "participants": "tr-x"})
    wid = int(re.search(r"/workshops/(\d+)", response.headers["Location"]).group(1))
    sid = int(re.search(r"/live/(\d+)", facilitator.post(f"/facilitate/workshops/{wid}/live",
                                                          data={"module_id": "m-case-01"}).headers["Location"]).group(1))
    participant = other.test_client()  # logged in and polling through the other instance
    participant.post("/auth/login", data={"login_id": "tr-x", "password": PASSWORD})
    participant.get(f"/live/{sid}")
    before = participant.get(f"/live/{sid}/state").get_json()["version"]
    facilitator.post(f"/facilitate/live/{sid}/action", data={"action": "next"})
    assert participant.get(f"/live/{sid}/state").get_json()["version"] == before + 1
    assert "2 / " in participant.get(f"/live/{sid}/panel").get_data(as_text=True)
    with other.app_context():
        db.engine.dispose()
