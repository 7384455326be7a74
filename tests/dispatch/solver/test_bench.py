"""The home-care benchmark: the stripped day, VROOM's plan as our ``Solution``, the report rows."""

from __future__ import annotations

import json

import pytest

from dispatch import bench
from dispatch.solver import check

from .helpers import H, job, lunch, plane, problem, worker


def tiny_day():
    """Two walkers at one home, three visits in a row east of it, lunch 11:30-13:30."""
    sites, travel = plane({"home": (0, 0), "a": (10, 0), "b": (20, 0), "c": (30, 0)})
    workers = [worker(w, sites["home"], breaks=lunch(), max_work=6 * H) for w in ("w1", "w2")]
    jobs = [
        job("ja", sites["a"], window=(9 * H, 10 * H), crew=2, preferred_worker="w1"),
        job("jb", sites["b"], window=(9 * H, 12 * H)),
        job("jc", sites["c"], window=(14 * H, 15 * H)),
    ]
    return problem(workers, jobs, travel)


def test_the_stripped_day_keeps_windows_and_breaks_but_drops_crews_preferences_and_caps():
    day = bench.strip_day(tiny_day())
    assert [j.crew for j in day.jobs] == [1, 1, 1]
    assert all(j.preferred_worker is None for j in day.jobs)
    assert all(w.max_work is None and w.breaks == lunch() for w in day.workers)
    assert [(j.window_start, j.window_end) for j in day.jobs] == [(9 * H, 10 * H), (9 * H, 12 * H), (14 * H, 15 * H)]


def vroom_dict(steps):
    """A VROOM JSON solution with one route of ``steps`` for vehicle 0 (w1)."""
    return {"routes": [{"vehicle": 0, "steps": steps}]}


def test_a_vroom_plan_becomes_a_solution_the_checker_accepts():
    """Steps carry arrival and waiting; the stop starts after the wait, breaks keep their
    service, travel comes from our own travel model, the unplanned visit is reported."""
    day = bench.strip_day(tiny_day())
    sites = bench.day_sites(day)
    found = vroom_dict([
        {"type": "start", "arrival": 530},
        {"type": "job", "id": 0, "arrival": 540, "waiting_time": 0, "service": 30},
        {"type": "job", "id": 1, "arrival": 580, "waiting_time": 0, "service": 30},
        {"type": "break", "arrival": 690, "waiting_time": 0, "service": 45},
        {"type": "job", "id": 2, "arrival": 745, "waiting_time": 95, "service": 30},
        {"type": "end", "arrival": 900},
    ])
    sol = bench.vroom_solution(day, sites, found, 1.0)
    assert check(day, sol) == []
    route = sol.route_of("w1")
    assert [s.start for s in route.stops] == [540, 580, 840]
    assert route.travel == 10 + 10 + 10 + 30
    assert sol.stats.assigned == 3 and sol.unassigned == ()


def test_a_vroom_plan_that_breaks_a_rule_is_caught():
    """The conversion does not repair anything: a visit outside its window is reported."""
    day = bench.strip_day(tiny_day())
    found = vroom_dict([
        {"type": "start", "arrival": 530},
        {"type": "job", "id": 0, "arrival": 700, "waiting_time": 0, "service": 30},
        {"type": "end", "arrival": 740},
    ])
    sol = bench.vroom_solution(day, bench.day_sites(day), found, 1.0)
    assert any("outside its start range" in v for v in check(day, sol))
    assert {u.job_id for u in sol.unassigned} == {"jb", "jc"}


def test_seed_ranges():
    assert bench._seed_range("1-3") == [1, 2, 3]
    assert bench._seed_range("7") == [7]


def test_the_homecare_bench_prints_one_json_object_per_seed_and_planner(capsys):
    assert bench.main(["homecare", "--visits", "14", "--caregivers", "3", "--seconds", "0.3",
                       "--seeds", "1-2", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["seed"], r["planner"]) for r in rows] == [(1, "solver"), (1, "greedy"), (2, "solver"), (2, "greedy")]
    for r in rows:
        assert {"seed", "planner", "assigned", "jobs", "travel_min", "solve_s", "feasible"} <= r.keys()
        assert r["feasible"] and r["jobs"] == 14


def test_vroom_beside_ours_on_a_small_generated_day(capsys):
    """Needs the bench extra (pyvroom); both stripped plans and the full one pass the checker."""
    pytest.importorskip("vroom")
    assert bench.main(["homecare", "--vroom", "--visits", "20", "--caregivers", "3", "--seconds", "0.5",
                       "--seeds", "2", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["planner"], r["day"]) for r in rows] == [("solver", "stripped"), ("vroom", "stripped"), ("solver", "full")]
    assert all(r["feasible"] for r in rows)
