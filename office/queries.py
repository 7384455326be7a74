"""All street-office SQL: read-only reports over the lower domains' tables (as settlement reads
bookings), and the providers list for the settlement of all. Records become office models here."""
from __future__ import annotations

from datetime import date

import asyncpg

from office.models import ReportRow

Conn = asyncpg.Connection


async def month_rows(conn: Conn, *, first: date, last: date, circle_id: int | None) -> list[ReportRow]:
    """Every booking served (or due) in [first, last], with what the report needs of it."""
    rows = await conn.fetch(
        """SELECT b.id AS booking_id, b.resident_id, b.circle_id, m.category_code, c.name_zh AS category_zh,
                  b.status, b.subsidy_fen, b.self_pay_fen, cg.provider_id, p.name AS provider_name,
                  b.caregiver_id, v.planned_start, v.check_in_at,
                  (SELECT e.rating FROM evaluations e WHERE e.booking_id = b.id ORDER BY e.id DESC LIMIT 1) AS rating,
                  EXISTS (SELECT 1 FROM bookings o WHERE o.resident_id = b.resident_id AND o.status = 'completed'
                            AND (o.service_date, o.id) < (b.service_date, b.id)) AS seen_before,
                  EXISTS (SELECT 1 FROM bookings o WHERE o.resident_id = b.resident_id AND o.status = 'completed'
                            AND (o.service_date, o.id) < (b.service_date, b.id)
                            AND o.caregiver_id = b.caregiver_id) AS same_caregiver_before
           FROM bookings b
           JOIN menu_items m ON m.code = b.item_code JOIN menu_categories c ON c.code = m.category_code
           LEFT JOIN caregivers cg ON cg.id = b.caregiver_id LEFT JOIN providers p ON p.id = cg.provider_id
           LEFT JOIN LATERAL (SELECT vv.planned_start, vv.check_in_at FROM visits vv
                              WHERE vv.booking_id = b.id AND vv.crew_member = 1
                              ORDER BY vv.released_at NULLS FIRST, vv.id DESC LIMIT 1) v ON true
           WHERE b.service_date BETWEEN $1 AND $2 AND ($3::bigint IS NULL OR b.circle_id = $3)
           ORDER BY b.service_date, b.id""", first, last, circle_id)
    return [ReportRow(**r) for r in rows]


async def provider_ids(conn: Conn, circle_id: int | None) -> list[int]:
    """Every provider (serving the circle, when one is given)."""
    return [r["id"] for r in await conn.fetch(
        """SELECT p.id FROM providers p WHERE $1::bigint IS NULL
             OR EXISTS (SELECT 1 FROM provider_circles pc WHERE pc.provider_id = p.id AND pc.circle_id = $1)
           ORDER BY p.id""", circle_id)]


async def user_exists(conn: Conn, user_id: int) -> bool:
    return bool(await conn.fetchval("SELECT true FROM users WHERE id = $1", user_id))
