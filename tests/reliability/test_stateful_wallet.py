"""A hypothesis state machine over the booking lifecycle and the subsidy wallet: book, quote,
schedule, start, complete, cancel, miss / not home / refused — valid and invalid steps alike —
through booking.service (create_booking, quote, cancel_booking, schedule_booking,
transition_booking), against a model of what each step must do.

After every step: held + spent ≤ granted on every wallet, the wallet equals the model and
reconciles with its ledger, held is exactly the subsidy of the open bookings and spent that of
the completed ones, every booking's ledger entries match its status, and no booking is in a
state the model did not allow. Each example runs in a transaction that is rolled back.
"""
from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

import asyncpg
import pytest
from hypothesis import HealthCheck, settings as hypothesis_settings, strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, multiple, rule, run_state_machine_as_test

from core.users import User
from core.db import UnitOfWork, connect
from core.errors import Conflict
from booking import queries, service
from booking.lifecycle import TRANSITIONS
from booking.models import BookingStatus as S
from booking.models import BookingRequest
from booking.subsidy import MONTHLY_GRANT_FEN, service_month

STRESS = os.environ.get("CIRCLE_STRESS") == "1"
TODAY = date(2031, 1, 20)  # bookings run from 21 January into February: two wallet months
ITEMS = ("M01", "C01", "B01", "B03", "H06", "K03")
OPEN = {S.PENDING, S.SCHEDULED, S.IN_PROGRESS}
RELEASED = {S.CANCELLED, S.MISSED, S.NOT_HOME, S.REFUSED}
FORWARD_FIRST = [S.SCHEDULED, S.IN_PROGRESS, S.COMPLETED, S.PENDING, S.NOT_HOME, S.REFUSED, S.MISSED, S.CANCELLED]


@dataclass
class Model:
    prices: dict[str, tuple[int, int]]                    # item -> (price_fen, subsidy_max_fen)
    eligible: dict[int, bool]                             # resident -> subsidy-eligible
    wallets: dict[tuple[int, date], list[int]] = field(default_factory=dict)  # -> [granted, held, spent]
    bookings: dict[int, dict] = field(default_factory=dict)

    def available(self, resident: int, month: date) -> int:
        granted, held, spent = self.wallets.get((resident, month), [MONTHLY_GRANT_FEN, 0, 0])
        return granted - held - spent

    def split(self, resident: int, item: str, day: date) -> tuple[int, int]:
        price, cap = self.prices[item]
        subsidy = min(price, cap, self.available(resident, service_month(day))) if self.eligible[resident] else 0
        return price, subsidy


class Harness:
    """One event loop and one connection for the whole test; a transaction per example."""

    def __init__(self, url: str, crypto):
        self.loop = asyncio.new_event_loop()
        self.crypto = crypto
        self.conn: asyncpg.Connection = self.run(connect(url))
        self.tx = None

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def begin(self) -> None:
        self.tx = self.conn.transaction()
        self.run(self.tx.start())

    def rollback(self) -> None:
        if self.tx is not None:
            self.run(self.tx.rollback())
            self.tx = None

    def close(self) -> None:
        self.rollback()
        self.run(self.conn.close())
        self.loop.close()


