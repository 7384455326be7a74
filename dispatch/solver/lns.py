"""Ruin and recreate with the construction's exact insertion, aimed at unserved visits.

OR-Tools' local search, on days with lunch breaks, leaves visits out that fit: its break
reasoning in the local search rejects insertions that the routes can take (measured on the
generated 300-visit days: a plain greedy insertion after its search put 15 more visits on
seed 5). This phase works on node routes with ``construct.Plan``, whose insertion checks
windows, shifts, work limits and a worker's lunch break exactly and in constant time
(``slack``):

- each step takes out the served visits nearest to a seed visit, half the time an unserved
  one, so that room is made where a left-out visit lives (or strings of consecutive visits
  around it); on a day without two-person visits, 30% of the steps instead take out visits
  of the largest detour (worst removal), which aims at travel;
- the removed and all unserved visits are put back by regret insertion, or half the time by
  cheapest insertion (``construct.parallel``); a two-person visit at one common start, which
  the routes then carry (``Routes.crew_starts``) so that later steps hold it;
- the candidate replaces the current plan if its objective (the model's: penalties of
  unserved visits by priority tier, travel, preference costs) is no worse than the current
  one, or within a threshold of the best one (record-to-record travel; the threshold falls
  to zero over the phase, and a drift from the best is bounded by it); the best plan is kept;
- every ``POLISH_STEPS`` steps the current plan, and at the end the best plan, go through the
  local search of ``polish`` (more visits in, then less travel), whose first pass tries the
  visits of the routes changed since the last polish.

Visits pinned to a worker or a time stay where they are. A two-person visit (unless it is
published, with a start to keep) is taken out whole (both crew members) and put back by the
pair insertion at a new common start: kept in place, the two bath aides of a morning bath
could not make room for a one-person bath beside it, and the month's simulation left such
visits out (issue 13). The local search of ``polish`` moves one-person visits only; crews
keep their starts there.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import construct, polish
from .layout import Layout
from .routing import TimedRoute, job_penalties

RUIN_MIN, RUIN_MAX = 5, 15
# Share of the steps that take out strings of consecutive visits (else the nearest visits).
STRING_SHARE = 0.5
MAX_STRING = 6
# Share of the ruins that take out the visits of largest detour (worst removal), and how strongly
# the draw favours the largest (the rank is the list's length times a uniform draw to this power).
WORST_SHARE = 0.3
WORST_BIAS = 3
# Share of the recreates by regret insertion (the others by cheapest insertion).
REGRET_SHARE = 0.5
# Share of the recreates that put two-person visits back after the one-person ones.
PAIRS_LAST_SHARE = 0.5
# Share of the plan's travel accepted as a worsening at the start (falls linearly to 0).
THRESHOLD_SHARE = 0.03
# Every this many steps the current plan gets the travel-only local search (``polish``).
POLISH_STEPS = 200
# Share of the phase kept for the final local search of the best plan.
FINAL_POLISH_SHARE = 0.1


@dataclass(frozen=True)
class Routes:
    """Node routes, and the common start of each two-person visit on them (node → start)."""

    nodes: list[list[int]]
    crew_starts: dict[int, int]


def improve(lay: Layout, timed: list[TimedRoute], preferred_cost: int, seconds: float, clock,
            rng: random.Random, iterations: int | None = None,
            should_stop: Callable[[], bool] | None = None) -> tuple[Routes, bool]:
    """The best routes found within ``seconds`` (or ``iterations`` steps if given), and
    whether ``should_stop`` asked to stop (polled at every step)."""
    current = Routes([list(t.nodes) for t in timed], crew_starts(lay, timed))
    search = _Search(lay, preferred_cost)
    cost = best_cost = search.objective(current.nodes)
    best = current
    start, step, polished = clock.elapsed(), 0, None
    while _more(clock, start, seconds * (1 - FINAL_POLISH_SHARE), step, iterations):
        if should_stop is not None and should_stop():
            return best, True
        step += 1
        candidate = search.ruin_recreate(current, rng)
        new = search.objective(candidate.nodes)
        if new < best_cost:
            best, best_cost = candidate, new
        progress = step / iterations if iterations else (clock.elapsed() - start) / max(seconds, 1e-9)
        if new <= cost or new <= best_cost + _threshold(search.travel(candidate.nodes), progress):
            current, cost = candidate, new
        if step % POLISH_STEPS == 0:
            current = polished = search.polish(current, rng, lambda: start + seconds - clock.elapsed(), iterations,
                                               polished)
            cost = search.objective(current.nodes)
            if cost < best_cost:
                best, best_cost = current, cost
    best = search.polish(best, rng, lambda: start + seconds - clock.elapsed(), iterations, polished)
    return best, False


def _more(clock, start: float, seconds: float, step: int, iterations: int | None) -> bool:
    """Counting steps (a solution limit, for reproducible runs) the solve's time cap still
    holds: a limit of 100,000 solutions (the API allows it) ran for hours past a 30 s cap."""
    if iterations is not None:
        return step < iterations and clock.left() > 0
    return clock.elapsed() - start < seconds


def _threshold(travel: int, progress: float) -> float:
    return THRESHOLD_SHARE * travel * max(0.0, 1.0 - progress)


def crew_starts(lay: Layout, timed: list[TimedRoute]) -> dict[int, int]:
    """The start of every two-person visit's nodes on the timed routes."""
    return {n: s for t in timed for n, s in zip(t.nodes, t.starts) if _crew_node(lay, n)}


