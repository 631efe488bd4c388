"""`trainer data ...`: retention purge and one person's record (see operations/lifecycle.py)."""
from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from trainer.extensions import db


@click.group(cls=AppGroup, name="data")
def data_group() -> None:
    """個人データの保存期間と開示（data purge / data export-user）"""


@data_group.command("purge")
@click.option("--dry-run", is_flag=True, help="対象を表示するだけで、何も変えない")
def data_purge(dry_run: bool) -> None:
    """Anonymize trainees deactivated more than TRAINER_RETENTION_YEARS ago (counts and figures stay)."""
    from trainer.dates import jst
    from trainer.operations import lifecycle

    years = current_app.config["RETENTION_YEARS"]
    if years < 1:
        raise click.ClickException("TRAINER_RETENTION_YEARS は 1 以上の整数にしてください。")
    due, undated = lifecycle.departed_trainees(lifecycle.cutoff(years))
    click.echo(f"保存期間 {years} 年: 利用停止から {years} 年を過ぎた受講者 {len(due)} 人")
    for person in due:
        click.echo(f"  {person.login_id}（利用停止 {jst(person.deactivated_at, '%Y-%m-%d')}）")
    if undated:
        click.echo(f"利用停止の日が監査ログにない受講者 {len(undated)} 人は対象にしていません: "
                   + "、".join(p.login_id for p in undated[:20]) + (" ほか" if len(undated) > 20 else ""))
    if dry_run:
        click.echo("--dry-run のため、何も変えていません。")
        db.session.rollback()
        return
    count = lifecycle.purge(due, years=years)
    db.session.commit()
    click.echo(f"{count} 人の個人情報（氏名、ログインID、メール、パスワード、自由記述）を削除しました。"
               "回答・修了などの件数は変わりません。")


@data_group.command("export-user")
@click.argument("login_id")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="書き出すファイル（既定は標準出力）")
def data_export_user(login_id: str, fmt: str, output: Path | None) -> None:
    """One person's whole record (for a disclosure request); the export is audited."""
    from trainer.operations import lifecycle
    from trainer.services import accounts, audit

    login_id = accounts.normalise_login_id(login_id)
    user = None if accounts.login_id_problem(login_id) else accounts.find_by_login(login_id)
    if user is None:
        shown = login_id if login_id.isprintable() else repr(login_id)
        raise click.ClickException(f"ログインID {shown} は登録されていません。")
    record = lifecycle.user_record(user)
    body = (json.dumps(record, ensure_ascii=False, indent=2) + "\n" if fmt == "json"
            else lifecycle.record_as_csv(record))
    audit.record("data.export_user", subject=user.login_id,
                 detail={"format": fmt, "answers": len(record["answers"]), "attempts": len(record["attempts"])})
    if output is not None:
        output.write_text(body, encoding="utf-8-sig" if fmt == "csv" else "utf-8", newline="")
    db.session.commit()
    if output is not None:
        click.echo(f"{user.login_id} の記録を {output} に書き出しました（監査ログに記録）。", err=True)
    else:
        click.echo(body, nl=False)
