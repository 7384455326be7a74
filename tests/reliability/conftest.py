"""Reliability suites: fast ones run in `make test`; `@pytest.mark.stress` ones only with
`--stress` (when tests/reliability is on the command line) or CIRCLE_STRESS=1 (`make stress`).

Tests that need committed data (a server subprocess, killed connections, a Redis outage) use a
database of their own on the same PostgreSQL server (`rel_db_url`), so the rest of the suite —
which truncates its committed tables — and these tests never see each other's rows.
"""
from __future__ import annotations

import os
import uuid

import asyncpg
import pytest
import pytest_asyncio

from core.db import apply_schema, connect, create_pool
from booking.seed import load_menu
from tests.conftest import DATA_TABLES
from tests.reliability.support import database_url_with_name


def pytest_addoption(parser):
    parser.addoption("--stress", action="store_true", default=False,
                     help="also run the long reliability tests (marked stress)")


def stress_enabled(config) -> bool:
    return bool(config.getoption("stress", default=False)) or os.environ.get("CIRCLE_STRESS") == "1"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if item.get_closest_marker("stress") and not stress_enabled(item.config):
        pytest.skip("stress test: `make stress` (CIRCLE_STRESS=1, or --stress with tests/reliability)")


@pytest.fixture(scope="session")
def stress(request) -> bool:
    """True when the long variants run: tests size their loops with it."""
    return stress_enabled(request.config)


@pytest_asyncio.fixture(scope="session")
async def rel_db_url(services):
    """A database of its own for the committed reliability tests; dropped at the end."""
    name = f"circle_rel_{uuid.uuid4().hex[:8]}"
    try:
        await _admin(services.database_url, f'CREATE DATABASE "{name}"')
    except asyncpg.InsufficientPrivilegeError:
        pytest.skip("the test database user may not CREATE DATABASE (needed for the committed reliability tests)")
    url = database_url_with_name(services.database_url, name)
    conn = await connect(url)
    await apply_schema(conn)
    await load_menu(conn)
    await conn.close()
    yield url
    await _admin(services.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest_asyncio.fixture(scope="session")
async def rel_pool(rel_db_url):
    pool = await create_pool(rel_db_url, size=8)
    yield pool
    await pool.close()


@pytest_asyncio.fixture
async def rel_db(rel_pool):
    """The reliability database, emptied after the test."""
    yield rel_pool
    async with rel_pool.acquire() as conn:
        await conn.execute(f"TRUNCATE {DATA_TABLES} RESTART IDENTITY CASCADE")
