"""All dispatch SQL. asyncpg Records (and the plans' jsonb) become dispatch models here and
nowhere else."""
from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any

import asyncpg

from dispatch.continuity import PastVisit
from dispatch.models import (ActiveVisit, BookingToPlan, EditAction, Plan, PlanBreak, PlanEdit, PlanKind,
                             PlanRoute, PlanStats, PlanStatus, PlanVisit, UnassignedBooking)
from dispatch.notify import BookingFacts, Elder, Person

Conn = asyncpg.Connection

# ------------------------------------------------------------------ plans: json ↔ models


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def routes_json(routes: list[PlanRoute] | tuple[PlanRoute, ...]) -> list[dict[str, Any]]:
    return [{**{k: v for k, v in dataclasses.asdict(r).items() if k not in ("visits", "breaks", "depart", "back")},
             "depart": _iso(r.depart), "back": _iso(r.back),
             "breaks": [{"start": _iso(b.start), "end": _iso(b.end)} for b in r.breaks],
             "visits": [_visit_json(v) for v in r.visits]} for r in routes]


def _visit_json(visit: PlanVisit) -> dict[str, Any]:
    data = dataclasses.asdict(visit)
    data["planned_start"], data["planned_end"] = _iso(visit.planned_start), _iso(visit.planned_end)
    return data


def _routes(data: list[dict[str, Any]]) -> tuple[PlanRoute, ...]:
    return tuple(PlanRoute(
        caregiver_id=r["caregiver_id"], caregiver_name=r.get("caregiver_name", ""),
        depart=_instant(r.get("depart")), back=_instant(r.get("back")),
        visits=tuple(PlanVisit(**{**v, "planned_start": _instant(v["planned_start"]),
                                  "planned_end": _instant(v["planned_end"])}) for v in r["visits"]),
        breaks=tuple(PlanBreak(_instant(b["start"]), _instant(b["end"])) for b in r.get("breaks", [])),
        travel_minutes=r.get("travel_minutes", 0), work_minutes=r.get("work_minutes", 0),
        idle_minutes=r.get("idle_minutes", 0)) for r in data)


def unassigned_json(items: list[UnassignedBooking] | tuple[UnassignedBooking, ...]) -> list[dict[str, Any]]:
    return [dataclasses.asdict(u) for u in items]


def stats_json(stats: PlanStats) -> dict[str, Any]:
    return dataclasses.asdict(stats)


def _stats(data: dict[str, Any]) -> PlanStats:
    known = {f.name for f in dataclasses.fields(PlanStats)}
    return PlanStats(**{k: v for k, v in data.items() if k in known})


_PLAN_COLUMNS = """id, circle_id, service_date, version, parent_id, kind, status, progress, time_limit_s,
    options, freeze_at, stats, routes, unassigned, failure_reason, cancel_requested, attempts,
    heartbeat_at, created_by, created_at, published_at"""


def _plan(row: asyncpg.Record) -> Plan:
    data = dict(row)
    data["kind"], data["status"] = PlanKind(data["kind"]), PlanStatus(data["status"])
    data["stats"], data["routes"] = _stats(data["stats"]), _routes(data["routes"])
    data["unassigned"] = tuple(UnassignedBooking(**u) for u in data["unassigned"])
    data["progress"] = round(float(data["progress"]), 3)
    return Plan(**data)

# ------------------------------------------------------------------ plans


async def circle_exists(conn: Conn, circle_id: int) -> bool:
    return bool(await conn.fetchval("SELECT true FROM circles WHERE id = $1", circle_id))


async def lock_circle_day(conn: Conn, circle_id: int, day: date) -> None:
    """Serialise version numbering and publishing of one circle-day (transaction-scoped)."""
    await conn.execute("SELECT pg_advisory_xact_lock($1::int, $2::int)", circle_id % 2**31, day.toordinal())


async def insert_plan(conn: Conn, *, circle_id: int, day: date, parent_id: int | None, kind: PlanKind,
                      time_limit_s: int, options: dict[str, Any], created_by: int | None) -> Plan:
    """A queued plan with the circle-day's next version number (lock the circle-day first)."""
    row = await conn.fetchrow(
        f"""INSERT INTO plans (circle_id, service_date, version, parent_id, kind, time_limit_s, options,
                               created_by)
            SELECT $1, $2, coalesce(max(version), 0) + 1, $3, $4, $5, $6, $7
            FROM plans WHERE circle_id = $1 AND service_date = $2
            RETURNING {_PLAN_COLUMNS}""",
        circle_id, day, parent_id, kind.value, time_limit_s, options, created_by)
    return _plan(row)


