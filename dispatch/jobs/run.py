"""One plan job, run: claim the plan, read the circle-day, solve it off the event loop with a
heartbeat, store the draft (or the failure).

- Claim: one short transaction (`queries.claim_plan`: queued → solving, `attempts + 1`). The
  attempt number is the claim's fencing token: every later write names it, so a plan delivered
  twice, or run both here and by a worker, is solved once, and a runner that lost its claim
  writes nothing.
- Heartbeat (every `heartbeat_s`): progress (elapsed / time limit, at most 0.99), the last
  objective in `stats.live`, `heartbeat_at`; it reads `cancel_requested` and then stops the
  search; each beat is also published as a live event (dispatch.events).
- The watchdog (dispatch.jobs.pool): a solve still running at 3 × its time limit + 30 s is
  abandoned, its process replaced, and the plan fails with `solver_timeout: …`.
- Shutdown (`shutdown` set): the solve is abandoned at once and the plan goes back to `queued`
  (`RunOutcome.RELEASED`): whoever runs the job next claims it without waiting for a stale
  heartbeat.
No transaction is held while solving.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

import asyncpg

from core.clock import LOCAL_TZ, utc_now
from core.db import Database
from dispatch import queries
from dispatch.continuity import elders_caregivers, history_since, regular_caregivers
from dispatch.edits import effective_edits
from dispatch.jobs.pool import SolveAbandoned, SolveJob, SolverPool, SolverTimeout
from dispatch.models import DEFAULT_FREEZE_MINUTES, CancelMode, CircleDay, Plan, PlanKind, PlanStatus
from dispatch.plan_result import read_solution
from dispatch.problem_builder import BuiltProblem, build_problem
from dispatch.solver import Problem, Progress, SolveParams
from providers import service as provider_service

log = logging.getLogger(__name__)


class EventSink(Protocol):
    """Where live plan events go (dispatch.events.RedisEvents); must never raise."""

    async def publish(self, plan_id: int, event: dict[str, Any]) -> None: ...


class RunOutcome(StrEnum):
    FINISHED = "finished"   # stored as draft or failed
    SKIPPED = "skipped"     # finished already, cancelled, or another live runner holds it
    RELEASED = "released"   # given back to the queue (this runner is shutting down)
    LOST = "lost"           # another runner took it over while this one solved


@dataclass
class _RunState:
    started: float = field(default_factory=time.monotonic)
    latest: Progress | None = None
    cancel: str | None = None
    lost: bool = False


async def run_plan(db: Database, plan_id: int, *, pool: SolverPool, events: EventSink | None = None,
                   shutdown: asyncio.Event | None = None, heartbeat_s: float = 1.0, stale_s: float = 15.0,
                   now: datetime | None = None) -> RunOutcome:
    """Claim and solve one plan; store the draft (or the failure). See the module docstring.

    `shutdown`, once set, abandons the search and gives the plan back to the queue. `now` fixes
    the clock for the freeze of a same-day plan (tests). Never raises for a bad plan: it fails.
    """
    async with db.transaction() as conn:
        plan = await queries.claim_plan(conn, plan_id, stale_s=stale_s)
    if plan is None:
        return RunOutcome.SKIPPED
    await _emit(events, plan, "solving", progress=0.0)
    try:
        built = await _build(db, plan, now or utc_now())
        state = _RunState()
        solution = await _solve_watched(db, plan, built, pool, events, state, shutdown, heartbeat_s)
        return await _store(db, plan, built, solution, state, shutdown, events)
    except SolveAbandoned:
        return await _release(db, plan)
    except SolverTimeout as exc:
        log.error("plan %s: the solver %s; its process was replaced", plan_id, exc)
        return await _fail(db, plan, events, f"solver_timeout: the solver gave no answer after {exc.elapsed_s:.0f} s "
                                             f"(bound: 3 × its {plan.time_limit_s} s time limit + 30 s); "
                                             f"it was stopped and its process replaced")
    except Exception as exc:  # a plan that cannot be solved fails with the reason; the runner lives on
        log.exception("plan %s failed", plan_id)
        return await _fail(db, plan, events, f"{type(exc).__name__}: {exc}")


async def _fail(db: Database, plan: Plan, events: EventSink | None, reason: str) -> RunOutcome:
    async with db.transaction() as conn:
        await queries.fail_plan(conn, plan.id, reason, attempt=plan.attempts)
    await _emit(events, plan, PlanStatus.FAILED.value, progress=0.0)
    return RunOutcome.FINISHED


async def _release(db: Database, plan: Plan) -> RunOutcome:
    async with db.transaction() as conn:
        await queries.release_claim(conn, plan.id, plan.attempts)
    return RunOutcome.RELEASED


async def _build(db: Database, plan: Plan, now: datetime) -> BuiltProblem:
    """Read the circle-day and map it onto the solver's problem (freeze for a same-day plan)."""
    freeze_at = _freeze_at(plan, now)
    async with db.transaction() as conn:
        day = await load_circle_day(conn, plan.circle_id, plan.service_date)
        edits = effective_edits(await queries.edits_of_lineage(conn, plan.id))
        parent = await queries.plan(conn, plan.parent_id) if plan.parent_id else None
        await queries.set_freeze(conn, plan.id, freeze_at)
    return build_problem(day, edits=edits, freeze_at=freeze_at,
                         sick_caregiver_ids=frozenset(plan.options.get("sick_caregiver_ids", [])),
                         previous=parent.routes if parent else ())


