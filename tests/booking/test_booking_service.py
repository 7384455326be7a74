"""Booking use cases on real PostgreSQL: holds, releases, idempotency, series, evaluations."""
from datetime import date, time, timedelta

import pytest

from core.errors import Conflict, Invalid, NotFound
from booking import queries, service
from booking.models import BookingStatus
from booking.models import BookingRequest, NewResident, SeriesRequest
from booking.subsidy import service_month


def request_for(resident_id, day, item="B01", start=time(9), end=time(11), channel="app", notes=""):
    return BookingRequest(resident_id, item, day, start, end, notes, channel)


async def book(db, crypto, street, day, item="B01", actor="resident", **kw):
    return await service.create_booking(db, actor=street.users[actor],
                                        request=request_for(street.elder.id, day, item), **kw)


async def test_booking_holds_the_subsidy_part(db, conn, crypto, street, tomorrow):
    """A bath (100 yuan, cap 100) is held in full from a fresh 200-yuan wallet."""
    body = await book(db, crypto, street, tomorrow, "B01")
    assert body.status == "pending"
    assert (body.price_fen, body.subsidy_fen, body.self_pay_fen) == (10_000, 10_000, 0)
    wallet = await queries.wallet(conn, street.elder.id, service_month(tomorrow))
    assert (wallet.granted_fen, wallet.held_fen, wallet.spent_fen) == (20_000, 10_000, 0)
    assert not await queries.wallets_not_reconciling(conn)


async def test_third_bath_is_mostly_self_pay(db, conn, crypto, street, tomorrow):
    """Once the month's 200 yuan are held, the next booking is all self-pay."""
    await book(db, crypto, street, tomorrow, "B01")
    await book(db, crypto, street, tomorrow, "B01")
    third = await book(db, crypto, street, tomorrow, "B01")
    assert (third.subsidy_fen, third.self_pay_fen) == (0, 10_000)
    assert not await queries.wallets_not_reconciling(conn)


async def test_ineligible_resident_has_no_wallet(db, conn, crypto, street, tomorrow):
    body = await service.create_booking(db, actor=street.users["operator"],
                                        request=request_for(street.other_elder.id, tomorrow, "C01", channel="hotline"))
    assert body.subsidy_fen == 0 and body.self_pay_fen == body.price_fen > 0
    assert body.channel == "hotline"
    assert await queries.wallet(conn, street.other_elder.id, service_month(tomorrow)) is None


async def test_cancel_releases_the_hold(db, conn, crypto, street, tomorrow):
    body = await book(db, crypto, street, tomorrow, "B01")
    cancelled = await service.cancel_booking(db, actor=street.users["family"], booking_id=body.id)
    assert cancelled.status is BookingStatus.CANCELLED
    wallet = await queries.wallet(conn, street.elder.id, service_month(tomorrow))
    assert wallet.held_fen == 0 and wallet.available_fen == 20_000
    kinds = [e.kind for e in await queries.wallet_entries(conn, street.elder.id, service_month(tomorrow))]
    assert kinds == ["grant", "hold", "release"]
    with pytest.raises(Conflict):
        await service.cancel_booking(db, actor=street.users["resident"], booking_id=body.id)


async def test_completion_captures_the_hold(db, conn, crypto, street, tomorrow):
    body = await book(db, crypto, street, tomorrow, "C01")
    for target in (BookingStatus.SCHEDULED, BookingStatus.IN_PROGRESS, BookingStatus.COMPLETED):
        async with db.transaction() as tx:
            await service.transition_booking(tx, body.id, target)
    wallet = await queries.wallet(conn, street.elder.id, service_month(tomorrow))
    assert (wallet.held_fen, wallet.spent_fen) == (0, body.subsidy_fen)
    assert not await queries.wallets_not_reconciling(conn)


async def test_same_key_same_body_returns_the_first_booking(db, conn, crypto, street, tomorrow):
    first = await book(db, crypto, street, tomorrow, idempotency_key="k-1")
    again = await book(db, crypto, street, tomorrow, idempotency_key="k-1")
    assert again == first
    assert await conn.fetchval("SELECT count(*) FROM bookings WHERE resident_id = $1", street.elder.id) == 1


async def test_same_key_other_body_is_refused(db, crypto, street, tomorrow):
    await book(db, crypto, street, tomorrow, "B01", idempotency_key="k-2")
    with pytest.raises(Invalid) as caught:
        await book(db, crypto, street, tomorrow, "C01", idempotency_key="k-2")
    assert caught.value.details[0]["field"] == "Idempotency-Key"


