"""All provider SQL. asyncpg Records become provider models here and nowhere else."""
from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import asyncpg

from providers.models import (Caregiver, Circle, DayKind, DayRule, PlannedVisit, Provider)

Conn = asyncpg.Connection

# ------------------------------------------------------------------ circles


async def circles(conn: Conn) -> list[Circle]:
    rows = await conn.fetch("SELECT id, name, address, lat, lon, radius_m FROM circles ORDER BY id")
    return [Circle(**r) for r in rows]


async def circle(conn: Conn, circle_id: int) -> Circle | None:
    row = await conn.fetchrow("SELECT id, name, address, lat, lon, radius_m FROM circles WHERE id = $1",
                              circle_id)
    return Circle(**row) if row else None


async def insert_circle(conn: Conn, *, name: str, address: str, lat: float, lon: float,
                        radius_m: int) -> Circle:
    row = await conn.fetchrow(
        """INSERT INTO circles (name, address, lat, lon, radius_m) VALUES ($1, $2, $3, $4, $5)
           RETURNING id, name, address, lat, lon, radius_m""", name, address, lat, lon, radius_m)
    return Circle(**row)


async def missing_circles(conn: Conn, circle_ids: list[int]) -> list[int]:
    rows = await conn.fetch(
        "SELECT x FROM unnest($1::bigint[]) x WHERE NOT EXISTS (SELECT 1 FROM circles c WHERE c.id = x)",
        circle_ids)
    return [r["x"] for r in rows]

# ------------------------------------------------------------------ providers

_PROVIDER_SELECT = """SELECT p.id, p.name, p.phone,
    coalesce((SELECT array_agg(pc.circle_id ORDER BY pc.circle_id) FROM provider_circles pc
              WHERE pc.provider_id = p.id), '{}') AS circle_ids,
    coalesce((SELECT array_agg(pi.item_code ORDER BY pi.item_code) FROM provider_items pi
              WHERE pi.provider_id = p.id), '{}') AS item_codes,
    (SELECT count(*) FROM caregivers c WHERE c.provider_id = p.id AND c.active) AS caregiver_count
  FROM providers p"""


def _provider(row: asyncpg.Record) -> Provider:
    data = dict(row)
    data["circle_ids"] = tuple(data["circle_ids"])
    data["item_codes"] = tuple(data["item_codes"])
    return Provider(**data)


async def providers(conn: Conn) -> list[Provider]:
    return [_provider(r) for r in await conn.fetch(f"{_PROVIDER_SELECT} ORDER BY p.id")]


async def provider(conn: Conn, provider_id: int) -> Provider | None:
    row = await conn.fetchrow(f"{_PROVIDER_SELECT} WHERE p.id = $1", provider_id)
    return _provider(row) if row else None


async def insert_provider(conn: Conn, *, name: str, phone: str) -> int:
    return await conn.fetchval("INSERT INTO providers (name, phone) VALUES ($1, $2) RETURNING id", name, phone)


async def set_provider_circles(conn: Conn, provider_id: int, circle_ids: list[int]) -> None:
    await conn.execute("DELETE FROM provider_circles WHERE provider_id = $1", provider_id)
    await conn.execute(
        "INSERT INTO provider_circles (provider_id, circle_id) SELECT $1, unnest($2::bigint[])",
        provider_id, circle_ids)


async def set_provider_items(conn: Conn, provider_id: int, item_codes: list[str]) -> None:
    await conn.execute("DELETE FROM provider_items WHERE provider_id = $1", provider_id)
    await conn.execute(
        "INSERT INTO provider_items (provider_id, item_code) SELECT $1, unnest($2::text[])",
        provider_id, item_codes)


async def unknown_items(conn: Conn, item_codes: list[str]) -> list[str]:
    rows = await conn.fetch(
        """SELECT x FROM unnest($1::text[]) x
           WHERE NOT EXISTS (SELECT 1 FROM menu_items m WHERE m.code = x AND m.active)""", item_codes)
    return [r["x"] for r in rows]


async def provider_serves(conn: Conn, provider_id: int, circle_id: int) -> bool:
    return bool(await conn.fetchval(
        "SELECT true FROM provider_circles WHERE provider_id = $1 AND circle_id = $2", provider_id, circle_id))

# ------------------------------------------------------------------ caregivers

_CAREGIVER_COLUMNS = ("provider_id", "circle_id", "name", "gender", "phone", "qualifications", "home_lat",
                      "home_lon", "transport", "work_days", "shift_start", "shift_end", "break_minutes",
                      "break_earliest", "break_latest_end", "max_work_minutes", "active")

_CAREGIVER_SELECT = f"""SELECT c.id, {', '.join('c.' + col for col in _CAREGIVER_COLUMNS)},
    coalesce((SELECT array_agg(pi.item_code) FROM provider_items pi
              WHERE pi.provider_id = c.provider_id), '{{}}') AS item_codes
  FROM caregivers c"""


def _caregiver(row: asyncpg.Record) -> Caregiver:
    data = dict(row)
    data["gender"] = data["gender"].strip()
    data["qualifications"] = tuple(data["qualifications"])
    data["work_days"] = tuple(sorted(data["work_days"]))
    data["item_codes"] = frozenset(data["item_codes"])
    return Caregiver(**data)


