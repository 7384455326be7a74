"""Running OR-Tools on the whole problem, or part by part when it is large.

``optimise`` runs one guided local search from given routes. ``improve`` splits a large
plan into groups of neighbouring routes (by the angle of each route's centre around the
centre of all homes), solves each group as its own small model for a share of the time,
and repeats with the group boundaries shifted so that every boundary is crossed in a
later round. OR-Tools' maintainers advise staying under about 1,000 stops per model, and
at 1,000 customers its first solution alone took 15–19 s here; parts of about 200 stops
keep each local search fast.

Both then spend the rest of the budget on POPMUSIC (``popmusic``): a few neighbouring
routes at a time re-solved from their current routes. That helps when routes are short
(Solomon R1/RC1, Homberger 1,000) and hurts when a handful of long routes make up the
whole day (each part is then nearly the whole problem, and restarting the guided local
search every fraction of a second loses its penalties): there the global search keeps the
whole budget, started from OR-Tools' own first solution (see ``start_kind``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from . import construct, lns, popmusic, search
from . import routing as ortools_model
from .layout import Layout, node_xy, restrict
from .problem import SolveParams
from .routing import TimedRoute, build_model, index_routes, plan_objective, search_parameters
from .schedule import simulate
from .solution import Progress

ROUNDS = 3
SPARES_PER_KIND = 3
# Share of the budget (or of the solution limit) for POPMUSIC after the global search.
POPMUSIC_SHARE = 0.5
LARGE_POPMUSIC_SHARE = 0.5
# The same after a start from OR-Tools' first solution (long routes).
LONG_POPMUSIC_SHARE = 0.0
# Mean jobs per route from which "auto" starts from OR-Tools' own first solution.
LONG_ROUTE_JOBS = 15


@dataclass
class SearchResult:
    """Routes found (``None`` if OR-Tools returned nothing) and whether a stop was requested."""

    routes: list[TimedRoute] | None
    cancelled: bool
    solutions: int = 0
    iterated: bool = False


def optimise(
    lay: Layout, routes: list[list[int]], params: SolveParams, seconds: float, clock,
    on_progress: Callable | None = None, should_stop: Callable | None = None,
) -> SearchResult:
    """Guided local search from ``routes`` (node sequences per vehicle of ``lay``)."""
    model, sp, initial = _prepared(lay, routes, params, seconds, clock)
    found, cancelled, solutions = search.run(model, sp, initial, params, seconds, clock, on_progress, should_stop)
    return SearchResult(found, cancelled, solutions)


def _prepared(lay, routes, params, seconds, clock):
    """Built and closed model, its search parameters and the warm start (or None)."""
    model = build_model(lay, params)
    complete = sum(len(r) for r in routes) == sum(len(n) for n in lay.job_nodes)
    sp = search_parameters(params, clock.wall_limit(seconds), keep_swaps=not complete)
    if params.metaheuristic == "ils":
        ortools_model.use_iterated_local_search(sp)
    model.routing.CloseModelWithParameters(sp)
    initial = None
    if params.first_solution != "ortools" and params.metaheuristic != "ils":
        initial = model.routing.ReadAssignmentFromRoutes(index_routes(model, routes), True)
    return model, sp, initial


def optimise_plan(lay, plan, params, seconds, clock, on_progress=None, should_stop=None) -> SearchResult:
    """The phases on the whole plan: OR-Tools' iterated local search first on a plain day
    (see ``iterated_applies``), guided local search (trimmed fleet, see ``trimmed_fleet``),
    then POPMUSIC on groups of neighbouring routes (see ``popmusic``) for the rest of the
    budget. If OR-Tools cannot start from the whole plan (it sometimes rejects a start that
    passes the checker, on days with breaks), POPMUSIC's parts take the rest of the budget.
    A plan that leaves visits out goes to ``_guided_then_ruin`` instead.

    With a solution limit, the phases share it instead of the time, so that a run is
    reproducible.
    """
    routes = [list(r) for r in plan.routes]
    timed: list[TimedRoute | None] = [None] * lay.num_vehicles
    deadline = clock.elapsed() + seconds
    total = seconds
    iterated = iterated_applies(lay, params, plan) and not (should_stop is not None and should_stop())
    ruin_only = _ruin_only_applies(lay, params, plan)
    params = replace(params, first_solution=start_kind(lay, plan, params))
    popmusic_share = _popmusic_share(params)
    on_progress = _strictly_improving(on_progress)
    if iterated:
        found = _iterated_phase(lay, plan, routes, timed, params, seconds, clock, should_stop, on_progress)
        seconds = deadline - clock.elapsed()
        spent = params.solution_limit is not None and found.solutions >= params.solution_limit
        if found.cancelled or seconds <= 0.05 or spent:
            return SearchResult(_complete(lay, routes, timed, plan), found.cancelled, iterated=True)
        params = replace(params, first_solution="insertion", solution_limit=_left(params, found))
    if ruin_only:
        params = replace(params, lns_share=1.0)
    if params.lns_share > 0 and not _complete_plan(lay, routes):
        return _guided_then_ruin(lay, plan, routes, timed, params, total, deadline, clock, should_stop, on_progress)
    first, count = _first_phase(params, deadline - clock.elapsed(), popmusic_share)
    group = Group(trimmed_fleet(plan, routes), list(range(len(lay.jobs))))
    found = _solve_group(lay, group, routes, timed, first, count, clock, should_stop, on_progress)
    stop, left = found.cancelled, deadline - clock.elapsed()
    if found.routes is None and not stop:  # OR-Tools could not start from the whole plan: parts can
        popmusic_share = max(popmusic_share, POPMUSIC_SHARE)
    if not stop and popmusic_share > 0 and left > 0.05:
        stop = _popmusic(lay, routes, timed, params, left, clock, on_progress, should_stop, _left(params, found))
    return SearchResult(_complete(lay, routes, timed, plan), stop, iterated=iterated)


def _guided_then_ruin(lay, plan, routes, timed, params, total, deadline, clock, should_stop, on_progress) -> SearchResult:
    """A day the plan does not fully serve: guided local search on the whole plan (trimmed
    fleet) for ``1 - params.lns_share`` of the budget shapes the routes, then ruin and
    recreate with the local search (``lns``) serves what it can and polishes the travel;
    any time left goes to POPMUSIC. (Ruin and recreate first, then guided local search,
    ended with ~3% more travel on the generated 300-visit days: see docs/benchmarks.md.)"""
    guided = params
    if params.solution_limit is not None:
        guided = replace(params, solution_limit=max(1, round((1 - params.lns_share) * params.solution_limit)))
    found = SearchResult(None, False)
    if params.lns_share < 1:
        group = Group(trimmed_fleet(plan, routes), list(range(len(lay.jobs))))
        found = _solve_group(lay, group, routes, timed, guided, (1 - params.lns_share) * total, clock, should_stop, on_progress)
    stop = found.cancelled or _lns_phase(lay, plan, routes, timed, params, deadline - clock.elapsed(), clock, should_stop)
    _report(lay, routes, params, clock, on_progress, None)
    left = deadline - clock.elapsed()
    if not stop and left > 0.05:
        stop = _popmusic(lay, routes, timed, params, left, clock, on_progress, should_stop, _left(params, found))
    return SearchResult(_complete(lay, routes, timed, plan), stop)


def _ruin_only_applies(lay: Layout, params: SolveParams, plan) -> bool:
    """Whether ruin and recreate takes the whole budget, without guided local search first:
    on a plain day (every job a crew-1, unpinned visit) planned afresh that the construction
    does not fully serve. There guided local search has nothing of its own to keep (no crew
    to synchronise, no dispatcher's routes), often cannot start at all (the lunch-break case
    of docs/benchmarks.md), and its half of the budget served fewer visits with more travel
    than ruin and recreate with the local search alone in three runs of the ten 300-visit
    days (docs/benchmarks.md, third pass)."""
    fresh = params.metaheuristic == "auto" and params.first_solution == "auto" and params.lns_share > 0
    return fresh and plain_day(lay) and not _complete_plan(lay, plan.routes)


def _complete_plan(lay, routes) -> bool:
    """Every job node on a route (nothing for the ruin and recreate phase to aim at)."""
    return sum(len(r) for r in routes) == sum(len(n) for n in lay.job_nodes)


def _lns_phase(lay, plan, routes, timed, params, seconds, clock, should_stop) -> bool:
    """Ruin and recreate (``lns``) on ``routes`` in place for ``seconds``, or for its share
    of the solution limit, if some visit is unserved; True if a stop was requested."""
    iterations = None if params.solution_limit is None else round(params.lns_share * params.solution_limit)
    if iterations == 0 or (iterations is None and seconds <= 0.05) or _complete_plan(lay, routes):
        return False
    start = _complete(lay, routes, timed, plan)
    rng = random.Random(params.seed)
    better, stop = lns.improve(lay, start, params.preferred_worker_cost, seconds, clock, rng, iterations, should_stop)
    if _timed_with_crew_starts(lay, plan, start, better, timed):
        routes[:] = better.nodes
    return stop


def _timed_with_crew_starts(lay, plan, start: list[TimedRoute], better: lns.Routes, timed) -> bool:
    """The routes ruin and recreate changed — in their visits, or in the start of a two-person
    visit on them — timed into ``timed`` with every crew at the start it held
    (``better.crew_starts``), which also become the plan's ranges for later timing; False, with
    ``timed`` and the plan untouched, if one of them cannot be timed so.

    ``_complete`` would time them with the construction's crew starts, which guided local
    search may have moved (and ruin and recreate may move): the route then failed to time (the
    search fell back to the greedy plan) or a crew's two visits got different starts (a plan
    the checker refused), on full 300-visit days. A failure to time was still seen once after
    that (full-day seed 5 of the benchmark, not reproduced in five runs since): there the
    phase's plan is dropped rather than the whole search's.
    """
    lo, hi = lns.ranges_with(plan.lo, plan.hi, better.crew_starts)
    before = lns.crew_starts(lay, start)
    retimed = {}
    for v, route in enumerate(better.nodes):
        moved = any(better.crew_starts.get(n) != before.get(n) for n in route if n in better.crew_starts)
        if list(start[v].nodes) != route or moved:
            t = simulate(lay, v, route, lo, hi)
            if t is None:
                return False
            retimed[v] = TimedRoute(tuple(route), t.starts, t.breaks, t.depart, t.back)
    for v, t in retimed.items():
        timed[v] = t
    plan.lo[:], plan.hi[:] = lo, hi
    return True


def _strictly_improving(on_progress: Callable | None) -> Callable | None:
    """``on_progress`` called only for objectives below every one reported before.

    Each phase's search reports its start again; the caller should see only gains.
    """
    if on_progress is None:
        return None
    best: list[int] = []

    def report(progress: Progress) -> None:
        if not best or progress.objective < best[0]:
            best[:] = [progress.objective]
            on_progress(progress)
    return report


def iterated_applies(lay: Layout, params: SolveParams, plan=None) -> bool:
    """Whether the search starts with OR-Tools' iterated local search (see ``SolveParams``).

    Only where the construction ``plan`` (if given) serves every visit: on an oversubscribed
    day the ruin and recreate phase, aimed at the visits left out, leads instead (it served
    more on the generated home-care days, see docs/benchmarks.md). Only for plain days
    (every job a crew-1, unpinned visit) planned afresh: that search
    builds its own first solution, and it cannot be stopped before its limit, so it is not
    used where the dispatcher's routes and pins must be the start. Nor for a handful of
    visits: OR-Tools 9.15's iterated search never returns, whatever its limits, on a model
    with one visit (found by tests/dispatch/solver), and small days gain nothing from it.
    Nor with kept starts (soft bounds on start times): it aborts the process there.
    """
    big_enough = len(lay.jobs) >= params.iterated_min_jobs
    fresh = params.metaheuristic == "auto" and params.first_solution in ("auto", "ortools")
    complete = plan is None or _complete_plan(lay, plan.routes)
    soft_starts = params.kept_start_cost > 0 and any(j.kept_start is not None for j in lay.jobs)
    return fresh and big_enough and complete and plain_day(lay) and not soft_starts


def plain_day(lay: Layout) -> bool:
    """Every job a crew-1 visit, none pinned to a worker or a time."""
    return all(len(n) == 1 for n in lay.job_nodes) and not any(
        j.pinned_workers or j.pinned_start is not None for j in lay.jobs)


def _iterated_phase(lay, plan, routes, timed, params, seconds, clock, should_stop, on_progress) -> SearchResult:
    """Iterated local search on the whole plan for its share of the budget (in place)."""
    ils = replace(params, metaheuristic="ils")
    if params.solution_limit is not None:  # its share of the solutions bounds it, not the clock (reproducible)
        ils = replace(ils, solution_limit=max(1, round(params.iterated_share * params.solution_limit)))
        budget = seconds
    else:
        budget = min(params.iterated_share * seconds, params.iterated_max_s)
    group = Group(trimmed_fleet(plan), list(range(len(lay.jobs))))
    return _solve_if_no_worse(lay, group, routes, timed, ils, budget, clock, should_stop, on_progress)


def _solve_if_no_worse(lay, group, routes, timed, params, seconds, clock, should_stop, on_progress=None) -> SearchResult:
    """``_solve_group``, whose routes replace the group's only if the whole plan is then no
    worse by our objective; else the group's routes and their timing are put back together.

    The iterated search builds its own start, so it may end worse. A POPMUSIC part starts
    from its routes and still came back worse now and then on full days (by about 140 of an
    objective of 10^11, on the 300-visit day of seed 3 without a working-minute cap): when
    only the routes were put back, their stale timing was recomputed route by route and a
    crew's two visits got different starts (a plan the checker refused)."""
    kept = {v: (routes[v], timed[v]) for v in group.vehicles}
    before = plan_objective(lay, routes, params.preferred_worker_cost)
    found = _solve_group(lay, group, routes, timed, params, seconds, clock, should_stop, on_progress)
    if plan_objective(lay, routes, params.preferred_worker_cost) > before:
        for v, (route, t) in kept.items():
            routes[v], timed[v] = route, t
    return found


