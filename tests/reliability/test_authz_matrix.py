"""The authorization matrix: every documented endpoint × every role × own object / another
tenant's object, plus no token and a forged token.

The routes come from the app's route table (`documented_routes`), so an endpoint added without an
entry in EXPECT fails `test_every_documented_route_has_an_expectation`. Each request runs in a
savepoint that is rolled back, so every case starts from the same world (tests/reliability/world.py).

Outcomes: "ok" = the endpoint's documented success status; 404 = not found (another tenant's
object, or an object the role can never reach); 403 = the role may never do this; 401 = no or a
bad token. Every response is also scanned: no full ID-card number ever; care notes only where the
endpoint exists to show them; nothing of street B's elder to street A's scoped roles.
"""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import time, timedelta
from typing import Any, Callable

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from core.clock import SimulatedClock, local_instant, local_today, use_clock
from core.roles import ROLES
from core.db import UnitOfWork
from core.http import RedactingAccessLogger
from app.main import create_app
from app.openapi import documented_routes
from core.settings import Settings
from tests.reliability.support import secrets_in
from tests.reliability.world import PASSWORD, Tenant, World, make_world

SCOPED = ("resident", "family", "dispatcher", "provider_admin", "caregiver")  # see only their own street's elders
NOTES_SHOWN_BY = {("GET", "/api/v1/residents/{id}"), ("GET", "/api/v1/caregivers/{id}/assignments")}


@dataclass(frozen=True)
class Req:
    method: str
    path: str
    query: dict[str, Any] = field(default_factory=dict)
    body: Any = None


@dataclass(frozen=True)
class Expect:
    """Who may call an endpoint, and how far their reach goes.

    ok: roles that succeed on their own street's object; other_ok: of those, the roles that also
    succeed on street B's (a street-wide role, or a list that silently narrows to the caller's own);
    hidden: roles the endpoint lets in that never reach such an object (404); every other role
    gets 403. public: no token needed.
    """

    build: Callable[[World, Tenant], Req]
    ok: frozenset[str]
    other_ok: frozenset[str] = frozenset()
    hidden: frozenset[str] = frozenset()
    public: bool = False
    roles_matter: bool = True   # False: the answer cannot depend on the caller (login); one role is tried
    xfail_other: dict[str, str] = field(default_factory=dict)   # role -> known finding (strict xfail)

    def outcome(self, role: str, own: bool) -> str | int:
        if role in self.ok:
            return "ok" if own or role in self.other_ok else 404
        return 404 if role in self.hidden else 403


def rule(build, ok: str, other_ok: str = "", hidden: str = "", public: bool = False, roles_matter: bool = True,
         **xfail_other: str) -> Expect:
    roles = lambda text: frozenset(ROLES if text == "all" else text.split())  # noqa: E731
    expect = Expect(build, roles(ok), roles(other_ok), roles(hidden), public, roles_matter, xfail_other)
    assert expect.other_ok <= expect.ok and not expect.ok & expect.hidden, "inconsistent rule"
    return expect


ELDER_SIDE = "resident family operator admin"
HOTLINE = "operator admin"
STAFF = "operator dispatcher provider_admin caregiver admin"
CAREGIVER_READERS = "provider_admin admin dispatcher caregiver"
PLANNERS = "dispatcher admin"


def _booking_body(w: World, t: Tenant, days: int = 2) -> dict:
    return {"resident_id": t.elder.id, "item_code": "C01", "date": (w.today + timedelta(days=days)).isoformat(),
            "window_start": "09:00", "window_end": "11:00", "notes": ""}


def _resident_body(w: World, t: Tenant) -> dict:
    return {"name": "矩阵新老人", "gender": "M", "birth_date": "1944-04-04", "phone": "13911112222",
            "address": "矩阵路1号", "lat": t.elder.lat, "lon": t.elder.lon, "circle_id": t.circle_id,
            "subsidy_eligible": True, "care_notes": "新登记的备注"}


def _caregiver_body(w: World, t: Tenant) -> dict:
    return {"name": "矩阵护理员", "gender": "F", "phone": "13722223333", "provider_id": t.provider_id,
            "circle_id": t.circle_id, "qualifications": ["G"], "home_lat": t.elder.lat, "home_lon": t.elder.lon,
            "transport": "walk", "shift_start": "08:00", "shift_end": "16:00"}


