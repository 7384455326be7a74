"""Provider use cases. Each public function taking `db` owns one transaction; the functions
taking `conn` (`available_caregivers`, `write_visits`, `release_visits`) run inside the caller's
transaction — the planner (dispatch) builds its publishing on them."""
from __future__ import annotations

import dataclasses
import hashlib
import secrets
from datetime import date, datetime, time, timedelta
from typing import Any

import asyncpg

from core import outbox
from core import audit
from core.users import User, check_password, create_user, hash_password, revoke_all_tokens, set_logins_active
from core.clock import LOCAL_TZ, local_instant, local_today, utc_now
from core.crypto import Crypto
from core.db import Database, constraint_error
from core.errors import Conflict, Forbidden, invalid_field, not_found
from core.roles import CAREGIVER, PROVIDER_ADMIN, circle_for
from booking import queries as booking_queries
from booking import service as booking_service
from booking.geo import haversine_m
from booking.models import BookingStatus, MenuItem, ServeCheck
from booking.subsidy import service_month
from providers import access, calendar, checkin, queries
from providers.availability import check_day_rules, check_pattern, rules_by_day, shift_hours, working_shift
from providers.daysheet import care_notes_visible, what_to_bring
from providers.models import LateVisit
from providers.models import (Alert, Caregiver, Circle, DayChange, DayRule, Flag, NewCaregiver, Outcome, PlannedVisit, Provider,
                              ReviewedEvaluation, Settlement, SheetEntry, Shift, Visit, VisitContext)
from providers.settlement import LOW_RATING_MAX, settle

CALENDAR_DAYS = 14  # the feed holds the coming two weeks

# ------------------------------------------------------------------ for the planner


async def available_caregivers(conn: asyncpg.Connection, *, circle_id: int,
                               day: date) -> list[tuple[Caregiver, Shift]]:
    """The caregivers who can be planned in `circle_id` on `day`, each with that day's shift.

    Active caregivers of the circle whose provider serves the circle; those on leave, on a day
    off of their weekly pattern, or inactive are left out. Ordered by caregiver id.
    `Caregiver.item_codes` holds what their provider delivers.
    """
    caregivers = await queries.serving_caregivers(conn, circle_id)
    rules = await queries.day_rules(conn, [c.id for c in caregivers], first=day, last=day)
    found = []
    for caregiver in caregivers:
        rule = next(iter(rules.get(caregiver.id, [])), None)
        shift = working_shift(caregiver, day, rule)
        if shift is not None:
            found.append((caregiver, shift))
    return found


async def write_visits(conn: asyncpg.Connection, *, plan_id: int | None,
                       visits: list[PlannedVisit]) -> None:
    """Insert the planned visits (inside the caller's transaction, as one savepoint).

    A caregiver in two places at once is refused by the database (`visits_no_double_booking`)
    and so is a second active visit for the same booking and crew member; either raises the
    mapped ApiError (409 `caregiver_double_booked` / `visit_exists`) and writes nothing, leaving
    the caller's transaction usable.
    """
    if not visits:
        return
    try:
        async with conn.transaction():
            await queries.insert_visits(conn, plan_id=plan_id, visits=visits)
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise constraint_error(exc) from exc


async def release_visits(conn: asyncpg.Connection, *, booking_ids: list[int]) -> None:
    """Set released_at on every active visit of these bookings (inside the caller's transaction).

    A released visit no longer binds its caregiver's time and leaves the day sheet and the
    calendar feed. The caller decides which bookings to release: visits already checked in are
    released too if passed, so re-planning must leave started bookings out.
    """
    if booking_ids:
        await queries.release_visits(conn, list(booking_ids))

# ------------------------------------------------------------------ circles and providers


async def list_circles(db: Database) -> list[Circle]:
    async with db.connection() as conn:
        return await queries.circles(conn)


async def get_circle(db: Database, circle_id: int) -> Circle:
    """One circle: its name, centre, reach and hotline are no secret to anyone signed in."""
    async with db.connection() as conn:
        found = await queries.circle(conn, circle_id)
    if found is None:
        raise not_found("circle", circle_id, "服务圈")
    return found


async def create_circle(db: Database, *, name: str, address: str, lat: float, lon: float, radius_m: int,
                        hotline_phone: str) -> Circle:
    async with db.transaction() as conn:
        return await queries.insert_circle(conn, name=name, address=address, lat=lat, lon=lon, radius_m=radius_m,
                                           hotline_phone=hotline_phone)


async def list_providers(db: Database) -> list[Provider]:
    async with db.connection() as conn:
        return await queries.providers(conn)


async def create_provider(db: Database, *, name: str, phone: str, circle_ids: list[int],
                          item_codes: list[str]) -> Provider:
    """A provider organisation with the circles it serves and the menu items it delivers."""
    circle_ids, item_codes = sorted(set(circle_ids)), sorted(set(item_codes))
    async with db.transaction() as conn:
        await _check_known(conn, circle_ids=circle_ids, item_codes=item_codes)
        provider_id = await queries.insert_provider(conn, name=name, phone=phone)
        await queries.set_provider_circles(conn, provider_id, circle_ids)
        await queries.set_provider_items(conn, provider_id, item_codes)
        return await queries.provider(conn, provider_id)


