"""Booking use cases. Each public function owns one transaction; helpers take a connection."""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from datetime import date, datetime, time, timedelta
from typing import Awaitable, Callable

import asyncpg

from core.clock import local_today, utc_now
from core.roles import circle_for, may_see_circle
from core.crypto import Crypto
from core.db import Database
from core.errors import Conflict, Forbidden, invalid_field, not_found
from core.users import User
from booking import access, queries
from booking import messages as booking_messages
from booking.geo import haversine_m
from booking.lifecycle import ensure_transition, wallet_effect
from booking.models import SAFETY_OUTCOMES, SAFETY_TASK_KINDS, SafetyTask
from booking.models import (Booking, BookingRequest, BookingStatus, CallLog, CircleReach, MenuItem, NewResident,
                            Resident, Series, SeriesRequest, Wallet)
from booking.subsidy import MONTHLY_GRANT_FEN, PriceSplit, service_month, split_price
from booking.window import BOOKING_HORIZON_DAYS, check_service_date, check_window
from core import audit
from core.errors import ConflictWith
from booking.models import MenuChanges, ResidentChanges, ServeCheck, SensitiveRead
from booking.serving import why_unservable

log = logging.getLogger(__name__)

SERIES_HORIZON_DAYS = 7  # a series' bookings exist this many days ahead, before planning

# ------------------------------------------------------------------ menu


async def get_menu(db: Database):
    async with db.connection() as conn:
        return await queries.menu(conn)

# ------------------------------------------------------------------ residents

ReachOf = Callable[[asyncpg.Connection, int], Awaitable[CircleReach | None]]


async def create_resident(db: Database, crypto: Crypto, *, actor: User, resident: NewResident,
                          reach_of: ReachOf, duplicate_reason: str | None = None) -> Resident:
    """Register an elder who lives within their circle's reach (`reach_of` looks the circle up).
    A phone already on file, or the same name and birth date, is refused (409 naming the existing
    record) unless the operator states `duplicate_reason`, which is recorded in the audit log."""
    async with db.transaction() as conn:
        _check_in_reach(await reach_of(conn, resident.circle_id), resident)
        existing = await _check_not_duplicate(conn, resident, duplicate_reason)
        created = await queries.insert_resident(conn, crypto, resident)
        await _audit_registration(conn, actor, created, existing, duplicate_reason)
        return created


def _check_in_reach(reach: CircleReach | None, resident: NewResident) -> None:
    """A resident lives within their circle's reach (15 minutes away)."""
    if reach is None:
        raise invalid_field("circle_id", resident.circle_id, "no such service circle", "没有这个服务圈")
    distance = round(haversine_m(resident.lat, resident.lon, reach.lat, reach.lon))
    if distance > reach.radius_m:
        raise invalid_field("lat", resident.lat, f"home is {distance} m from the circle centre, beyond its "
                            f"reach of {reach.radius_m} m",
                            f"住址距服务圈中心{distance}米，超出服务范围{reach.radius_m}米")


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


def _split(resident: Resident, item: MenuItem, wallet: Wallet | None) -> PriceSplit:
    return split_price(price_fen=item.price_fen, subsidy_max_fen=item.subsidy_max_fen,
                       available_fen=wallet.available_fen if wallet else 0,
                       eligible=resident.subsidy_eligible and wallet is not None)

# ------------------------------------------------------------------ quote and create


async def quote(db: Database, *, actor: User, request: BookingRequest,
                today: date | None = None, servers_of: ServersOf | None = None) -> tuple[PriceSplit, int]:
    """What a booking would cost and how the subsidy would pay: (the split, the subsidy available).
    Changes nothing: a month's wallet not opened yet counts with its whole grant. A booking nobody
    in the circle could serve (`servers_of` asks providers) is refused here first, with its reason."""
    _check_may_book(actor, request)
    async with db.connection() as conn:
        resident, item, wallet = await queries.booking_target(
            conn, resident_id=request.resident_id, item_code=request.item_code,
            month=service_month(request.service_date), lock=False)
        _check_target(request, resident, item, today or local_today())
        await _check_servable(conn, servers_of, request, resident, item)
    if wallet is None and resident.subsidy_eligible:
        wallet = Wallet(resident.id, service_month(request.service_date), MONTHLY_GRANT_FEN, 0, 0)
    return _split(resident, item, wallet), wallet.available_fen if wallet else 0


