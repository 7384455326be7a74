"""Periodic chores of the worker: flag visits nobody checked in for (every minute) and create
the coming days' bookings of repeating series (every hour), ahead of planning.

Both chores are idempotent. A Redis lock per round keeps several processes from doing the same
round at once; without Redis each process does it, which is harmless.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from core.clock import utc_now
from core.crypto import Crypto
from core.db import Database
from core.redis import REDIS_ERRORS
from booking import service as booking_service
from providers import service as provider_service

log = logging.getLogger(__name__)

OVERDUE_EVERY_S = 60
SERIES_EVERY_S = 3600


async def flag_overdue(db: Database) -> int:
    return len(await provider_service.flag_overdue_visits(db, now=utc_now()))


async def materialize(db: Database, crypto: Crypto) -> int:
    return await booking_service.materialize_series(db)


async def run_once(redis, name: str, lock_s: int, chore: Callable[[], Awaitable[int]]) -> int | None:
    """Run `chore` unless another process holds this round's lock; returns its count or None."""
    try:
        if not await redis.set(f"circle:chore:{name}", 1, nx=True, ex=lock_s):
            return None
    except REDIS_ERRORS:
        pass  # no Redis: do the round here
    try:
        done = await chore()
    except Exception:  # a failed round is tried again next time
        log.exception("chore %s failed", name)
        return None
    if done:
        log.info("chore %s: %d", name, done)
    return done


async def run_chores(db: Database, redis, crypto: Crypto, stop: asyncio.Event) -> None:
    """Until `stop` is set: overdue flags every minute, series every hour (and at start)."""
    rounds = 0
    while not stop.is_set():
        await run_once(redis, "overdue", OVERDUE_EVERY_S - 5, lambda: flag_overdue(db))
        if rounds % (SERIES_EVERY_S // OVERDUE_EVERY_S) == 0:
            await run_once(redis, "series", SERIES_EVERY_S - 60, lambda: materialize(db, crypto))
        rounds += 1
        try:
            await asyncio.wait_for(stop.wait(), OVERDUE_EVERY_S)
        except asyncio.TimeoutError:
            pass
