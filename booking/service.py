"""Booking use cases. Each public function owns one transaction; helpers take a connection."""
from __future__ import annotations

import hashlib
import logging
from datetime import date, datetime, timedelta, timezone
from typing import Any

import asyncpg

from core.users import User, token_hash
from core.clock import local_today
from core.crypto import Crypto
from core.db import Database
from core.errors import ApiError, Conflict, Forbidden, invalid_field, not_found
from booking import access, queries
from booking.geo import haversine_m
from booking.lifecycle import ensure_transition, wallet_effect
from booking.models import Booking, BookingStatus, MenuItem, Resident, Series, Wallet
from booking.schemas import BookingCreate, BookingRead, RescheduleBody, ResidentCreate, SeriesCreate
from booking.subsidy import MONTHLY_GRANT_FEN, PriceSplit, service_month, split_price
from booking.window import BOOKING_HORIZON_DAYS, check_service_date, check_window

log = logging.getLogger(__name__)

SERIES_HORIZON_DAYS = 7  # a series' bookings exist this many days ahead, before planning

# ------------------------------------------------------------------ menu


async def get_menu(db: Database):
    async with db.connection() as conn:
        return await queries.menu(conn)

# ------------------------------------------------------------------ residents


async def create_resident(db: Database, crypto: Crypto, *, actor: User, data: ResidentCreate) -> Resident:
    async with db.transaction() as conn:
        await _check_in_circle(conn, data.circle_id, data.lat, data.lon)
        return await queries.insert_resident(conn, crypto, **data.model_dump())


async def _check_in_circle(conn: asyncpg.Connection, circle_id: int, lat: float, lon: float) -> None:
    """A resident lives within their circle's reach (15 minutes away)."""
    circle = await conn.fetchrow("SELECT lat, lon, radius_m FROM circles WHERE id = $1", circle_id)
    if circle is None:
        raise invalid_field("circle_id", circle_id, "no such service circle", "没有这个服务圈")
    distance = round(haversine_m(lat, lon, circle["lat"], circle["lon"]))
    if distance > circle["radius_m"]:
        raise invalid_field("lat", lat, f"home is {distance} m from the circle centre, beyond its "
                            f"reach of {circle['radius_m']} m",
                            f"住址距服务圈中心{distance}米，超出服务范围{circle['radius_m']}米")


async def search_residents(db: Database, crypto: Crypto, *, actor: User, phone: str | None,
                           q: str | None, limit: int = 20) -> list[Resident]:
    async with db.connection() as conn:
        return await queries.search_residents(conn, crypto, phone=phone, name_prefix=q, limit=limit)


async def get_resident(db: Database, crypto: Crypto, *, actor: User, resident_id: int) -> Resident:
    """One resident the caller may see; reading the care notes is recorded for audit."""
    async with db.transaction() as conn:
        resident = await _visible_resident(conn, crypto, actor, resident_id)
        if resident.care_notes:
            await queries.record_sensitive_read(conn, user_id=actor.id, resident_id=resident_id,
                                                field="care_notes")
        return resident


async def _visible_resident(conn: asyncpg.Connection, crypto: Crypto, actor: User,
                            resident_id: int) -> Resident:
    resident = await queries.resident(conn, crypto, resident_id)
    if resident is None or not access.may_read_resident(actor, resident_id):
        raise not_found("resident", resident_id, "老人")
    return resident

# ------------------------------------------------------------------ wallet


async def get_wallet(db: Database, crypto: Crypto, *, actor: User, resident_id: int,
                     month: date) -> tuple[Wallet | None, list, bool]:
    """(the month's wallet or None if untouched, its ledger, whether the resident is eligible)."""
    async with db.connection() as conn:
        resident = await _visible_resident(conn, crypto, actor, resident_id)
        wallet = await queries.wallet(conn, resident_id, month)
        return wallet, await queries.wallet_entries(conn, resident_id, month), resident.subsidy_eligible


async def _wallet_for(conn: asyncpg.Connection, resident: Resident, month: date, *, lock: bool) -> Wallet | None:
    if resident.subsidy_eligible and lock:
        return await queries.lock_wallet(conn, resident.id, month)
    return await queries.wallet(conn, resident.id, month, for_update=lock)


