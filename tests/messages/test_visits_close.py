"""Visits close, driven by the worker's chores under a simulated clock (as the month simulation
drives them): the no-show alert at planned start + 15 min, once, pushed on Redis and told to the
elder and family; a visit nobody came to becomes missed after its planned end + the grace (hold
released, caregiver's time freed), unless re-planned; not-home or refused for an elder living alone
opens a safety task on the hotline's list until it is closed with an outcome."""
from __future__ import annotations

import json
from datetime import time, timedelta

import pytest

from booking import queries as booking_queries
from booking import service as booking_service
from booking.subsidy import service_month
from core.clock import SimulatedClock, local_instant, use_clock
from core.errors import Conflict
from dispatch import chores, events
from providers import service as provider_service
from tests import factories
from tests.providers.helpers import book_and_publish, publish, visit_ids


async def messages(conn, booking_id, kind):
    return await conn.fetch("SELECT * FROM notifications WHERE booking_id = $1 AND kind = $2 ORDER BY id",
                            booking_id, kind)


async def test_the_noshow_alert_comes_at_start_plus_15_once_and_is_pushed(db, conn, crypto, street, redis, tomorrow):
    booking_id = await book_and_publish(db, conn, crypto, street, tomorrow, at=time(9))
    pubsub = redis.pubsub()
    await pubsub.subscribe(events.alert_channel(street.circle_id))
    clock = SimulatedClock(local_instant(tomorrow, time(9, 14)))
    with use_clock(clock):
        assert await chores.alert_noshows(db, redis) == []
        clock.advance(timedelta(minutes=1))
        [late] = await chores.alert_noshows(db, redis)
        clock.advance(timedelta(minutes=1))
        assert await chores.alert_noshows(db, redis) == []
    assert (late.booking_id, late.alerted_at) == (booking_id, local_instant(tomorrow, time(9, 15)))
    told = await messages(conn, booking_id, "late")
    assert len(told) == 2 and all(m["same_day"] for m in told)
    assert told[0]["message"].startswith("【一刻钟服务圈】护理员可能晚到")
    pushed = None
    for _ in range(20):
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
        if message:
            pushed = json.loads(message["data"])
            break
    await pubsub.aclose()
    assert pushed["kind"] == "no_show" and pushed["booking_id"] == booking_id


async def test_the_missing_partner_of_a_two_person_visit_is_alerted_to_the_dispatcher(db, conn, crypto, street,
                                                                                      tomorrow):
    """Two caregivers at 9:00; one checks in, the other never comes. At 9:15 the dispatcher is alerted
    to the missing one (the other is waiting), and the elder is not told a caregiver may be late."""
    partner = await factories.make_caregiver(conn, provider_id=street.provider_id, circle_id=street.circle_id)
    booking_id = await book_and_publish(db, conn, crypto, street, tomorrow, at=time(9),
                                        caregiver_ids=[street.caregiver_id, partner])
    lead, second = await visit_ids(conn, booking_id)
    await provider_service.check_in(db, actor=street.users["caregiver"], visit_id=lead, lat=None, lon=None,
                                    now=local_instant(tomorrow, time(9, 2)))
    with use_clock(SimulatedClock(local_instant(tomorrow, time(9, 15)))):
        [late] = await chores.alert_noshows(db)
        assert await chores.alert_noshows(db) == []
        standing = await provider_service.outstanding_late_visits(db, circle_ids=[street.circle_id],
                                                                  now=local_instant(tomorrow, time(9, 20)))
    assert (late.visit_id, late.caregiver_id, late.partner_there) == (second, partner, True)
    assert [v.visit_id for v in standing] == [second]
    assert events.alert_event(late)["partner_there"] is True
    assert await messages(conn, booking_id, "late") == []


async def test_a_visit_checked_in_in_time_raises_no_alert(db, conn, crypto, street, tomorrow):
    booking_id = await book_and_publish(db, conn, crypto, street, tomorrow, at=time(9))
    [visit_id] = await visit_ids(conn, booking_id)
    await provider_service.check_in(db, actor=street.users["caregiver"], visit_id=visit_id, lat=None, lon=None,
                                    now=local_instant(tomorrow, time(9, 10)))
    with use_clock(SimulatedClock(local_instant(tomorrow, time(9, 30)))):
        assert await chores.alert_noshows(db) == []
        assert await chores.close_missed(db) == []


