"""Iterated guided local search: OR-Tools GLS until it stalls, then a ruin-and-recreate kick.

Guided local search alone tends to settle in one region of the search space within a few
seconds (measured on Solomon instances). When no better plan has been found for
``PATIENCE_SHARE`` of the budget, the best plan is partly ruined (the jobs nearest to a
random job are taken out) and greedily recreated by regret insertion, and GLS continues
from there on the same model. The best plan over all runs is returned.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np

from . import construct
from .layout import Layout
from .problem import SolveParams
from .routing import TimedRoute, index_routes, read_routes
from .solution import Progress

ITERATE = False
PATIENCE_SHARE = 0.15
MIN_PATIENCE_S = 0.5
RUIN_SHARE = 0.12


class RunMonitor:
    """At-solution callback for repeated runs: patience, deadline, progress, cancellation."""

    def __init__(self, model, clock, on_progress, should_stop) -> None:
        self.model, self.clock = model, clock
        self.on_progress, self.should_stop = on_progress, should_stop
        self.global_best: int | None = None
        self.cancelled = False
        self.solutions = 0
        self.start_run(0.0, None)

    def start_run(self, deadline: float, patience: float | None, by_count: bool = False) -> None:
        """Reset the per-run state; ``patience`` is in seconds, or solutions if ``by_count``."""
        self.deadline, self.patience, self.by_count = deadline, patience, by_count
        self.run_best: int | None = None
        self.last_gain = self._progress_mark()

    def _progress_mark(self) -> float:
        return float(self.solutions) if self.by_count else self.clock.elapsed()

    def __call__(self) -> None:
        cost = self.model.routing.CostVar().Value()
        now = self.clock.elapsed()
        self.solutions += 1
        if self.run_best is None or cost < self.run_best:
            self.run_best, self.last_gain = cost, self._progress_mark()
        if self.global_best is None or cost < self.global_best:
            self.global_best = cost
            if self.on_progress is not None:
                self.on_progress(Progress(int(cost), round(self.clock.wall(), 3), _assigned(self.model.routing)))
        if self.should_stop is not None and self.should_stop():
            self.cancelled = True
        if self.cancelled or now > self.deadline or (
            self.patience is not None and self._progress_mark() - self.last_gain > self.patience
        ):
            self.model.routing.solver().FinishCurrentSearch()


def _assigned(routing) -> int:
    count = 0
    for v in range(routing.vehicles()):
        index = routing.NextVar(routing.Start(v)).Value()
        while not routing.IsEnd(index):
            count += 1
            index = routing.NextVar(index).Value()
    return count


def run(model, sp, initial, params: SolveParams, seconds: float, clock,
        on_progress: Callable | None, should_stop: Callable | None, iterate: bool):
    """GLS from ``initial`` (OR-Tools' own first solution if ``None``), with kicks if ``iterate``.

    Returns (best timed routes or ``None``, whether a stop was requested, solutions found).
    """
    routing = model.routing
    monitor = RunMonitor(model, clock, on_progress, should_stop)
    routing.AddAtSolutionCallback(monitor)
    if sp.use_iterated_local_search:
        return _iterated(model, sp, seconds, monitor)
    deadline = clock.elapsed() + seconds
    by_count = params.solution_limit is not None
    patience = _patience(params, seconds) if iterate else None
    rng = random.Random(params.seed)
    best, best_cost, current = None, None, initial
    while True:
        monitor.start_run(deadline, patience, by_count)
        solution = _solve_once(routing, sp, current, params, monitor, deadline, clock)
        if solution is not None and (best_cost is None or solution.ObjectiveValue() < best_cost):
            best, best_cost = read_routes(model, solution), solution.ObjectiveValue()
        limit_hit = by_count and monitor.solutions >= params.solution_limit
        if not iterate or best is None or monitor.cancelled or limit_hit or clock.elapsed() >= deadline - 0.05:
            return best, monitor.cancelled, monitor.solutions
        current = _kicked_assignment(model, best, params, rng)


def _iterated(model, sp, seconds: float, monitor: RunMonitor):
    """One run of OR-Tools' iterated local search, bounded only by its own limits (the
    solution limit is set by ``routing.search_parameters``).

    Stopping the current search from the monitor would end one descent, not the run, so
    the monitor only reports progress here; a stop request is honoured when the run ends.
    """
    monitor.start_run(float("inf"), None)
    sp.time_limit.FromMilliseconds(max(1, int(1000 * seconds)))  # wall seconds: it knows no CPU clock
    solution = model.routing.SolveWithIteratedLocalSearch(sp)
    if solution is None:
        return None, monitor.cancelled, monitor.solutions
    return read_routes(model, solution), monitor.cancelled, monitor.solutions


def _patience(params: SolveParams, seconds: float) -> float:
    if params.solution_limit is not None:
        return max(20, PATIENCE_SHARE * params.solution_limit)
    return max(MIN_PATIENCE_S, PATIENCE_SHARE * seconds)


def _solve_once(routing, sp, current, params, monitor, deadline, clock):
    sp.time_limit.FromMilliseconds(max(1, int(1000 * clock.wall_limit(deadline - clock.elapsed()))))
    if params.solution_limit is not None:
        sp.solution_limit = max(1, params.solution_limit - monitor.solutions)
    if current is None:
        return routing.SolveWithParameters(sp)
    return routing.SolveFromAssignmentWithParameters(current, sp)


def _kicked_assignment(model, best: list[TimedRoute], params: SolveParams, rng: random.Random):
    """An assignment of the best plan after ruin and recreate (tries a few seeds)."""
    for _ in range(3):
        routes = kick(model.lay, best, params.preferred_worker_cost, rng)
        assignment = model.routing.ReadAssignmentFromRoutes(index_routes(model, routes), True)
        if assignment is not None:
            return assignment
    return model.routing.ReadAssignmentFromRoutes(index_routes(model, [list(t.nodes) for t in best]), True)


def kick(lay: Layout, timed: list[TimedRoute], preferred_cost: int, rng: random.Random) -> list[list[int]]:
    """Remove the jobs nearest to a random served job and re-insert them by regret."""
    routes = [list(t.nodes) for t in timed]
    served = sorted({int(lay.node_job[n]) for r in routes for n in r})
    if not served:
        return routes
    removed = _nearest_jobs(lay, rng.choice(served), served, max(3, round(RUIN_SHARE * len(served))))
    gone = {n for k in removed for n in lay.job_nodes[k]}
    plan = construct.Plan(lay, preferred_cost)
    plan.load_routes([[n for n in r if n not in gone] for r in routes], _fixed(lay, timed, gone))
    order = [k for k in construct.insertion_order(lay, "random", rng.randrange(1 << 30)) if k not in plan.served_jobs()]
    construct.parallel(lay, order, plan=plan)
    return plan.routes


def _nearest_jobs(lay: Layout, seed: int, served: list[int], count: int) -> list[int]:
    tt = lay.travel[0]
    a = lay.job_nodes[seed][0]
    firsts = np.array([lay.job_nodes[k][0] for k in served], dtype=np.int64)
    closeness = tt[a, firsts] + tt[firsts, a]
    return [served[i] for i in np.argsort(closeness, kind="stable")[:count]]


def _fixed(lay: Layout, timed: list[TimedRoute], gone: set[int]) -> dict[int, int]:
    return {
        n: s for t in timed for n, s in zip(t.nodes, t.starts)
        if len(lay.job_nodes[lay.node_job[n]]) == 2 and n not in gone
    }
