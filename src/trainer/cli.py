"""The `trainer` console script: Flask's CLI bound to create_app, plus the project's commands."""
from __future__ import annotations

import secrets
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup, with_appcontext
from flask_migrate import downgrade as migrate_downgrade
from flask_migrate import upgrade as migrate_upgrade
from flask_migrate.cli import db as migrate_db

from trainer.extensions import db
from trainer.models import Role


def _create_app() -> Flask:
    from trainer import create_app

    return create_app()


class TrainerGroup(FlaskGroup):
    """Flask's CLI group; its ``db`` group is Flask-Migrate's with a guarded upgrade and downgrade.

    Flask loads plugin commands (Flask-Migrate's ``db``) lazily into the group itself, where they
    would win over the app's commands, so ours is put in place right after they are loaded."""

    def _load_plugin_commands(self) -> None:
        super()._load_plugin_commands()
        self.add_command(db_group)


def safe_upgrade(revision: str = "head") -> None:
    """Upgrade the database; a SQLite database holding data is first copied with the backup API."""
    from trainer.migrating import backup_before_upgrade

    directory = current_app.extensions["migrate"].directory
    backup = backup_before_upgrade(db.engine, directory, Path(current_app.instance_path) / "backups")
    if backup is not None:
        click.echo(f"マイグレーションの前にデータベースを複製しました: {backup}")
    try:
        migrate_upgrade(revision=revision)
    except Exception as exc:
        _migration_failed(exc, backup)


def _migration_failed(exc: Exception, backup: Path | None) -> None:
    from trainer.migrating import MigrationRefused

    where = f"（マイグレーション前の複製: {backup}）" if backup else ""
    if isinstance(exc, MigrationRefused):
        raise click.ClickException(f"{exc}{where}") from exc
    raise click.ClickException(f"マイグレーションに失敗しました: {exc}{where}") from exc


