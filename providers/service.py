"""Provider use cases. Each public function taking `db` owns one transaction; the functions
taking `conn` (`available_caregivers`, `write_visits`, `release_visits`) run inside the caller's
transaction — the planner (dispatch) builds its publishing on them."""
from __future__ import annotations

from datetime import date

import asyncpg

from app.db import constraint_error
from providers import queries
from providers.availability import working_shift
from providers.models import Caregiver, PlannedVisit, Shift

# ------------------------------------------------------------------ for the planner


async def available_caregivers(conn: asyncpg.Connection, *, circle_id: int,
                               day: date) -> list[tuple[Caregiver, Shift]]:
    """The caregivers who can be planned in `circle_id` on `day`, each with that day's shift.

    Active caregivers of the circle whose provider serves the circle; those on leave, on a day
    off of their weekly pattern, or inactive are left out. Ordered by caregiver id.
    `Caregiver.item_codes` holds what their provider delivers.
    """
    caregivers = await queries.serving_caregivers(conn, circle_id)
    rules = await queries.day_rules(conn, [c.id for c in caregivers], first=day, last=day)
    found = []
    for caregiver in caregivers:
        rule = next(iter(rules.get(caregiver.id, [])), None)
        shift = working_shift(caregiver, day, rule)
        if shift is not None:
            found.append((caregiver, shift))
    return found


async def write_visits(conn: asyncpg.Connection, *, plan_id: int | None,
                       visits: list[PlannedVisit]) -> None:
    """Insert the planned visits (inside the caller's transaction, as one savepoint).

    A caregiver in two places at once is refused by the database (`visits_no_double_booking`)
    and so is a second active visit for the same booking and crew member; either raises the
    mapped ApiError (409 `caregiver_double_booked` / `visit_exists`) and writes nothing, leaving
    the caller's transaction usable.
    """
    if not visits:
        return
    try:
        async with conn.transaction():
            await queries.insert_visits(conn, plan_id=plan_id, visits=visits)
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise constraint_error(exc) from exc


async def release_visits(conn: asyncpg.Connection, *, booking_ids: list[int]) -> None:
    """Set released_at on every active visit of these bookings (inside the caller's transaction).

    A released visit no longer binds its caregiver's time and leaves the day sheet and the
    calendar feed. The caller decides which bookings to release: visits already checked in are
    released too if passed, so re-planning must leave started bookings out.
    """
    if booking_ids:
        await queries.release_visits(conn, list(booking_ids))
