"""Test set-up: real PostgreSQL and Redis (embedded, started here unless TEST_DATABASE_URL /
TEST_REDIS_URL are set); each test runs inside a transaction that is rolled back, with the
app under test bound to the same connection."""
from __future__ import annotations

import os
import uuid
from datetime import date, time, timedelta

import pytest
import pytest_asyncio
import asyncpg
from aiohttp.test_utils import TestClient, TestServer

from core.clock import SimulatedClock, clock_in_force, local_instant, local_today, use_clock
from core.crypto import Crypto
from core.db import UnitOfWork, Database, apply_schema, connect, create_pool
from core.embedded import EmbeddedServices, start_postgres, start_redis
from app.main import create_app
from core.redis import create_redis
from core.settings import Settings
from booking.seed import load_menu
from tests import factories
from tests.reliability.support import database_url_with_name

TEST_SECRET = "test-secret-key-not-for-production"
DATA_TABLES = """notifications, visit_audit, visits, plan_edits, plans, sensitive_reads, call_logs,
    evaluations, idempotency_keys, wallet_entries, bookings, booking_series, subsidy_wallets,
    auth_tokens, family_links, users, caregiver_days, caregivers, provider_items, provider_circles,
    providers, residents, circles"""


@pytest.fixture(scope="session")
def services(tmp_path_factory) -> EmbeddedServices:
    services = EmbeddedServices(os.environ.get("TEST_DATABASE_URL"), os.environ.get("TEST_REDIS_URL"))
    data_dir = tmp_path_factory.mktemp("circle-data")
    if not services.database_url:
        services.database_url = start_postgres(data_dir, services)
    if not services.redis_url:
        services.redis_url = start_redis(data_dir, services)
    yield services
    services.stop()


@pytest.fixture(scope="session")
def settings(services, tmp_path_factory) -> Settings:
    return Settings(DATABASE_URL=services.database_url, REDIS_URL=services.redis_url,
                    CIRCLE_SECRET_KEY=TEST_SECRET, CIRCLE_DATA_DIR=tmp_path_factory.mktemp("app-data"),
                    CIRCLE_LOGIN_RATE=10_000, CIRCLE_START_WORKER=False)


@pytest.fixture(scope="session")
def crypto() -> Crypto:
    return Crypto(TEST_SECRET)


@pytest_asyncio.fixture(scope="session")
async def pool(settings):
    conn = await connect(settings.database_url)
    await apply_schema(conn)
    await load_menu(conn)
    await conn.close()
    pool = await create_pool(settings.database_url, size=60)
    yield pool
    await pool.close()


@pytest_asyncio.fixture
async def conn(pool):
    """A connection inside a transaction that is rolled back after the test."""
    async with pool.acquire() as connection:
        tx = connection.transaction()
        await tx.start()
        try:
            yield connection
        finally:
            await tx.rollback()


@pytest.fixture
def db(conn) -> UnitOfWork:
    return UnitOfWork(conn)


@pytest_asyncio.fixture
async def committed_db(pool):
    """A Database whose transactions really commit (for concurrency tests); emptied afterwards."""
    yield Database(pool)
    async with pool.acquire() as connection:
        await connection.execute(f"TRUNCATE {DATA_TABLES} RESTART IDENTITY CASCADE")


@pytest_asyncio.fixture(scope="session")
async def redis_client(settings):
    client = create_redis(settings.redis_url, timeout_s=1.0)
    yield client
    await client.aclose()


@pytest_asyncio.fixture
async def redis(redis_client):
    await redis_client.flushdb()
    return redis_client


@pytest_asyncio.fixture
async def client(settings, db, redis):
    """An HTTP client for the app, bound to the test's transaction; on the test's clock when the
    test runs on a simulated one (the `noon` fixture, listed before `client`)."""
    app = create_app(settings, database=db, redis_client=redis, with_background=False, clock=simulated_clock())
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


@pytest.fixture
def today() -> date:
    return local_today()


@pytest.fixture
def noon(today):
    """Run the test at 12:00 of today on a clock that stands still (and the app of a `client` set up
    after it): for tests whose times count from now, which the hour the suite runs at could
    otherwise carry across midnight. The database's own now() still runs on the system clock."""
    with use_clock(SimulatedClock(local_instant(today, time(12)))) as clock:
        yield clock


def simulated_clock() -> SimulatedClock | None:
    """The simulated clock in force here, if any (for an app built inside a `noon` test)."""
    clock = clock_in_force()
    return clock if isinstance(clock, SimulatedClock) else None


@pytest.fixture
def tomorrow(today) -> date:
    return today + timedelta(days=1)


@pytest_asyncio.fixture
async def street(conn, crypto):
    """A small street: one circle, an eligible elder, an ineligible elder, users of each role."""
    return await factories.make_street(conn, crypto)


async def login(client: TestClient, username: str, password: str | None = None) -> dict[str, str]:
    """Sign in through the API; returns the Authorization header."""
    response = await client.post("/api/v1/auth/login",
                                 json={"username": username, "password": password or f"pw-{username}"})
    assert response.status == 200, await response.text()
    return {"Authorization": f"Bearer {(await response.json())['token']}"}


@pytest_asyncio.fixture
async def new_database(services):
    """Makes empty databases on the test server (returns each one's URL); drops them after the test."""
    names: list[str] = []

    async def make() -> str:
        name = f"circle_t_{uuid.uuid4().hex[:8]}"
        try:
            await _admin(services.database_url, f'CREATE DATABASE "{name}"')
        except asyncpg.InsufficientPrivilegeError:
            pytest.skip("the test database user may not CREATE DATABASE (needed by tests that make their own database)")
        names.append(name)
        return database_url_with_name(services.database_url, name)
    yield make
    for name in names:
        await _admin(services.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()