db_group = click.Group("db", help="データベースのマイグレーション（Flask-Migrate）。upgrade は実行前に SQLite を複製し、"
                                  "downgrade はデータが失われる場合 --force なしでは止まります。",
                       params=migrate_db.params, callback=migrate_db.callback,
                       commands={name: cmd for name, cmd in migrate_db.commands.items()
                                 if name not in ("upgrade", "downgrade")})


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Upgrade to a later revision (head by default), after a backup of a SQLite database with data."""
    safe_upgrade(revision)


@db_group.command("downgrade")
@click.argument("revision", default="-1")
@click.option("--force", is_flag=True, help="データが失われる場合でも戻す（先に trainer backup を取ってください）")
@with_appcontext
def db_downgrade(revision: str, force: bool) -> None:
    """Revert to an earlier revision; refuses when data would be lost, unless --force."""
    from trainer.migrating import MigrationRefused

    try:
        migrate_downgrade(revision=revision, x_arg=["force=1"] if force else [])
    except MigrationRefused as exc:
        raise click.ClickException(str(exc)) from exc


cli = TrainerGroup(create_app=_create_app, help="trainer: ひきこもり支援者研修プラットフォームの管理コマンド")


def register_commands(app: Flask) -> None:
    app.cli.add_command(db_group)  # also for app.cli (the test runner); `trainer` gets it via TrainerGroup
    app.cli.add_command(setup_command)
    app.cli.add_command(org_group)
    app.cli.add_command(user_group)
    app.cli.add_command(roster_group)
    app.cli.add_command(content_group)
    from trainer.operations.commands import register as register_operations

    register_operations(app)  # backup, restore, data purge / export-user
    app.cli.add_command(mastery_group)
    app.cli.add_command(review_group)
    app.cli.add_command(demo_group)


@click.command("setup")
@with_appcontext
@click.option("--demo/--no-demo", default=False, help="デモ用の組織とアカウントも作る")
@click.option("--simulate", "simulate_n", type=int, default=0, metavar="N",
              help="【模擬】の受講者 N 人の合成データも作る（trainer demo simulate と同じ）")
def setup_command(demo: bool, simulate_n: int) -> None:
    """Migrate the database, seed jurisdictions, import content (and demo data). Safe to rerun."""
    from trainer.services import demo as demo_data
    from trainer.services import orgs

    safe_upgrade()
    new = orgs.seed_jurisdictions()
    db.session.commit()
    click.echo(f"都道府県・政令指定都市: {new} 件を新規登録（計67）")
    _import_content(_content_root(None))
    if demo:
        demo_data.load_sample_municipalities()
        created = demo_data.create_demo_accounts()
        db.session.commit()
        _print_demo(created)
    if simulate_n:
        _simulate(simulate_n, seed=1)


def _print_demo(created: list[tuple[str, str, str]]) -> None:
    if not created:
        click.echo("デモアカウントは作成済みです（パスワードは初回作成時に表示しました）。"
                   "忘れた場合: trainer user reset-password demo-trainee")
        return
    click.echo("\nデモアカウント（パスワードはこの一度だけ表示します）:")
    for login_id, password, roles in created:
        click.echo(f"  {login_id:<18} {password}   ({roles})")
    click.echo("")


@click.group(cls=AppGroup, name="demo")
def demo_group() -> None:
    """デモ用のデータ"""


@demo_group.command("simulate")
@click.option("--trainees", default=3000, show_default=True, type=int, help="【模擬】の受講者の数")
@click.option("--seed", default=1, show_default=True, type=int, help="乱数の種（同じ種なら同じ集団）")
@click.option("--remove", is_flag=True, help="【模擬】のデータをすべて削除する")
def demo_simulate(trainees: int, seed: int, remove: bool) -> None:
    """A clearly labelled synthetic population (【模擬】) for the statistics and the national view."""
    from trainer.services import simulate

    if remove:
        people, places = simulate.remove()
        db.session.commit()
        click.echo(f"【模擬】のデータを削除しました（受講者 {people} 人、組織 {places} 件）。")
        return
    _simulate(trainees, seed)


def _simulate(trainees: int, seed: int) -> None:
    from trainer.services import simulate

    try:
        result = simulate.simulate(trainees, seed)
    except simulate.SimulationError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    if not result.created:
        click.echo(f"【模擬】のデータは作成済みです（受講者 {result.trainees} 人）。作り直すには "
                   "trainer demo simulate --remove のあとで実行してください。")
        return
    click.echo(f"【模擬】のデータを作成しました：受講者 {result.trainees} 人、組織 {result.organizations} 件、"
               f"取り組み {result.attempts} 件、回答 {result.answers} 件。削除: trainer demo simulate --remove")


@click.group(cls=AppGroup, name="org")
def org_group() -> None:
    """組織（市区町村・事業所）の管理"""


@org_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def org_import(file: Path) -> None:
    """Import municipalities from a CSV in the standard code-list layout."""
    from trainer.services import audit, orgs
    from trainer.services.csvio import CsvDecodeError, decode_excel_csv

    try:
        rows, errors = orgs.parse_municipalities(decode_excel_csv(file.read_bytes()))
    except CsvDecodeError as exc:
        raise click.ClickException(str(exc)) from exc
    if errors:
        for error in errors:
            click.echo(f"{file}: {error}", err=True)
        raise click.ClickException(f"{len(errors)} 件の誤りがあるため、何も取り込みませんでした。")
    report = orgs.import_municipalities(rows)
    audit.record("org.import", detail={"file": file.name, "created": report.created, "updated": report.updated})
    db.session.commit()
    click.echo(f"新規 {report.created} 件、更新 {report.updated} 件、変更なし {report.unchanged} 件")


@click.group(cls=AppGroup, name="user")
def user_group() -> None:
    """利用者アカウントの管理"""


@user_group.command("create")
@click.argument("login_id")
@click.option("--name", required=True, help="氏名")
@click.option("--org", "org_code", required=True, help="所属の団体コード（6桁）")
@click.option("--role", "roles", multiple=True, type=click.Choice([r.value for r in Role]), default=["trainee"])
@click.option("--scope", "scope_code", help="閲覧者の担当（都道府県・政令指定都市の団体コード）")
@click.option("--furigana", default=None)
@click.password_option("--password", help="パスワード（10文字以上）")
def user_create(login_id, name, org_code, roles, scope_code, furigana, password) -> None:
    """Create an account."""
    from trainer.services import accounts, orgs

    org = _org_by_code(org_code)
    scope = _org_by_code(scope_code) if scope_code else None
    try:
        user = accounts.create_user(login_id=login_id, display_name=name, organization=org, password=password,
                                    roles=[Role(r) for r in roles], reviewer_scope=scope, furigana=furigana)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"作成しました: {user.login_id}（{user.display_name}、{org.name}）")


def _org_by_code(code: str):
    """The organization of a 6-digit code, or a ClickException in Japanese."""
    from trainer.services import orgs

    org = orgs.by_code(code) if code.isascii() and code.isdigit() and len(code) == 6 else None
    if org is None:
        shown = code if code.isprintable() else repr(code)
        raise click.ClickException(f"団体コード {shown} の組織が見つかりません（6桁の団体コードを指定してください）。")
    return org


@user_group.command("reset-password")
@click.argument("login_id")
def user_reset_password(login_id: str) -> None:
    """Give an account a new random password (printed once); it must be changed at next login."""
    from trainer.services import accounts

    login_id = accounts.normalise_login_id(login_id)
    user = None if accounts.login_id_problem(login_id) else accounts.find_by_login(login_id)
    if user is None:
        raise click.ClickException(f"ログインID {login_id if login_id.isprintable() else repr(login_id)} は登録されていません。")
    password = accounts.generate_password()
    accounts.reset_password(user, password, actor=None, generated=True)
    db.session.commit()
    click.echo(f"{user.login_id} の新しいパスワード: {password}")


@click.group(cls=AppGroup, name="roster")
def roster_group() -> None:
    """名簿（CSV）の取り込み"""


@roster_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="確認だけして取り込まない")
def roster_import(file: Path, dry_run: bool) -> None:
    """Import accounts from a roster CSV (UTF-8 or CP932). Any error imports nothing."""
    from trainer.services import roster

    preview = roster.parse_roster(file.read_bytes())
    if preview.errors:
        for error in preview.errors:
            click.echo(f"{file}: {error}", err=True)
        raise click.ClickException(f"{len(preview.errors)} 件の誤りがあるため、何も取り込みませんでした。")
    if dry_run:
        click.echo(f"{len(preview.rows)} 行に誤りはありません（--dry-run のため取り込んでいません）。")
        return
    token = secrets.token_urlsafe(24)
    record, _ = roster.apply_roster(preview, actor=None, token=token)
    db.session.commit()
    created = roster.results(record, token)
    click.echo(f"{len(created)} 件のアカウントを作成しました。")
    for account, generated in created:
        if generated:
            click.echo(f"  {account.login_id}\t{generated}")


@click.group(cls=AppGroup, name="mastery")
def mastery_group() -> None:
    """閲覧者向けの習熟度の集計（回答から作り直せる派生データ）"""


@mastery_group.command("refresh")
@click.option("--all", "all_trainees", is_flag=True, help="印の有無にかかわらず、回答のある全員を作り直す")
def mastery_refresh_command(all_trainees: bool) -> None:
    """Rebuild the mastery summaries of the trainees marked since the last refresh (or everyone)."""
    from trainer.services import mastery

    rebuilt = mastery.refresh_summary(all_trainees=all_trainees)
    db.session.commit()
    click.echo(f"{rebuilt} 人の習熟度の集計を作り直しました（残り {mastery.pending()} 人）。")


@click.group(cls=AppGroup, name="review")
def review_group() -> None:
    """閲覧者ホームの集計（受講記録から作り直せる派生データ）"""


@review_group.command("refresh")
@click.option("--all", "everyone", is_flag=True, help="印の有無にかかわらず、全員分を作り直す")
def review_refresh_command(everyone: bool) -> None:
    """Bring the reviewer home's running totals up to date (services/review_counts.py)."""
    from trainer.services import review, review_counts

    done = review_counts.refresh(review.catalogue(), rebuild=everyone)
    db.session.commit()
    click.echo(f"{done} 人分の閲覧者ホームの集計を更新しました（残り {review_counts.pending()} 人）。")


