"""Crash safety: `circle serve` is SIGKILLed several times while a load generator books visits
with Idempotency-Keys (retrying on connection errors and 503), and restarted each time.

Afterwards every booking acknowledged with 201 exists exactly once, nothing unacknowledged is
half-written (each subsidised booking has its one hold, no ledger entry without its booking, no
idempotency key without its response), every wallet reconciles with its ledger, a retry of an
acknowledged key returns the same booking, and the server's own log (stdout and stderr of every
run) holds no ID number, care note, password or token.
"""
from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import date, timedelta

import aiohttp
import pytest

from core.clock import local_today
from tests import factories
from tests.conftest import TEST_SECRET
from tests.reliability.support import ServerProcess, integrity_problems, post_bookings, secrets_in, tracebacks
from tests.reliability.world import PASSWORD, _password_hash

ITEMS = ("C01", "C02", "B01", "M01", "H01", "E01", "K01", "K03")


@dataclass
class Seed:
    resident_ids: list[int]
    operators: list[str]
    secrets: list[str]


async def seed(pool, crypto, *, residents: int, operators: int) -> Seed:
    """A circle of elders (two in three subsidy-eligible), each with an ID number and care notes."""
    from core.users import create_user
    from tests.reliability.support import id_card

    async with pool.acquire() as conn, conn.transaction():
        circle_id = await factories.make_circle(conn, name="崩溃测试服务圈")
        await factories.make_serving_team(conn, circle_id)
        ids, secrets = [], []
        for n in range(residents):
            card, notes = id_card(f"4403051945{n:07d}"), f"崩溃测试备注{n:03d}：助行器，左耳听力差"
            elder = await factories.make_resident(conn, crypto, circle_id=circle_id, name=f"崩溃测试老人{n}",
                                                  phone=f"1360000{n:04d}", subsidy_eligible=n % 3 != 0,
                                                  care_notes=notes, id_card_no=card)
            ids.append(elder.id)
            secrets += [card, notes]
        names = [f"crash_operator{k}" for k in range(operators)]
        for name in names:
            await create_user(conn, username=name, password=PASSWORD, password_hash=_password_hash(), role="operator")
    return Seed(ids, names, secrets)


def booking_requests(seed: Seed, tokens: dict[str, str], count: int, today: date, run: str):
    """`count` distinct bookings over the elders, items and the next 25 days."""
    rng = random.Random(count)
    requests = []
    for i in range(count):
        operator = seed.operators[i % len(seed.operators)]
        start = 7 + rng.randrange(10)
        body = {"resident_id": seed.resident_ids[i % len(seed.resident_ids)], "item_code": rng.choice(ITEMS),
                "date": (today + timedelta(days=1 + rng.randrange(25))).isoformat(),
                "window_start": f"{start:02d}:00", "window_end": f"{start + 2:02d}:00",
                "notes": f"第{i}次", "channel": "hotline", "confirm_duplicate": True}
        requests.append((f"{run}-{i}", body, {"Authorization": f"Bearer {tokens[operator]}"}))
    return requests


async def login_all(server: ServerProcess, names: list[str]) -> dict[str, str]:
    tokens = {}
    async with aiohttp.ClientSession() as session:
        for name in names:
            async with session.post(server.url + "/api/v1/auth/login",
                                    json={"username": name, "password": PASSWORD}) as response:
                assert response.status == 200, await response.text()
                tokens[name] = (await response.json())["token"]
    return tokens


async def run_with_kills(server: ServerProcess, requests, *, kills: int, concurrency: int, deadline_s: float):
    """Run the load; SIGKILL and restart the server each time another 1/(kills+1) of it is acknowledged."""
    thresholds = [len(requests) * (k + 1) // (kills + 1) for k in range(kills)]
    reached = asyncio.Event()
    restarts: list[float] = []

    def on_ack(count: int) -> None:
        if thresholds and count >= thresholds[0]:
            reached.set()

    async def killer() -> None:
        while thresholds:
            await reached.wait()
            reached.clear()
            thresholds.pop(0)
            await asyncio.sleep(random.random() * 0.05)  # land inside requests, not between them
            server.kill()
            server.start()
            restarts.append(await server.wait_ready())

    kill_task = asyncio.create_task(killer())
    result = await post_bookings(lambda: server.url, requests, concurrency=concurrency, deadline_s=deadline_s,
                                 on_ack=on_ack)
    kill_task.cancel()
    return result, restarts


async def _crash_run(rel_db, rel_db_url, services, crypto, tmp_path, *, requests: int, kills: int,
                     residents: int, concurrency: int, deadline_s: float):
    data = await seed(rel_db, crypto, residents=residents, operators=4)
    server = ServerProcess(database_url=rel_db_url, redis_url=services.redis_url, data_dir=tmp_path / "server",
                           secret=TEST_SECRET)
    server.start()
    try:
        await server.wait_ready()
        tokens = await login_all(server, data.operators)
        load = booking_requests(data, tokens, requests, local_today(), run=f"crash{requests}")
        result, restarts = await run_with_kills(server, load, kills=kills, concurrency=concurrency,
                                                deadline_s=deadline_s)
        replayed = await post_bookings(lambda: server.url, load[:20], concurrency=5, deadline_s=30)
        async with aiohttp.ClientSession() as session:  # the calendar token must not reach the access log
            async with session.get(server.url + "/api/v1/caregivers/1/calendar.ics",
                                   params={"token": "probe-calendar-secret-0123456789"}) as response:
                assert response.status == 404
    finally:
        server.stop()
    async with rel_db.acquire() as conn:
        problems = await integrity_problems(conn, result.acked)
        booked = await conn.fetchval("SELECT count(*) FROM bookings")
    log = server.log_text()
    print(f"\n{requests} requests, {server.kills} SIGKILLs ({server.orphans} child processes outlived the killed "
          f"server), restarts ready after "
          f"{', '.join(f'{s:.1f}' for s in restarts)} s; answers {result.statuses}, "
          f"{result.connection_errors} connection errors; {len(result.acked)} acknowledged in {result.elapsed_s:.1f} s")
    assert server.kills == kills
    assert not result.refused, result.refused[:5]
    assert 500 not in result.statuses, result.statuses
    assert len(result.acked) == requests, f"only {len(result.acked)} of {requests} acknowledged before the deadline"
    assert not problems, "\n".join(problems)
    assert booked == requests, f"{booked} bookings for {requests} distinct requests"
    assert replayed.acked == {k: result.acked[k] for k in replayed.acked}, "a retry returned another booking"
    assert "unexpected error" not in log, log[-3000:]
    assert not tracebacks(log), tracebacks(log)[:3]
    leaked = secrets_in(log, data.secrets + [PASSWORD, "probe-calendar-secret-0123456789", *tokens.values()])
    assert not leaked, f"secrets in the server log: {leaked[:4]}"
    return result


async def test_crash_fast(rel_db, rel_db_url, services, crypto, tmp_path):
    """200 bookings, 2 SIGKILLs of the server mid-run."""
    await _crash_run(rel_db, rel_db_url, services, crypto, tmp_path, requests=200, kills=2, residents=40,
                     concurrency=16, deadline_s=90)


@pytest.mark.stress
async def test_crash_stress(rel_db, rel_db_url, services, crypto, tmp_path):
    """2,000 bookings, 6 SIGKILLs of the server mid-run."""
    await _crash_run(rel_db, rel_db_url, services, crypto, tmp_path, requests=2000, kills=6, residents=200,
                     concurrency=32, deadline_s=600)
