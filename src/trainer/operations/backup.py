"""Consistent backups that restore, with a manifest to check them against.

A backup is a directory::

    trainer-backup-YYYYmmdd-HHMMSS/
        manifest.json     kind, alembic revision, row counts per table, sha256 of the files, created_at
        database.sqlite3  (SQLite: a copy through the backup API, WAL included)  or
        database.pgdump   (PostgreSQL: ``pg_dump -Fc`` of an exported snapshot)
        secret_key        the instance secret key (mode 0600), when the instance keeps one

The row counts are taken from the very same state as the copy: on SQLite from the copy itself, on
PostgreSQL in the REPEATABLE READ transaction whose snapshot ``pg_dump --snapshot`` dumps. So a
backup taken while trainees answer still matches its manifest exactly.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from trainer.dates import now_jst, utcnow
from trainer.migrating import holds_data, sqlite_path

MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"
SECRET_FILE = "secret_key"
FORMAT = 1


class BackupError(Exception):
    """A backup, check or restore that cannot go on; the message says why (Japanese)."""


@dataclass
class Check:
    """The outcome of verifying a backup: problems found (empty when it matches its manifest)."""

    manifest: dict
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


# --- helpers ----------------------------------------------------------------------------------

def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_counts(conn: Connection) -> dict[str, int]:
    """Rows per table (alembic_version included), in the connection's current transaction."""
    names = sorted(inspect(conn).get_table_names())
    return {name: conn.execute(text(f"SELECT count(*) FROM {_quote(name)}")).scalar_one() for name in names}


def _revision(conn: Connection) -> str | None:
    if "alembic_version" not in inspect(conn).get_table_names():
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def libpq_url(engine: Engine) -> str:
    """The engine's PostgreSQL URL for pg_dump and pg_restore, without the password (see pg_env)."""
    return engine.url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)


def pg_env(engine: Engine) -> dict[str, str]:
    """The environment for pg_dump / pg_restore: the password in PGPASSWORD, never on a command line."""
    env = dict(os.environ)
    if engine.url.password:
        env["PGPASSWORD"] = str(engine.url.password)
    return env


def default_target(base: Path) -> Path:
    return base / f"trainer-backup-{now_jst().strftime('%Y%m%d-%H%M%S')}"


# --- backup -----------------------------------------------------------------------------------

