"""Settlement through the service on a month of real visits, and clearing a low rating."""
from datetime import date, time, timedelta

import pytest

from core.clock import local_instant
from core.errors import Conflict, Invalid, NotFound
from booking import service as booking_service
from providers import service
from tests.factories import make_caregiver, make_provider, make_user
from tests.providers.helpers import book_and_publish, visit_ids

NEAR = (31.2315, 121.4747)
FAR = (31.2344, 121.4747)


def future_month(today: date) -> date:
    return (today.replace(day=1) + timedelta(days=40)).replace(day=1)


async def serve(db, conn, actor, booking_id, day, *, at=NEAR, minutes=55, outcome="done"):
    (visit_id, *_) = await visit_ids(conn, booking_id)
    start = local_instant(day, time(9))
    await service.check_in(db, actor=actor, visit_id=visit_id, lat=at[0], lon=at[1], now=start)
    await service.check_out(db, actor=actor, visit_id=visit_id, lat=at[0], lon=at[1], outcome=outcome,
                            now=start + timedelta(minutes=minutes))


async def a_month(db, conn, crypto, street, month):
    """Verified, far, shortened, low-rated, not-home cleanings, and a crew-2 stair assist."""
    caregiver = street.users["caregiver"]
    days = [month + timedelta(days=n) for n in range(6)]
    ids = [await book_and_publish(db, conn, crypto, street, d, "C01", at=time(9)) for d in days[:5]]
    for booking_id, day, kw in zip(ids, days, [{}, {"at": FAR}, {"minutes": 10}, {}, {"outcome": "not_home"}]):
        await serve(db, conn, caregiver, booking_id, day, **kw)
    evaluation = await booking_service.evaluate(db, actor=street.users["resident"], booking_id=ids[3], rating=2,
                                                comment="来晚了", source="app")
    partner = await make_caregiver(conn, provider_id=street.provider_id, circle_id=street.circle_id)
    partner_user = await make_user(conn, "caregiver", caregiver_id=partner)
    crew = await book_and_publish(db, conn, crypto, street, days[5], "E03", at=time(9),
                                  caregiver_ids=[street.caregiver_id, partner], minutes=30)
    first, second = await visit_ids(conn, crew)
    start = local_instant(days[5], time(9))
    for actor, visit_id in ((caregiver, first), (partner_user, second)):
        await service.check_in(db, actor=actor, visit_id=visit_id, lat=NEAR[0], lon=NEAR[1], now=start)
    for actor, visit_id in ((caregiver, first), (partner_user, second)):
        await service.check_out(db, actor=actor, visit_id=visit_id, lat=NEAR[0], lon=NEAR[1], outcome="done",
                                now=start + timedelta(minutes=31))
    return ids + [crew], evaluation


async def test_month_settlement_amounts_and_reasons(db, conn, crypto, street, today):
    month = future_month(today)
    (ok, far, short, low, not_home, crew), evaluation = await a_month(db, conn, crypto, street, month)
    provider, result = await service.settlement(db, actor=street.users["admin"], provider_id=street.provider_id,
                                                month=month)
    assert provider.id == street.provider_id
    assert [(line.booking_id, line.reasons) for line in result.lines] == [
        (ok, ()), (far, ("far_check_in",)), (short, ("shortened",)), (low, ("low_rating",)), (crew, ())]
    assert result.visits == 5 and result.payable_fen == 4500 + 3000 and result.withheld_fen == 3 * 4500
    assert result.payable_subsidy_fen + result.payable_self_pay_fen == result.payable_fen
    crew_line = result.lines[-1]
    assert len(crew_line.caregiver_ids) == 2 and crew_line.price_fen == 3000

    cleared = await service.clear_evaluation(db, actor=street.users["admin"], evaluation_id=evaluation.id)
    assert cleared.cleared_by == street.users["admin"].id and cleared.cleared_at is not None
    _, after = await service.settlement(db, actor=street.users["provider_admin"], provider_id=None, month=month)
    assert (after.payable_fen, after.withheld_fen) == (4500 + 4500 + 3000, 2 * 4500)  # the cleared one is paid


async def test_settlement_is_scoped_to_the_provider(db, conn, street, today):
    other_provider = await make_provider(conn)
    other_admin = await make_user(conn, "provider_admin", provider_id=other_provider)
    with pytest.raises(NotFound):
        await service.settlement(db, actor=other_admin, provider_id=street.provider_id, month=today)
    with pytest.raises(Invalid) as missing:
        await service.settlement(db, actor=street.users["admin"], provider_id=None, month=today)
    assert missing.value.details[0]["field"] == "provider_id"
    _, empty = await service.settlement(db, actor=other_admin, provider_id=None, month=today)
    assert empty.lines == () and empty.payable_fen == 0


async def test_only_a_low_rating_is_cleared(db, conn, crypto, street, today):
    day = today + timedelta(days=1)
    booking_id = await book_and_publish(db, conn, crypto, street, day, "C01", at=time(9))
    await serve(db, conn, street.users["caregiver"], booking_id, day)
    good = await booking_service.evaluate(db, actor=street.users["resident"], booking_id=booking_id, rating=5,
                                          comment="很好", source="app")
    with pytest.raises(Conflict):
        await service.clear_evaluation(db, actor=street.users["admin"], evaluation_id=good.id)
    with pytest.raises(NotFound):
        await service.clear_evaluation(db, actor=street.users["admin"], evaluation_id=good.id + 999)