def _left(params, found: SearchResult) -> int | None:
    return None if params.solution_limit is None else max(1, params.solution_limit - found.solutions)


def start_kind(lay: Layout, plan, params) -> str:
    """``params.first_solution``, with ``"auto"`` resolved (see ``SolveParams``).

    OR-Tools' own parallel cheapest insertion is the better start for the guided local
    search when routes are long (measured on Solomon R2/RC2: 1-3% against 4-6% from the
    regret insertion at 10 s); it only sees plain visits well, so it is used only when
    every job is a crew-1, unpinned visit and the own plan serves them all.
    """
    if params.first_solution != "auto":
        return params.first_solution
    used = [r for r in plan.routes if r]
    plain = plain_day(lay)
    complete = sum(len(r) for r in used) == len(lay.jobs)
    long = bool(used) and sum(len(r) for r in used) >= LONG_ROUTE_JOBS * len(used)
    return "ortools" if plain and complete and long else "insertion"


def _popmusic_share(params) -> float:
    return LONG_POPMUSIC_SHARE if params.first_solution == "ortools" else POPMUSIC_SHARE


def _first_phase(params, seconds: float, popmusic_share: float):
    """Parameters and seconds of the global search (everything if POPMUSIC is off)."""
    share = 1 - popmusic_share
    if params.solution_limit is not None:
        return replace(params, solution_limit=max(1, round(share * params.solution_limit))), seconds
    return params, share * seconds


