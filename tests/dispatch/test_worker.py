"""The planning worker on a real Redis Stream, committed data and a real process pool."""
from __future__ import annotations

import asyncio
import time

from core.redis import create_redis
from dispatch import service
from dispatch.jobs import stream
from dispatch.jobs.consumer import ConsumerConfig, StreamConsumer
from dispatch.jobs.lifecycle import worker_redis_client
from dispatch.jobs.pool import SolverPool
from dispatch.jobs.submit import QueueOnly
from dispatch.models import PlanStatus
from tests.dispatch.conftest import FAST, build_small_day

QUICK = ConsumerConfig(block_ms=200, claim_idle_ms=300, heartbeat_s=0.2, renew_every_s=0.5, sweep_every_s=60,
                     lost_after_s=60)


async def test_worker_solves_new_jobs_takes_over_a_dead_consumers_job_and_sweeps_lost_plans(
        committed_db, redis, settings, crypto, tomorrow):
    """Plan A is read by a consumer that dies without XACK; plan B is queued normally; plan C
    was requested while Redis was down (no job). The worker solves B in its process pool,
    takes A over with XAUTOCLAIM once idle, and its sweep re-queues C: all three end as drafts
    and nothing is left pending."""
    async with committed_db.transaction() as conn:
        small = await build_small_day(conn, crypto, tomorrow)
    actor, data = small.users["dispatcher"], dict(circle_id=small.circle_id, day=tomorrow, solution_limit=FAST)
    await stream.ensure_group(redis)
    plan_a = await service.request_plan(committed_db, QueueOnly(redis), actor=actor, **data)
    assert [j.plan_id for j in await stream.read_new(redis, "dead-consumer", block_ms=100)] == [plan_a.id]
    plan_b = await service.request_plan(committed_db, QueueOnly(redis), actor=actor, **data)
    dead = create_redis("redis://127.0.0.1:1/0", timeout_s=0.2)
    plan_c = await service.request_plan(committed_db, QueueOnly(dead), actor=actor, **data)
    await dead.aclose()
    async with committed_db.connection() as conn:
        await conn.execute("UPDATE plans SET updated_at = now() - interval '1 hour' WHERE id = $1", plan_c.id)

    client, pool = worker_redis_client(settings.redis_url), SolverPool(1)
    worker = StreamConsumer(committed_db, client, pool, config=QUICK, consumer="live-consumer")
    try:
        assert await worker.sweep() == [plan_c.id]
        started = time.monotonic()
        task = asyncio.create_task(worker.run())
        statuses = await _wait_finished(committed_db, [plan_a.id, plan_b.id, plan_c.id], timeout_s=60)
        elapsed = time.monotonic() - started
        worker.stop()
        await asyncio.wait_for(task, 10)
    finally:
        pool.close()
        await client.aclose()
    assert statuses == [PlanStatus.DRAFT] * 3, statuses
    assert {plan_id for plan_id, _ in worker.handled} == {plan_a.id, plan_b.id, plan_c.id}
    assert await stream.pending_count(redis) == 0
    print(f"worker: three plans in {elapsed:.1f} s (first includes starting the solver process)")


async def _wait_finished(db, plan_ids, *, timeout_s: float) -> list[PlanStatus]:
    deadline = time.monotonic() + timeout_s
    while True:
        async with db.connection() as conn:
            rows = await conn.fetch("SELECT id, status FROM plans WHERE id = ANY($1::bigint[]) ORDER BY id", plan_ids)
        statuses = [PlanStatus(r["status"]) for r in rows]
        if all(s.finished for s in statuses) or time.monotonic() > deadline:
            return statuses
        await asyncio.sleep(0.1)
