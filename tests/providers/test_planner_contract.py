"""What the planner relies on: available caregivers with shifts, writing and releasing visits."""
from datetime import time, timedelta

import pytest

from core.clock import local_instant
from core.errors import ApiError
from providers import service
from providers.models import PlannedVisit
from tests.factories import ALL_QUALIFICATIONS, make_caregiver, make_circle, make_provider
from tests.providers.helpers import book, book_and_publish, publish


async def test_available_caregivers_carry_their_shift_and_provider_items(conn, street, tomorrow):
    """The street's caregiver works every day 08:00–17:00; the provider delivers every item."""
    found = await service.available_caregivers(conn, circle_id=street.circle_id, day=tomorrow)
    assert [c.id for c, _ in found] == [street.caregiver_id]
    caregiver, shift = found[0]
    assert "B01" in caregiver.item_codes and isinstance(caregiver.item_codes, frozenset)
    assert caregiver.qualifications == ALL_QUALIFICATIONS and caregiver.transport == "ebike"
    assert shift.start == local_instant(tomorrow, time(8)) and shift.has_break


async def test_leave_off_days_inactive_and_unserved_circles_are_left_out(conn, street, tomorrow):
    on_leave = await make_caregiver(conn, provider_id=street.provider_id, circle_id=street.circle_id)
    await conn.execute("INSERT INTO caregiver_days (caregiver_id, day, kind) VALUES ($1, $2, 'leave')",
                       on_leave, tomorrow)
    await make_caregiver(conn, provider_id=street.provider_id, circle_id=street.circle_id,
                         work_days=[d for d in range(1, 8) if d != tomorrow.isoweekday()])
    inactive = await make_caregiver(conn, provider_id=street.provider_id, circle_id=street.circle_id)
    await conn.execute("UPDATE caregivers SET active = false WHERE id = $1", inactive)
    elsewhere = await make_provider(conn, circle_ids=(await make_circle(conn),))
    await make_caregiver(conn, provider_id=elsewhere, circle_id=street.circle_id)
    override = await make_caregiver(conn, provider_id=street.provider_id, circle_id=street.circle_id)
    await conn.execute("""INSERT INTO caregiver_days (caregiver_id, day, kind, shift_start, shift_end)
                          VALUES ($1, $2, 'override', '13:00', '17:00')""", override, tomorrow)
    found = dict(await service.available_caregivers(conn, circle_id=street.circle_id, day=tomorrow))
    assert sorted(c.id for c in found) == sorted([street.caregiver_id, override])
    late = next(s for c, s in found.items() if c.id == override)
    assert late.start == local_instant(tomorrow, time(13)) and not late.has_break


async def test_provider_without_the_item_is_visible_in_item_codes(conn, street, tomorrow):
    no_bath = await make_provider(conn, circle_ids=(street.circle_id,), item_codes=("C01", "M01"))
    cid = await make_caregiver(conn, provider_id=no_bath, circle_id=street.circle_id)
    found = {c.id: c for c, _ in await service.available_caregivers(conn, circle_id=street.circle_id, day=tomorrow)}
    assert found[cid].item_codes == frozenset({"C01", "M01"})


async def test_overlapping_visits_for_one_caregiver_are_refused(db, conn, crypto, street, tomorrow):
    """The exclusion constraint: a caregiver cannot be in two homes at 09:30."""
    await book_and_publish(db, conn, crypto, street, tomorrow, at=time(9), minutes=60)
    second = await book(db, crypto, street, tomorrow)
    with pytest.raises(ApiError) as caught:
        await publish(conn, second, [street.caregiver_id], local_instant(tomorrow, time(9, 30)), 60)
    assert caught.value.status == 409 and caught.value.code == "caregiver_double_booked"
    # the savepoint leaves the transaction usable, and back-to-back visits are fine
    await publish(conn, second, [street.caregiver_id], local_instant(tomorrow, time(10)), 60)


async def test_released_visits_free_the_caregiver(db, conn, crypto, street, tomorrow):
    first = await book_and_publish(db, conn, crypto, street, tomorrow, at=time(9))
    await service.release_visits(conn, booking_ids=[first])
    assert await conn.fetchval("SELECT count(*) FROM visits WHERE booking_id = $1 AND released_at IS NULL",
                               first) == 0
    start = local_instant(tomorrow, time(9))
    await service.write_visits(conn, plan_id=None, visits=[PlannedVisit(
        booking_id=first, caregiver_id=street.caregiver_id, crew_member=1, position=0,
        planned_start=start, planned_end=start + timedelta(minutes=60), travel_minutes=5)])


def test_planned_visit_refuses_naive_or_reversed_times(tomorrow):
    start = local_instant(tomorrow, time(9))
    with pytest.raises(ValueError):
        PlannedVisit(1, 1, 1, 0, start.replace(tzinfo=None), start.replace(tzinfo=None) + timedelta(hours=1))
    with pytest.raises(ValueError):
        PlannedVisit(1, 1, 3, 0, start, start + timedelta(hours=1))
    with pytest.raises(ValueError):
        PlannedVisit(1, 1, 1, 0, start, start)
