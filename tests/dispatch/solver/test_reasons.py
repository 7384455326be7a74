"""Every unassigned job carries the right reason."""

from dataclasses import replace

import pytest

from dispatch.solver import check, solve

from .helpers import FAST, H, job, plane, problem, reason_of, worker


def test_outside_shifts_when_the_window_cannot_be_reached_from_home():
    """A 07:00–07:30 start cannot be reached by a worker whose shift starts at 08:00."""
    sites, travel = plane({"h": (0, 0), "elder": (10, 0)})
    p = problem([worker("ann", sites["h"])], [job("dawn", sites["elder"], window=(7 * H, 7 * H + 30))], travel)
    sol = solve(p, FAST)
    assert reason_of(sol, "dawn") == "outside_shifts"
    assert "07:00" in sol.unassigned[0].detail


def test_outside_shifts_counts_the_way_home():
    """A visit that would end 5 minutes before shift end, 20 minutes from home, is out."""
    sites, travel = plane({"h": (0, 0), "elder": (20, 0)})
    late = job("late", sites["elder"], minutes=60, window=(15 * H + 55, 15 * H + 55))
    p = problem([worker("ann", sites["h"])], [late], travel)
    assert reason_of(solve(p, FAST), "late") == "outside_shifts"


def test_no_partner_when_only_one_qualified_worker_is_on_duty_at_that_time():
    """Two B workers exist but their shifts do not overlap the bath window together."""
    sites, travel = plane({"h": (0, 0), "elder": (1, 0)})
    workers = [worker("am", sites["h"], shift=(7 * H, 12 * H), quals="GB"),
               worker("pm", sites["h"], shift=(12 * H, 20 * H), quals="GB")]
    bath = job("bath", sites["elder"], minutes=90, window=(9 * H, 10 * H), qualification="B", crew=2)
    sol = solve(problem(workers, [bath], travel), FAST)
    assert reason_of(sol, "bath") == "no_partner"


def test_no_partner_when_the_second_worker_is_busy():
    """The partner's day is full at the bath time, so only one worker could take it."""
    sites, travel = plane({"h1": (0, 0), "h2": (0, 1), "elder": (1, 0), "other": (2, 2)})
    workers = [worker("ann", sites["h1"], quals="GB"), worker("bo", sites["h2"], quals="GB", shift=(8 * H, 12 * H))]
    busy = job("busy", sites["other"], minutes=180, window=(8 * H + 30, 8 * H + 30),
               pinned_workers=frozenset({"bo"}))
    bath = job("bath", sites["elder"], minutes=60, window=(9 * H, 10 * H), qualification="B", crew=2)
    p = problem(workers, [busy, bath], travel)
    sol = solve(p, FAST)
    assert reason_of(sol, "busy") is None
    assert reason_of(sol, "bath") == "no_partner"
    assert check(p, sol) == []


def test_capacity_when_the_job_fits_alone_but_the_day_is_full():
    """Three one-hour visits all pinned to 10:00 windows: one worker can only do one."""
    sites, travel = plane({"h": (0, 0), "a": (1, 0), "b": (1, 1), "c": (0, 1)})
    jobs = [job(x, sites[x], minutes=60, window=(10 * H, 10 * H + 10)) for x in "abc"]
    sol = solve(problem([worker("ann", sites["h"])], jobs, travel), FAST)
    assert sol.stats.assigned == 1
    assert sorted(u.reason for u in sol.unassigned) == ["capacity", "capacity"]


def test_exceeds_max_work_when_one_visit_is_longer_than_the_limit():
    """A 4-hour escort cannot be done by a worker allowed 3 hours of work."""
    sites, travel = plane({"h": (0, 0), "elder": (5, 0)})
    p = problem([worker("ann", sites["h"], max_work=180)], [job("escort", sites["elder"], minutes=240)], travel)
    assert reason_of(solve(p, FAST), "escort") == "exceeds_max_work"


def test_pinned_to_an_unknown_worker_is_no_qualified_worker():
    """A pin to a worker who is not on duty makes the job unplannable, with that name."""
    sites, travel = plane({"h": (0, 0), "elder": (5, 0)})
    pinned = job("visit", sites["elder"], pinned_workers=frozenset({"zoe"}))
    sol = solve(problem([worker("ann", sites["h"])], [pinned], travel), FAST)
    assert reason_of(sol, "visit") == "no_qualified_worker"
    assert "zoe" in sol.unassigned[0].detail


def test_every_job_is_served_or_explained():
    """Served and unassigned together cover every job exactly once."""
    sites, travel = plane({"h": (0, 0), "a": (1, 0), "b": (9, 9)})
    jobs = [job("a", sites["a"]), job("b", sites["b"], qualification="N"), job("c", sites["a"], window=(5 * H, 6 * H))]
    p = problem([worker("ann", sites["h"])], jobs, travel)
    sol = solve(p, FAST)
    served = {s.job_id for r in sol.routes for s in r.stops}
    assert served | {u.job_id for u in sol.unassigned} == {"a", "b", "c"}
    assert check(p, sol) == []


@pytest.mark.parametrize("strategy", ["auto", "greedy"])
def test_a_day_with_nobody_on_duty_explains_every_visit(strategy):
    """No worker at all (everyone's shift over, or nobody rostered): a plan comes back, and every
    job is unserved with a reason, rather than the search failing."""
    sites, travel = plane({"a": (0, 0), "b": (3, 4)})
    day = problem([], [job("j1", sites["a"]), job("j2", sites["b"], minutes=60)], travel)
    solution = solve(day, replace(FAST, strategy=strategy))
    assert solution.routes == ()
    assert {u.job_id: u.reason for u in solution.unassigned} == {"j1": "no_qualified_worker",
                                                                  "j2": "no_qualified_worker"}