API = "/api/v1"
EXPECT: dict[tuple[str, str], Expect] = {
    ("GET", "/healthz"): rule(lambda w, t: Req("GET", "/healthz"), "all", "all", public=True),
    ("POST", f"{API}/auth/login"): rule(
        lambda w, t: Req("POST", f"{API}/auth/login", body={"username": "admin", "password": PASSWORD}),
        "all", "all", public=True, roles_matter=False),
    ("POST", f"{API}/auth/logout"): rule(lambda w, t: Req("POST", f"{API}/auth/logout"), "all", "all"),
    ("GET", f"{API}/auth/me"): rule(lambda w, t: Req("GET", f"{API}/auth/me"), "all", "all"),
    ("GET", f"{API}/menu"): rule(lambda w, t: Req("GET", f"{API}/menu"), "all", "all", public=True),
    ("GET", f"{API}/labels"): rule(lambda w, t: Req("GET", f"{API}/labels"), "all", "all", public=True),
    # ---------------------------------------------------------------- booking
    ("POST", f"{API}/residents"): rule(lambda w, t: Req("POST", f"{API}/residents", body=_resident_body(w, t)),
                                       HOTLINE, HOTLINE),
    ("GET", f"{API}/residents"): rule(lambda w, t: Req("GET", f"{API}/residents", {"phone": t.elder.phone}),
                                      HOTLINE, HOTLINE),
    ("GET", f"{API}/residents/{{id}}"): rule(lambda w, t: Req("GET", f"{API}/residents/{t.elder.id}"),
                                             ELDER_SIDE, HOTLINE),
    ("GET", f"{API}/residents/{{id}}/wallet"): rule(
        lambda w, t: Req("GET", f"{API}/residents/{t.elder.id}/wallet", {"month": f"{w.today:%Y-%m}"}),
        ELDER_SIDE, HOTLINE),
    ("POST", f"{API}/bookings/quote"): rule(lambda w, t: Req("POST", f"{API}/bookings/quote", body=_booking_body(w, t)),
                                            ELDER_SIDE, HOTLINE),
    ("POST", f"{API}/bookings"): rule(lambda w, t: Req("POST", f"{API}/bookings", body=_booking_body(w, t)),
                                      ELDER_SIDE, HOTLINE),
    # a list narrows to the caller's own: B's bookings never appear (the response scan checks it)
    ("GET", f"{API}/bookings"): rule(lambda w, t: Req("GET", f"{API}/bookings", {"resident_id": t.elder.id}),
                                     "all", "all"),
    ("GET", f"{API}/bookings/{{id}}"): rule(lambda w, t: Req("GET", f"{API}/bookings/{t.visit_booking_id}"),
                                            "all", HOTLINE),
    ("POST", f"{API}/bookings/{{id}}/cancel"): rule(
        lambda w, t: Req("POST", f"{API}/bookings/{t.pending_booking_id}/cancel", body={"reason": "矩阵"}),
        ELDER_SIDE, HOTLINE),
    ("POST", f"{API}/bookings/{{id}}/reschedule"): rule(
        lambda w, t: Req("POST", f"{API}/bookings/{t.pending_booking_id}/reschedule", body={
            "date": (w.today + timedelta(days=3)).isoformat(), "window_start": "14:00", "window_end": "16:00"}),
        ELDER_SIDE, HOTLINE),
    ("POST", f"{API}/bookings/{{id}}/evaluation"): rule(
        lambda w, t: Req("POST", f"{API}/bookings/{t.completed_booking_id}/evaluation",
                         body={"rating": 5, "comment": "好", "source": "app"}),
        ELDER_SIDE, HOTLINE),
    ("POST", f"{API}/series"): rule(lambda w, t: Req("POST", f"{API}/series", body={
        "resident_id": t.elder.id, "item_code": "M02", "weekdays": [3], "window_start": "11:00",
        "window_end": "12:00", "start_date": (w.today + timedelta(days=2)).isoformat(),
        "end_date": (w.today + timedelta(days=30)).isoformat()}), ELDER_SIDE, HOTLINE),
    ("POST", f"{API}/series/{{id}}/cancel"): rule(lambda w, t: Req("POST", f"{API}/series/{t.series_id}/cancel"),
                                                  ELDER_SIDE, HOTLINE),
    ("POST", f"{API}/calls"): rule(lambda w, t: Req("POST", f"{API}/calls", body={
        "resident_id": t.elder.id, "kind": "care_call", "outcome": "ok"}), HOTLINE, HOTLINE),
    ("GET", f"{API}/calls"): rule(lambda w, t: Req("GET", f"{API}/calls", {"resident_id": t.elder.id}),
                                  HOTLINE, HOTLINE),
    ("GET", f"{API}/care-calls"): rule(lambda w, t: Req("GET", f"{API}/care-calls", {"circle_id": t.circle_id}),
                                       HOTLINE, HOTLINE),
    # ---------------------------------------------------------------- providers
    ("GET", f"{API}/circles"): rule(lambda w, t: Req("GET", f"{API}/circles"), STAFF, STAFF),
    # a circle's name, centre and hotline are posted on the community centre's wall: anyone signed in reads them
    ("GET", f"{API}/circles/{{id}}"): rule(lambda w, t: Req("GET", f"{API}/circles/{t.circle_id}"), "all", "all"),
    ("POST", f"{API}/circles"): rule(lambda w, t: Req("POST", f"{API}/circles", body={
        "name": "矩阵新服务圈", "lat": 31.3, "lon": 121.5, "radius_m": 1200}), "admin", "admin"),
    ("GET", f"{API}/providers"): rule(lambda w, t: Req("GET", f"{API}/providers"), "admin", "admin"),
    ("POST", f"{API}/providers"): rule(lambda w, t: Req("POST", f"{API}/providers", body={
        "name": "矩阵新服务商", "circle_ids": [t.circle_id], "item_codes": ["C01"]}), "admin", "admin"),
    ("POST", f"{API}/caregivers"): rule(lambda w, t: Req("POST", f"{API}/caregivers", body=_caregiver_body(w, t)),
                                        "provider_admin admin", "admin"),
    # a provider admin's list is always narrowed to their own provider; caregivers are staff data
    ("GET", f"{API}/caregivers"): rule(lambda w, t: Req("GET", f"{API}/caregivers", {"provider_id": t.provider_id}),
                                       "provider_admin admin dispatcher", "provider_admin admin dispatcher"),
    # a dispatcher bound to a circle sees that circle's caregivers only
    ("GET", f"{API}/caregivers/{{id}}"): rule(lambda w, t: Req("GET", f"{API}/caregivers/{t.caregiver_id}"),
                                              CAREGIVER_READERS, "admin"),
    ("PATCH", f"{API}/caregivers/{{id}}"): rule(
        lambda w, t: Req("PATCH", f"{API}/caregivers/{t.caregiver_id}", body={"phone": "13799998888"}),
        "provider_admin admin", "admin"),
    ("PUT", f"{API}/caregivers/{{id}}/availability"): rule(
        lambda w, t: Req("PUT", f"{API}/caregivers/{t.caregiver_id}/availability", body={"days": [
            {"date": (w.today + timedelta(days=3)).isoformat(), "kind": "leave", "note": "矩阵"}]}),
        "provider_admin admin", "admin"),
    ("GET", f"{API}/caregivers/{{id}}/availability"): rule(
        lambda w, t: Req("GET", f"{API}/caregivers/{t.caregiver_id}/availability"), CAREGIVER_READERS, "admin"),
    # the day sheet carries the elders' addresses and care notes: only the caregiver's own street
    ("GET", f"{API}/caregivers/{{id}}/assignments"): rule(
        lambda w, t: Req("GET", f"{API}/caregivers/{t.caregiver_id}/assignments", {"date": w.today.isoformat()}),
        CAREGIVER_READERS, "admin"),
    # public, but the feed's secret is the token in the URL: A's token opens A's feed only
    ("GET", f"{API}/caregivers/{{id}}/calendar.ics"): rule(
        lambda w, t: Req("GET", f"{API}/caregivers/{t.caregiver_id}/calendar.ics", {"token": w.a.calendar_token}),
        "all", public=True),
    ("POST", f"{API}/caregivers/{{id}}/calendar-token"): rule(
        lambda w, t: Req("POST", f"{API}/caregivers/{t.caregiver_id}/calendar-token"),
        "caregiver provider_admin admin", "admin"),
    ("POST", f"{API}/visits/{{id}}/check-in"): rule(
        lambda w, t: Req("POST", f"{API}/visits/{t.checkin_visit_id}/check-in",
                         body={"lat": t.elder.lat, "lon": t.elder.lon}), "caregiver"),
    ("POST", f"{API}/visits/{{id}}/check-out"): rule(
        lambda w, t: Req("POST", f"{API}/visits/{t.checkout_visit_id}/check-out",
                         body={"lat": t.elder.lat, "lon": t.elder.lon, "outcome": "done"}), "caregiver"),
    # a dispatcher is bound to their circle; a provider admin's alerts narrow to their provider
    ("GET", f"{API}/visits/alerts"): rule(
        lambda w, t: Req("GET", f"{API}/visits/alerts", {"circle_id": t.circle_id, "date": w.today.isoformat()}),
        "dispatcher provider_admin admin", "provider_admin admin"),
    ("PATCH", f"{API}/visits/{{id}}"): rule(
        lambda w, t: Req("PATCH", f"{API}/visits/{t.checkout_visit_id}", body={"reason": "矩阵补签退", "outcome": "done",
                         "check_out_at": (w.now - timedelta(minutes=1)).isoformat()}),
        "provider_admin admin", "admin"),
    ("POST", f"{API}/visits/{{id}}/review"): rule(
        lambda w, t: Req("POST", f"{API}/visits/{t.corrected_visit_id}/review", body={"approve": True}),
        "admin", "admin"),
    ("GET", f"{API}/reports/settlement"): rule(
        lambda w, t: Req("GET", f"{API}/reports/settlement", {"provider_id": t.provider_id, "month": f"{w.today:%Y-%m}"}),
        "provider_admin admin", "admin"),
    ("GET", f"{API}/reports/settlement.csv"): rule(
        lambda w, t: Req("GET", f"{API}/reports/settlement.csv", {"provider_id": t.provider_id,
                                                                   "month": f"{w.today:%Y-%m}"}),
        "provider_admin admin", "admin"),
    ("POST", f"{API}/evaluations/{{id}}/clear"): rule(
        lambda w, t: Req("POST", f"{API}/evaluations/{t.evaluation_id}/clear"), "admin", "admin"),
    # ---------------------------------------------------------------- dispatch: a dispatcher plans their circle
    ("POST", f"{API}/plans"): rule(lambda w, t: Req("POST", f"{API}/plans", body={
        "circle_id": t.circle_id, "date": (w.today + timedelta(days=2)).isoformat(), "time_limit_s": 1}),
        PLANNERS, "admin"),
    ("GET", f"{API}/plans"): rule(lambda w, t: Req("GET", f"{API}/plans", {"circle_id": t.circle_id}), PLANNERS, "admin"),
    ("POST", f"{API}/plans/replan"): rule(lambda w, t: Req("POST", f"{API}/plans/replan", body={
        "circle_id": t.circle_id, "date": w.today.isoformat(), "time_limit_s": 1}), PLANNERS, "admin"),
    ("GET", f"{API}/plans/{{id}}"): rule(lambda w, t: Req("GET", f"{API}/plans/{t.draft_plan_id}"), PLANNERS, "admin"),
    ("POST", f"{API}/plans/{{id}}/cancel"): rule(lambda w, t: Req("POST", f"{API}/plans/{t.queued_plan_id}/cancel"),
                                                 PLANNERS, "admin"),
    ("POST", f"{API}/plans/{{id}}/edits"): rule(lambda w, t: Req("POST", f"{API}/plans/{t.draft_plan_id}/edits", body={
        "booking_id": t.pending_booking_id, "action": "unassign"}), PLANNERS, "admin"),
    ("POST", f"{API}/plans/{{id}}/reoptimize"): rule(
        lambda w, t: Req("POST", f"{API}/plans/{t.draft_plan_id}/reoptimize", body={"time_limit_s": 1}),
        PLANNERS, "admin"),
    ("POST", f"{API}/plans/{{id}}/publish"): rule(lambda w, t: Req("POST", f"{API}/plans/{t.draft_plan_id}/publish"),
                                                  PLANNERS, "admin"),
    ("GET", f"{API}/plans/{{id}}/events"): rule(lambda w, t: Req("GET", f"{API}/plans/{t.draft_plan_id}/events"),
                                                PLANNERS, "admin"),
    # ---------------------------------------------------------------- issue 15: editing, street office
    ("PATCH", f"{API}/menu/{{code}}"): rule(lambda w, t: Req("PATCH", f"{API}/menu/C01", body={"minutes": 40}),
                                            "admin", "admin"),
    ("PATCH", f"{API}/residents/{{id}}"): rule(
        lambda w, t: Req("PATCH", f"{API}/residents/{t.elder.id}", body={"lives_alone": True}), HOTLINE, HOTLINE),
    ("PATCH", f"{API}/circles/{{id}}"): rule(
        lambda w, t: Req("PATCH", f"{API}/circles/{t.circle_id}", body={"radius_m": 1600}), "admin", "admin"),
    ("PATCH", f"{API}/providers/{{id}}"): rule(
        lambda w, t: Req("PATCH", f"{API}/providers/{t.provider_id}", body={"phone": "02100000000"}), "admin", "admin"),
    ("PUT", f"{API}/caregivers/{{id}}/login"): rule(
        lambda w, t: Req("PUT", f"{API}/caregivers/{t.caregiver_id}/login",
                         body={"username": f"matrix_{t.name}", "password": "matrix-password"}),
        "provider_admin admin", "admin"),
    ("GET", f"{API}/reports/monthly"): rule(
        lambda w, t: Req("GET", f"{API}/reports/monthly", {"month": f"{w.today:%Y-%m}", "circle_id": t.circle_id}),
        "admin", "admin"),
    ("GET", f"{API}/reports/monthly.xlsx"): rule(
        lambda w, t: Req("GET", f"{API}/reports/monthly.xlsx", {"month": f"{w.today:%Y-%m}"}), "admin", "admin"),
    ("GET", f"{API}/reports/monthly.csv"): rule(
        lambda w, t: Req("GET", f"{API}/reports/monthly.csv", {"month": f"{w.today:%Y-%m}"}), "admin", "admin"),
    ("GET", f"{API}/reports/settlement/all"): rule(
        lambda w, t: Req("GET", f"{API}/reports/settlement/all", {"month": f"{w.today:%Y-%m}"}), "admin", "admin"),
    ("GET", f"{API}/audit"): rule(lambda w, t: Req("GET", f"{API}/audit", {"record": f"residents:{t.elder.id}"}),
                                  "admin", "admin"),
    ("POST", f"{API}/users/{{id}}/password-reset"): rule(
        lambda w, t: Req("POST", f"{API}/users/{t.users['family'].id}/password-reset", body={}), "admin", "admin"),
    # public: the one-time code is the credential (a wrong one is 401 whoever calls)
    ("POST", f"{API}/auth/redeem-code"): rule(
        lambda w, t: Req("POST", f"{API}/auth/redeem-code", body={"username": "family", "code": "MATRIX2345",
                                                                  "new_password": "matrix-new-password"}),
        "all", "all", public=True, roles_matter=False),
    ("GET", f"{API}/residents/{{id}}/family"): rule(
        lambda w, t: Req("GET", f"{API}/residents/{t.elder.id}/family"), HOTLINE, HOTLINE),
    ("POST", f"{API}/residents/{{id}}/family"): rule(
        lambda w, t: Req("POST", f"{API}/residents/{t.elder.id}/family", body={"username": "family_b" if t.name == "a"
                                                                               else "family", "relation": "矩阵"}),
        HOTLINE, HOTLINE),
    ("GET", f"{API}/users"): rule(lambda w, t: Req("GET", f"{API}/users", {"q": "operator"}), "admin", "admin"),
    ("GET", f"{API}/geocode"): rule(lambda w, t: Req("GET", f"{API}/geocode", {"address": "矩阵路1号"}),
                                    HOTLINE, HOTLINE),
    # a dispatcher bound to a circle: that circle's elders only (another circle answers 404)
    ("GET", f"{API}/residents-unconfirmed"): rule(
        lambda w, t: Req("GET", f"{API}/residents-unconfirmed", {"circle_id": t.circle_id}),
        "operator dispatcher admin", "operator admin"),
    ("DELETE", f"{API}/residents/{{id}}/family/{{user_id}}"): rule(
        lambda w, t: Req("DELETE", f"{API}/residents/{t.elder.id}/family/{t.users['family'].id}"), HOTLINE, HOTLINE),
    # ---------------------------------------------------------------- messages and follow-ups (issue 13)
    # the inbox is always the caller's own: nothing to probe
    ("GET", f"{API}/messages"): rule(lambda w, t: Req("GET", f"{API}/messages"), "all", "all"),
    ("POST", f"{API}/messages/read"): rule(lambda w, t: Req("POST", f"{API}/messages/read", body={}), "all", "all"),
    ("GET", f"{API}/outbox"): rule(lambda w, t: Req("GET", f"{API}/outbox"), "admin", "admin"),
    ("GET", f"{API}/outbox/standin"): rule(lambda w, t: Req("GET", f"{API}/outbox/standin"), "admin", "admin"),
    # a dispatcher bound to a circle sees and closes only that circle's follow-ups
    ("GET", f"{API}/safety-tasks"): rule(
        lambda w, t: Req("GET", f"{API}/safety-tasks", {"circle_id": t.circle_id}),
        "operator dispatcher admin", "operator admin"),
    ("POST", f"{API}/safety-tasks/{{id}}/close"): rule(
        lambda w, t: Req("POST", f"{API}/safety-tasks/{t.safety_task_id}/close", body={"outcome": "elder_safe"}),
        "operator dispatcher admin", "operator admin"),
    ("GET", f"{API}/alerts/live"): rule(
        lambda w, t: Req("GET", f"{API}/alerts/live", {"circle_id": t.circle_id, "timeout_s": 0}), PLANNERS, "admin"),
}