async def plan(conn: Conn, plan_id: int, *, for_update: bool = False) -> Plan | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_PLAN_COLUMNS} FROM plans WHERE id = $1{lock}", plan_id)
    return _plan(row) if row else None


async def plans_of(conn: Conn, *, circle_id: int | None, day: date | None, limit: int = 100) -> list[Plan]:
    rows = await conn.fetch(
        f"""SELECT {_PLAN_COLUMNS} FROM plans
            WHERE ($1::bigint IS NULL OR circle_id = $1) AND ($2::date IS NULL OR service_date = $2)
            ORDER BY service_date DESC, circle_id, version DESC LIMIT $3""", circle_id, day, limit)
    return [_plan(r) for r in rows]


async def published_plan(conn: Conn, circle_id: int, day: date, *, for_update: bool = False) -> Plan | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"""SELECT {_PLAN_COLUMNS} FROM plans
            WHERE circle_id = $1 AND service_date = $2 AND status = 'published'{lock}""", circle_id, day)
    return _plan(row) if row else None


async def newest_plan(conn: Conn, circle_id: int, day: date) -> Plan | None:
    """The circle-day's newest solved version: a draft, published or superseded plan (one still
    queued or solving may never finish; a failed one never becomes the day's plan)."""
    row = await conn.fetchrow(
        f"""SELECT {_PLAN_COLUMNS} FROM plans
            WHERE circle_id = $1 AND service_date = $2 AND status IN ('draft', 'published', 'superseded')
            ORDER BY version DESC LIMIT 1""", circle_id, day)
    return _plan(row) if row else None


async def claim_plan(conn: Conn, plan_id: int, *, stale_s: float) -> Plan | None:
    """Take a queued plan, or one whose runner stopped sending heartbeats, for solving.

    Bumps `attempts` (the claim's fencing token: later writes name it) and marks the plan
    solving. None when the plan is finished or another runner holds it.
    """
    row = await conn.fetchrow(
        f"""UPDATE plans SET status = 'solving', attempts = attempts + 1, heartbeat_at = now(),
                             progress = 0, updated_at = now()
            WHERE id = $1 AND cancel_requested IS NULL
              AND (status = 'queued' OR (status = 'solving' AND
                   coalesce(heartbeat_at, updated_at) < now() - make_interval(secs => $2)))
            RETURNING {_PLAN_COLUMNS}""", plan_id, stale_s)
    return _plan(row) if row else None


async def heartbeat(conn: Conn, plan_id: int, attempt: int, *, progress: float,
                    live: dict[str, Any]) -> asyncpg.Record | None:
    """Record progress under the claim `attempt`; returns (cancel_requested) or None if the
    claim was lost (another runner took the plan, or it was cancelled while queued)."""
    return await conn.fetchrow(
        """UPDATE plans SET heartbeat_at = now(), updated_at = now(), progress = $3,
                            stats = jsonb_set(stats, '{live}', $4::jsonb)
           WHERE id = $1 AND attempts = $2 AND status = 'solving'
           RETURNING cancel_requested""", plan_id, attempt, min(max(progress, 0.0), 1.0), live)


async def set_freeze(conn: Conn, plan_id: int, freeze_at: datetime | None) -> None:
    await conn.execute("UPDATE plans SET freeze_at = $2 WHERE id = $1", plan_id, freeze_at)


async def finish_plan(conn: Conn, plan_id: int, attempt: int, *, routes: list[PlanRoute],
                      unassigned: list[UnassignedBooking], stats: PlanStats) -> bool:
    """Store the solved draft under the claim `attempt`; False if the claim was lost."""
    done = await conn.fetchval(
        """UPDATE plans SET status = 'draft', progress = 1, routes = $3, unassigned = $4, stats = $5,
                            heartbeat_at = now(), updated_at = now()
           WHERE id = $1 AND attempts = $2 AND status = 'solving' RETURNING true""",
        plan_id, attempt, routes_json(routes), unassigned_json(unassigned), stats_json(stats))
    return bool(done)


