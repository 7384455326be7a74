"""The OR-Tools model: a ``Layout`` becomes a ``RoutingModel``.

Design decisions (measured, see docs/benchmarks.md):
- Transit and arc costs are registered as MATRICES (``RegisterTransitMatrix``), one per
  transport profile (plus one cost matrix per worker who is someone's preferred worker);
  no Python callback runs during the search. The time transit of ``i → j`` is the
  service of ``i`` plus travel, so service is node dependent without a callback.
- Every job node is optional (a disjunction) with a penalty far above any possible
  travel, weighted by priority tier; pinned jobs get the top tier, so they are kept
  whenever they fit and the model never becomes infeasible.
- A crew-2 job is two nodes with equal start cumuls, equal active state and different
  vehicles when active.
- Breaks are OR-Tools break intervals on the time dimension; ``max_work`` is a second
  dimension without slack (travel + service).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from .layout import Layout
from .problem import SolveParams
from .schedule import earliest_return, latest_departure

OFF = 2  # ortools OptionalBoolean BOOL_FALSE
MAX_INT = (1 << 62)

# Operators switched off: they only drop visits (never improving under the large
# penalties), or are slow for their yield on time-window problems (measured on Solomon).
SLOW_OPERATORS = (
    "use_make_inactive", "use_make_chain_inactive", "use_relocate_expensive_chain",
    "use_lin_kernighan", "use_global_cheapest_insertion_path_lns",
    "use_local_cheapest_insertion_path_lns",
    "use_relocate_path_global_cheapest_insertion_insert_unperformed",
    "use_shortest_path_swap_active", "use_swap_active_chain", "use_shortest_path_two_opt",
    "use_global_cheapest_insertion_visit_types_lns",
    "use_local_cheapest_insertion_visit_types_lns", "use_relocate_pair",
    "use_light_relocate_pair", "use_exchange_pair", "use_relocate_subtrip",
    "use_exchange_subtrip",
)
# Kept only while some visit is unplanned: they can trade a low for a high priority visit.
SWAP_OPERATORS = ("use_swap_active",)


@dataclass
class Model:
    """A built OR-Tools model and the handles needed to read it back."""

    lay: Layout
    manager: pywrapcp.RoutingIndexManager
    routing: pywrapcp.RoutingModel
    time: pywrapcp.RoutingDimension
    breaks: dict[int, list] = field(default_factory=dict)
    penalties: list[int] = field(default_factory=list)


def job_penalties(lay: Layout, preferred_cost: int) -> list[int]:
    """Penalty per job for leaving it out: lexicographic over priority tiers.

    The lowest tier already exceeds any possible total of travel and preference costs, and
    one job of a tier outweighs all jobs of the tiers below as far as 62-bit integers
    allow. Pinned jobs form the top tier.
    """
    arc_max = int(max((int(m.max()) for m in lay.travel), default=0))
    big = (arc_max + preferred_cost + 1) * (lay.num_nodes + lay.num_vehicles + 1) * 2
    tiers = sorted({_tier(j) for j in lay.jobs})
    base = len(lay.jobs) + 1
    while base > 2 and big * base ** max(len(tiers) - 1, 0) * len(lay.jobs) >= MAX_INT // 4:
        base //= 2
    rank = {t: i for i, t in enumerate(tiers)}
    return [min(big * base ** rank[_tier(j)], MAX_INT // (4 * max(len(lay.jobs), 1))) for j in lay.jobs]


def plan_objective(lay: Layout, routes: list[list[int]], preferred_cost: int) -> int:
    """The model's objective for node routes: travel + preference costs + penalties."""
    penalties = job_penalties(lay, preferred_cost)
    served = {int(lay.node_job[n]) for r in routes for n in r}
    total = sum(p for k, p in enumerate(penalties) if k not in served)
    for v, route in enumerate(routes):
        if route:
            total += lay.route_travel(v, route)
            total += sum(preferred_cost for n in route if lay.preferred_vehicle(n) not in (None, v))
    return int(total)


