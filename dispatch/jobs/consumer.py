"""The stream consumer: takes plan jobs from the Redis Stream and runs them on the solver pool.

Loop (one `StreamConsumer`, up to `concurrency` plans at once):
1. XAUTOCLAIM a job idle longer than `claim_idle_ms` (its consumer died before XACK, or handed
   it back), else XREADGROUP a new one (blocking up to `block_ms`).
2. A job delivered more than `max_deliveries` times fails its plan (a plan that kills its
   consumer must not kill every consumer in turn) and is acknowledged.
3. `dispatch.jobs.run.run_plan` claims the plan in the database (so a job seen twice is solved
   once), solves it with heartbeats, stores the draft; meanwhile the job's idle time is renewed
   (XCLAIM) so nobody takes it over. Then XACK.
4. Every `sweep_every_s`, plans queued or solving whose heartbeat is older than `lost_after_s`
   (their job never reached Redis, or Redis lost it) are put on the stream again.
On `stop()` (SIGTERM/SIGINT, or the web app's cleanup) running solves are abandoned, their plans
go back to `queued` and their jobs are handed back without XACK: the next consumer takes them at
once (dispatch.jobs.stream.hand_back).
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from dataclasses import dataclass

import redis.asyncio as aioredis

from core.db import Database
from core.redis import REDIS_ERRORS
from dispatch import queries
from dispatch.events import RedisEvents
from dispatch.jobs import stream
from dispatch.jobs.pool import SolverPool
from dispatch.jobs.run import RunOutcome, run_plan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsumerConfig:
    """Timings of the consumer loop (milliseconds for Redis, seconds otherwise)."""

    concurrency: int = 1
    block_ms: int = 2_000
    claim_idle_ms: int = 30_000
    renew_every_s: float = 10.0
    sweep_every_s: float = 30.0
    lost_after_s: float = 90.0
    stale_s: float = 15.0          # a solving plan without heartbeat this long may be re-claimed
    heartbeat_s: float = 1.0
    max_deliveries: int = 3


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class StreamConsumer:
    """A Redis Stream consumer that solves plans (see module docstring)."""

    def __init__(self, db: Database, redis: aioredis.Redis, pool: SolverPool, *,
                 config: ConsumerConfig = ConsumerConfig(), consumer: str | None = None,
                 events: RedisEvents | None = None):
        self.db, self.redis, self.pool, self.config = db, redis, pool, config
        self.consumer = consumer or consumer_name()
        self.events = events or RedisEvents(redis)
        self._stopping = asyncio.Event()
        self._slots = asyncio.Semaphore(config.concurrency)
        self._tasks: set[asyncio.Task] = set()
        self.handled: list[tuple[int, RunOutcome]] = []

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Consume until `stop()`; Redis outages are waited out with a growing pause."""
        log.info("planning worker %s started", self.consumer)
        sweeper = asyncio.create_task(self._sweep_forever())
        pause = 0.5
        try:
            while not self._stopping.is_set():
                try:
                    await stream.ensure_group(self.redis)
                    await self._consume()
                    pause = 0.5
                except REDIS_ERRORS as exc:
                    log.warning("planning worker: Redis unavailable (%s); retrying in %.1fs", type(exc).__name__, pause)
                    await self._wait(pause)
                    pause = min(pause * 2, 10.0)
        finally:
            sweeper.cancel()
            await asyncio.gather(sweeper, *self._tasks, return_exceptions=True)
            log.info("planning worker %s stopped", self.consumer)

    async def _consume(self) -> None:
        while not self._stopping.is_set():
            await self._slots.acquire()
            job = await self._next_job() if not self._stopping.is_set() else None
            if job is not None and self._stopping.is_set():   # read while stopping: not started, handed back
                await self._hand_back(job)
                job = None
            if job is None:
                self._slots.release()
                continue
            task = asyncio.create_task(self._handle(job), name=f"plan-job-{job.plan_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _next_job(self) -> stream.QueuedJob | None:
        try:
            claimed = await stream.claim_idle(self.redis, self.consumer, idle_ms=self.config.claim_idle_ms)
            if claimed:
                log.info("planning worker %s took over job %s (plan %s)", self.consumer, claimed[0].entry_id,
                         claimed[0].plan_id)
                return claimed[0]
            new = await stream.read_new(self.redis, self.consumer, block_ms=self.config.block_ms)
            return new[0] if new else None
        except BaseException:
            self._slots.release()
            raise

    async def _handle(self, job: stream.QueuedJob) -> None:
        try:
            outcome = await self._solve(job)
            self.handled.append((job.plan_id, outcome))
            if outcome is RunOutcome.RELEASED:
                await self._hand_back(job)
            else:
                await stream.ack(self.redis, job.entry_id)
        except REDIS_ERRORS as exc:  # the job stays pending; it is claimed again later
            log.warning("planning worker: could not acknowledge job %s (%s)", job.entry_id, type(exc).__name__)
        except Exception:
            log.exception("planning worker: job %s (plan %s) failed", job.entry_id, job.plan_id)
        finally:
            self._slots.release()

    async def _hand_back(self, job: stream.QueuedJob) -> None:
        try:
            await stream.hand_back(self.redis, self.consumer, job, idle_ms=self.config.claim_idle_ms)
            log.info("planning worker %s handed job %s (plan %s) back", self.consumer, job.entry_id, job.plan_id)
        except REDIS_ERRORS:
            pass  # still pending: taken over after claim_idle_ms

    async def _solve(self, job: stream.QueuedJob) -> RunOutcome:
        if job.deliveries > self.config.max_deliveries:
            async with self.db.transaction() as conn:
                await queries.fail_plan(conn, job.plan_id, f"planning stopped {job.deliveries - 1} times "
                                        f"before finishing (a worker died each time)")
            return RunOutcome.FINISHED
        renewer = asyncio.create_task(self._renew_forever(job.entry_id))
        try:
            return await run_plan(self.db, job.plan_id, pool=self.pool, events=self.events, shutdown=self._stopping,
                                  heartbeat_s=self.config.heartbeat_s, stale_s=self.config.stale_s)
        finally:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)

    async def _renew_forever(self, entry_id: str) -> None:
        while True:
            await asyncio.sleep(self.config.renew_every_s)
            try:
                await stream.renew(self.redis, self.consumer, entry_id)
            except REDIS_ERRORS:
                pass  # the database claim still protects the plan

    async def _sweep_forever(self) -> None:
        while not self._stopping.is_set():
            await self._wait(self.config.sweep_every_s)
            try:
                await self.sweep()
            except Exception:  # a failed sweep is retried next time
                log.exception("planning worker: sweep failed")

    async def sweep(self) -> list[int]:
        """Put lost plans (no heartbeat for `lost_after_s`) on the stream again; fail those that
        were cancelled while their runner died."""
        async with self.db.transaction() as conn:
            await queries.fail_abandoned_cancels(conn, stale_s=self.config.lost_after_s)
            lost = await queries.touch_lost_plans(conn, stale_s=self.config.lost_after_s)
        for plan_id in lost:
            await stream.enqueue(self.redis, plan_id)
        if lost:
            log.info("planning worker: re-queued lost plans %s", lost)
        return lost

    async def _wait(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except asyncio.TimeoutError:
            pass
