"""Where the job runner lives, started and stopped with its process.

- `background_ctx` (an aiohttp cleanup context, inside `circle serve`): always installs the
  `JobSubmitter` that POST /plans submits to (app key PLANNER) with a solver pool; with
  settings.start_worker and Redis configured, also a stream consumer and the periodic chores.
- `run_worker` is `circle worker`: a stream consumer and the chores until SIGTERM or SIGINT.
  Either signal stops it within seconds: running solves are abandoned (their processes killed),
  their plans released and their jobs handed back unacknowledged, the chores end, the pool closes.
Solver processes end with their parent whatever killed it (dispatch.jobs.pool.exit_with_parent).
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import AsyncIterator

import aiohttp
import redis.asyncio as aioredis
from aiohttp import web

from core import keys
from core.crypto import Crypto
from core.db import Database, apply_schema, connect, create_pool
from core.redis import create_redis
from core.sms import StandinGateway, gateway_configured, gateway_for
from dispatch.chores import run_chores, run_sender
from dispatch.events import RedisEvents
from dispatch.jobs.consumer import ConsumerConfig, StreamConsumer
from dispatch.jobs.pool import SolverPool
from dispatch.jobs.submit import JobSubmitter

log = logging.getLogger(__name__)


def default_processes() -> int:
    """Solver processes for this machine: one core is left to the web process and PostgreSQL."""
    return max(1, (os.cpu_count() or 2) - 1)


def worker_redis_client(url: str) -> aioredis.Redis:
    """A client whose read timeout outlasts the blocking XREADGROUP."""
    return create_redis(url, timeout_s=ConsumerConfig.block_ms / 1000 + 5)

# ------------------------------------------------------------------ inside `circle serve`


async def background_ctx(app: web.Application) -> AsyncIterator[None]:
    """Install the JobSubmitter (always) and, if settings.start_worker, a consumer and the chores."""
    settings = app[keys.SETTINGS]
    pool = SolverPool(default_processes())
    events = RedisEvents(app[keys.REDIS])
    submitter = JobSubmitter(app[keys.DB], app[keys.REDIS], pool, events=events)
    app[keys.PLANNER] = submitter
    warming = asyncio.create_task(pool.warm_up(), name="solver-warm-up")
    consumer, task, consumer_redis = None, None, None
    stop_chores, chores = asyncio.Event(), None
    if settings.start_worker and settings.redis_url:
        consumer_redis = worker_redis_client(settings.redis_url)
        consumer = StreamConsumer(app[keys.DB], consumer_redis, pool, events=events)
        task = asyncio.create_task(consumer.run(), name="planning-worker")
        chores = asyncio.create_task(run_chores(app[keys.DB], app[keys.REDIS], app[keys.CRYPTO], stop_chores,
                                                settings=settings), name="chores")
    sender = None
    if settings.start_worker:
        sender = await start_sender(app[keys.DB], settings, stop_chores)
        if sender.standin is not None:
            app[keys.SMS_STANDIN] = sender.standin
    yield
    stop_chores.set()
    warming.cancel()
    await asyncio.gather(warming, *([chores] if chores else []), return_exceptions=True)
    if sender is not None:
        await sender.close()
    if consumer is not None:
        consumer.stop()
        await asyncio.gather(task, return_exceptions=True)
        await consumer_redis.aclose()
    await submitter.close()
    await asyncio.get_running_loop().run_in_executor(None, pool.close)

# ------------------------------------------------------------------ the outbox sender


class Sender:
    """The outbox sender's task with its HTTP session and, when no gateway is configured and
    settings.sms_standin allows, the local stand-in gateway it sends to."""

    def __init__(self, task: asyncio.Task, session: aiohttp.ClientSession, standin: StandinGateway | None):
        self.task, self.session, self.standin = task, session, standin

    async def close(self) -> None:
        await asyncio.gather(self.task, return_exceptions=True)
        await self.session.close()
        if self.standin is not None:
            await self.standin.close()


async def start_sender(db: Database, settings, stop: asyncio.Event) -> Sender:
    session = aiohttp.ClientSession()
    standin = None
    if not gateway_configured(settings) and settings.sms_standin:
        standin = await StandinGateway().start()
        log.info("no SMS gateway configured: the local stand-in gateway listens at %s", standin.url)
    gateway = gateway_for(settings, session, standin.url if standin else None)
    task = asyncio.create_task(run_sender(db, gateway, settings, stop), name="outbox-sender")
    return Sender(task, session, standin)

# ------------------------------------------------------------------ `circle worker`


async def run_worker(settings) -> int:
    """Run one stream consumer and the chores until SIGTERM or SIGINT (`circle worker`)."""
    conn = await connect(settings.database_url)
    try:
        await apply_schema(conn)
    finally:
        await conn.close()
    pool = await create_pool(settings.database_url, size=4)
    redis = worker_redis_client(settings.redis_url)
    solvers = SolverPool(default_processes())
    consumer = StreamConsumer(Database(pool), redis, solvers, config=ConsumerConfig(concurrency=default_processes()))
    stop_chores = asyncio.Event()
    _on_stop_signals(consumer, stop_chores)
    try:
        await _warm_up_unless_stopped(solvers, stop_chores)
        chores = asyncio.create_task(run_chores(Database(pool), redis, Crypto(settings.resolved_secret()), stop_chores,
                                                settings=settings))
        sender = await start_sender(Database(pool), settings, stop_chores)
        if not stop_chores.is_set():
            await consumer.run()
        stop_chores.set()
        await asyncio.gather(chores, return_exceptions=True)
        await sender.close()
    finally:
        await asyncio.get_running_loop().run_in_executor(None, solvers.close)
        await redis.aclose()
        await pool.close()
    return 0


def _on_stop_signals(consumer: StreamConsumer, stop_chores: asyncio.Event) -> None:
    """One handler for SIGTERM and SIGINT that stops everything (a second `add_signal_handler`
    for the same signal would replace the first)."""
    def stop(name: str) -> None:
        log.info("planning worker: %s received, stopping", name)
        consumer.stop()
        stop_chores.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop, sig.name)


async def _warm_up_unless_stopped(solvers: SolverPool, stopped: asyncio.Event) -> None:
    """Warm the solver processes, unless a stop signal comes first."""
    warming = asyncio.create_task(solvers.warm_up())
    waiting = asyncio.create_task(stopped.wait())
    await asyncio.wait({warming, waiting}, return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    if not warming.done():
        warming.cancel()
    await asyncio.gather(warming, waiting, return_exceptions=True)
