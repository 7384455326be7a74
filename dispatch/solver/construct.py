"""Greedy insertion: the fast first plan, the warm start for OR-Tools and the baseline.

Jobs are taken one at a time (pinned first, then by priority, crew-2 before crew-1, tight
windows first) and put where they add the least travel, over every feasible position of
every allowed worker at once (numpy over all "slots" between two consecutive stops).
Windows, shift, load and ``max_work`` are checked exactly with earliest/latest start
times, and for a worker with one break (the lunch) in constant time with the two-state
times of ``slack``; a worker with more breaks is verified by timing the route
(``schedule.simulate``). A crew-2 job
takes the cheapest pair of positions on two different workers whose feasible start
intervals meet, and both visits are fixed at the earliest common start.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .layout import Layout
from .schedule import Timeline, fits_from, prefix_states, simulate
from .slack import break_rule, connect, extend, route_times, supports

BIG = np.int64(1) << 60
PAIR_CANDIDATES = 40
MAX_BREAK_TRIES = 60


class Plan:
    """Mutable routes under construction (vehicle index → list of job nodes)."""

    def __init__(self, lay: Layout, preferred_cost: int = 0) -> None:
        self.lay = lay
        v = lay.num_vehicles
        self.routes: list[list[int]] = [[] for _ in range(v)]
        self.lo, self.hi = lay.lo.copy(), lay.hi.copy()
        self.load = np.zeros(v, dtype=np.int64)
        self.work = np.zeros(v, dtype=np.int64)
        self.cap = np.array([BIG if w.capacity is None else w.capacity for w in lay.workers])
        self.max_work = np.array([BIG if w.max_work is None else w.max_work for w in lay.workers])
        self.travel3 = np.stack(lay.travel) if lay.travel else np.zeros((0, lay.num_nodes, lay.num_nodes), np.int64)
        self.vprof = np.array(lay.vehicle_profile, dtype=np.int64)
        self.has_breaks = np.array([bool(lay.breaks(k)) for k in range(v)], dtype=bool)
        self.one_break = np.array([supports(lay, k) for k in range(v)], dtype=bool)
        rules = [break_rule(lay, k) for k in range(v)]
        self.brk = tuple(np.array([getattr(r, f) for r in rules], dtype=np.int64) for f in ("start", "end", "duration"))
        self.preferred_cost = preferred_cost
        self.allowed = np.zeros((lay.num_nodes, v), dtype=bool)
        for node, vehicles in enumerate(lay.allowed):
            self.allowed[node, vehicles] = True
        self.pref_cost = self._preference_matrix()
        self.preferred_vehicles = {lay.preferred_vehicle(n) for n in range(lay.num_nodes)} - {None}
        self._vehicle_slots = [self._slots_of(k) for k in range(v)]
        self._flat: dict[str, np.ndarray] | None = None
        self._states: list[list | None] = [None] * v  # timing before each position (breaks)
        self._loaded: list[tuple | None] = [None] * v  # what load_routes last adopted, per vehicle

    def _preference_matrix(self) -> np.ndarray:
        """Node × vehicle cost of serving a node by someone other than its preferred worker."""
        lay = self.lay
        cost = np.zeros((lay.num_nodes, lay.num_vehicles), dtype=np.int64)
        if self.preferred_cost:
            for node in range(lay.num_nodes):
                pref = lay.preferred_vehicle(node)
                if pref is not None:
                    cost[node, :] = self.preferred_cost
                    cost[node, pref] = 0
        return cost

    # -- queries ---------------------------------------------------------------------

    def served_jobs(self) -> set[int]:
        """Indices of jobs with all their nodes on routes."""
        on_route = {n for r in self.routes for n in r}
        return {k for k, nodes in enumerate(self.lay.job_nodes) if all(n in on_route for n in nodes)}

    def cost(self) -> int:
        """Total travel of all routes (home to home), in travel units."""
        return sum(self.route_travel(v) for v in range(self.lay.num_vehicles))

    def route_travel(self, v: int) -> int:
        """Travel of one route, home to home (0 if empty)."""
        return self.lay.route_travel(v, self.routes[v])

    def timelines(self) -> list[Timeline]:
        """Timing of every route (raises if a route turned infeasible: a defect)."""
        out = []
        for v, route in enumerate(self.routes):
            timeline = simulate(self.lay, v, route, self.lo, self.hi)
            if timeline is None:
                raise AssertionError(f"constructed route of vehicle {v} is infeasible")
            out.append(timeline)
        return out

    def load_routes(self, routes: Sequence[Sequence[int]], fixed: dict[int, int]) -> None:
        """Adopt known-feasible node routes (e.g. from OR-Tools); ``fixed`` pins crew starts."""
        for node, t in fixed.items():
            self.lo[node] = self.hi[node] = t
        for v, route in enumerate(routes):
            key = (tuple(route), self.lo[route].tobytes(), self.hi[route].tobytes())
            if self._loaded[v] == key:
                continue  # the same route at the same start ranges: its arrays still hold
            self._loaded[v] = key
            self.routes[v] = list(route)
            self.load[v] = int(sum(self.lay.demand[n] for n in route))
            self.work[v] = self.route_travel(v) + int(sum(self.lay.service[n] for n in route))
            self._vehicle_slots[v] = self._slots_of(v)
            self._states[v] = None
        self._flat = None

    # -- insertion -------------------------------------------------------------------

    def insert_job(self, job: int, vehicles: Sequence[Iterable[int]] | None = None) -> bool:
        """Insert every node of job ``job`` at the cheapest feasible place; False if none.

        ``vehicles`` optionally restricts, per crew member, the vehicles to try.
        """
        nodes = self.lay.job_nodes[job]
        masks = [self._mask(n, None if vehicles is None else vehicles[m]) for m, n in enumerate(nodes)]
        if len(nodes) == 1:
            return self._insert_single(nodes[0], masks[0])
        return self._insert_pair(nodes, masks)

    def feasible_vehicles(self, node: int) -> list[int]:
        """Vehicles that could take ``node`` somewhere in their current route."""
        ok, _, _, _ = self._evaluate(node, self._mask(node, None))
        flat, found = self._slots(), []
        for s in np.flatnonzero(ok):
            v = int(flat["veh"][s])
            if v not in found and self._breaks_ok(v, int(flat["pos"][s]), node):
                found.append(v)
        return found

    def append(self, v: int, node: int) -> bool:
        """Put a crew-1 node at the end of route ``v`` if feasible (warm starts)."""
        mask = self._mask(node, [v])
        ok, _, _, _ = self._evaluate(node, mask)
        slot = self._slot_index(v, len(self.routes[v]))
        if not ok[slot] or not self._breaks_ok(v, len(self.routes[v]), node):
            return False
        self._commit(v, len(self.routes[v]), node)
        return True

    def _insert_single(self, node: int, mask: np.ndarray) -> bool:
        ok, _, _, cost = self._evaluate(node, mask)
        flat = self._slots()
        for s in np.flatnonzero(ok)[np.argsort(cost[ok], kind="stable")][:MAX_BREAK_TRIES]:
            v, pos = int(flat["veh"][s]), int(flat["pos"][s])
            if self._breaks_ok(v, pos, node):
                self._commit(v, pos, node)
                return True
        return False

    def _insert_pair(self, nodes: Sequence[int], masks: Sequence[np.ndarray]) -> bool:
        flat = self._slots()
        cand = [self._best_slots(n, m) for n, m in zip(nodes, masks)]
        (s0, a0, l0, c0), (s1, a1, l1, c1) = cand
        t = np.maximum(a0[:, None], a1[None, :])
        ok = (t <= np.minimum(l0[:, None], l1[None, :]))
        ok &= flat["veh"][s0][:, None] != flat["veh"][s1][None, :]
        total = c0[:, None] + c1[None, :]
        for i, j in zip(*np.unravel_index(np.argsort(np.where(ok, total, BIG), axis=None, kind="stable"), ok.shape)):
            if not ok[i, j]:
                return False
            if self._try_pair(nodes, (int(s0[i]), int(s1[j])), int(t[i, j])):
                return True
        return False

    def _best_slots(self, node: int, mask: np.ndarray):
        ok, a, late, cost = self._evaluate(node, mask)
        idx = np.flatnonzero(ok)
        idx = idx[np.argsort(cost[idx], kind="stable")][:PAIR_CANDIDATES]
        return idx, a[idx], late[idx], cost[idx]

    def _try_pair(self, nodes: Sequence[int], slots: tuple[int, int], t: int) -> bool:
        flat = self._slots()
        places = [(int(flat["veh"][s]), int(flat["pos"][s])) for s in slots]
        saved = [(self.lo[n], self.hi[n]) for n in nodes]
        for n in nodes:
            self.lo[n] = self.hi[n] = t
        if all(self._breaks_ok(v, pos, n) for (v, pos), n in zip(places, nodes)):
            for (v, pos), n in zip(places, nodes):
                self._commit(v, pos, n)
            return True
        for n, (lo, hi) in zip(nodes, saved):
            self.lo[n], self.hi[n] = lo, hi
        return False

    def _breaks_ok(self, v: int, pos: int, node: int) -> bool:
        """Whether the route of ``v`` with ``node`` at ``pos`` can be timed with its breaks
        (``simulate``'s rule, resumed from the unchanged part before ``pos``)."""
        if not self.has_breaks[v]:
            return True
        if self.one_break[v]:
            return self._fits_at(v, pos, node)
        route = self.routes[v]
        if self._states[v] is None:
            self._states[v] = prefix_states(self.lay, v, route, self.lo, self.hi)
        states = self._states[v]
        if pos >= len(states):
            return simulate(self.lay, v, route[:pos] + [node] + route[pos:], self.lo, self.hi) is not None
        return fits_from(self.lay, v, states[pos], [node, *route[pos:]], self.lo, self.hi)

    def _fits_at(self, v: int, pos: int, node: int) -> bool:
        """Windows, shift and the one break with ``node`` at ``pos`` of route ``v`` (O(1))."""
        s, tt = self._vehicle_slots[v], self.lay.vehicle_travel(v)
        prev, nxt = int(s["prev"][pos]), int(s["next"][pos])
        rule = (self.brk[0][v], self.brk[1][v], self.brk[2][v])
        r0, r1 = extend(s["ready0"][pos], s["ready1"][pos], int(tt[prev, node]), self.lo[node], self.hi[node],
                        self.lay.service[node], *rule)
        return bool(connect(r0, r1, int(tt[node, nxt]), s["late0"][pos], s["late1"][pos], *rule))

    def _commit(self, v: int, pos: int, node: int) -> None:
        route = self.routes[v]
        path = [self.lay.starts[v], *route, self.lay.ends[v]]
        prev, nxt = path[pos], path[pos + 1]
        tt = self.lay.vehicle_travel(v)
        self.work[v] += tt[prev, node] + tt[node, nxt] - tt[prev, nxt] + self.lay.service[node]
        self.load[v] += self.lay.demand[node]
        route.insert(pos, node)
        self._loaded[v] = None
        self._vehicle_slots[v] = self._slots_of(v)
        self._states[v] = None
        self._flat = None

    # -- slot arrays -------------------------------------------------------------------

    def _mask(self, node: int, vehicles: Iterable[int] | None) -> np.ndarray:
        mask = np.zeros(self.lay.num_vehicles, dtype=bool)
        mask[self.lay.allowed[node]] = True
        if vehicles is not None:
            keep = np.zeros_like(mask)
            keep[list(vehicles)] = True
            mask &= keep
        return mask

    def _evaluate(self, node: int, vmask: np.ndarray):
        """Per slot: feasible?, earliest start, latest start, added cost."""
        f = self._slots()
        lay, tr = self.lay, self.travel3
        tp = tr[f["prof"], f["prev"], node]
        tn = tr[f["prof"], node, f["next"]]
        detour = tp + tn - tr[f["prof"], f["prev"], f["next"]]
        svc = lay.service[node]
        early = np.maximum(self.lo[node], f["ready"] + tp)
        late = np.minimum(self.hi[node], f["znext"] - svc - tn)
        veh = f["veh"]
        ok = vmask[veh] & (early <= late)
        ok &= self.load[veh] + lay.demand[node] <= self.cap[veh]
        ok &= self.work[veh] + detour + svc <= self.max_work[veh]
        rule = (self.brk[0][veh], self.brk[1][veh], self.brk[2][veh])
        r0, r1 = extend(f["ready0"], f["ready1"], tp, self.lo[node], self.hi[node], svc, *rule)
        ok &= connect(r0, r1, tn, f["late0"], f["late1"], *rule) | ~self.one_break[veh]
        return ok, early, late, detour + self._preference_cost(node)[veh]

    def _preference_cost(self, node: int) -> np.ndarray:
        return self.pref_cost[node]

    def best_in_vehicle(self, v: int, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each node, the cheapest feasible insertion cost in route ``v`` and its position.

        Infeasible nodes get cost ``BIG``. A worker's one break is checked here; more
        breaks are not (see ``_breaks_ok``). ``best_in_vehicles`` for one vehicle: the
        insertion's rules are written once (a copy written out with scalars gave the same
        routes and 400 ruin-and-recreate steps within 5% of the time).
        """
        cost, pos = self.best_in_vehicles([v], nodes)
        return cost[:, 0], pos[:, 0]

    def best_in_vehicles(self, vehicles: Sequence[int], nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``best_in_vehicle`` for several vehicles at once (one numpy pass over their slots):
        costs and positions, nodes × ``vehicles``."""
        lay, parts = self.lay, [self._vehicle_slots[v] for v in vehicles]
        slots = parts[0] if len(parts) == 1 else {k: np.concatenate([s[k] for s in parts]) for k in parts[0]}
        veh, prof, prev, nxt = slots["veh"], slots["prof"], slots["prev"][:, None], slots["next"][:, None]
        tp = self.travel3[prof[:, None], prev, nodes[None, :]]
        tn = self.travel3[prof[:, None], nodes[None, :], nxt]
        detour = tp + tn - self.travel3[prof, slots["prev"], slots["next"]][:, None]
        svc, lo, hi = lay.service[nodes][None, :], self.lo[nodes][None, :], self.hi[nodes][None, :]
        early = np.maximum(lo, slots["ready"][:, None] + tp)
        late = np.minimum(hi, slots["znext"][:, None] - svc - tn)
        ok = (early <= late) & (self.work[veh][:, None] + detour + svc <= self.max_work[veh][:, None])
        ok &= self.load[veh][:, None] + lay.demand[nodes][None, :] <= self.cap[veh][:, None]
        ok &= self.allowed[nodes][:, veh].T
        # The break only where the rest fits (a fraction of the pairs: a third of the time).
        i, j = np.nonzero(ok & (self.one_break & self.has_breaks)[veh][:, None])
        v = veh[i]
        rule = (self.brk[0][v], self.brk[1][v], self.brk[2][v])
        r0, r1 = extend(slots["ready0"][i], slots["ready1"][i], tp[i, j], lo[0, j], hi[0, j], svc[0, j], *rule)
        ok[i, j] = connect(r0, r1, tn[i, j], slots["late0"][i], slots["late1"][i], *rule)
        cost = np.where(ok, detour, BIG)
        sizes = [len(s["veh"]) for s in parts]
        offsets = np.cumsum([0] + sizes[:-1])
        best = np.minimum.reduceat(cost, offsets, axis=0)
        first_best = np.where(cost == np.repeat(best, sizes, axis=0), slots["pos"][:, None], BIG)
        pos = np.minimum.reduceat(first_best, offsets, axis=0)
        pref = self.pref_cost[nodes][:, list(vehicles)]
        return np.where(best.T < BIG, best.T + pref, BIG), pos.T

    def _slots(self) -> dict[str, np.ndarray]:
        if self._flat is None:
            keys = self._vehicle_slots[0].keys()
            self._flat = {k: np.concatenate([s[k] for s in self._vehicle_slots]) for k in keys}
            self._offsets = np.cumsum([0] + [len(s["veh"]) for s in self._vehicle_slots])
        return self._flat

    def _slot_index(self, v: int, pos: int) -> int:
        self._slots()
        return int(self._offsets[v] + pos)

    def _slots_of(self, v: int) -> dict[str, np.ndarray]:
        """Slot arrays of vehicle ``v``: one slot per gap between consecutive stops.

        ``ready``/``znext`` (the plain earliest end of service before the gap, the plain latest
        start after it, the break aside) are the two-state times' own: on a feasible route the
        earlier of the two ready times and the "break taken" latest start are exactly these
        (a separate pass per route for them was a fifth of a ruin-and-recreate step)."""
        lay, route = self.lay, self.routes[v]
        path = [lay.starts[v], *route, lay.ends[v]]
        n = len(route) + 1
        times = route_times(lay, v, route, self.lo, self.hi)
        return {
            "ready0": times.ready0[:-1], "ready1": times.ready1[:-1],
            "late0": times.late0[1:], "late1": times.late1[1:],
            "veh": np.full(n, v, dtype=np.int64),
            "pos": np.arange(n, dtype=np.int64),
            "prof": np.full(n, self.vprof[v], dtype=np.int64),
            "prev": np.array(path[:-1], dtype=np.int64),
            "next": np.array(path[1:], dtype=np.int64),
            "ready": np.minimum(times.ready0, times.ready1)[:-1],
            "znext": times.late1[1:],
        }


def insertion_order(lay: Layout, how: str = "hard_first", seed: int = 0) -> list[int]:
    """Job indices in the order the greedy inserts them.

    ``hard_first``: pinned, then higher priority, crew-2, narrow windows, early windows.
    ``far_first``: priority, then farthest from the first worker's home (classic seeds).
    ``random``: priority, then a seeded shuffle.
    """
    jobs = lay.jobs
    rng = np.random.default_rng(seed)
    noise = rng.random(len(jobs))
    home = lay.starts[0] if lay.num_vehicles else 0
    far = lay.travel[0][home] if lay.num_vehicles else np.zeros(lay.num_nodes)

    def key(k: int):
        job, node = jobs[k], lay.job_nodes[k][0]
        head = (not job.pinned_workers and job.pinned_start is None, -job.priority)
        if how == "far_first":
            return head + (-int(far[node]),)
        if how == "random":
            return head + (noise[k],)
        return head + (-job.crew, int(lay.hi[node] - lay.lo[node]), int(lay.lo[node]), job.id)

    return sorted(range(len(jobs)), key=key)


def greedy(lay: Layout, order: Sequence[int], preferred_cost: int = 0, plan: Plan | None = None) -> Plan:
    """Insert the jobs of ``order`` one by one into ``plan`` (a new empty plan by default)."""
    plan = plan or Plan(lay, preferred_cost)
    served = plan.served_jobs()
    for k in order:
        if k not in served:
            plan.insert_job(k)
    return plan


def parallel(lay: Layout, order: Sequence[int], preferred_cost: int = 0, plan: Plan | None = None,
             regret: bool = True) -> Plan:
    """Hard jobs (pinned, crew-2) one by one, then the rest by parallel insertion.

    Each step of the parallel phase looks at every unplanned job and every worker and
    inserts the job with the largest regret (cost of its second-best worker minus its
    best), or with ``regret=False`` the globally cheapest insertion. Only the changed
    route is re-evaluated after a step. Priority tiers are inserted in order.
    """
    plan = plan or Plan(lay, preferred_cost)
    on_route = {n for r in plan.routes for n in r}  # (the served jobs of ``order`` only, not all of them)
    easy = []
    for k in order:
        if all(n in on_route for n in lay.job_nodes[k]):
            continue
        job = lay.jobs[k]
        if len(lay.job_nodes[k]) == 2 or job.pinned_workers or job.pinned_start is not None:
            plan.insert_job(k)
        else:
            easy.append(k)
    tiers = [np.array([lay.job_nodes[k][0] for k in tier], dtype=np.int64) for tier in _priority_tiers(lay, easy)]
    if not tiers:
        return plan
    # Every tier's first costs in one pass; a later tier re-evaluates only the routes changed
    # before it (one pass per tier was a quarter of a ruin-and-recreate step).
    every = np.concatenate(tiers)
    cost = np.full((len(every), lay.num_vehicles), BIG, dtype=np.int64)
    pos = np.zeros_like(cost)
    active = _representatives(plan)
    if active:
        cost[:, active], pos[:, active] = plan.best_in_vehicles(active, every)
    valid, first = set(active), 0
    for nodes in tiers:
        stale = [v for v in _representatives(plan) if v not in valid]
        if stale:
            cost[first:, stale], pos[first:, stale] = plan.best_in_vehicles(stale, every[first:])
            valid.update(stale)
        rows = slice(first, first + len(nodes))
        first += len(nodes)
        _parallel_phase(plan, nodes, regret, cost[rows], pos[rows], valid)
    return plan


def _priority_tiers(lay: Layout, jobs: list[int]) -> list[list[int]]:
    levels = sorted({lay.jobs[k].priority for k in jobs}, reverse=True)
    return [[k for k in jobs if lay.jobs[k].priority == p] for p in levels]


def _parallel_phase(plan: Plan, nodes: np.ndarray, regret: bool, cost: np.ndarray, pos: np.ndarray,
                    valid: set[int]) -> None:
    """One tier: ``cost``/``pos`` (nodes × vehicles, BIG for vehicles not yet active) hold the
    cheapest insertions into every active vehicle; a vehicle this phase changes leaves ``valid``
    (the vehicles whose costs for later tiers still hold)."""
    active = _representatives(plan)
    alive = np.ones(len(nodes), dtype=bool)
    while alive.any():
        i, v = _pick(cost, alive, regret)
        if i is None:
            return
        node = int(nodes[i])
        # (a worker's one break is in the costs already; more breaks are checked here)
        if not plan.one_break[v] and not plan._breaks_ok(v, int(pos[i, v]), node):
            cost[i, v], pos[i, v] = _retry_with_breaks(plan, v, node)
            continue
        was_empty = not plan.routes[v]
        plan._commit(v, int(pos[i, v]), node)
        valid.discard(v)
        alive[i] = False
        cost[i, :] = BIG
        for w in [v] + (_next_empty(plan, v, active) if was_empty else []):
            cost[alive, w], pos[alive, w] = plan.best_in_vehicle(w, nodes[alive])


def _pick(cost: np.ndarray, alive: np.ndarray, regret: bool):
    """(row, vehicle) to insert next, or (None, None) when nothing fits."""
    rows = np.flatnonzero(alive)
    sub = cost[rows]
    best_v = np.argmin(sub, axis=1)
    best = sub[np.arange(len(rows)), best_v]
    if best.min() >= BIG:
        return None, None
    if not regret:
        r = int(np.argmin(best))
        return int(rows[r]), int(best_v[r])
    second = np.partition(sub, 1, axis=1)[:, 1] if sub.shape[1] > 1 else np.full(len(rows), BIG)
    score = np.where(second >= BIG, BIG, second - best)
    score = np.where(best >= BIG, -1, score)
    top = np.flatnonzero(score == score.max())
    r = int(top[np.argmin(best[top])])
    return int(rows[r]), int(best_v[r])


def _retry_with_breaks(plan: Plan, v: int, node: int) -> tuple[int, int]:
    """Cheapest (cost, position) in ``v`` that also fits the breaks; cost BIG if none."""
    ok, _, _, cost = plan._evaluate(node, plan._mask(node, [v]))
    flat = plan._slots()
    for s in np.flatnonzero(ok)[np.argsort(cost[ok], kind="stable")]:
        if plan._breaks_ok(v, int(flat["pos"][s]), node):
            return int(cost[s]), int(flat["pos"][s])
    return int(BIG), 0


def vehicle_kind(plan: Plan, v: int) -> tuple:
    """Vehicles of one kind are interchangeable while empty (same home, shift, skills...)."""
    w = plan.lay.workers[v]
    return (v if v in plan.preferred_vehicles else -1, w.start_site.id, w.end_site.id, w.shift_start, w.shift_end,
            w.profile, w.qualifications, w.gender, w.breaks, w.max_work, w.capacity,
            plan.allowed[:, v].tobytes())


def _representatives(plan: Plan) -> list[int]:
    """Every non-empty vehicle and the first empty vehicle of each kind."""
    seen, out = set(), []
    for v, route in enumerate(plan.routes):
        if route:
            out.append(v)
            continue
        key = vehicle_kind(plan, v)
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out


def _next_empty(plan: Plan, used: int, active: list[int]) -> list[int]:
    """After ``used`` got its first job, the next empty vehicle of the same kind joins."""
    key = vehicle_kind(plan, used)
    for v, route in enumerate(plan.routes):
        if not route and v not in active and vehicle_kind(plan, v) == key:
            active.append(v)
            return [v]
    return []


def plan_from_routes(lay: Layout, routes: dict[int, list[int]], preferred_cost: int = 0) -> Plan:
    """Rebuild a plan from job-index sequences per vehicle, keeping what still fits.

    Crew-1 jobs are appended in the given order; a crew-2 job is re-inserted with its two
    given workers if possible; anything that no longer fits is left out for the caller
    to insert again.
    """
    plan = Plan(lay, preferred_cost)
    pairs: dict[int, list[int]] = {}
    for v, jobs in routes.items():
        for k in jobs:
            if len(lay.job_nodes[k]) == 2:
                pairs.setdefault(k, []).append(v)
            elif lay.job_nodes[k][0] not in plan.routes[v]:
                plan.append(v, lay.job_nodes[k][0])
    for k, vs in pairs.items():
        if len(set(vs)) == 2 and k not in plan.served_jobs():
            plan.insert_job(k, [vs, vs])
    return plan
