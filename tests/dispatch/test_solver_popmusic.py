"""The improvement phases after the global search: POPMUSIC parts and the choice of start."""

from __future__ import annotations

import random

from dispatch.solver import SolveParams, check, construct, solve
from dispatch.solver.decompose import start_kind
from dispatch.solver.layout import build_layout
from dispatch.solver.reasons import diagnose
from dispatch.solver.travel import travel_tables

from .solver.helpers import H, job, plane, problem, worker


def scattered_day(n_jobs=36, n_workers=6, crew_every=0, seed=5, side=60.0, minutes=20):
    """Visits scattered over a square of ``side`` minutes, 2-hour windows, two homes."""
    rng = random.Random(seed)
    points = {"h1": (side / 6, side / 6), "h2": (side * 5 / 6, side * 5 / 6)}
    points.update({f"e{i}": (rng.uniform(0, side), rng.uniform(0, side)) for i in range(n_jobs)})
    sites, travel = plane(points)
    workers = [worker(f"w{k}", sites["h1" if k % 2 else "h2"]) for k in range(n_workers)]
    jobs = []
    for i in range(n_jobs):
        start = rng.randrange(8 * H, 14 * H)
        crew = 2 if crew_every and i % crew_every == 0 else 1
        jobs.append(job(f"j{i}", sites[f"e{i}"], minutes=minutes, window=(start, start + 2 * H), crew=crew))
    return problem(workers, jobs, travel)


def _layout_and_plan(p):
    tables = travel_tables(p)
    lay = build_layout(p, tables, diagnose(p, tables))
    return lay, construct.parallel(lay, construct.insertion_order(lay))


def test_a_time_limited_solve_with_the_popmusic_phase_is_feasible_and_no_worse_than_greedy():
    """Half the budget goes to re-solving groups of routes; the plan stays whole and valid."""
    p = scattered_day()
    greedy = solve(p, SolveParams(strategy="greedy"))
    sol = solve(p, SolveParams(time_limit_s=1.0))
    assert check(p, sol) == []
    assert sol.stats.assigned >= greedy.stats.assigned
    assert sol.stats.objective <= greedy.stats.objective


def test_crew_pairs_stay_together_through_the_popmusic_phase():
    """A part always holds both workers of a crew-2 visit, so crews stay synchronised."""
    p = scattered_day(crew_every=6)
    sol = solve(p, SolveParams(time_limit_s=1.0))
    assert check(p, sol) == []


def test_solution_limit_splits_between_the_phases_and_stays_reproducible():
    """With a solution limit both phases stop on counts, so two runs give the same plan."""
    p = scattered_day()
    params = SolveParams(time_limit_s=60, solution_limit=80, seed=2)
    first, second = solve(p, params), solve(p, params)
    assert first.routes == second.routes


def test_auto_start_is_ortools_only_for_long_routes_of_plain_visits():
    """Short routes, or any crew-2 visit, keep the own regret insertion as the start."""
    short = _layout_and_plan(scattered_day())
    assert start_kind(*short, SolveParams()) == "insertion"
    long_routes = _layout_and_plan(scattered_day(n_jobs=40, n_workers=2, side=10, minutes=5))
    assert start_kind(*long_routes, SolveParams()) == "ortools"
    crews = _layout_and_plan(scattered_day(n_jobs=40, n_workers=2, crew_every=5, side=10, minutes=5))
    assert start_kind(*crews, SolveParams()) == "insertion"
    assert start_kind(*long_routes, SolveParams(first_solution="insertion")) == "insertion"