def _popmusic(lay, routes, timed, params, seconds, clock, on_progress, should_stop, solutions) -> bool:
    best = [plan_objective(lay, routes, params.preferred_worker_cost)]

    def solve_part(part, part_seconds, limit):
        local = replace(params, solution_limit=limit, first_solution="insertion")
        found = _solve_if_no_worse(lay, Group(part.vehicles, part.jobs), routes, timed, local, part_seconds, clock, should_stop)
        return found.cancelled, found.solutions

    def report():
        best[0] = _report(lay, routes, params, clock, on_progress, best[0])

    return popmusic.improve(lay, routes, params, seconds, clock, solve_part, solutions, report)


def trimmed_fleet(plan, routes: list[list[int]] | None = None, spares: int = SPARES_PER_KIND) -> list[int]:
    """Used vehicles (of ``routes``, default the plan's) plus at most ``spares`` empty ones
    of each interchangeable kind.

    Identical empty vehicles only multiply equivalent moves in the local search (a
    Solomon fleet of 25 where 10–12 routes are used); a few spares still let it open
    new routes.
    """
    kept, count = [], {}
    for v, route in enumerate(plan.routes if routes is None else routes):
        if route:
            kept.append(v)
            continue
        kind = construct.vehicle_kind(plan, v)
        if count.get(kind, 0) < spares:
            count[kind] = count.get(kind, 0) + 1
            kept.append(v)
    return kept


