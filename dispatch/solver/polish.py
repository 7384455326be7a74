"""Travel-only local search on node routes: the visits served stay the same, the travel
(plus preference costs) goes down.

Moves, each tried for one visit against every place at once (numpy):

- *relocate*: the visit moves to another worker's route, at any position;
- *exchange*: the visit and a visit of another route trade places;
- *move within the route*: the visit moves to another position of its own route.

Between routes a move is checked in constant time with the two-state times of ``slack``
(windows, shift, lunch break, ``max_work``, capacity, qualifications); within a route the
cheapest candidates are re-timed one by one (``slack.route_fits_fast``). Every accepted
move is also confirmed by ``schedule.simulate``, the timing the rest of the solver uses, so
a polished route can always be timed. The first improving move found for a visit is made
(the best over its neighbourhood); passes repeat until none improves or the time is up.

Crew-2 and pinned visits stay where they are (their start fixed through ``lo``/``hi``),
and routes of workers with more than one break are left alone.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import numpy as np

from . import construct
from .layout import Layout
from .schedule import simulate
from .slack import BreakRule, INF, break_rule, connect, extend, route_fits_fast, route_times, supports

SLOT_KEYS = ("veh", "prev", "next", "ready0", "ready1", "late0", "late1", "base")
VISIT_KEYS = ("node", "veh", "prev", "next", "ready0", "ready1", "late0", "late1")


def polish(lay: Layout, routes: Sequence[Sequence[int]], lo: np.ndarray, hi: np.ndarray, preferred_cost: int,
           movable: np.ndarray, time_left: Callable[[], float], rng: random.Random) -> list[list[int]]:
    """Routes with every served visit still served, no more travel + preference cost.

    Args:
        routes: node routes per vehicle, each one feasible.
        lo, hi: start range per node (crew starts fixed).
        movable: per job index, whether its visit may move (crew-1, not pinned).
        time_left: seconds this search may still use (it stops when <= 0).
    """
    search = LocalSearch(lay, routes, lo, hi, preferred_cost, movable)
    search.run(time_left, rng)
    return search.routes


class LocalSearch:
    """Routes, their two-state times and the flat arrays every move is evaluated on."""

    def __init__(self, lay: Layout, routes, lo, hi, preferred_cost: int, movable: np.ndarray) -> None:
        self.lay, self.lo, self.hi = lay, lo, hi
        self.plan = construct.Plan(lay, preferred_cost)
        self.routes = [list(r) for r in routes]
        self.active = np.array([supports(lay, v) for v in range(lay.num_vehicles)], dtype=bool)
        rules = [break_rule(lay, v) for v in range(lay.num_vehicles)]
        self.brk = tuple(np.array([getattr(r, f) for r in rules], dtype=np.int64) for f in ("start", "end", "duration"))
        self.rules: list[BreakRule] = rules
        self.movable_node = np.zeros(lay.num_nodes, dtype=bool)
        for k, nodes in enumerate(lay.job_nodes):
            if movable[k]:
                self.movable_node[nodes[0]] = True
        self.work = np.array([self._work(v) for v in range(lay.num_vehicles)], dtype=np.int64)
        self.load = np.array([int(lay.demand[r].sum()) if r else 0 for r in self.routes], dtype=np.int64)
        self._per_vehicle = [self._arrays(v) for v in range(lay.num_vehicles)]
        self._flat()
        self.moves = 0

    # -- the search loop ---------------------------------------------------------------

    def run(self, time_left: Callable[[], float], rng: random.Random) -> None:
        """Passes over the movable visits until no move improves or the time is up."""
        improved = True
        while improved and time_left() > 0:
            improved = False
            nodes = [n for v, r in enumerate(self.routes) if self.active[v] for n in r if self.movable_node[n]]
            rng.shuffle(nodes)
            for node in nodes:
                if time_left() <= 0:
                    return
                if self.relocate(node) or self.exchange(node) or self.move_within(node):
                    improved = True
                    self.moves += 1

    # -- moves -------------------------------------------------------------------------

    def relocate(self, node: int) -> bool:
        """Move ``node`` to the cheapest feasible place in another route, if that gains."""
        v, i = self._where(node)
        gain = self._removal_gain(v, i)
        if gain is None:
            return False
        s, plan, brk = self.slots, self.plan, self.brk
        veh = s["veh"]
        tp = plan.travel3[plan.vprof[veh], s["prev"], node]
        tn = plan.travel3[plan.vprof[veh], node, s["next"]]
        r0, r1 = extend(s["ready0"], s["ready1"], tp, self.lo[node], self.hi[node], self.lay.service[node],
                        brk[0][veh], brk[1][veh], brk[2][veh])
        ok = connect(r0, r1, tn, s["late0"], s["late1"], brk[0][veh], brk[1][veh], brk[2][veh])
        detour = tp + tn - s["base"]
        ok &= (veh != v) & plan.allowed[node, veh]
        ok &= self.work[veh] + detour + self.lay.service[node] <= plan.max_work[veh]
        ok &= self.load[veh] + self.lay.demand[node] <= plan.cap[veh]
        delta = np.where(ok, detour + plan.pref_cost[node, veh] - gain, INF)
        for slot in _improving(delta):
            w, pos = int(veh[slot]), int(s["pos"][slot])
            if self._apply({v: _without(self.routes[v], i), w: _with(self.routes[w], pos, node)}):
                return True
        return False

    def exchange(self, node: int) -> bool:
        """Trade places with a visit of another route, if that gains."""
        v, i = self._where(node)
        c, plan, lay, brk = self.visits, self.plan, self.lay, self.brk
        if not len(c["node"]):
            return False
        other, veh = c["node"], c["veh"]
        path = [lay.starts[v], *self.routes[v], lay.ends[v]]
        a, b = path[i], path[i + 2]
        tt = lay.vehicle_travel(v)
        times = self.times[v]
        # the other visit into this route, in node's place
        tp1, tn1 = tt[a, other], tt[other, b]
        r0, r1 = extend(times.ready0[i], times.ready1[i], tp1, self.lo[other], self.hi[other], lay.service[other],
                        *(x[v] for x in brk))
        ok = connect(r0, r1, tn1, times.late0[i + 2], times.late1[i + 2], *(x[v] for x in brk))
        # node into the other route, in the other visit's place
        prof = plan.vprof[veh]
        tp2, tn2 = plan.travel3[prof, c["prev"], node], plan.travel3[prof, node, c["next"]]
        r0, r1 = extend(c["ready0"], c["ready1"], tp2, self.lo[node], self.hi[node], lay.service[node],
                        brk[0][veh], brk[1][veh], brk[2][veh])
        ok &= connect(r0, r1, tn2, c["late0"], c["late1"], brk[0][veh], brk[1][veh], brk[2][veh])
        out1 = int(tt[a, node] + tt[node, b])
        out2 = plan.travel3[prof, c["prev"], other] + plan.travel3[prof, other, c["next"]]
        here = tp1 + tn1 - out1 + lay.service[other] - lay.service[node]
        there = tp2 + tn2 - out2 + lay.service[node] - lay.service[other]
        ok &= (veh != v) & plan.allowed[node, veh] & plan.allowed[other, v] & self.movable_node[other]
        ok &= (self.work[v] + here <= plan.max_work[v]) & (self.work[veh] + there <= plan.max_work[veh])
        ok &= self.load[v] - lay.demand[node] + lay.demand[other] <= plan.cap[v]
        ok &= self.load[veh] - lay.demand[other] + lay.demand[node] <= plan.cap[veh]
        pref = plan.pref_cost
        delta = (tp1 + tn1 - out1) + (tp2 + tn2 - out2) + pref[other, v] + pref[node, veh] - pref[node, v] - pref[other, veh]
        delta = np.where(ok, delta, INF)
        for k in _improving(delta):
            w, j = int(veh[k]), self._where(int(other[k]))[1]
            route_v, route_w = list(self.routes[v]), list(self.routes[w])
            route_v[i], route_w[j] = int(other[k]), node
            if self._apply({v: route_v, w: route_w}):
                return True
        return False

    def move_within(self, node: int) -> bool:
        """Move ``node`` to another position of its own route, if that gains."""
        v, i = self._where(node)
        route = self.routes[v]
        if len(route) < 2:
            return False
        gain = self._removal_gain(v, i)
        if gain is None:
            return False
        rest = _without(route, i)
        lay = self.lay
        tt = lay.vehicle_travel(v)
        path = np.array([lay.starts[v], *rest, lay.ends[v]], dtype=np.int64)
        gain -= int(self.plan.pref_cost[node, v])  # the same worker keeps it
        delta = tt[path[:-1], node] + tt[node, path[1:]] - tt[path[:-1], path[1:]] - gain
        delta[i] = INF  # its own place
        for pos in _improving(delta):
            candidate = _with(rest, int(pos), node)
            if route_fits_fast(lay, v, candidate, self.lo, self.hi) and self._apply({v: candidate}):
                return True
        return False

    # -- bookkeeping -------------------------------------------------------------------

    def _removal_gain(self, v: int, i: int) -> int | None:
        """Travel and preference cost saved by taking out the ``i``-th visit of route ``v``,
        or ``None`` if the route without it cannot be timed (a removal may not fit when a
        crew visit's fixed start follows)."""
        lay, times = self.lay, self.times[v]
        path, node = times.path, self.routes[v][i]
        tt = lay.vehicle_travel(v)
        a, b = path[i], path[i + 2]
        rule = self.rules[v]
        if not connect(times.ready0[i], times.ready1[i], int(tt[a, b]), times.late0[i + 2], times.late1[i + 2],
                       rule.start, rule.end, rule.duration):
            return None
        kept = 0 if len(self.routes[v]) == 1 else int(tt[a, b])
        return int(tt[a, node] + tt[node, b]) - kept + int(self.plan.pref_cost[node, v])

    def _apply(self, changed: dict[int, list[int]]) -> bool:
        """Adopt the changed routes if ``simulate`` times each of them (the rule the rest
        of the solver times plans by); refreshes the arrays."""
        for v, route in changed.items():
            if route and simulate(self.lay, v, route, self.lo, self.hi) is None:
                return False
        for v, route in changed.items():
            self.routes[v] = route
            self.work[v] = self._work(v)
            self.load[v] = int(self.lay.demand[route].sum()) if route else 0
            self._per_vehicle[v] = self._arrays(v)
        self._flat()
        return True

    def _work(self, v: int) -> int:
        route = self.routes[v]
        if not route:
            return 0
        tt = self.lay.vehicle_travel(v)
        path = [self.lay.starts[v], *route, self.lay.ends[v]]
        return int(tt[path[:-1], path[1:]].sum() + self.lay.service[route].sum())

    def _arrays(self, v: int):
        """(times, slot arrays, visit arrays) of vehicle ``v``; no slots or visits for a
        vehicle this search leaves alone."""
        lay, route = self.lay, self.routes[v]
        times = route_times(lay, v, route, self.lo, self.hi)
        path = np.array(times.path, dtype=np.int64)
        n = len(route)
        if not self.active[v]:
            n_slots, n_visits = 0, 0
        else:
            n_slots, n_visits = n + 1, n
        tt = lay.vehicle_travel(v)
        base = tt[path[:-1], path[1:]] if n else np.zeros(1, dtype=np.int64)
        slots = {
            "veh": np.full(n_slots, v, dtype=np.int64), "pos": np.arange(n_slots, dtype=np.int64),
            "prev": path[:-1][:n_slots], "next": path[1:][:n_slots],
            "ready0": times.ready0[:-1][:n_slots], "ready1": times.ready1[:-1][:n_slots],
            "late0": times.late0[1:][:n_slots], "late1": times.late1[1:][:n_slots], "base": base[:n_slots],
        }
        visits = {
            "node": path[1:-1][:n_visits], "veh": np.full(n_visits, v, dtype=np.int64),
            "prev": path[:-2][:n_visits], "next": path[2:][:n_visits],
            "ready0": times.ready0[:-2][:n_visits], "ready1": times.ready1[:-2][:n_visits],
            "late0": times.late0[2:][:n_visits], "late1": times.late1[2:][:n_visits],
        }
        return times, slots, visits

    def _flat(self) -> None:
        self.times = [t for t, _, _ in self._per_vehicle]
        self.slots = {k: np.concatenate([s[k] for _, s, _ in self._per_vehicle]) for k in (*SLOT_KEYS, "pos")}
        self.visits = {k: np.concatenate([c[k] for _, _, c in self._per_vehicle]) for k in VISIT_KEYS}
        self._position = {int(n): (v, i) for v, r in enumerate(self.routes) for i, n in enumerate(r)}

    def _where(self, node: int) -> tuple[int, int]:
        return self._position[node]


def _improving(delta: np.ndarray, tries: int = 8) -> list[int]:
    """Indices of the (at most ``tries``) most negative entries below zero, best first."""
    idx = np.flatnonzero(delta < 0)
    if not len(idx):
        return []
    return [int(k) for k in idx[np.argsort(delta[idx], kind="stable")][:tries]]


def _without(route: list[int], i: int) -> list[int]:
    return route[:i] + route[i + 1:]


def _with(route: list[int], pos: int, node: int) -> list[int]:
    return route[:pos] + [node] + route[pos:]
