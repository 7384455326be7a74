"""The two-state break timing (``slack``) and the exact ``simulate`` it agrees with."""

from __future__ import annotations

import math
import random

import numpy as np

from dispatch.solver import (
    Break, BreakTaken, Job, MatrixTravel, Problem, Route, Site, Solution, Stats, Stop, Unassigned, Worker, check,
)
from dispatch.solver.layout import build_layout
from dispatch.solver.reasons import diagnose
from dispatch.solver.schedule import simulate
from dispatch.solver.slack import break_rule, connect, extend, route_fits, route_fits_fast, route_times
from dispatch.solver.travel import travel_tables

from .helpers import H, job, lunch, plane, problem, worker


def random_day(seed: int) -> Problem:
    """One worker (a lunch break most of the time, various shifts) and 12 random visits."""
    rng = random.Random(seed)
    points = {"h": (rng.uniform(0, 40), rng.uniform(0, 40))}
    points |= {f"e{i}": (rng.uniform(0, 40), rng.uniform(0, 40)) for i in range(12)}
    ids = list(points)
    minutes = [[math.ceil(math.dist(points[a], points[b]) - 1e-9) for b in ids] for a in ids]
    sites = {k: Site(k, y, x) for k, (x, y) in points.items()}
    shift = rng.choice([(8 * H, 17 * H), (12 * H, 20 * H), (7 * H, 15 * H), (8 * H, 12 * H)])
    breaks = lunch() if rng.random() < 0.8 else ()
    jobs = []
    for i in range(12):
        lo = rng.randrange(7 * H, 17 * H)
        jobs.append(Job(f"j{i}", sites[f"e{i}"], rng.choice([10, 30, 60]), lo, lo + rng.choice([0, 30, 120, 300])))
    w = Worker("w", sites["h"], sites["h"], shift[0], shift[1], breaks=breaks)
    return Problem((w,), tuple(jobs), MatrixTravel(ids, {"walk": minutes}), units_per_minute=1)


def layout_of(p: Problem):
    tables = travel_tables(p)
    return build_layout(p, tables, diagnose(p, tables))


def random_routes(count: int):
    """(problem, layout, route) for ``count`` random days: up to 6 visits in a rough time order."""
    for seed in range(count):
        p = random_day(seed)
        lay = layout_of(p)
        rng = random.Random(seed)
        nodes = [n for ns in lay.job_nodes for n in ns]
        rng.shuffle(nodes)
        if nodes:
            size = rng.randint(1, min(6, len(nodes)))
            yield p, lay, sorted(nodes[:size], key=lambda n: lay.lo[n] + rng.randint(-60, 60))


def as_solution(p: Problem, lay, route, timeline) -> Solution:
    """A one-route ``Solution`` from a node route and its ``simulate`` timeline."""
    tt, prev, stops = lay.vehicle_travel(0), lay.starts[0], []
    for node, start in zip(route, timeline.starts):
        stops.append(Stop(lay.jobs[lay.node_job[node]].id, 0, start, start + int(lay.service[node]), int(tt[prev, node])))
        prev = node
    travel = sum(s.travel_before for s in stops) + int(tt[prev, lay.ends[0]])
    breaks = tuple(BreakTaken(a, b) for a, b in timeline.breaks)
    served = {s.job_id for s in stops}
    left = tuple(Unassigned(j.id, "left_out", "") for j in p.jobs if j.id not in served)
    return Solution((Route("w", timeline.depart, timeline.back, tuple(stops), breaks, travel),), left,
                    Stats(0, travel, len(stops), len(left), 0.0, "", ""))


def test_simulate_times_exactly_the_routes_the_two_states_allow_and_its_timing_passes_the_checker():
    """On 1,500 random one-worker routes: ``simulate`` finds a timing exactly when the
    two-state pass says the route fits (both ways), and every timing it returns passes
    ``check``. Before the break-in-any-gap fallback, 11 in 3,000 such routes fitted but
    were refused."""
    fits = 0
    for p, lay, route in random_routes(1500):
        timeline = simulate(lay, 0, route)
        assert (timeline is not None) == route_fits(lay, 0, route, lay.lo, lay.hi)
        assert route_fits_fast(lay, 0, route, lay.lo, lay.hi) == route_fits(lay, 0, route, lay.lo, lay.hi)
        if timeline is not None:
            fits += 1
            assert check(p, as_solution(p, lay, route, timeline)) == []
    assert 100 < fits < 1400  # both answers occur often


def test_the_constant_time_insertion_check_agrees_with_timing_the_whole_route():
    """``extend`` then ``connect`` on the stored times answers, for every visit at every
    position, what timing the whole new route answers."""
    checked = 0
    for p, lay, route in random_routes(600):
        times = route_times(lay, 0, route, lay.lo, lay.hi)
        if not times.feasible:
            continue
        rule, tt = break_rule(lay, 0), lay.vehicle_travel(0)
        for node in [n for ns in lay.job_nodes for n in ns if n not in route]:
            for pos in range(len(route) + 1):
                prev, nxt = times.path[pos], times.path[pos + 1]
                r0, r1 = extend(times.ready0[pos], times.ready1[pos], int(tt[prev, node]), lay.lo[node], lay.hi[node],
                                lay.service[node], rule.start, rule.end, rule.duration)
                fast = bool(connect(r0, r1, int(tt[node, nxt]), times.late0[pos + 1], times.late1[pos + 1],
                                    rule.start, rule.end, rule.duration))
                whole = route[:pos] + [node] + route[pos:]
                assert fast == (simulate(lay, 0, whole) is not None)
                checked += 1
    assert checked > 1000