@click.group(cls=AppGroup, name="content")
def content_group() -> None:
    """教材（content/）の検証と取り込み"""


def _content_root(path: Path | None) -> Path:
    from flask import current_app

    return path if path is not None else Path(current_app.config["CONTENT_DIR"])


def _load_or_fail(root: Path):
    from trainer.content.loader import load_content

    content, problems = load_content(root)
    if problems:
        for problem in problems:
            click.echo(str(problem), err=True)
        click.echo(f"{len(problems)} 件の問題があります。何も取り込んでいません。", err=True)
        raise SystemExit(1)
    return content


@content_group.command("check")
@click.argument("path", required=False, type=click.Path(path_type=Path))
def content_check(path: Path | None) -> None:
    """Validate every content file, then the editorial rules and the cue audit; fail on any problem."""
    from trainer.content.audit import audit
    from trainer.content.auditreport import format_summary, format_worst
    from trainer.content.coverage import coverage, format_table
    from trainer.content.rules import editorial_problems

    root = _content_root(path)
    content = _load_or_fail(root)
    click.echo(format_table(coverage(content), content))
    problems = [str(problem) for problem in editorial_problems(content, root)]
    report = audit(content, root)
    click.echo(format_summary(report))
    for line in [*problems, *report["failures"]]:
        click.echo(line, err=True)
    if report["failures"]:
        click.echo("\n" + format_worst(report), err=True)
    count = len(problems) + len(report["failures"])
    if count:
        click.echo(f"{count} 件の問題があります。", err=True)
        raise SystemExit(1)
    click.echo("問題は見つかりませんでした。")