class WalletMachine(RuleBasedStateMachine):
    harness: Harness  # set by the test

    bookings = Bundle("bookings")

    def __init__(self):
        super().__init__()
        self.h = self.harness
        self.h.begin()
        self.db = UnitOfWork(self.h.conn)
        self.actor, self.caregiver_id, self.model = self.h.run(self._setup())

    async def _setup(self):
        conn = self.h.conn
        circle = await conn.fetchval("INSERT INTO circles (name, lat, lon, radius_m) VALUES ('状态机', 31.23, 121.47, 1500) "
                                     "RETURNING id")
        residents = {}
        for eligible in (True, True, False):
            rid = await conn.fetchval(
                """INSERT INTO residents (circle_id, name, gender, birth_date, phone, address, lat, lon, subsidy_eligible)
                   VALUES ($1, '状态机老人', 'F', '1940-01-01', '13900000000', '状态机路', 31.231, 121.471, $2)
                   RETURNING id""", circle, eligible)
            residents[rid] = eligible
        user_id = await conn.fetchval("INSERT INTO users (username, password_hash, role) VALUES ('sm_operator', 'x', "
                                      "'operator') RETURNING id")
        provider = await conn.fetchval("INSERT INTO providers (name) VALUES ('状态机服务商') RETURNING id")
        caregiver = await conn.fetchval(
            """INSERT INTO caregivers (provider_id, circle_id, name, gender, phone, home_lat, home_lon, transport,
                   shift_start, shift_end) VALUES ($1, $2, '状态机护理员', 'F', '13700000000', 31.23, 121.47, 'walk',
                   '08:00', '17:00') RETURNING id""", provider, circle)
        rows = await conn.fetch("SELECT code, price_fen, subsidy_max_fen FROM menu_items WHERE code = ANY($1)", list(ITEMS))
        prices = {r["code"]: (r["price_fen"], r["subsidy_max_fen"]) for r in rows}
        return User(id=user_id, username="sm_operator", role="operator"), caregiver, Model(prices, residents)

    def teardown(self):
        self.h.rollback()

    # ---------------------------------------------------------------- rules

    @rule(target=bookings, pick=st.integers(0, 2), item=st.sampled_from(ITEMS), days=st.integers(1, 30),
          key=st.one_of(st.none(), st.integers(0, 3).map(lambda n: f"key-{n}")))
    def book(self, pick, item, days, key):
        resident = sorted(self.model.eligible)[pick]
        day = TODAY + timedelta(days=days)
        data = BookingRequest(resident, item, day, time(9), time(11))
        replay = key is not None and any(b["key"] == key for b in self.model.bookings.values())
        price, subsidy = self.model.split(resident, item, day)
        try:
            body = self.h.run(service.create_booking(self.db, actor=self.actor, request=data,
                                                     idempotency_key=key, today=TODAY))
        except Exception as exc:  # the same key with another body: refused, nothing written
            first = next(b for b in self.model.bookings.values() if b["key"] == key)
            assert replay and getattr(exc, "status", None) == 422 and first["request"] != data, exc
            return multiple()
        if replay:
            first = next(b for b in self.model.bookings.values() if b["key"] == key)
            assert first["request"] == data and body.id == first["id"], "a replay made another booking"
            return multiple()
        assert (body.price_fen, body.subsidy_fen, body.status) == (price, subsidy, "pending"), body
        month = service_month(day)
        if self.model.eligible[resident]:
            self.model.wallets.setdefault((resident, month), [MONTHLY_GRANT_FEN, 0, 0])[1] += subsidy
        self.model.bookings[body.id] = {"id": body.id, "resident": resident, "month": month, "subsidy": subsidy,
                                           "status": S.PENDING, "key": key, "request": data}
        return body.id

    @rule(pick=st.integers(0, 2), item=st.sampled_from(ITEMS), days=st.integers(1, 30))
    def quote(self, pick, item, days):
        resident = sorted(self.model.eligible)[pick]
        day = TODAY + timedelta(days=days)
        data = BookingRequest(resident, item, day, time(9), time(11))
        split, available = self.h.run(service.quote(self.db, actor=self.actor, request=data, today=TODAY))
        price, subsidy = self.model.split(resident, item, day)
        assert (split.price_fen, split.subsidy_fen, split.self_pay_fen) == (price, subsidy, price - subsidy)
        expected_available = self.model.available(resident, service_month(day)) if self.model.eligible[resident] else 0
        assert available == expected_available

    @rule(booking=bookings)
    def cancel(self, booking):
        self._step(booking, S.CANCELLED, lambda: service.cancel_booking(self.db, actor=self.actor, booking_id=booking))

    @rule(booking=bookings)
    def schedule(self, booking):
        start = datetime(2031, 1, 21, 1, tzinfo=timezone.utc)
        self._step(booking, S.SCHEDULED, lambda: service.schedule_booking(self.h.conn, booking,
                                                                          caregiver_id=self.caregiver_id,
                                                                          planned_start=start), in_savepoint=True,
                   retime=True)

    @rule(booking=bookings, data=st.data())
    def advance(self, booking, data):
        """A step the lifecycle has (start, complete, miss, not home, refused, back to pending, cancel)."""
        steps = sorted(TRANSITIONS.get(self.model.bookings[booking]["status"], ()), key=FORWARD_FIRST.index)
        if steps:
            target = data.draw(st.sampled_from(steps))
            self._step(booking, target, lambda: service.transition_booking(self.h.conn, booking, target),
                       in_savepoint=True)

    @rule(booking=bookings)
    def complete(self, booking):
        """Scheduled, checked in, completed (the hold is captured)."""
        self.visit(booking, S.COMPLETED)

    @rule(booking=bookings, ending=st.sampled_from([S.COMPLETED, S.NOT_HOME, S.REFUSED, S.MISSED]))
    def visit(self, booking, ending):
        """Walk a booking forward to how its visit ends — scheduled, checked in, then the outcome
        (a no-show ends from scheduled) — checking the invariants after each step."""
        path = {S.MISSED: [S.SCHEDULED, S.MISSED]}.get(ending, [S.SCHEDULED, S.IN_PROGRESS, ending])
        status = self.model.bookings[booking]["status"]
        steps = path if status is S.PENDING else path[path.index(status) + 1:] if status in path else [ending]
        for target in steps:
            self._step(booking, target, lambda t=target: service.transition_booking(self.h.conn, booking, t),
                       in_savepoint=True)
            self.wallets_are_sound()

    @rule(booking=bookings, target_status=st.sampled_from(list(S)))
    def any_step(self, booking, target_status):
        """Any target at all: the ones the lifecycle lacks are refused and change nothing."""
        self._step(booking, target_status, lambda: service.transition_booking(self.h.conn, booking, target_status),
                   in_savepoint=True)

    def _step(self, booking_id, target: S, call, *, in_savepoint: bool = False, retime: bool = False) -> None:
        """Apply one lifecycle step; a step the lifecycle lacks must raise 409 and change nothing."""
        booking = self.model.bookings[booking_id]
        current = booking["status"]
        allowed = target in TRANSITIONS.get(current, ()) or (retime and current is S.SCHEDULED)  # a new time
        try:
            self.h.run(self._maybe_savepoint(call, in_savepoint))
        except Conflict:
            assert not allowed, f"{current} → {target} was refused"
            return
        assert allowed, f"{current} → {target} was accepted"
        wallet = self.model.wallets.get((booking["resident"], booking["month"]))
        if wallet is not None and booking["subsidy"] and target is S.COMPLETED:
            wallet[1] -= booking["subsidy"]
            wallet[2] += booking["subsidy"]
        elif wallet is not None and booking["subsidy"] and target in RELEASED:
            wallet[1] -= booking["subsidy"]
        booking["status"] = target

    async def _maybe_savepoint(self, call, in_savepoint: bool):
        if not in_savepoint:
            return await call()
        async with self.h.conn.transaction():  # the caller's transaction, as publishing or check-out holds it
            return await call()

    # ---------------------------------------------------------------- invariants

    @invariant()
    def wallets_are_sound(self):
        problems = self.h.run(self._problems())
        assert not problems, "\n".join(problems)

    async def _problems(self) -> list[str]:
        conn, model, problems = self.h.conn, self.model, []
        for w in await conn.fetch("SELECT resident_id, month, granted_fen, held_fen, spent_fen FROM subsidy_wallets"):
            got = [w["granted_fen"], w["held_fen"], w["spent_fen"]]
            if got[1] + got[2] > got[0] or min(got) < 0:
                problems.append(f"wallet {w['resident_id']}/{w['month']} overspent: {got}")
            if got != model.wallets.get((w["resident_id"], w["month"])):
                problems.append(f"wallet {w['resident_id']}/{w['month']} is {got}, model "
                                f"{model.wallets.get((w['resident_id'], w['month']))}")
            held = sum(b["subsidy"] for b in model.bookings.values()
                       if (b["resident"], b["month"]) == (w["resident_id"], w["month"]) and b["status"] in OPEN)
            spent = sum(b["subsidy"] for b in model.bookings.values()
                        if (b["resident"], b["month"]) == (w["resident_id"], w["month"]) and b["status"] is S.COMPLETED)
            if (got[1], got[2]) != (held, spent):
                problems.append(f"wallet {w['resident_id']}/{w['month']} holds {got[1:]} for bookings worth "
                                f"{[held, spent]}")
        if len(await conn.fetch("SELECT 1 FROM subsidy_wallets")) != len(model.wallets):
            problems.append("a wallet exists that the model did not open (or one is missing)")
        if bad := await queries.wallets_not_reconciling(conn):
            problems.append(f"wallets not reconciling with the ledger: {[tuple(r) for r in bad]}")
        rows = await conn.fetch("""SELECT b.id, b.status, b.subsidy_fen, coalesce(array_agg(e.kind ORDER BY e.id)
                                   FILTER (WHERE e.id IS NOT NULL), '{}') AS kinds
                                   FROM bookings b LEFT JOIN wallet_entries e ON e.booking_id = b.id GROUP BY b.id""")
        for row in rows:
            expected = model.bookings.get(row["id"])
            if expected is None or S(row["status"]) is not expected["status"]:
                problems.append(f"booking {row['id']} is {row['status']}, model {expected and expected['status']}")
                continue
            kinds = list(row["kinds"])
            want = [] if not row["subsidy_fen"] else ["hold"] + (
                ["capture"] if expected["status"] is S.COMPLETED else ["release"] if expected["status"] in RELEASED else [])
            if kinds != want:
                problems.append(f"booking {row['id']} ({row['status']}) has ledger {kinds}, expected {want}")
        return problems


@pytest.fixture(scope="module")
def harness(settings, crypto, pool):  # `pool` applies the schema and loads the menu first
    harness = Harness(settings.database_url, crypto)
    yield harness
    harness.close()


def test_booking_lifecycle_and_wallet_state_machine(harness):
    WalletMachine.harness = harness
    run_state_machine_as_test(WalletMachine, settings=hypothesis_settings(
        max_examples=300 if STRESS else 40, stateful_step_count=60 if STRESS else 30, deadline=None,
        derandomize=not STRESS, suppress_health_check=list(HealthCheck)))
