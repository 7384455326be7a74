"""Periodic chores of the worker: flag visits nobody checked in for (every minute) and create
the coming days' bookings of repeating series (every hour), ahead of planning. Every minute too
(issue 13): the no-show alert at planned start + CIRCLE_NOSHOW_AFTER_MIN (pushed to the
dispatcher's live view), missed visits closed; and the outbox sender (`run_sender`) every few
seconds.

Each chore is a plain async function of `db` that reads the time from core.clock, so a simulation
calls them under `use_clock(SimulatedClock(...))`, once per simulated minute (`every_minute`).

Both chores are idempotent. A Redis lock per round keeps several processes from doing the same
round at once; without Redis each process does it, which is harmless.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from core import outbox
from core.clock import utc_now
from core.crypto import Crypto
from core.db import Database
from core.redis import REDIS_ERRORS
from booking import service as booking_service
from providers import service as provider_service
from dispatch import events

log = logging.getLogger(__name__)

OVERDUE_EVERY_S = 60
SERIES_EVERY_S = 3600


async def flag_overdue(db: Database) -> int:
    return len(await provider_service.flag_overdue_visits(db, now=utc_now()))


async def materialize(db: Database, crypto: Crypto) -> int:
    return await booking_service.materialize_series(db)


async def alert_noshows(db: Database, redis=None, *, after_min: int = 15) -> list:
    """The no-show alert (providers.service.alert_late_visits), pushed on Redis to the dispatchers'
    live view; returns the visits newly alerted (providers.models.LateVisit)."""
    late = await provider_service.alert_late_visits(db, now=utc_now(), after_min=after_min)
    await events.publish_alerts(redis, late)
    return late


async def close_missed(db: Database, *, grace_min: int = 30) -> list[int]:
    """Bookings nobody came to become missed (providers.service.close_missed_visits)."""
    return await provider_service.close_missed_visits(db, now=utc_now(), grace_min=grace_min)


async def deliver(db: Database, gateway, settings=None) -> outbox.DeliveryRound:
    """One round of the outbox sender at the clock's time, with the settings' quiet hours, per-phone
    hourly limit and attempts (defaults: 21-7, 6, 5)."""
    return await outbox.deliver_due(
        db, gateway, now=utc_now(),
        quiet=outbox.parse_quiet_hours(settings.quiet_hours if settings else "21-7"),
        per_phone_hour=settings.sms_per_phone_hour if settings else 6,
        max_attempts=settings.sms_max_attempts if settings else 5)


def sender(gateway, settings=None) -> Callable[[Database], Awaitable[outbox.DeliveryRound]]:
    """The sender as a chore of `db` alone (what a simulation's list of chores holds)."""
    async def deliver_round(db: Database) -> outbox.DeliveryRound:
        return await deliver(db, gateway, settings)
    return deliver_round


async def every_minute(db: Database, redis=None, gateway=None, settings=None) -> dict[str, int]:
    """Everything the worker does each minute, in order, once (a simulation's minute): overdue
    flags, no-show alerts, missed visits, one sender round. Returns the counts."""
    after = settings.noshow_after_min if settings else 15
    grace = settings.missed_grace_min if settings else 30
    late = await alert_noshows(db, redis, after_min=after)
    missed = await close_missed(db, grace_min=grace)
    overdue = await flag_overdue(db)
    sent = await deliver(db, gateway, settings)
    return {"late": len(late), "missed": len(missed), "overdue": overdue, "sent": sent.sent,
            "failed": sent.failed, "app": sent.app}


async def run_sender(db: Database, gateway, settings, stop: asyncio.Event, every_s: float = 5.0) -> None:
    """Until `stop` is set: a sender round every `every_s` seconds (rows are claimed with a lease,
    so two senders never send the same message twice within the lease)."""
    while not stop.is_set():
        try:
            await deliver(db, gateway, settings)
        except Exception:  # a failed round is tried again next time
            log.exception("outbox round failed")
        try:
            await asyncio.wait_for(stop.wait(), every_s)
        except asyncio.TimeoutError:
            pass


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


async def run_chores(db: Database, redis, crypto: Crypto, stop: asyncio.Event, settings=None) -> None:
    """Until `stop` is set: no-show alerts, missed visits and overdue flags every minute, series every
    hour (and at start)."""
    rounds = 0
    after = settings.noshow_after_min if settings else 15
    grace = settings.missed_grace_min if settings else 30
    while not stop.is_set():
        await run_once(redis, "noshow", OVERDUE_EVERY_S - 5,
                       lambda: _count(alert_noshows(db, redis, after_min=after)))
        await run_once(redis, "missed", OVERDUE_EVERY_S - 5, lambda: _count(close_missed(db, grace_min=grace)))
        await run_once(redis, "overdue", OVERDUE_EVERY_S - 5, lambda: flag_overdue(db))
        if rounds % (SERIES_EVERY_S // OVERDUE_EVERY_S) == 0:
            await run_once(redis, "series", SERIES_EVERY_S - 60, lambda: materialize(db, crypto))
        rounds += 1
        try:
            await asyncio.wait_for(stop.wait(), OVERDUE_EVERY_S)
        except asyncio.TimeoutError:
            pass


async def _count(found: Awaitable[list]) -> int:
    return len(await found)