def _freeze_at(plan: Plan, now: datetime) -> datetime | None:
    """A plan for a day already begun (or a re-plan) freezes `freeze_minutes` from now."""
    if plan.kind is not PlanKind.REPLAN and now.astimezone(LOCAL_TZ).date() < plan.service_date:
        return None
    return now + timedelta(minutes=plan.options.get("freeze_minutes", DEFAULT_FREEZE_MINUTES))


async def load_circle_day(conn: asyncpg.Connection, circle_id: int, day: date) -> CircleDay:
    """Everything the problem builder needs about one circle-day."""
    bookings = await queries.bookings_of_day(conn, circle_id, day)
    caregivers = await provider_service.available_caregivers(conn, circle_id=circle_id, day=day)
    past = await queries.past_visits(conn, sorted({b.resident_id for b in bookings}),
                                     since=history_since(day), before=day)
    active = await queries.active_visits(conn, circle_id, day)
    return CircleDay(circle_id=circle_id, day=day, bookings=tuple(bookings), caregivers=tuple(caregivers),
                     last_caregiver=elders_caregivers(past, before=day), active_visits=tuple(active),
                     regular=regular_caregivers(past, before=day))


# Soft costs, in the solver's unit (seconds of travel): serving a booking by someone other than
# its preferred caregiver (the regular one, or the one it is published with) costs as much as
# CONTINUITY_COST_S of extra travel; starting a published visit away from its published start
# costs KEPT_START_COST per second of the difference (a minute: KEPT_START_COST minutes of
# travel). The cost starts at the published minute, not 15 minutes off it: with a free band the
# solver's scheduler is free to slide every visit within it, and publishing would then rewrite
# (and message) every booking. Both stay far below the cost of leaving a booking out
# (routing.job_penalties). Measured on the demo street in docs/outcomes.md.
CONTINUITY_COST_S = 1800
KEPT_START_COST = 2
KEPT_START_SLACK_S = 0
CALM_FIRST_PREFERRED_COST = 300   # step 2 of a calm re-plan (see _solve_calmly)
# Of the time limit: hold, make room, calm. Also under a solution limit: a calm step's guided search
# seldom stops on its solutions (few improve on a kept plan), so the whole limit for each step took a
# sick-day re-plan to three times the limit (a 30-day month from 6 to 13 minutes).
CALM_STEP_SHARES = (0.2, 0.3, 0.5)


def solve_params(plan: Plan) -> SolveParams:
    return SolveParams(time_limit_s=float(plan.time_limit_s), solution_limit=plan.options.get("solution_limit"),
                       seed=int(plan.options.get("seed", 0)), preferred_worker_cost=CONTINUITY_COST_S,
                       kept_start_cost=KEPT_START_COST, kept_start_slack=KEPT_START_SLACK_S)


async def _solve_watched(db, plan: Plan, built: BuiltProblem, pool: SolverPool, events, state: _RunState,
                         shutdown: asyncio.Event | None, heartbeat_s: float):
    """Solve with a heartbeat task beside it (progress, cancel, lost claim)."""
    solved = asyncio.Event()
    beat = asyncio.create_task(_heartbeat(db, plan, events, state, heartbeat_s, solved))
    try:
        return await _solve_calmly(built, solve_params(plan), pool, state, shutdown,
                                   same_day=plan.kind is PlanKind.REPLAN)
    finally:
        solved.set()
        beat.cancel()
        await asyncio.gather(beat, return_exceptions=True)


