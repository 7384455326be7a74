"""Getting queued plans solved, and their live events.

`Planner.submit(plan_id)` puts a job on the Redis Stream for the planning workers. When Redis
is down it solves the plan in this process instead (an asyncio task; the CPU-bound search still
runs on the runner's executor), so `POST /plans` answers 202 and the plan finishes either way.
The database row is the plan's only copy: a worker claims it there (dispatch.queries.claim_plan),
so a plan both queued and run here is solved once.

`RedisEvents` publishes live events (never raising); `LiveEvents` subscribes to them for the SSE
stream, and degrades to "no message" when Redis is down (the stream then polls the database).
"""
from __future__ import annotations

import asyncio
import json
import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import redis.asyncio as aioredis

from core.db import Database
from core.redis import REDIS_ERRORS
from dispatch import queue, service
from dispatch.solving import SolverRunner

log = logging.getLogger(__name__)


class RedisEvents:
    """Publishes plan events on Redis pub/sub; a Redis failure is logged once and ignored."""

    def __init__(self, redis: aioredis.Redis | None):
        self.redis = redis
        self._warned = False

    async def publish(self, plan_id: int, event: dict[str, Any]) -> None:
        if self.redis is None:
            return
        try:
            await queue.publish_event(self.redis, plan_id, event)
            self._warned = False
        except REDIS_ERRORS as exc:
            if not self._warned:
                log.warning("plan events not published (Redis: %s)", type(exc).__name__)
                self._warned = True


class Planner:
    """Submits plans (see module docstring). `use_queue=False` always solves in this process."""

    def __init__(self, db: Database, redis: aioredis.Redis | None, runner: SolverRunner, *,
                 events: RedisEvents | None = None, use_queue: bool = True, concurrency: int = 1,
                 heartbeat_s: float = 1.0):
        self.db, self.redis, self.runner = db, redis, runner
        self.events = events or RedisEvents(redis)
        self.use_queue = use_queue and redis is not None
        self.heartbeat_s = heartbeat_s
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task] = set()
        self._shutdown = asyncio.Event()

    async def submit(self, plan_id: int) -> str:
        """Queue the plan for a worker ("queued"), or start solving it here ("in_process")."""
        if self.use_queue:
            try:
                await queue.enqueue(self.redis, plan_id)
                return "queued"
            except REDIS_ERRORS as exc:
                log.warning("Redis unavailable (%s): plan %s is solved in this process", type(exc).__name__, plan_id)
        self.run_here(plan_id)
        return "in_process"

    def run_here(self, plan_id: int) -> asyncio.Task:
        """Solve a plan in this process (one at a time per slot); returns the task."""
        task = asyncio.create_task(self._run(plan_id), name=f"plan-{plan_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run(self, plan_id: int) -> service.RunOutcome:
        async with self._slots:
            return await service.run_plan(self.db, plan_id, runner=self.runner, events=self.events,
                                          shutdown=self._shutdown, heartbeat_s=self.heartbeat_s)

    async def wait_idle(self) -> None:
        """Wait for every in-process solve started so far (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Stop in-process solves; their plans go back to the queue (status queued)."""
        self._shutdown.set()
        await self.wait_idle()


class QueueOnly:
    """A submitter for an app without a Planner (create_app(with_background=False)): the job
    goes on the stream for a separate `circle worker`; with Redis down the plan stays queued in
    the database until a worker's sweep finds it."""

    def __init__(self, redis: aioredis.Redis | None):
        self.redis = redis

    async def submit(self, plan_id: int) -> str:
        try:
            if self.redis is not None:
                await queue.enqueue(self.redis, plan_id)
                return "queued"
        except REDIS_ERRORS as exc:
            log.warning("Redis unavailable (%s): plan %s waits for a worker's sweep", type(exc).__name__, plan_id)
        return "stored"


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
    """`subscribe(plan_id)` for dispatch.service.plan_events: an async context manager."""

    @asynccontextmanager
    async def subscribe(plan_id: int) -> AsyncIterator[LiveEvents]:
        pubsub = None
        if redis is not None:
            try:
                pubsub = redis.pubsub()
                await pubsub.subscribe(queue.channel(plan_id))
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
