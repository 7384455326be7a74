"""Migrations (core/migrations.py, migrations/): schema.sql is what they build; a release-1
database with the demo street upgrades without losing a row; a database newer than the code is
refused; a failing migration leaves nothing behind; running twice, or twice at once, applies
each migration once.

Each test makes databases of its own on the test server and drops them afterwards.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from core.db import apply_schema, connect
from core.migrations import (MIGRATIONS_DIR, DatabaseNewerThanCode, MigrationError, current_version, load,
                             migrate)
from core.settings import ROOT

SCHEMA = ROOT / "schema.sql"
SCHEMA_V1 = Path(__file__).parent / "data" / "schema_v1.sql"  # `git show 81bd645:schema.sql`
# release 81bd645's menu and demo street (`circle demo`, today=2026-12-01) as `pg_dump --data-only
# --disable-triggers --column-inserts` wrote it (the line that empties search_path taken out)
DEMO_V1_DATA = Path(__file__).parent / "data" / "demo_v1_data.sql"
LATEST = len(load())

# What a schema is made of, read from pg_catalog; the first field of each row names its table
# (or type, function), so the runner's own table can be left out.
CATALOG = {
    "tables": """SELECT c.relname, c.relkind, c.relpersistence, c.reloptions FROM pg_class c
                 WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')""",
    "columns": """SELECT c.relname, row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum), a.attname,
                         format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid),
                         a.attidentity, a.attgenerated, a.attcollation::regcollation::text
                  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                  WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                    AND a.attnum > 0 AND NOT a.attisdropped""",
    "constraints": """SELECT CASE WHEN conrelid <> 0 THEN conrelid::regclass::text ELSE contypid::regtype::text END, conname,
                             pg_get_constraintdef(oid), condeferrable, condeferred
                      FROM pg_constraint WHERE connamespace = 'public'::regnamespace""",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
    "triggers": """SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid), tgenabled
                   FROM pg_trigger WHERE NOT tgisinternal""",
    "functions": """SELECT proname, pg_get_function_identity_arguments(oid), pg_get_functiondef(oid)
                    FROM pg_proc WHERE pronamespace = 'public'::regnamespace""",
    "sequences": """SELECT sequencename, data_type::text, start_value, min_value, max_value, increment_by, cycle
                    FROM pg_sequences WHERE schemaname = 'public'""",
    "views": "SELECT viewname, definition FROM pg_views WHERE schemaname = 'public'",
    "types": """SELECT t.typname, t.typtype, format_type(t.typbasetype, t.typtypmod), t.typnotnull,
                       array(SELECT enumlabel::text FROM pg_enum WHERE enumtypid = t.oid ORDER BY enumsortorder)
                FROM pg_type t WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('e', 'd')""",
    "extensions": "SELECT extname, extversion FROM pg_extension",
}
RUNNER_TABLE = "schema_migrations"


