"""A street through time: `circle simulate --days N --seed S [--elders E] [--caregivers C]`.

The real code — booking, series, the nightly plan with the real solver, publish, same-day re-plans,
check-in and check-out, the chores — runs day after day on a real PostgreSQL under a simulated
clock (core.clock.use_clock). What people do is drawn from one seeded random generator, so a seed
gives the same street, the same bookings and the same behaviour every time:

- elders keep their repeating services (daily lunches and weekly baths, as series) and book
  ad hoc by app, family and hotline at daytime hours, for the coming week;
- at 18:00 tomorrow is planned and published, circle by circle (the run starts on the evening before
  the first day, with the demo street's bookings for its first two days);
- caregivers arrive with noise around the plan, sometimes late, now and then not at all; elders are
  sometimes not home or refuse; some cancel the same day; ratings follow most completed visits;
- now and then a caregiver falls sick in the morning: leave is recorded and the day is re-planned
  (freeze 30 minutes) and published;
- the worker's chores run on its cadence: the no-show alert and overdue flags every simulated
  minute, closing missed visits and the outbox sender every five.

`simulate()` returns the care outcomes (`Outcomes`): what the street pays for, measured from what
the database holds at the end (see `app/outcomes.py`).
"""
from __future__ import annotations

import heapq
import logging
import random
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import AsyncIterator, Awaitable, Callable

import aiohttp
import asyncpg

from app.demo import load_demo
from app.demo_data import ITEM_WEIGHTS, windows_for
from booking import service as booking_service
from booking.models import BookingRequest, SeriesRequest
from core.clock import LOCAL_TZ, SimulatedClock, local_instant, use_clock, utc_now
from core.crypto import Crypto
from core.db import Database
from core.errors import ApiError
from core.sms import StandinGateway, WebhookGateway
from core.users import User, create_user, user_by_id
from dispatch import chores
from dispatch import queries as dispatch_queries
from dispatch.continuity import disturbs
from dispatch import service as dispatch_service
from dispatch.jobs.pool import SolverPool
from dispatch.jobs.run import run_plan
from providers import service as provider_service
from providers.models import DayChange

log = logging.getLogger(__name__)

NO_PASSWORD = "!no-password"       # simulated people never sign in: their accounts have no usable password
TICK = timedelta(minutes=1)          # the worker's cadence: its chores run every minute
LUNCH_WINDOWS = ((time(10, 30), time(11, 30)), (time(11), time(12)), (time(11, 30), time(12, 30)))
PLAN_AT, DAY_STARTS, DAY_ENDS = time(18, 0), time(6, 0), time(21, 30)
LATE_BOOKINGS_AT = time(7, 0)         # the dispatcher places bookings made after last night's plan


@dataclass(frozen=True)
class Behaviour:
    """How often people do what (per visit unless said otherwise); the defaults are a calm street."""

    late_share: float = 0.02            # a caregiver starts 16-40 minutes late
    no_show_share: float = 0.005        # nobody comes
    not_home_share: float = 0.02
    refused_share: float = 0.005
    same_day_cancel_share: float = 0.02
    rated_share: float = 0.7
    sick_per_day: float = 0.15          # chance a caregiver falls sick on a given morning
    ad_hoc_per_circle_day: int = 35     # bookings made each day, for the coming week
    weekly_bath_share: float = 0.1      # elders given a weekly bath series at the start
    daily_lunch_share: float = 0.15     # elders given a daily lunch delivery at the start
    arrival_sd_min: float = 5.0


@dataclass(frozen=True)
class SimConfig:
    days: int = 30
    seed: int = 1
    elders_per_circle: int = 75
    caregivers: int | None = None
    plan_seconds: int = 30              # the solver's time cap per circle-day: seldom reached, so that
    plan_solutions: int = 200           # the solution limit stops the search and a seed's plans repeat
    start: date = date(2030, 3, 4)
    behaviour: Behaviour = Behaviour()


Chore = Callable[[Database], Awaitable[object]]
Schedule = list[tuple[Chore, int]]   # each chore with how many minutes apart it runs


@dataclass(frozen=True)
class SickDay:
    """A caregiver off sick with `k` visits, and what the same-day re-plan did to the other bookings:
    `disturbed` moved to other caregivers, left out or shifted more than 15 minutes
    (dispatch.continuity.disturbs); `retimed` only shifted by 15 minutes or less."""

    day: date
    caregiver_id: int
    k: int
    disturbed: int
    retimed: int