def _split(resident: Resident, item: MenuItem, wallet: Wallet | None) -> PriceSplit:
    return split_price(price_fen=item.price_fen, subsidy_max_fen=item.subsidy_max_fen,
                       available_fen=wallet.available_fen if wallet else 0,
                       eligible=resident.subsidy_eligible and wallet is not None)

# ------------------------------------------------------------------ quote and create


async def quote(db: Database, crypto: Crypto, *, actor: User, data: BookingCreate,
                today: date | None = None) -> tuple[PriceSplit, int]:
    """What a booking would cost and how the subsidy would pay; changes nothing."""
    async with db.connection() as conn:
        resident, item = await _checked_request(conn, crypto, actor, data, today or local_today())
        wallet = await queries.wallet(conn, resident.id, service_month(data.date))
        if wallet is None and resident.subsidy_eligible:
            wallet = Wallet(resident.id, service_month(data.date), MONTHLY_GRANT_FEN, 0, 0)
        split = _split(resident, item, wallet)
        return split, wallet.available_fen if wallet else 0


async def create_booking(db: Database, crypto: Crypto, *, actor: User, data: BookingCreate,
                         idempotency_key: str | None = None, today: date | None = None) -> dict[str, Any]:
    """Book a visit, holding its subsidy part; return the booking as the API shows it.

    With an idempotency key, a retry of the same request returns the first response and the
    same key with another body is refused; the key is kept in the booking's transaction.
    """
    request_hash = _request_hash(data)
    today = today or local_today()
    keyed = bool(idempotency_key) and access.may_book_for(actor, data.resident_id)
    if keyed and _valid_dates(data, today):
        body = await _create_keyed_in_one_statement(db, actor, data, idempotency_key, request_hash)
        if body is not None:
            return body
    async with db.transaction() as conn:
        if keyed:
            return await _create_keyed(conn, actor, data, idempotency_key, request_hash, today)
        if idempotency_key:
            replay = await _replay(conn, actor.id, idempotency_key, request_hash)
            if replay is not None:
                return replay
        resident, item, wallet = await _booking_target(conn, actor, data, today)
        booking = await _book(conn, resident, item, data, actor=actor, series_id=None, wallet=wallet)
        body = BookingRead.of(booking).model_dump(mode="json")
        if idempotency_key:
            await queries.store_idempotent_response(conn, user_id=actor.id, key=idempotency_key,
                                                    status=201, body=body)
        return body


def _request_hash(data: BookingCreate) -> bytes:
    """What a retry with the same Idempotency-Key must repeat: the request's body, as validated."""
    return hashlib.sha256(data.model_dump_json().encode()).digest()


def _valid_dates(data: BookingCreate, today: date) -> bool:
    try:
        check_service_date(data.date, today=today)
        check_window(data.window_start, data.window_end)
    except ApiError:
        return False
    return True


async def create_booking_for_token(db: Database, *, token: str, roles: tuple[str, ...], data: BookingCreate,
                                   idempotency_key: str, today: date | None = None) -> dict[str, Any] | None:
    """`create_booking` with a key for the caller behind a bearer token nobody has looked up yet: the one
    statement also finds the caller from the token (as `app.auth.user_for_token`) and checks that their
    role is in `roles` and that they may book for the elder (`access.may_book_for`). None: nothing
    happened — decide the ordinary way (look the token up, check the role, then `create_booking`), which
    answers every refusal as before."""
    today = today or local_today()
    if not _valid_dates(data, today):
        return None
    request_hash = _request_hash(data)
    return await _create_keyed_in_one_statement(db, None, data, idempotency_key, request_hash,
                                                token=(token_hash(token), access.booking_roles(roles)))