@asynccontextmanager
async def connected(url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await connect(url)
    try:
        yield conn
    finally:
        await conn.close()


async def catalog(conn: asyncpg.Connection) -> dict[str, list[tuple]]:
    """The schema as sorted rows per kind of object, without the migration runner's own table."""
    dump = {}
    for kind, query in CATALOG.items():
        rows = [tuple(row) for row in await conn.fetch(query)]
        dump[kind] = sorted((row for row in rows if row[0] != RUNNER_TABLE), key=repr)
    return dump


async def database_from_schema_sql(new_database) -> str:
    url = await new_database()
    async with connected(url) as conn:
        await conn.execute(SCHEMA.read_text())
    return url


def migrations_with(directory: Path, **extra: str) -> Path:
    """A copy of migrations/ in `directory` plus `extra` (name → SQL), numbered after the last one."""
    shutil.copytree(MIGRATIONS_DIR, directory)
    for number, (name, sql) in enumerate(extra.items(), start=LATEST + 1):
        (directory / f"{number:04d}_{name}.sql").write_text(sql)
    return directory


async def test_schema_sql_is_what_the_migrations_build(new_database):
    """One fresh database from schema.sql, one from the migrations: the same tables, columns (in
    the same order: `SELECT *` and INSERTs without a column list see it, so a column added by a
    migration goes at the end in schema.sql too), types, defaults, constraints, indexes, triggers,
    functions, sequences, views, types and extensions. The runner's schema_migrations is its own."""
    from_file = await database_from_schema_sql(new_database)
    from_migrations = await new_database()
    async with connected(from_migrations) as conn:
        assert await apply_schema(conn) == LATEST
        built = await catalog(conn)
    async with connected(from_file) as conn:
        expected = await catalog(conn)
    for kind in CATALOG:
        assert built[kind] == expected[kind], f"{kind} differ between schema.sql and migrations/"


async def test_a_release_1_database_with_the_demo_street_keeps_every_row(new_database):
    """Release 81bd645's schema (tests/data/schema_v1.sql: schema_version 1, no migration record)
    with its menu and demo street (tests/data/demo_v1_data.sql: what that release's `circle demo`
    wrote, dumped with pg_dump), upgraded: every row of every table is still there (count, and an md5
    of its rows over every column the current schema still has), every Idempotency-Key keeps the
    booking its stored response named, and the schema is now schema.sql's."""
    async with connected(await database_from_schema_sql(new_database)) as conn:
        current_columns = await table_columns(conn)
        current_catalog = await catalog(conn)
    url = await new_database()
    async with connected(url) as conn:
        await conn.execute(SCHEMA_V1.read_text())
        await conn.execute(DEMO_V1_DATA.read_text())
        kept = {table: [c for c in names if c in current_columns.get(table, ())]
                for table, names in (await table_columns(conn)).items()}
        before = await fingerprints(conn, kept)
        answered = {(r["user_id"], r["key"]): int(r["response_body"]["id"])
                    for r in await conn.fetch("SELECT user_id, key, response_body FROM idempotency_keys")}
        assert await apply_schema(conn) == LATEST
        assert await fingerprints(conn, kept) == before
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == LATEST
        keyed = {(r["user_id"], r["key"]): r["booking_id"]
                 for r in await conn.fetch("SELECT user_id, key, booking_id FROM idempotency_keys")}
        assert keyed == answered
        assert await catalog(conn) == current_catalog
    assert before["residents"][0] > 100 and before["bookings"][0] > 100 and before["wallet_entries"][0] > 0
    assert before["schema_version"][0] == 1 and all(names for names in kept.values())


async def table_columns(conn: asyncpg.Connection) -> dict[str, list[str]]:
    rows = await conn.fetch("""SELECT table_name, array_agg(column_name::text ORDER BY ordinal_position) AS columns
                               FROM information_schema.columns WHERE table_schema = 'public'
                               GROUP BY table_name""")
    return {row["table_name"]: row["columns"] for row in rows}


async def fingerprints(conn: asyncpg.Connection, columns: dict[str, list[str]]) -> dict[str, tuple[int, str]]:
    """Per table: its row count and an md5 of its rows (over `columns`, in a fixed order)."""
    result = {}
    for table, names in columns.items():
        listed = ", ".join(f'"{name}"' for name in names)
        row = await conn.fetchrow(f"""SELECT count(*), md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), ''))
                                      FROM (SELECT {listed} FROM "{table}") AS r""")
        result[table] = (row[0], row[1])
    return result


async def test_an_older_release_1_database_gets_the_columns_it_lacked(new_database):
    """Release-1 databases made before hotline_phone, the plans' runner columns and visits.notes
    were added to schema.sql (still version 1): the baseline, run again, adds them, keeping rows."""
    url = await new_database()
    async with connected(url) as conn:
        await conn.execute(SCHEMA_V1.read_text())
        await conn.execute("""ALTER TABLE circles DROP COLUMN hotline_phone;
                              ALTER TABLE plans DROP COLUMN kind, DROP COLUMN options, DROP COLUMN attempts,
                                  DROP COLUMN heartbeat_at, DROP COLUMN cancel_requested, DROP COLUMN updated_at;
                              DROP INDEX IF EXISTS plans_unfinished_idx;
                              ALTER TABLE visits DROP COLUMN notes;
                              INSERT INTO circles (name, lat, lon, radius_m) VALUES ('静安寺', 31.22, 121.45, 1000)""")
        assert await apply_schema(conn) == LATEST
        assert await conn.fetchval("SELECT hotline_phone FROM circles WHERE name = '静安寺'") == ""
        upgraded = await catalog(conn)
    async with connected(await database_from_schema_sql(new_database)) as conn:
        assert upgraded == await catalog(conn)


async def test_a_database_newer_than_the_code_is_refused(new_database, services):
    """`circle init-db` creates a database (exit 0), then refuses it once it records a migration
    this code does not know: exit 1, a message naming both versions, nothing applied."""
    url = await new_database()
    status, out, _ = await circle("init-db", database_url=url, redis_url=services.redis_url)
    assert status == 0 and f"schema at version {LATEST}" in out
    async with connected(url) as conn:
        await conn.execute("INSERT INTO schema_migrations (number, name, checksum) VALUES ($1, 'from_the_future', '')",
                           LATEST + 1)
        schema = await catalog(conn)
        with pytest.raises(DatabaseNewerThanCode, match=rf"version {LATEST + 1} .* up to version {LATEST} "):
            await apply_schema(conn)
        assert await catalog(conn) == schema

    status, _, err = await circle("init-db", database_url=url, redis_url=services.redis_url)
    assert status == 1
    assert f"schema version {LATEST + 1} (from_the_future), newer than this code" in err
    assert f"up to version {LATEST} (" in err and "Traceback" not in err


async def circle(*args: str, database_url: str, redis_url: str) -> tuple[int, str, str]:
    """Run the command line in a subprocess; its exit status, stdout and stderr."""
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "LOG_LEVEL": "WARNING"}
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "app.cli", *args, cwd=ROOT, env=env,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode, out.decode(), err.decode()