@content_group.command("stats")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="JSON で出力する（手がかり監査の数字をキー audit に含む）")
def content_stats(path: Path | None, as_json: bool) -> None:
    """Coverage figures: counts, questions per point and item, cases per pattern (and the audit in JSON)."""
    import json

    from trainer.content.audit import audit
    from trainer.content.coverage import coverage, format_table

    root = _content_root(path)
    content = _load_or_fail(root)
    figures = coverage(content)
    if as_json:
        click.echo(json.dumps({**figures, "audit": audit(content, root)}, ensure_ascii=False, indent=2))
    else:
        click.echo(format_table(figures, content))


@content_group.command("audit")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="JSON で出力する")
@click.option("--module", "module_id", default=None, help="このモジュールの数字と問題ごとの手がかりだけを表示する")
def content_audit(path: Path | None, as_json: bool, module_id: str | None) -> None:
    """The cue audit: can the best option be found from the wording alone? (a report; check is the gate)"""
    import json

    from trainer.content.audit import audit
    from trainer.content.auditreport import format_module, format_report

    root = _content_root(path)
    report = audit(_load_or_fail(root), root)
    if module_id is not None and not any(m["id"] == module_id for m in report["modules"]):
        raise click.ClickException(f"モジュール {module_id} はありません。")
    if as_json:
        if module_id is not None:
            report = next(m for m in report["modules"] if m["id"] == module_id)
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        click.echo(format_module(report, module_id) if module_id else format_report(report))


@content_group.command("import")
@click.argument("path", required=False, type=click.Path(path_type=Path))
def content_import(path: Path | None) -> None:
    """Validate and import the content (idempotent: unchanged files change nothing)."""
    _import_content(_content_root(path))


def _import_content(root: Path) -> None:
    from trainer.content.loader import content_hash
    from trainer.content.sync import import_content
    from trainer.services import audit

    content = _load_or_fail(root)
    report = import_content(content, content_hash(root))
    if report.changed:
        audit.record("content.import", subject=report.release.content_hash[:12], detail={"release": report.release.id})
    db.session.commit()
    if not report.changed:
        click.echo("教材: 変更はありません。")
        return
    click.echo(f"教材: 版 {report.release.id}（{report.release.content_hash[:12]}）を取り込みました。")
    for line in report.lines():
        click.echo(f"  {line}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(cli())
