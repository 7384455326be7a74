"""Timing of one route: earliest service starts, break placement, departure and return.

Used by the construction heuristic (to verify an insertion when the worker has breaks),
by the post-search diagnosis and to time greedy plans. The rule for breaks: a break goes
into the first gap between two events (home, visits, home) where it costs no delay, or into
the last gap where it can still be taken; between two visits a break may be taken during
travel or waiting, never during a visit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .layout import Layout
from .problem import Break


@dataclass(frozen=True)
class Timeline:
    """A timed route.

    Attributes:
        starts: service start per visited node, in route order.
        breaks: ``(start, end)`` of each break, in time order.
        depart: when the worker leaves home.
        back: when the worker is home again.
    """

    starts: tuple[int, ...]
    breaks: tuple[tuple[int, int], ...]
    depart: int
    back: int


def simulate(lay: Layout, vehicle: int, route: Sequence[int], lo=None, hi=None) -> Timeline | None:
    """Earliest feasible timing of ``route`` (job nodes) for ``vehicle``, or ``None``.

    ``lo``/``hi`` override the layout's start ranges per node (e.g. fixed crew-2 starts).
    Checks windows, the shift (return home by ``shift_end``) and breaks; not load or
    ``max_work`` (the caller tracks those). For a worker with one break the answer is exact:
    where the rule below finds no timing, the break is tried in every gap in turn.
    """
    lo = lay.lo if lo is None else lo
    hi = lay.hi if hi is None else hi
    timeline = _simulate_by_rule(lay, vehicle, route, lo, hi)
    if timeline is None and len(lay.breaks(vehicle)) == 1:
        timeline = _break_in_any_gap(lay, vehicle, route, lo, hi)
    return timeline


def _simulate_by_rule(lay: Layout, vehicle: int, route: Sequence[int], lo, hi) -> Timeline | None:
    """``simulate``'s first try: each break in the first gap where it costs no delay, or in
    the last gap where it can still be taken."""
    worker = lay.workers[vehicle]
    tt, svc = lay.vehicle_travel(vehicle), lay.service
    pending, placed, starts = list(lay.breaks(vehicle)), [], []
    prev, ready = lay.starts[vehicle], worker.shift_start
    for node in route:
        gap = _place_in_gap(pending, ready, int(tt[prev, node]), int(lo[node]), int(svc[node]))
        if gap is None or gap[1] > hi[node]:
            return None
        placed.extend(gap[0])
        starts.append(gap[1])
        prev, ready = node, gap[1] + int(svc[node])
    end = _finish(pending, ready, int(tt[prev, lay.ends[vehicle]]), worker.shift_end)
    if end is None:
        return None
    placed.extend(end[0])
    return _timeline(lay, vehicle, route, starts, placed, end[1])


def _break_in_any_gap(lay: Layout, vehicle: int, route: Sequence[int], lo, hi) -> Timeline | None:
    """The earliest timing with the worker's one break in the first gap (home, visits, home)
    where the route then fits, or ``None``."""
    for gap in range(len(route) + 1):
        timeline = _break_in_gap(lay, vehicle, route, lo, hi, gap)
        if timeline is not None:
            return timeline
    return None


def _break_in_gap(lay: Layout, vehicle: int, route: Sequence[int], lo, hi, gap: int) -> Timeline | None:
    """The earliest timing with the one break taken as early as it can be in gap ``gap``
    (before the ``gap``-th visit; ``len(route)``: on the way or at home at the end)."""
    worker, brk = lay.workers[vehicle], lay.breaks(vehicle)[0]
    tt, svc = lay.vehicle_travel(vehicle), lay.service
    prev, ready, starts, placed = lay.starts[vehicle], worker.shift_start, [], []
    for i, node in enumerate([*route, lay.ends[vehicle]]):
        home = i == len(route)
        arrive = max(0 if home else int(lo[node]), ready + int(tt[prev, node]))
        if i == gap:
            taken = max(ready, brk.window_start)
            if taken + brk.duration > brk.window_end:
                return None
            placed.append((taken, taken + brk.duration))
            arrive = max(arrive, ready + int(tt[prev, node]) + brk.duration, taken + brk.duration)
        if home:
            return _timeline(lay, vehicle, route, starts, placed, arrive) if arrive <= worker.shift_end else None
        if arrive > hi[node]:
            return None
        starts.append(arrive)
        prev, ready = node, arrive + int(svc[node])
    return None


def prefix_states(lay: Layout, vehicle: int, route: Sequence[int], lo, hi) -> list[tuple[int, int, int]]:
    """``simulate``'s state before each position of ``route``: (previous node, ready time,
    breaks taken so far); shorter than ``len(route) + 1`` where the route stops being feasible."""
    breaks = lay.breaks(vehicle)
    tt, svc = lay.vehicle_travel(vehicle), lay.service
    pending = list(breaks)
    prev, ready = lay.starts[vehicle], lay.workers[vehicle].shift_start
    states = [(prev, ready, 0)]
    for node in route:
        gap = _place_in_gap(pending, ready, int(tt[prev, node]), int(lo[node]), int(svc[node]))
        if gap is None or gap[1] > hi[node]:
            break
        prev, ready = node, gap[1] + int(svc[node])
        states.append((prev, ready, len(breaks) - len(pending)))
    return states


def fits_from(lay: Layout, vehicle: int, state: tuple[int, int, int], nodes: Sequence[int], lo, hi) -> bool:
    """Whether ``simulate`` would time the rest of a route, ``nodes``, from ``state`` (see
    ``prefix_states``) and the worker still be home by the end of the shift."""
    prev, ready, taken = state
    pending = list(lay.breaks(vehicle)[taken:])
    tt, svc = lay.vehicle_travel(vehicle), lay.service
    for node in nodes:
        gap = _place_in_gap(pending, ready, int(tt[prev, node]), int(lo[node]), int(svc[node]))
        if gap is None or gap[1] > hi[node]:
            return False
        prev, ready = node, gap[1] + int(svc[node])
    return _finish(pending, ready, int(tt[prev, lay.ends[vehicle]]), lay.workers[vehicle].shift_end) is not None


def _place_in_gap(pending: list[Break], ready: int, travel: int, lo: int, service: int):
    """Take pending breaks that fit here for free or cannot wait; return (breaks, start)."""
    taken: list[tuple[int, int]] = []
    free_at, used = ready, 0
    while pending:
        b = pending[0]
        b_start = max(free_at, b.window_start)
        if b_start + b.duration > b.window_end:
            return None
        without = max(lo, ready + travel + used, free_at)
        with_break = max(without, ready + travel + used + b.duration, b_start + b.duration)
        must = max(without + service, b.window_start) + b.duration > b.window_end
        if with_break != without and not must:
            break
        taken.append((b_start, b_start + b.duration))
        free_at, used = b_start + b.duration, used + b.duration
        pending.pop(0)
    return taken, max(lo, ready + travel + used, free_at)


def _finish(pending: list[Break], ready: int, travel: int, shift_end: int):
    """Breaks left for the way home or at home; return (breaks, back) or ``None``."""
    taken: list[tuple[int, int]] = []
    back, free_at = ready + travel, ready
    for b in pending:
        at_home = max(back, free_at, b.window_start)
        if at_home + b.duration <= b.window_end:
            taken.append((at_home, at_home + b.duration))
            free_at = at_home + b.duration
            continue
        on_way = max(free_at, b.window_start)
        if on_way + b.duration > b.window_end or on_way >= back:
            return None
        taken.append((on_way, on_way + b.duration))
        free_at, back = on_way + b.duration, back + b.duration
    pending.clear()
    return (taken, back) if back <= shift_end else None


def _timeline(lay, vehicle, route, starts, placed, back) -> Timeline:
    worker = lay.workers[vehicle]
    if not route:
        return Timeline((), (), worker.shift_start, worker.shift_start)
    travel0 = int(lay.vehicle_travel(vehicle)[lay.starts[vehicle], route[0]])
    depart = latest_departure(worker.shift_start, starts[0], travel0, placed)
    return Timeline(tuple(starts), tuple(sorted(placed)), depart, back)


def latest_departure(shift_start: int, first_start: int, travel: int, placed) -> int:
    """Leave as late as possible; breaks before the first visit go at home or on the way."""
    early = sorted(b for b in placed if b[1] <= first_start)
    for k in range(len(early) + 1):
        at_home, on_way = early[:k], early[k:]
        depart = max(shift_start, first_start - travel - sum(e - s for s, e in on_way))
        if at_home:
            depart = max(depart, at_home[-1][1])
        if (not on_way or depart <= on_way[0][0]) and depart + travel + sum(
            e - s for s, e in on_way
        ) <= first_start:
            return depart
    return shift_start


def earliest_return(last_end: int, travel: int, placed) -> int:
    """Come home as early as possible; breaks after the last visit go on the way or at home."""
    late = sorted(b for b in placed if b[0] >= last_end)
    for k in range(len(late) + 1):
        on_way, at_home = late[:k], late[k:]
        back = last_end + travel + sum(e - s for s, e in on_way)
        if on_way:
            back = max(back, on_way[-1][1])
        if not at_home or back <= at_home[0][0]:
            return back
    return last_end + travel + sum(e - s for s, e in late)