async def _check_known(conn: asyncpg.Connection, *, circle_ids: list[int], item_codes: list[str]) -> None:
    missing = await queries.missing_circles(conn, circle_ids)
    if missing:
        raise invalid_field("circle_ids", missing, "no such service circle", f"没有这个服务圈：{missing}")
    unknown = await queries.unknown_items(conn, item_codes)
    if unknown:
        raise invalid_field("item_codes", unknown, "not on the menu", f"服务项目不存在：{'、'.join(unknown)}")

# ------------------------------------------------------------------ caregivers


async def _visible_caregiver(conn: asyncpg.Connection, actor: User, caregiver_id: int) -> Caregiver:
    """The caregiver if the caller may see them; 404 otherwise (no probing of other providers)."""
    caregiver = await queries.caregiver(conn, caregiver_id)
    if caregiver is None or not access.may_see_caregiver(actor, caregiver_id=caregiver.id,
                                                         provider_id=caregiver.provider_id,
                                                         circle_id=caregiver.circle_id):
        raise not_found("caregiver", caregiver_id, "护理员")
    return caregiver


async def _managed_caregiver(conn: asyncpg.Connection, actor: User, caregiver_id: int) -> Caregiver:
    """The caregiver if the caller manages their provider (provider admin, street admin); else 404."""
    caregiver = await queries.caregiver(conn, caregiver_id, for_update=True)
    if caregiver is None or not access.may_manage_provider(actor, caregiver.provider_id):
        raise not_found("caregiver", caregiver_id, "护理员")
    return caregiver


async def create_caregiver(db: Database, *, actor: User, caregiver: NewCaregiver, username: str | None = None,
                           password: str | None = None) -> Caregiver:
    """Add a caregiver to a provider (a provider admin: their own), in a circle it serves;
    with `username` and `password`, the caregiver's login is created too."""
    provider_id = _target_provider(actor, caregiver.provider_id)
    fields = {f.name: getattr(caregiver, f.name) for f in dataclasses.fields(caregiver) if f.name != "provider_id"}
    check_pattern(**{k: fields[k] for k in _PATTERN_FIELDS})
    async with db.transaction() as conn:
        await _check_provider_circle(conn, provider_id, caregiver.circle_id)
        _check_home(await queries.circle(conn, caregiver.circle_id), caregiver.home_lat, caregiver.home_lon)
        caregiver_id = await queries.insert_caregiver(conn, provider_id=provider_id, **fields)
        await _create_login(conn, caregiver_id, caregiver.name, username, password)
        return await queries.caregiver(conn, caregiver_id)


_PATTERN_FIELDS = ("shift_start", "shift_end", "break_earliest", "break_latest_end", "break_minutes")


def _target_provider(actor: User, requested: int | None) -> int:
    if actor.role == PROVIDER_ADMIN:
        if requested is not None and requested != actor.provider_id:
            raise not_found("provider", requested, "服务商")
        return actor.provider_id
    if requested is None:
        raise invalid_field("provider_id", None, "is required", "请选择服务商")
    return requested


HOME_REACH_M = 10_000   # a caregiver lives at most this far from their circle's centre (an hour's e-bike ride)


def _check_home(circle: Circle, home_lat: float, home_lon: float) -> None:
    """A caregiver's day starts and ends at home: a home far from the circle (a typo, swapped
    coordinates) would plan impossible days."""
    distance = round(haversine_m(home_lat, home_lon, circle.lat, circle.lon))
    if distance > HOME_REACH_M:
        raise invalid_field("home_lat", home_lat, f"home is {distance} m from the circle centre, over "
                            f"{HOME_REACH_M} m", f"住处距服务圈中心{distance}米，超出{HOME_REACH_M // 1000}公里")


async def _check_provider_circle(conn: asyncpg.Connection, provider_id: int, circle_id: int) -> None:
    if await queries.provider(conn, provider_id) is None:
        raise invalid_field("provider_id", provider_id, "no such provider", "服务商不存在")
    if not await queries.provider_serves(conn, provider_id, circle_id):
        raise invalid_field("circle_id", circle_id, "the provider does not serve this circle",
                            "该服务商不服务这个服务圈")


async def _create_login(conn: asyncpg.Connection, caregiver_id: int, name: str, username: str | None,
                        password: str | None) -> None:
    if (username is None) != (password is None):
        field = "password" if password is None else "username"
        raise invalid_field(field, None, "username and password go together", "用户名和密码须同时填写")
    if username:
        check_password(password)
        await create_user(conn, username=username, password=password, role=CAREGIVER,
                          display_name=name, caregiver_id=caregiver_id)


