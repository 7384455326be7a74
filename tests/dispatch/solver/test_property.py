"""Property: whatever the small day looks like, the returned plan passes the checker."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.solver import Break, SolveParams, check, solve

from .helpers import H, job, plane, problem, worker

QUICK = SolveParams(time_limit_s=0.5, solution_limit=30)


@st.composite
def small_days(draw):
    """2–3 workers and 2–6 jobs on a 30×30-minute plane with random rules switched on."""
    n_workers, n_jobs = draw(st.integers(2, 3)), draw(st.integers(2, 6))
    coord = st.integers(0, 30)
    points = {f"h{i}": (draw(coord), draw(coord)) for i in range(n_workers)}
    points |= {f"e{i}": (draw(coord), draw(coord)) for i in range(n_jobs)}
    sites, travel = plane(points)
    workers = [_worker(draw, i, sites) for i in range(n_workers)]
    jobs = [_job(draw, i, sites, [w.id for w in workers]) for i in range(n_jobs)]
    return problem(workers, jobs, travel)


def _worker(draw, i, sites):
    start = draw(st.sampled_from([7 * H, 8 * H, 12 * H]))
    breaks = (Break(11 * H + 30, 13 * H + 30, 45),) if draw(st.booleans()) else ()
    return worker(
        f"w{i}", sites[f"h{i}"], shift=(start, start + 8 * H), quals=draw(st.sampled_from(["G", "GB"])),
        gender=draw(st.sampled_from(["F", "M"])), breaks=breaks,
        max_work=draw(st.sampled_from([None, 240, 480])),
    )


def _job(draw, i, sites, worker_ids):
    lo = draw(st.integers(7 * H, 17 * H))
    pinned = draw(st.sampled_from([frozenset(), frozenset({worker_ids[0]})]))
    return job(
        f"j{i}", sites[f"e{i}"], minutes=draw(st.sampled_from([10, 30, 60, 90])),
        window=(lo, lo + draw(st.sampled_from([0, 30, 120, 300]))),
        qualification=draw(st.sampled_from([None, "G", "B"])), crew=draw(st.sampled_from([1, 1, 2])),
        gender=draw(st.sampled_from([None, None, "F"])), priority=draw(st.integers(0, 2)),
        preferred_worker=draw(st.sampled_from([None, *worker_ids])), pinned_workers=pinned,
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_days())
def test_every_plan_passes_the_checker(p):
    """Random small days: the plan is feasible and accounts for every job exactly once."""
    sol = solve(p, QUICK)
    assert check(p, sol) == []
    assert sol.stats.assigned + sol.stats.unassigned == len(p.jobs)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_days())
def test_every_greedy_plan_passes_the_checker(p):
    """The greedy baseline (also the fallback) is feasible on the same random days."""
    sol = solve(p, SolveParams(strategy="greedy"))
    assert check(p, sol) == []