async def test_a_key_keeps_its_booking_and_a_retry_reads_it_back(db, conn, street, tomorrow):
    """A keyed create keeps the booking's id and the request's hash with the key; a retry with the same
    request answers the same booking as it is now (cancelled, here), and makes nothing new."""
    operator = street.users["operator"]
    data = request_for(street.elder.id, tomorrow, "C01", channel="hotline", notes="请先敲门")
    first = await service.create_booking(db, actor=operator, request=data, idempotency_key="kept-1")
    kept = await conn.fetchrow("SELECT booking_id, request_hash FROM idempotency_keys WHERE key = 'kept-1'")
    assert kept["booking_id"] == first.id and bytes(kept["request_hash"]) == service.request_hash(data)
    assert (first.subsidy_fen, first.self_pay_fen, first.notes) == (4_500, 0, "请先敲门")
    await service.cancel_booking(db, actor=operator, booking_id=first.id)
    again = await service.create_booking(db, actor=operator, request=data, idempotency_key="kept-1")
    assert again.id == first.id and again.status is BookingStatus.CANCELLED
    assert await conn.fetchval("SELECT count(*) FROM bookings WHERE resident_id = $1", street.elder.id) == 1
    with pytest.raises(Invalid) as refused:
        await service.create_booking(db, actor=operator, request=request_for(street.elder.id, tomorrow, "B01"),
                                     idempotency_key="kept-1")
    assert refused.value.details[0]["field"] == "Idempotency-Key"


async def test_one_path_splits_like_split_price(db, conn, street, tomorrow):
    """Held in full, partly self-pay once the wallet is nearly spent, all self-pay for an ineligible elder;
    the ledger opens with the grant, then the hold."""
    operator = street.users["operator"]
    month = service_month(tomorrow)
    first = await service.create_booking(db, actor=operator, request=request_for(street.elder.id, tomorrow, "C01"))
    entries = await queries.wallet_entries(conn, street.elder.id, month)
    assert [(e.kind, e.amount_fen, e.booking_id) for e in entries] == [("grant", 20_000, None),
                                                                        ("hold", 4_500, first.id)]
    await conn.execute("UPDATE subsidy_wallets SET held_fen = 19_990 WHERE resident_id = $1", street.elder.id)
    partly = await service.create_booking(db, actor=operator, request=request_for(street.elder.id, tomorrow, "C01"))
    assert (partly.subsidy_fen, partly.self_pay_fen) == (10, 4_490)
    other = await service.create_booking(db, actor=operator, request=request_for(street.other_elder.id, tomorrow))
    assert (other.subsidy_fen, other.self_pay_fen) == (0, 10_000)
    assert await queries.wallet(conn, street.other_elder.id, month) is None


async def test_a_refused_keyed_create_leaves_no_key(db, conn, crypto, street, tomorrow):
    """No such item, a day out of range: refused in the order as before, and the key stays free."""
    operator = street.users["operator"]
    with pytest.raises(Invalid):
        await service.create_booking(db, actor=operator, request=request_for(street.elder.id, tomorrow, "ZZ9"),
                                     idempotency_key="refused-1")
    with pytest.raises(Invalid):
        await service.create_booking(db, actor=operator,
                                     request=request_for(street.elder.id, tomorrow + timedelta(days=60)),
                                     idempotency_key="refused-1")
    with pytest.raises(NotFound):
        await service.create_booking(db, actor=operator, request=request_for(10 ** 9, tomorrow),
                                     idempotency_key="refused-1")
    assert await conn.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = 'refused-1'") == 0
    made = await service.create_booking(db, actor=operator, request=request_for(street.elder.id, tomorrow),
                                        idempotency_key="refused-1")
    assert made.item_code == "B01"


async def test_a_stranger_with_a_key_is_refused_and_leaves_no_key(db, conn, crypto, street, tomorrow):
    with pytest.raises(NotFound):
        await service.create_booking(db, actor=street.users["other_resident"],
                                     request=request_for(street.elder.id, tomorrow), idempotency_key="stranger-1")
    assert await conn.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = 'stranger-1'") == 0


async def test_strangers_cannot_book_or_see(db, crypto, street, tomorrow):
    """Another resident's login sees neither the elder nor their bookings: 404, not 403."""
    body = await book(db, crypto, street, tomorrow)
    stranger = street.users["other_resident"]
    with pytest.raises(NotFound):
        await service.create_booking(db, actor=stranger, request=request_for(street.elder.id, tomorrow))
    with pytest.raises(NotFound):
        await service.get_booking(db, actor=stranger, booking_id=body.id)
    assert await service.list_bookings(db, actor=stranger) == []


async def test_unknown_item_and_bad_dates_are_422(db, crypto, street, today):
    with pytest.raises(Invalid) as caught:
        await book(db, crypto, street, today + timedelta(days=1), item="ZZ99")
    assert caught.value.details[0] == {"field": "item_code", "value": "ZZ99", "message": "no such item on the menu",
                                       "message_zh": "服务项目：服务项目不存在"}
    with pytest.raises(Invalid) as caught:
        await book(db, crypto, street, today)
    assert caught.value.details[0]["field"] == "date"


async def test_price_is_snapshotted(db, conn, crypto, street, tomorrow):
    """A later price change alters no booking already made."""
    body = await book(db, crypto, street, tomorrow, "C01")
    await conn.execute("UPDATE menu_items SET price_fen = price_fen * 2 WHERE code = 'C01'")
    assert (await service.get_booking(db, actor=street.users["resident"], booking_id=body.id)).price_fen == body.price_fen


