"""PostgreSQL: the pool, the schema (its migrations), transactions, and constraint names mapped to API errors."""
from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager
from typing import AsyncIterator

import asyncpg

from core import migrations
from core import labels
from core.errors import ApiError, Conflict, Invalid


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Released connections skip asyncpg's session reset (RESET ALL, UNLISTEN *, CLOSE ALL, advisory
    unlock: one more round trip per request): the service keeps no session state — its settings,
    cursors and advisory locks are all transaction-scoped. An open transaction is still rolled back."""


async def create_pool(url: str, *, size: int = 10) -> asyncpg.Pool:
    return await asyncpg.create_pool(url, min_size=1, max_size=size, init=_init_connection,
                                     command_timeout=30, reset=_keep_session)


async def connect(url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(url)
    await _init_connection(conn)
    return conn


async def apply_schema(conn: asyncpg.Connection) -> int:
    """Create or upgrade the schema: apply the migrations the database lacks (core/migrations.py),
    each in its own transaction; return the schema version. Raises core.migrations.MigrationError
    (DatabaseNewerThanCode for a database newer than the code)."""
    return await migrations.migrate(conn)


class Database:
    """Hands out transactions from a pool. Each use case opens exactly one."""

    def __init__(self, pool: asyncpg.Pool):
        self.pool = pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                yield conn

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection outside any transaction, for plain reads."""
        async with self.pool.acquire() as conn:
            yield conn

    @asynccontextmanager
    async def statement(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection for writes that are each one statement, committed on its own (autocommit): a
        statement that fails leaves nothing behind and the connection usable."""
        async with self.pool.acquire() as conn:
            yield conn


class UnitOfWork(Database):
    """A Database whose use cases all run on one connection, inside the caller's transaction: each use
    case's transaction becomes a savepoint, so several use cases commit or roll back as one. The demo
    loads a whole street this way; tests bind the app to a transaction they roll back afterwards.

    A lock keeps concurrent requests from sharing the connection at the same moment.
    """

    def __init__(self, conn: asyncpg.Connection):
        self.conn = conn
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        async with self._lock:
            async with self.conn.transaction():
                yield self.conn

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        async with self._lock:
            yield self.conn

    @asynccontextmanager
    async def statement(self) -> AsyncIterator[asyncpg.Connection]:
        """A savepoint: a failing statement leaves the test's transaction usable, as autocommit would."""
        async with self.transaction() as conn:
            yield conn


# constraint name -> (status, code, English message); the Chinese message is the code's (core.labels.CODES)
# unless a fourth item names it
CONSTRAINT_ERRORS: dict[str, tuple] = {
    "wallet_not_overspent": (409, "subsidy_exhausted", "the month's subsidy would be overspent"),
    "visits_no_double_booking": (409, "caregiver_double_booked", "the caregiver already has a visit at that time"),
    "visits_one_active_per_member": (409, "visit_exists", "the booking already has that visit"),
    "plans_one_published": (409, "plan_already_published",
                            "another plan for that circle and day is already published"),
    "plans_version_unique": (409, "plan_version_taken", "that plan version already exists"),
    "residents_id_card_unique": (409, "resident_exists", "a resident with that ID card number already exists"),
    "users_username_key": (409, "username_taken", "that username is already taken"),
    "users_username_lower_unique": (409, "username_taken", "that username is already taken (in any case)"),
    "providers_name_key": (409, "provider_exists", "a provider with that name exists"),
    "evaluations_one_per_source": (409, "already_evaluated", "this visit was already evaluated from that source"),
    "bookings_series_day_unique": (409, "series_day_exists", "the series already has a booking that day"),
    "caregivers_shift_order": (422, "invalid", "shift_end must be after shift_start", "下班时间须晚于上班时间"),
    "caregiver_days_override_shift": (422, "invalid", "an override needs shift_start before shift_end",
                                      "调班须填写上下班时间，且下班晚于上班"),
    "idempotency_keys_pkey": (409, "idempotency_in_flight", "a request with this Idempotency-Key is in progress"),
}


def constraint_error(exc: asyncpg.PostgresError) -> ApiError:
    """Translate a database constraint violation into the API error for its name."""
    name = getattr(exc, "constraint_name", None) or ""
    if name in CONSTRAINT_ERRORS:
        status, code, message, *zh = CONSTRAINT_ERRORS[name]
        return ApiError(message, message_zh=zh[0] if zh else labels.CODES[code], code=code, status=status)
    if isinstance(exc, (asyncpg.ForeignKeyViolationError, asyncpg.CheckViolationError,
                        asyncpg.NotNullViolationError)):
        return Invalid(f"rejected by the database ({name or exc.sqlstate})",
                       message_zh="提交的数据不符合要求", details=[{"field": name, "message": str(exc)}])
    return Conflict(f"conflict with the current state ({name or exc.sqlstate})",
                    message_zh="与当前状态冲突，请刷新后重试")
