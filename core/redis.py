"""Redis for speed and coordination; never the only copy of anything.

Every call has a short timeout, so a Redis outage slows nothing down for long.
"""
from __future__ import annotations

import asyncio
import logging

import redis.asyncio as aioredis

log = logging.getLogger(__name__)


def create_redis(url: str, *, timeout_s: float = 0.5) -> aioredis.Redis:
    return aioredis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                   retry_on_timeout=False, decode_responses=False)


async def redis_ok(client: aioredis.Redis, *, timeout_s: float = 0.5) -> bool:
    """True when Redis answers a PING within the timeout."""
    try:
        return bool(await asyncio.wait_for(client.ping(), timeout_s))
    except (aioredis.RedisError, OSError, asyncio.TimeoutError):
        return False


REDIS_ERRORS = (aioredis.RedisError, OSError, asyncio.TimeoutError)
