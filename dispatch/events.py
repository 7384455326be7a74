"""A plan's live events: published by the job runner on Redis pub/sub, read by the
server-sent-event stream (`GET /plans/{id}/events`).

Channel `circle:plan:{id}`: JSON `{"id", "status", "progress", ...}` while solving and when done.
`RedisEvents` publishes (never raising); `subscriber(redis)` opens a plan's channel for
`plan_events`, degrading to "no message" when Redis is down: the stream then follows the plans
row, which it re-reads every turn anyway, so the final event is never missed.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import redis.asyncio as aioredis

from core.db import Database
from core.redis import REDIS_ERRORS
from dispatch import queries
from dispatch.models import Plan

log = logging.getLogger(__name__)


def channel(plan_id: int) -> str:
    return f"circle:plan:{plan_id}"


class RedisEvents:
    """Publishes plan events on Redis pub/sub; a Redis failure is logged once and ignored."""

    def __init__(self, redis: aioredis.Redis | None):
        self.redis = redis
        self._warned = False

    async def publish(self, plan_id: int, event: dict[str, Any]) -> None:
        if self.redis is None:
            return
        try:
            await self.redis.publish(channel(plan_id), json.dumps(event, ensure_ascii=False, default=str))
            self._warned = False
        except REDIS_ERRORS as exc:
            if not self._warned:
                log.warning("plan events not published (Redis: %s)", type(exc).__name__)
                self._warned = True


class LiveEvents:
    """One subscription to a plan's channel; `next(timeout_s)` → event dict or None."""

    def __init__(self, pubsub):
        self.pubsub = pubsub

    async def next(self, timeout_s: float) -> dict[str, Any] | None:
        if self.pubsub is None:
            await asyncio.sleep(timeout_s)
            return None
        try:
            message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=timeout_s)
        except REDIS_ERRORS:
            self.pubsub = None  # Redis went away: poll the database from now on
            return None
        return json.loads(message["data"]) if message and message.get("type") == "message" else None


def subscriber(redis: aioredis.Redis | None):
    """`subscribe(plan_id)` for `plan_events`: an async context manager yielding LiveEvents."""

    @asynccontextmanager
    async def subscribe(plan_id: int) -> AsyncIterator[LiveEvents]:
        pubsub = None
        if redis is not None:
            try:
                pubsub = redis.pubsub()
                await pubsub.subscribe(channel(plan_id))
            except REDIS_ERRORS:
                pubsub = None
        try:
            yield LiveEvents(pubsub)
        finally:
            if pubsub is not None:
                try:
                    await pubsub.aclose()
                except REDIS_ERRORS:
                    pass

    return subscribe


def event_of(plan: Plan) -> dict[str, Any]:
    """The event that describes a plan row as it is."""
    return {"id": plan.id, "status": plan.status.value, "progress": round(plan.progress, 3),
            "failure_reason": plan.failure_reason, **plan.stats.live,
            "stats": {"objective": plan.stats.objective, "assigned": plan.stats.assigned,
                      "unassigned": plan.stats.unassigned, "travel_minutes": plan.stats.travel_minutes,
                      "solve_seconds": plan.stats.solve_seconds}}


async def plan_events(db: Database, subscribe, plan: Plan, *, poll_s: float = 0.5, quiet_s: float = 5.0,
                      timeout_s: float = 900.0) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """(event name, data) pairs: `progress` while queued or solving (on each live message or
    change, and at least every `quiet_s`), then one `status` with the final plan, then the end.

    `subscribe(plan_id)` opens the plan's Redis channel (`subscriber`); with Redis down it yields
    nothing and the plans row, re-read every `poll_s` either way, carries the stream.
    """
    if plan.status.finished:
        yield "status", event_of(plan)
        return
    last, last_sent = event_of(plan), time.monotonic()
    yield "progress", last
    deadline = last_sent + timeout_s
    async with subscribe(plan.id) as live:
        while time.monotonic() < deadline:
            message = await live.next(poll_s)
            async with db.connection() as conn:
                plan = await queries.plan(conn, plan.id)
            if plan.status.finished:
                yield "status", event_of(plan)
                return
            current = {**event_of(plan), **(message or {})}
            moved = (current["status"], current["progress"]) != (last["status"], last["progress"])
            if message or moved or time.monotonic() - last_sent >= quiet_s:
                last, last_sent = current, time.monotonic()
                yield "progress", current

# ------------------------------------------------------------------ the dispatcher's live alerts (issue 13)


def alert_channel(circle_id: int) -> str:
    return f"circle:alerts:{circle_id}"


def alert_event(late) -> dict[str, Any]:
    """The live no-show alert of one visit (providers.models.LateVisit)."""
    return {"kind": "no_show", "visit_id": late.visit_id, "booking_id": late.booking_id,
            "caregiver_id": late.caregiver_id, "caregiver_name": late.caregiver_name, "circle_id": late.circle_id,
            "resident_name": late.resident_name, "planned_start": late.planned_start.isoformat(),
            "alerted_at": late.alerted_at.isoformat(), "partner_there": late.partner_there}


async def publish_alerts(redis: aioredis.Redis | None, late: list) -> int:
    """Push each late visit to its circle's alert channel; returns how many were published (a Redis
    failure is logged and ignored: the alert is still on GET /visits/alerts and in the messages)."""
    if redis is None or not late:
        return 0
    try:
        for visit in late:
            await redis.publish(alert_channel(visit.circle_id), json.dumps(alert_event(visit), ensure_ascii=False))
    except REDIS_ERRORS as exc:
        log.warning("live alerts not published (Redis: %s)", type(exc).__name__)
        return 0
    return len(late)


async def live_alerts(redis: aioredis.Redis | None, circle_ids: list[int], *, keepalive_s: float = 15.0,
                      timeout_s: float = 3600.0, standing: list = ()) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """(event name, data) pairs for a dispatcher's live view: first `alert` for each alert still
    standing (`standing`: LateVisits read when the stream opened), then `alert` for each pushed
    alert, `ping` every `keepalive_s` (proxies close silent streams), until `timeout_s` (the console
    reconnects). Without Redis only pings after the standing alerts: the console still polls
    GET /visits/alerts."""
    pubsub = None
    if redis is not None:
        try:
            pubsub = redis.pubsub()
            await pubsub.subscribe(*[alert_channel(c) for c in circle_ids])
        except REDIS_ERRORS:
            pubsub = None
    live = LiveEvents(pubsub)
    deadline = time.monotonic() + timeout_s
    try:
        yield "ping", {"redis": pubsub is not None}
        for visit in standing:
            yield "alert", alert_event(visit)
        last = time.monotonic()
        while time.monotonic() < deadline:
            message = await live.next(1.0)
            if message is not None:
                yield "alert", message
            elif time.monotonic() - last >= keepalive_s:
                last = time.monotonic()
                yield "ping", {}
    finally:
        if live.pubsub is not None:
            try:
                await live.pubsub.aclose()
            except REDIS_ERRORS:
                pass
