"""Races on separate real connections: the database, not Python, keeps the invariants."""
import asyncio
from datetime import time, timedelta

from app.errors import ApiError
from booking import queries, service
from booking.schemas import BookingCreate
from booking.subsidy import service_month
from tests import factories


async def _street(committed_db, crypto):
    async with committed_db.transaction() as conn:
        return await factories.make_street(conn, crypto)


async def test_fifty_simultaneous_bookings_never_overspend(committed_db, crypto, tomorrow):
    """50 concurrent 45-yuan cleanings against one 200-yuan wallet: at most 20,000 fen held,
    every booking still made (the rest self-pay), and the ledger sums to the wallet."""
    street = await _street(committed_db, crypto)
    data = BookingCreate(resident_id=street.elder.id, item_code="C01", date=tomorrow,
                         window_start=time(9), window_end=time(11))

    async def one():
        return await service.create_booking(committed_db, crypto, actor=street.users["family"], data=data)

    results = await asyncio.gather(*(one() for _ in range(50)), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, failures[:3]
    async with committed_db.connection() as conn:
        wallet = await queries.wallet(conn, street.elder.id, service_month(tomorrow))
        held = await conn.fetchval("SELECT sum(subsidy_fen) FROM bookings WHERE resident_id = $1", street.elder.id)
        assert wallet.held_fen == held <= 20_000
        assert wallet.held_fen == 20_000  # 4 full cleanings + a partial one fill the month exactly
        assert await queries.wallets_not_reconciling(conn) == []
    assert sum(1 for r in results if r["self_pay_fen"] == r["price_fen"]) >= 45


async def test_check_constraint_refuses_an_overspend_even_without_the_lock(committed_db, crypto, tomorrow):
    """Bypassing the service: a direct UPDATE past the grant is refused by wallet_not_overspent."""
    street = await _street(committed_db, crypto)
    await service.create_booking(committed_db, crypto, actor=street.users["resident"],
                                 data=BookingCreate(resident_id=street.elder.id, item_code="B01", date=tomorrow,
                                                    window_start=time(9), window_end=time(11)))
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
    data = BookingCreate(resident_id=street.elder.id, item_code="B01", date=tomorrow + timedelta(days=1),
                         window_start=time(9), window_end=time(11))

    async def one():
        return await service.create_booking(committed_db, crypto, actor=street.users["operator"], data=data,
                                            idempotency_key="call-42")

    results = await asyncio.gather(*(one() for _ in range(20)), return_exceptions=True)
    bodies = [r for r in results if not isinstance(r, BaseException)]
    errors = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(e, ApiError) for e in errors), errors[:3]
    assert len(bodies) == 20 and len({b["id"] for b in bodies}) == 1
    async with committed_db.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM bookings WHERE resident_id = $1", street.elder.id) == 1
        assert await queries.wallets_not_reconciling(conn) == []