async def list_caregivers(db: Database, *, actor: User, provider_id: int | None, circle_id: int | None,
                          include_inactive: bool = False) -> list[Caregiver]:
    """Caregivers the caller may see: a provider admin only their own provider's, a dispatcher
    bound to a circle only that circle's."""
    circle_id = circle_for(actor, circle_id)
    async with db.connection() as conn:
        return await queries.list_caregivers(conn, provider_id=access.provider_scope(actor, provider_id),
                                             circle_id=circle_id, include_inactive=include_inactive)


async def get_caregiver(db: Database, *, actor: User, caregiver_id: int) -> Caregiver:
    async with db.connection() as conn:
        return await _visible_caregiver(conn, actor, caregiver_id)


async def update_caregiver(db: Database, *, actor: User, caregiver_id: int, **changes: Any) -> Caregiver:
    """Change a caregiver's details (the fields given, None meaning unchanged); the merged pattern,
    circle and home are checked as on creation; recorded in the audit log. `active: false` disables
    the caregiver's logins and revokes every token at once; `active: true` enables them again."""
    changes = {k: v for k, v in changes.items() if v is not None}
    async with db.transaction() as conn:
        current = await _managed_caregiver(conn, actor, caregiver_id)
        merged = dataclasses.asdict(current) | changes
        check_pattern(**{k: merged[k] for k in _PATTERN_FIELDS})
        if "circle_id" in changes:
            await _check_provider_circle(conn, current.provider_id, changes["circle_id"])
        if changes.keys() & {"circle_id", "home_lat", "home_lon"}:
            _check_home(await queries.circle(conn, merged["circle_id"]), merged["home_lat"], merged["home_lon"])
        await queries.update_caregiver(conn, caregiver_id, **changes)
        if "active" in changes:   # deactivation ends the caregiver's access at once (and reactivation restores it)
            await set_logins_active(conn, caregiver_id=caregiver_id, active=changes["active"])
        await _audit(conn, actor, "caregivers", caregiver_id, dataclasses.asdict(current), changes)
        return await queries.caregiver(conn, caregiver_id)

# ------------------------------------------------------------------ availability


async def set_availability(db: Database, *, actor: User, caregiver_id: int, days: list[DayChange],
                           today: date | None = None) -> tuple[list[DayRule], list[int]]:
    """Replace the rules of the given dates (leave, override; "normal" removes the rule).

    Returns the rules from today on and the bookings published for this caregiver on those
    dates that now fall outside their shift (for the dispatcher to re-plan; nothing is moved here).
    """
    today = today or local_today()
    check_day_rules(days, today=today)
    async with db.transaction() as conn:
        caregiver = await _managed_caregiver(conn, actor, caregiver_id)
        for day in days:
            kind = None if day.kind == "normal" else day.kind
            await queries.replace_day_rule(conn, caregiver_id, day=day.day, kind=kind,
                                           shift_start=day.shift_start, shift_end=day.shift_end, note=day.note)
        rules = (await queries.day_rules(conn, [caregiver_id], first=today, last=date.max)).get(caregiver_id, [])
        replan = await _visits_outside_shift(conn, caregiver, sorted({d.day for d in days}), rules_by_day(rules))
        return rules, replan


async def _visits_outside_shift(conn: asyncpg.Connection, caregiver: Caregiver, days: list[date],
                                rules: dict[date, DayRule]) -> list[int]:
    outside = []
    for day in days:
        shift = working_shift(caregiver, day, rules.get(day))
        entries = await queries.published_visits(conn, caregiver.id, start=_midnight(day),
                                                 end=_midnight(day + timedelta(days=1)), decrypt=None)
        outside += [e.visit.booking_id for e in entries if not _within(e.visit, shift)]
    return outside


def _within(visit: Visit, shift: Shift | None) -> bool:
    return shift is not None and shift.start <= visit.planned_start and visit.planned_end <= shift.end


async def working_days(db: Database, *, actor: User, caregiver_id: int, start: date,
                       days: int) -> list[tuple[date, str, Shift | None]]:
    """The caregiver's shift on each of `days` dates from `start`: (date, kind, shift or None);
    kind is normal, off (not a weekly working day), leave or override."""
    async with db.connection() as conn:
        caregiver = await _visible_caregiver(conn, actor, caregiver_id)
        last = start + timedelta(days=days - 1)
        rules = rules_by_day((await queries.day_rules(conn, [caregiver_id], first=start, last=last)).get(caregiver_id, []))
    dates = [start + timedelta(days=n) for n in range(days)]
    return [(d, _day_kind(caregiver, d, rules.get(d)), working_shift(caregiver, d, rules.get(d))) for d in dates]


def _day_kind(caregiver: Caregiver, day: date, rule: DayRule | None) -> str:
    if rule is not None:
        return rule.kind.value
    return "normal" if day.isoweekday() in caregiver.work_days and caregiver.active else "off"


def _midnight(day: date) -> datetime:
    return local_instant(day, time(0))

# ------------------------------------------------------------------ the day sheet and the calendar feed


