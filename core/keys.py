"""Every typed application key, in one place (no globals)."""
from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

from core.crypto import Crypto
from core.db import Database
from core.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", Database)
REDIS = web.AppKey("redis", aioredis.Redis)
CRYPTO = web.AppKey("crypto", Crypto)
PLANNER = web.AppKey("planner", Any)  # dispatch's planning runner (queue or in-process)

# per-request storage
USER = web.RequestKey("user", Any)    # core.users.User | None
TOKEN = web.RequestKey("token", str)
SMS_STANDIN = web.AppKey("sms_standin", Any)  # core.sms.StandinGateway when `circle serve` started one