async def _create_keyed_in_one_statement(db: Database, actor: User | None, data: BookingCreate, key: str,
                                         request_hash: bytes, *,
                                         token: tuple[bytes, tuple[list[str], list[str]]] | None = None
                                         ) -> dict[str, Any] | None:
    """`create_booking` with a key, valid dates and a caller who may book for the elder (`actor`, or found by
    `token` = (token hash, booking roles)), as one statement in autocommit (`queries.create_keyed_booking`).
    None when the transactional path must decide: no such elder or item (a refusal, which must not keep the
    key — and the key may be taken, which answers first), or the month's split changed under the wallet's
    lock (the statement was undone); by token also: no such caller, or one who may not book for the elder."""
    response = _response_template(data)
    async with db.statement() as conn:
        try:
            made = await queries.create_keyed_booking(
                conn, resident_id=data.resident_id, item_code=data.item_code, month=service_month(data.date),
                key=key, request_hash=request_hash, service_date=data.date, window_start=data.window_start,
                window_end=data.window_end, channel=data.channel, notes=data.notes, response=response,
                user_id=actor.id if actor else None, token_hash=token[0] if token else None,
                roles=token[1] if token else None)
        except asyncpg.CheckViolationError as exc:
            if exc.constraint_name != "wallet_not_overspent":
                raise
            log.info("the subsidy split of elder %s changed under the wallet lock; booking in a transaction",
                     data.resident_id)
            return None
        if not made.targeted:
            return None
        if made.booking is None:
            return await _stored_response(conn, made.caller_id, key, request_hash)
        body = BookingRead.of(made.booking).model_dump(mode="json")
        if body != made.stored:
            log.warning("booking %s read back unlike its stored response; storing it again", made.booking.id)
            await queries.store_idempotent_response(conn, user_id=made.caller_id, key=key, status=201, body=body)
        return body


def _response_template(data: BookingCreate) -> dict[str, Any]:
    """The response to a new booking as far as the request decides it; the statement fills in the rest
    (queries.KEYED_RESPONSE_FIELDS), so the response has one definition: BookingRead."""
    draft = Booking(id=0, resident_id=data.resident_id, circle_id=0, item_code=data.item_code, item_name_zh="",
                    series_id=None, service_date=data.date, window_start=data.window_start,
                    window_end=data.window_end, channel=data.channel, booked_by=None, notes=data.notes,
                    price_fen=0, subsidy_fen=0, self_pay_fen=0, priority=1, status=BookingStatus.PENDING,
                    caregiver_id=None, caregiver_name=None, planned_start=None, created_at=_EPOCH,
                    resident_name="", rating=None)
    body = BookingRead.of(draft).model_dump(mode="json")
    for name in queries.KEYED_RESPONSE_FIELDS:
        del body[name]
    return body


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


async def _create_keyed(conn: asyncpg.Connection, actor: User, data: BookingCreate, key: str, request_hash: bytes,
                        today: date) -> dict[str, Any]:
    """`create_booking` with a key, in two statements: (1) claim the key, then read the elder and the item
    and lock the month's wallet, taking the booking's id and the transaction's now(); (2) insert the
    booking with its hold and store the response — made beforehand from those, as `BookingRead` of the
    booking that (2) will insert — in the key's record. The booking (2) reads back is compared with the
    one the response was made from; were they ever to differ, the response is made again and stored
    over the first (one more statement), so what is stored is always what is answered."""
    target = await queries.claim_booking_target(conn, resident_id=data.resident_id, item_code=data.item_code,
                                                month=service_month(data.date), user_id=actor.id, key=key,
                                                request_hash=request_hash)
    if not target.claimed:
        return await _stored_response(conn, actor.id, key, request_hash)
    resident, item = _check_target(data, target.resident, target.item, today)
    split = _split(resident, item, target.wallet)
    expected = Booking(id=target.next_id, resident_id=resident.id, circle_id=resident.circle_id, item_code=item.code,
                       item_name_zh=item.name_zh, series_id=None, service_date=data.date,
                       window_start=data.window_start, window_end=data.window_end, channel=data.channel,
                       booked_by=actor.id, notes=data.notes, price_fen=split.price_fen, subsidy_fen=split.subsidy_fen,
                       self_pay_fen=split.self_pay_fen, priority=1, status=BookingStatus.PENDING, caregiver_id=None,
                       caregiver_name=None, planned_start=None, created_at=target.now, resident_name=resident.name,
                       rating=None)
    body = BookingRead.of(expected).model_dump(mode="json")
    booking = await queries.insert_booking_with_hold(
        conn, resident_id=resident.id, circle_id=resident.circle_id, item_code=item.code, series_id=None,
        service_date=data.date, window_start=data.window_start, window_end=data.window_end, channel=data.channel,
        booked_by=actor.id, notes=data.notes, price_fen=split.price_fen, subsidy_fen=split.subsidy_fen,
        self_pay_fen=split.self_pay_fen, month=service_month(data.date), stored=(expected.id, actor.id, key, body))
    if booking != expected:
        log.warning("booking %s read back unlike its stored response; storing it again", booking.id)
        body = BookingRead.of(booking).model_dump(mode="json")
        await queries.store_idempotent_response(conn, user_id=actor.id, key=key, status=201, body=body)
    return body