@dataclass
class Journal:
    """What the simulation saw happen, beside what the database keeps."""

    acknowledged: set[int] = field(default_factory=set)          # booking ids a create answered
    sick: list[SickDay] = field(default_factory=list)
    never_came: dict[int, datetime] = field(default_factory=dict)  # visit id → planned start (nobody came)
    unplanned_runs: list[tuple[int, date]] = field(default_factory=list)   # plans that failed
    refused_requests: int = 0                                    # booking attempts the rules refused
    moved_by_service: set[int] = field(default_factory=set)      # bookings a same-day re-plan changed


@dataclass
class Street:
    """The ids the simulation needs, read once from the database the demo loaded."""

    circles: list[int]
    planner: User
    operator: User
    provider_admins: dict[int, User]            # provider id → its admin
    caregivers: dict[int, tuple[User, int]]     # caregiver id → (login, provider id)
    homes: dict[int, tuple[float, float]]       # resident id → home
    elders_by_circle: dict[int, list[int]]
    elder_users: dict[int, User] = field(default_factory=dict)   # resident id → login (made when first used)
    family_users: dict[int, User] = field(default_factory=dict)  # resident id → a linked family member


class Simulation:
    def __init__(self, db: Database, crypto: Crypto, clock: SimulatedClock, config: SimConfig,
                 chores: Schedule, pool: SolverPool):
        self.db, self.crypto, self.clock, self.config = db, crypto, clock, config
        self.behaviour = config.behaviour
        self.rng = random.Random(config.seed)
        self.chores, self.pool = chores, pool
        self.journal = Journal()
        self.street: Street | None = None

    # ------------------------------------------------------------------ the run

    async def run(self) -> Journal:
        """The evening before the first day: the street, and the first day's plan; then day after day."""
        await self._load()
        await self.plan_and_publish(self.config.start)
        for n in range(self.config.days):
            await self.one_day(self.config.start + timedelta(days=n))
        return self.journal

    async def one_day(self, day: date) -> None:
        await self._advance_to(local_instant(day, DAY_STARTS))
        await booking_service.materialize_series(self.db)
        if self.rng.random() < self.behaviour.sick_per_day:
            await self._caregiver_falls_sick(day)
        await self._advance_to(local_instant(day, LATE_BOOKINGS_AT))
        await self._place_late_bookings(day)
        events = await self._visit_events(day) + self._booking_events(day)
        events.append((local_instant(day, PLAN_AT), -1.0, self._plan_tomorrow(day)))
        heapq.heapify(events)
        while events:
            at, _, action = heapq.heappop(events)
            await self._advance_to(at)
            for follow_up in await action():
                heapq.heappush(events, follow_up)
        await self._advance_to(local_instant(day, DAY_ENDS))

    def _plan_tomorrow(self, day: date):
        async def plan() -> list:
            await self.plan_and_publish(day + timedelta(days=1))
            return []
        return plan

    async def _advance_to(self, instant: datetime) -> None:
        """Move the clock forward, running the chores due at every minute mark on the way."""
        while True:
            tick = _next_tick(self.clock.now())
            if tick > instant:
                break
            self.clock.set(tick)
            await self._run_chores(tick)
        if instant > self.clock.now():
            self.clock.set(instant)

    async def _run_chores(self, tick: datetime) -> None:
        minute = int(tick.timestamp() // 60)
        for chore, every in self.chores:
            if minute % every == 0:
                await chore(self.db)

    # ------------------------------------------------------------------ the street

    async def _load(self) -> None:
        async with self.db.transaction() as conn:
            await load_demo(conn, self.crypto, today=self.config.start - timedelta(days=1), seed=self.config.seed,
                            elders_per_circle=self.config.elders_per_circle, caregivers=self.config.caregivers)
            self.street = await _read_street(conn)
        await self._regular_services()

    async def _regular_services(self) -> None:
        """Repeating services as series, from the day after the demo's two booked days: a daily lunch
        delivery for some elders, a bath on one weekday for others."""
        start = self.config.start + timedelta(days=2)
        for circle, elders in self.street.elders_by_circle.items():
            lunch = int(len(elders) * self.behaviour.daily_lunch_share)
            bath = int(len(elders) * self.behaviour.weekly_bath_share)
            chosen = self.rng.sample(elders, k=lunch + bath)
            for n, resident_id in enumerate(chosen):
                code, days, window = (("M01", (1, 2, 3, 4, 5, 6, 7), LUNCH_WINDOWS[n % 3]) if n < lunch
                                      else ("B01", (self.rng.randint(1, 7),), (time(9), time(11))))
                request = SeriesRequest(resident_id, code, days, *window, start, start + timedelta(days=120),
                                        channel="hotline")
                await self._attempt(booking_service.create_series(self.db, actor=self.street.operator,
                                                                  request=request))

    # ------------------------------------------------------------------ bookings made during the day

    def _booking_events(self, day: date) -> list[tuple]:
        events = []
        codes, weights = list(ITEM_WEIGHTS), list(ITEM_WEIGHTS.values())
        for circle, elders in self.street.elders_by_circle.items():
            for _ in range(self.behaviour.ad_hoc_per_circle_day):
                at = local_instant(day, time(self.rng.randint(8, 19), self.rng.randint(0, 59)))
                resident_id, code = self.rng.choice(elders), self.rng.choices(codes, weights=weights)[0]
                ahead, window = self.rng.randint(1, 7), self.rng.choice(windows_for(code))
                channel = self.rng.choices(("app", "family", "hotline"), weights=(3, 2, 5))[0]
                request = BookingRequest(resident_id, code, day + timedelta(days=ahead), window[0], window[1])
                events.append((at, self.rng.random(), self._book_action(request, channel)))
        return events

    def _book_action(self, request: BookingRequest, channel: str):
        async def book() -> list:
            actor = await self._booker(request.resident_id, channel)
            made = await self._attempt(booking_service.create_booking(self.db, actor=actor, request=request))
            if made is not None:
                self.journal.acknowledged.add(made.id)
            return []
        return book

    async def _booker(self, resident_id: int, channel: str) -> User:
        if channel == "family" and resident_id in self.street.family_users:
            return self.street.family_users[resident_id]
        if channel in ("app", "family"):
            return await self._elder_login(resident_id)
        return self.street.operator

    async def _elder_login(self, resident_id: int) -> User:
        if resident_id not in self.street.elder_users:
            async with self.db.transaction() as conn:
                self.street.elder_users[resident_id] = await create_user(
                    conn, username=f"sim-elder-{resident_id}", password="", password_hash=NO_PASSWORD,
                    role="resident", resident_id=resident_id)
        return self.street.elder_users[resident_id]

    async def _attempt(self, call: Awaitable):
        """A request the rules may refuse (a full subsidy month, a window out of range): counted, not fatal."""
        try:
            return await call
        except ApiError:
            self.journal.refused_requests += 1
            return None

    # ------------------------------------------------------------------ the nightly plan

    async def plan_and_publish(self, day: date) -> None:
        for circle_id in self.street.circles:
            plan = await dispatch_service.request_plan(
                self.db, _NoQueue(), actor=self.street.planner, circle_id=circle_id, day=day,
                time_limit_s=self.config.plan_seconds, solution_limit=self.config.plan_solutions,
                seed=self.config.seed)
            await self._solve_and_publish(plan.id, circle_id, day)

    async def _solve_and_publish(self, plan_id: int, circle_id: int, day: date) -> list:
        await run_plan(self.db, plan_id, pool=self.pool, heartbeat_s=3600)
        try:
            result = await dispatch_service.publish_plan(self.db, actor=self.street.planner, plan_id=plan_id)
        except ApiError as refused:
            log.warning("plan %s of circle %s on %s not published: %s", plan_id, circle_id, day, refused.message)
            self.journal.unplanned_runs.append((circle_id, day))
            return []
        return result.changed

    # ------------------------------------------------------------------ bookings made after the plan

    async def _place_late_bookings(self, day: date) -> None:
        """The dispatcher's morning round: bookings for today made after last night's plan was
        published are placed by a same-day re-plan (into the gaps: nobody already told a time is
        moved for them), and the result is published."""
        for circle_id in await self._circles_with_late_bookings(day):
            plan = await dispatch_service.replan(self.db, _NoQueue(), actor=self.street.planner, circle_id=circle_id,
                                                 day=day, time_limit_s=self.config.plan_seconds,
                                                 solution_limit=self.config.plan_solutions, seed=self.config.seed)
            changes = await self._solve_and_publish(plan.id, circle_id, day)
            self.journal.moved_by_service |= {c.booking_id for c in changes if c.old is not None}

    async def _circles_with_late_bookings(self, day: date) -> list[int]:
        """Circles whose published plan for `day` has bookings waiting (dispatch.queries.bookings_waiting)."""
        found = []
        async with self.db.connection() as conn:
            for circle_id in self.street.circles:
                plan = await dispatch_queries.published_plan(conn, circle_id, day)
                if plan and await dispatch_queries.bookings_waiting(conn, circle_id, day, plan.id):
                    found.append(circle_id)
        return found

    # ------------------------------------------------------------------ a sick caregiver

    async def _caregiver_falls_sick(self, day: date) -> None:
        working = await self._caregivers_with_visits(day)
        if not working:
            return
        caregiver_id, circle_id, k = self.rng.choice(sorted(working))
        login, provider_id = self.street.caregivers[caregiver_id]
        await provider_service.set_availability(self.db, actor=self.street.provider_admins[provider_id],
                                                caregiver_id=caregiver_id,
                                                days=[DayChange(day=day, kind="leave", note="病假（模拟）")])
        plan = await dispatch_service.replan(self.db, _NoQueue(), actor=self.street.planner, circle_id=circle_id,
                                             day=day, sick_caregiver_ids=[caregiver_id],
                                             time_limit_s=self.config.plan_seconds,
                                             solution_limit=self.config.plan_solutions, seed=self.config.seed)
        changes = await self._solve_and_publish(plan.id, circle_id, day)
        disturbed = {c.booking_id for c in changes if disturbs(c.old, c.new)}
        self.journal.sick.append(SickDay(day, caregiver_id, k, len(disturbed), len(changes) - len(disturbed)))
        self.journal.moved_by_service |= {c.booking_id for c in changes}

    async def _caregivers_with_visits(self, day: date) -> set[tuple[int, int, int]]:
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                """SELECT v.caregiver_id, b.circle_id, count(*) AS k FROM visits v JOIN bookings b ON b.id = v.booking_id
                   WHERE v.released_at IS NULL AND b.service_date = $1 AND v.check_in_at IS NULL
                   GROUP BY v.caregiver_id, b.circle_id""", day)
        return {(r["caregiver_id"], r["circle_id"], r["k"]) for r in rows}

    # ------------------------------------------------------------------ the day's visits

    async def _visit_events(self, day: date) -> list[tuple]:
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                """SELECT v.id, v.caregiver_id, v.planned_start, v.planned_end, b.id AS booking_id, b.resident_id
                   FROM visits v JOIN bookings b ON b.id = v.booking_id
                   WHERE v.released_at IS NULL AND b.service_date = $1 AND b.status = 'scheduled'
                   ORDER BY v.planned_start, v.id""", day)
        events = []
        for row in rows:
            draw = self.rng.random()
            if draw < self.behaviour.same_day_cancel_share:
                at = max(local_instant(day, time(7)), row["planned_start"] - timedelta(hours=2))
                events.append((at, self.rng.random(), self._cancel_action(row["booking_id"], row["resident_id"])))
            elif draw < self.behaviour.same_day_cancel_share + self.behaviour.no_show_share:
                self.journal.never_came[row["id"]] = row["planned_start"]
            else:
                at = row["planned_start"] + timedelta(minutes=self._arrival_offset())
                events.append((at, self.rng.random(), self._check_in_action(dict(row))))
        return events

    def _arrival_offset(self) -> float:
        if self.rng.random() < self.behaviour.late_share:
            return self.rng.uniform(16, 40)
        return max(-12.0, min(14.0, self.rng.gauss(0, self.behaviour.arrival_sd_min)))

    def _cancel_action(self, booking_id: int, resident_id: int):
        async def cancel() -> list:
            actor = await self._booker(resident_id, self.rng.choice(("app", "family", "hotline")))
            await self._attempt(booking_service.cancel_booking(self.db, actor=actor, booking_id=booking_id,
                                                               reason="老人当天取消（模拟）"))
            return []
        return cancel

    def _check_in_action(self, visit: dict):
        async def check_in() -> list:
            login, _ = self.street.caregivers[visit["caregiver_id"]]
            lat, lon = self._position(self.street.homes[visit["resident_id"]])
            done = await self._attempt(provider_service.check_in(self.db, actor=login, visit_id=visit["id"],
                                                                 lat=lat, lon=lon))
            if done is None:
                return []
            minutes = (visit["planned_end"] - visit["planned_start"]).total_seconds() / 60
            outcome = self._outcome()
            stay = minutes * self.rng.uniform(0.9, 1.15) if outcome == "done" else self.rng.uniform(3, 8)
            leave = utc_now() + timedelta(minutes=stay)
            return [(leave, self.rng.random(), self._check_out_action(visit, outcome))]
        return check_in

    def _check_out_action(self, visit: dict, outcome: str):
        async def check_out() -> list:
            login, _ = self.street.caregivers[visit["caregiver_id"]]
            lat, lon = self._position(self.street.homes[visit["resident_id"]])
            closed = await self._attempt(provider_service.check_out(self.db, actor=login, visit_id=visit["id"],
                                                                    lat=lat, lon=lon, outcome=outcome))
            if closed is not None and closed[1] == "completed" and self.rng.random() < self.behaviour.rated_share:
                await self._rate(visit)
            return []
        return check_out

    def _outcome(self) -> str:
        draw = self.rng.random()
        if draw < self.behaviour.not_home_share:
            return "not_home"
        if draw < self.behaviour.not_home_share + self.behaviour.refused_share:
            return "refused"
        return "done"

    def _position(self, home: tuple[float, float]) -> tuple[float | None, float | None]:
        if self.rng.random() < 0.05:   # indoors, no fix: accepted and flagged
            return None, None
        return home[0] + self.rng.uniform(-0.0003, 0.0003), home[1] + self.rng.uniform(-0.0003, 0.0003)

    async def _rate(self, visit: dict) -> None:
        rating = self.rng.choices((5, 4, 3, 2, 1), weights=(60, 30, 7, 2, 1))[0]
        actor = await self._elder_login(visit["resident_id"])
        await self._attempt(booking_service.evaluate(self.db, actor=actor, booking_id=visit["booking_id"],
                                                     rating=rating, comment="", source="app"))

