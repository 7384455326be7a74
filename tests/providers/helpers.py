"""Helpers for provider tests: book a visit and publish it the way the planner will."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from core.clock import local_instant
from booking import service as booking_service
from booking.models import BookingRequest
from providers import service
from providers.models import PlannedVisit


async def book(db, crypto, street, day: date, item: str = "C01", *, resident=None) -> int:
    """A pending booking of `item` on `day` (any day: the booking horizon is moved to allow it)."""
    resident = resident or street.elder
    data = BookingRequest(resident.id, item, day, time(8), time(20), channel="hotline")
    body = await booking_service.create_booking(db, actor=street.users["operator"], request=data,
                                                today=day - timedelta(days=1))
    return body.id


async def publish(conn, booking_id: int, caregiver_ids: list[int], start: datetime, minutes: int,
                  *, position: int = 0, travel_minutes: int = 10, plan_id=None) -> None:
    """Write the visits (one per crew member) and schedule the booking, as publishing does."""
    visits = [PlannedVisit(booking_id=booking_id, caregiver_id=cid, crew_member=n, position=position,
                           planned_start=start, planned_end=start + timedelta(minutes=minutes),
                           travel_minutes=travel_minutes)
              for n, cid in enumerate(caregiver_ids, start=1)]
    await service.write_visits(conn, plan_id=plan_id, visits=visits)
    await booking_service.schedule_booking(conn, booking_id, caregiver_id=caregiver_ids[0], planned_start=start)


async def book_and_publish(db, conn, crypto, street, day: date, item: str = "C01", *, at: time = time(9),
                           caregiver_ids: list[int] | None = None, minutes: int = 60, position: int = 0,
                           resident=None) -> int:
    booking_id = await book(db, crypto, street, day, item, resident=resident)
    await publish(conn, booking_id, caregiver_ids or [street.caregiver_id], local_instant(day, at), minutes,
                  position=position)
    return booking_id


async def visit_ids(conn, booking_id: int) -> list[int]:
    rows = await conn.fetch("""SELECT id FROM visits WHERE booking_id = $1 AND released_at IS NULL
                               ORDER BY crew_member""", booking_id)
    return [r["id"] for r in rows]
