"""OR-Tools' iterated local search as the first phase of plain days, and where it is not used."""

from __future__ import annotations

import multiprocessing
import random
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.solver import SolveParams, check, construct, decompose, search, solve
from dispatch.solver.clock import Clock
from dispatch.solver.layout import build_layout
from dispatch.solver.reasons import diagnose
from dispatch.solver.routing import TimedRoute
from dispatch.solver.travel import travel_tables

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


def test_with_a_solution_limit_the_iterated_phase_ignores_its_time_cap():
    """A loaded machine must give the same plan: under a solution limit the phase's time cap
    (`iterated_max_s`) does not cut it, the solutions do (the simulated month relies on it)."""
    p = plain_day()
    params = SolveParams(time_limit_s=60, solution_limit=120, seed=4)
    starved = replace(params, iterated_max_s=0.001)
    assert solve(p, params).routes == solve(p, starved).routes


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


def test_a_stop_during_the_iterated_phase_takes_effect_when_the_phase_ends():
    """Nothing interrupts OR-Tools' iterated search before its own limit: a stop request
    ends the solve right after that phase, with its plan, instead of after the budget."""
    p = plain_day()
    asked = []

    def should_stop():
        asked.append(True)
        return len(asked) > 3

    sol = solve(p, SolveParams(time_limit_s=20, iterated_max_s=0.5), should_stop=should_stop)
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
    days under ``iterated_min_jobs`` visits use guided local search, and are planned."""
    p = plain_day(n_jobs=visits)
    sol = solve(p, SolveParams(time_limit_s=0.3, solution_limit=100))
    assert sol.stats.strategy == "insertion+gls"
    assert sol.stats.assigned == visits
    assert check(p, sol) == []


@st.composite
def plain_days(draw):
    """3–4 workers and 10–16 crew-1, unpinned visits with random rules (the iterated phase's days)."""
    n_workers, n_jobs = draw(st.integers(3, 4)), draw(st.integers(SolveParams().iterated_min_jobs, 16))
    coord = st.integers(0, 30)
    points = {f"h{i}": (draw(coord), draw(coord)) for i in range(n_workers)}
    points |= {f"e{i}": (draw(coord), draw(coord)) for i in range(n_jobs)}
    sites, travel = plane(points)
    workers = [
        worker(f"w{i}", sites[f"h{i}"], shift=(start, start + 8 * H), quals=draw(st.sampled_from(["G", "GB"])),
               gender=draw(st.sampled_from(["F", "M"])), breaks=lunch() if draw(st.booleans()) else (),
               max_work=draw(st.sampled_from([None, 240, 480])))
        for i, start in enumerate(draw(st.lists(st.sampled_from([7 * H, 8 * H, 12 * H]), min_size=n_workers,
                                                 max_size=n_workers)))
    ]
    ids = [w.id for w in workers]
    jobs = []
    for i in range(n_jobs):
        lo = draw(st.integers(7 * H, 17 * H))
        jobs.append(job(
            f"j{i}", sites[f"e{i}"], minutes=draw(st.sampled_from([10, 30, 60, 90])),
            window=(lo, lo + draw(st.sampled_from([0, 30, 120, 300]))),
            qualification=draw(st.sampled_from([None, "G", "B"])), gender=draw(st.sampled_from([None, None, "F"])),
            priority=draw(st.integers(0, 2)), preferred_worker=draw(st.sampled_from([None, *ids])),
        ))
    return problem(workers, jobs, travel)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plain_days())
def test_every_plan_of_a_plain_day_passes_the_checker(p):
    """Random plain days, planned with the iterated phase when enough visits remain after the
    diagnosis: the plan is feasible and accounts for every visit exactly once."""
    sol = solve(p, SolveParams(time_limit_s=2, solution_limit=40))
    assert check(p, sol) == []
    assert sol.stats.assigned + sol.stats.unassigned == len(p.jobs)


def test_an_iterated_plan_worse_than_the_start_is_not_taken(monkeypatch):
    """The iterated search builds its own start, so its plan could be worse than the
    construction's; it replaces the routes only if the whole plan is no worse."""
    def serves_nobody(model, sp, seconds, monitor):
        empty = TimedRoute((), (), (), 0, 0)
        return [empty] * model.lay.num_vehicles, False, 1

    monkeypatch.setattr(search, "_iterated", serves_nobody)
    p = plain_day()
    tables = travel_tables(p)
    lay = build_layout(p, tables, diagnose(p, tables))
    plan = construct.parallel(lay, construct.insertion_order(lay))
    routes = [list(r) for r in plan.routes]
    assert any(routes)
    decompose._iterated_phase(lay, plan, routes, [None] * lay.num_vehicles, SolveParams(solution_limit=10),
                              5.0, Clock(5.0), None, None)
    assert routes == [list(r) for r in plan.routes]


def test_a_day_with_kept_starts_is_not_given_to_the_iterated_search():
    """OR-Tools 9.15's iterated search aborts the process (a CHECK on an unbound cost
    variable) on a model with soft bounds on the start times, as a published day's kept
    starts are (found re-solving a simulated sick day without its warm start). Such a day
    goes to the guided search; run in a child process, so a regression fails this test
    instead of killing the suite."""
    p = plain_day()
    kept = replace(p, jobs=tuple(replace(j, kept_start=j.window_start + 30) for j in p.jobs))
    params = SolveParams(time_limit_s=2, kept_start_cost=2, kept_start_slack=0)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        strategy, violations = pool.submit(_solve_and_check, kept, params).result(timeout=120)
    assert strategy == "insertion+gls"
    assert violations == []


def _solve_and_check(p, params):
    sol = solve(p, params)
    return sol.stats.strategy, check(p, sol)
