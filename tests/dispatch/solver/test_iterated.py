"""OR-Tools' iterated local search as the first phase of plain days, and where it is not used."""

from __future__ import annotations

import random

import pytest

from dispatch.solver import SolveParams, check, decompose, solve

from .helpers import H, job, lunch, plane, problem, worker


def plain_day(n_jobs=30, n_workers=5, seed=11, crew_every=0, pin_first=False):
    """Visits scattered over an hour's walk square, 2-hour windows; every worker has lunch."""
    rng = random.Random(seed)
    points = {"h1": (10.0, 10.0), "h2": (50.0, 50.0)}
    points.update({f"e{i}": (rng.uniform(0, 60), rng.uniform(0, 60)) for i in range(n_jobs)})
    sites, travel = plane(points)
    workers = [worker(f"w{k}", sites["h1" if k % 2 else "h2"], breaks=lunch(), max_work=7 * H)
               for k in range(n_workers)]
    jobs = []
    for i in range(n_jobs):
        start = rng.randrange(8 * H, 14 * H)
        crew = 2 if crew_every and i % crew_every == 0 else 1
        pinned = frozenset({"w0"}) if pin_first and i == 0 else frozenset()
        jobs.append(job(f"j{i}", sites[f"e{i}"], minutes=20, window=(start, start + 2 * H), crew=crew,
                        pinned_workers=pinned))
    return problem(workers, jobs, travel)


def test_a_plain_day_starts_with_iterated_local_search_and_the_plan_is_feasible():
    """Crew-1 visits, lunch breaks and work limits: the plan passes the independent checker
    and is no worse than the greedy baseline."""
    p = plain_day()
    greedy = solve(p, SolveParams(strategy="greedy"))
    sol = solve(p, SolveParams(time_limit_s=1.5))
    assert sol.stats.strategy == "ils+gls"
    assert check(p, sol) == []
    assert sol.stats.assigned >= greedy.stats.assigned
    assert sol.stats.objective <= greedy.stats.objective


def test_the_iterated_phase_is_reproducible_with_a_solution_limit():
    """It stops on its share of the solution limit, so two runs give the same plan."""
    p = plain_day()
    params = SolveParams(time_limit_s=60, solution_limit=120, seed=4)
    first, second = solve(p, params), solve(p, params)
    assert first.stats.strategy == "ils+gls"
    assert first.routes == second.routes


@pytest.mark.parametrize("case", ["crew", "pin", "previous_routes", "asked_for_gls"])
def test_crews_pins_previous_routes_or_gls_keep_guided_local_search(case):
    """The iterated search builds its own start and cannot keep a dispatcher's routes or
    pins, and a crew's two visits need the synchronised search: those days use GLS."""
    p = plain_day(crew_every=5 if case == "crew" else 0, pin_first=case == "pin")
    params = SolveParams(time_limit_s=0.5, solution_limit=60, metaheuristic="gls" if case == "asked_for_gls" else "auto")
    initial = solve(p, SolveParams(strategy="greedy")) if case == "previous_routes" else None
    sol = solve(p, params, initial_routes=initial)
    assert sol.stats.strategy == "insertion+gls"
    assert check(p, sol) == []


def test_a_stop_during_the_iterated_phase_takes_effect_when_the_phase_ends(monkeypatch):
    """Nothing interrupts OR-Tools' iterated search before its own limit: a stop request
    ends the solve right after that phase, with its plan, instead of after the budget."""
    monkeypatch.setattr(decompose, "ITERATED_MAX_S", 0.5)
    p = plain_day()
    asked = []

    def should_stop():
        asked.append(True)
        return len(asked) > 3

    sol = solve(p, SolveParams(time_limit_s=20), should_stop=should_stop)
    assert sol.stats.status == "cancelled"
    assert sol.stats.strategy == "ils+gls"
    assert sol.stats.solve_s < 5
    assert check(p, sol) == []


def test_unknown_metaheuristic_is_refused():
    with pytest.raises(ValueError, match="metaheuristic"):
        SolveParams(metaheuristic="tabu")


@pytest.mark.parametrize("visits", [1, 2, 9])
def test_small_days_are_planned_without_the_iterated_search(visits):
    """OR-Tools' iterated search never returned on a one-visit model (whatever its limits);
    days under ITERATED_MIN_JOBS visits use guided local search, and are planned."""
    p = plain_day(n_jobs=visits)
    sol = solve(p, SolveParams(time_limit_s=0.3, solution_limit=100))
    assert sol.stats.strategy == "insertion+gls"
    assert sol.stats.assigned == visits
    assert check(p, sol) == []
