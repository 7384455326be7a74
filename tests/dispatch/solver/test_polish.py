"""The local search on node routes (``polish``): never infeasible, never worse."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np

from dispatch.solver import construct, lns, polish
from dispatch.solver.routing import plan_objective
from dispatch.solver.schedule import simulate

from .helpers import H, job, lunch, plane, problem, worker
from .test_lns import crowded_day, layout_and_timed


def polished(lay, routes, lo=None, hi=None, seed=1):
    movable = np.array([lns._movable(lay, k) for k in range(len(lay.jobs))], dtype=bool)
    lo = lay.lo if lo is None else lo
    hi = lay.hi if hi is None else hi
    return polish.polish(lay, routes, lo, hi, 0, movable, lambda: 1.0, random.Random(seed))


def tier_counts(lay, routes):
    """Visits served per priority, as a Counter (``<=`` compares every tier)."""
    return Counter(lay.jobs[lay.node_job[n]].priority for r in routes for n in r)


def test_moves_never_break_a_route_lose_a_visit_or_cost_more():
    """Crowded days with lunch breaks (and crews of two fixed in time): after the search
    every route can be timed, no fewer visits are served in any priority tier (a left-out
    visit may replace a served one of its tier), crews stay where they were, and the
    objective is no higher."""
    for seed in range(6):
        p = crowded_day(n_jobs=30, n_workers=4, seed=seed, crew_every=7 if seed % 2 else 0)
        lay, plan, _ = layout_and_timed(p)
        before = [list(r) for r in plan.routes]
        after = polished(lay, before, plan.lo, plan.hi, seed)
        assert all(simulate(lay, v, r, plan.lo, plan.hi) is not None for v, r in enumerate(after))
        assert tier_counts(lay, before) <= tier_counts(lay, after)
        crews = [n for k, ns in enumerate(lay.job_nodes) if len(ns) == 2 for n in ns]
        assert {n: v for v, r in enumerate(before) for n in r if n in crews} == \
               {n: v for v, r in enumerate(after) for n in r if n in crews}
        assert plan_objective(lay, after, 0) <= plan_objective(lay, before, 0)


def test_it_shortens_a_plan_built_in_a_bad_order():
    """Two walkers at opposite ends of a street; each was given the other's visits. The
    search hands every visit to the near walker and travel falls by more than half."""
    points = {"west": (0, 0), "east": (100, 0)} | {f"w{i}": (5 + i, 0) for i in range(3)} | {
        f"e{i}": (95 - i, 0) for i in range(3)}
    sites, travel = plane(points)
    workers = [worker("west", sites["west"], breaks=lunch()), worker("east", sites["east"], breaks=lunch())]
    jobs = [job(f"{side}{i}", sites[f"{side}{i}"], minutes=20, window=(8 * H, 15 * H)) for side in "we" for i in range(3)]
    p = problem(workers, jobs, travel)
    lay, _, _ = layout_and_timed(p)
    west = [lay.job_nodes[k][0] for k, j in enumerate(lay.jobs) if j.id.startswith("w")]
    east = [lay.job_nodes[k][0] for k, j in enumerate(lay.jobs) if j.id.startswith("e")]
    v_west = lay.vehicle_of("west")
    bad = [east, west] if v_west == 0 else [west, east]
    assert all(simulate(lay, v, r) is not None for v, r in enumerate(bad))
    good = polished(lay, bad)
    assert sorted(good[v_west]) == sorted(west)
    assert plan_objective(lay, good, 0) < plan_objective(lay, bad, 0) / 2


def test_a_left_out_visit_goes_in_when_another_moves_out_of_its_way():
    """Visit ``a`` needs a qualification only worker "one" holds, and one's short shift is
    taken by ``b``; ``b`` can move to worker "two", so the search serves both (an ejection
    chain of two)."""
    sites, travel = plane({"h1": (0, 0), "h2": (10, 0), "a": (5, 0), "b": (5, 1)})
    workers = [worker("one", sites["h1"], shift=(9 * H, 10 * H), quals="GB"),
               worker("two", sites["h2"], shift=(9 * H, 11 * H))]
    jobs = [job("a", sites["a"], minutes=40, window=(9 * H, 9 * H + 10), qualification="B"),
            job("b", sites["b"], minutes=40, window=(9 * H, 10 * H))]
    p = problem(workers, jobs, travel)
    lay, _, _ = layout_and_timed(p)
    one, a, b = lay.vehicle_of("one"), lay.job_nodes[0][0], lay.job_nodes[1][0]
    routes = [[], []]
    routes[one] = [b]
    assert simulate(lay, one, [b, a]) is None and simulate(lay, one, [a, b]) is None
    after = polished(lay, routes)
    assert after[one] == [a] and after[1 - one] == [b]
    assert all(simulate(lay, v, r) is not None for v, r in enumerate(after))