def _tier(job) -> tuple[int, int]:
    pinned = bool(job.pinned_workers) or job.pinned_start is not None
    return (int(pinned), job.priority)


def build_model(lay: Layout, params: SolveParams) -> Model:
    """Create the routing model with every constraint of the layout."""
    manager = pywrapcp.RoutingIndexManager(lay.num_nodes, lay.num_vehicles, lay.starts, lay.ends)
    routing = pywrapcp.RoutingModel(manager)
    _arc_costs(lay, routing, params.preferred_worker_cost)
    time, transits = _time_dimension(lay, routing, manager)
    model = Model(lay, manager, routing, time)
    _work_dimension(lay, routing, transits, params.balance_cost)
    _load_dimension(lay, routing)
    _visits(model, job_penalties(lay, params.preferred_worker_cost))
    _crews(model)
    _breaks(model)
    _kept_starts(model, params)
    return model


def _arc_costs(lay: Layout, routing, preferred_cost: int) -> None:
    pen = np.zeros(lay.num_nodes, dtype=np.int64)
    prefs = [lay.preferred_vehicle(n) for n in range(lay.num_nodes)]
    for n, v in enumerate(prefs):
        if v is not None:
            pen[n] = preferred_cost
    cache: dict[tuple[int, int | None], int] = {}
    preferred = {v for v in prefs if v is not None}
    for v in range(lay.num_vehicles):
        key = (lay.vehicle_profile[v], v if v in preferred and preferred_cost else None)
        if key not in cache:
            col = pen.copy()
            if key[1] is not None:
                col[[n for n, pv in enumerate(prefs) if pv == v]] = 0
            cost = lay.travel[key[0]] + (col[None, :] if preferred_cost else 0)
            cache[key] = routing.RegisterTransitMatrix(cost.tolist())
        routing.SetArcCostEvaluatorOfVehicle(cache[key], v)


def _time_dimension(lay: Layout, routing, manager):
    transit = {}
    for p, travel in enumerate(lay.travel):
        transit[p] = routing.RegisterTransitMatrix((travel + lay.service[:, None]).tolist())
    per_vehicle = [transit[p] for p in lay.vehicle_profile]
    routing.AddDimensionWithVehicleTransits(per_vehicle, lay.horizon, lay.horizon, False, "time")
    time = routing.GetDimensionOrDie("time")
    for nodes in lay.job_nodes:
        for n in nodes:
            time.CumulVar(manager.NodeToIndex(n)).SetRange(int(lay.lo[n]), int(lay.hi[n]))
    for v, w in enumerate(lay.workers):
        time.CumulVar(routing.Start(v)).SetRange(w.shift_start, w.shift_end)
        time.CumulVar(routing.End(v)).SetRange(w.shift_start, w.shift_end)
    return time, per_vehicle


def _work_dimension(lay: Layout, routing, per_vehicle: list[int], balance_cost: int) -> None:
    """Travel + service per worker, capped by ``max_work`` (same transits as time)."""
    limits = [w.max_work for w in lay.workers]
    if all(m is None for m in limits) and not balance_cost:
        return
    caps = [lay.horizon if m is None else int(m) for m in limits]
    routing.AddDimensionWithVehicleTransitAndCapacity(per_vehicle, 0, caps, True, "work")
    if balance_cost:
        _soft_balance(lay, routing, routing.GetDimensionOrDie("work"), balance_cost)


def _soft_balance(lay: Layout, routing, work, balance_cost: int) -> None:
    """Soft upper bound on each worker's work at a fair share of the total service."""
    total = int(sum(lay.service[n] for nodes in lay.job_nodes for n in nodes))
    share = total // max(lay.num_vehicles, 1)
    for v in range(lay.num_vehicles):
        work.SetCumulVarSoftUpperBound(routing.End(v), share, balance_cost)