async def caregiver(conn: Conn, caregiver_id: int, *, for_update: bool = False) -> Caregiver | None:
    if for_update:
        await conn.execute("SELECT 1 FROM caregivers WHERE id = $1 FOR UPDATE", caregiver_id)
    row = await conn.fetchrow(f"{_CAREGIVER_SELECT} WHERE c.id = $1", caregiver_id)
    return _caregiver(row) if row else None


async def list_caregivers(conn: Conn, *, provider_id: int | None, circle_id: int | None,
                          include_inactive: bool) -> list[Caregiver]:
    rows = await conn.fetch(
        f"""{_CAREGIVER_SELECT}
            WHERE ($1::bigint IS NULL OR c.provider_id = $1) AND ($2::bigint IS NULL OR c.circle_id = $2)
              AND ($3 OR c.active) ORDER BY c.provider_id, c.name, c.id""",
        provider_id, circle_id, include_inactive)
    return [_caregiver(r) for r in rows]


async def serving_caregivers(conn: Conn, circle_id: int) -> list[Caregiver]:
    """Active caregivers of the circle whose provider serves the circle."""
    rows = await conn.fetch(
        f"""{_CAREGIVER_SELECT}
            WHERE c.circle_id = $1 AND c.active
              AND EXISTS (SELECT 1 FROM provider_circles pc
                          WHERE pc.provider_id = c.provider_id AND pc.circle_id = c.circle_id)
            ORDER BY c.id""", circle_id)
    return [_caregiver(r) for r in rows]


async def insert_caregiver(conn: Conn, **fields: Any) -> int:
    columns = [col for col in _CAREGIVER_COLUMNS if col in fields]
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    return await conn.fetchval(
        f"INSERT INTO caregivers ({', '.join(columns)}) VALUES ({placeholders}) RETURNING id",
        *(fields[col] for col in columns))


async def update_caregiver(conn: Conn, caregiver_id: int, **fields: Any) -> None:
    columns = [col for col in _CAREGIVER_COLUMNS if col in fields and col != "provider_id"]
    if not columns:
        return
    assignments = ", ".join(f"{col} = ${i}" for i, col in enumerate(columns, start=2))
    await conn.execute(f"UPDATE caregivers SET {assignments} WHERE id = $1",
                       caregiver_id, *(fields[col] for col in columns))

# ------------------------------------------------------------------ day rules


def _day_rule(row: asyncpg.Record) -> DayRule:
    return DayRule(day=row["day"], kind=DayKind(row["kind"]), shift_start=row["shift_start"],
                   shift_end=row["shift_end"], note=row["note"])


async def day_rules(conn: Conn, caregiver_ids: list[int], *, first: date, last: date) -> dict[int, list[DayRule]]:
    """Each caregiver's day rules from `first` through `last`."""
    rows = await conn.fetch(
        """SELECT caregiver_id, day, kind, shift_start, shift_end, note FROM caregiver_days
           WHERE caregiver_id = ANY($1::bigint[]) AND day BETWEEN $2 AND $3
           ORDER BY caregiver_id, day""", caregiver_ids, first, last)
    found: dict[int, list[DayRule]] = {}
    for row in rows:
        found.setdefault(row["caregiver_id"], []).append(_day_rule(row))
    return found


async def replace_day_rule(conn: Conn, caregiver_id: int, *, day: date, kind: str | None,
                           shift_start: time | None, shift_end: time | None, note: str) -> None:
    """Set one date's rule; kind None removes it (back to the weekly pattern)."""
    await conn.execute("DELETE FROM caregiver_days WHERE caregiver_id = $1 AND day = $2", caregiver_id, day)
    if kind is not None:
        await conn.execute(
            """INSERT INTO caregiver_days (caregiver_id, day, kind, shift_start, shift_end, note)
               VALUES ($1, $2, $3, $4, $5, $6)""", caregiver_id, day, kind, shift_start, shift_end, note)

# ------------------------------------------------------------------ visits: writing a plan


async def insert_visits(conn: Conn, *, plan_id: int | None, visits: list[PlannedVisit]) -> None:
    """Insert the visits in one statement (the exclusion constraint checks every row)."""
    await conn.execute(
        """INSERT INTO visits (booking_id, caregiver_id, plan_id, crew_member, position,
               planned_start, planned_end, travel_minutes)
           SELECT b, c, $1, m, p, s, e, t
           FROM unnest($2::bigint[], $3::bigint[], $4::smallint[], $5::integer[],
                       $6::timestamptz[], $7::timestamptz[], $8::integer[]) AS v(b, c, m, p, s, e, t)""",
        plan_id, [v.booking_id for v in visits], [v.caregiver_id for v in visits],
        [v.crew_member for v in visits], [v.position for v in visits],
        [v.planned_start for v in visits], [v.planned_end for v in visits],
        [v.travel_minutes for v in visits])


async def release_visits(conn: Conn, booking_ids: list[int], *, now: datetime | None = None) -> int:
    """Set released_at on the active visits of these bookings; returns how many."""
    result = await conn.execute(
        """UPDATE visits SET released_at = coalesce($2, now())
           WHERE booking_id = ANY($1::bigint[]) AND released_at IS NULL""", booking_ids, now)
    return int(result.split()[-1])
