"""Whether anyone could ever serve a booking (booking.serving, pure) and what providers tell booking
(providers.service.serve_check): the day's leave and overrides count."""
from __future__ import annotations

from datetime import time, timedelta

from booking.models import ServeCheck
from booking.queries import menu_item
from booking.serving import fits_a_shift, why_unservable
from providers.service import serve_check

DAY = ((time(8), time(17)),)


def _why(check, start=time(9), end=time(11), minutes=60, needs_visit=True):
    found = why_unservable(check, item_code="C01", qualification="C", needs_visit=needs_visit,
                           window_start=start, window_end=end, minutes=minutes)
    return found.reason if found else None


def test_the_first_reason_in_order():
    assert _why(ServeCheck(0, 0, ())) == "no_provider"
    assert _why(ServeCheck(1, 0, ())) == "no_qualified_caregiver"
    assert _why(ServeCheck(1, 1, ())) == "outside_shifts"            # on leave, or not a working day
    assert _why(ServeCheck(1, 1, DAY)) is None
    assert _why(ServeCheck(1, 0, ()), needs_visit=False) is None     # a phone call needs no caregiver at the door


def test_a_visit_must_start_in_the_window_and_end_by_the_shift_end():
    assert fits_a_shift(DAY, time(16), time(17), 60)                 # starts at 16:00, done at 17:00
    assert not fits_a_shift(DAY, time(16, 30), time(18), 60)         # would end at 17:30
    assert not fits_a_shift(DAY, time(6), time(7, 30), 30)           # before the shift
    assert fits_a_shift(DAY + ((time(18), time(21)),), time(18), time(19), 60)


async def test_serve_check_counts_leave_and_overrides(conn, street, tomorrow):
    item = await menu_item(conn, "C01")
    check = await serve_check(conn, street.circle_id, item, tomorrow)
    assert (check.providers, check.qualified, check.shifts) == (1, 1, ((time(8), time(17)),))
    await conn.execute("INSERT INTO caregiver_days (caregiver_id, day, kind) VALUES ($1, $2, 'leave')",
                       street.caregiver_id, tomorrow)
    assert (await serve_check(conn, street.circle_id, item, tomorrow)).shifts == ()
    later = tomorrow + timedelta(days=1)
    await conn.execute("""INSERT INTO caregiver_days (caregiver_id, day, kind, shift_start, shift_end)
                          VALUES ($1, $2, 'override', '13:00', '20:00')""", street.caregiver_id, later)
    assert (await serve_check(conn, street.circle_id, item, later)).shifts == ((time(13), time(20)),)
    await conn.execute("UPDATE caregivers SET active = false WHERE id = $1", street.caregiver_id)
    assert (await serve_check(conn, street.circle_id, item, later)).qualified == 0
