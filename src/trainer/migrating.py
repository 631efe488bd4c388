"""Migrations are data operations: run them without losing a row.

- On SQLite, batch migrations rebuild a table (CREATE new, copy, DROP old, RENAME). With foreign keys
  enforced, ``DROP TABLE attempts`` cascades into ``answers``. :func:`sqlite_foreign_keys_off` turns
  enforcement off for the migration's own connection and :func:`check_foreign_keys` verifies the
  result afterwards (``PRAGMA foreign_key_check``), as SQLite's documentation prescribes.
- Before an upgrade changes a SQLite database that holds data, :func:`upgrade` takes a consistent
  copy with SQLite's backup API (answers still in the WAL included) and says where it is.
- A downgrade that would drop data refuses unless forced: each migration's ``downgrade()`` calls
  :func:`refuse_data_loss` with the tables and columns it drops.
"""
from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from trainer.dates import now_jst


class MigrationRefused(Exception):
    """A migration would lose data or break references; the message says what (Japanese).

    Not a RuntimeError: Flask-Migrate turns those into a bare exit code, hiding the message."""


# --- one transaction, and on SQLite foreign keys off while tables are rebuilt -----------------

@contextlib.contextmanager
def migration_transaction(connection: Connection) -> Iterator[None]:
    """Run every migration step of one command in ONE transaction: a step that fails (or a refused
    downgrade) leaves the database exactly as it was. On SQLite, foreign-key enforcement is off for
    this connection meanwhile (batch migrations drop and rebuild tables), every reference is checked
    before the commit, and enforcement is on again before the connection returns to the pool.

    Alembic sees a transaction already open and leaves committing to this block."""
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # only effective outside a transaction
        connection.commit()
        connection.exec_driver_sql("BEGIN")  # pysqlite would not begin before DDL by itself
    else:
        connection.begin()
    try:
        yield
        if sqlite:
            check_foreign_keys(connection)
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()


def check_foreign_keys(connection: Connection) -> None:
    """Raise MigrationRefused if any row refers to a row that does not exist (SQLite)."""
    rows = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if rows:
        sample = "、".join(f"{r[0]}（rowid {r[1]}）→ {r[2]}" for r in rows[:5])
        raise MigrationRefused(f"マイグレーションの後に、参照先のない行が {len(rows)} 件あります: {sample}")


# --- downgrades that would drop data ------------------------------------------------------

@dataclass(frozen=True)
class Loss:
    what: str
    rows: int

    def __str__(self) -> str:
        return f"{self.what}（{self.rows} 行）"


def losses(connection: Connection, tables: tuple[str, ...] = (),
           columns: dict[str, tuple[str, ...]] | None = None) -> list[Loss]:
    """What dropping these tables and columns would lose: tables with rows, columns with values."""
    present = set(inspect(connection).get_table_names())
    found = []
    for table in tables:
        if table in present:
            n = connection.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one()
            if n:
                found.append(Loss(f"テーブル {table}", n))
    for table, names in (columns or {}).items():
        if table not in present:
            continue
        for name in names:
            n = connection.execute(text(f'SELECT count(*) FROM "{table}" WHERE "{name}" IS NOT NULL')).scalar_one()
            if n:
                found.append(Loss(f"{table}.{name}", n))
    return found


def refuse_data_loss(tables: tuple[str, ...] = (), columns: dict[str, tuple[str, ...]] | None = None) -> None:
    """Called at the start of a migration's downgrade(): refuse when it would drop data, unless the
    command was given ``--force`` (alembic ``-x force=1``)."""
    from alembic import context, op

    if context.get_x_argument(as_dictionary=True).get("force") == "1":
        return
    found = losses(op.get_bind(), tables, columns)
    if found:
        raise MigrationRefused(
            f"リビジョン {context.get_context().get_current_revision()} から戻すと、次のデータが失われます: "
            + "、".join(map(str, found))
            + "。バックアップ（trainer backup）を取ったうえで、本当に戻す場合は --force を付けてください。")


# --- upgrade with a backup first -----------------------------------------------------------

def sqlite_path(engine: Engine) -> Path | None:
    """The file of a SQLite database (None for PostgreSQL or an in-memory database)."""
    if engine.dialect.name != "sqlite" or not engine.url.database or engine.url.database == ":memory:":
        return None
    return Path(engine.url.database)


def holds_data(engine: Engine) -> bool:
    """True when any table other than alembic_version has a row."""
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            if table != "alembic_version" and conn.execute(text(f'SELECT 1 FROM "{table}" LIMIT 1')).first():
                return True
    return False


def sqlite_backup(source: Path, target: Path) -> Path:
    """A consistent copy of a live SQLite database (the backup API includes what is still in the WAL)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(source)) as src, contextlib.closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
    return target


def pending_revisions(engine: Engine, directory: str) -> list[str]:
    """Revisions between the database's current one and head (empty when up to date)."""
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config(directory))
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_heads()
    return [rev.revision for rev in script.iterate_revisions("heads", current or "base")]


def _alembic_config(directory: str):
    from alembic.config import Config

    config = Config(str(Path(directory) / "alembic.ini"))
    config.set_main_option("script_location", directory)
    return config


def backup_before_upgrade(engine: Engine, directory: str, backup_dir: Path) -> Path | None:
    """Copy a SQLite database that holds data and has migrations pending; return where (or None)."""
    path = sqlite_path(engine)
    if path is None or not path.exists() or not pending_revisions(engine, directory) or not holds_data(engine):
        return None
    stamp = now_jst().strftime("%Y%m%d-%H%M%S")
    return sqlite_backup(path, backup_dir / f"{path.stem}-before-upgrade-{stamp}.sqlite3")