async def day_sheet(db: Database, crypto: Crypto, *, actor: User, caregiver_id: int, day: date,
                    today: date | None = None) -> tuple[Caregiver, Shift | None, bool, list[SheetEntry]]:
    """A caregiver's published visits of `day`, in order: (caregiver, shift, care notes shown, entries).

    Care notes are decrypted only for today and tomorrow (see providers.daysheet) and each
    showing of non-empty notes is recorded in sensitive_reads.
    """
    show_notes = care_notes_visible(day, today=today or local_today())
    async with db.transaction() as conn:
        caregiver = await _visible_caregiver(conn, actor, caregiver_id)
        rules = await queries.day_rules(conn, [caregiver_id], first=day, last=day)
        entries = await _entries(conn, caregiver_id, _midnight(day), _midnight(day + timedelta(days=1)),
                                 crypto.decrypt if show_notes else None)
        readers = sorted({e.resident.id for e in entries if e.resident.care_notes})
        if readers:
            await queries.record_sensitive_reads(conn, user_id=actor.id, resident_ids=readers, field="care_notes")
    shift = working_shift(caregiver, day, next(iter(rules.get(caregiver_id, [])), None))
    return caregiver, shift, show_notes, entries


async def _entries(conn: asyncpg.Connection, caregiver_id: int, start: datetime, end: datetime,
                   decrypt) -> list[SheetEntry]:
    entries = await queries.published_visits(conn, caregiver_id, start=start, end=end, decrypt=decrypt)
    return [dataclasses.replace(e, bring=what_to_bring(e.category_code, e.item_code)) for e in entries]


def _token_hash(token: str) -> str:
    return hashlib.sha256(b"calendar:" + token.encode()).hexdigest()


async def issue_calendar_token(db: Database, *, actor: User, caregiver_id: int) -> str:
    """A new secret for the caregiver's calendar feed; the previous one stops working at once.
    Only a hash is stored, so the token is shown this one time."""
    token = secrets.token_urlsafe(24)
    async with db.transaction() as conn:
        caregiver = await _visible_caregiver(conn, actor, caregiver_id)
        if not access.may_manage_calendar(actor, caregiver_id=caregiver.id, provider_id=caregiver.provider_id):
            raise not_found("caregiver", caregiver_id, "护理员")
        await queries.set_calendar_token(conn, caregiver_id, _token_hash(token))
    return token


async def calendar_feed(db: Database, *, caregiver_id: int, token: str, today: date | None = None,
                        now: datetime | None = None) -> bytes:
    """The iCalendar feed of the coming 14 days (from today) for the holder of the token; a wrong
    or revoked token answers 404."""
    first = today or local_today()
    async with db.connection() as conn:
        caregiver = await queries.caregiver_by_calendar_token(conn, caregiver_id, _token_hash(token))
        if caregiver is None or not caregiver.active:
            raise not_found("calendar", caregiver_id, "日历")
        entries = await _entries(conn, caregiver_id, _midnight(first),
                                 _midnight(first + timedelta(days=CALENDAR_DAYS)), None)
    return calendar.feed(caregiver_name=caregiver.name, entries=entries, stamp=now or utc_now())

# ------------------------------------------------------------------ check-in and check-out


async def _own_visit(conn: asyncpg.Connection, actor: User, visit_id: int) -> VisitContext:
    """The caller's own active visit, locked with its booking; 404 for anyone else's."""
    ctx = await queries.visit_context(conn, visit_id, for_update=True)
    if ctx is None or not access.is_visit_caregiver(actor, ctx.visit.caregiver_id):
        raise not_found("visit", visit_id, "服务记录")
    if ctx.visit.released_at is not None:
        raise Conflict("this visit was taken out of the plan", message_zh="该服务已从排班中撤下",
                       code="visit_released")
    return ctx


async def check_in(db: Database, *, actor: User, visit_id: int, lat: float | None, lon: float | None,
                   now: datetime | None = None) -> tuple[Visit, str]:
    """Record the caregiver's arrival with the phone's position; returns (visit, booking status).

    The distance to the home is recorded and a far or late check-in is flagged, never refused
    (see providers.checkin). The first check-in of a booking moves it scheduled → in_progress.
    """
    now = now or utc_now()
    async with db.transaction() as conn:
        ctx = await _own_visit(conn, actor, visit_id)
        _ensure_can_check_in(ctx.visit, now)
        distance = checkin.distance_m(lat, lon, ctx.home_lat, ctx.home_lon)
        flags = checkin.check_in_flags(distance=distance, planned_start=ctx.visit.planned_start, checked_in_at=now,
                                       has_position=lat is not None)
        await queries.record_check_in(conn, visit_id, at=now, lat=lat, lon=lon, distance_m=distance,
                                      flags=checkin.merge_flags(ctx.visit.flags, flags))
        status = await _advance_booking(conn, ctx.visit.booking_id, visit_id)
        return await queries.visit(conn, visit_id), status


