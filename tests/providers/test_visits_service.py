"""Check-in and check-out at the door on real PostgreSQL: distance, flags, booking and wallet."""
from datetime import time, timedelta

import pytest

from core.clock import local_instant
from core.errors import Conflict, Invalid, NotFound
from booking import queries as booking_queries
from booking.subsidy import service_month
from providers import service
from tests.factories import make_caregiver, make_user
from tests.providers.helpers import book_and_publish, visit_ids

NEAR = (31.2315, 121.4747)   # ~11 m from the elder's home (31.2314, 121.4747)
FAR = (31.2344, 121.4747)    # ~334 m away


async def scheduled_visit(db, conn, crypto, street, day, item="C01"):
    booking_id = await book_and_publish(db, conn, crypto, street, day, item, at=time(9))
    return booking_id, (await visit_ids(conn, booking_id))[0], local_instant(day, time(9))


async def wallet(conn, street, day):
    return await booking_queries.wallet(conn, street.elder.id, service_month(day))


async def test_check_in_records_distance_and_starts_the_booking(db, conn, crypto, street, tomorrow):
    booking_id, visit_id, start = await scheduled_visit(db, conn, crypto, street, tomorrow)
    visit, status = await service.check_in(db, actor=street.users["caregiver"], visit_id=visit_id,
                                           lat=NEAR[0], lon=NEAR[1], now=start - timedelta(minutes=5))
    assert status == "in_progress" and visit.check_in_distance_m == 11 and visit.flags == ()
    assert visit.check_in_at == start - timedelta(minutes=5)
    with pytest.raises(Conflict) as again:
        await service.check_in(db, actor=street.users["caregiver"], visit_id=visit_id, lat=NEAR[0], lon=NEAR[1],
                               now=start)
    assert again.value.code == "already_checked_in"


async def test_far_and_late_check_in_is_accepted_and_flagged(db, conn, crypto, street, tomorrow):
    """GPS fails indoors: 334 m away and 40 minutes late is recorded, flagged, never refused."""
    _, visit_id, start = await scheduled_visit(db, conn, crypto, street, tomorrow)
    visit, status = await service.check_in(db, actor=street.users["caregiver"], visit_id=visit_id,
                                           lat=FAR[0], lon=FAR[1], now=start + timedelta(minutes=40))
    assert status == "in_progress" and visit.check_in_distance_m == 334
    assert visit.flags == ("far_check_in", "late_start")


async def test_check_in_without_a_position_is_accepted_and_flagged(db, conn, crypto, street, tomorrow):
    """Indoors the phone may have no position at all: the visit still starts, flagged no_position;
    check-out without a position completes it."""
    booking_id, visit_id, start = await scheduled_visit(db, conn, crypto, street, tomorrow)
    visit, status = await service.check_in(db, actor=street.users["caregiver"], visit_id=visit_id,
                                           lat=None, lon=None, now=start)
    assert status == "in_progress" and visit.check_in_distance_m is None and visit.flags == ("no_position",)
    visit, status = await service.check_out(db, actor=street.users["caregiver"], visit_id=visit_id, lat=None,
                                            lon=None, outcome="done", now=start + timedelta(minutes=60))
    assert status == "completed" and "no_position" in visit.flags


async def test_check_in_hours_early_is_refused(db, conn, crypto, street, tomorrow):
    _, visit_id, start = await scheduled_visit(db, conn, crypto, street, tomorrow)
    with pytest.raises(Conflict) as caught:
        await service.check_in(db, actor=street.users["caregiver"], visit_id=visit_id, lat=NEAR[0], lon=NEAR[1],
                               now=start - timedelta(hours=3))
    assert caught.value.code == "too_early"


async def test_only_the_visits_caregiver_may_check_in(db, conn, crypto, street, tomorrow):
    _, visit_id, start = await scheduled_visit(db, conn, crypto, street, tomorrow)
    colleague = await make_caregiver(conn, provider_id=street.provider_id, circle_id=street.circle_id)
    other = await make_user(conn, "caregiver", caregiver_id=colleague)
    for actor in (other, street.users["provider_admin"]):
        with pytest.raises(NotFound):
            await service.check_in(db, actor=actor, visit_id=visit_id, lat=NEAR[0], lon=NEAR[1], now=start)


@pytest.mark.parametrize("outcome, status, held, spent", [
    ("done", "completed", 0, 4500), ("not_home", "not_home", 0, 0), ("refused", "refused", 0, 0)])