def test_the_constant_time_removal_check_agrees_with_timing_the_whole_route():
    """``connect`` of a visit's neighbours answers what timing the route without it answers
    (a removal can fail when a pinned start follows)."""
    for p, lay, route in random_routes(300):
        times = route_times(lay, 0, route, lay.lo, lay.hi)
        if not times.feasible:
            continue
        rule, tt = break_rule(lay, 0), lay.vehicle_travel(0)
        for i in range(len(route)):
            a, b = times.path[i], times.path[i + 2]
            fast = bool(connect(times.ready0[i], times.ready1[i], int(tt[a, b]), times.late0[i + 2], times.late1[i + 2],
                                rule.start, rule.end, rule.duration))
            assert fast == (simulate(lay, 0, route[:i] + route[i + 1:]) is not None)


def test_a_lunch_that_delays_the_next_visit_is_still_found_when_it_must_go_first():
    """A visit 12:01–12:31, then one pinned at 13:11 (16 minutes apart): lunch fits only
    before the first visit, which then starts at 12:15. The earlier rule (take the break
    where it costs no delay, else as late as it can go) deferred it and found no timing."""
    sites, travel = plane({"h": (0, 0), "a": (0, 16), "b": (16, 16)})
    w = worker("w", sites["h"], breaks=lunch())
    jobs = [job("a", sites["a"], minutes=10, window=(12 * H + 1, 12 * H + 31)),
            job("b", sites["b"], minutes=10, window=(13 * H + 11, 13 * H + 11))]
    p = problem([w], jobs, travel)
    lay = layout_of(p)
    route = [lay.job_nodes[0][0], lay.job_nodes[1][0]]
    timeline = simulate(lay, 0, route)
    assert timeline is not None
    assert timeline.starts == (12 * H + 15, 13 * H + 11)
    assert timeline.breaks == ((11 * H + 30, 12 * H + 15),)
    assert check(p, as_solution(p, lay, route, timeline)) == []


def test_a_worker_without_a_break_is_plain_time_windows():
    """No break: the route fits exactly when each visit can start in its window in turn."""
    sites, travel = plane({"h": (0, 0), "a": (0, 30), "b": (0, 45)})
    w = worker("w", sites["h"], shift=(8 * H, 10 * H + 30))
    b_at = 9 * H + 15
    p = problem([w], [job("a", sites["a"], window=(8 * H, 8 * H + 30)), job("b", sites["b"], window=(b_at, b_at))], travel)
    lay = layout_of(p)
    a, b = lay.job_nodes[0][0], lay.job_nodes[1][0]
    assert route_fits(lay, 0, [a, b], lay.lo, lay.hi)  # a 8:30-9:00, b 9:15-9:45, home 10:30
    late = lay.hi.copy()
    late[b] = b_at - 1
    assert not route_fits(lay, 0, [a, b], lay.lo, late)
    assert np.all(route_times(lay, 0, [a, b], lay.lo, lay.hi).ready0 >= 1 << 49)  # the "not taken" state never applies


def test_two_breaks_are_left_to_simulate():
    """The two-state timing models one break; ``supports`` keeps other workers out."""
    from dispatch.solver.slack import supports

    sites, travel = plane({"h": (0, 0), "a": (0, 10)})
    two = (Break(10 * H, 11 * H, 15), Break(14 * H, 15 * H, 15))
    p = problem([worker("w", sites["h"], breaks=two), worker("v", sites["h"], breaks=lunch())],
                [job("a", sites["a"])], travel)
    lay = layout_of(p)
    assert [supports(lay, v) for v in range(2)].count(False) == 1


def test_a_visit_that_leaves_no_room_for_lunch_before_a_fixed_visit_is_refused():
    """A visit fixed at 12:46 ends too late for lunch after it (window closes 13:30), so
    lunch must come before it. Put a visit 11:06–11:26 in front (38 minutes away): 80
    minutes are left for 38 of travel and 45 of lunch. The constant-time check must refuse
    it, even though without lunch the fixed visit is reached in time."""
    sites, travel = plane({"h": (0, 0), "x": (0, 10), "f": (0, 48)})
    w = worker("w", sites["h"], breaks=lunch())
    fixed = 12 * H + 46
    p = problem([w], [job("x", sites["x"], minutes=20, window=(11 * H + 6, 12 * H + 6)),
                      job("f", sites["f"], minutes=20, window=(fixed, fixed))], travel)
    lay = layout_of(p)
    x, f = lay.job_nodes[0][0], lay.job_nodes[1][0]
    times = route_times(lay, 0, [f], lay.lo, lay.hi)
    assert times.feasible  # alone: walk there, lunch at 11:30-12:15 near it, start 12:46
    rule, tt = break_rule(lay, 0), lay.vehicle_travel(0)
    r0, r1 = extend(times.ready0[0], times.ready1[0], int(tt[lay.starts[0], x]), lay.lo[x], lay.hi[x],
                    lay.service[x], rule.start, rule.end, rule.duration)
    assert not connect(r0, r1, int(tt[x, f]), times.late0[1], times.late1[1], rule.start, rule.end, rule.duration)
    assert simulate(lay, 0, [x, f]) is None
