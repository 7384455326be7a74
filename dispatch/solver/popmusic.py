"""POPMUSIC-style improvement: re-optimise a few neighbouring routes at a time.

After a global guided local search has settled, a seed route and its nearest routes (by
the distance between route centres) form a small sub-problem: those workers, the jobs on
their routes, one empty worker and the nearest unplanned jobs. It is solved by the same
guided local search from its current routes for a short time; ``solve_part`` keeps the
part's new routes only if they are no worse (with their timing, which this module does not
see). Routes of an improved part become seeds again; a seed is tried once otherwise, and
when every seed has been tried the round starts over with another random order.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .layout import Layout, node_xy
from .routing import plan_objective

ROUTES_PER_PART = 4  # 3 and 5 measured worse on R1/RC1; 1.0 s parts much worse than 0.2-0.4 s
PART_SECONDS = 0.2
PART_SOLUTIONS = 40
UNSERVED_PER_PART = 10


@dataclass
class Part:
    """Vehicles (indices of the whole layout) and the jobs a sub-problem may plan."""

    vehicles: list[int]
    jobs: list[int]


def improve(lay: Layout, routes: list[list[int]], params, seconds: float, clock,
            solve_part: Callable, solutions: int | None = None,
            on_better: Callable[[], None] | None = None) -> bool:
    """Improve ``routes`` in place for ``seconds``, or for ``solutions`` sub-search solutions.

    ``solve_part(part, seconds, solution_limit) -> (cancelled, solutions found)`` solves
    one part in place, keeping its routes only if they are no worse. With ``solutions``
    every part is limited by solutions, not time, so the result does not depend on the
    machine's speed. ``on_better`` is called after each improved part. Returns True if a
    stop was requested.
    """
    rng = random.Random(params.seed)
    deadline = clock.elapsed() + seconds
    todo: list[int] = []
    while clock.elapsed() < deadline - 0.02 and (solutions is None or solutions > 0):
        if not todo:
            todo = [v for v, r in enumerate(routes) if r]
            rng.shuffle(todo)
            if len(todo) < 2:
                return False
        seed = todo.pop()
        if not routes[seed]:
            continue
        part = _part(lay, routes, seed, rng)
        before = _part_cost(lay, routes, part, params)
        left = max(0.0, deadline - clock.elapsed())
        if solutions is None:
            cancelled, _ = solve_part(part, min(PART_SECONDS, left), None)
        else:
            cancelled, found = solve_part(part, left, min(PART_SOLUTIONS, solutions))
            solutions -= max(found, 1)
        if cancelled:
            return True
        if _part_cost(lay, routes, part, params) < before:
            todo += [v for v in part.vehicles if routes[v] and v not in todo]
            if on_better is not None:
                on_better()
    return False


def _part_cost(lay: Layout, routes, part: Part, params) -> int:
    sub = [routes[v] if v in part.vehicles else [] for v in range(lay.num_vehicles)]
    return plan_objective(lay, sub, params.preferred_worker_cost)


def _part(lay: Layout, routes: list[list[int]], seed: int, rng: random.Random) -> Part:
    """The seed route, its nearest routes, crew partners, one empty worker, unplanned jobs."""
    used = [v for v, r in enumerate(routes) if r]
    centres = {v: _centroid(lay, routes[v]) for v in used}
    sx, sy = centres[seed]
    near = sorted(used, key=lambda v: ((centres[v][0] - sx) ** 2 + (centres[v][1] - sy) ** 2, v))
    vehicles = _with_crew_partners(lay, routes, near[:ROUTES_PER_PART])
    empty = [v for v, r in enumerate(routes) if not r]
    if empty:
        vehicles.append(rng.choice(empty))
    jobs = sorted({int(lay.node_job[n]) for v in vehicles for n in routes[v]})
    return Part(vehicles, jobs + _unserved_near(lay, routes, (sx, sy)))


def _with_crew_partners(lay: Layout, routes, vehicles: list[int]) -> list[int]:
    where = {n: v for v, r in enumerate(routes) for n in r}
    out, k = list(vehicles), 0
    while k < len(out):
        for n in routes[out[k]]:
            for m in lay.job_nodes[lay.node_job[n]]:
                if m != n and m in where and where[m] not in out:
                    out.append(where[m])
        k += 1
    return out


def _unserved_near(lay: Layout, routes, centre) -> list[int]:
    served = {int(lay.node_job[n]) for r in routes for n in r}
    left = [k for k in range(len(lay.jobs)) if k not in served]
    if not left:
        return []
    xy = np.array([node_xy(lay, lay.job_nodes[k][0]) for k in left])
    d = (xy[:, 0] - centre[0]) ** 2 + (xy[:, 1] - centre[1]) ** 2
    return sorted(left[i] for i in np.argsort(d, kind="stable")[:UNSERVED_PER_PART])


def _centroid(lay: Layout, nodes: list[int]) -> tuple[float, float]:
    pts = [node_xy(lay, n) for n in nodes]
    return (sum(x for x, _ in pts) / len(pts), sum(y for _, y in pts) / len(pts))