async def test_each_outcome_moves_booking_and_wallet(db, conn, crypto, street, tomorrow, outcome, status, held, spent):
    """Done captures the cleaning's 45-yuan hold; not home and refused release it."""
    booking_id, visit_id, start = await scheduled_visit(db, conn, crypto, street, tomorrow)
    assert (await wallet(conn, street, tomorrow)).held_fen == 4500
    actor = street.users["caregiver"]
    await service.check_in(db, actor=actor, visit_id=visit_id, lat=NEAR[0], lon=NEAR[1], now=start)
    visit, after = await service.check_out(db, actor=actor, visit_id=visit_id, lat=NEAR[0], lon=NEAR[1],
                                           outcome=outcome, notes="老人状态良好", now=start + timedelta(minutes=55))
    assert after == status and visit.outcome == outcome and visit.notes == "老人状态良好"
    assert visit.check_out_distance_m == 11 and visit.flags == ()
    found = await wallet(conn, street, tomorrow)
    assert (found.held_fen, found.spent_fen) == (held, spent)
    assert await booking_queries.wallets_not_reconciling(conn) == []


async def test_check_out_needs_a_check_in_and_happens_once(db, conn, crypto, street, tomorrow):
    _, visit_id, start = await scheduled_visit(db, conn, crypto, street, tomorrow)
    actor = street.users["caregiver"]
    with pytest.raises(Conflict) as first:
        await service.check_out(db, actor=actor, visit_id=visit_id, lat=NEAR[0], lon=NEAR[1], outcome="done", now=start)
    assert first.value.code == "not_checked_in"
    await service.check_in(db, actor=actor, visit_id=visit_id, lat=NEAR[0], lon=NEAR[1], now=start)
    visit, _ = await service.check_out(db, actor=actor, visit_id=visit_id, lat=NEAR[0], lon=NEAR[1],
                                       outcome="done", now=start + timedelta(minutes=10))
    assert visit.flags == ("shortened",)
    with pytest.raises(Conflict) as twice:
        await service.check_out(db, actor=actor, visit_id=visit_id, lat=NEAR[0], lon=NEAR[1], outcome="done", now=start)
    assert twice.value.code == "already_checked_out"


async def test_released_visit_cannot_be_checked_in(db, conn, crypto, street, tomorrow):
    booking_id, visit_id, start = await scheduled_visit(db, conn, crypto, street, tomorrow)
    await service.release_visits(conn, booking_ids=[booking_id])
    with pytest.raises(Conflict) as caught:
        await service.check_in(db, actor=street.users["caregiver"], visit_id=visit_id, lat=NEAR[0], lon=NEAR[1],
                               now=start)
    assert caught.value.code == "visit_released"

# ------------------------------------------------------------------ crew of two


async def crew_visit(db, conn, crypto, street, day):
    partner = await make_caregiver(conn, provider_id=street.provider_id, circle_id=street.circle_id, name="李红")
    partner_user = await make_user(conn, "caregiver", caregiver_id=partner)
    booking_id = await book_and_publish(db, conn, crypto, street, day, "E03", at=time(10),
                                        caregiver_ids=[street.caregiver_id, partner], minutes=30)
    first, second = await visit_ids(conn, booking_id)
    return booking_id, (street.users["caregiver"], first), (partner_user, second), local_instant(day, time(10))


async def test_crew_two_completes_when_the_last_partner_checks_out(db, conn, crypto, street, tomorrow):
    """Stair assistance (two people): first check-in starts it, the second only records; the booking
    completes at the second check-out, and the subsidy is captured once."""
    booking_id, (a, va), (b, vb), start = await crew_visit(db, conn, crypto, street, tomorrow)
    _, status = await service.check_in(db, actor=a, visit_id=va, lat=NEAR[0], lon=NEAR[1], now=start)
    assert status == "in_progress"
    _, status = await service.check_in(db, actor=b, visit_id=vb, lat=NEAR[0], lon=NEAR[1], now=start)
    assert status == "in_progress"
    _, status = await service.check_out(db, actor=a, visit_id=va, lat=NEAR[0], lon=NEAR[1], outcome="done",
                                        now=start + timedelta(minutes=30))
    assert status == "in_progress"
    _, status = await service.check_out(db, actor=b, visit_id=vb, lat=NEAR[0], lon=NEAR[1], outcome="done",
                                        now=start + timedelta(minutes=32))
    assert status == "completed"
    assert (await wallet(conn, street, tomorrow)).spent_fen == 3000
    assert await booking_queries.wallets_not_reconciling(conn) == []


async def test_crew_partner_who_never_came_does_not_block_completion(db, conn, crypto, street, tomorrow):
    booking_id, (a, va), _, start = await crew_visit(db, conn, crypto, street, tomorrow)
    await service.check_in(db, actor=a, visit_id=va, lat=NEAR[0], lon=NEAR[1], now=start)
    _, status = await service.check_out(db, actor=a, visit_id=va, lat=NEAR[0], lon=NEAR[1], outcome="done",
                                        now=start + timedelta(minutes=30))
    assert status == "completed"