async def create_booking(db: Database, *, actor: User, request: BookingRequest,
                         idempotency_key: str | None = None, today: date | None = None,
                         confirm_duplicate: bool = True, servers_of: ServersOf | None = None) -> Booking:
    """Book a visit, holding its subsidy part on the month's wallet, in one transaction.

    With an idempotency key, the key is claimed first: a retry of the same request reads the first
    booking back, the same key with another request is refused, and a concurrent duplicate waits for
    the first to commit. A refusal rolls everything back, the key included.

    Unless `confirm_duplicate`, a live booking of the same elder, item and day with an overlapping
    window is refused (409 duplicate_booking naming it); with `servers_of`, a booking nobody in the
    circle could ever serve is refused (409 cannot_serve) before any subsidy is held.
    """
    today = today or local_today()
    async with db.transaction() as conn:
        if idempotency_key:
            earlier = await _claim_key(conn, actor, idempotency_key, request)
            if earlier is not None:
                return earlier
        _check_may_book(actor, request)
        if not confirm_duplicate:
            await _check_not_double_booked(conn, request)
        booking = await _book(conn, request, booked_by=actor.id, series_id=None, today=today,
                              servers_of=servers_of)
        if idempotency_key:
            await queries.keep_keyed_booking(conn, user_id=actor.id, key=idempotency_key, booking_id=booking.id)
        return booking


def request_hash(request: BookingRequest) -> bytes:
    """What a retry with the same Idempotency-Key must repeat: the request, field by field."""
    return hashlib.sha256(json.dumps(asdict(request), default=str, sort_keys=True).encode()).digest()


async def _claim_key(conn: asyncpg.Connection, actor: User, key: str, request: BookingRequest) -> Booking | None:
    """None when this request is the first with the key (claimed now); else the booking the first made."""
    digest = request_hash(request)
    if await queries.claim_idempotency_key(conn, user_id=actor.id, key=key, request_hash=digest):
        return None
    first_hash, booking_id = await queries.keyed_booking(conn, user_id=actor.id, key=key)
    if first_hash != digest:
        raise invalid_field("Idempotency-Key", key, "was already used for a different booking",
                            "该请求编号已用于另一个预约")
    return await queries.booking(conn, booking_id)


async def _book(conn: asyncpg.Connection, request: BookingRequest, *, booked_by: int | None,
                series_id: int | None, today: date, servers_of: ServersOf | None = None) -> Booking:
    """Insert one booking and hold its subsidy part on the month's wallet: the elder, the item and the
    wallet — opened with its grant and row-locked, for an eligible elder — read in one round trip, the
    split made by `split_price`, the booking and its hold written in a second."""
    month = service_month(request.service_date)
    resident, item, wallet = await queries.booking_target(conn, resident_id=request.resident_id,
                                                          item_code=request.item_code, month=month, lock=True)
    _check_target(request, resident, item, today)
    await _check_servable(conn, servers_of, request, resident, item)
    split = _split(resident, item, wallet)
    return await queries.insert_booking_with_hold(
        conn, resident_id=resident.id, circle_id=resident.circle_id, item_code=item.code, series_id=series_id,
        service_date=request.service_date, window_start=request.window_start, window_end=request.window_end,
        channel=request.channel, booked_by=booked_by, notes=request.notes, price_fen=split.price_fen,
        subsidy_fen=split.subsidy_fen, self_pay_fen=split.self_pay_fen, month=month)


def _check_may_book(actor: User, request: BookingRequest) -> None:
    if not access.may_book_for(actor, request.resident_id):
        raise not_found("resident", request.resident_id, "老人")


def _check_target(request: BookingRequest, resident: Resident | None, item: MenuItem | None, today: date) -> None:
    if resident is None:
        raise not_found("resident", request.resident_id, "老人")
    if item is None:
        raise invalid_field("item_code", request.item_code, "no such item on the menu", "服务项目不存在")
    check_service_date(request.service_date, today=today)
    check_window(request.window_start, request.window_end)


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
        return await _cancel_and_tell(conn, booking, reason=reason or None)


async def reschedule_booking(db: Database, *, actor: User, booking_id: int, service_date: date,
                             window_start: time, window_end: time, notes: str | None = None,
                             today: date | None = None) -> Booking:
    """Move a visit to another day or window in one transaction: the old booking is cancelled
    (its hold released first, so the new one can draw the same subsidy) and a new one made."""
    async with db.transaction() as conn:
        old = await _visible_booking(conn, actor, booking_id, for_update=True)
        request = BookingRequest(old.resident_id, old.item_code, service_date, window_start, window_end,
                                 old.notes if notes is None else notes, old.channel)
        _check_may_book(actor, request)
        await _cancel_and_tell(conn, old, reason="rescheduled", new_date=service_date)
        return await _book(conn, request, booked_by=actor.id, series_id=None, today=today or local_today())