def _ensure_can_check_in(visit: Visit, now: datetime) -> None:
    if visit.check_in_at is not None:
        raise Conflict("already checked in", message_zh="已经签到过了", code="already_checked_in")
    if checkin.is_too_early(visit.planned_start, now):
        raise Conflict(f"too early: the visit starts at {visit.planned_start.astimezone(LOCAL_TZ):%H:%M}",
                       message_zh=f"签到过早：该服务计划于{visit.planned_start.astimezone(LOCAL_TZ):%m月%d日%H:%M}开始",
                       code="too_early")


async def check_out(db: Database, *, actor: User, visit_id: int, lat: float | None, lon: float | None, outcome: str,
                    notes: str = "", now: datetime | None = None) -> tuple[Visit, str]:
    """Record the caregiver's departure, position and outcome; returns (visit, booking status).

    When this caregiver is the last one on site, the booking takes the outcome in the same
    transaction: done → completed (subsidy hold captured), not_home / refused → released.
    """
    now, result = now or utc_now(), Outcome(outcome)
    async with db.transaction() as conn:
        ctx = await _own_visit(conn, actor, visit_id)
        _ensure_can_check_out(ctx.visit)
        distance = checkin.distance_m(lat, lon, ctx.home_lat, ctx.home_lon)
        flags = checkin.check_out_flags(outcome=result, check_in_at=ctx.visit.check_in_at, check_out_at=now,
                                        item_minutes=ctx.item_minutes)
        await queries.record_check_out(conn, visit_id, at=now, lat=lat, lon=lon, distance_m=distance,
                                       outcome=result.value, notes=notes,
                                       flags=checkin.merge_flags(ctx.visit.flags, flags))
        status = await _advance_booking(conn, ctx.visit.booking_id, visit_id)
        if status in (BookingStatus.NOT_HOME.value, BookingStatus.REFUSED.value):
            # an elder living alone who did not open, or refused: the hotline calls (a safety task)
            await booking_service.open_safety_task(conn, resident_id=ctx.resident_id, booking_id=ctx.visit.booking_id,
                                                   kind=status, now=now)
        return await queries.visit(conn, visit_id), status


def _ensure_can_check_out(visit: Visit) -> None:
    if visit.check_in_at is None:
        raise Conflict("check in first", message_zh="请先签到", code="not_checked_in")
    if visit.check_out_at is not None:
        raise Conflict("already checked out", message_zh="已经签退过了", code="already_checked_out")


async def _advance_booking(conn: asyncpg.Connection, booking_id: int, visit_id: int) -> str:
    """Move the booking as far as its visits' records say; returns its status.

    Checked in and scheduled → in_progress; in progress, this visit checked out with an outcome
    and nobody else still on site → the crew's outcome (see providers.checkin).
    """
    partners = await queries.partner_visits(conn, booking_id)
    this = next(v for v in partners if v.id == visit_id)
    status = (await booking_queries.booking(conn, booking_id)).status
    while (target := checkin.next_booking_status(status, this, partners)) is not None:
        status = (await booking_service.transition_booking(conn, booking_id, target)).status
    return status.value

# ------------------------------------------------------------------ corrections, overdue visits, alerts


async def correct_visit(db: Database, *, actor: User, visit_id: int, reason: str,
                        check_in_at: datetime | None = None, check_out_at: datetime | None = None,
                        outcome: str | None = None, now: datetime | None = None) -> tuple[Visit, str]:
    """Correct a visit's check-in/out times or outcome (provider admin of its caregiver, or a street
    admin), with a reason; before and after are kept in visit_audit.

    A correction is evidence, not payment: one that leaves the visit done is flagged `corrected` and
    withheld from settlement until a street admin reviews it (`review_visit`). Corrected times lie on
    the visit's service day, not in the future and not before the planned start minus 2 hours.

    Flags are recomputed. The booking moves only forward along its lifecycle: a correction that
    completes the record of a booking still in progress (a forgotten check-out) applies the outcome
    as a check-out would; a booking already closed keeps its status and its subsidy movements
    (the ledger is append-only) — the settlement reads the corrected record.
    """
    now = now or utc_now()
    async with db.transaction() as conn:
        ctx = await _managed_visit(conn, actor, visit_id)
        changes = _checked_changes(ctx.visit, check_in_at, check_out_at, outcome, now)
        after = dataclasses.replace(ctx.visit, **changes)
        flags = checkin.corrected_flags(after, item_minutes=ctx.item_minutes)
        review = "pending" if after.outcome == Outcome.DONE.value else None
        if review:
            flags = checkin.merge_flags(flags, [Flag.CORRECTED.value])
        await queries.correct_visit(conn, visit_id, check_in_at=after.check_in_at, check_out_at=after.check_out_at,
                                    outcome=after.outcome, flags=flags, review_status=review, corrected_by=actor.id)
        await queries.insert_audit(conn, visit_id=visit_id, changed_by=actor.id, reason=reason,
                                   before=_audit_view(ctx.visit),
                                   after=_audit_view(dataclasses.replace(after, flags=flags, review_status=review)))
        status = await _advance_booking(conn, ctx.visit.booking_id, visit_id)
        return await queries.visit(conn, visit_id), status


