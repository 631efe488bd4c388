"""Time has one seam: trainer.dates. Moving the clock there moves it for the whole app."""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import time_machine
from sqlalchemy import select

from tests.conftest import PASSWORD
from trainer.dates import now_jst, today_jst, utcnow
from trainer.extensions import db
from trainer.models import Role, Workshop

SRC = Path(__file__).resolve().parents[1] / "src" / "trainer"
WALL_CLOCK = re.compile(r"datetime\.now\(|datetime\.utcnow\(|date\.today\(|time\.time\(|func\.now\(|"
                        r"CURRENT_TIMESTAMP|server_default=.*now")


def test_only_the_seam_reads_the_wall_clock():
    offenders = [f"{path.relative_to(SRC)}:{n}: {line.strip()}"
                 for path in SRC.rglob("*.py") if path.name != "dates.py"
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if WALL_CLOCK.search(line)]
    assert offenders == []


def test_moving_the_clock_moves_the_seam():
    before = utcnow()
    with time_machine.travel(before + timedelta(days=400), tick=False):
        assert utcnow() - before >= timedelta(days=400)
        assert today_jst() == now_jst().date()
    assert abs(utcnow() - before) < timedelta(minutes=5)


def test_a_join_code_lasts_until_its_workshop_ends_on_the_apps_clock(app, client, make_user, small_content, midday):
    """The workshop is today (whatever today is); a day later, by the app's clock, its code is closed."""
    make_user(Role.FACILITATOR, login_id="fac-clock")
    make_user(Role.TRAINEE, login_id="tr-clock")
    client.post("/auth/login", data={"login_id": "fac-clock", "password": PASSWORD})
    created = client.post("/facilitate/workshops/new", data={
        "title": "時計の研修会", "day": midday.isoformat(), "start": "00:00", "end": "23:59", "modules": ["m-case-01"]})
    assert created.status_code == 302
    with app.app_context():
        code = db.session.scalar(select(Workshop.join_code))
    assert client.get(f"/join/{code}").status_code == 200
    with time_machine.travel(utcnow() + timedelta(days=1), tick=True):
        assert client.get(f"/join/{code}").status_code == 404


def test_timestamps_come_back_aware_utc_and_unchanged(app_ctx):
    """UTCDateTime's own result processor (faster than TypeDecorator's) gives what process_result_value
    gives: the same instant, aware, in UTC — on SQLite and PostgreSQL."""
    from sqlalchemy import Column, Integer, MetaData, Table, insert

    from trainer.dates import JST
    from trainer.models.types import UTCDateTime

    table = Table("clock_round_trip", MetaData(), Column("id", Integer, primary_key=True), Column("at", UTCDateTime),
                  prefixes=["TEMPORARY"])
    now = utcnow()
    values = [now, now.astimezone(JST), now.replace(microsecond=0) - timedelta(days=400), None]
    with db.engine.connect() as conn:
        table.create(conn)
        try:
            conn.execute(insert(table), [{"id": i, "at": v} for i, v in enumerate(values)])
            back = [row.at for row in conn.execute(select(table.c.at).order_by(table.c.id))]
        finally:
            table.drop(conn)
            conn.commit()
    assert back == values and all(v.tzinfo is not None and v.utcoffset() == timedelta(0) for v in back[:3])
    column = UTCDateTime()
    naive = now.replace(tzinfo=None)
    assert column.result_processor(db.engine.dialect, None) is not None
    assert column.process_result_value(naive, db.engine.dialect) == now