async def _cancel_and_tell(conn: asyncpg.Connection, booking: Booking, *, reason: str | None,
                           new_date: date | None = None) -> Booking:
    """Cancel a (row-locked) booking; if someone was coming (scheduled or in progress), queue the
    messages to its caregivers, the elder and the family in the same transaction."""
    telling = booking.status in (BookingStatus.SCHEDULED, BookingStatus.IN_PROGRESS)
    team = await queries.team_caregiver_ids(conn, booking.id) if telling else []
    cancelled = await apply_transition(conn, booking, BookingStatus.CANCELLED, reason=reason)
    if telling:
        await booking_messages.queue_change(conn, booking, team_caregiver_ids=team, new_date=new_date)
    return cancelled


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


async def create_series(db: Database, *, actor: User, request: SeriesRequest,
                        today: date | None = None) -> tuple[Series, int]:
    """Create a repeating booking and its bookings for the next days; returns (series, created)."""
    today = today or local_today()
    _check_series_dates(request, today)
    first = request.booking_on(request.start_date)
    _check_may_book(actor, first)
    async with db.transaction() as conn:
        resident, item, _ = await queries.booking_target(conn, resident_id=first.resident_id,
                                                         item_code=first.item_code, month=request.start_date,
                                                         lock=False)
        _check_target(first, resident, item, today)
        series = await queries.insert_series(conn, request, booked_by=actor.id)
        created = await _materialize(conn, series, today=today, through=today + timedelta(days=SERIES_HORIZON_DAYS))
        return series, created


def _check_series_dates(request: SeriesRequest, today: date) -> None:
    check_service_date(request.start_date, today=today, field="start_date")
    if request.end_date < request.start_date:
        raise invalid_field("end_date", request.end_date.isoformat(), "must not be before start_date",
                            "结束日期不能早于开始日期")
    if request.end_date > request.start_date + timedelta(days=366):
        raise invalid_field("end_date", request.end_date.isoformat(), "a series lasts at most a year",
                            "周期预约最长一年")


def series_days(series: Series, *, start: date, through: date) -> list[date]:
    """The days from `start` through `through` on which the series has a visit."""
    first, last = max(start, series.start_date), min(through, series.end_date)
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return [d for d in days if d.isoweekday() in series.weekdays]


async def _materialize(conn: asyncpg.Connection, series: Series, *, today: date, through: date) -> int:
    booked = await queries.series_days_booked(conn, series.id)
    todo = [d for d in series_days(series, start=today + timedelta(days=1), through=through) if d not in booked]
    for day in todo:
        await _book(conn, series.booking_on(day), booked_by=None, series_id=series.id, today=today)
    return len(todo)


async def materialize_series(db: Database, *, today: date | None = None,
                             days_ahead: int = SERIES_HORIZON_DAYS) -> int:
    """Create the coming days' bookings of every active series (idempotent); returns how many."""
    today = today or local_today()
    through = today + timedelta(days=min(days_ahead, BOOKING_HORIZON_DAYS))
    async with db.connection() as conn:
        all_series = await queries.active_series(conn, through=through)
    created = 0
    for one in all_series:
        async with db.transaction() as conn:
            created += await _materialize(conn, one, today=today, through=through)
    return created


