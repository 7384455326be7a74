"""Numbered schema migrations: `migrations/NNNN_name.sql`, applied in order, each in a transaction
of its own, recorded in the table `schema_migrations` (number, name, checksum, applied_at).

A small runner of our own rather than yoyo-migrations or alembic: both drive the database through
a synchronous DB-API driver (alembic through SQLAlchemy as well), which would be a second driver
beside asyncpg for this one job. Here the migrations are plain SQL run on an asyncpg connection.

The rules it keeps:
- numbers start at 0001 and leave no gaps; the schema version is the last number applied;
- a migration is never edited once applied (its checksum is checked): a fix is a new migration;
- one transaction per file: a failing migration leaves nothing behind, the ones before it stay;
  statements that cannot run in a transaction (CREATE INDEX CONCURRENTLY) do not belong here;
- a database that has a migration this code does not know is refused, never touched;
- a database made before migrations existed (release 1: `schema_version` 1, no
  `schema_migrations`) gets the baseline again. The baseline is release 1's idempotent
  schema.sql, so this is safe, and it adds what older version-1 databases lacked.

Processes that start at once (web processes, workers, `circle init-db`) take turns on a
transaction-scoped advisory lock and read the record under it: each migration is applied once.
"""
from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import asyncpg

from core.settings import ROOT

MIGRATIONS_DIR = ROOT / "migrations"
LOCK_ID = 20_241_121  # advisory lock: one process migrates at a time
_FILE_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")
_RECORD_TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    number      integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)"""

log = logging.getLogger(__name__)


class MigrationError(Exception):
    """The migrations cannot be applied to this database; the message says why and what to do."""


class DatabaseNewerThanCode(MigrationError):
    """The database has a migration this code does not know."""


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    sql: str
    checksum: str  # sha256 of the file's bytes, hex

    @property
    def file_name(self) -> str:
        return f"{self.number:04d}_{self.name}.sql"


def load(directory: Path = MIGRATIONS_DIR) -> tuple[Migration, ...]:
    """The migrations in `directory` (its `*.sql` files), in order; numbered 1, 2, 3 … without gaps."""
    migrations = sorted((_read(path) for path in directory.glob("*.sql")), key=lambda m: m.number)
    numbers = [m.number for m in migrations]
    if numbers != list(range(1, len(numbers) + 1)):
        raise MigrationError(f"{directory}: migrations must be numbered 0001, 0002, … with no gap or repeat; "
                             f"found {', '.join(m.file_name for m in migrations)}")
    return tuple(migrations)


def _read(path: Path) -> Migration:
    match = _FILE_NAME.fullmatch(path.name)
    if not match:
        raise MigrationError(f"{path}: a migration file is named NNNN_name.sql (four digits, lower-case name)")
    data = path.read_bytes()
    return Migration(int(match[1]), match[2], data.decode("utf-8"), hashlib.sha256(data).hexdigest())


async def migrate(conn: asyncpg.Connection, migrations: Sequence[Migration] | None = None) -> int:
    """Apply the migrations the database lacks (default: those in `migrations/`), one transaction
    each; return the schema version. Raises MigrationError (DatabaseNewerThanCode for a database
    newer than the code) with the database left as the last successful migration left it."""
    migrations = load() if migrations is None else tuple(migrations)
    while await _apply_next(conn, migrations):
        pass
    return await current_version(conn)


async def current_version(conn: asyncpg.Connection) -> int:
    """The number of the last migration applied; 0 when none is recorded."""
    if not await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL"):
        return 0
    return await conn.fetchval("SELECT coalesce(max(number), 0) FROM schema_migrations")


async def _apply_next(conn: asyncpg.Connection, migrations: tuple[Migration, ...]) -> bool:
    """In one transaction, under the lock: check the record against the code, then apply the
    first migration the database lacks. False when it lacks none."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_ID)
        await conn.execute(_RECORD_TABLE)
        applied = {row["number"]: row for row in await conn.fetch("SELECT * FROM schema_migrations")}
        _check(applied, migrations)
        migration = next((m for m in migrations if m.number not in applied), None)
        if migration is None:
            return False
        await _run(conn, migration)
        return True


def _check(applied: dict[int, asyncpg.Record], migrations: tuple[Migration, ...]) -> None:
    known = {m.number: m for m in migrations}
    latest, version = max(known, default=0), max(applied, default=0)
    if version > latest:
        knows = f"up to version {latest} ({known[latest].file_name})" if known else "no migration"
        raise DatabaseNewerThanCode(
            f"the database is at schema version {version} ({applied[version]['name']}), newer than this code, "
            f"which knows {knows}: run the release that upgraded it, or restore the backup taken before")
    for number, row in sorted(applied.items()):
        migration = known[number]
        if row["checksum"] != migration.checksum:
            raise MigrationError(
                f"migrations/{migration.file_name} differs from the one applied to this database on "
                f"{row['applied_at']:%Y-%m-%d}: an applied migration is never edited; put the change in a new one")


async def _run(conn: asyncpg.Connection, migration: Migration) -> None:
    started = time.monotonic()
    try:
        await conn.execute(migration.sql)
    except asyncpg.PostgresError as exc:
        raise MigrationError(f"migrations/{migration.file_name} failed and was rolled back: "
                             f"{type(exc).__name__}: {exc}") from exc
    await conn.execute("INSERT INTO schema_migrations (number, name, checksum) VALUES ($1, $2, $3)",
                       migration.number, migration.name, migration.checksum)
    log.info("applied migration %s (%.2f s)", migration.file_name, time.monotonic() - started)
