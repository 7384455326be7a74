"""The audit log: every change made through an editing endpoint, in one append-only table.

A domain's service calls `record_change` inside the transaction that makes the change, so a change
and its record commit together or not at all. `record` names the row as "<table>:<key>"."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Mapping

import asyncpg


@dataclass(frozen=True)
class Change:
    id: int
    actor_id: int | None
    actor_name: str | None
    record: str
    action: str
    before: dict
    after: dict
    reason: str
    created_at: datetime


def record_name(table: str, key: object) -> str:
    return f"{table}:{key}"


def _plain(value: Any) -> Any:
    if isinstance(value, (date, datetime, time)):
        return value.isoformat()
    if isinstance(value, (tuple, list, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict, dict]:
    """The fields whose value changed: (their values before, their values after)."""
    changed = [k for k in after if _plain(before.get(k)) != _plain(after[k])]
    return {k: _plain(before.get(k)) for k in changed}, {k: _plain(after[k]) for k in changed}


async def record_change(conn: asyncpg.Connection, *, actor_id: int | None, record: str, action: str,
                        before: Mapping[str, Any], after: Mapping[str, Any], reason: str = "") -> None:
    """Append one change (call it inside the transaction that makes the change)."""
    await conn.execute(
        """INSERT INTO audit_log (actor_id, record, action, before, after, reason)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        actor_id, record, action, _plain(dict(before)), _plain(dict(after)), reason)


async def changes(conn: asyncpg.Connection, *, record: str | None, actor_id: int | None,
                  since: datetime | None, limit: int = 200) -> list[Change]:
    """Changes newest first; `record` matches a whole record ("residents:12") or a table ("residents")."""
    rows = await conn.fetch(
        """SELECT a.id, a.actor_id, u.username AS actor_name, a.record, a.action, a.before, a.after,
                  a.reason, a.created_at
           FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id
           WHERE ($1::text IS NULL OR a.record = $1 OR a.record LIKE $1 || ':%')
             AND ($2::bigint IS NULL OR a.actor_id = $2)
             AND ($3::timestamptz IS NULL OR a.created_at >= $3)
           ORDER BY a.created_at DESC, a.id DESC LIMIT $4""", record, actor_id, since, limit)
    return [Change(**dict(r)) for r in rows]