async def _replay(conn: asyncpg.Connection, user_id: int, key: str, request_hash: bytes) -> dict | None:
    if await queries.claim_idempotency_key(conn, user_id=user_id, key=key, request_hash=request_hash):
        return None
    return await _stored_response(conn, user_id, key, request_hash)


async def _stored_response(conn: asyncpg.Connection, user_id: int, key: str, request_hash: bytes) -> dict:
    first = await queries.idempotent_response(conn, user_id=user_id, key=key)
    if bytes(first["request_hash"]) != request_hash:
        raise invalid_field("Idempotency-Key", key, "was already used for a different booking",
                            "该请求编号已用于另一个预约")
    return first["response_body"]


async def _checked_request(conn: asyncpg.Connection, crypto: Crypto, actor: User, data: BookingCreate,
                           today: date) -> tuple[Resident, MenuItem]:
    if not access.may_book_for(actor, data.resident_id):
        raise not_found("resident", data.resident_id, "老人")
    resident = await queries.resident(conn, crypto, data.resident_id)
    if resident is None:
        raise not_found("resident", data.resident_id, "老人")
    item = await _bookable_item(conn, data.item_code)
    check_service_date(data.date, today=today)
    check_window(data.window_start, data.window_end)
    return resident, item


async def _booking_target(conn: asyncpg.Connection, actor: User, data: BookingCreate,
                          today: date) -> tuple[Resident, MenuItem, Wallet | None]:
    """`_checked_request` for creating a booking, with the month's wallet opened and locked, in one
    round trip (the hot path: care notes are not decrypted; a refusal rolls the wallet back)."""
    if not access.may_book_for(actor, data.resident_id):
        raise not_found("resident", data.resident_id, "老人")
    resident, item, wallet = await queries.booking_target(conn, resident_id=data.resident_id,
                                                          item_code=data.item_code, month=service_month(data.date))
    resident, item = _check_target(data, resident, item, today)
    return resident, item, wallet


def _check_target(data: BookingCreate, resident: Resident | None, item: MenuItem | None,
                  today: date) -> tuple[Resident, MenuItem]:
    if resident is None:
        raise not_found("resident", data.resident_id, "老人")
    if item is None:
        raise invalid_field("item_code", data.item_code, "no such item on the menu", "服务项目不存在")
    check_service_date(data.date, today=today)
    check_window(data.window_start, data.window_end)
    return resident, item


async def _bookable_item(conn: asyncpg.Connection, code: str) -> MenuItem:
    item = await queries.menu_item(conn, code)
    if item is None:
        raise invalid_field("item_code", code, "no such item on the menu", "服务项目不存在")
    return item


_NOT_LOCKED: Any = object()


async def _book(conn: asyncpg.Connection, resident: Resident, item: MenuItem, data: BookingCreate | Any, *,
                actor: User | None, series_id: int | None, wallet: Wallet | None = _NOT_LOCKED) -> Booking:
    """Insert one booking and hold its subsidy part on the month's wallet (row locked; pass `wallet`
    when the caller has locked it already)."""
    month = service_month(data.date)
    if wallet is _NOT_LOCKED:
        wallet = await _wallet_for(conn, resident, month, lock=True)
    split = _split(resident, item, wallet)
    return await queries.insert_booking_with_hold(
        conn, resident_id=resident.id, circle_id=resident.circle_id, item_code=item.code,
        series_id=series_id, service_date=data.date, window_start=data.window_start,
        window_end=data.window_end, channel=data.channel, booked_by=actor.id if actor else None,
        notes=data.notes, price_fen=split.price_fen, subsidy_fen=split.subsidy_fen,
        self_pay_fen=split.self_pay_fen, month=month)

