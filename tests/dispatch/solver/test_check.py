"""check.py catches every kind of violation in hand-made plans (a checker that cannot fail
is a defect). The base plan is written by hand, is feasible, and each test breaks one rule."""

from dataclasses import replace

import pytest

from dispatch.solver import BreakTaken, Route, Solution, Stats, Stop, Unassigned, check

from .helpers import H, job, lunch, plane, problem, worker

SITES, TRAVEL = plane({"h1": (0, 0), "h2": (0, 10), "a": (10, 0), "b": (20, 0)})


def day(ann=None, bo=None, a=None, bath=None):
    """Ann (F, GB, lunch, 400 min) and Bo (M, GB); visit a at 09:00–10:00, a crew-2 bath."""
    ann = {"quals": "GB", "gender": "F", "breaks": lunch(), "max_work": 400, **(ann or {})}
    bo = {"quals": "GB", "gender": "M", **(bo or {})}
    workers = [worker("ann", SITES["h1"], **ann), worker("bo", SITES["h2"], **bo)]
    jobs = [
        job("a", SITES["a"], minutes=60, window=(9 * H, 10 * H), qualification="G", **(a or {})),
        job("bath", SITES["b"], minutes=90, window=(10 * H, 14 * H), qualification="B", crew=2, **(bath or {})),
    ]
    return problem(workers, jobs, TRAVEL)


def plan(ann_stops=None, bo_stops=None, ann=None, bo=None, unassigned=()):
    """The hand-made feasible plan; keyword overrides replace stops or route fields."""
    ann_route = Route("ann", 530, 815, tuple(ann_stops or (
        Stop("a", 0, 540, 600, 10), Stop("bath", 0, 660, 750, 10))), (BreakTaken(750, 795),), 40)
    bo_route = Route("bo", 637, 773, tuple(bo_stops or (Stop("bath", 1, 660, 750, 23),)), (), 46)
    routes = (replace(ann_route, **(ann or {})), replace(bo_route, **(bo or {})))
    stats = Stats(0, 86, 2, len(unassigned), 0.0, "hand-made", "hand")
    return Solution(routes, tuple(unassigned), stats)


def test_the_hand_made_plan_is_feasible():
    """The base case passes, so every failure below is caused by its one change."""
    assert check(day(), plan()) == []


CASES = {
    "start before its window": (day(), plan(ann_stops=[Stop("a", 0, 530, 590, 10), Stop("bath", 0, 660, 750, 10)], ann={"depart": 520}), "outside its start range"),
    "wrong duration": (day(), plan(ann_stops=[Stop("a", 0, 540, 590, 10), Stop("bath", 0, 660, 750, 10)]), "lasts 50"),
    "missing qualification": (day(bo={"quals": "G"}), plan(), "needs qualification B"),
    "wrong gender": (day(a={"gender": "M"}), plan(), "needs a M worker"),
    "leaves before the shift": (day(ann={"shift": (9 * H, 17 * H)}), plan(), "before the shift starts"),
    "home after the shift": (day(ann={"shift": (8 * H, 13 * H)}), plan(), "after the shift ends"),
    "too little travel time": (day(), plan(ann={"depart": 535}), "for travel 10"),
    "break not taken": (day(), plan(ann={"breaks": ()}), "takes 0 break(s)"),
    "break outside its window": (day(), plan(ann={"breaks": (BreakTaken(770, 815),)}), "outside its window"),
    "break during a visit": (day(), plan(ann={"breaks": (BreakTaken(700, 745),)}), "overlaps job bath"),
    "crew starts apart": (day(), plan(bo_stops=[Stop("bath", 1, 661, 751, 23)], bo={"back": 774}), "different times"),
    "crew of one worker": (day(), plan(bo_stops=[Stop("a", 0, 570, 630, 15)], ann_stops=[Stop("bath", 0, 660, 750, 20), Stop("bath", 1, 660, 750, 0)]), "different workers"),
    "pin ignored": (day(a={"pinned_workers": frozenset({"bo"})}), plan(), "is pinned to ['bo']"),
    "pinned start moved": (day(a={"pinned_start": 545}), plan(), "outside its start range [545, 545]"),
    "max work exceeded": (day(ann={"max_work": 100}), plan(), "more than max_work 100"),
    "over capacity": (day(ann={"capacity": 1}, a={"demand": 2}), plan(), "more than capacity 1"),
    "served twice": (day(), plan(bo_stops=[Stop("a", 0, 560, 620, 15), Stop("bath", 1, 660, 750, 23)], bo={"depart": 545, "travel": 48}), "served 2 time(s)"),
    "job forgotten": (day(), plan(ann_stops=[Stop("bath", 0, 660, 750, 20)], ann={"travel": 40}), "neither served nor reported"),
    "served and unassigned": (day(), plan(unassigned=[Unassigned("a", "capacity", "x")]), "also reported unassigned"),
    "wrong reported travel": (day(), plan(ann={"travel": 41}), "reports travel 41"),
    "wrong travel before a stop": (day(), plan(ann_stops=[Stop("a", 0, 540, 600, 9), Stop("bath", 0, 660, 750, 10)]), "reports travel 9"),
    "route of a stranger": (day(), plan(bo={"worker_id": "zed"}), "unknown worker zed"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_violation_kind_is_reported(case):
    """The named broken rule shows up among the violations."""
    p, sol, expected = CASES[case]
    violations = check(p, sol)
    assert any(expected in v for v in violations), violations
