"""Two tenants side by side — street A (the callers) and street B (someone else's) — each with a
circle, an elder whose ID number and care notes are known secrets, a provider, a caregiver,
a user of every role, and objects in every state an endpoint acts on."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import asyncpg

from core.roles import ROLES
from core.users import User, create_user, hash_password, issue_token
from core.clock import local_today, utc_now
from core.crypto import Crypto
from core.db import UnitOfWork
from booking import service as booking_service
from booking.models import BookingRequest, SeriesRequest
from booking.models import BookingStatus, Resident
from providers import service as provider_service
from providers.models import PlannedVisit
from tests import factories
from tests.reliability.support import id_card

ROLE_ORDER = ROLES  # resident, family, operator, dispatcher, provider_admin, caregiver, admin
PASSWORD = "pw-world-of-two-streets"  # every user of the world has it (argon2id is slow on purpose: hashed once)


@functools.lru_cache(maxsize=1)
def _password_hash() -> str:
    return hash_password(PASSWORD)


@dataclass
class Tenant:
    name: str                   # "a" or "b"
    circle_id: int
    elder: Resident
    id_card_no: str
    care_notes: str
    provider_id: int
    caregiver_id: int
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    pending_booking_id: int = 0      # pending, cancellable
    visit_booking_id: int = 0        # scheduled, with a visit of this tenant's caregiver
    checkin_visit_id: int = 0        # that visit: starts in 10 minutes
    checkout_visit_id: int = 0       # checked in, booking in progress
    completed_booking_id: int = 0    # completed, rated 1 on a return-visit call, not yet from the app
    evaluation_id: int = 0           # that low rating (for a street admin to clear)
    corrected_visit_id: int = 0      # its visit, made done by the provider admin's correction: review pending
    series_id: int = 0
    calendar_token: str = ""
    draft_plan_id: int = 0           # tomorrow's draft, the pending booking unassigned in it
    queued_plan_id: int = 0          # tomorrow's next version, waiting for a solver
    safety_task_id: int = 0          # an open follow-up on the hotline's list (the elder was not home)

    def personal_data(self) -> list[str]:
        """Strings that identify this tenant's elder: nobody outside may ever see them."""
        return [self.elder.name, self.elder.phone, self.elder.address, self.care_notes, self.id_card_no]

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@dataclass
class World:
    a: Tenant
    b: Tenant
    today: date
    now: datetime

    def tenant(self, name: str) -> Tenant:
        return self.a if name == "a" else self.b

    def secrets(self) -> list[str]:
        return [self.a.id_card_no, self.b.id_card_no, self.a.care_notes, self.b.care_notes]


_PREFIXES = {"a": ("甲", "11010519400101001", "13800000101"), "b": ("乙", "31010119420202002", "13800000202")}


async def make_tenant(conn: asyncpg.Connection, crypto: Crypto, name: str) -> Tenant:
    mark, id17, phone = _PREFIXES[name]
    lat = factories.CENTRE[0] + (0 if name == "a" else 0.05)
    circle_id = await factories.make_circle(conn, name=f"{mark}街道测试服务圈", lat=lat)
    notes = f"{mark}方护理备注：门禁密码{4711 if name == 'a' else 2342}，胰岛素每日两次"
    card = id_card(id17)
    elder = await factories.make_resident(conn, crypto, circle_id=circle_id, name=f"{mark}测试老人",
                                          phone=phone, address=f"{mark}测试路{phone[-3:]}弄7号", lat=lat + 0.001,
                                          care_notes=notes, id_card_no=card, lives_alone=True)
    provider_id = await factories.make_provider(conn, name=f"{mark}测试服务商", circle_ids=(circle_id,))
    caregiver_id = await factories.make_caregiver(conn, provider_id=provider_id, circle_id=circle_id,
                                                  name=f"{mark}测试护理员", home_lat=lat - 0.002,
                                                  shift_start=time(0, 0), shift_end=time(23, 59))
    tenant = Tenant(name, circle_id, elder, card, notes, provider_id, caregiver_id)
    suffix = "" if name == "a" else "_b"
    links = {"resident": {"resident_id": elder.id}, "family": {"family_of": (elder.id,)},
             "dispatcher": {"circle_id": circle_id}, "provider_admin": {"provider_id": provider_id},
             "caregiver": {"caregiver_id": caregiver_id}}
    for role in ROLE_ORDER:
        user = await create_user(conn, username=role + suffix, password=PASSWORD, password_hash=_password_hash(),
                                 role=role, **links.get(role, {}))
        tenant.users[role] = user
        tenant.tokens[role] = await issue_token(conn, user.id, ttl=timedelta(hours=2))
    # the family member was given a one-time code by an admin (POST /users/{id}/password-reset)
    await conn.execute("""UPDATE users SET reset_code_hash = $2, reset_code_expires_at = now() + interval '1 day'
                          WHERE id = $1""", tenant.users["family"].id, _reset_code_hash())
    return tenant


RESET_CODE = "MATRIX2345"


@functools.lru_cache(maxsize=None)
def _reset_code_hash() -> str:
    return hash_password(RESET_CODE)