def _routes() -> list[tuple[str, str, Any]]:
    app = create_app(Settings(DATABASE_URL="postgresql://unused", REDIS_URL="redis://unused",
                              CIRCLE_SECRET_KEY="route-table-only"), with_background=False)
    return [(method, path, doc) for method, path, _handler, doc in documented_routes(app)]


ROUTES = _routes()
ROUTE_IDS = [f"{m} {p}" for m, p, _ in ROUTES]

# ------------------------------------------------------------------ the world, the app, the log


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(scope="module")
def run_log():
    """Every log line of the module's run, at DEBUG (for the secrets scan at the end)."""
    handler, root = _Records(), logging.getLogger()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s %(exc_text)s"))
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler.lines
    root.removeHandler(handler)
    root.setLevel(level)


@pytest_asyncio.fixture(scope="module")
async def world_conn(pool):
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            yield conn
        finally:
            await tx.rollback()


@pytest.fixture(scope="module")
def world_clock() -> SimulatedClock:
    """Noon of today, standing still: the world's visits lie minutes and hours around now, which
    must stay on today's service day whatever the hour the suite runs at."""
    return SimulatedClock(local_instant(local_today(), time(12)))


@pytest_asyncio.fixture(scope="module")
async def world(world_conn, crypto, run_log, world_clock) -> World:
    with use_clock(world_clock):
        return await make_world(world_conn, crypto)


