r"""Local search on node routes: more visits served, then less travel (plus preference
costs).

Left-out visits are put on a route directly or in the place of a visit that moves to
another route (an ejection chain of two); one that still does not fit may replace a served
visit of the same priority tier that costs more travel. Then moves, each tried for one visit against
every place at once (numpy):

- *relocate*: the visit (with up to two after it) moves to another worker's route, at any
  position;
- *exchange*: the visit and a visit of another route trade places;
- *2-opt\**: the visits after it and the visits after a place in another route trade
  routes;
- *move within the route*: the visit (with up to two after it) moves to another position of
  its own route;
- *2-opt within the route*: a run of visits starting at it is reversed.

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
from .routing import job_penalties
from .schedule import simulate
from .slack import BreakRule, INF, break_rule, connect, extend, route_fits_fast, route_times, supports

SLOT_KEYS = ("veh", "prev", "next", "ready0", "ready1", "late0", "late1", "base")
# Visits tried as the one moved out of the way of a left-out visit, cheapest first.
EJECTION_TRIES = 12
# Longest run of consecutive visits moved together to another route.
MAX_SEGMENT = 3
TAIL_KEYS = ("veh", "cut", "at", "head", "first", "last", "movable")
VISIT_KEYS = ("node", "veh", "prev", "next", "ready0", "ready1", "late0", "late1")


def polish(lay: Layout, routes: Sequence[Sequence[int]], lo: np.ndarray, hi: np.ndarray, preferred_cost: int,
           movable: np.ndarray, time_left: Callable[[], float], rng: random.Random,
           changed: set[int] | None = None) -> list[list[int]]:
    """Routes with every served visit still served, no more travel + preference cost.

    Args:
        routes: node routes per vehicle, each one feasible.
        lo, hi: start range per node (crew starts fixed).
        movable: per job index, whether its visit may move (crew-1, not pinned).
        time_left: seconds this search may still use (it stops when <= 0).
        changed: the vehicles whose visits the first pass tries to move (default all): those
            whose routes changed since the routes were last polished.
    """
    search = LocalSearch(lay, routes, lo, hi, preferred_cost, movable)
    search.run(time_left, rng, changed)
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
        penalties = job_penalties(lay, preferred_cost)
        self.tier = np.zeros(lay.num_nodes, dtype=np.int64)
        for k, nodes in enumerate(lay.job_nodes):
            self.tier[nodes] = penalties[k]
        self.movable_node = np.zeros(lay.num_nodes, dtype=bool)
        for k, nodes in enumerate(lay.job_nodes):
            if movable[k]:
                self.movable_node[nodes[0]] = True
        self.ends = np.array(lay.ends, dtype=np.int64)
        self.travel = np.zeros(lay.num_vehicles, dtype=np.int64)
        self.work = np.array([self._work(v) for v in range(lay.num_vehicles)], dtype=np.int64)
        self.load = np.array([int(lay.demand[r].sum()) if r else 0 for r in self.routes], dtype=np.int64)
        self._per_vehicle = [self._arrays(v) for v in range(lay.num_vehicles)]
        self._flat()
        self.moves = 0
        self.last_changed: set[int] = set()

    # -- the search loop ---------------------------------------------------------------

    def run(self, time_left: Callable[[], float], rng: random.Random, changed: set[int] | None = None) -> None:
        """Passes over the movable visits until no move improves or the time is up; after
        the first pass (over the visits of ``changed``, default all), only visits of routes
        changed in the pass before."""
        vehicles = set(range(self.lay.num_vehicles)) if changed is None else set(changed)
        while vehicles and time_left() > 0:
            vehicles |= self.insert_unserved(rng)
            vehicles |= self.trade_unserved(rng)
            nodes = [n for v in sorted(vehicles) if self.active[v] for n in self.routes[v] if self.movable_node[n]]
            rng.shuffle(nodes)
            vehicles = set()
            for node in nodes:
                if time_left() <= 0:
                    return
                if self.relocate(node) or self.exchange(node) or self.swap_tails(node) or self.move_within(node) \
                        or self.reverse_within(node):
                    self.moves += 1
                    vehicles |= self.last_changed

    # -- moves -------------------------------------------------------------------------

    def insert_unserved(self, rng: random.Random) -> set[int]:
        """Put left-out visits on routes, directly or by moving a visit of the route out of
        the way into another route; the vehicles changed."""
        changed: set[int] = set()
        on_route = set(self._position)
        waiting = [n for n in np.flatnonzero(self.movable_node) if int(n) not in on_route]
        rng.shuffle(waiting)
        for node in sorted(waiting, key=lambda n: -self.lay.jobs[self.lay.node_job[n]].priority):
            if self._insert_direct(int(node)) or self._insert_by_ejection(int(node)):
                changed |= self.last_changed
        return changed

    def trade_unserved(self, rng: random.Random) -> set[int]:
        """A left-out visit takes the place of a served one of the same priority tier, or
        goes in anywhere while a served one of its tier is left out, when that saves travel
        (the same number of visits served, the cheaper ones); the vehicles changed."""
        changed: set[int] = set()
        on_route = set(self._position)
        waiting = [int(n) for n in np.flatnonzero(self.movable_node) if int(n) not in on_route]
        rng.shuffle(waiting)
        for node in waiting:
            if self._trade_in_place(node) or self._trade_anywhere(node):
                changed |= self.last_changed
        return changed

    def _same_tier(self, node: int, others: np.ndarray) -> np.ndarray:
        return self.tier[others] == self.tier[node]

    def _in_place_of(self, node: int) -> tuple[np.ndarray, np.ndarray]:
        """Per served visit ``other`` (``self.visits``): whether ``node`` can take its place on its
        route (timing with the break, allowed, movable, work and load limits), and the travel added."""
        c, plan, lay, brk = self.visits, self.plan, self.lay, self.brk
        other, veh = c["node"], c["veh"]
        prof = plan.vprof[veh]
        tp, tn = plan.travel3[prof, c["prev"], node], plan.travel3[prof, node, c["next"]]
        rule = (brk[0][veh], brk[1][veh], brk[2][veh])
        r0, r1 = extend(c["ready0"], c["ready1"], tp, self.lo[node], self.hi[node], lay.service[node], *rule)
        ok = connect(r0, r1, tn, c["late0"], c["late1"], *rule) & plan.allowed[node, veh] & self.movable_node[other]
        there = tp + tn - plan.travel3[prof, c["prev"], other] - plan.travel3[prof, other, c["next"]]
        ok &= self.work[veh] + there + lay.service[node] - lay.service[other] <= plan.max_work[veh]
        ok &= self.load[veh] - lay.demand[other] + lay.demand[node] <= plan.cap[veh]
        return ok, there

    def _trade_in_place(self, node: int) -> bool:
        plan, other, veh = self.plan, self.visits["node"], self.visits["veh"]
        if not len(other):
            return False
        ok, there = self._in_place_of(node)
        ok &= self._same_tier(node, other)
        delta = there + plan.pref_cost[node, veh] - plan.pref_cost[other, veh]
        for k in _improving(np.where(ok, delta, INF), tries=3):
            w, j = int(veh[k]), self._where(int(other[k]))[1]
            route = list(self.routes[w])
            route[j] = node
            if self._apply({w: route}):
                return True
        return False

    def _trade_anywhere(self, node: int) -> bool:
        c, plan, lay, brk = self.visits, self.plan, self.lay, self.brk
        other, veh = c["node"], c["veh"]
        if not len(other):
            return False
        cost = self._insertion_costs(node, exclude=-1)
        slot = int(np.argmin(cost))
        if cost[slot] >= INF:
            return False
        w, pos = int(self.slots["veh"][slot]), int(self.slots["pos"][slot])
        prof = plan.vprof[veh]
        through = plan.travel3[prof, c["prev"], c["next"]]
        rule = (brk[0][veh], brk[1][veh], brk[2][veh])
        ok = connect(c["ready0"], c["ready1"], through, c["late0"], c["late1"], *rule)
        ok &= (veh != w) & self.movable_node[other] & self._same_tier(node, other)
        alone = np.bincount(veh, minlength=lay.num_vehicles)[veh] == 1
        gain = plan.travel3[prof, c["prev"], other] + plan.travel3[prof, other, c["next"]] - np.where(alone, 0, through)
        delta = cost[slot] - gain - plan.pref_cost[other, veh]
        for k in _improving(np.where(ok, delta, INF), tries=3):
            u, j = int(veh[k]), self._where(int(other[k]))[1]
            if self._apply({w: self.routes[w][:pos] + [node] + self.routes[w][pos:], u: _without(self.routes[u], j)}):
                return True
        return False

    def _insert_direct(self, node: int) -> bool:
        delta = self._insertion_costs(node, exclude=-1)
        for slot in _improving(delta - INF // 2):
            w, pos = int(self.slots["veh"][slot]), int(self.slots["pos"][slot])
            if self._apply({w: self.routes[w][:pos] + [node] + self.routes[w][pos:]}):
                return True
        return False

    def _insert_by_ejection(self, node: int) -> bool:
        """``node`` in the place of a visit ``other`` that moves to another route."""
        other, veh = self.visits["node"], self.visits["veh"]
        if not len(other):
            return False
        ok, there = self._in_place_of(node)
        for k in _improving(np.where(ok, there - INF // 2, INF), tries=EJECTION_TRIES):
            ejected, w = int(other[k]), int(veh[k])
            delta = self._insertion_costs(ejected, exclude=w)
            j = self._where(ejected)[1]
            for slot in _improving(delta - INF // 2, tries=3):
                u, pos = int(self.slots["veh"][slot]), int(self.slots["pos"][slot])
                route_w = list(self.routes[w])
                route_w[j] = node
                if self._apply({w: route_w, u: self.routes[u][:pos] + [ejected] + self.routes[u][pos:]}):
                    return True
        return False

    def _insertion_costs(self, node: int, exclude: int) -> np.ndarray:
        """Per slot, the added travel and preference cost of ``node`` there (``INF`` where
        it does not fit or the slot is on vehicle ``exclude``)."""
        s, plan, brk, lay = self.slots, self.plan, self.brk, self.lay
        veh = s["veh"]
        prof = plan.vprof[veh]
        tp, tn = plan.travel3[prof, s["prev"], node], plan.travel3[prof, node, s["next"]]
        rule = (brk[0][veh], brk[1][veh], brk[2][veh])
        r0, r1 = extend(s["ready0"], s["ready1"], tp, self.lo[node], self.hi[node], lay.service[node], *rule)
        ok = connect(r0, r1, tn, s["late0"], s["late1"], *rule) & (veh != exclude) & plan.allowed[node, veh]
        detour = tp + tn - s["base"]
        ok &= self.work[veh] + detour + lay.service[node] <= plan.max_work[veh]
        ok &= self.load[veh] + lay.demand[node] <= plan.cap[veh]
        return np.where(ok, detour + plan.pref_cost[node, veh], INF)

    def relocate(self, node: int) -> bool:
        """Move ``node``, alone or with the one or two visits after it, to the cheapest
        feasible place in another route, if that gains."""
        v, i = self._where(node)
        route = self.routes[v]
        for size in range(1, MAX_SEGMENT + 1):
            segment = route[i:i + size]
            if len(segment) < size or not self.movable_node[segment].all():
                return False
            if self._relocate_segment(v, i, segment):
                return True
        return False

    def _relocate_segment(self, v: int, i: int, segment: list[int]) -> bool:
        gain = self._removal_gain(v, i, len(segment))
        if gain is None:
            return False
        s, plan, brk, lay = self.slots, self.plan, self.brk, self.lay
        veh, prev = s["veh"], s["prev"]
        prof = plan.vprof[veh]
        detour, pref, ok = -s["base"], 0, veh != v
        for node in segment:
            detour, pref = detour + plan.travel3[prof, prev, node], pref + plan.pref_cost[node, veh]
            ok &= plan.allowed[node, veh]
            prev = node
        detour = detour + plan.travel3[prof, prev, s["next"]]
        delta = detour + pref - gain
        # Only the places that would gain are timed: a few on a plan already polished, where
        # timing every place was most of the search's time (the same moves either way).
        idx = np.flatnonzero(ok & (delta < 0))
        if not len(idx):
            return False
        veh, prof, detour = veh[idx], prof[idx], detour[idx]
        rule = (brk[0][veh], brk[1][veh], brk[2][veh])
        ready0, ready1, prev = s["ready0"][idx], s["ready1"][idx], s["prev"][idx]
        for node in segment:
            travel = plan.travel3[prof, prev, node]
            ready0, ready1 = extend(ready0, ready1, travel, self.lo[node], self.hi[node], lay.service[node], *rule)
            prev = node
        ok = connect(ready0, ready1, plan.travel3[prof, prev, s["next"][idx]], s["late0"][idx], s["late1"][idx], *rule)
        service, demand = int(lay.service[segment].sum()), int(lay.demand[segment].sum())
        ok &= self.work[veh] + detour + service <= plan.max_work[veh]
        ok &= self.load[veh] + demand <= plan.cap[veh]
        for k in _improving(np.where(ok, delta[idx], INF)):
            w, pos = int(veh[k]), int(s["pos"][idx[k]])
            rest = self.routes[v][:i] + self.routes[v][i + len(segment):]
            if self._apply({v: rest, w: self.routes[w][:pos] + segment + self.routes[w][pos:]}):
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
        prof = plan.vprof[veh]
        tp1, tn1 = tt[a, other], tt[other, b]
        tp2, tn2 = plan.travel3[prof, c["prev"], node], plan.travel3[prof, node, c["next"]]
        out1 = int(tt[a, node] + tt[node, b])
        out2 = plan.travel3[prof, c["prev"], other] + plan.travel3[prof, other, c["next"]]
        here = tp1 + tn1 - out1 + lay.service[other] - lay.service[node]
        there = tp2 + tn2 - out2 + lay.service[node] - lay.service[other]
        ok = (veh != v) & plan.allowed[node, veh] & plan.allowed[other, v] & self.movable_node[other]
        ok &= (self.work[v] + here <= plan.max_work[v]) & (self.work[veh] + there <= plan.max_work[veh])
        ok &= self.load[v] - lay.demand[node] + lay.demand[other] <= plan.cap[v]
        ok &= self.load[veh] - lay.demand[other] + lay.demand[node] <= plan.cap[veh]
        pref = plan.pref_cost
        delta = (tp1 + tn1 - out1) + (tp2 + tn2 - out2) + pref[other, v] + pref[node, veh] - pref[node, v] - pref[other, veh]
        # Only the trades that would gain are timed (as in ``_relocate_segment``).
        idx = np.flatnonzero(ok & (delta < 0))
        if not len(idx):
            return False
        other, veh, times = other[idx], veh[idx], self.times[v]
        # the other visit into this route, in node's place
        r0, r1 = extend(times.ready0[i], times.ready1[i], tp1[idx], self.lo[other], self.hi[other], lay.service[other],
                        *(x[v] for x in brk))
        ok = connect(r0, r1, tn1[idx], times.late0[i + 2], times.late1[i + 2], *(x[v] for x in brk))
        # node into the other route, in the other visit's place
        r0, r1 = extend(c["ready0"][idx], c["ready1"][idx], tp2[idx], self.lo[node], self.hi[node], lay.service[node],
                        brk[0][veh], brk[1][veh], brk[2][veh])
        ok &= connect(r0, r1, tn2[idx], c["late0"][idx], c["late1"][idx], brk[0][veh], brk[1][veh], brk[2][veh])
        delta = np.where(ok, delta[idx], INF)
        for k in _improving(delta):
            w, j = int(veh[k]), self._where(int(other[k]))[1]
            route_v, route_w = list(self.routes[v]), list(self.routes[w])
            route_v[i], route_w[j] = int(other[k]), node
            if self._apply({v: route_v, w: route_w}):
                return True
        return False

    def move_within(self, node: int) -> bool:
        """Move ``node``, alone or with the one or two visits after it, to another position
        of its own route, if that gains."""
        v, i = self._where(node)
        route = self.routes[v]
        for size in range(1, MAX_SEGMENT + 1):
            if i + size > len(route) or len(route) <= size:
                return False
            if self._move_segment_within(v, i, size):
                return True
        return False

    def _move_segment_within(self, v: int, i: int, size: int) -> bool:
        route, lay = self.routes[v], self.lay
        segment, rest = route[i:i + size], route[:i] + route[i + size:]
        tt = lay.vehicle_travel(v)
        inner = sum(int(tt[a, b]) for a, b in zip(segment, segment[1:]))
        old = [lay.starts[v], *route, lay.ends[v]]
        before = sum(int(tt[a, b]) for a, b in zip(old[i:i + size + 2], old[i + 1:i + size + 2]))
        path = np.array([lay.starts[v], *rest, lay.ends[v]], dtype=np.int64)
        removed = before - int(tt[old[i], old[i + size + 1]])
        delta = tt[path[:-1], segment[0]] + inner + tt[segment[-1], path[1:]] - tt[path[:-1], path[1:]] - removed
        delta[i] = INF  # its own place
        for pos in _improving(delta):
            candidate = rest[:int(pos)] + segment + rest[int(pos):]
            if route_fits_fast(lay, v, candidate, self.lo, self.hi) and self._apply({v: candidate}):
                return True
        return False

    def reverse_within(self, node: int) -> bool:
        """2-opt within the route: the visits from ``node`` to a later one in reverse order,
        if that gains (the cheapest candidates by travel, checked exactly)."""
        v, i = self._where(node)
        route, lay = self.routes[v], self.lay
        if i + 1 >= len(route) or not self.movable_node[route[i:]].all():
            return False
        tt = lay.vehicle_travel(v)
        path = np.array([lay.starts[v], *route, lay.ends[v]], dtype=np.int64)
        first, before = path[i + 1], path[i]
        last, after = path[i + 2:-1], path[i + 3:]  # the segment ends at last, after follows
        forward = np.cumsum(tt[path[i + 1:-2], path[i + 2:-1]])
        backward = np.cumsum(tt[path[i + 2:-1], path[i + 1:-2]])
        delta = (tt[before, last] + tt[first, after] + backward) - (tt[before, first] + tt[last, after] + forward)
        for k in _improving(delta, tries=4):
            j = i + 2 + int(k)  # the segment is route[i:j]
            if self._apply_if_better({v: route[:i] + route[i:j][::-1] + route[j:]}):
                return True
        return False

    def swap_tails(self, node: int) -> bool:
        """2-opt*: the visits after ``node`` and the visits after a place in another route
        trade routes, if that gains (the cheapest candidates by travel, checked exactly)."""
        v, i = self._where(node)
        lay, t, tr = self.lay, self.tails, self.plan.travel3
        route1, cut1 = self.routes[v], i + 1
        own = self._tails_of[v]
        if not own["movable"][cut1]:
            return False
        p1, end1 = int(self.plan.vprof[v]), lay.ends[v]
        veh2, at2, first2, last2 = t["veh"], t["at"], t["first"], t["last"]
        p2, end2 = self.plan.vprof[veh2], self.ends[veh2]
        has2 = first2 >= 0
        into1 = np.where(has2, tr[p1, node, first2] + t["inner"][p1] + tr[p1, last2, end1], tr[p1, node, end1])
        new1 = own["head"][cut1] + into1
        tail1 = route1[cut1:]
        if tail1:
            into2 = tr[p2, at2, tail1[0]] + own["inner"][p2, cut1] + tr[p2, tail1[-1], end2]
        else:
            into2 = tr[p2, at2, end2]
        new2 = t["head"] + into2
        delta = new1 + new2 - self.travel[v] - self.travel[veh2]
        ok = (veh2 != v) & t["movable"] & t["allowed"][:, v] & own["allowed"][cut1, veh2]
        delta = np.where(ok, delta, INF)
        for k in _improving(delta):
            w, j = int(veh2[k]), int(t["cut"][k])
            route2 = self.routes[w]
            if self._apply_if_better({v: route1[:cut1] + route2[j:], w: route2[:j] + tail1}):
                return True
        return False

    # -- bookkeeping -------------------------------------------------------------------

    def _removal_gain(self, v: int, i: int, size: int = 1) -> int | None:
        """Travel and preference cost saved by taking out ``size`` visits of route ``v``
        from its ``i``-th on, or ``None`` if the route without them cannot be timed (a
        removal may not fit when a crew visit's fixed start follows)."""
        lay, times = self.lay, self.times[v]
        path = times.path
        tt = lay.vehicle_travel(v)
        a, b = path[i], path[i + size + 1]
        rule = self.rules[v]
        if not connect(times.ready0[i], times.ready1[i], int(tt[a, b]), times.late0[i + size + 1],
                       times.late1[i + size + 1], rule.start, rule.end, rule.duration):
            return None
        kept = 0 if len(self.routes[v]) == size else int(tt[a, b])
        gone = path[i:i + size + 2]
        saved = sum(int(tt[x, y]) for x, y in zip(gone, gone[1:]))
        return saved - kept + int(sum(self.plan.pref_cost[n, v] for n in path[i + 1:i + size + 1]))

    def _apply(self, changed: dict[int, list[int]]) -> bool:
        """Adopt the changed routes if ``simulate`` times each of them (the rule the rest
        of the solver times plans by); refreshes the arrays."""
        for v, route in changed.items():
            if route and simulate(self.lay, v, route, self.lo, self.hi) is None:  # only with 2+ breaks
                return False
        self.last_changed = set(changed)
        for v, route in changed.items():
            self.routes[v] = route
            self.work[v] = self._work(v)
            self.load[v] = int(self.lay.demand[route].sum()) if route else 0
            self._per_vehicle[v] = self._arrays(v)
        self._flat()
        return True

    def _work(self, v: int) -> int:
        """Travel plus service of route ``v`` (and its travel kept in ``self.travel``)."""
        route = self.routes[v]
        self.travel[v] = self.lay.route_travel(v, route)
        return int(self.travel[v] + (self.lay.service[route].sum() if route else 0))

    def _apply_if_better(self, changed: dict[int, list[int]]) -> bool:
        """``_apply`` if every changed route keeps its worker's rules (qualifications,
        ``max_work``, capacity, timing) and the travel plus preference cost falls."""
        lay, plan, gain = self.lay, self.plan, 0
        for v, route in changed.items():
            if route and not plan.allowed[route, v].all():
                return False
            travel = self.lay.route_travel(v, route)
            if route and travel + lay.service[route].sum() > plan.max_work[v]:
                return False
            if route and lay.demand[route].sum() > plan.cap[v]:
                return False
            if route and not route_fits_fast(lay, v, route, self.lo, self.hi):
                return False
            old = self.routes[v]
            gain += self.travel[v] - travel + int(plan.pref_cost[old, v].sum() - plan.pref_cost[route, v].sum())
        return gain > 0 and self._apply(changed)

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
        return times, slots, visits, self._tail_arrays(v, n_slots)

    def _tail_arrays(self, v: int, count: int) -> dict[str, np.ndarray]:
        """Per cut point ``j`` of route ``v`` (its tail is ``route[j:]``): travel of the head
        from home, the last node of the head, the tail's first and last visits (-1 if
        empty), its inner travel in each profile, whether every visit of it may move."""
        lay, route = self.lay, self.routes[v]
        n = len(route)
        path = np.array([lay.starts[v], *route], dtype=np.int64)
        own = lay.vehicle_travel(v)
        head = np.concatenate([[0], np.cumsum(own[path[:-1], path[1:]])]) if n else np.zeros(1, dtype=np.int64)
        nodes = np.array(route, dtype=np.int64)
        inner = np.zeros((len(lay.travel), n + 1), dtype=np.int64)
        for p, m in enumerate(lay.travel):
            if n > 1:
                inner[p, :n - 1] = np.cumsum(m[nodes[:-1], nodes[1:]][::-1])[::-1]
        allowed = np.ones((n + 1, lay.num_vehicles), dtype=bool)
        if n:
            allowed[:n] = np.cumprod(self.plan.allowed[nodes][::-1], axis=0)[::-1].astype(bool)
        fixed = ~self.movable_node[nodes] if n else np.zeros(0, dtype=bool)
        movable = np.concatenate([np.cumsum(fixed[::-1])[::-1] == 0, [True]]) if n else np.ones(1, dtype=bool)
        return {
            "veh": np.full(count, v, dtype=np.int64), "cut": np.arange(count, dtype=np.int64),
            "at": path[:count], "head": head[:count].astype(np.int64),
            "first": np.concatenate([nodes, [-1]])[:count], "last": np.full(count, nodes[-1] if n else -1, dtype=np.int64),
            "inner": inner[:, :count], "movable": movable[:count], "allowed": allowed[:count],
            "all_inner": inner, "all_head": head.astype(np.int64), "all_movable": movable, "all_allowed": allowed,
        }

    def _flat(self) -> None:
        per = self._per_vehicle
        self.times = [t for t, _, _, _ in per]
        self.slots = {k: np.concatenate([s[k] for _, s, _, _ in per]) for k in (*SLOT_KEYS, "pos")}
        self.visits = {k: np.concatenate([c[k] for _, _, c, _ in per]) for k in VISIT_KEYS}
        self.tails = {k: np.concatenate([t[k] for _, _, _, t in per]) for k in TAIL_KEYS}
        self.tails["inner"] = np.concatenate([t["inner"] for _, _, _, t in per], axis=1)
        self.tails["allowed"] = np.concatenate([t["allowed"] for _, _, _, t in per], axis=0)
        self._tails_of = [{"head": t["all_head"], "inner": t["all_inner"], "movable": t["all_movable"],
                           "allowed": t["all_allowed"]} for _, _, _, t in per]
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