# ------------------------------------------------------------------ read, list, cancel


async def get_booking(db: Database, *, actor: User, booking_id: int) -> Booking:
    async with db.connection() as conn:
        return await _visible_booking(conn, actor, booking_id)


async def _visible_booking(conn: asyncpg.Connection, actor: User, booking_id: int, *,
                           for_update: bool = False) -> Booking:
    """The booking if the caller's scope includes it; 404 otherwise (never 403: no probing)."""
    if not await queries.booking_in_scope(conn, booking_id, access.booking_scope(actor)):
        raise not_found("booking", booking_id, "预约")
    return await queries.booking(conn, booking_id, for_update=for_update)


async def list_bookings(db: Database, *, actor: User, resident_id: int | None = None,
                        service_date: date | None = None, status: str | None = None,
                        circle_id: int | None = None, limit: int = 200,
                        evaluated: bool | None = None) -> list[Booking]:
    async with db.connection() as conn:
        return await queries.list_bookings(conn, scope=access.booking_scope(actor), resident_id=resident_id,
                                           service_date=service_date, status=status,
                                           circle_id=circle_id, limit=limit, evaluated=evaluated)


async def cancel_booking(db: Database, *, actor: User, booking_id: int, reason: str = "") -> Booking:
    async with db.transaction() as conn:
        booking = await _visible_booking(conn, actor, booking_id, for_update=True)
        if not access.may_book_for(actor, booking.resident_id):
            raise Forbidden("only the elder's side or an operator may cancel", message_zh="您不能取消此预约")
        return await apply_transition(conn, booking, BookingStatus.CANCELLED, reason=reason or None)


async def reschedule_booking(db: Database, crypto: Crypto, *, actor: User, booking_id: int,
                             data: RescheduleBody, today: date | None = None) -> Booking:
    """Move a visit to another day or window in one transaction: the old booking is cancelled
    (its hold released first, so the new one can draw the same subsidy) and a new one made."""
    async with db.transaction() as conn:
        old = await _visible_booking(conn, actor, booking_id, for_update=True)
        request = BookingCreate(resident_id=old.resident_id, item_code=old.item_code, date=data.date,
                                window_start=data.window_start, window_end=data.window_end,
                                notes=old.notes if data.notes is None else data.notes, channel=old.channel)
        resident, item = await _checked_request(conn, crypto, actor, request, today or local_today())
        await apply_transition(conn, old, BookingStatus.CANCELLED, reason="rescheduled")
        return await _book(conn, resident, item, request, actor=actor, series_id=None)


async def apply_transition(conn: asyncpg.Connection, booking: Booking, target: BookingStatus, *,
                           reason: str | None = None) -> Booking:
    """Move a (row-locked) booking along its lifecycle, releasing or capturing its subsidy hold.

    Other domains (check-out, publishing, re-planning) call this inside their own transaction.
    """
    ensure_transition(booking.status, target)
    effect = wallet_effect(target)
    if effect and booking.subsidy_fen:
        await _settle_hold(conn, booking, effect)
    await queries.set_status(conn, booking.id, target.value, cancel_reason=reason)
    return await queries.booking(conn, booking.id)


async def transition_booking(conn: asyncpg.Connection, booking_id: int, target: BookingStatus, *,
                             reason: str | None = None) -> Booking:
    """Lock a booking by id and apply a lifecycle step (for other domains' transactions)."""
    booking = await queries.booking(conn, booking_id, for_update=True)
    if booking is None:
        raise not_found("booking", booking_id, "预约")
    return await apply_transition(conn, booking, target, reason=reason)