async def add_objects(conn: asyncpg.Connection, crypto: Crypto, tenant: Tenant, today: date) -> None:
    """A pending booking, a scheduled visit about to start, a visit under way, a completed and
    badly rated visit, a series and a calendar token."""
    db = UnitOfWork(conn)
    operator = tenant.users["operator"]
    tomorrow = today + timedelta(days=1)
    now = utc_now()

    async def book(day: date, item: str = "C01") -> int:
        data = BookingRequest(tenant.elder.id, item, day, time(6), time(21), channel="hotline")
        body = await booking_service.create_booking(db, actor=operator, request=data, today=day - timedelta(days=1))
        return body.id

    async def publish(booking_id: int, start: datetime, minutes: int = 60) -> int:
        await provider_service.write_visits(conn, plan_id=None, visits=[PlannedVisit(
            booking_id=booking_id, caregiver_id=tenant.caregiver_id, crew_member=1, position=0,
            planned_start=start, planned_end=start + timedelta(minutes=minutes), travel_minutes=5)])
        await booking_service.schedule_booking(conn, booking_id, caregiver_id=tenant.caregiver_id, planned_start=start)
        return await conn.fetchval("SELECT id FROM visits WHERE booking_id = $1 AND released_at IS NULL", booking_id)

    tenant.pending_booking_id = await book(tomorrow)
    tenant.visit_booking_id = await book(today)
    tenant.checkin_visit_id = await publish(tenant.visit_booking_id, now + timedelta(minutes=10))
    under_way = await book(today, "B01")
    tenant.checkout_visit_id = await publish(under_way, now - timedelta(minutes=90))
    await conn.execute("""UPDATE visits SET check_in_at = $2, check_in_lat = 0, check_in_lon = 0,
                          check_in_distance_m = 10 WHERE id = $1""", tenant.checkout_visit_id,
                       now - timedelta(minutes=88))
    await booking_service.transition_booking(conn, under_way, BookingStatus.IN_PROGRESS)
    tenant.completed_booking_id = await book(today, "C02")
    done_visit = await publish(tenant.completed_booking_id, now - timedelta(hours=4))
    await conn.execute("""UPDATE visits SET check_in_at = $2::timestamptz, check_out_at = $2::timestamptz + interval '1 hour',
                          outcome = 'done' WHERE id = $1""", done_visit, now - timedelta(hours=4))
    await booking_service.transition_booking(conn, tenant.completed_booking_id, BookingStatus.IN_PROGRESS)
    await booking_service.transition_booking(conn, tenant.completed_booking_id, BookingStatus.COMPLETED)
    await conn.execute("""UPDATE visits SET review_status = 'pending', corrected_by = $2,
                          flags = array_append(flags, 'corrected') WHERE id = $1""",
                       done_visit, tenant.users["provider_admin"].id)
    tenant.corrected_visit_id = done_visit
    tenant.evaluation_id = await conn.fetchval(
        """INSERT INTO evaluations (booking_id, rating, comment, source, created_by)
           VALUES ($1, 1, '不满意', 'return_call', $2) RETURNING id""", tenant.completed_booking_id, operator.id)
    series, _ = await booking_service.create_series(db, actor=operator, request=SeriesRequest(
        tenant.elder.id, "M01", (1, 2, 3, 4, 5, 6, 7), time(11), time(12), tomorrow + timedelta(days=1),
        tomorrow + timedelta(days=20)), today=today)
    tenant.series_id = series.id
    tenant.calendar_token = await provider_service.issue_calendar_token(
        db, actor=tenant.users["caregiver"], caregiver_id=tenant.caregiver_id)
    await add_plans(conn, tenant, today)
    tenant.safety_task_id = await conn.fetchval(
        "INSERT INTO safety_tasks (resident_id, kind, opened_at) VALUES ($1, 'not_home', now()) RETURNING id",
        tenant.elder.id)


async def add_plans(conn: asyncpg.Connection, tenant: Tenant, today: date) -> None:
    """Today's published plan (so a same-day re-plan can start), tomorrow's draft and a queued
    next version of it."""
    insert = """INSERT INTO plans (circle_id, service_date, version, status, progress, unassigned)
                VALUES ($1, $2, $3, $4, $5, $6) RETURNING id"""
    unassigned = [{"booking_id": tenant.pending_booking_id, "reason": "no_caregiver", "reason_zh": "没有护理员"}]
    await conn.fetchval(insert, tenant.circle_id, today, 1, "published", 1, [])
    tenant.draft_plan_id = await conn.fetchval(insert, tenant.circle_id, today + timedelta(days=1), 1, "draft", 1,
                                               unassigned)
    tenant.queued_plan_id = await conn.fetchval(insert, tenant.circle_id, today + timedelta(days=1), 2, "queued", 0,
                                                [])


async def make_world(conn: asyncpg.Connection, crypto: Crypto) -> World:
    today = local_today()
    a = await make_tenant(conn, crypto, "a")
    b = await make_tenant(conn, crypto, "b")
    for tenant in (a, b):
        await add_objects(conn, crypto, tenant, today)
    return World(a, b, today, utc_now())