@asynccontextmanager
async def worker_chores() -> AsyncIterator[Schedule]:
    """The worker's periodic chores on its cadence: no-show alerts and overdue flags every minute,
    missed visits closed and the outbox sender (delivering to the local stand-in gateway, a real HTTP
    server on 127.0.0.1 speaking the webhook protocol) every five."""
    standin = await StandinGateway().start()
    try:
        async with aiohttp.ClientSession() as session:
            yield [(chores.alert_noshows, 1), (chores.flag_overdue, 1), (chores.close_missed, 5),
                   (chores.sender(WebhookGateway(standin.url, session)), 5)]
    finally:
        await standin.close()


class _NoQueue:
    """The simulation solves each plan itself, at once (no worker, no Redis stream)."""

    async def submit(self, plan_id: int) -> str:
        return "simulated"


def _next_tick(now: datetime) -> datetime:
    """The next minute mark after `now`."""
    return now.replace(second=0, microsecond=0) + TICK


async def _read_street(conn: asyncpg.Connection) -> Street:
    """The demo street's ids, and a login for every caregiver (the demo makes one)."""
    circles = [r["id"] for r in await conn.fetch("SELECT id FROM circles ORDER BY id")]
    planner = await user_by_id(conn, await conn.fetchval("SELECT id FROM users WHERE username = 'admin'"))
    operator = await user_by_id(conn, await conn.fetchval("SELECT id FROM users WHERE username = 'operator'"))
    admins = {}
    for row in await conn.fetch("SELECT id FROM providers ORDER BY id"):
        admins[row["id"]] = await create_user(conn, username=f"sim-provider-{row['id']}", password="",
                                              password_hash=NO_PASSWORD, role="provider_admin", provider_id=row["id"])
    caregivers = {}
    for row in await conn.fetch("SELECT id, provider_id FROM caregivers ORDER BY id"):
        login = await create_user(conn, username=f"sim-caregiver-{row['id']}", password="",
                                  password_hash=NO_PASSWORD, role="caregiver", caregiver_id=row["id"])
        caregivers[row["id"]] = (login, row["provider_id"])
    residents = await conn.fetch("SELECT id, circle_id, lat, lon FROM residents ORDER BY id")
    by_circle: dict[int, list[int]] = {c: [] for c in circles}
    for r in residents:
        by_circle[r["circle_id"]].append(r["id"])
    street = Street(circles, planner, operator, admins, caregivers, {r["id"]: (r["lat"], r["lon"]) for r in residents},
                    by_circle)
    for row in await conn.fetch("""SELECT DISTINCT ON (f.resident_id) f.resident_id, f.user_id FROM family_links f
                                   JOIN users u ON u.id = f.user_id AND u.active ORDER BY f.resident_id, f.user_id"""):
        street.family_users[row["resident_id"]] = await user_by_id(conn, row["user_id"])
    return street


def start_instant(config: SimConfig) -> datetime:
    """The evening before the first simulated day, when its plan is made."""
    return datetime.combine(config.start - timedelta(days=1), PLAN_AT, tzinfo=LOCAL_TZ)


async def simulate(db: Database, crypto: Crypto, config: SimConfig, *, chores: Schedule,
                   pool: SolverPool) -> Journal:
    """Run the street for `config.days` days on `db` (a database with the schema and the menu, and no
    street yet) under a simulated clock; returns what the simulation saw (the outcomes are measured
    from the database: app.outcomes.measure)."""
    with use_clock(SimulatedClock(start_instant(config))) as clock:
        return await Simulation(db, crypto, clock, config, chores, pool).run()