async def schedule_booking(conn: asyncpg.Connection, booking_id: int, *, caregiver_id: int,
                           planned_start) -> Booking:
    """Put a booking into a published plan (pending → scheduled, or a new time if already
    scheduled); `caregiver_id` is the lead caregiver shown to the elder."""
    booking = await queries.booking(conn, booking_id, for_update=True)
    if booking is None:
        raise not_found("booking", booking_id, "预约")
    if booking.status is not BookingStatus.SCHEDULED:
        ensure_transition(booking.status, BookingStatus.SCHEDULED)
        await queries.set_status(conn, booking_id, BookingStatus.SCHEDULED.value)
    await queries.set_schedule(conn, booking_id, caregiver_id=caregiver_id, planned_start=planned_start)
    return await queries.booking(conn, booking_id)


async def unschedule_booking(conn: asyncpg.Connection, booking_id: int) -> Booking:
    """Take a scheduled booking out of the plan (back to pending, hold kept) for re-planning."""
    booking = await queries.booking(conn, booking_id, for_update=True)
    if booking is None:
        raise not_found("booking", booking_id, "预约")
    if booking.status is BookingStatus.SCHEDULED:
        await queries.set_status(conn, booking_id, BookingStatus.PENDING.value)
    await queries.set_schedule(conn, booking_id, caregiver_id=None, planned_start=None)
    return await queries.booking(conn, booking_id)


async def _settle_hold(conn: asyncpg.Connection, booking: Booking, effect: str) -> None:
    month = service_month(booking.service_date)
    await queries.wallet(conn, booking.resident_id, month, for_update=True)
    spent = booking.subsidy_fen if effect == "capture" else 0
    await queries.move_wallet(conn, resident_id=booking.resident_id, month=month,
                              held_delta=-booking.subsidy_fen, spent_delta=spent)
    await queries.add_entry(conn, resident_id=booking.resident_id, month=month, booking_id=booking.id,
                            kind=effect, amount_fen=booking.subsidy_fen)

# ------------------------------------------------------------------ evaluations


async def evaluate(db: Database, *, actor: User, booking_id: int, rating: int, comment: str,
                   source: str):
    """Rate a completed visit, once per source (the app, or a return-visit call)."""
    async with db.transaction() as conn:
        booking = await _visible_booking(conn, actor, booking_id)
        if not access.may_book_for(actor, booking.resident_id):
            raise Forbidden("only the elder's side or an operator may rate a visit", message_zh="您不能评价此服务")
        if booking.status is not BookingStatus.COMPLETED:
            raise Conflict(f"only a completed visit can be rated (this one is {booking.status.value})",
                           message_zh="服务完成后才能评价", code="not_completed")
        if source == "return_call" and actor.role not in ("operator", "admin"):
            raise Forbidden("return-visit calls are recorded by operators", message_zh="回访由坐席记录")
        return await queries.insert_evaluation(conn, booking_id=booking_id, rating=rating,
                                               comment=comment, source=source, created_by=actor.id)

# ------------------------------------------------------------------ series


async def create_series(db: Database, crypto: Crypto, *, actor: User, data: SeriesCreate,
                        today: date | None = None) -> tuple[Series, int]:
    """Create a repeating booking and its bookings for the next days; returns (series, created)."""
    today = today or local_today()
    _check_series_dates(data, today)
    async with db.transaction() as conn:
        probe = BookingCreate(resident_id=data.resident_id, item_code=data.item_code, date=data.start_date,
                              window_start=data.window_start, window_end=data.window_end,
                              notes=data.notes, channel=data.channel)
        await _checked_request(conn, crypto, actor, probe, today)
        series = await queries.insert_series(conn, resident_id=data.resident_id, item_code=data.item_code,
                                             weekdays=sorted(set(data.weekdays)),
                                             window_start=data.window_start, window_end=data.window_end,
                                             start_date=data.start_date, end_date=data.end_date,
                                             channel=data.channel, booked_by=actor.id, notes=data.notes)
        created = await _materialize(conn, crypto, series, today=today,
                                     through=today + timedelta(days=SERIES_HORIZON_DAYS))
        return series, created