@pytest_asyncio.fixture(scope="module")
async def api(settings, world_conn, redis_client, world, world_clock):
    await redis_client.flushdb()
    from app.standins import STANDIN_KEY, standin_app
    async with TestServer(standin_app()) as geocoder:  # GET /geocode speaks AMap's protocol to the stand-in
        settings = settings.model_copy(update={"geocoder": "amap", "geocoder_key": STANDIN_KEY,
                                               "geocoder_url": str(geocoder.make_url("/amap"))})
        app = create_app(settings, database=UnitOfWork(world_conn), redis_client=redis_client, with_background=False,
                         clock=world_clock)
        server = TestServer(app)
        await server.start_server(access_log_class=RedactingAccessLogger)  # as `circle serve` logs
        async with TestClient(server) as client:
            yield client


@asynccontextmanager
async def rolled_back(conn):
    tx = conn.transaction()
    await tx.start()
    try:
        yield
    finally:
        await tx.rollback()


async def _call(api: TestClient, req: Req, headers: dict[str, str]) -> tuple[int, str]:
    kwargs: dict[str, Any] = {"headers": headers, "params": {k: str(v) for k, v in req.query.items()}}
    if req.body is not None:
        kwargs["json"] = req.body
    elif req.method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = {}
    async with api.request(req.method, req.path, **kwargs) as response:
        return response.status, (await response.read()).decode(errors="replace")  # an .xlsx is binary