async def test_evaluation_only_after_completion(db, crypto, street, tomorrow):
    body = await book(db, crypto, street, tomorrow, "C01")
    with pytest.raises(Conflict):
        await service.evaluate(db, actor=street.users["resident"], booking_id=body.id, rating=5, comment="", source="app")
    for target in (BookingStatus.SCHEDULED, BookingStatus.IN_PROGRESS, BookingStatus.COMPLETED):
        async with db.transaction() as tx:
            await service.transition_booking(tx, body.id, target)
    evaluation = await service.evaluate(db, actor=street.users["resident"], booking_id=body.id, rating=4,
                                        comment="很好", source="app")
    assert evaluation.rating == 4
    call = await service.evaluate(db, actor=street.users["operator"], booking_id=body.id, rating=5,
                                  comment="回访满意", source="return_call")
    assert call.source == "return_call"


async def test_series_creates_the_coming_days_and_cancel_stops_them(db, conn, crypto, street, today):
    """A daily lunch delivery for two weeks: 7 days are booked at once, cancelling cancels them."""
    data = SeriesRequest(street.elder.id, "M01", (1, 2, 3, 4, 5, 6, 7), time(11), time(12),
                         today + timedelta(days=1), today + timedelta(days=14))
    series, created = await service.create_series(db, actor=street.users["family"], request=data, today=today)
    assert created == 7
    assert await service.materialize_series(db, today=today) == 0  # idempotent
    assert await service.materialize_series(db, today=today + timedelta(days=1)) == 1
    _, cancelled = await service.cancel_series(db, actor=street.users["resident"], series_id=series.id,
                                               today=today)
    assert cancelled == 8
    statuses = await conn.fetch("SELECT DISTINCT status FROM bookings WHERE series_id = $1", series.id)
    assert [r["status"] for r in statuses] == ["cancelled"]
    assert not await queries.wallets_not_reconciling(conn)


async def test_weekly_series_only_on_its_weekdays(db, conn, crypto, street, today):
    data = SeriesRequest(street.elder.id, "B01", (3,), time(9), time(11), today + timedelta(days=1),
                         today + timedelta(days=30))
    series, created = await service.create_series(db, actor=street.users["operator"], request=data, today=today)
    days = await conn.fetch("SELECT service_date FROM bookings WHERE series_id = $1", series.id)
    assert created == len(days) == 1 and days[0]["service_date"].isoweekday() == 3


async def test_resident_outside_the_circle_is_refused_with_the_distance(db, crypto, street):
    from providers.queries import circle_reach
    data = NewResident(name="张三", gender="M", birth_date=date(1945, 1, 1), phone="13800000000", address="远方路1号",
                       lat=31.30, lon=121.4737, circle_id=street.circle_id)
    with pytest.raises(Invalid) as caught:
        await service.create_resident(db, crypto, actor=street.users["operator"], resident=data, reach_of=circle_reach)
    assert caught.value.details[0]["field"] == "lat" and " m from the circle centre" in caught.value.message


async def test_reschedule_is_one_step_and_keeps_the_subsidy(db, conn, crypto, street, tomorrow):
    """With the wallet nearly empty, moving a visit keeps its subsidy (released, then held again)."""
    first = await book(db, crypto, street, tomorrow, "B01")
    await book(db, crypto, street, tomorrow, "B01")  # the month's 200 yuan are now held
    moved = await service.reschedule_booking(db, actor=street.users["operator"], booking_id=first.id,
                                             service_date=tomorrow + timedelta(days=1), window_start=time(14),
                                             window_end=time(16))
    assert moved.subsidy_fen == first.subsidy_fen == 10_000 and moved.window_start == time(14)
    old = await service.get_booking(db, actor=street.users["operator"], booking_id=first.id)
    assert old.status is BookingStatus.CANCELLED
    assert not await queries.wallets_not_reconciling(conn)
    with pytest.raises(Conflict):  # a cancelled booking cannot be moved; nothing is written
        await service.reschedule_booking(db, actor=street.users["operator"], booking_id=first.id,
                                         service_date=tomorrow, window_start=time(9), window_end=time(10))
    assert await conn.fetchval("SELECT count(*) FROM bookings WHERE resident_id = $1", street.elder.id) == 3


async def test_ratings_show_on_bookings_and_filter_lists(db, crypto, street, tomorrow):
    body = await book(db, crypto, street, tomorrow, "C01")
    for target in (BookingStatus.SCHEDULED, BookingStatus.IN_PROGRESS, BookingStatus.COMPLETED):
        async with db.transaction() as tx:
            await service.transition_booking(tx, body.id, target)
    operator = street.users["operator"]
    assert [b.id for b in await service.list_bookings(db, actor=operator, evaluated=False)] == [body.id]
    await service.evaluate(db, actor=operator, booking_id=body.id, rating=2, comment="来晚了", source="return_call")
    assert (await service.get_booking(db, actor=operator, booking_id=body.id)).rating == 2
    assert await service.list_bookings(db, actor=operator, evaluated=False) == []