async def test_nobody_came_the_visit_is_missed_after_its_end_plus_grace(db, conn, crypto, street, tomorrow):
    """09:00-10:00, grace 30 min: still scheduled at 10:29, missed at 10:30 with the hold released,
    the visit freed, the elder told; a second round changes nothing."""
    booking_id = await book_and_publish(db, conn, crypto, street, tomorrow, at=time(9), minutes=60)
    clock = SimulatedClock(local_instant(tomorrow, time(10, 29)))
    with use_clock(clock):
        assert await chores.close_missed(db, grace_min=30) == []
        clock.advance(timedelta(minutes=1))
        assert await chores.close_missed(db, grace_min=30) == [booking_id]
        assert await chores.close_missed(db, grace_min=30) == []
    booking = await booking_queries.booking(conn, booking_id)
    wallet = await booking_queries.wallet(conn, street.elder.id, service_month(tomorrow))
    assert booking.status.value == "missed" and wallet.held_fen == 0
    assert await conn.fetchval("SELECT count(*) FROM visits WHERE booking_id = $1 AND released_at IS NULL",
                               booking_id) == 0
    assert [m["resident_id"] for m in await messages(conn, booking_id, "missed")][0] == street.elder.id
    _, settlement = await provider_service.settlement(db, actor=street.users["admin"], provider_id=street.provider_id,
                                                      month=tomorrow)
    [line] = [line for line in settlement.lines if line.booking_id == booking_id]
    assert not line.payable and line.reasons == ("no_check_in", "missed")
    assert settlement.withheld_by_reason["missed"] == 1


async def test_a_visit_the_dispatcher_replanned_later_is_not_missed(db, conn, crypto, street, tomorrow):
    """A same-day re-plan moved the 09:00 visit to 14:00: at 10:30 it is not missed."""
    booking_id = await book_and_publish(db, conn, crypto, street, tomorrow, at=time(9), minutes=60)
    await provider_service.release_visits(conn, booking_ids=[booking_id])
    await publish(conn, booking_id, [street.caregiver_id], local_instant(tomorrow, time(14)), 60)
    with use_clock(SimulatedClock(local_instant(tomorrow, time(10, 30)))):
        assert await chores.close_missed(db, grace_min=30) == []


@pytest.mark.parametrize("lives_alone, opened", [(True, 1), (False, 0)])
async def test_not_home_for_an_elder_living_alone_opens_a_safety_task(db, conn, crypto, street, tomorrow,
                                                                      lives_alone, opened):
    await conn.execute("UPDATE residents SET lives_alone = $2 WHERE id = $1", street.elder.id, lives_alone)
    booking_id = await book_and_publish(db, conn, crypto, street, tomorrow, at=time(9))
    [visit_id] = await visit_ids(conn, booking_id)
    caregiver = street.users["caregiver"]
    await provider_service.check_in(db, actor=caregiver, visit_id=visit_id, lat=None, lon=None,
                                    now=local_instant(tomorrow, time(9)))
    await provider_service.check_out(db, actor=caregiver, visit_id=visit_id, lat=None, lon=None, outcome="not_home",
                                     now=local_instant(tomorrow, time(9, 5)))
    tasks = await booking_service.list_safety_tasks(db, actor=street.users["operator"])
    assert len(tasks) == opened
    if not opened:
        return
    [task] = tasks
    assert (task.kind, task.booking_id, task.resident_name) == ("not_home", booking_id, "王秀英")
    closed = await booking_service.close_safety_task(db, actor=street.users["operator"], task_id=task.id,
                                                     outcome="family_reached", notes="女儿已上门查看，老人平安")
    assert closed.closed_at is not None and closed.outcome == "family_reached"
    assert await booking_service.list_safety_tasks(db, actor=street.users["operator"]) == []
    with pytest.raises(Conflict):
        await booking_service.close_safety_task(db, actor=street.users["operator"], task_id=task.id,
                                                outcome="elder_safe")


async def test_every_minute_alerts_and_sends_the_same_day_message_at_once(db, conn, crypto, street, tomorrow,
                                                                         standin, gateway, settings):
    """One simulated minute (chores.every_minute) at 09:15: the alert, and its SMS to the elder handed
    to the stand-in gateway in the same minute."""
    booking_id = await book_and_publish(db, conn, crypto, street, tomorrow, at=time(9))
    with use_clock(SimulatedClock(local_instant(tomorrow, time(9, 15)))):
        counts = await chores.every_minute(db, None, gateway, settings)
    assert counts["late"] == 1 and counts["sent"] == 1 and counts["app"] == 1
    assert standin.received[0].phone == "13900000001" and "护理员可能晚到" in standin.received[0].text
    assert (await messages(conn, booking_id, "late"))[0]["status"] == "sent"


async def test_the_chores_are_plain_functions_of_db_for_a_simulation(db, conn, crypto, street, tomorrow,
                                                                     standin, gateway):
    """A simulation's list of chores, each called as chore(db) under its clock."""
    booking_id = await book_and_publish(db, conn, crypto, street, tomorrow, at=time(9))
    minute_chores = [chores.alert_noshows, chores.close_missed, chores.flag_overdue, chores.sender(gateway)]
    with use_clock(SimulatedClock(local_instant(tomorrow, time(9, 15)))):
        for chore in minute_chores:
            await chore(db)
    assert await conn.fetchval("SELECT noshow_alerted_at FROM visits WHERE booking_id = $1",
                               booking_id) == local_instant(tomorrow, time(9, 15))
    assert len(standin.received) == 1
