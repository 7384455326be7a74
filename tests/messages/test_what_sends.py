"""What queues a message, each in the transaction of its change: a cancel or reschedule of a
scheduled booking (by anyone) tells its caregiver(s), the elder and the family; a pending booking's
cancellation tells nobody (nobody was coming)."""
from __future__ import annotations

from datetime import time, timedelta

from booking import service as booking_service
from tests.providers.helpers import book, book_and_publish


async def queued(conn, booking_id):
    return await conn.fetch(
        """SELECT kind, channel, phone, resident_id, user_id, caregiver_id, message, status FROM notifications
           WHERE booking_id = $1 ORDER BY id""", booking_id)


async def test_cancelling_a_scheduled_visit_tells_caregiver_elder_and_family(db, conn, crypto, street, tomorrow):
    booking_id = await book_and_publish(db, conn, crypto, street, tomorrow, at=time(9))
    await booking_service.cancel_booking(db, actor=street.users["family"], booking_id=booking_id, reason="住院")
    rows = await queued(conn, booking_id)
    caregiver_phone = await conn.fetchval("SELECT phone FROM caregivers WHERE id = $1", street.caregiver_id)
    by = {("caregiver" if r["caregiver_id"] else "family" if r["user_id"] else "elder"): r for r in rows}
    assert set(by) == {"caregiver", "elder", "family"} and all(r["kind"] == "cancelled" for r in rows)
    assert by["caregiver"]["phone"] == caregiver_phone and "09:00王秀英家" in by["caregiver"]["message"]
    assert by["elder"]["phone"] == "13900000001" and "已取消" in by["elder"]["message"]
    assert by["family"]["channel"] == "app" and "王秀英" in by["family"]["message"]


async def test_an_operators_reschedule_says_where_the_visit_went(db, conn, crypto, street, tomorrow):
    booking_id = await book_and_publish(db, conn, crypto, street, tomorrow, at=time(9))
    later = tomorrow + timedelta(days=2)
    await booking_service.reschedule_booking(db, actor=street.users["operator"], booking_id=booking_id,
                                             service_date=later, window_start=time(9), window_end=time(11),
                                             today=tomorrow - timedelta(days=1))
    rows = await queued(conn, booking_id)
    assert {r["kind"] for r in rows} == {"rescheduled", "cancelled"}
    elder = next(r for r in rows if r["resident_id"] and not r["user_id"] and not r["caregiver_id"])
    assert f"改约到{later.month}月{later.day}日" in elder["message"]
    assert any(r["caregiver_id"] == street.caregiver_id for r in rows)


async def test_cancelling_a_pending_booking_tells_nobody(db, conn, crypto, street, tomorrow):
    booking_id = await book(db, crypto, street, tomorrow)
    await booking_service.cancel_booking(db, actor=street.users["resident"], booking_id=booking_id)
    assert await queued(conn, booking_id) == []