async def _solve_calmly(built: BuiltProblem, params: SolveParams, pool: SolverPool, state: _RunState,
                        shutdown: asyncio.Event | None, *, same_day: bool = False):
    """One solve; for a day with published visits (kept starts), up to three steps:

    1. hold: every published booking pinned to its caregivers and published start; only what is
       new or lost its caregiver (off sick) is placed, into the gaps. If that serves every
       booking, it is the plan: nobody else is touched. On the day itself (`same_day`, a
       re-plan) it is the plan as soon as it keeps every published booking: a booking never
       published (left out the night before, or booked since) goes in where there is room, but
       people already told their time are not moved for it (its elder has been told, and the
       hotline calls them). A day ahead, others may move a little to serve one more elder.
    2. make room (plain objective, CALM_FIRST_PREFERRED_COST, no kept starts) from step 1's plan:
       moves others to serve as many bookings as it can.
    3. calm (the full objective) from step 2's plan: moves back what it can to its published
       caregiver and time. Leaving a booking out costs far more than any calm cost, so step 3
       never drops what step 2 placed. Step 3's plan is taken when it serves more bookings
       than step 1's (on the day itself: keeps more published bookings).
    One calm solve alone left more bookings out: the calm costs slow the search and make room
    harder to find; the plain solve alone moved two to three bookings per sick visit.
    """
    if not any(j.kept_start is not None for j in built.problem.jobs):
        return await _solve_once(pool, SolveJob(built.problem, params, built.initial_routes), state, shutdown)
    share = [max(params.time_limit_s * part, 0.5) for part in CALM_STEP_SHARES]
    held = await _solve_once(pool, SolveJob(_holding(built), replace(params, time_limit_s=share[0]),
                                            built.initial_routes), state, shutdown)
    counted = {j.id for j in built.problem.jobs if j.kept_start is not None or not same_day}
    if not _left_out(held, counted) or state.cancel or state.lost:
        return held
    room = await _solve_once(pool, SolveJob(built.problem, replace(
        params, time_limit_s=share[1], kept_start_cost=0, preferred_worker_cost=CALM_FIRST_PREFERRED_COST),
        held.routes_by_worker()), state, shutdown)
    if state.cancel or state.lost:
        return room if _left_out(room, counted) < _left_out(held, counted) else held
    calm = await _solve_once(pool, SolveJob(built.problem, replace(params, time_limit_s=share[2]),
                                            room.routes_by_worker()), state, shutdown)
    return calm if _left_out(calm, counted) < _left_out(held, counted) else held


def _left_out(solution, job_ids: set[str]) -> int:
    """How many of these jobs the solution leaves unserved."""
    return sum(u.job_id in job_ids for u in solution.unassigned)


def _holding(built: BuiltProblem) -> Problem:
    """The problem with every published booking pinned to its caregivers and published start."""
    jobs = tuple(replace(j, pinned_workers=built.held[j.id], pinned_start=j.kept_start)
                 if j.kept_start is not None and built.held.get(j.id) and not j.pinned_workers else j
                 for j in built.problem.jobs)
    return replace(built.problem, jobs=jobs)


async def _solve_once(pool: SolverPool, job: SolveJob, state: _RunState, shutdown: asyncio.Event | None):
    return await pool.solve(job, on_progress=lambda p: setattr(state, "latest", p),
                            should_stop=lambda: bool(state.cancel or state.lost), abandon=shutdown)


async def _heartbeat(db, plan: Plan, events, state: _RunState, every_s: float, solved: asyncio.Event) -> None:
    """Every `every_s`: progress, the cancel request, a lost claim. Ends when `solved` is set, not
    only when cancelled: a cancellation that lands inside a heartbeat's database round trip was
    swallowed there now and then (the heartbeat went on beating and the finished plan was never
    saved: a browser test's teardown waited for it, about one run in six)."""
    while not solved.is_set():
        await asyncio.sleep(every_s)
        progress = min(0.99, (time.monotonic() - state.started) / max(plan.time_limit_s, 1))
        live = _live(state)
        async with db.transaction() as conn:
            row = await queries.heartbeat(conn, plan.id, plan.attempts, progress=progress, live=live)
        if row is None:
            state.lost = True
            return
        state.cancel = row["cancel_requested"]
        await _emit(events, plan, "solving", progress=progress, **live)


def _live(state: _RunState) -> dict[str, Any]:
    elapsed = round(time.monotonic() - state.started, 1)
    if state.latest is None:
        return {"elapsed_s": elapsed}
    return {"elapsed_s": elapsed, "objective": state.latest.objective, "assigned_visits": state.latest.assigned}


async def _store(db, plan: Plan, built: BuiltProblem, solution, state: _RunState, shutdown, events) -> RunOutcome:
    """Write what the solve produced, honouring a cancel, a shutdown or a lost claim."""
    async with db.transaction() as conn:
        if state.lost:
            return RunOutcome.LOST
        row = await queries.heartbeat(conn, plan.id, plan.attempts, progress=1.0, live=_live(state))
        cancel = row["cancel_requested"] if row else None
        if row is None:
            return RunOutcome.LOST
        if cancel is None and shutdown is not None and shutdown.is_set():
            await queries.release_claim(conn, plan.id, plan.attempts)
            return RunOutcome.RELEASED
        if cancel == CancelMode.DISCARD.value:
            await queries.fail_plan(conn, plan.id, "cancelled by the dispatcher", attempt=plan.attempts)
            status = PlanStatus.FAILED
        else:
            routes, unassigned, stats = read_solution(built, solution)
            await queries.finish_plan(conn, plan.id, plan.attempts, routes=routes, unassigned=unassigned, stats=stats)
            status = PlanStatus.DRAFT
    await _emit(events, plan, status.value, progress=1.0 if status is PlanStatus.DRAFT else 0.0)
    return RunOutcome.FINISHED


async def _emit(events: EventSink | None, plan: Plan, status: str, **fields: Any) -> None:
    if events is not None:
        if "progress" in fields:
            fields["progress"] = round(fields["progress"], 3)
        await events.publish(plan.id, {"id": plan.id, "status": status, **fields})