async def _managed_visit(conn: asyncpg.Connection, actor: User, visit_id: int) -> VisitContext:
    ctx = await queries.visit_context(conn, visit_id, for_update=True)
    if ctx is None or not access.may_manage_provider(actor, ctx.provider_id):
        raise not_found("visit", visit_id, "服务记录")
    if ctx.visit.released_at is not None:
        raise Conflict("this visit was taken out of the plan", message_zh="该服务已从排班中撤下",
                       code="visit_released")
    return ctx


def _checked_changes(visit: Visit, check_in_at: datetime | None, check_out_at: datetime | None,
                     outcome: str | None, now: datetime) -> dict[str, Any]:
    changes = {k: v for k, v in (("check_in_at", check_in_at), ("check_out_at", check_out_at),
                                 ("outcome", outcome)) if v is not None}
    if not changes:
        raise invalid_field("body", None, "give check_in_at, check_out_at or outcome to correct",
                            "请填写要更正的签到时间、签退时间或服务结果")
    for field in ("check_in_at", "check_out_at"):
        if field in changes:
            _check_corrected_time(field, changes[field], visit, now)
    after = dataclasses.replace(visit, **changes)
    if after.check_out_at and (after.check_in_at is None or after.check_out_at < after.check_in_at):
        raise invalid_field("check_out_at", after.check_out_at.isoformat(), "must be after check_in_at",
                            "签退时间须晚于签到时间")
    if after.outcome and after.check_out_at is None:
        raise invalid_field("outcome", after.outcome, "an outcome needs a check_out_at", "服务结果须有签退时间")
    return changes


EARLIEST_BEFORE_PLAN = timedelta(hours=2)


def _check_corrected_time(field: str, value: datetime, visit: Visit, now: datetime) -> None:
    """A corrected time lies on the visit's service day, not in the future, not before the planned
    start minus 2 hours (the earliest a check-in is accepted)."""
    service_day = visit.planned_start.astimezone(LOCAL_TZ).date()
    if value > now:
        raise invalid_field(field, value.isoformat(), "must not be in the future", "时间不能晚于现在")
    if value.astimezone(LOCAL_TZ).date() != service_day:
        raise invalid_field(field, value.isoformat(), f"must lie on the visit's service day {service_day}",
                            f"时间须在服务当天（{service_day}）")
    if value < visit.planned_start - EARLIEST_BEFORE_PLAN:
        raise invalid_field(field, value.isoformat(), "must not be more than 2 hours before the planned start",
                            "时间不能早于计划开始前2小时")


async def review_visit(db: Database, *, actor: User, visit_id: int, approve: bool,
                       reason: str) -> tuple[Visit, str]:
    """The street office's decision on a correction that made a visit done: approved, it is settled like
    any visit; rejected (with a reason), it stays withheld. Audited; nobody reviews their own correction."""
    async with db.transaction() as conn:
        ctx = await queries.visit_context(conn, visit_id, for_update=True)
        if ctx is None:
            raise not_found("visit", visit_id, "服务记录")
        if ctx.visit.review_status != "pending":
            raise Conflict("this visit has no correction waiting for review", code="nothing_to_review",
                           message_zh="该服务记录没有待审核的补录")
        if ctx.visit.corrected_by == actor.id:
            raise Forbidden("nobody reviews their own correction", message_zh="不能审核自己补录的记录")
        if not approve and not reason:
            raise invalid_field("reason", reason, "a rejection needs a reason", "驳回须填写原因")
        decision = "approved" if approve else "rejected"
        await queries.set_review(conn, visit_id, decision)
        await queries.insert_audit(conn, visit_id=visit_id, changed_by=actor.id,
                                   reason=reason or "approved", before=_audit_view(ctx.visit),
                                   after=_audit_view(dataclasses.replace(ctx.visit, review_status=decision)))
        return await queries.visit(conn, visit_id), ctx.booking_status


def _audit_view(visit: Visit) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None
    return {"check_in_at": iso(visit.check_in_at), "check_out_at": iso(visit.check_out_at),
            "outcome": visit.outcome, "flags": list(visit.flags), "review_status": visit.review_status}


async def flag_overdue_visits(db: Database, *, now: datetime) -> list[int]:
    """Flag `no_show` on every active visit not checked in by its planned end; returns the ids
    newly flagged. Idempotent: the worker may call it every minute."""
    async with db.transaction() as conn:
        candidates = await queries.unchecked_visits_started_by(conn, now)
        overdue = [v.id for v in candidates if checkin.is_no_show(v, now)]
        if overdue:
            await queries.add_flag(conn, overdue, Flag.NO_SHOW.value)
        return overdue