def _scan(world: World, route: tuple[str, str], role: str | None, text: str) -> list[str]:
    """What a response shows that it must not."""
    problems = []
    if found := secrets_in(text, [world.a.id_card_no, world.b.id_card_no]):
        problems.append(f"full ID-card number {found} in the response")
    if route not in NOTES_SHOWN_BY and (found := secrets_in(text, [world.a.care_notes, world.b.care_notes])):
        problems.append(f"care notes {found} in a response that does not need them")
    if role in SCOPED and (found := secrets_in(text, world.b.personal_data())):
        problems.append(f"street B's elder ({found}) shown to street A's {role}")
    return problems

# ------------------------------------------------------------------ the tests


def test_every_documented_route_has_an_expectation():
    missing = sorted(f"{m} {p}" for m, p, _ in ROUTES if (m, p) not in EXPECT)
    assert not missing, f"add these endpoints to EXPECT in {__file__}: {missing}"


def test_no_stale_expectations():
    stale = sorted(f"{m} {p}" for m, p in EXPECT if (m, p) not in {(m, p) for m, p, _ in ROUTES})
    assert not stale, f"these endpoints no longer exist; drop them from EXPECT: {stale}"


def test_every_api_route_declares_who_may_call_it():
    """A route under /api/v1 without `endpoint(...)` would skip the role check altogether."""
    app = create_app(Settings(DATABASE_URL="postgresql://unused", REDIS_URL="redis://unused",
                              CIRCLE_SECRET_KEY="route-table-only"), with_background=False)
    documented = {(m, p) for m, p, _h, _d in documented_routes(app)}
    undeclared = []
    for resource in app.router.resources():
        sub = resource.get_info().get("app")
        for inner in (sub.router.resources() if sub is not None else []):
            info = inner.get_info()
            path = info.get("path") or info.get("formatter", "")
            for route in inner:
                if route.method != "HEAD" and (route.method, path) not in documented and path != f"{API}/openapi.json":
                    undeclared.append(f"{route.method} {path}")
    assert not undeclared, f"routes without an endpoint(roles=...) declaration: {undeclared}"