async def test_a_failing_migration_leaves_nothing_half_applied(new_database, tmp_path):
    """Each migration is its own transaction: the one before the failure stays applied, the
    failing one leaves neither its table nor its record; once fixed, it applies."""
    directory = migrations_with(tmp_path / "migrations", good="CREATE TABLE good_step (id int);",
                                bad="CREATE TABLE half_done (id int); INSERT INTO half_done VALUES (1); SELECT 1 / 0;")
    url = await new_database()
    async with connected(url) as conn:
        with pytest.raises(MigrationError, match=rf"{LATEST + 2:04d}_bad.sql failed and was rolled back"):
            await migrate(conn, load(directory))
        assert await current_version(conn) == LATEST + 1
        assert await conn.fetchval("SELECT to_regclass('good_step') IS NOT NULL")
        assert await conn.fetchval("SELECT to_regclass('half_done') IS NULL")

        (directory / f"{LATEST + 2:04d}_bad.sql").write_text("CREATE TABLE half_done (id int);")
        assert await migrate(conn, load(directory)) == LATEST + 2


async def test_running_twice_is_a_no_op(new_database, tmp_path):
    """The second run applies nothing: the same record (applied_at too) and the same schema,
    though the extra migration would fail if it ran again."""
    migrations = load(migrations_with(tmp_path / "migrations", once="CREATE TABLE once_only (id int);"))
    url = await new_database()
    async with connected(url) as conn:
        assert await migrate(conn, migrations) == LATEST + 1
        record = await conn.fetch("SELECT * FROM schema_migrations ORDER BY number")
        schema = await catalog(conn)
        assert await migrate(conn, migrations) == LATEST + 1
        assert await conn.fetch("SELECT * FROM schema_migrations ORDER BY number") == record
        assert await catalog(conn) == schema
        assert [r["name"] for r in record] == [m.name for m in migrations]


async def test_two_runners_at_once_apply_each_migration_once(new_database, tmp_path):
    """Two processes starting together on an empty database (two connections here): they take
    turns on the advisory lock, both end at the last version, and each migration ran once (the
    extra one would fail the second time; without the lock the baseline's CREATE TABLE IF NOT
    EXISTS statements would also collide)."""
    migrations = load(migrations_with(
        tmp_path / "migrations", slow="CREATE TABLE once_only (id int); INSERT INTO once_only VALUES (1); "
                                      "SELECT pg_sleep(0.3);"))
    url = await new_database()
    async with connected(url) as first, connected(url) as second:
        versions = await asyncio.gather(migrate(first, migrations), migrate(second, migrations))
        assert versions == [LATEST + 1, LATEST + 1]
        assert await first.fetchval("SELECT count(*) FROM schema_migrations") == LATEST + 1
        assert await first.fetchval("SELECT count(*) FROM once_only") == 1


async def test_an_applied_migration_that_was_edited_is_refused(new_database, tmp_path):
    """The record keeps each file's checksum: editing an applied migration is caught, not ignored."""
    directory = migrations_with(tmp_path / "migrations", note="CREATE TABLE note (id int);")
    url = await new_database()
    async with connected(url) as conn:
        await migrate(conn, load(directory))
        (directory / f"{LATEST + 1:04d}_note.sql").write_text("CREATE TABLE note (id bigint);")
        with pytest.raises(MigrationError, match=rf"{LATEST + 1:04d}_note.sql differs from the one applied"):
            await migrate(conn, load(directory))


def test_migration_files_are_numbered_from_one_without_gaps(tmp_path):
    for name in ("0001_first.sql", "0003_third.sql"):
        (tmp_path / name).write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="no gap or repeat"):
        load(tmp_path)
    (tmp_path / "0003_third.sql").rename(tmp_path / "2_second.sql")
    with pytest.raises(MigrationError, match="NNNN_name.sql"):
        load(tmp_path)


def test_the_baseline_is_release_1s_schema_unchanged():
    """0001_baseline.sql is release 81bd645's idempotent schema.sql, byte for byte: databases of
    that release are upgraded by running it again."""
    baseline = load()[0]
    assert baseline.file_name == "0001_baseline.sql"
    assert baseline.sql == SCHEMA_V1.read_text()