async def alerts(db: Database, *, actor: User, circle_id: int | None, day: date,
                 now: datetime | None = None) -> list[Alert]:
    """The day's flagged visits of a circle, for the dispatcher. `no_show` is also judged live
    (so an alert does not wait for the worker). A provider admin sees only their caregivers'
    visits; a dispatcher tied to a circle only that circle."""
    now = now or utc_now()
    circle_id = circle_for(actor, circle_id)
    async with db.connection() as conn:
        found = await queries.visits_of_day(conn, start=_midnight(day), end=_midnight(day + timedelta(days=1)),
                                            circle_id=circle_id, provider_id=access.provider_scope(actor, None))
    live = [dataclasses.replace(a, visit=_with_live_flags(a.visit, now)) for a in found]
    return [a for a in live if a.visit.flags]


def _with_live_flags(visit: Visit, now: datetime) -> Visit:
    if checkin.is_no_show(visit, now):
        return dataclasses.replace(visit, flags=checkin.merge_flags(visit.flags, [Flag.NO_SHOW.value]))
    return visit

# ------------------------------------------------------------------ settlement and evaluations


async def settlement(db: Database, *, actor: User, provider_id: int | None, month: date) -> tuple[Provider, Settlement]:
    """A provider's settlement for a month (street admin, or that provider's admin; else 404)."""
    provider_id = _target_provider(actor, provider_id)
    first = service_month(month)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    async with db.connection() as conn:
        provider = await queries.provider(conn, provider_id)
        if provider is None or not access.may_manage_provider(actor, provider_id):
            raise not_found("provider", provider_id, "服务商")
        bookings = await queries.settlement_bookings(conn, provider_id=provider_id, first=first, last=last)
    return provider, settle(provider_id=provider_id, month=first, bookings=bookings)


async def clear_evaluation(db: Database, *, actor: User, evaluation_id: int) -> ReviewedEvaluation:
    """A street admin clears a low rating after review, so the visit is no longer withheld for it.
    Clearing twice keeps the first clearing; a rating of 3 or more needs no clearing (409)."""
    async with db.transaction() as conn:
        found = await queries.evaluation_for_update(conn, evaluation_id)
        if found is None:
            raise not_found("evaluation", evaluation_id, "评价")
        if found.rating > LOW_RATING_MAX:
            raise Conflict(f"a rating of {found.rating} is not withheld and needs no clearing",
                           message_zh="该评价不是差评，无需复核", code="not_low_rating")
        if found.cleared_at is None:
            await queries.clear_evaluation(conn, evaluation_id, cleared_by=actor.id)
        return await queries.evaluation(conn, evaluation_id)

# ------------------------------------------------------------------ issue 15: who can serve, editing (audited)



async def serve_check(conn: asyncpg.Connection, circle_id: int, item: MenuItem, day: date) -> ServeCheck:
    """Who in the circle could serve `item` on `day` (booking.service.ServersOf, handed to booking by
    the app): providers of the circle delivering it, their active caregivers in the circle holding its
    qualification, and those caregivers' working hours that day (leave and overrides counted)."""
    delivering, qualified = await queries.serve_candidates(conn, circle_id=circle_id, item_code=item.code,
                                                           qualification=item.qualification, day=day)
    shifts = tuple(hours for c, rule in qualified if (hours := shift_hours(c, day, rule)) is not None)
    return ServeCheck(providers=delivering, qualified=len(qualified), shifts=shifts)


async def update_circle(db: Database, *, actor: User, circle_id: int, **changes: Any) -> Circle:
    """Change a circle's name, address, centre, reach or hotline (audited)."""
    changes = {k: v for k, v in changes.items() if v is not None}
    async with db.transaction() as conn:
        await conn.execute("SELECT 1 FROM circles WHERE id = $1 FOR UPDATE", circle_id)
        current = await queries.circle(conn, circle_id)
        if current is None:
            raise not_found("circle", circle_id, "服务圈")
        await queries.update_circle(conn, circle_id, **changes)
        await _audit(conn, actor, "circles", circle_id, dataclasses.asdict(current), changes)
        return await queries.circle(conn, circle_id)


async def update_provider(db: Database, *, actor: User, provider_id: int, name: str | None = None,
                          phone: str | None = None, circle_ids: list[int] | None = None,
                          item_codes: list[str] | None = None) -> Provider:
    """Change a provider's name, phone, the circles it serves and the items it delivers (audited)."""
    async with db.transaction() as conn:
        await conn.execute("SELECT 1 FROM providers WHERE id = $1 FOR UPDATE", provider_id)
        current = await queries.provider(conn, provider_id)
        if current is None:
            raise not_found("provider", provider_id, "服务商")
        changes = {k: v for k, v in dict(name=name, phone=phone).items() if v is not None}
        await _check_known(conn, circle_ids=circle_ids or [], item_codes=item_codes or [])
        await queries.update_provider(conn, provider_id, **changes)
        if circle_ids is not None:
            changes["circle_ids"] = sorted(set(circle_ids))
            await queries.set_provider_circles(conn, provider_id, changes["circle_ids"])
        if item_codes is not None:
            changes["item_codes"] = sorted(set(item_codes))
            await queries.set_provider_items(conn, provider_id, changes["item_codes"])
        await _audit(conn, actor, "providers", provider_id, dataclasses.asdict(current), changes)
        return await queries.provider(conn, provider_id)


