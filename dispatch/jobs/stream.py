"""The plan job stream: a Redis Stream with a consumer group. Thin wrappers; the database
stays the only copy of a plan (dispatch.jobs.run claims it there).

Stream `circle:plans`, group `planners`: a job is `{plan_id}`. A consumer reads new jobs with
XREADGROUP, first takes over jobs idle longer than the claim timeout with XAUTOCLAIM (their
consumer died), renews its own running jobs with XCLAIM (resetting their idle time, so a long
solve is not taken away), XACKs a job once the plan is finished, and, stopping mid-solve,
hands the job back: still pending (not acknowledged) but marked idle, so the next consumer's
XAUTOCLAIM takes it at once, and not counted as one more delivery.
"""
from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

STREAM = "circle:plans"
GROUP = "planners"
STREAM_MAX_LEN = 10_000


@dataclass(frozen=True)
class QueuedJob:
    entry_id: str
    plan_id: int
    deliveries: int = 1


async def ensure_group(redis: aioredis.Redis) -> None:
    """Create the stream and its consumer group if missing (idempotent)."""
    try:
        await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def enqueue(redis: aioredis.Redis, plan_id: int) -> str:
    """Add a job for `plan_id`; returns its entry id. Raises a Redis error when Redis is down."""
    entry_id = await redis.xadd(STREAM, {"plan_id": str(plan_id)}, maxlen=STREAM_MAX_LEN, approximate=True)
    return _text(entry_id)


async def read_new(redis: aioredis.Redis, consumer: str, *, block_ms: int, count: int = 1) -> list[QueuedJob]:
    """New jobs for this consumer (waits up to `block_ms`)."""
    answer = await redis.xreadgroup(GROUP, consumer, {STREAM: ">"}, count=count, block=block_ms)
    return [_job(entry_id, fields) for _stream, entries in answer or [] for entry_id, fields in entries]


async def claim_idle(redis: aioredis.Redis, consumer: str, *, idle_ms: int, count: int = 1) -> list[QueuedJob]:
    """Jobs delivered to some consumer but unacknowledged for `idle_ms`: taken over by this one."""
    answer = await redis.xautoclaim(STREAM, GROUP, consumer, min_idle_time=idle_ms, start_id="0-0", count=count)
    entries = answer[1] if answer else []
    jobs = [_job(entry_id, fields) for entry_id, fields in entries if fields]
    return [QueuedJob(j.entry_id, j.plan_id, await _deliveries(redis, j.entry_id)) for j in jobs]


async def renew(redis: aioredis.Redis, consumer: str, entry_id: str) -> None:
    """Reset the idle time of a job this consumer is still working on."""
    await redis.xclaim(STREAM, GROUP, consumer, min_idle_time=0, message_ids=[entry_id], justid=True)


async def hand_back(redis: aioredis.Redis, consumer: str, job: QueuedJob, *, idle_ms: int) -> None:
    """Give a job this consumer will not finish back to the group: it stays pending, its idle
    time is set to `idle_ms` (the others' claim timeout: the next XAUTOCLAIM takes it) and its
    delivery count is put back, so a clean stop is not mistaken for a crash."""
    await redis.xclaim(STREAM, GROUP, consumer, min_idle_time=0, message_ids=[job.entry_id], idle=idle_ms,
                       retrycount=max(job.deliveries - 1, 0), justid=True)


async def ack(redis: aioredis.Redis, entry_id: str) -> None:
    await redis.xack(STREAM, GROUP, entry_id)


async def pending_count(redis: aioredis.Redis) -> int:
    info = await redis.xpending(STREAM, GROUP)
    return int(info["pending"]) if info else 0


async def _deliveries(redis: aioredis.Redis, entry_id: str) -> int:
    rows = await redis.xpending_range(STREAM, GROUP, min=entry_id, max=entry_id, count=1)
    return int(rows[0]["times_delivered"]) if rows else 1


def _job(entry_id, fields) -> QueuedJob:
    return QueuedJob(_text(entry_id), int(_text(fields.get(b"plan_id") or fields.get("plan_id"))))


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
