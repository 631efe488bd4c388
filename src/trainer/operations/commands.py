"""CLI commands for operations: backup, restore, data purge and export (added by cli.register_commands)."""
from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from trainer.extensions import db


def register(app: Flask) -> None:
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    from trainer.operations.lifecycle_commands import data_group

    app.cli.add_command(data_group)


def _secret_file() -> Path:
    return Path(current_app.instance_path) / "secret_key"


@click.command("backup", help="バックアップ: `trainer backup [PATH]` で取得（既定は instance/backups/ の下に日時の名前）、"
                              "`trainer backup verify PATH` で目録（行数・リビジョン・sha256）と照合します。")
@click.argument("args", nargs=-1, metavar="[PATH] | verify PATH")
@with_appcontext
def backup_command(args: tuple[str, ...]) -> None:
    from trainer.operations import backup

    if args and args[0] == "verify":
        if len(args) != 2:
            raise click.UsageError("使い方: trainer backup verify PATH")
        _verify(Path(args[1]))
        return
    if len(args) > 1:
        raise click.UsageError("使い方: trainer backup [PATH]")
    target = Path(args[0]) if args else backup.default_target(Path(current_app.instance_path) / "backups")
    try:
        manifest = backup.create(db.engine, target, _secret_file())
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    rows = sum(manifest["counts"].values())
    click.echo(f"バックアップを取りました: {target}（{manifest['kind']}、リビジョン {manifest['revision']}、"
               f"{len(manifest['counts'])} 表 {rows} 行）")
    if "secret_key" not in manifest["files"]:
        click.echo("秘密鍵は TRAINER_SECRET_KEY で設定されているため含めていません。別に保管してください。")


def _verify(path: Path) -> None:
    from trainer.operations import backup

    try:
        check = backup.verify(path)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    if not check.ok:
        for problem in check.problems:
            click.echo(problem, err=True)
        raise click.ClickException(f"{path} は目録と一致しません（{len(check.problems)} 件）。")
    counts = check.manifest["counts"]
    click.echo(f"問題ありません: {path}（{check.manifest['kind']}、リビジョン {check.manifest['revision']}、"
               f"{len(counts)} 表 {sum(counts.values())} 行が目録と一致）")


@click.command("restore", help="バックアップ（trainer backup のディレクトリ）を復元します。データのあるデータベースには "
                               "--force なしでは復元しません。アプリを止めてから実行してください。")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="データのあるデータベースを上書きする")
@with_appcontext
def restore_command(path: Path, force: bool) -> None:
    from trainer.operations import backup

    try:
        notes = backup.restore(db.engine, path, force=force, secret_file=_secret_file())
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    manifest = backup.read_manifest(path)
    click.echo(f"復元しました: {path}（リビジョン {manifest['revision']}、{sum(manifest['counts'].values())} 行、目録と一致）")
    for note in notes:
        click.echo(note)