async def _audit(conn: asyncpg.Connection, actor: User, table: str, key: object, before: dict, after: dict,
                 action: str = "update", reason: str = "") -> None:
    old, new = audit.diff(before, after)
    if new:
        await audit.record_change(conn, actor_id=actor.id, record=audit.record_name(table, key), action=action,
                                  before=old, after=new, reason=reason)


async def set_caregiver_login(db: Database, *, actor: User, caregiver_id: int, username: str,
                              password: str) -> tuple[int, str]:
    """Give a caregiver a login, or a new username and password for the one they have (every session
    of the old one ends); a provider admin: their own caregivers. Audited (never the password)."""
    async with db.transaction() as conn:
        current = await _managed_caregiver(conn, actor, caregiver_id)
        existing = await queries.caregiver_login(conn, caregiver_id)
        if existing is None:
            await _create_login(conn, caregiver_id, current.name, username, password)
            login = await queries.caregiver_login(conn, caregiver_id)
            await _audit(conn, actor, "users", login[0], {}, {"username": username, "caregiver_id": caregiver_id},
                         action="create")
            return login
        check_password(password)
        await queries.set_login(conn, existing[0], username=username, password_hash=hash_password(password))
        await revoke_all_tokens(conn, [existing[0]])
        await _audit(conn, actor, "users", existing[0], {"username": existing[1]},
                     {"username": username, "password": "(changed)"}, action="update")
        return existing[0], username
# ------------------------------------------------------------------ visits that close (issue 13)

SIGNATURE = "【一刻钟服务圈】"


async def alert_late_visits(db: Database, *, now: datetime, after_min: int = 15) -> list[LateVisit]:
    """The no-show alert, at planned start + `after_min` minutes (CIRCLE_NOSHOW_AFTER_MIN): every
    active visit of a scheduled booking nobody checked into by then is marked alerted (once), and
    the elder and family are told "护理员可能晚到…" (once per booking). The missing member of a
    two-person visit whose partner is there is alerted to the dispatcher only (the caregiver at the
    door speaks for it). Returns the visits newly
    alerted, for the dispatcher's live view (dispatch/chores.py pushes them). Idempotent: the
    worker calls it every minute."""
    async with db.transaction() as conn:
        late = await queries.late_visits_to_alert(conn, now=now, after_min=after_min)
        if not late:
            return []
        await queries.mark_noshow_alerted(conn, [v.visit_id for v in late], now)
        messages = []
        for visit in {v.booking_id: v for v in late if not v.partner_there}.values():
            messages += await outbox.elder_side(
                conn, resident_id=visit.resident_id, booking_id=visit.booking_id, kind="late", same_day=True,
                elder_text=f"{SIGNATURE}护理员可能晚到，服务中心正在联系护理员，请您稍候；如有需要请致电服务中心。",
                family_text=f"{SIGNATURE}护理员可能晚到{visit.resident_name}家，服务中心正在联系护理员，请您放心。",
                dedup=f"late:{visit.booking_id}")
        await outbox.queue(conn, messages, now=now)
        return late


async def close_missed_visits(db: Database, *, now: datetime, grace_min: int = 30) -> list[int]:
    """A scheduled booking nobody checked into by the planned end of its visits plus `grace_min`
    minutes (CIRCLE_MISSED_GRACE_MIN) becomes `missed`: its subsidy hold is released and its visits
    leave the caregivers' days (the database does both), and the elder and family are told. A
    dispatcher's same-day re-plan moves the visits (new planned times) or takes the booking back to
    pending: either way this judges the plan in force, so a re-planned visit is not closed. Returns
    the bookings closed. Idempotent."""
    async with db.transaction() as conn:
        found = await queries.bookings_to_close_missed(conn, now=now, grace_min=grace_min)
        messages = []
        for row in found:
            await booking_service.transition_booking(conn, row["id"], BookingStatus.MISSED,
                                                     reason="no_check_in")
            name = row["name_zh"].split("（")[0]
            messages += await outbox.elder_side(
                conn, resident_id=row["resident_id"], booking_id=row["id"], kind="missed", same_day=True,
                elder_text=f"{SIGNATURE}很抱歉，您今天的{name}服务未能上门，服务中心会尽快与您联系重新安排。",
                family_text=f"{SIGNATURE}很抱歉，您家人今天的{name}服务未能上门，服务中心会尽快联系重新安排。",
                dedup=f"missed:{row['id']}")
        await outbox.queue(conn, messages, now=now)
        return [row["id"] for row in found]


async def outstanding_late_visits(db: Database, *, circle_ids: list[int], now: datetime) -> list[LateVisit]:
    """The no-show alerts still standing (alerted, nobody checked in yet): what a dispatcher who opens
    the live view now must see first."""
    async with db.connection() as conn:
        return await queries.outstanding_late_visits(conn, circle_ids=circle_ids, now=now)
