"""The planning worker: consumes plan jobs from the Redis Stream and solves them in a process pool.

Loop (one `PlanningWorker`, up to `concurrency` plans at once):
1. XAUTOCLAIM a job idle longer than `claim_idle_ms` (its worker died before XACK), else
   XREADGROUP a new one (blocking up to `block_ms`).
2. A job delivered more than `max_deliveries` times fails its plan (a plan that kills its
   worker must not kill every worker in turn) and is acknowledged.
3. `dispatch.service.run_plan` claims the plan in the database (so a job seen twice is solved
   once), solves it in the pool with heartbeats, stores the draft; meanwhile the job's idle
   time is renewed (XCLAIM) so nobody takes it over. Then XACK.
4. Every `sweep_every_s`, plans queued or solving whose heartbeat is older than `lost_after_s`
   (their job never reached Redis, or Redis lost it) are put on the stream again.
On stop (SIGTERM/SIGINT, or the web app's cleanup) running searches are stopped, their plans go
back to `queued` without XACK, and another worker takes them after `claim_idle_ms`.

`background_ctx` runs this inside `circle serve` (unless --no-worker) and always installs the
`Planner` (app key PLANNER) that POST /plans submits to; `run_worker` is `circle worker`.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import uuid
from dataclasses import dataclass
from typing import AsyncIterator

import redis.asyncio as aioredis
from aiohttp import web

from core import keys
from core.crypto import Crypto
from core.db import Database, apply_schema, connect, create_pool
from core.redis import REDIS_ERRORS, create_redis
from dispatch import queries, queue, service
from dispatch.chores import run_chores
from dispatch.planner import Planner, RedisEvents
from dispatch.solving import SolverRunner, process_pool

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerConfig:
    """Timings of the worker loop (milliseconds for Redis, seconds otherwise)."""

    concurrency: int = 1
    block_ms: int = 2_000
    claim_idle_ms: int = 30_000
    renew_every_s: float = 10.0
    sweep_every_s: float = 30.0
    lost_after_s: float = 90.0
    stale_s: float = 15.0          # a solving plan without heartbeat this long may be re-claimed
    heartbeat_s: float = 1.0
    max_deliveries: int = 3


def default_processes() -> int:
    """Solver processes for this machine: one core is left to the web process and PostgreSQL."""
    return max(1, (os.cpu_count() or 2) - 1)


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class PlanningWorker:
    """A Redis Stream consumer that solves plans (see module docstring)."""

    def __init__(self, db: Database, redis: aioredis.Redis, runner: SolverRunner, *,
                 config: WorkerConfig = WorkerConfig(), consumer: str | None = None,
                 events: RedisEvents | None = None):
        self.db, self.redis, self.runner, self.config = db, redis, runner, config
        self.consumer = consumer or consumer_name()
        self.events = events or RedisEvents(redis)
        self._stopping = asyncio.Event()
        self._slots = asyncio.Semaphore(config.concurrency)
        self._tasks: set[asyncio.Task] = set()
        self.handled: list[tuple[int, service.RunOutcome]] = []

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
                    await queue.ensure_group(self.redis)
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
            if job is None:
                self._slots.release()
                continue
            task = asyncio.create_task(self._handle(job), name=f"plan-job-{job.plan_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _next_job(self) -> queue.QueuedJob | None:
        try:
            claimed = await queue.claim_idle(self.redis, self.consumer, idle_ms=self.config.claim_idle_ms)
            if claimed:
                log.info("planning worker %s took over job %s (plan %s)", self.consumer, claimed[0].entry_id,
                         claimed[0].plan_id)
                return claimed[0]
            new = await queue.read_new(self.redis, self.consumer, block_ms=self.config.block_ms)
            return new[0] if new else None
        except BaseException:
            self._slots.release()
            raise

    async def _handle(self, job: queue.QueuedJob) -> None:
        try:
            outcome = await self._solve(job)
            self.handled.append((job.plan_id, outcome))
            if outcome is not service.RunOutcome.RELEASED:
                await queue.ack(self.redis, job.entry_id)
        except REDIS_ERRORS as exc:  # the job stays pending; it is claimed again later
            log.warning("planning worker: could not acknowledge job %s (%s)", job.entry_id, type(exc).__name__)
        except Exception:
            log.exception("planning worker: job %s (plan %s) failed", job.entry_id, job.plan_id)
        finally:
            self._slots.release()

    async def _solve(self, job: queue.QueuedJob) -> service.RunOutcome:
        if job.deliveries > self.config.max_deliveries:
            async with self.db.transaction() as conn:
                await queries.fail_plan(conn, job.plan_id, f"planning stopped {job.deliveries - 1} times "
                                        f"before finishing (a worker died each time)")
            return service.RunOutcome.FINISHED
        renewer = asyncio.create_task(self._renew_forever(job.entry_id))
        try:
            return await service.run_plan(self.db, job.plan_id, runner=self.runner, events=self.events,
                                          shutdown=self._stopping, heartbeat_s=self.config.heartbeat_s,
                                          stale_s=self.config.stale_s)
        finally:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)

    async def _renew_forever(self, entry_id: str) -> None:
        while True:
            await asyncio.sleep(self.config.renew_every_s)
            try:
                await queue.renew(self.redis, self.consumer, entry_id)
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
            await queue.enqueue(self.redis, plan_id)
        if lost:
            log.info("planning worker: re-queued lost plans %s", lost)
        return lost

    async def _wait(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except asyncio.TimeoutError:
            pass

# ------------------------------------------------------------------ inside `circle serve`


async def background_ctx(app: web.Application) -> AsyncIterator[None]:
    """Install the Planner (always) and, if settings.start_worker, a worker in this process."""
    settings = app[keys.SETTINGS]
    executor = process_pool(default_processes())
    runner = SolverRunner(executor)
    events = RedisEvents(app[keys.REDIS])
    planner = Planner(app[keys.DB], app[keys.REDIS], runner, events=events)
    app[keys.PLANNER] = planner
    warming = asyncio.create_task(runner.warm_up(), name="solver-warm-up")
    worker, task, worker_redis = None, None, None
    stop_chores, chores = asyncio.Event(), None
    if settings.start_worker and settings.redis_url:
        worker_redis = worker_redis_client(settings.redis_url)
        worker = PlanningWorker(app[keys.DB], worker_redis, runner, events=events)
        task = asyncio.create_task(worker.run(), name="planning-worker")
        chores = asyncio.create_task(run_chores(app[keys.DB], app[keys.REDIS], app[keys.CRYPTO], stop_chores),
                                     name="chores")
    yield
    stop_chores.set()
    warming.cancel()
    await asyncio.gather(warming, *([chores] if chores else []), return_exceptions=True)
    if worker is not None:
        worker.stop()
        await asyncio.gather(task, return_exceptions=True)
        await worker_redis.aclose()
    await planner.close()
    runner.close()
    executor.shutdown(wait=True, cancel_futures=True)


def worker_redis_client(url: str) -> aioredis.Redis:
    """A client whose read timeout outlasts the blocking XREADGROUP."""
    return create_redis(url, timeout_s=WorkerConfig.block_ms / 1000 + 5)

# ------------------------------------------------------------------ `circle worker`


async def run_worker(settings) -> int:
    """Run one planning worker until SIGTERM or SIGINT (the `circle worker` command)."""
    conn = await connect(settings.database_url)
    try:
        await apply_schema(conn)
    finally:
        await conn.close()
    pool = await create_pool(settings.database_url, size=4)
    redis = worker_redis_client(settings.redis_url)
    executor = process_pool(default_processes())
    runner = SolverRunner(executor)
    worker = PlanningWorker(Database(pool), redis, runner, config=WorkerConfig(concurrency=default_processes()))
    await runner.warm_up()
    stop_chores = asyncio.Event()
    chores = asyncio.create_task(run_chores(Database(pool), redis, Crypto(settings.resolved_secret()), stop_chores))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)
        loop.add_signal_handler(sig, stop_chores.set)
    try:
        await worker.run()
    finally:
        stop_chores.set()
        await asyncio.gather(chores, return_exceptions=True)
        runner.close()
        executor.shutdown(wait=True, cancel_futures=True)
        await redis.aclose()
        await pool.close()
    return 0
