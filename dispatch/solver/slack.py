"""Constant-time feasibility of a route change, lunch break included: two timing states.

A route is a path home → visits → home. For every position of the path we keep, in two
*states* (the worker's break not yet taken / already taken):

- ``ready0``/``ready1``: the earliest time the worker can be free at that position (end of
  service; at the start home, the start of the shift), feasible up to there;
- ``late0``/``late1``: the latest start of service at that position from which the rest of
  the path can still be served and the worker be home by the end of the shift.

The break may be taken anywhere in a gap between two positions (at home before leaving,
on the way, while waiting, at home after returning), never during a visit, fully inside
its window; that is the rule ``check`` enforces. Waiting is free, so a later "ready" or an
earlier "latest" never helps, and joining a prefix to a suffix is a check of a few
comparisons (``connect``). Inserting a visit between two positions is ``extend`` then
``connect``; removing one is ``connect`` of its neighbours. Every function works on numpy
arrays elementwise (one insertion per element) as well as on scalars.

A worker with no break starts in the "taken" state. Workers with more than one break are
not handled here (``supports`` says so); callers leave their routes alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .layout import Layout

INF = np.int64(1) << 50
NEG = -INF
_INF, _NEG = int(INF), int(NEG)


@dataclass(frozen=True)
class BreakRule:
    """The one break of a vehicle: taken fully inside ``[start, end]``, ``duration`` long.

    ``NO_BREAK`` stands for a vehicle without one (its option never applies)."""

    start: int
    end: int
    duration: int


NO_BREAK = BreakRule(int(INF), int(NEG), 0)


def supports(lay: Layout, vehicle: int) -> bool:
    """Whether the vehicle has at most one break (what this module models)."""
    return len(lay.breaks(vehicle)) <= 1


def break_rule(lay: Layout, vehicle: int) -> BreakRule:
    """The vehicle's break, or ``NO_BREAK``."""
    breaks = lay.breaks(vehicle)
    if not breaks:
        return NO_BREAK
    b = breaks[0]
    return BreakRule(b.window_start, b.window_end, b.duration)


def extend(ready0, ready1, travel, lo, hi, service, start, end, duration):
    """Ready times (end of service) at a visit reached by ``travel`` from a position with
    ready times ``ready0``/``ready1``; ``INF`` where the visit's window cannot be met.

    ``start``/``end``/``duration`` describe the break (``BreakRule`` fields)."""
    s0 = np.maximum(lo, ready0 + travel)
    took = np.maximum(ready0, start)
    s1_break = np.where(took + duration <= end, np.maximum(np.maximum(lo, ready0 + travel + duration), took + duration), INF)
    s1 = np.minimum(np.maximum(lo, ready1 + travel), s1_break)
    s0 = np.where(s0 <= hi, s0 + service, INF)
    s1 = np.where(s1 <= hi, s1 + service, INF)
    return s0, s1


def connect(ready0, ready1, travel, late0, late1, start, end, duration):
    """Whether a prefix with ready times ``ready0``/``ready1`` can be followed, after
    ``travel``, by a suffix whose latest starts are ``late0``/``late1``."""
    taken_before = ready1 + travel <= late1
    taken_after = ready0 + travel <= late0
    taken_between = (ready0 <= np.minimum(late1 - travel - duration, end - duration)) & (start + duration <= late1)
    return taken_before | taken_after | taken_between


@dataclass
class RouteTimes:
    """The two-state times of one route at every position of its path (homes included)."""

    path: list[int]
    ready0: np.ndarray
    ready1: np.ndarray
    late0: np.ndarray
    late1: np.ndarray

    @property
    def feasible(self) -> bool:
        """Whether the whole route can be timed (the break taken, home in time)."""
        return bool(self.ready1[-1] < INF)