async def cancel_series(db: Database, *, actor: User, series_id: int,
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
            booking = await queries.booking(conn, booking_id, for_update=True)
            await _cancel_and_tell(conn, booking, reason="series cancelled")
        return await queries.series(conn, series_id), len(future)

# ------------------------------------------------------------------ hotline calls


async def log_call(db: Database, crypto: Crypto, *, actor: User, resident_id: int, kind: str, outcome: str,
                   booking_id: int | None = None, notes: str = "") -> CallLog:
    async with db.transaction() as conn:
        await _visible_resident(conn, crypto, actor, resident_id)
        booking = await queries.booking(conn, booking_id) if booking_id is not None else None
        if booking_id is not None and (booking is None or booking.resident_id != resident_id):
            raise invalid_field("booking_id", booking_id, "is not a booking of this elder", "不是这位老人的预约")
        return await queries.insert_call(conn, resident_id=resident_id, operator_id=actor.id, kind=kind,
                                         outcome=outcome, booking_id=booking_id, notes=notes)


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

# ------------------------------------------------------------------ issue 15: duplicates, who can serve, editing


# who in an elder's circle could serve an item on a day: given by the app, from providers
ServersOf = Callable[[asyncpg.Connection, int, MenuItem, date], Awaitable[ServeCheck]]


async def _check_not_duplicate(conn: asyncpg.Connection, resident: NewResident,
                               reason: str | None) -> int | None:
    """The id of the resident this one duplicates (allowed with a reason), or None."""
    await queries.lock_resident_keys(conn, resident.phone, f"{resident.name}|{resident.birth_date}")
    existing = await queries.duplicate_resident(conn, phone=resident.phone, name=resident.name,
                                                birth_date=resident.birth_date)
    if existing is not None and not (reason or "").strip():
        raise ConflictWith(
            f"resident {existing} has the phone {resident.phone} or the same name and birth date; "
            "send duplicate_reason to register another record anyway", code="duplicate_resident",
            message_zh=f"已登记过（老人编号{existing}）：电话或姓名和出生日期相同。如确需另建档案，请填写原因",
            existing_id=existing)
    return existing


async def _audit_registration(conn: asyncpg.Connection, actor: User, created: Resident, existing: int | None,
                              reason: str | None) -> None:
    after = {"name": created.name, "phone": created.phone, "circle_id": created.circle_id}
    if existing is not None:
        after["duplicate_of"] = existing
    await audit.record_change(conn, actor_id=actor.id, record=audit.record_name("residents", created.id),
                              action="create", before={}, after=after, reason=(reason or "").strip())


async def _check_not_double_booked(conn: asyncpg.Connection, request: BookingRequest) -> None:
    existing = await queries.overlapping_booking(
        conn, resident_id=request.resident_id, item_code=request.item_code, service_date=request.service_date,
        window_start=request.window_start, window_end=request.window_end)
    if existing is not None:
        raise ConflictWith(
            f"booking {existing} is already for this elder, item and day with an overlapping window; "
            "send confirm_duplicate: true if a second one is intended", code="duplicate_booking",
            message_zh=f"这位老人当天同一时段已预约过此项目（预约编号{existing}）。如确需再约一次，请确认",
            existing_id=existing)


async def _check_servable(conn: asyncpg.Connection, servers_of: ServersOf | None, request: BookingRequest,
                          resident: Resident, item: MenuItem) -> None:
    if servers_of is None:
        return
    check = await servers_of(conn, resident.circle_id, item, request.service_date)
    why = why_unservable(check, item_code=item.code, qualification=item.qualification, needs_visit=item.needs_visit,
                         window_start=request.window_start, window_end=request.window_end, minutes=item.minutes)
    if why is not None:
        raise ConflictWith(why.message, code="cannot_serve", message_zh=why.message_zh, reason=why.reason)


async def update_menu_item(db: Database, *, actor: User, code: str, changes: MenuChanges) -> tuple[MenuItem, bool]:
    """Change an item's price, minutes, subsidy cap or active flag (audited); bookings keep the price
    they were made with. Returns (the item, whether it is active)."""
    fields = {k: v for k, v in asdict(changes).items() if v is not None}
    async with db.transaction() as conn:
        found = await queries.menu_item_any(conn, code, for_update=True)
        if found is None:
            raise not_found("menu item", code, "服务项目")
        before = asdict(found[0]) | {"active": found[1]}
        await queries.update_menu_item(conn, code, **fields)
        old, new = audit.diff(before, fields)
        if new:
            await audit.record_change(conn, actor_id=actor.id, record=audit.record_name("menu_items", code),
                                      action="update", before=old, after=new)
        return await queries.menu_item_any(conn, code)


_SENSITIVE_MARK = "(encrypted)"


async def update_resident(db: Database, crypto: Crypto, *, actor: User, resident_id: int,
                          changes: ResidentChanges, reach_of: ReachOf, reason: str = "") -> Resident:
    """Change a resident's address, position, phone, eligibility, living alone, care notes (audited;
    care notes are recorded as changed, never in clear). A new position is checked against the
    circle's reach; `position_confirmed` marks the position as checked on a map."""
    fields = {k: v for k, v in asdict(changes).items() if v is not None}
    confirmed = fields.pop("position_confirmed", None)
    async with db.transaction() as conn:
        await conn.execute("SELECT 1 FROM residents WHERE id = $1 FOR UPDATE", resident_id)
        current = await _visible_resident(conn, crypto, actor, resident_id)
        await _check_edit(conn, current, fields, reach_of)
        before = asdict(current) | {"position_source": await queries.position_source(conn, resident_id)}
        if confirmed is not None:
            fields["position_source"] = "confirmed" if confirmed else "unconfirmed"
        elif "lat" in fields or "lon" in fields:
            fields["position_source"] = "unconfirmed"
        await queries.update_resident(conn, crypto, resident_id, **fields)
        old, new = audit.diff(before, fields)
        if "care_notes" in new:
            old["care_notes"], new["care_notes"] = _SENSITIVE_MARK, _SENSITIVE_MARK + " changed"
        if new:
            await audit.record_change(conn, actor_id=actor.id, record=audit.record_name("residents", resident_id),
                                      action="update", before=old, after=new, reason=reason)
        return await queries.resident(conn, crypto, resident_id)


async def _check_edit(conn: asyncpg.Connection, current: Resident, fields: dict, reach_of: ReachOf) -> None:
    if "lat" in fields or "lon" in fields:
        moved = NewResident(current.circle_id, current.name, current.gender, current.birth_date, current.phone,
                            current.address, fields.get("lat", current.lat), fields.get("lon", current.lon))
        _check_in_reach(await reach_of(conn, current.circle_id), moved)
    if "phone" in fields and fields["phone"] != current.phone:
        other = await queries.duplicate_resident(conn, phone=fields["phone"], name="", birth_date=date.min,
                                                 other_than=current.id)
        if other is not None:
            raise ConflictWith(f"resident {other} already has the phone {fields['phone']}",
                               code="duplicate_resident", existing_id=other,
                               message_zh=f"该电话已登记在老人编号{other}名下")


async def unconfirmed_positions(db: Database, *, resident_ids: list[int]) -> list[int]:
    """Of these residents, those whose home position was never confirmed (flagged to the dispatcher)."""
    async with db.connection() as conn:
        return await queries.positions_unconfirmed(conn, resident_ids)


async def sensitive_reads(db: Database, *, resident_id: int | None, user_id: int | None, since,
                          limit: int = 200) -> list[SensitiveRead]:
    async with db.connection() as conn:
        return await queries.sensitive_reads(conn, resident_id=resident_id, user_id=user_id, since=since,
                                             limit=limit)


async def check_resident(db: Database, crypto: Crypto, *, actor: User, resident_id: int) -> Resident:
    """The resident if the caller may see them (404 otherwise); reads nothing sensitive, records nothing."""
    async with db.connection() as conn:
        return await _visible_resident(conn, crypto, actor, resident_id)


async def unconfirmed_residents(db: Database, crypto: Crypto, *, circle_id: int | None) -> list[Resident]:
    """Residents whose home position nobody confirmed on a map (flagged to the dispatcher)."""
    async with db.connection() as conn:
        return await queries.residents_unconfirmed(conn, crypto, circle_id)
# ------------------------------------------------------------------ safety tasks (the hotline's follow-ups)


async def open_safety_task(conn: asyncpg.Connection, *, resident_id: int, booking_id: int | None, kind: str,
                           now: datetime) -> int | None:
    """Open a follow-up on the hotline's list inside the caller's transaction: a `not_home` or
    `refused` visit only for an elder living alone; `unplanned` for anyone. Once per booking and kind;
    returns the new task's id or None."""
    if kind not in SAFETY_TASK_KINDS:
        raise ValueError(kind)
    if kind != "unplanned" and not await queries.lives_alone(conn, resident_id):
        return None
    return await queries.open_safety_task(conn, resident_id=resident_id, booking_id=booking_id, kind=kind, now=now)


async def list_safety_tasks(db: Database, *, actor: User, open_only: bool = True,
                            circle_id: int | None = None) -> list[SafetyTask]:
    """The follow-ups, open first, oldest first (a dispatcher bound to a circle sees only it)."""
    async with db.connection() as conn:
        return await queries.safety_tasks(conn, open_only=open_only, circle_id=circle_for(actor, circle_id))


async def close_safety_task(db: Database, *, actor: User, task_id: int, outcome: str, notes: str = "",
                            now: datetime | None = None) -> SafetyTask:
    """Close a follow-up with its outcome (who closed it and when are kept); closing twice is a 409."""
    if outcome not in SAFETY_OUTCOMES:
        raise invalid_field("outcome", outcome, f"one of {', '.join(SAFETY_OUTCOMES)}", "请选择处理结果")
    async with db.transaction() as conn:
        task = await queries.safety_task(conn, task_id, for_update=True)
        if task is None or not may_see_circle(actor, task.circle_id):
            raise not_found("safety_task", task_id, "关怀任务")
        if task.closed_at is not None:
            raise Conflict("this task is already closed", message_zh="该任务已处理完毕", code="task_closed")
        await queries.close_safety_task(conn, task_id, outcome=outcome, notes=notes, closed_by=actor.id,
                                        now=now or utc_now())
        return await queries.safety_task(conn, task_id)
