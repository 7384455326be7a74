"""Ruin and recreate with the construction's exact insertion, aimed at unserved visits.

OR-Tools' local search, on days with lunch breaks, leaves visits out that fit: its break
reasoning in the local search rejects insertions that the routes can take (measured on the
generated 300-visit days: a plain greedy insertion after its search put 15 more visits on
seed 5). This phase works on node routes with ``construct.Plan``, whose insertion checks
windows, shifts, work limits and a worker's lunch break exactly and in constant time
(``slack``):

- each step takes out the served visits nearest to a seed visit, half the time an unserved
  one, so that room is made where a left-out visit lives;
- the removed and all unserved crew-1, unpinned visits are put back by regret insertion, or
  half the time by cheapest insertion (``construct.parallel``);
- the candidate replaces the current plan if its objective (the model's: penalties of
  unserved visits by priority tier, travel, preference costs) is no worse than the current
  one, or within a threshold of the best one (record-to-record travel; the threshold falls
  to zero over the phase, and a drift from the best is bounded by it); the best plan is kept;
- every ``POLISH_STEPS`` steps the current plan, and at the end the best plan, go through the
  local search of ``polish`` (more visits in, then less travel).

Only crew-1 visits with no pin are taken out; crew-2 visits and pinned ones stay where they
are, at their times, so the phase applies to any day.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np

from . import construct, polish
from .layout import Layout
from .routing import TimedRoute, job_penalties

RUIN_MIN, RUIN_MAX = 5, 15
# Share of the steps that take out strings of consecutive visits (else the nearest visits).
STRING_SHARE = 0.5
MAX_STRING = 6
# Share of the recreates by regret insertion (the others by cheapest insertion).
REGRET_SHARE = 0.5
# Share of the plan's travel accepted as a worsening at the start (falls linearly to 0).
THRESHOLD_SHARE = 0.03
# Every this many steps the current plan gets the travel-only local search (``polish``).
POLISH_STEPS = 100
# Share of the phase kept for the final local search of the best plan.
FINAL_POLISH_SHARE = 0.1


def improve(lay: Layout, timed: list[TimedRoute], preferred_cost: int, seconds: float, clock,
            rng: random.Random, iterations: int | None = None,
            should_stop: Callable[[], bool] | None = None) -> tuple[list[list[int]], bool]:
    """The best node routes found within ``seconds`` (or ``iterations`` steps if given), and
    whether ``should_stop`` asked to stop (polled at every step)."""
    routes = [list(t.nodes) for t in timed]
    fixed = fixed_starts(lay, timed)
    search = _Search(lay, fixed, preferred_cost)
    cost = best_cost = search.objective(routes)
    best = routes
    start, step = clock.elapsed(), 0
    while _more(clock, start, seconds * (1 - FINAL_POLISH_SHARE), step, iterations):
        if should_stop is not None and should_stop():
            return best, True
        step += 1
        candidate = search.ruin_recreate(routes, rng)
        new = search.objective(candidate)
        if new < best_cost:
            best, best_cost = candidate, new
        progress = step / iterations if iterations else (clock.elapsed() - start) / max(seconds, 1e-9)
        if new <= cost or new <= best_cost + _threshold(search.travel(candidate), progress):
            routes, cost = candidate, new
        if step % POLISH_STEPS == 0:
            routes = search.polish(routes, rng, lambda: start + seconds - clock.elapsed(), iterations)
            cost = search.objective(routes)
            if cost < best_cost:
                best, best_cost = routes, cost
    best = search.polish(best, rng, lambda: start + seconds - clock.elapsed(), iterations)
    return best, False


def _more(clock, start: float, seconds: float, step: int, iterations: int | None) -> bool:
    if iterations is not None:
        return step < iterations
    return clock.elapsed() - start < seconds


def _threshold(travel: int, progress: float) -> float:
    return THRESHOLD_SHARE * travel * max(0.0, 1.0 - progress)


def fixed_starts(lay: Layout, timed: list[TimedRoute]) -> dict[int, int]:
    """Start times of the nodes that stay put: crew-2 visits (pinned ones keep their range)."""
    return {n: s for t in timed for n, s in zip(t.nodes, t.starts) if len(lay.job_nodes[lay.node_job[n]]) == 2}


class _Search:
    """The state shared by every step: which jobs may move, who is near whom, one plan."""

    def __init__(self, lay: Layout, fixed: dict[int, int], preferred_cost: int) -> None:
        self.lay, self.fixed = lay, fixed
        self.plan = construct.Plan(lay, preferred_cost)
        self.free = np.array([_movable(lay, k) for k in range(len(lay.jobs))], dtype=bool)
        self.near = _neighbours(lay)
        self.lo, self.hi = lay.lo.copy(), lay.hi.copy()
        for node, t in fixed.items():
            self.lo[node] = self.hi[node] = t
        # Computed once: every step's objective needs them (``plan_objective`` rebuilt them
        # per call, a tenth of a step).
        self.penalties = np.array(job_penalties(lay, preferred_cost), dtype=np.int64)
        self.node_job = np.asarray(lay.node_job, dtype=np.int64)

    def travel(self, routes: list[list[int]]) -> int:
        """Travel of the routes, home to home."""
        lay = self.lay
        total = 0
        for v, route in enumerate(routes):
            if route:
                path = np.array([lay.starts[v], *route, lay.ends[v]], dtype=np.int64)
                total += int(lay.vehicle_travel(v)[path[:-1], path[1:]].sum())
        return total

    def objective(self, routes: list[list[int]]) -> int:
        """``routing.plan_objective`` of the routes, with the penalties computed once."""
        nodes = [n for r in routes for n in r]
        served = np.unique(self.node_job[nodes]) if nodes else np.zeros(0, dtype=np.int64)
        unserved = int(self.penalties.sum()) - int(self.penalties[served].sum())
        pref = self.plan.pref_cost
        preference = sum(int(pref[r, v].sum()) for v, r in enumerate(routes) if r)
        return unserved + self.travel(routes) + preference

    def polish(self, routes: list[list[int]], rng: random.Random, time_left, iterations: int | None) -> list[list[int]]:
        """``polish.polish`` of ``routes`` (until it converges when counting ``iterations``,
        so that a run is reproducible; else while ``time_left()`` is positive)."""
        left = (lambda: 1.0) if iterations is not None else time_left
        return polish.polish(self.lay, routes, self.lo, self.hi, self.plan.preferred_cost, self.free, left, rng)

    def ruin_recreate(self, routes: list[list[int]], rng: random.Random) -> list[list[int]]:
        lay = self.lay
        served = {int(lay.node_job[n]) for r in routes for n in r}
        unserved = [k for k in range(len(lay.jobs)) if k not in served]
        movable = [k for k in served if self.free[k]]
        if not movable:
            return routes
        seed = rng.choice(unserved) if unserved and rng.random() < 0.5 else rng.choice(movable)
        count = rng.randint(RUIN_MIN, RUIN_MAX)
        if rng.random() < STRING_SHARE:
            removed = self._strings(routes, seed, served, count, rng)
        else:
            removed = [k for k in self.near[seed] if k in served and self.free[k]][:count]
        gone = {n for k in removed for n in lay.job_nodes[k]}
        self._reset([[n for n in r if n not in gone] for r in routes])
        # Only crew-1, unpinned visits go back in: a crew put on two routes here would keep
        # its common start only for this step (later steps hold just the starts of the first
        # plan fixed), so its two visits could drift apart. The final repair inserts crews.
        order = removed + [k for k in unserved if self.free[k]]
        rng.shuffle(order)
        construct.parallel(lay, order, plan=self.plan, regret=rng.random() < REGRET_SHARE)
        return [list(r) for r in self.plan.routes]

    def _strings(self, routes, seed: int, served: set[int], count: int, rng: random.Random) -> list[int]:
        """Strings of consecutive visits in the routes nearest to ``seed`` (SISR-like)."""
        lay = self.lay
        where = {n: (v, i) for v, r in enumerate(routes) for i, n in enumerate(r)}
        removed: list[int] = []
        touched: set[int] = set()
        for k in self.near[seed]:
            if len(removed) >= count:
                break
            node = lay.job_nodes[k][0]
            if k not in served or node not in where or where[node][0] in touched:
                continue
            v, i = where[node]
            touched.add(v)
            size = rng.randint(1, min(MAX_STRING, len(routes[v]), count - len(removed)))
            first = rng.randint(max(0, i - size + 1), min(i, len(routes[v]) - size))
            removed += [j for j in (int(lay.node_job[n]) for n in routes[v][first:first + size]) if self.free[j]]
        return removed

    def _reset(self, routes: list[list[int]]) -> None:
        plan = self.plan
        plan.lo[:], plan.hi[:] = self.lay.lo, self.lay.hi
        plan.load_routes(routes, self.fixed)


def _movable(lay: Layout, k: int) -> bool:
    job = lay.jobs[k]
    return len(lay.job_nodes[k]) == 1 and not job.pinned_workers and job.pinned_start is None


def _neighbours(lay: Layout) -> list[list[int]]:
    """Per job, every job by closeness (travel both ways of the first profile), itself first."""
    firsts = np.array([nodes[0] for nodes in lay.job_nodes], dtype=np.int64)
    tt = lay.travel[0][np.ix_(firsts, firsts)]
    closeness = tt + tt.T
    return [list(map(int, np.argsort(row, kind="stable"))) for row in closeness]
