"""Dispatch test data: a small circle-day on real PostgreSQL, and in-process planning.

`small_day` builds one circle with two providers and four caregivers and six bookings for
tomorrow (a bath, a two-person deep clean, an elder asking for a woman, ...). Solves run in a
thread (`SolverPool()`), with a solution limit so they take well under a second.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from core import keys
from app.main import create_app
from dispatch.jobs.pool import SolverPool
from dispatch.jobs.submit import JobSubmitter
from tests import factories

FAST = 30  # solution_limit used by the service tests: reproducible and quick


@dataclass
class SmallDay:
    circle_id: int
    day: date
    caregivers: dict[str, int]      # name → id
    residents: dict[str, object]    # name → booking.models.Resident
    bookings: dict[str, int] = field(default_factory=dict)  # label → booking id
    users: dict[str, object] = field(default_factory=dict)


async def make_booking(conn, resident, item_code: str, day: date, start: time, end: time, *,
                       priority: int = 1, circle_id: int | None = None) -> int:
    """A pending booking without a subsidy hold (planning does not touch the wallet)."""
    price = await conn.fetchval("SELECT price_fen FROM menu_items WHERE code = $1", item_code)
    return await conn.fetchval(
        """INSERT INTO bookings (resident_id, circle_id, item_code, service_date, window_start, window_end,
               channel, price_fen, subsidy_fen, self_pay_fen, priority)
           VALUES ($1, $2, $3, $4, $5, $6, 'hotline', $7, 0, $7, $8) RETURNING id""",
        resident.id, circle_id or resident.circle_id, item_code, day, start, end, price, priority)


async def build_small_day(conn, crypto, day: date) -> SmallDay:
    circle_id = await factories.make_circle(conn)
    full = await factories.make_provider(conn, circle_ids=(circle_id,))
    cleaning_only = await factories.make_provider(conn, circle_ids=(circle_id,), item_codes=("C01", "C03"))
    lat, lon = factories.CENTRE
    caregivers = {
        "张丽": await factories.make_caregiver(conn, provider_id=full, circle_id=circle_id, name="张丽",
                                              qualifications=["G", "C"], home_lat=lat - 0.002),
        "刘芳": await factories.make_caregiver(conn, provider_id=full, circle_id=circle_id, name="刘芳",
                                              qualifications=["G", "C", "B"], home_lat=lat + 0.003),
        "陈强": await factories.make_caregiver(conn, provider_id=full, circle_id=circle_id, name="陈强",
                                              gender="M", qualifications=["G"], home_lon=lon + 0.003),
        "赵敏": await factories.make_caregiver(conn, provider_id=cleaning_only, circle_id=circle_id, name="赵敏",
                                              qualifications=["G", "C", "B"], home_lon=lon - 0.003),
    }
    residents = {}
    for n, (name, gender, wants) in enumerate([("王秀英", "F", "F"), ("李建国", "M", None), ("孙桂兰", "F", None),
                                               ("周玉珍", "F", None), ("吴淑华", "F", None)]):
        residents[name] = await factories.make_resident(
            conn, crypto, circle_id=circle_id, name=name, gender=gender, caregiver_gender=wants,
            phone=f"1390000{n:04d}", lat=lat + 0.001 * (n - 2), lon=lon + 0.0015 * (n % 3 - 1))
    small = SmallDay(circle_id, day, caregivers, residents)
    small.bookings = {
        "bath": await make_booking(conn, residents["孙桂兰"], "B01", day, time(9), time(10)),
        "deep_clean": await make_booking(conn, residents["周玉珍"], "C03", day, time(13), time(14)),
        "clean_for_her": await make_booking(conn, residents["王秀英"], "C01", day, time(9), time(11)),
        "clean": await make_booking(conn, residents["李建国"], "C01", day, time(10), time(12)),
        "meal": await make_booking(conn, residents["吴淑华"], "M01", day, time(11), time(11, 30), priority=2),
        "nursing": await make_booking(conn, residents["吴淑华"], "H06", day, time(15), time(16)),  # nobody is a nurse
    }
    # fixed usernames: the factories hash each password once per session
    small.users["dispatcher"] = await factories.make_user(conn, "dispatcher", username="plan-dispatcher",
                                                          circle_id=circle_id)
    small.users["admin"] = await factories.make_user(conn, "admin", username="plan-admin")
    small.users["family"] = await factories.make_user(conn, "family", username="plan-family",
                                                      family_of=(residents["孙桂兰"].id,))
    return small


@pytest_asyncio.fixture
async def small_day(conn, crypto, tomorrow) -> SmallDay:
    return await build_small_day(conn, crypto, tomorrow)


@pytest.fixture
def runner() -> SolverPool:
    return SolverPool()  # the loop's default thread pool


@pytest_asyncio.fixture
async def planner(db, runner):
    """Solves in this process (no Redis Stream), as when Redis is down."""
    planner = JobSubmitter(db, None, runner, use_queue=False, heartbeat_s=0.2)
    yield planner
    await planner.close()


@pytest_asyncio.fixture
async def planning_client(settings, db, redis, runner):
    """An HTTP client whose app plans in-process (bound to the test's transaction)."""
    app = create_app(settings, database=db, redis_client=redis, with_background=False)
    planner = JobSubmitter(db, redis, runner, use_queue=False, heartbeat_s=0.2)
    app[keys.PLANNER] = planner
    async with TestClient(TestServer(app)) as client:
        yield client
    await planner.close()
