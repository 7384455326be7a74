"""Handing a queued plan to whatever will solve it (`dispatch.service` calls `submit`).

`JobSubmitter.submit(plan_id)` puts a job on the Redis Stream for the stream consumers. When
Redis is down it solves the plan in this process instead (an asyncio task; the CPU-bound search
still runs on the solver pool), so `POST /plans` answers 202 and the plan finishes either way.
The database row is the plan's only copy: a runner claims it there (dispatch.jobs.run), so a plan
both queued and run here is solved once.

`QueueOnly` is the submitter of a web app without a solver pool of its own.
"""
from __future__ import annotations

import asyncio
import logging

import redis.asyncio as aioredis

from core.db import Database
from core.redis import REDIS_ERRORS
from dispatch.events import RedisEvents
from dispatch.jobs import stream
from dispatch.jobs.pool import SolverPool
from dispatch.jobs.run import RunOutcome, run_plan

log = logging.getLogger(__name__)


class JobSubmitter:
    """Submits plans (see module docstring). `use_queue=False` always solves in this process."""

    def __init__(self, db: Database, redis: aioredis.Redis | None, pool: SolverPool, *,
                 events: RedisEvents | None = None, use_queue: bool = True, concurrency: int = 1,
                 heartbeat_s: float = 1.0):
        self.db, self.redis, self.pool = db, redis, pool
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
                await stream.enqueue(self.redis, plan_id)
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

    async def _run(self, plan_id: int) -> RunOutcome:
        async with self._slots:
            outcome = await run_plan(self.db, plan_id, pool=self.pool, events=self.events, shutdown=self._shutdown,
                                     heartbeat_s=self.heartbeat_s)
        if outcome is RunOutcome.RELEASED and self.redis is not None:
            await self._requeue(plan_id)
        return outcome

    async def _requeue(self, plan_id: int) -> None:
        """A plan given back while this process stops goes on the stream for a worker (without
        Redis, a worker's sweep finds it later)."""
        try:
            await stream.enqueue(self.redis, plan_id)
        except REDIS_ERRORS:
            pass

    async def wait_idle(self) -> None:
        """Wait for every in-process solve started so far (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Stop in-process solves; their plans go back to the queue (status queued)."""
        self._shutdown.set()
        await self.wait_idle()


class QueueOnly:
    """A submitter for an app without a solver pool (create_app(with_background=False)): the job
    goes on the stream for a separate `circle worker`; with Redis down the plan stays queued in
    the database until a worker's sweep finds it."""

    def __init__(self, redis: aioredis.Redis | None):
        self.redis = redis

    async def submit(self, plan_id: int) -> str:
        try:
            if self.redis is not None:
                await stream.enqueue(self.redis, plan_id)
                return "queued"
        except REDIS_ERRORS as exc:
            log.warning("Redis unavailable (%s): plan %s waits for a worker's sweep", type(exc).__name__, plan_id)
        return "stored"