def route_times(lay: Layout, vehicle: int, route: Sequence[int], lo, hi) -> RouteTimes:
    """The two-state times of ``route`` (job nodes) for ``vehicle``; ``lo``/``hi`` are the
    start ranges per node (e.g. a plan's, with crew starts fixed)."""
    worker, rule = lay.workers[vehicle], break_rule(lay, vehicle)
    path = [lay.starts[vehicle], *route, lay.ends[vehicle]]
    ids = np.array(path, dtype=np.int64)
    travel = lay.vehicle_travel(vehicle)[ids[:-1], ids[1:]].tolist()
    nodes = ids[1:-1]
    lo_ = [0, *np.asarray(lo)[nodes].tolist(), 0]
    hi_ = [worker.shift_end, *np.asarray(hi)[nodes].tolist(), worker.shift_end]
    svc_ = [0, *lay.service[nodes].tolist(), 0]
    ready = [(worker.shift_start, int(INF)) if rule is not NO_BREAK else (int(INF), worker.shift_start)]
    for i in range(1, len(path)):
        ready.append(_step(ready[-1], travel[i - 1], lo_[i], hi_[i], svc_[i], rule))
    late = [(int(NEG), worker.shift_end)]
    for i in range(len(path) - 2, -1, -1):
        late.append(_step_back(late[-1], travel[i], lo_[i] if i else worker.shift_start, hi_[i], svc_[i], rule))
    late.reverse()
    r0, r1 = zip(*ready)
    l0, l1 = zip(*late)
    as_array = lambda xs: np.array(xs, dtype=np.int64)  # noqa: E731
    return RouteTimes(path, as_array(r0), as_array(r1), as_array(l0), as_array(l1))


def _step_back(late: tuple[int, int], travel: int, lo: int, hi: int, service: int, rule: BreakRule) -> tuple[int, int]:
    """Latest starts at a visit followed, after ``travel``, by a position with latest starts
    ``late`` (per state); ``NEG`` where even the earliest start ``lo`` is too late. (Plain
    comparisons rather than ``min``/``max``: this and ``_step`` time every changed route.)"""
    neg = _NEG
    late0, late1 = late
    l1 = late1 - travel - service
    if l1 > hi:
        l1 = hi
    if rule.start + rule.duration <= late1:
        between = late1 - travel - rule.duration
        if between > rule.end - rule.duration:
            between = rule.end - rule.duration
    else:
        between = neg
    l0 = late0 - travel
    if l0 < between:
        l0 = between
    l0 -= service
    if l0 > hi:
        l0 = hi
    return (l0 if l0 >= lo else neg), (l1 if l1 >= lo else neg)


def route_fits(lay: Layout, vehicle: int, route: Sequence[int], lo, hi) -> bool:
    """Whether ``route`` can be timed for ``vehicle`` (windows, shift, its one break)."""
    return route_times(lay, vehicle, route, lo, hi).feasible


def route_fits_fast(lay: Layout, vehicle: int, route: Sequence[int], lo, hi) -> bool:
    """``route_fits`` on plain integers (the forward pass only): for checking a handful of
    candidate routes one by one, where numpy's per-call cost dominates."""
    worker, rule = lay.workers[vehicle], break_rule(lay, vehicle)
    tt, svc, big = lay.vehicle_travel(vehicle), lay.service, int(INF)
    ready = (worker.shift_start, big) if rule is not NO_BREAK else (big, worker.shift_start)
    prev = lay.starts[vehicle]
    for node in route:
        ready = _step(ready, int(tt[prev, node]), int(lo[node]), int(hi[node]), int(svc[node]), rule)
        prev = node
    ready = _step(ready, int(tt[prev, lay.ends[vehicle]]), 0, worker.shift_end, 0, rule)
    return ready[1] < big


def _step(ready: tuple[int, int], travel: int, lo: int, hi: int, service: int, rule: BreakRule) -> tuple[int, int]:
    """``extend`` for one visit on plain integers."""
    big = _INF
    ready0, ready1 = ready
    took = (ready0 if ready0 > rule.start else rule.start) + rule.duration
    if took <= rule.end:
        with_break = ready0 + travel + rule.duration
        if with_break < took:
            with_break = took
        if with_break < lo:
            with_break = lo
    else:
        with_break = big
    s0 = ready0 + travel
    if s0 < lo:
        s0 = lo
    s1 = ready1 + travel
    if s1 < lo:
        s1 = lo
    if s1 > with_break:
        s1 = with_break
    return (s0 + service if s0 <= hi else big, s1 + service if s1 <= hi else big)