async def fail_plan(conn: Conn, plan_id: int, reason: str, *, attempt: int | None = None) -> bool:
    """End a queued or solving plan as failed (under the claim `attempt` when given)."""
    done = await conn.fetchval(
        """UPDATE plans SET status = 'failed', failure_reason = $2, updated_at = now()
           WHERE id = $1 AND status IN ('queued', 'solving') AND ($3::int IS NULL OR attempts = $3)
           RETURNING true""", plan_id, reason[:500], attempt)
    return bool(done)


async def release_claim(conn: Conn, plan_id: int, attempt: int) -> None:
    """Give a plan back to the queue (a runner shutting down mid-solve)."""
    await conn.execute(
        """UPDATE plans SET status = 'queued', heartbeat_at = NULL, updated_at = now()
           WHERE id = $1 AND attempts = $2 AND status = 'solving'""", plan_id, attempt)


async def request_cancel(conn: Conn, plan_id: int, mode: str) -> None:
    await conn.execute(
        "UPDATE plans SET cancel_requested = $2, updated_at = now() WHERE id = $1", plan_id, mode)


async def touch_lost_plans(conn: Conn, *, stale_s: float) -> list[int]:
    """Queued or solving plans nobody has touched for `stale_s` seconds (their job was lost),
    marked as touched now so that concurrent sweepers re-queue each one once."""
    rows = await conn.fetch(
        """UPDATE plans SET updated_at = now() WHERE id IN (
               SELECT id FROM plans WHERE status IN ('queued', 'solving') AND cancel_requested IS NULL
                 AND coalesce(heartbeat_at, updated_at) < now() - make_interval(secs => $1)
                 AND updated_at < now() - make_interval(secs => $1)
               ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED)
           RETURNING id""", stale_s)
    return sorted(r["id"] for r in rows)


async def fail_abandoned_cancels(conn: Conn, *, stale_s: float) -> list[int]:
    """Plans cancelled while solving whose runner stopped before acting on it: failed now."""
    rows = await conn.fetch(
        """UPDATE plans SET status = 'failed', failure_reason = 'cancelled by the dispatcher',
                            updated_at = now()
           WHERE status IN ('queued', 'solving') AND cancel_requested IS NOT NULL
             AND coalesce(heartbeat_at, updated_at) < now() - make_interval(secs => $1)
           RETURNING id""", stale_s)
    return sorted(r["id"] for r in rows)


async def set_plan_status(conn: Conn, plan_id: int, status: PlanStatus) -> None:
    await conn.execute(
        """UPDATE plans SET status = $2, updated_at = now(),
                            published_at = CASE WHEN $2 = 'published' THEN now() ELSE published_at END
           WHERE id = $1""", plan_id, status.value)

# ------------------------------------------------------------------ edits

_EDIT_COLUMNS = "id, plan_id, booking_id, action, caregiver_id, pinned_start, created_by, created_at"


def _edit(row: asyncpg.Record) -> PlanEdit:
    data = dict(row)
    data["action"] = EditAction(data["action"])
    return PlanEdit(**data)


async def insert_edit(conn: Conn, *, plan_id: int, booking_id: int, action: EditAction,
                      caregiver_id: int | None, pinned_start: datetime | None, created_by: int | None) -> PlanEdit:
    row = await conn.fetchrow(
        f"""INSERT INTO plan_edits (plan_id, booking_id, action, caregiver_id, pinned_start, created_by)
            VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_EDIT_COLUMNS}""",
        plan_id, booking_id, action.value, caregiver_id, pinned_start, created_by)
    return _edit(row)


async def edits_of(conn: Conn, plan_id: int) -> list[PlanEdit]:
    rows = await conn.fetch(f"SELECT {_EDIT_COLUMNS} FROM plan_edits WHERE plan_id = $1 ORDER BY id", plan_id)
    return [_edit(r) for r in rows]


async def edits_of_lineage(conn: Conn, plan_id: int) -> list[PlanEdit]:
    """The edits of a plan and of every version it descends from, oldest first."""
    rows = await conn.fetch(
        f"""WITH RECURSIVE lineage(id, parent_id) AS (
                SELECT id, parent_id FROM plans WHERE id = $1
                UNION SELECT p.id, p.parent_id FROM plans p JOIN lineage l ON p.id = l.parent_id)
            SELECT {_EDIT_COLUMNS} FROM plan_edits WHERE plan_id IN (SELECT id FROM lineage)
            ORDER BY id""", plan_id)
    return [_edit(r) for r in rows]