# ------------------------------------------------------------------ corrections, no-shows, alerts


async def test_correction_is_audited_and_completes_a_forgotten_check_out(db, conn, crypto, street, tomorrow):
    booking_id, visit_id, start = await scheduled_visit(db, conn, crypto, street, tomorrow)
    await service.check_in(db, actor=street.users["caregiver"], visit_id=visit_id, lat=NEAR[0], lon=NEAR[1], now=start)
    now = start + timedelta(hours=3)
    with pytest.raises(Invalid) as no_change:
        await service.correct_visit(db, actor=street.users["provider_admin"], visit_id=visit_id, reason="x", now=now)
    assert no_change.value.details[0]["field"] == "body"
    visit, status = await service.correct_visit(
        db, actor=street.users["provider_admin"], visit_id=visit_id, reason="护理员忘记签退，电话核实",
        check_out_at=start + timedelta(minutes=58), outcome="done", now=now)
    assert status == "completed" and visit.outcome == "done"
    audit = await conn.fetchrow("SELECT changed_by, reason, before, after FROM visit_audit WHERE visit_id = $1", visit_id)
    assert audit["reason"] == "护理员忘记签退，电话核实" and audit["changed_by"] == street.users["provider_admin"].id
    assert audit["before"]["outcome"] is None and audit["after"]["outcome"] == "done"
    assert (await wallet(conn, street, tomorrow)).spent_fen == 4500


async def test_correction_checks_times_and_scope(db, conn, crypto, street, tomorrow):
    _, visit_id, start = await scheduled_visit(db, conn, crypto, street, tomorrow)
    admin = street.users["admin"]
    with pytest.raises(Invalid) as backwards:
        await service.correct_visit(db, actor=admin, visit_id=visit_id, reason="核实",
                                    check_in_at=start, check_out_at=start - timedelta(minutes=1),
                                    now=start + timedelta(hours=2))
    assert backwards.value.details[0]["field"] == "check_out_at"
    with pytest.raises(Invalid) as future:
        await service.correct_visit(db, actor=admin, visit_id=visit_id, reason="核实", check_in_at=start,
                                    now=start - timedelta(hours=1))
    assert future.value.details[0]["field"] == "check_in_at"
    other_admin = await make_user(conn, "provider_admin",
                                  provider_id=await conn.fetchval("INSERT INTO providers (name) VALUES ('别家') RETURNING id"))
    with pytest.raises(NotFound):
        await service.correct_visit(db, actor=other_admin, visit_id=visit_id, reason="核实", check_in_at=start,
                                    now=start + timedelta(hours=1))


async def test_overdue_visits_are_flagged_once(db, conn, crypto, street, tomorrow):
    _, late_id, start = await scheduled_visit(db, conn, crypto, street, tomorrow)
    on_time = await book_and_publish(db, conn, crypto, street, tomorrow, at=time(11))
    assert await service.flag_overdue_visits(db, now=start + timedelta(minutes=59)) == []
    assert await service.flag_overdue_visits(db, now=start + timedelta(minutes=61)) == [late_id]
    assert await service.flag_overdue_visits(db, now=start + timedelta(minutes=62)) == []
    assert await conn.fetchval("SELECT flags FROM visits WHERE id = $1", late_id) == ["no_show"]
    assert await conn.fetchval("SELECT flags FROM visits WHERE booking_id = $1", on_time) == []


async def test_alerts_show_flagged_visits_scoped_by_provider(db, conn, crypto, street, tomorrow):
    """The dispatcher sees a far check-in and a live no-show; another provider's admin sees nothing."""
    _, far_id, start = await scheduled_visit(db, conn, crypto, street, tomorrow)
    await service.check_in(db, actor=street.users["caregiver"], visit_id=far_id, lat=FAR[0], lon=FAR[1], now=start)
    missed_booking = await book_and_publish(db, conn, crypto, street, tomorrow, at=time(11))
    (missed_id,) = await visit_ids(conn, missed_booking)
    now = local_instant(tomorrow, time(12, 30))
    found = await service.alerts(db, actor=street.users["dispatcher"], circle_id=None, day=tomorrow, now=now)
    assert [(a.visit.id, a.visit.flags) for a in found] == [(far_id, ("far_check_in",)), (missed_id, ("no_show",))]
    other = await make_user(conn, "provider_admin",
                            provider_id=await conn.fetchval("INSERT INTO providers (name) VALUES ('别家') RETURNING id"))
    assert await service.alerts(db, actor=other, circle_id=street.circle_id, day=tomorrow, now=now) == []
    with pytest.raises(NotFound):
        await service.alerts(db, actor=street.users["dispatcher"], circle_id=street.circle_id + 999, day=tomorrow)

