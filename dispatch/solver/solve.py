"""``solve(problem, params) -> Solution``: the planner's single entry point.

Steps: freeze what already happened (optional) → structural diagnosis (jobs nobody could
serve never enter the model) → greedy insertion plan (or the previous routes) → OR-Tools
guided local search from that plan, decomposed into parts for large problems → insert
whatever still fits → explain every unserved job. A plan is always returned: if OR-Tools
produces nothing in time, the greedy plan is used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from . import construct, decompose, lns
from .clock import Clock
from .layout import Layout, build_layout
from .problem import Problem, SolveParams, format_time
from .reasons import Diagnosis, diagnose, explain_unserved
from .routing import TimedRoute, plan_objective
from .schedule import simulate
from .solution import BreakTaken, Progress, Route, Solution, Stats, Stop, Unassigned
from .travel import travel_tables

InitialRoutes = Mapping[str, Sequence[str]] | Solution


@dataclass
class Outcome:
    """What a search produced: timed routes per vehicle and how."""

    routes: list[TimedRoute]
    status: str
    strategy: str


def solve(
    problem: Problem,
    params: SolveParams = SolveParams(),
    on_progress: Callable[[Progress], None] | None = None,
    *,
    initial_routes: InitialRoutes | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Solution:
    """Plan ``problem``; never raises for an unplannable job, it is reported instead.

    Args:
        problem: workers, jobs and the travel model.
        params: limits and weights (see ``SolveParams``).
        on_progress: called with each improving solution of the search.
        initial_routes: the previous plan (a ``Solution`` or worker id → job ids); the
            search starts from it, and with ``params.freeze_until`` its early visits stay.
        should_stop: polled during the search; returning True stops it and the best plan
            so far is returned with status ``"cancelled"``.
    """
    clock = Clock(params.time_limit_s, params.cpu_time)
    if initial_routes is not None and params.first_solution == "auto":
        params = replace(params, first_solution="insertion")
    problem, frozen_out = _apply_freeze(problem, params, initial_routes)
    tables = travel_tables(problem)
    diagnosis = diagnose(problem, tables)
    diagnosis.dropped.update(frozen_out)
    lay = build_layout(problem, tables, diagnosis)
    plan = _first_plan(lay, params, initial_routes)
    outcome = _search(lay, plan, params, clock, on_progress, should_stop)
    return _solution(lay, diagnosis, outcome, params, clock)


def _first_plan(lay: Layout, params: SolveParams, initial: InitialRoutes | None) -> construct.Plan:
    """The previous routes (what still fits) topped up greedily, or a fresh greedy plan."""
    order = construct.insertion_order(lay, "hard_first", params.seed)
    if initial is None:
        return construct.parallel(lay, order, params.preferred_worker_cost)
    start = construct.plan_from_routes(lay, _initial_job_routes(lay, initial), params.preferred_worker_cost)
    return construct.parallel(lay, order, plan=start)


def _initial_job_routes(lay: Layout, initial: InitialRoutes) -> dict[int, list[int]]:
    by_worker = initial.routes_by_worker() if isinstance(initial, Solution) else initial
    job_index = {j.id: k for k, j in enumerate(lay.jobs)}
    routes = {}
    for worker_id, job_ids in by_worker.items():
        if lay.has_worker(worker_id):
            routes[lay.vehicle_of(worker_id)] = [job_index[j] for j in job_ids if j in job_index]
    return routes


def _search(lay, plan, params, clock, on_progress, should_stop) -> Outcome:
    if params.strategy == "greedy" or not lay.jobs or not lay.num_vehicles:
        return _greedy_outcome(lay, plan, "construction", "greedy insertion")
    budget = max(0.05, clock.left())
    big = params.strategy == "auto" and sum(len(n) for n in lay.job_nodes) > params.decompose_above
    try:
        run = decompose.improve if big else decompose.optimise_plan
        found = run(lay, plan, params, budget, clock, on_progress, should_stop)
    except Exception as exc:  # a plan must come back even if the search breaks
        return _greedy_outcome(lay, plan, "fallback", f"greedy insertion (search failed: {exc!r})")
    status = "cancelled" if found.cancelled else "optimised"
    if found.routes is None:
        why = status if found.cancelled else "fallback"
        return _greedy_outcome(lay, plan, why, "greedy insertion (OR-Tools returned no plan)")
    strategy = "insertion+gls (decomposed)" if big else ("ils+gls" if found.iterated else "insertion+gls")
    return _repair(lay, Outcome(found.routes, status, strategy), params)


def _greedy_outcome(lay: Layout, plan: construct.Plan, status: str, strategy: str) -> Outcome:
    routes = [
        TimedRoute(tuple(r), t.starts, t.breaks, t.depart, t.back)
        for r, t in zip(plan.routes, plan.timelines())
    ]
    return Outcome(routes, status, strategy)


def _repair(lay: Layout, outcome: Outcome, params: SolveParams) -> Outcome:
    """Insert jobs the search left out if they fit after all; re-time changed routes."""
    plan = construct.Plan(lay, params.preferred_worker_cost)
    plan.load_routes([list(r.nodes) for r in outcome.routes], lns.crew_starts(lay, outcome.routes))
    before = [list(r) for r in plan.routes]
    construct.greedy(lay, construct.insertion_order(lay), plan=plan)
    routes = list(outcome.routes)
    for v, route in enumerate(plan.routes):
        if route != before[v]:
            t = simulate(lay, v, route, plan.lo, plan.hi)
            routes[v] = TimedRoute(tuple(route), t.starts, t.breaks, t.depart, t.back)
    return Outcome(routes, outcome.status, outcome.strategy)


# -- freezing -------------------------------------------------------------------------


def _apply_freeze(problem: Problem, params: SolveParams, initial):
    """Pin visits that start before ``freeze_until`` to their worker and time."""
    if params.freeze_until is None or initial is None:
        return problem, {}
    starts = _previous_starts(problem, initial)
    cut, jobs, out = params.freeze_until, [], {}
    for job in problem.jobs:
        done = starts.get(job.id)
        if done and min(t for _, t in done) < cut:
            jobs.append(replace(job, pinned_workers=frozenset(w for w, _ in done), pinned_start=min(t for _, t in done)))
        elif job.start_range()[1] < cut:
            out[job.id] = Unassigned(job.id, "outside_shifts", f"its start window ended before the freeze time {format_time(cut, problem.units_per_minute)}")
        else:
            jobs.append(replace(job, window_start=max(job.window_start, cut), pinned_start=_later(job.pinned_start, cut)))
    return replace(problem, jobs=tuple(jobs)), out


def _later(pinned: int | None, cut: int) -> int | None:
    return None if pinned is None else max(pinned, cut)


def _previous_starts(problem: Problem, initial) -> dict[str, list[tuple[str, int]]]:
    """Job id → (worker id, start) of the previous plan; timed greedily if not given."""
    if not isinstance(initial, Solution):
        initial = solve(problem, SolveParams(strategy="greedy"), initial_routes=initial)
    starts: dict[str, list[tuple[str, int]]] = {}
    for route in initial.routes:
        for stop in route.stops:
            starts.setdefault(stop.job_id, []).append((route.worker_id, stop.start))
    return starts


# -- building the Solution ------------------------------------------------------------


def _solution(lay: Layout, diagnosis: Diagnosis, outcome: Outcome, params: SolveParams, clock: Clock) -> Solution:
    routes = tuple(_route(lay, v, r) for v, r in enumerate(outcome.routes))
    served = {s.job_id for r in routes for s in r.stops}
    unserved = [k for k, j in enumerate(lay.jobs) if j.id not in served]
    later = explain_unserved(lay, [list(r.nodes) for r in outcome.routes], unserved, lns.crew_starts(lay, outcome.routes))
    unassigned = tuple(diagnosis.dropped.values()) + tuple(later)
    travel = sum(r.travel for r in routes)
    stats = Stats(
        objective=_objective(lay, outcome.routes, unserved, params),
        travel=travel, assigned=len(served), unassigned=len(unassigned),
        solve_s=round(clock.wall(), 3), status=outcome.status, strategy=outcome.strategy,
    )
    return Solution(tuple(r for r in routes if r.stops) , unassigned, stats)


def _route(lay: Layout, v: int, timed: TimedRoute) -> Route:
    worker = lay.workers[v]
    if not timed.nodes:
        return Route(worker.id, worker.shift_start, worker.shift_start)
    tt = lay.vehicle_travel(v)
    path = [lay.starts[v], *timed.nodes]
    stops = tuple(
        Stop(lay.jobs[lay.node_job[n]].id, int(lay.node_member[n]), int(s), int(s + lay.service[n]), int(tt[p, n]))
        for p, n, s in zip(path, timed.nodes, timed.starts)
    )
    travel = sum(s.travel_before for s in stops) + int(tt[timed.nodes[-1], lay.ends[v]])
    breaks = tuple(BreakTaken(int(a), int(b)) for a, b in timed.breaks)
    return Route(worker.id, int(timed.depart), int(timed.back), stops, breaks, travel)


def _objective(lay: Layout, routes: list[TimedRoute], unserved: list[int], params: SolveParams) -> int:
    """Travel + preference costs + penalties of unserved jobs (the model's objective)."""
    return plan_objective(lay, [list(r.nodes) for r in routes], params.preferred_worker_cost)