def improve(lay, plan, params, seconds, clock, on_progress=None, should_stop=None) -> SearchResult:
    """Decomposed improvement of ``plan`` for large problems (see the module docstring):
    rounds of parts, ruin and recreate aimed at unserved visits (``lns``), POPMUSIC.

    Progress is reported after each part with the objective of the whole plan.
    """
    routes = [list(r) for r in plan.routes]
    timed: list[TimedRoute | None] = [None] * lay.num_vehicles
    end = clock.elapsed() + seconds
    deadline = end - LARGE_POPMUSIC_SHARE * seconds
    best = None
    for r in range(ROUNDS):
        groups = sector_groups(lay, routes, r, params.part_nodes)
        budget = max(0.0, deadline - clock.elapsed()) / (ROUNDS - r)
        total = sum(len(g.jobs) for g in groups) or 1
        for group in groups:
            share = budget * len(group.jobs) / total
            stop = _solve_group(lay, group, routes, timed, params, share, clock, should_stop).cancelled
            best = _report(lay, routes, params, clock, on_progress, best)
            if stop:
                return SearchResult(_complete(lay, routes, timed, plan), True)
    lns_s = min(params.lns_share * seconds, end - clock.elapsed())
    if _lns_phase(lay, plan, routes, timed, params, lns_s, clock, should_stop):
        return SearchResult(_complete(lay, routes, timed, plan), True)
    left = end - clock.elapsed()
    stop = left > 0.05 and _popmusic(lay, routes, timed, params, left, clock, on_progress, should_stop, None)
    return SearchResult(_complete(lay, routes, timed, plan), stop)