# ------------------------------------------------------------------ the circle-day


async def bookings_of_day(conn: Conn, circle_id: int, day: date) -> list[BookingToPlan]:
    """Bookings of the circle-day whose item needs a visit and which are, or were, in a plan
    (pending, scheduled, started or finished; not cancelled or missed)."""
    rows = await conn.fetch(
        """SELECT b.id, b.resident_id, r.name AS resident_name, r.gender AS resident_gender, r.address,
                  r.lat, r.lon, r.caregiver_gender, b.item_code, m.name_zh AS item_name_zh, m.minutes,
                  m.qualification, m.crew, b.window_start, b.window_end, b.priority, b.status,
                  s.regular_caregiver_id AS series_caregiver_id
           FROM bookings b JOIN menu_items m ON m.code = b.item_code JOIN residents r ON r.id = b.resident_id
                LEFT JOIN booking_series s ON s.id = b.series_id
           WHERE b.circle_id = $1 AND b.service_date = $2 AND m.needs_visit
             AND b.status IN ('pending', 'scheduled', 'in_progress', 'completed', 'not_home', 'refused')
           ORDER BY b.id""", circle_id, day)
    return [BookingToPlan(**{**dict(r), "resident_gender": r["resident_gender"].strip(),
                             "caregiver_gender": (r["caregiver_gender"] or "").strip() or None}) for r in rows]


async def active_visits(conn: Conn, circle_id: int, day: date, *, for_update: bool = False) -> list[ActiveVisit]:
    """Visits binding a caregiver now (not released) for bookings of the circle-day."""
    lock = " FOR UPDATE OF v" if for_update else ""
    rows = await conn.fetch(
        f"""SELECT v.booking_id, v.caregiver_id, v.crew_member, v.position, v.planned_start, v.planned_end,
                   v.travel_minutes, v.check_in_at IS NOT NULL AS checked_in, b.status AS booking_status
            FROM visits v JOIN bookings b ON b.id = v.booking_id
            WHERE b.circle_id = $1 AND b.service_date = $2 AND v.released_at IS NULL
            ORDER BY v.caregiver_id, v.planned_start{lock}""", circle_id, day)
    return [ActiveVisit(**r) for r in rows]


async def past_visits(conn: Conn, resident_ids: list[int], *, since: date, before: date) -> list[PastVisit]:
    """The lead caregiver of every visit of these elders from `since` to the day before
    `before`: visits done or published (active visit rows), and visits planned in the newest
    draft or published plan of each circle-day (dispatch.continuity decides which counts)."""
    rows = await conn.fetch(
        """SELECT b.resident_id, b.item_code, b.service_date, v.caregiver_id,
                  b.status IN ('in_progress', 'completed', 'not_home', 'refused') AS done
           FROM visits v JOIN bookings b ON b.id = v.booking_id
           WHERE b.resident_id = ANY($1::bigint[]) AND b.service_date >= $2 AND b.service_date < $3
             AND v.crew_member = 1 AND v.released_at IS NULL
             AND b.status IN ('scheduled', 'in_progress', 'completed', 'not_home', 'refused')
           UNION ALL
           SELECT b.resident_id, b.item_code, b.service_date, (r ->> 'caregiver_id')::bigint, false
           FROM (SELECT DISTINCT ON (circle_id, service_date) routes FROM plans
                 WHERE service_date >= $2 AND service_date < $3 AND status IN ('draft', 'published')
                 ORDER BY circle_id, service_date, version DESC) p
                CROSS JOIN LATERAL jsonb_array_elements(p.routes) r
                CROSS JOIN LATERAL jsonb_array_elements(r -> 'visits') pv
                JOIN bookings b ON b.id = (pv ->> 'booking_id')::bigint
           WHERE b.resident_id = ANY($1::bigint[]) AND (pv ->> 'crew_member')::int = 1
             AND b.status NOT IN ('cancelled', 'missed')""",
        resident_ids, since, before)
    return [PastVisit(**r) for r in rows]


