"""The search around the model: robustness, determinism, warm start, freeze, progress, cancel."""

import random
from dataclasses import replace
from pathlib import Path

import pytest

from dispatch.solver import Site, SolveParams, Worker, check, solve
from dispatch.solver.vrptw_io import read_vrptw, to_problem

from .helpers import FAST, H, job, lunch, plane, problem, worker

BENCH = Path(__file__).resolve().parents[4] / "shared" / "bench" / "solomon"


def r101_with_home_starts(customers: int = 25):
    """R101 cut to its first customers, 25 workers each starting and ending at their own home."""
    path = BENCH / "R101.txt"
    if not path.exists():
        pytest.skip(f"benchmark data not found at {path}")
    inst = read_vrptw(path)
    inst = replace(inst, customers=inst.customers[:customers])
    base = to_problem(inst, scale=100)
    rng = random.Random(7)
    homes = [Site(str(c.number)) for c in rng.sample(inst.customers, 10)] + [Site("0")] * 15
    workers = tuple(
        Worker(f"w{k}", home, home, 0, base.workers[0].shift_end, profile="vehicle", capacity=inst.capacity)
        for k, home in enumerate(homes)
    )
    return replace(base, workers=workers)


def small_day(extra=()):
    """Two walkers and six visits around noon, one with lunch: enough for real search moves.

    ``extra`` jobs (id, (x, y), window) are added at the end.
    """
    points = {"h1": (0, 0), "h2": (20, 0), **{f"e{i}": (3 * i, i % 3 * 4) for i in range(6)}}
    points.update({jid: xy for jid, xy, _ in extra})
    sites, travel = plane(points)
    workers = [worker("ann", sites["h1"], breaks=lunch()), worker("bo", sites["h2"])]
    jobs = [job(f"j{i}", sites[f"e{i}"], minutes=40, window=(9 * H + 20 * i, 12 * H + 20 * i)) for i in range(6)]
    jobs += [job(jid, sites[jid], window=window) for jid, _, window in extra]
    return problem(workers, jobs, travel)


def test_r101_cut_with_home_starts_returns_a_feasible_plan():
    """Tight windows and vehicles starting at homes: a plan comes back, and it is feasible."""
    p = r101_with_home_starts()
    sol = solve(p, SolveParams(time_limit_s=1.5, solution_limit=300))
    assert sol.stats.assigned + sol.stats.unassigned == 25
    assert sol.stats.assigned >= 20
    assert check(p, sol) == []


def test_same_seed_and_solution_limit_give_the_same_plan():
    """Stopping on a solution limit (not on time) makes runs reproducible."""
    p = r101_with_home_starts()
    params = SolveParams(time_limit_s=60, solution_limit=60, seed=3)
    first, second = solve(p, params), solve(p, params)
    assert first.routes == second.routes
    assert first.stats.objective == second.stats.objective


def test_warm_start_keeps_the_given_routes_when_the_search_is_not_allowed_to_move():
    """With solution_limit=1 the plan is exactly the dispatcher's previous routes."""
    p = small_day()
    previous = {"ann": ["j1", "j0", "j2"], "bo": ["j3", "j4", "j5"]}
    sol = solve(p, SolveParams(time_limit_s=2, solution_limit=1), initial_routes=previous)
    assert sol.routes_by_worker() == previous
    assert check(p, sol) == []


def test_warm_start_is_never_worse_than_the_routes_given():
    """Re-optimising from a previous plan keeps or lowers its objective."""
    p = small_day()
    first = solve(p, SolveParams(strategy="greedy"))
    again = solve(p, FAST, initial_routes=first)
    assert again.stats.objective <= first.stats.objective
    assert check(p, again) == []


def test_freeze_keeps_started_visits_on_their_worker_at_their_time():
    """Visits starting before the freeze time stay put; a new visit goes after it."""
    p = small_day()
    before = solve(p, FAST)
    cut = 10 * H
    frozen = {(r.worker_id, s.job_id, s.start) for r in before.routes for s in r.stops if s.start < cut}
    p2 = small_day(extra=[("new", (10, 2), (8 * H, 15 * H))])
    after = solve(p2, replace(FAST, freeze_until=cut), initial_routes=before)
    kept = {(r.worker_id, s.job_id, s.start) for r in after.routes for s in r.stops}
    assert frozen and frozen <= kept
    assert all(s.start >= cut for r in after.routes for s in r.stops if s.job_id == "new")
    assert check(p2, after) == []


