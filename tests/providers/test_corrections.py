"""Corrections are evidence, not payment: a provider's correction that makes a visit done is flagged
`corrected` and withheld from settlement until a street admin reviews it; corrected times are bounded."""
from datetime import datetime, time, timedelta

import pytest

from core.clock import LOCAL_TZ, local_instant
from core.errors import Conflict, Forbidden, Invalid
from providers import service
from tests.providers.helpers import book_and_publish, visit_ids

NINE = time(9)


async def never_checked_in(db, conn, crypto, street, day):
    booking_id = await book_and_publish(db, conn, crypto, street, day, at=NINE)
    (visit_id,) = await visit_ids(conn, booking_id)
    return visit_id


async def test_a_visit_nobody_made_recorded_done_is_withheld_until_reviewed(db, conn, crypto, street, today):
    """The outside tester's case: a provider admin records a visit nobody checked into as done; it used
    to be the only payable line of the month. Now it is flagged, pending, and withheld."""
    visit_id = await never_checked_in(db, conn, crypto, street, today)
    start = local_instant(today, NINE)
    visit, status = await service.correct_visit(
        db, actor=street.users["provider_admin"], visit_id=visit_id, reason="补录", outcome="done",
        check_in_at=start, check_out_at=start + timedelta(minutes=60), now=start + timedelta(hours=3))
    assert status == "completed" and "corrected" in visit.flags and visit.review_status == "pending"
    month = today.replace(day=1)
    _, owed = await service.settlement(db, actor=street.users["admin"], provider_id=street.provider_id, month=month)
    (line,) = owed.lines
    assert not line.payable and line.reasons == ("correction_unreviewed",) and owed.payable_fen == 0

    with pytest.raises(Invalid) as no_reason:
        await service.review_visit(db, actor=street.users["admin"], visit_id=visit_id, approve=False, reason="")
    assert no_reason.value.details[0]["field"] == "reason"
    visit, _ = await service.review_visit(db, actor=street.users["admin"], visit_id=visit_id, approve=True, reason="")
    assert visit.review_status == "approved"
    _, owed = await service.settlement(db, actor=street.users["admin"], provider_id=street.provider_id, month=month)
    assert owed.lines[0].payable and owed.payable_fen == owed.lines[0].price_fen
    with pytest.raises(Conflict):   # decided once
        await service.review_visit(db, actor=street.users["admin"], visit_id=visit_id, approve=False, reason="再看")
    audit = await conn.fetch("SELECT reason, after->>'review_status' AS review FROM visit_audit WHERE visit_id = $1 "
                             "ORDER BY id", visit_id)
    assert [(a["reason"], a["review"]) for a in audit] == [("补录", "pending"), ("approved", "approved")]


async def test_a_rejected_correction_stays_withheld_with_its_reason(db, conn, crypto, street, today):
    visit_id = await never_checked_in(db, conn, crypto, street, today)
    start = local_instant(today, NINE)
    await service.correct_visit(db, actor=street.users["provider_admin"], visit_id=visit_id, reason="补录",
                                outcome="done", check_in_at=start, check_out_at=start + timedelta(minutes=50),
                                now=start + timedelta(hours=2))
    visit, _ = await service.review_visit(db, actor=street.users["admin"], visit_id=visit_id, approve=False,
                                          reason="电话回访：当天没有人来")
    assert visit.review_status == "rejected"
    _, owed = await service.settlement(db, actor=street.users["admin"], provider_id=street.provider_id,
                                       month=today.replace(day=1))
    assert owed.lines[0].reasons == ("correction_rejected",)


async def test_nobody_reviews_their_own_correction(db, conn, crypto, street, today):
    """A street admin may correct a visit too; another admin must review it."""
    visit_id = await never_checked_in(db, conn, crypto, street, today)
    start = local_instant(today, NINE)
    await service.correct_visit(db, actor=street.users["admin"], visit_id=visit_id, reason="补录", outcome="done",
                                check_in_at=start, check_out_at=start + timedelta(minutes=60),
                                now=start + timedelta(hours=2))
    with pytest.raises(Forbidden):
        await service.review_visit(db, actor=street.users["admin"], visit_id=visit_id, approve=True, reason="")


@pytest.mark.parametrize("when,why", [
    (datetime(1, 1, 1, tzinfo=LOCAL_TZ), "service day"),                  # stored as -infinity before
    (lambda day: local_instant(day, NINE) - timedelta(days=1), "service day"),
    (lambda day: local_instant(day, NINE) - timedelta(hours=2, minutes=1), "2 hours before"),
    (lambda day: local_instant(day, NINE) + timedelta(hours=5), "future"),
])
async def test_corrected_times_are_bounded(db, conn, crypto, street, today, when, why):
    """On the visit's service day, not before the planned start minus 2 hours, never in the future
    (`now` is 3 hours after the planned start here)."""
    visit_id = await never_checked_in(db, conn, crypto, street, today)
    at = when(today) if callable(when) else when
    with pytest.raises(Invalid) as caught:
        await service.correct_visit(db, actor=street.users["provider_admin"], visit_id=visit_id, reason="补录",
                                    check_in_at=at, now=local_instant(today, NINE) + timedelta(hours=3))
    assert caught.value.details[0]["field"] == "check_in_at" and why in caught.value.message
    assert await conn.fetchval("SELECT check_in_at FROM visits WHERE id = $1", visit_id) is None


async def test_a_visit_planned_for_tomorrow_cannot_be_recorded_done_today(db, conn, crypto, street, today):
    visit_id = await never_checked_in(db, conn, crypto, street, today + timedelta(days=1))
    start = local_instant(today + timedelta(days=1), NINE)
    with pytest.raises(Invalid):
        await service.correct_visit(db, actor=street.users["provider_admin"], visit_id=visit_id, reason="补录",
                                    outcome="done", check_in_at=start, check_out_at=start + timedelta(hours=1),
                                    now=local_instant(today, time(20)))