def ranges_with(lo: np.ndarray, hi: np.ndarray, starts: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Copies of the start ranges ``lo``/``hi`` with each node of ``starts`` fixed at its start."""
    lo, hi = lo.copy(), hi.copy()
    for node, t in starts.items():
        lo[node] = hi[node] = t
    return lo, hi


def _crew_node(lay: Layout, node: int) -> bool:
    """Whether ``node`` is a visit of a two-person job (a home is not)."""
    k = lay.node_job[node]
    return k >= 0 and len(lay.job_nodes[k]) == 2


class _Search:
    """The state shared by every step: which jobs may be taken out, which may move alone in
    the local search, who is near whom, one plan."""

    def __init__(self, lay: Layout, preferred_cost: int) -> None:
        self.lay = lay
        self.plan = construct.Plan(lay, preferred_cost)
        self.ruinable = np.array([_ruinable(lay, k) for k in range(len(lay.jobs))], dtype=bool)
        self.free = np.array([_movable(lay, k) for k in range(len(lay.jobs))], dtype=bool)
        self.near = _neighbours(lay)
        # Computed once: every step's objective needs them (``plan_objective`` rebuilt them
        # per call, a tenth of a step).
        self.penalties = np.array(job_penalties(lay, preferred_cost), dtype=np.int64)
        self.node_job = np.asarray(lay.node_job, dtype=np.int64)
        self.crew_node = np.array([_crew_node(lay, n) for n in range(lay.num_nodes)], dtype=bool)
        # Worst removal only where it was measured: days without two-person visits (on a crowded
        # test day with crews it changed which crews the plan keeps; not measured on full days).
        self.worst_share = 0.0 if self.crew_node.any() else WORST_SHARE

    def _visits(self, routes: list[list[int]]) -> tuple[np.ndarray, ...]:
        """Per visit on the routes: its route's travel profile, the node before it, itself and
        the node after it (a home at either end of a route)."""
        lay, prof, before, node, after = self.lay, [], [], [], []
        for v, route in enumerate(routes):
            if route:
                path = [lay.starts[v], *route, lay.ends[v]]
                before += path[:-2]
                node += route
                after += path[2:]
                prof += [lay.vehicle_profile[v]] * len(route)
        return tuple(np.array(a, dtype=np.int64) for a in (prof, before, node, after))

    def travel(self, routes: list[list[int]]) -> int:
        """Travel of the routes, home to home (``Layout.route_travel`` summed, in one numpy
        gather: per route, it was a tenth of a step): every leg into a visit, and the leg
        home after each route's last one."""
        prof, before, node, after = self._visits(routes)
        tr = self.plan.travel3
        last = self.node_job[after] < 0
        return int(tr[prof, before, node].sum() + tr[prof[last], node[last], after[last]].sum())

    def objective(self, routes: list[list[int]]) -> int:
        """``routing.plan_objective`` of the routes, with the penalties computed once."""
        nodes = [n for r in routes for n in r]
        if not nodes:
            return int(self.penalties.sum())
        served = np.unique(self.node_job[nodes])
        unserved = int(self.penalties.sum()) - int(self.penalties[served].sum())
        vehicles = [v for v, r in enumerate(routes) for _ in r]
        preference = int(self.plan.pref_cost[nodes, vehicles].sum())
        return unserved + self.travel(routes) + preference

    def polish(self, routes: Routes, rng: random.Random, time_left, iterations: int | None,
               since: Routes | None = None) -> Routes:
        """``polish.polish`` of the one-person visits (until it converges when counting
        ``iterations``, so that a run is reproducible; else while ``time_left()`` is positive).

        ``since``, a plan the local search left (a local optimum): its first pass then tries
        only the visits of routes that differ from it (what the local search does from its
        second pass on); 3-12 of 25 routes were unchanged after 100 steps on seed 5."""
        left = (lambda: 1.0) if iterations is not None else time_left
        lo, hi = ranges_with(self.lay.lo, self.lay.hi, routes.crew_starts)
        changed = None
        if since is not None and since.crew_starts == routes.crew_starts:
            changed = {v for v, (a, b) in enumerate(zip(since.nodes, routes.nodes)) if a != b}
        nodes = polish.polish(self.lay, routes.nodes, lo, hi, self.plan.preferred_cost, self.free, left, rng, changed)
        return Routes(nodes, routes.crew_starts)

    def ruin_recreate(self, routes: Routes, rng: random.Random) -> Routes:
        lay = self.lay
        served = {int(lay.node_job[n]) for r in routes.nodes for n in r}
        unserved = [k for k in range(len(lay.jobs)) if k not in served]
        movable = [k for k in served if self.ruinable[k]]
        if not movable:
            return routes
        seed = rng.choice(unserved) if unserved and rng.random() < 0.5 else rng.choice(movable)
        count = rng.randint(RUIN_MIN, RUIN_MAX)
        if self.worst_share > 0 and rng.random() < self.worst_share:
            removed = self._worst(routes.nodes, count, rng)
        elif rng.random() < STRING_SHARE:
            removed = self._strings(routes.nodes, seed, served, count, rng)
        else:
            removed = [k for k in self.near[seed] if k in served and self.ruinable[k]][:count]
        gone = {n for k in removed for n in lay.job_nodes[k]}
        kept = {n: t for n, t in routes.crew_starts.items() if n not in gone}
        self._reset([[n for n in r if n not in gone] for r in routes.nodes], kept)
        order = removed + unserved
        rng.shuffle(order)
        self._recreate(order, rng)
        return Routes([list(r) for r in self.plan.routes], self._plan_crew_starts())

    def _recreate(self, order: list[int], rng: random.Random) -> None:
        """Put ``order`` back: the construction inserts two-person visits first (each at the
        earliest start both can make); half the time they go last instead, so that a
        one-person visit only their crew can make is placed before them."""
        regret = rng.random() < REGRET_SHARE
        pairs = [k for k in order if len(self.lay.job_nodes[k]) == 2]
        if not pairs or rng.random() >= PAIRS_LAST_SHARE:
            construct.parallel(self.lay, order, plan=self.plan, regret=regret)
            return
        construct.parallel(self.lay, [k for k in order if k not in pairs], plan=self.plan, regret=regret)
        for k in pairs:
            self.plan.insert_job(k)

    def _plan_crew_starts(self) -> dict[int, int]:
        """The plan's two-person starts: a crew's nodes are inserted at one start (lo = hi)."""
        plan, crew = self.plan, self.crew_node
        if not crew.any():
            return {}
        return {n: int(plan.lo[n]) for r in plan.routes for n in r if crew[n]}

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
            removed += [j for j in (int(lay.node_job[n]) for n in routes[v][first:first + size]) if self.ruinable[j]]
        return removed

    def _worst(self, routes: list[list[int]], count: int, rng: random.Random) -> list[int]:
        """``count`` one-person visits among those whose detour (the travel their removal saves)
        is largest, drawn with a bias to the largest (Ropke and Pisinger's worst removal)."""
        prof, before, node, after = self._visits(routes)
        if not len(node):
            return []
        tr = self.plan.travel3
        detour = tr[prof, before, node] + tr[prof, node, after] - tr[prof, before, after]
        jobs = self.node_job[node]
        order = [int(k) for k in jobs[np.argsort(-detour, kind="stable")] if self.ruinable[k] and self.free[k]]
        removed = []
        while order and len(removed) < count:
            removed.append(order.pop(int(len(order) * rng.random() ** WORST_BIAS)))
        return removed

    def _reset(self, routes: list[list[int]], crew_starts: dict[int, int]) -> None:
        plan = self.plan
        plan.lo[:], plan.hi[:] = self.lay.lo, self.lay.hi
        plan.load_routes(routes, crew_starts)


def _unpinned(job) -> bool:
    return not job.pinned_workers and job.pinned_start is None


def _ruinable(lay: Layout, k: int) -> bool:
    """May be taken out and put back: an unpinned visit, but a two-person one only if it has no
    published start to keep (``kept_start``). Its new start is chosen by the insertion alone, which
    does not see the cost of moving a start two caregivers and an elder were told; a re-plan keeps
    published crews where they are, as before."""
    job = lay.jobs[k]
    return _unpinned(job) and (len(lay.job_nodes[k]) == 1 or job.kept_start is None)


def _movable(lay: Layout, k: int) -> bool:
    """A one-person visit with no pin: the local search may move it on its own."""
    return len(lay.job_nodes[k]) == 1 and _unpinned(lay.jobs[k])


def _neighbours(lay: Layout) -> list[list[int]]:
    """Per job, every job by closeness (travel both ways of the first profile), itself first."""
    firsts = np.array([nodes[0] for nodes in lay.job_nodes], dtype=np.int64)
    tt = lay.travel[0][np.ix_(firsts, firsts)]
    closeness = tt + tt.T
    return [list(map(int, np.argsort(row, kind="stable"))) for row in closeness]