def create(engine: Engine, target: Path, secret_file: Path | None = None) -> dict:
    """Write a backup of the database (and the instance secret key) into the new directory target."""
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} は空ではありません。新しいディレクトリを指定してください。")
    target.mkdir(parents=True, exist_ok=True)
    os.chmod(target, 0o700)  # it holds personal records and the secret key
    if engine.dialect.name == "sqlite":
        manifest = _backup_sqlite(engine, target)
    elif engine.dialect.name == "postgresql":
        manifest = _backup_postgresql(engine, target)
    else:  # pragma: no cover - only the two supported databases
        raise BackupError(f"{engine.dialect.name} のバックアップには対応していません。")
    files = {manifest["database_file"]: sha256(target / manifest["database_file"])}
    if secret_file is not None and secret_file.is_file():
        shutil.copyfile(secret_file, target / SECRET_FILE)
        os.chmod(target / SECRET_FILE, 0o600)
        files[SECRET_FILE] = sha256(target / SECRET_FILE)
    manifest.update(format=FORMAT, created_at=utcnow().isoformat(), files=files)
    (target / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return manifest


def _backup_sqlite(engine: Engine, target: Path) -> dict:
    source = sqlite_path(engine)
    if source is None or not source.exists():
        raise BackupError("SQLite のデータベースファイルが見つかりません。")
    copy = target / SQLITE_FILE
    with contextlib.closing(sqlite3.connect(source, timeout=30)) as src, \
            contextlib.closing(sqlite3.connect(copy)) as dst:
        src.backup(dst)  # one step: a consistent snapshot, answers still in the WAL included
    return {"kind": "sqlite", "database_file": SQLITE_FILE, **_sqlite_state(copy)}


def _sqlite_state(path: Path) -> dict:
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            return {"revision": _revision(conn), "counts": table_counts(conn)}
    finally:
        engine.dispose()


def _backup_postgresql(engine: Engine, target: Path) -> dict:
    if shutil.which("pg_dump") is None:
        raise BackupError("pg_dump が見つかりません（Debian: apt-get install postgresql-client）。"
                          f"手動で取る場合: pg_dump -Fc -f {target / PG_FILE} <データベースURL>")
    dump = target / PG_FILE
    with engine.connect() as conn:
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        counts = table_counts(conn)  # the same snapshot that pg_dump dumps
        revision = _revision(conn)
        result = subprocess.run(["pg_dump", "-Fc", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                                 "-f", str(dump), "-d", libpq_url(engine)],
                                capture_output=True, text=True, check=False, env=pg_env(engine))
        conn.rollback()
    if result.returncode != 0:
        raise BackupError(f"pg_dump が失敗しました: {result.stderr.strip()}")
    return {"kind": "postgresql", "database_file": PG_FILE, "revision": revision, "counts": counts}


# --- verify -----------------------------------------------------------------------------------

def read_manifest(path: Path) -> dict:
    file = path / MANIFEST
    if not file.is_file():
        raise BackupError(f"{path} にバックアップの目録（{MANIFEST}）がありません。")
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupError(f"{file} を読めません: {exc}") from exc


def verify(path: Path) -> Check:
    """Does the backup open, and do its files, counts and revision match the manifest?"""
    manifest = read_manifest(path)
    check = Check(manifest)
    for name, digest in manifest.get("files", {}).items():
        if not (path / name).is_file():
            check.problems.append(f"{name} がありません。")
        elif sha256(path / name) != digest:
            check.problems.append(f"{name} のハッシュ（sha256）が目録と一致しません（壊れているか、書き換えられています）。")
    if check.problems:
        return check
    try:
        state = (_sqlite_check(path / SQLITE_FILE) if manifest["kind"] == "sqlite"
                 else _pgdump_state(path / PG_FILE))
    except (sqlite3.Error, BackupError, OSError) as exc:
        check.problems.append(f"データベースの複製を開けません: {exc}")
        return check
    check.problems += compare(manifest, state)
    return check


def compare(manifest: dict, state: dict) -> list[str]:
    """Differences between a manifest and a database state (revision, row counts per table)."""
    problems = []
    if state["revision"] != manifest.get("revision"):
        problems.append(f"マイグレーションのリビジョンが違います: 目録 {manifest.get('revision')}、実際 {state['revision']}")
    expected, actual = manifest.get("counts", {}), state["counts"]
    for table in sorted(set(expected) | set(actual)):
        if expected.get(table) != actual.get(table):
            problems.append(f"{table} の行数が違います: 目録 {expected.get(table)}、実際 {actual.get(table)}")
    return problems


def _sqlite_check(path: Path) -> dict:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
    if result != "ok":
        raise BackupError(f"integrity_check: {result}")
    return _sqlite_state(path)


_COPY = re.compile(r'^COPY (?:public\.)?("?)(.+?)\1 \(')


def _pgdump_state(dump: Path) -> dict:
    """Row counts and revision read from the dump itself (pg_restore's COPY blocks: one row a line)."""
    if shutil.which("pg_restore") is None:
        raise BackupError("pg_restore が見つかりません（Debian: apt-get install postgresql-client）。")
    listing = subprocess.run(["pg_restore", "--list", str(dump)], capture_output=True, text=True, check=False)
    if listing.returncode != 0:
        raise BackupError(listing.stderr.strip())
    tables = re.findall(r"TABLE public (\S+) ", listing.stdout)
    counts = {name: 0 for name in tables}
    revision = None
    with subprocess.Popen(["pg_restore", "--data-only", "-f", "-", str(dump)], stdout=subprocess.PIPE,
                          text=True, encoding="utf-8") as proc:
        current = None
        for line in proc.stdout:
            if current is None:
                match = _COPY.match(line)
                if match:
                    current = match.group(2)
                    counts.setdefault(current, 0)
            elif line == "\\.\n":
                current = None
            else:
                counts[current] += 1
                if current == "alembic_version":
                    revision = line.rstrip("\n")
    if proc.returncode != 0:
        raise BackupError("pg_restore がデータを読めませんでした。")
    return {"revision": revision, "counts": counts}


# --- restore ----------------------------------------------------------------------------------

def restore(engine: Engine, path: Path, *, force: bool = False, secret_file: Path | None = None) -> list[str]:
    """Restore a verified backup into this instance's database; refuses a database with data unless force.

    Returns notes for the operator (Japanese). The database must not be in use (stop the app first)."""
    check = verify(path)
    if not check.ok:
        raise BackupError("バックアップが目録と一致しないため、復元しません: " + " / ".join(check.problems))
    manifest = check.manifest
    kind = "sqlite" if engine.dialect.name == "sqlite" else "postgresql"
    if manifest["kind"] != kind:
        raise BackupError(f"このバックアップは {manifest['kind']} のものです（復元先は {kind}）。"
                          "データベースの種類をまたぐ復元には対応していません。")
    if kind == "sqlite" and sqlite_path(engine) is not None:  # a brand-new instance folder
        sqlite_path(engine).parent.mkdir(parents=True, exist_ok=True)
    if holds_data(engine) and not force:
        raise BackupError("復元先のデータベースにはデータがあります。上書きしてよい場合だけ --force を付けてください"
                          "（先に trainer backup で今の状態を残すことをおすすめします）。")
    engine.dispose()
    if kind == "sqlite":
        _restore_sqlite(engine, path / SQLITE_FILE)
    else:
        _restore_postgresql(engine, path / PG_FILE)
    engine.dispose()
    with engine.connect() as conn:
        problems = compare(manifest, {"revision": _revision(conn), "counts": table_counts(conn)})
    if problems:
        raise BackupError("復元後のデータベースが目録と一致しません: " + " / ".join(problems))
    return _restore_secret(path, secret_file)


def _restore_sqlite(engine: Engine, source: Path) -> None:
    target = sqlite_path(engine)
    if target is None:
        raise BackupError("復元先の SQLite ファイルがわかりません。")
    target.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src, \
            contextlib.closing(sqlite3.connect(target, timeout=30)) as dst:
        src.backup(dst)  # replaces every page of the target, in one transaction


def _restore_postgresql(engine: Engine, dump: Path) -> None:
    """Drop what the dump holds and recreate it, in ONE transaction: a restore that fails leaves the
    database exactly as it was (never half-restored, never emptied)."""
    result = subprocess.run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--clean",
                             "--if-exists", "--single-transaction", "-d", libpq_url(engine), str(dump)],
                            capture_output=True, text=True, check=False, env=pg_env(engine))
    if result.returncode != 0:
        raise BackupError(f"pg_restore が失敗しました（データベースは復元前のままです）: {result.stderr.strip()}")


def _restore_secret(path: Path, secret_file: Path | None) -> list[str]:
    saved = path / SECRET_FILE
    if not saved.is_file():
        return ["バックアップに秘密鍵は含まれていません（TRAINER_SECRET_KEY で設定している場合は同じ値を設定してください）。"]
    if secret_file is None:
        return []
    if secret_file.is_file() and secret_file.read_bytes() == saved.read_bytes():
        return []
    if secret_file.is_file():
        secret_file.replace(secret_file.with_name(secret_file.name + ".before-restore"))
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(saved, secret_file)
    os.chmod(secret_file, 0o600)
    return [f"秘密鍵を {secret_file} に戻しました（ログイン中の人はログインし直しになることがあります）。"]
