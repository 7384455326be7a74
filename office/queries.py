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


async def older_audit(conn: Conn, *, record: str | None, actor_id: int | None, since, limit: int) -> list:
    """Visit corrections (visit_audit) and dispatcher plan edits (plan_edits), as audit-log changes:
    records `visits:<id>` and `plans:<id>`. A filter on another table returns none of them."""
    from core.audit import Change

    table, _, key = (record or "").partition(":")
    rows = []
    if record is None or table == "visits":
        rows += await conn.fetch(
            """SELECT a.id, a.changed_by AS actor_id, u.username AS actor_name, 'visits:' || a.visit_id AS record,
                      'visit_correction' AS action, a.before, a.after, a.reason, a.created_at
               FROM visit_audit a LEFT JOIN users u ON u.id = a.changed_by
               WHERE ($1 = '' OR a.visit_id::text = $1) AND ($2::bigint IS NULL OR a.changed_by = $2)
                 AND ($3::timestamptz IS NULL OR a.created_at >= $3)
               ORDER BY a.created_at DESC LIMIT $4""", key, actor_id, since, limit)
    if record is None or table == "plans":
        rows += await conn.fetch(
            """SELECT e.id, e.created_by AS actor_id, u.username AS actor_name, 'plans:' || e.plan_id AS record,
                      'plan_' || e.action AS action, '{}'::jsonb AS before,
                      jsonb_build_object('booking_id', e.booking_id, 'caregiver_id', e.caregiver_id,
                                         'pinned_start', e.pinned_start) AS after, '' AS reason, e.created_at
               FROM plan_edits e LEFT JOIN users u ON u.id = e.created_by
               WHERE ($1 = '' OR e.plan_id::text = $1) AND ($2::bigint IS NULL OR e.created_by = $2)
                 AND ($3::timestamptz IS NULL OR e.created_at >= $3)
               ORDER BY e.created_at DESC LIMIT $4""", key, actor_id, since, limit)
    return [Change(**dict(r)) for r in rows]
