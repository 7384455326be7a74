"""Races on separate real connections: the database, not Python, keeps the invariants."""
import asyncio
from datetime import time, timedelta

from core.errors import ApiError
from booking import queries, service
from booking.models import BookingRequest
from booking.subsidy import service_month
from tests import factories


async def _street(committed_db, crypto):
    async with committed_db.transaction() as conn:
        return await factories.make_street(conn, crypto)


async def test_fifty_simultaneous_bookings_never_overspend(committed_db, crypto, tomorrow):
    """50 concurrent 45-yuan cleanings against one 200-yuan wallet: at most 20,000 fen held,
    every booking still made (the rest self-pay), and the ledger sums to the wallet."""
    street = await _street(committed_db, crypto)
    data = BookingRequest(street.elder.id, "C01", tomorrow, time(9), time(11))

    async def one():
        return await service.create_booking(committed_db, actor=street.users["family"], request=data)

    results = await asyncio.gather(*(one() for _ in range(50)), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, failures[:3]
    async with committed_db.connection() as conn:
        wallet = await queries.wallet(conn, street.elder.id, service_month(tomorrow))
        held = await conn.fetchval("SELECT sum(subsidy_fen) FROM bookings WHERE resident_id = $1", street.elder.id)
        assert wallet.held_fen == held <= 20_000
        assert wallet.held_fen == 20_000  # 4 full cleanings + a partial one fill the month exactly
        assert await queries.wallets_not_reconciling(conn) == []
    assert sum(1 for r in results if r.self_pay_fen == r.price_fen) >= 45


async def test_check_constraint_refuses_an_overspend_even_without_the_lock(committed_db, crypto, tomorrow):
    """Bypassing the service: a direct UPDATE past the grant is refused by wallet_not_overspent."""
    street = await _street(committed_db, crypto)
    await service.create_booking(committed_db, actor=street.users["resident"],
                                 request=BookingRequest(street.elder.id, "B01", tomorrow, time(9), time(11)))
    async with committed_db.connection() as conn:
        try:
            await queries.move_wallet(conn, resident_id=street.elder.id, month=service_month(tomorrow),
                                      held_delta=15_000, spent_delta=0)
        except Exception as exc:  # asyncpg.CheckViolationError
            assert getattr(exc, "constraint_name", "") == "wallet_not_overspent"
        else:
            raise AssertionError("the overspend was accepted")


async def test_twenty_simultaneous_creates_with_one_key_make_one_booking(committed_db, crypto, tomorrow):
    street = await _street(committed_db, crypto)
    data = BookingRequest(street.elder.id, "B01", tomorrow + timedelta(days=1), time(9), time(11))

    async def one():
        return await service.create_booking(committed_db, actor=street.users["operator"], request=data,
                                            idempotency_key="call-42")

    results = await asyncio.gather(*(one() for _ in range(20)), return_exceptions=True)
    bodies = [r for r in results if not isinstance(r, BaseException)]
    errors = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(e, ApiError) for e in errors), errors[:3]
    assert len(bodies) == 20 and len({b.id for b in bodies}) == 1
    async with committed_db.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM bookings WHERE resident_id = $1", street.elder.id) == 1
        assert await queries.wallets_not_reconciling(conn) == []


async def test_fifty_simultaneous_keyed_bookings_never_overspend(committed_db, crypto, tomorrow):
    """As above with a key each: every key keeps the booking it made, and the wallet holds the grant."""
    street = await _street(committed_db, crypto)
    data = BookingRequest(street.elder.id, "C01", tomorrow, time(9), time(11))

    async def one(n):
        return await service.create_booking(committed_db, actor=street.users["family"], request=data,
                                            idempotency_key=f"fifty-{n}")

    results = await asyncio.gather(*(one(n) for n in range(50)), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, failures[:3]
    async with committed_db.connection() as conn:
        wallet = await queries.wallet(conn, street.elder.id, service_month(tomorrow))
        held = await conn.fetchval("SELECT sum(subsidy_fen) FROM bookings WHERE resident_id = $1", street.elder.id)
        assert wallet.held_fen == held == 20_000
        assert await queries.wallets_not_reconciling(conn) == []
        kept = {r["key"]: r["booking_id"] for r in await conn.fetch(
            "SELECT key, booking_id FROM idempotency_keys WHERE key LIKE 'fifty-%'")}
    assert kept == {f"fifty-{n}": booking.id for n, booking in enumerate(results)}
    assert len(set(kept.values())) == 50


async def test_a_booking_waits_for_the_wallet_and_splits_under_its_lock(committed_db, crypto, tomorrow):
    """Another transaction takes most of the month's subsidy and commits while a booking waits for the
    wallet's row lock: the booking splits against what is left once it holds the lock."""
    street = await _street(committed_db, crypto)
    month = service_month(tomorrow)
    request = BookingRequest(street.elder.id, "C01", tomorrow, time(9), time(11))
    first = await service.create_booking(committed_db, actor=street.users["family"], request=request,
                                         idempotency_key="lock-1")
    assert first.subsidy_fen == 4_500
    async with committed_db.pool.acquire() as other:
        tx = other.transaction()
        await tx.start()
        await other.execute("UPDATE subsidy_wallets SET held_fen = 19_990 WHERE resident_id = $1 AND month = $2",
                            street.elder.id, month)
        task = asyncio.create_task(service.create_booking(committed_db, actor=street.users["family"],
                                                          request=request, idempotency_key="lock-2"))
        await asyncio.sleep(0.5)
        assert not task.done()   # waiting for the wallet's row lock
        await tx.commit()
    second = await task
    assert (second.subsidy_fen, second.self_pay_fen) == (10, 4_490)
    async with committed_db.connection() as conn:
        assert (await queries.wallet(conn, street.elder.id, month)).held_fen == 20_000
        holds = await conn.fetch("SELECT booking_id, amount_fen FROM wallet_entries WHERE kind = 'hold' ORDER BY id")
        assert [tuple(h) for h in holds] == [(first.id, 4_500), (second.id, 10)]
        assert await conn.fetchval("SELECT booking_id FROM idempotency_keys WHERE key = 'lock-2'") == second.id
