"""The day sheet and the calendar feed on real PostgreSQL."""
from datetime import time, timedelta

import pytest
from icalendar import Calendar

from core.clock import LOCAL_TZ, local_instant
from core.errors import NotFound
from providers import service
from tests.factories import make_caregiver, make_provider, make_user
from tests.providers.helpers import book_and_publish


async def two_visits(db, conn, crypto, street, day):
    """A bath at 14:00 (position 1) and a cleaning at 09:00 (position 0) for the street's caregiver."""
    bath = await book_and_publish(db, conn, crypto, street, day, "B01", at=time(14), position=1)
    clean = await book_and_publish(db, conn, crypto, street, day, "C01", at=time(9), position=0,
                                   resident=street.other_elder)
    return clean, bath


async def test_day_sheet_in_order_with_notes_and_what_to_bring(db, conn, crypto, street, today, tomorrow):
    clean, bath = await two_visits(db, conn, crypto, street, tomorrow)
    caregiver, shift, shown, entries = await service.day_sheet(
        db, crypto, actor=street.users["caregiver"], caregiver_id=street.caregiver_id, day=tomorrow, today=today)
    assert shown and shift.start == local_instant(tomorrow, time(8))
    assert [e.visit.booking_id for e in entries] == [clean, bath]
    bath_entry = entries[1]
    assert bath_entry.resident.care_notes == "糖尿病，胰岛素每日两次"
    assert bath_entry.bring[:2] == ("防滑垫", "毛巾") and bath_entry.item_minutes == 60
    assert bath_entry.resident.address and bath_entry.visit.travel_minutes == 10
    reads = await conn.fetch("SELECT user_id, resident_id, field FROM sensitive_reads")
    assert [(r["user_id"], r["resident_id"], r["field"]) for r in reads] == [
        (street.users["caregiver"].id, street.elder.id, "care_notes")]


async def test_care_notes_hidden_beyond_tomorrow(db, conn, crypto, street, today):
    later = today + timedelta(days=3)
    await book_and_publish(db, conn, crypto, street, later, "B01", at=time(10))
    _, _, shown, entries = await service.day_sheet(db, crypto, actor=street.users["caregiver"],
                                                   caregiver_id=street.caregiver_id, day=later, today=today)
    assert not shown and entries[0].resident.care_notes is None
    assert await conn.fetchval("SELECT count(*) FROM sensitive_reads") == 0


async def test_crew_partner_is_named(db, conn, crypto, street, tomorrow):
    partner = await make_caregiver(conn, provider_id=street.provider_id, circle_id=street.circle_id, name="李红")
    await book_and_publish(db, conn, crypto, street, tomorrow, "E03", at=time(10),
                           caregiver_ids=[street.caregiver_id, partner], minutes=30)
    _, _, _, entries = await service.day_sheet(db, crypto, actor=street.users["dispatcher"],
                                               caregiver_id=street.caregiver_id, day=tomorrow)
    assert entries[0].partner_name == "李红" and entries[0].crew == 2


async def test_nobody_else_reads_a_caregivers_day(db, conn, crypto, street, tomorrow):
    colleague = await make_caregiver(conn, provider_id=street.provider_id, circle_id=street.circle_id)
    colleague_user = await make_user(conn, "caregiver", caregiver_id=colleague)
    other_admin = await make_user(conn, "provider_admin", provider_id=await make_provider(conn))
    for actor in (colleague_user, other_admin):
        with pytest.raises(NotFound):
            await service.day_sheet(db, crypto, actor=actor, caregiver_id=street.caregiver_id, day=tomorrow)


async def test_calendar_feed_parses_back_with_the_right_events(db, conn, crypto, street, today, tomorrow):
    clean, bath = await two_visits(db, conn, crypto, street, tomorrow)
    await book_and_publish(db, conn, crypto, street, today + timedelta(days=20), "C01", at=time(9))
    token = await service.issue_calendar_token(db, actor=street.users["caregiver"], caregiver_id=street.caregiver_id)
    body = await service.calendar_feed(db, caregiver_id=street.caregiver_id, token=token, today=today)
    events = Calendar.from_ical(body).walk("VEVENT")
    assert [str(e["UID"]) for e in events] == [f"booking-{clean}-1@service-circle", f"booking-{bath}-1@service-circle"]
    bath_event = events[1]
    start = bath_event.decoded("DTSTART")
    assert start == local_instant(tomorrow, time(14)) and str(start.tzinfo) == str(LOCAL_TZ)
    assert "TZID=Asia/Shanghai" in body.decode()
    assert str(bath_event["LOCATION"]) == street.elder.address
    assert (bath_event["GEO"].latitude, bath_event["GEO"].longitude) == (street.elder.lat, street.elder.lon)
    assert str(bath_event["SUMMARY"]).endswith("王老人")
    assert "胰岛素" not in body.decode() and street.elder.phone not in body.decode()


async def test_a_new_token_revokes_the_old(db, street):
    actor = street.users["provider_admin"]
    old = await service.issue_calendar_token(db, actor=actor, caregiver_id=street.caregiver_id)
    new = await service.issue_calendar_token(db, actor=actor, caregiver_id=street.caregiver_id)
    assert await service.calendar_feed(db, caregiver_id=street.caregiver_id, token=new)
    with pytest.raises(NotFound):
        await service.calendar_feed(db, caregiver_id=street.caregiver_id, token=old)
    with pytest.raises(NotFound):  # a token only opens its own caregiver's feed
        await service.calendar_feed(db, caregiver_id=street.caregiver_id + 1, token=new)
    with pytest.raises(NotFound):
        await service.issue_calendar_token(db, actor=street.users["dispatcher"], caregiver_id=street.caregiver_id)