def _load_dimension(lay: Layout, routing) -> None:
    if not lay.demand.any() or all(w.capacity is None for w in lay.workers):
        return
    demand = routing.RegisterUnaryTransitVector([int(d) for d in lay.demand])
    caps = [int(w.capacity) if w.capacity is not None else int(lay.demand.sum()) for w in lay.workers]
    routing.AddDimensionWithVehicleCapacity(demand, 0, caps, True, "load")


def _visits(model: Model, penalties: list[int]) -> None:
    lay, routing, manager = model.lay, model.routing, model.manager
    everyone = lay.num_vehicles
    for k, nodes in enumerate(lay.job_nodes):
        for n in nodes:
            index = manager.NodeToIndex(n)
            if len(lay.allowed[n]) < everyone:
                # SetAllowedVehiclesForIndex does not accept a Python list in 9.15.
                routing.VehicleVar(index).SetValues([-1] + [int(v) for v in lay.allowed[n]])
            routing.AddDisjunction([index], max(1, penalties[k] // len(nodes)))
    model.penalties = penalties


def _crews(model: Model) -> None:
    routing, manager, time = model.routing, model.manager, model.time
    solver = routing.solver()
    for nodes in model.lay.job_nodes:
        if len(nodes) != 2:
            continue
        a, b = (manager.NodeToIndex(n) for n in nodes)
        solver.Add(time.CumulVar(a) == time.CumulVar(b))
        solver.Add(routing.ActiveVar(a) == routing.ActiveVar(b))
        differ = solver.IsDifferentVar(routing.VehicleVar(a), routing.VehicleVar(b))
        solver.Add(differ >= routing.ActiveVar(a))


def _kept_starts(model: Model, params: SolveParams) -> None:
    """Soft bounds around each job's ``kept_start`` (a published start): starting more than
    ``kept_start_slack`` away costs ``kept_start_cost`` per unit beyond."""
    if not params.kept_start_cost:
        return
    for k, job in enumerate(model.lay.jobs):
        if job.kept_start is None:
            continue
        for n in model.lay.job_nodes[k]:
            index = model.manager.NodeToIndex(n)
            model.time.SetCumulVarSoftUpperBound(index, job.kept_start + params.kept_start_slack,
                                                 params.kept_start_cost)
            model.time.SetCumulVarSoftLowerBound(index, max(job.kept_start - params.kept_start_slack, 0),
                                                 params.kept_start_cost)


def _breaks(model: Model) -> None:
    lay, routing, manager = model.lay, model.routing, model.manager
    solver = routing.solver()
    visit = [0] * routing.Size()
    for index in range(routing.Size()):
        if not routing.IsStart(index):
            visit[index] = int(lay.service[manager.IndexToNode(index)])
    for v in range(lay.num_vehicles):
        intervals = [
            solver.FixedDurationIntervalVar(b.window_start, b.window_end - b.duration, b.duration, False, f"break-{v}-{i}")
            for i, b in enumerate(lay.breaks(v))
        ]
        if intervals:
            model.time.SetBreakIntervalsOfVehicle(intervals, v, visit)
            for interval in intervals:
                routing.AddIntervalToAssignment(interval)
            model.breaks[v] = intervals


def search_parameters(params: SolveParams, seconds: float, keep_swaps: bool):
    """GLS search parameters with the slow operators off; see SLOW_OPERATORS."""
    p = pywrapcp.DefaultRoutingSearchParameters()
    p.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    p.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    p.guided_local_search_lambda_coefficient = params.guided_lambda
    p.time_limit.FromMilliseconds(max(1, int(seconds * 1000)))
    if params.solution_limit is not None:
        p.solution_limit = params.solution_limit
    for name in SLOW_OPERATORS:
        setattr(p.local_search_operators, name, OFF)
    if not keep_swaps:
        for name in SWAP_OPERATORS:
            setattr(p.local_search_operators, name, OFF)
    p.log_search = params.log_search
    return p


# OR-Tools' iterated local search (``use_iterated_local_search``): SISR ruin (removes
# strings of consecutive visits around a random one, Christiaens & Vanden Berghe 2020),
# recreate by cheapest insertion, greedy descent after each perturbation, simulated
# annealing acceptance with OR-Tools' automatic temperatures (fixed ones, relative to the
# cost per visit, measured no better on Solomon; see docs/benchmarks.md).
ILS_RUIN_VISITS = 10
ILS_RUIN_STRING = 10
ILS_BYPASS = 0.01


def use_iterated_local_search(p) -> None:
    """Turn GLS search parameters ``p`` into OR-Tools' iterated local search (in place).

    Such a search starts from OR-Tools' own first solution (``SolveWithIteratedLocalSearch``
    takes no start) and stops only at its time or solution limit.
    """
    p.use_iterated_local_search = True
    p.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT
    ils = p.iterated_local_search_parameters
    ruin = ils.ruin_recreate_parameters
    del ruin.ruin_strategies[:]
    sisr = ruin.ruin_strategies.add().sisr
    sisr.avg_num_removed_visits = ILS_RUIN_VISITS
    sisr.max_removed_sequence_size = ILS_RUIN_STRING
    sisr.bypass_factor = ILS_BYPASS
    ruin.recreate_strategy.heuristic = routing_enums_pb2.FirstSolutionStrategy.LOCAL_CHEAPEST_INSERTION
    ils.reference_solution_acceptance_strategy.simulated_annealing.automatic_temperatures = True


def index_routes(model: Model, node_routes: list[list[int]]) -> list[list[int]]:
    """Node sequences per vehicle → routing indices, as ReadAssignmentFromRoutes wants."""
    return [[model.manager.NodeToIndex(n) for n in route] for route in node_routes]


@dataclass(frozen=True)
class TimedRoute:
    """A route read back from an assignment: nodes with start times, breaks, depart/back."""

    nodes: tuple[int, ...]
    starts: tuple[int, ...]
    breaks: tuple[tuple[int, int], ...]
    depart: int
    back: int


def read_routes(model: Model, assignment) -> list[TimedRoute]:
    """Every vehicle's route in an assignment (empty routes included)."""
    return [_read_route(model, assignment, v) for v in range(model.lay.num_vehicles)]


def _read_route(model: Model, assignment, v: int) -> TimedRoute:
    routing, time = model.routing, model.time
    index, nodes, starts = assignment.Value(routing.NextVar(routing.Start(v))), [], []
    while not routing.IsEnd(index):
        nodes.append(model.manager.IndexToNode(index))
        starts.append(assignment.Value(time.CumulVar(index)))
        index = assignment.Value(routing.NextVar(index))
    breaks = tuple(sorted(
        (assignment.StartValue(b), assignment.StartValue(b) + assignment.DurationValue(b))
        for b in model.breaks.get(v, [])
    ))
    depart, back = _home_times(model.lay, v, nodes, starts, breaks)
    return TimedRoute(tuple(nodes), tuple(starts), breaks, depart, back)


def _home_times(lay: Layout, v: int, nodes: list[int], starts: list[int], breaks) -> tuple[int, int]:
    """Leave home as late and come back as early as the visits and breaks allow.

    Computed here rather than by a finalizer in the search (which cost about a quarter of
    the local search throughput on Solomon instances).
    """
    worker = lay.workers[v]
    if not nodes:
        return worker.shift_start, worker.shift_start
    tt = lay.vehicle_travel(v)
    depart = latest_departure(worker.shift_start, starts[0], int(tt[lay.starts[v], nodes[0]]), breaks)
    last_end = starts[-1] + int(lay.service[nodes[-1]])
    return depart, earliest_return(last_end, int(tt[nodes[-1], lay.ends[v]]), breaks)