def test_progress_reports_improving_objectives():
    """on_progress sees a non-increasing sequence of objectives with elapsed times."""
    seen = []
    solve(r101_with_home_starts(), SolveParams(time_limit_s=1, solution_limit=100), on_progress=seen.append)
    assert seen
    assert all(a.objective > b.objective for a, b in zip(seen, seen[1:]))
    assert all(x.assigned > 0 and x.elapsed_s >= 0 for x in seen)


def test_should_stop_cancels_the_search_quickly():
    """A stop request ends a 30 s search at once with the best plan so far."""
    p = r101_with_home_starts()
    sol = solve(p, SolveParams(time_limit_s=30), should_stop=lambda: True)
    assert sol.stats.solve_s < 5
    assert sol.stats.status == "cancelled"
    assert check(p, sol) == []


def test_greedy_strategy_is_the_baseline_and_feasible():
    """strategy='greedy' returns the insertion plan without OR-Tools."""
    p = small_day()
    sol = solve(p, SolveParams(strategy="greedy"))
    assert sol.stats.strategy == "greedy insertion"
    assert check(p, sol) == []


def test_greedy_fallback_when_or_tools_returns_nothing(monkeypatch):
    """If the search returns no plan at all, the greedy plan comes back, marked fallback."""
    from dispatch.solver import decompose

    monkeypatch.setattr(decompose, "optimise_plan", lambda *a, **k: decompose.SearchResult(None, False))
    p = small_day()
    sol = solve(p, FAST)
    assert sol.stats.status == "fallback"
    assert sol.stats.assigned == 6
    assert check(p, sol) == []


def test_greedy_fallback_when_the_search_raises(monkeypatch):
    """Even an exception inside the search still yields the greedy plan."""
    from dispatch.solver import decompose

    def broken(*args, **kwargs):
        raise RuntimeError("solver exploded")

    monkeypatch.setattr(decompose, "optimise_plan", broken)
    sol = solve(small_day(), FAST)
    assert sol.stats.status == "fallback" and "solver exploded" in sol.stats.strategy


def test_large_day_is_decomposed_and_feasible():
    """Above decompose_above visits the plan is improved part by part, still feasible."""
    p = r101_with_home_starts(customers=60)
    sol = solve(p, SolveParams(time_limit_s=1, decompose_above=30, part_nodes=15))
    assert sol.stats.strategy == "insertion+gls (decomposed)"
    assert check(p, sol) == []


def test_a_popmusic_part_that_comes_back_worse_goes_back_with_its_timing(monkeypatch):
    """A part's search that ends worse by our objective is undone, routes and timing together.
    With only the routes put back, their stale timing was recomputed route by route and a
    crew's two visits got different starts (a full 300-visit day, about one solve in five)."""
    from dispatch.solver import decompose
    from dispatch.solver.clock import Clock
    from dispatch.solver.routing import TimedRoute
    from dispatch.solver.schedule import simulate

    from .test_lns import crowded_day, layout_and_timed

    lay, plan, timed = layout_and_timed(crowded_day(n_workers=4, crew_every=4))
    routes = [list(r) for r in plan.routes]
    parts = []

    def search_ending_worse(lay, group, routes, timed, *args, **kwargs):
        parts.append(group.vehicles)
        for v in group.vehicles:
            if routes[v]:
                routes[v] = routes[v][:-1]
                t = simulate(lay, v, routes[v], lay.lo, lay.hi)
                timed[v] = TimedRoute(tuple(routes[v]), t.starts, t.breaks, t.depart, t.back)
        return decompose.SearchResult(None, False, solutions=1)

    monkeypatch.setattr(decompose, "_solve_group", search_ending_worse)
    kept_routes, kept_timed = [list(r) for r in routes], list(timed)
    decompose._popmusic(lay, routes, timed, SolveParams(seed=1), 5.0, Clock(5.0), None, None, 3)
    assert len(parts) == 3
    assert routes == kept_routes and timed == kept_timed