def _report(lay, routes, params, clock, on_progress, best):
    if on_progress is None:
        return best
    cost = plan_objective(lay, routes, params.preferred_worker_cost)
    if best is None or cost < best:
        assigned = sum(len(r) for r in routes)
        on_progress(Progress(cost, round(clock.wall(), 3), assigned))
        return cost
    return best


@dataclass
class Group:
    """A part: vehicles (indices of the whole layout) and the jobs it may plan."""

    vehicles: list[int]
    jobs: list[int]


def _solve_group(lay, group, routes, timed, params, seconds, clock, should_stop, on_progress=None) -> SearchResult:
    """Improve one part in place; returns the search's result (routes of the part)."""
    part, nodes = restrict(lay, group.jobs, group.vehicles)
    local = {n: i for i, n in enumerate(nodes)}
    start = [[local[n] for n in routes[v]] for v in group.vehicles]
    found = optimise(part, start, params, seconds, clock, on_progress, should_stop)
    if found.routes is not None:
        for i, v in enumerate(group.vehicles):
            t = found.routes[i]
            routes[v] = [nodes[n] for n in t.nodes]
            timed[v] = TimedRoute(tuple(routes[v]), t.starts, t.breaks, t.depart, t.back)
    return found


def sector_groups(lay: Layout, routes: list[list[int]], round_no: int, part_nodes: int) -> list[Group]:
    """Neighbouring routes grouped to about ``part_nodes`` job nodes, boundaries shifted per round."""
    centre = _centre(lay)
    used = [v for v, r in enumerate(routes) if r]
    used.sort(key=lambda v: _angle(centre, _centroid(lay, routes[v])))
    n_groups = max(1, round(sum(len(routes[v]) for v in used) / part_nodes))
    shift = (round_no * len(used)) // (ROUNDS * n_groups) if used else 0
    used = used[shift:] + used[:shift]
    chunks = _chunks(used, routes, n_groups)
    chunks = _merge_crews(lay, routes, chunks)
    return _with_spares_and_unserved(lay, routes, chunks, centre)