def _check_series_dates(data: SeriesCreate, today: date) -> None:
    check_service_date(data.start_date, today=today, field="start_date")
    if data.end_date < data.start_date:
        raise invalid_field("end_date", data.end_date.isoformat(), "must not be before start_date",
                            "结束日期不能早于开始日期")
    if data.end_date > data.start_date + timedelta(days=366):
        raise invalid_field("end_date", data.end_date.isoformat(), "a series lasts at most a year",
                            "周期预约最长一年")


def series_days(series: Series, *, start: date, through: date) -> list[date]:
    """The days from `start` through `through` on which the series has a visit."""
    first, last = max(start, series.start_date), min(through, series.end_date)
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return [d for d in days if d.isoweekday() in series.weekdays]


async def _materialize(conn: asyncpg.Connection, crypto: Crypto, series: Series, *, today: date,
                       through: date) -> int:
    resident = await queries.resident(conn, crypto, series.resident_id)
    item = await _bookable_item(conn, series.item_code)
    booked = await queries.series_days_booked(conn, series.id)
    todo = [d for d in series_days(series, start=today + timedelta(days=1), through=through) if d not in booked]
    for day in todo:
        request = BookingCreate(resident_id=resident.id, item_code=item.code, date=day,
                                window_start=series.window_start, window_end=series.window_end,
                                notes=series.notes, channel=series.channel)
        await _book(conn, resident, item, request, actor=None, series_id=series.id)
    return len(todo)


async def materialize_series(db: Database, crypto: Crypto, *, today: date | None = None,
                             days_ahead: int = SERIES_HORIZON_DAYS) -> int:
    """Create the coming days' bookings of every active series (idempotent); returns how many."""
    today = today or local_today()
    through = today + timedelta(days=min(days_ahead, BOOKING_HORIZON_DAYS))
    async with db.connection() as conn:
        all_series = await queries.active_series(conn, through=through)
    created = 0
    for one in all_series:
        async with db.transaction() as conn:
            created += await _materialize(conn, crypto, one, today=today, through=through)
    return created


async def cancel_series(db: Database, crypto: Crypto, *, actor: User, series_id: int,
                        today: date | None = None) -> tuple[Series, int]:
    """Stop a series and cancel its bookings from tomorrow on; returns (series, cancelled)."""
    today = today or local_today()
    async with db.transaction() as conn:
        series = await queries.series(conn, series_id, for_update=True)
        if series is None or not access.may_book_for(actor, series.resident_id):
            raise not_found("series", series_id, "周期预约")
        await queries.set_series_status(conn, series_id, "cancelled")
        future = await queries.series_bookings_from(conn, series_id, today + timedelta(days=1))
        for booking_id in future:
            await transition_booking(conn, booking_id, BookingStatus.CANCELLED, reason="series cancelled")
        return await queries.series(conn, series_id), len(future)

# ------------------------------------------------------------------ hotline calls


async def log_call(db: Database, crypto: Crypto, *, actor: User, data) -> Any:
    async with db.transaction() as conn:
        await _visible_resident(conn, crypto, actor, data.resident_id)
        return await queries.insert_call(conn, resident_id=data.resident_id, operator_id=actor.id,
                                         kind=data.kind, outcome=data.outcome, booking_id=data.booking_id,
                                         notes=data.notes)


async def list_calls(db: Database, crypto: Crypto, *, actor: User, resident_id: int, limit: int = 20) -> list:
    """A resident's recent hotline calls, newest first."""
    async with db.connection() as conn:
        await _visible_resident(conn, crypto, actor, resident_id)
        return await queries.recent_calls(conn, resident_id, limit)


async def care_call_list(db: Database, crypto: Crypto, *, actor: User, day: date,
                         circle_id: int | None) -> list[tuple[Resident, list]]:
    """Residents living alone, each with the care calls logged for them that day."""
    async with db.connection() as conn:
        residents = await queries.residents_living_alone(conn, crypto, circle_id)
        calls = await queries.calls_of_day(conn, day=day, kind="care_call", tz="Asia/Shanghai")
    by_resident: dict[int, list] = {}
    for call in calls:
        by_resident.setdefault(call.resident_id, []).append(call)
    return [(r, by_resident.get(r.id, [])) for r in residents]