async def lock_changeable_bookings(conn: Conn, circle_id: int, day: date) -> dict[int, str]:
    """Booking id → status of the circle-day's bookings publishing may change (pending or
    scheduled and no visit checked in), locked until the end of the transaction."""
    rows = await conn.fetch(
        """SELECT b.id, b.status FROM bookings b
           WHERE b.circle_id = $1 AND b.service_date = $2 AND b.status IN ('pending', 'scheduled')
             AND NOT EXISTS (SELECT 1 FROM visits v WHERE v.booking_id = b.id AND v.released_at IS NULL
                             AND v.check_in_at IS NOT NULL)
           ORDER BY b.id FOR UPDATE OF b""", circle_id, day)
    return {r["id"]: r["status"] for r in rows}

async def clashing_visit(conn: Conn, caregiver_id: int, start: datetime, end: datetime) -> dict[str, Any] | None:
    """An active visit of the caregiver overlapping start..end: booking_id, planned_start,
    planned_end and the caregiver's name (for the 409 of a refused publish)."""
    row = await conn.fetchrow(
        """SELECT v.booking_id, v.planned_start, v.planned_end, c.name FROM visits v
           JOIN caregivers c ON c.id = v.caregiver_id
           WHERE v.caregiver_id = $1 AND v.released_at IS NULL
             AND tstzrange(v.planned_start, v.planned_end) && tstzrange($2, $3) LIMIT 1""",
        caregiver_id, start, end)
    return dict(row) if row else None

# ------------------------------------------------------------------ notifications


async def booking_facts(conn: Conn, booking_ids: list[int]) -> dict[int, BookingFacts]:
    """What the notification texts need about each booking: elder, item, family users."""
    rows = await conn.fetch(
        """SELECT b.id, b.service_date, m.name_zh, r.id AS resident_id, r.name, r.gender, r.phone, r.address,
                  coalesce((SELECT array_agg(u.id ORDER BY u.id) FROM family_links f
                            JOIN users u ON u.id = f.user_id AND u.active
                            WHERE f.resident_id = r.id), '{}') AS family_ids,
                  coalesce((SELECT array_agg(u.display_name ORDER BY u.id) FROM family_links f
                            JOIN users u ON u.id = f.user_id AND u.active
                            WHERE f.resident_id = r.id), '{}') AS family_names
           FROM bookings b JOIN menu_items m ON m.code = b.item_code JOIN residents r ON r.id = b.resident_id
           WHERE b.id = ANY($1::bigint[])""", booking_ids)
    return {r["id"]: BookingFacts(
        booking_id=r["id"], service_date=r["service_date"], item_name_zh=r["name_zh"],
        elder=Elder(r["resident_id"], r["name"], r["gender"].strip(), r["phone"], r["address"]),
        family=tuple(Person(uid, name) for uid, name in zip(r["family_ids"], r["family_names"])))
        for r in rows}


async def caregiver_people(conn: Conn, caregiver_ids: list[int]) -> dict[int, Person]:
    rows = await conn.fetch("SELECT id, name, phone FROM caregivers WHERE id = ANY($1::bigint[])", caregiver_ids)
    return {r["id"]: Person(r["id"], r["name"], r["phone"]) for r in rows}


async def pending_bookings(conn: Conn, booking_ids: list[int]) -> list[int]:
    """Those of these bookings still pending (waiting for a plan), in id order."""
    return [r["id"] for r in await conn.fetch(
        "SELECT id FROM bookings WHERE id = ANY($1::bigint[]) AND status = 'pending' ORDER BY id", booking_ids)]


async def bookings_waiting(conn: Conn, circle_id: int, day: date, plan_id: int) -> list[int]:
    """Pending bookings of the circle-day (visits needed) that the plan neither places nor
    explains: booked after it was made. Ordered by id."""
    rows = await conn.fetch(
        """WITH known AS (
               SELECT (u ->> 'booking_id')::bigint AS id FROM plans p, jsonb_array_elements(p.unassigned) u
               WHERE p.id = $3
               UNION
               SELECT (v ->> 'booking_id')::bigint FROM plans p, jsonb_array_elements(p.routes) r,
                                                        jsonb_array_elements(r -> 'visits') v
               WHERE p.id = $3)
           SELECT b.id FROM bookings b JOIN menu_items m ON m.code = b.item_code
           WHERE b.circle_id = $1 AND b.service_date = $2 AND b.status = 'pending' AND m.needs_visit
             AND NOT EXISTS (SELECT 1 FROM known k WHERE k.id = b.id)
           ORDER BY b.id""", circle_id, day, plan_id)
    return [r["id"] for r in rows]
