"""Running one OR-Tools search on a built model: the search monitor, and the two ways a
search runs (guided local search from a start, or OR-Tools' own iterated local search).
"""

from __future__ import annotations

from collections.abc import Callable

from .problem import SolveParams
from .routing import read_routes
from .solution import Progress


class RunMonitor:
    """At-solution callback: deadline, progress reports, cancellation."""

    def __init__(self, model, clock, on_progress, should_stop) -> None:
        self.model, self.clock = model, clock
        self.on_progress, self.should_stop = on_progress, should_stop
        self.global_best: int | None = None
        self.cancelled = False
        self.solutions = 0
        self.deadline = float("inf")

    def __call__(self) -> None:
        cost = self.model.routing.CostVar().Value()
        self.solutions += 1
        if self.global_best is None or cost < self.global_best:
            self.global_best = cost
            if self.on_progress is not None:
                self.on_progress(Progress(int(cost), round(self.clock.wall(), 3), _assigned(self.model.routing)))
        if self.should_stop is not None and self.should_stop():
            self.cancelled = True
        if self.cancelled or self.clock.elapsed() > self.deadline:
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
        on_progress: Callable | None, should_stop: Callable | None):
    """One search from ``initial`` (OR-Tools' own first solution if ``None``): guided local
    search, or OR-Tools' iterated local search if ``sp`` asks for it.

    Returns (best timed routes or ``None``, whether a stop was requested, solutions found).
    """
    routing = model.routing
    monitor = RunMonitor(model, clock, on_progress, should_stop)
    routing.AddAtSolutionCallback(monitor)
    if sp.use_iterated_local_search:
        return _iterated(model, sp, seconds, monitor)
    monitor.deadline = clock.elapsed() + seconds
    solution = _solve_once(routing, sp, initial, params, monitor, clock)
    if solution is None:
        return None, monitor.cancelled, monitor.solutions
    return read_routes(model, solution), monitor.cancelled, monitor.solutions


def _iterated(model, sp, seconds: float, monitor: RunMonitor):
    """One run of OR-Tools' iterated local search, bounded only by its own limits (the
    solution limit is set by ``routing.search_parameters``).

    Stopping the current search from the monitor would end one descent, not the run, so
    the monitor only reports progress here; a stop request is honoured when the run ends.
    """
    sp.time_limit.FromMilliseconds(max(1, int(1000 * seconds)))  # wall seconds: it knows no CPU clock
    solution = model.routing.SolveWithIteratedLocalSearch(sp)
    if solution is None:
        return None, monitor.cancelled, monitor.solutions
    return read_routes(model, solution), monitor.cancelled, monitor.solutions


def _solve_once(routing, sp, current, params, monitor, clock):
    sp.time_limit.FromMilliseconds(max(1, int(1000 * clock.wall_limit(monitor.deadline - clock.elapsed()))))
    if params.solution_limit is not None:
        sp.solution_limit = max(1, params.solution_limit - monitor.solutions)
    if current is None:
        return routing.SolveWithParameters(sp)
    return routing.SolveFromAssignmentWithParameters(current, sp)