@pytest.mark.parametrize("method,path,doc", ROUTES, ids=ROUTE_IDS)
async def test_matrix(api, world, world_conn, method, path, doc, request):
    expect = EXPECT.get((method, path))
    if expect is None:
        pytest.fail(f"no expectation for {method} {path}: add it to EXPECT")
    wrong, known = [], []
    for role in (ROLES if expect.roles_matter else ROLES[-1:]):
        for tenant in (world.a, world.b):
            req = expect.build(world, tenant)
            assert (req.method, _template(req.path)) == (method, path) or req.path == path, req
            want = expect.outcome(role, own=tenant is world.a)
            async with rolled_back(world_conn):
                status, text = await _call(api, req, world.a.auth(role))
            problems = _scan(world, (method, path), role, text)
            if (want == "ok" and status != doc.status) or (want != "ok" and status != want):
                problems.append(f"expected {want}, got {status} {text[:160]}")
            found = [f"{role} on street {tenant.name.upper()}'s object: {p}" for p in problems]
            (known if tenant is world.b and role in expect.xfail_other else wrong).extend(found)
    for label, headers in (("no token", {}), ("a forged token", {"Authorization": "Bearer forged-" + "x" * 40})):
        req = expect.build(world, world.a)
        async with rolled_back(world_conn):
            status, text = await _call(api, req, headers)
        want = doc.status if expect.public else 401
        if status != want:
            wrong.append(f"{label}: expected {want}, got {status} {text[:160]}")
        wrong += [f"{label}: {p}" for p in _scan(world, (method, path), None, text)]
    assert not wrong, "\n".join(wrong)
    if expect.xfail_other:
        if known:
            pytest.xfail("; ".join(expect.xfail_other.values()) + " — " + " | ".join(known))
        pytest.fail(f"fixed? {list(expect.xfail_other)} now get 404 on street B: drop xfail_other from the rule")


def _template(path: str) -> str:
    parts = path.split("/")
    named = ["{user_id}" if part.isdigit() and parts[i - 1] == "family" else "{id}" if part.isdigit()
             else "{code}" if parts[i - 1] == "menu" else part for i, part in enumerate(parts)]
    return "/".join(named)


async def test_logs_of_the_run_hold_no_secrets(api, world, run_log):
    """Everything the matrix run logged (app, aiohttp access log, asyncpg), at DEBUG."""
    assert run_log, "the run logged nothing: is the handler attached?"
    passwords = [PASSWORD]
    text = "\n".join(run_log)
    assert not secrets_in(text, world.secrets() + passwords)
    tokens = [t for tenant in (world.a, world.b) for t in tenant.tokens.values()]
    assert not secrets_in(text, tokens), "bearer tokens in the log"
    assert not secrets_in(text, [world.a.calendar_token, world.b.calendar_token]), "calendar-feed tokens in the log"