def _chunks(order: list[int], routes, n_groups: int) -> list[list[int]]:
    target = sum(len(routes[v]) for v in order) / n_groups
    chunks, current, size = [], [], 0
    for v in order:
        current.append(v)
        size += len(routes[v])
        if size >= target and len(chunks) < n_groups - 1:
            chunks.append(current)
            current, size = [], 0
    if current:
        chunks.append(current)
    return chunks


def _merge_crews(lay: Layout, routes, chunks: list[list[int]]) -> list[list[int]]:
    """Crew-2 jobs must be solved with both of their workers in the same part."""
    owner = {v: i for i, c in enumerate(chunks) for v in c}
    where = {n: v for v, r in enumerate(routes) for n in r}
    parent = list(range(len(chunks)))

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for nodes in lay.job_nodes:
        if len(nodes) == 2 and all(n in where for n in nodes):
            a, b = (find(owner[where[n]]) for n in nodes)
            parent[a] = b
    merged: dict[int, list[int]] = {}
    for i, c in enumerate(chunks):
        merged.setdefault(find(i), []).extend(c)
    return list(merged.values())


def _with_spares_and_unserved(lay, routes, chunks, centre) -> list[Group]:
    served_jobs = {int(lay.node_job[n]) for r in routes for n in r}
    groups = [Group(list(c), sorted({int(lay.node_job[n]) for v in c for n in routes[v]})) for c in chunks]
    angles = [_angle(centre, _centroid(lay, [n for v in g.vehicles for n in routes[v]])) for g in groups]
    empty = [v for v, r in enumerate(routes) if not r]
    for i, g in enumerate(groups):
        spare = max(2, math.ceil(0.15 * len(g.vehicles)))
        g.vehicles += empty[i::len(groups)][:spare] if groups else []
    for k in range(len(lay.jobs)):
        if k not in served_jobs and groups:
            a = _angle(centre, node_xy(lay, lay.job_nodes[k][0]))
            groups[int(np.argmin([_angular_distance(a, b) for b in angles]))].jobs.append(k)
    return groups


def _complete(lay: Layout, routes, timed, plan) -> list[TimedRoute]:
    """Timed routes for every vehicle; parts never solved keep their construction timing."""
    out = []
    for v, r in enumerate(routes):
        t = timed[v]
        if t is None or list(t.nodes) != r:
            s = simulate(lay, v, r, plan.lo, plan.hi)
            t = TimedRoute(tuple(r), s.starts, s.breaks, s.depart, s.back)
        out.append(t)
    return out


def _centre(lay: Layout) -> tuple[float, float]:
    homes = [node_xy(lay, lay.starts[v]) for v in range(lay.num_vehicles)]
    return (sum(x for x, _ in homes) / len(homes), sum(y for _, y in homes) / len(homes))


def _centroid(lay: Layout, nodes: list[int]) -> tuple[float, float]:
    pts = [node_xy(lay, n) for n in nodes] or [(0.0, 0.0)]
    return (sum(x for x, _ in pts) / len(pts), sum(y for _, y in pts) / len(pts))


def _angle(centre, point) -> float:
    return math.atan2(point[1] - centre[1], point[0] - centre[0])


def _angular_distance(a: float, b: float) -> float:
    d = abs(a - b) % (2 * math.pi)
    return min(d, 2 * math.pi - d)
