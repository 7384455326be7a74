"""Database faults: while clients book visits, another connection kills the app's PostgreSQL
backends mid-transaction (`pg_terminate_backend`). The clients get a clean 503 (never a 500),
retry with their Idempotency-Key and end with exactly one booking each; nothing is half-written;
the pool recovers by itself, without a restart."""
from __future__ import annotations

import asyncio
import random
import time
from datetime import timedelta

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from core.users import issue_token
from core.clock import local_today
from app.main import create_app
from tests.reliability.support import integrity_problems, post_bookings
from tests.reliability.test_crash_safety import booking_requests, seed

KILL_ONE = """SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
      AND (state IN ('active', 'idle in transaction', 'idle in transaction (aborted)') OR $1)
    ORDER BY random() LIMIT 1"""


async def _killer(url: str, stop: asyncio.Event, counts: dict[str, int]) -> None:
    """Every 30–90 ms, terminate one backend that is running a statement or sits inside a
    transaction; every tenth round, possibly an idle one of the pool instead."""
    conn = await asyncpg.connect(url)
    try:
        rounds = 0
        while not stop.is_set():
            rounds += 1
            counts["killed"] += bool(await conn.fetchval(KILL_ONE, rounds % 10 == 0))
            await asyncio.sleep(0.03 + random.random() * 0.06)
    finally:
        await conn.close()


@pytest.fixture
def app_settings(settings, rel_db_url):
    return settings.model_copy(update={"database_url": rel_db_url, "db_pool_size": 8})


async def test_killed_connections_give_503_and_retries_give_one_booking_each(rel_db, rel_db_url, app_settings,
                                                                         crypto, redis, stress):
    data = await seed(rel_db, crypto, residents=30, operators=3)
    async with rel_db.acquire() as conn:
        users = {name: await conn.fetchval("SELECT id FROM users WHERE username = $1", name) for name in data.operators}
        tokens = {name: await issue_token(conn, uid, ttl=timedelta(hours=1)) for name, uid in users.items()}
    requests = booking_requests(data, tokens, 4000 if stress else 400, local_today(), run="dbfault")
    server = TestServer(create_app(app_settings, redis_client=redis, with_background=False))
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    stop, counts = asyncio.Event(), {"killed": 0}
    try:
        killer = asyncio.create_task(_killer(rel_db_url, stop, counts))
        result = await post_bookings(lambda: base, requests, concurrency=12, deadline_s=120)
        stop.set()
        await killer
        recovered = await _sequential_after_faults(base, data, tokens)
        async with aiohttp.ClientSession() as session, session.get(base + "/healthz") as health:
            assert health.status == 200, await health.text()
    finally:
        stop.set()
        await server.close()
    async with rel_db.acquire() as conn:
        problems = await integrity_problems(conn, {**result.acked, **recovered.acked})
        booked = await conn.fetchval("SELECT count(*) FROM bookings")
    print(f"\n{len(requests)} bookings under {counts['killed']} killed backends: answers {result.statuses}, "
          f"{result.connection_errors} connection errors, {result.elapsed_s:.1f} s; "
          f"after the faults {recovered.statuses} in {recovered.elapsed_s:.2f} s")
    assert set(result.statuses) <= {201, 503}, result.statuses
    assert result.statuses.get(503, 0) > 0 and counts["killed"] > 0, "no fault happened: the test proves nothing"
    assert not result.refused and result.connection_errors == 0
    assert len(result.acked) == len(requests)
    assert recovered.statuses == {201: len(recovered.acked)} == {201: 20}, "the pool did not recover at once"
    assert not problems, "\n".join(problems)
    assert booked == len(requests) + 20


async def _sequential_after_faults(base: str, data, tokens):
    """Twenty bookings one after another, right after the faults stop: each must succeed first time."""
    requests = booking_requests(data, tokens, 20, local_today(), run="after-faults")
    started = time.monotonic()
    result = await post_bookings(lambda: base, requests, concurrency=1, deadline_s=30)
    result.elapsed_s = time.monotonic() - started
    return result
