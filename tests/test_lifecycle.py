"""Data lifecycle (issue 16.7): trainees deactivated longer ago than the retention period lose their
personal fields while every count stays; one person's record can be exported; both are audited."""
from __future__ import annotations

import csv
import io
import json
import random
from datetime import timedelta

import time_machine
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from tests.test_point_mastery import _play
from trainer.dates import utcnow
from trainer.extensions import db
from trainer.models import Answer, Attempt, AuditEvent, Module, Opinion, PointMastery, Role, RosterImport, User
from trainer.operations import lifecycle
from trainer.services import accounts, audit, opinions

TABLES = (User, Answer, Attempt, Opinion, PointMastery, AuditEvent)


def _figures() -> dict:
    """What reviewers' figures are made of: rows, scores, completions, mastery."""
    figures = {model.__tablename__: db.session.scalar(select(func.count()).select_from(model)) for model in TABLES}
    figures["score_sum"] = db.session.scalar(select(func.sum(Answer.score)))
    figures["completed"] = db.session.scalar(select(func.count()).where(Attempt.completed_at.is_not(None)))
    figures["mastery"] = sorted(db.session.execute(
        select(PointMastery.user_id, PointMastery.point_id, PointMastery.answered, PointMastery.score_sum)).all())
    return figures


def _departed(app, make_user, login_id: str, *, years_ago: float | None, name: str = "山田太郎"):
    user = make_user(Role.TRAINEE, login_id=login_id, name=name)
    with app.app_context():
        user = db.session.get(User, user.id)
        user.email = f"{login_id}@example.jp"
        _play(user, "m-case-01", random.Random(1))
        opinions.add(user, f"{name}の意見です", case_id=db.session.get(Module, "m-case-01").case_id)
        db.session.commit()
        if years_ago is not None:
            with time_machine.travel(utcnow() - timedelta(days=365.25 * years_ago), tick=False):
                accounts.set_active(user, False, actor=None)
                db.session.commit()
        elif login_id.startswith("undated"):
            user.active = False  # deactivated without an audit event (its date is unknown)
            db.session.commit()
        return user.id


def test_purge_anonymizes_only_departed_trainees_past_retention_and_keeps_every_figure(app, runner, make_user,
                                                                                       small_content):
    app.config["RETENTION_YEARS"] = 5
    old = _departed(app, make_user, "long-gone", years_ago=6)
    recent = _departed(app, make_user, "recent-leaver", years_ago=1, name="佐藤花子")
    active = _departed(app, make_user, "still-here", years_ago=None, name="鈴木一郎")
    _departed(app, make_user, "undated-1", years_ago=None, name="田中次郎")
    with app.app_context():  # a roster import that created the account, and a failed sign-in from an address
        db.session.add(RosterImport(token_hash="0" * 64, accounts=[["long-gone", False], ["recent-leaver", True]]))
        audit.record("login.failure", subject="long-gone", ip="198.51.100.4")
        db.session.commit()
        before = _figures()

    dry = runner.invoke(args=["data", "purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "long-gone" in dry.output and "recent-leaver" not in dry.output and "still-here" not in dry.output
    assert "undated-1" in dry.output and "対象にしていません" in dry.output and "何も変えていません" in dry.output
    with app.app_context():
        assert _figures() == before
        assert db.session.get(User, old).display_name == "山田太郎"

    result = runner.invoke(args=["data", "purge"])
    assert result.exit_code == 0 and "1 人の個人情報" in result.output, result.output
    with app.app_context():
        after = _figures()
        assert after["audit_events"] == before["audit_events"] + 1  # the purge itself
        assert {k: v for k, v in after.items() if k != "audit_events"} == \
            {k: v for k, v in before.items() if k != "audit_events"}
        gone = db.session.get(User, old)
        assert (gone.login_id, gone.display_name, gone.email, gone.furigana) == \
            (f"purged-{old}", lifecycle.PURGED_NAME, None, None)
        texts = [a.response for a in db.session.scalars(select(Answer).where(Answer.user_id == old))
                 if "text" in a.response]
        assert texts and all(t == {"text": ""} for t in texts)
        assert [o.body for o in db.session.scalars(select(Opinion).where(Opinion.user_id == old))] == [""]
        assert not db.session.scalar(select(func.count()).where(AuditEvent.subject == "long-gone"))
        assert not db.session.scalar(select(func.count()).where(AuditEvent.ip == "198.51.100.4"))
        assert db.session.scalars(select(RosterImport)).one().accounts == \
            [[f"purged-{old}", False], ["recent-leaver", True]]
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "data.purge")).one()
        assert event.detail["accounts"] == [f"purged-{old}"] and event.detail["retention_years"] == 5
        for uid, name in ((recent, "佐藤花子"), (active, "鈴木一郎")):
            assert db.session.get(User, uid).display_name == name
        assert "佐藤花子の意見です" in {o.body for o in db.session.scalars(select(Opinion))}
    again = runner.invoke(args=["data", "purge", "--dry-run"])
    assert "受講者 0 人" in again.output  # already purged accounts are not found again


def test_export_user_gives_the_whole_record_as_json_or_csv_and_is_audited(app, runner, make_user, small_content,
                                                                         tmp_path):
    uid = _departed(app, make_user, "ask-for-record", years_ago=None, name="高橋美咲")
    result = runner.invoke(args=["data", "export-user", "ask-for-record"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    with app.app_context():
        answered = db.session.scalar(select(func.count()).where(Answer.user_id == uid))
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "data.export_user")).all()
    assert record["account"]["display_name"] == "高橋美咲" and record["account"]["email"] == "ask-for-record@example.jp"
    assert len(record["answers"]) == answered > 0 and record["attempts"][0]["module"] == "m-case-01"
    assert record["opinions"][0]["body"] == "高橋美咲の意見です" and "point_mastery" in record
    assert [(e.subject, e.detail["answers"]) for e in events] == [("ask-for-record", answered)]

    out = tmp_path / "record.csv"
    result = runner.invoke(args=["data", "export-user", "ask-for-record", "--format", "csv", "-o", str(out)])
    assert result.exit_code == 0, result.output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel in Japan opens UTF-8 with a BOM
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["区分", "番号", "項目", "値"] and ["account", "", "display_name", "高橋美咲"] in rows
    assert sum(1 for r in rows if r[0] == "answers" and r[2] == "question") == answered

    missing = runner.invoke(args=["data", "export-user", "nobody-here"])
    assert missing.exit_code != 0 and "登録されていません" in missing.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(AuditEvent.action == "data.export_user")) == 2
