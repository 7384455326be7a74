"""Races on separate real connections: partners at the door at the same moment, double booking."""
import asyncio
from datetime import time, timedelta

from core.clock import local_instant
from core.errors import ApiError
from booking import queries as booking_queries
from booking.subsidy import service_month
from providers import service
from providers.models import PlannedVisit
from tests import factories
from tests.providers.helpers import book, publish, visit_ids

NEAR = (31.2315, 121.4747)


async def crew_street(committed_db, crypto, day):
    async with committed_db.transaction() as conn:
        street = await factories.make_street(conn, crypto)
        partner = await factories.make_caregiver(conn, provider_id=street.provider_id, circle_id=street.circle_id)
        partner_user = await factories.make_user(conn, "caregiver", caregiver_id=partner)
    booking_id = await book(committed_db, crypto, street, day, "E03")
    async with committed_db.transaction() as conn:
        await publish(conn, booking_id, [street.caregiver_id, partner], local_instant(day, time(10)), 30)
        visits = await visit_ids(conn, booking_id)
    return street, booking_id, list(zip([street.users["caregiver"], partner_user], visits))


async def test_partners_checking_in_and_out_together_complete_the_booking_once(committed_db, crypto, tomorrow):
    """Both partners tap at the same instant, twice: no deadlock, one in_progress, one completion,
    the stair assist's 30 yuan captured once."""
    street, booking_id, crew = await crew_street(committed_db, crypto, tomorrow)
    start = local_instant(tomorrow, time(10))
    await asyncio.gather(*(service.check_in(committed_db, actor=a, visit_id=v, lat=NEAR[0], lon=NEAR[1], now=start)
                           for a, v in crew))
    results = await asyncio.gather(*(service.check_out(committed_db, actor=a, visit_id=v, lat=NEAR[0], lon=NEAR[1],
                                                       outcome="done", now=start + timedelta(minutes=30))
                                     for a, v in crew))
    assert sorted(status for _, status in results) == ["completed", "in_progress"]
    async with committed_db.connection() as conn:
        wallet = await booking_queries.wallet(conn, street.elder.id, service_month(tomorrow))
        assert (wallet.held_fen, wallet.spent_fen) == (0, 3000)
        assert await booking_queries.wallets_not_reconciling(conn) == []


async def test_two_plans_racing_for_one_caregiver_leave_one_visit(committed_db, crypto, tomorrow):
    """Two transactions write overlapping visits for the same caregiver: the exclusion constraint
    lets exactly one commit; the other gets 409 caregiver_double_booked."""
    async with committed_db.transaction() as conn:
        street = await factories.make_street(conn, crypto)
    bookings = [await book(committed_db, crypto, street, tomorrow, "C01") for _ in range(2)]
    start = local_instant(tomorrow, time(9))

    async def write(booking_id, offset_minutes):
        begin = start + timedelta(minutes=offset_minutes)
        async with committed_db.transaction() as conn:
            await service.write_visits(conn, plan_id=None, visits=[PlannedVisit(
                booking_id, street.caregiver_id, 1, 0, begin, begin + timedelta(minutes=60), 5)])

    results = await asyncio.gather(write(bookings[0], 0), write(bookings[1], 30), return_exceptions=True)
    errors = [r for r in results if isinstance(r, ApiError)]
    assert len(errors) == 1 and errors[0].code == "caregiver_double_booked" and errors[0].status == 409
    async with committed_db.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM visits WHERE released_at IS NULL") == 1
