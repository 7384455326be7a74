"""Hard and soft rules of a care day, each on a tiny named instance."""

from dispatch.solver import check, solve

from .helpers import FAST, H, job, lunch, plane, problem, reason_of, served_by, stops_of, worker


def test_crew2_bath_starts_together_with_two_different_workers():
    """A crew-2 bath is served by two different workers starting at the same minute."""
    sites, travel = plane({"h1": (0, 0), "h2": (10, 0), "elder": (5, 5)})
    workers = [worker("ann", sites["h1"], quals="GCB"), worker("bo", sites["h2"], quals="GCB")]
    bath = job("bath", sites["elder"], minutes=90, window=(9 * H, 11 * H), qualification="B", crew=2)
    p = problem(workers, [bath], travel)
    sol = solve(p, FAST)
    stops = stops_of(sol, "bath")
    assert sorted(served_by(sol, "bath")) == ["ann", "bo"]
    assert stops[0].start == stops[1].start
    assert sorted(s.member for s in stops) == [0, 1]
    assert check(p, sol) == []


def test_bath_goes_only_to_a_worker_holding_b():
    """A worker without qualification B never gets the bath, even when much closer."""
    sites, travel = plane({"near": (0, 0), "far": (40, 0), "elder": (1, 0)})
    workers = [worker("plain", sites["near"], quals="G"), worker("aide", sites["far"], quals="GCB")]
    p = problem(workers, [job("bath", sites["elder"], qualification="B")], travel)
    sol = solve(p, FAST)
    assert served_by(sol, "bath") == ["aide"]
    assert check(p, sol) == []


def test_bath_without_any_b_worker_is_no_qualified_worker():
    """With nobody holding B on duty the bath is unassigned as no_qualified_worker."""
    sites, travel = plane({"h": (0, 0), "elder": (1, 0)})
    p = problem([worker("plain", sites["h"], quals="G")], [job("bath", sites["elder"], qualification="B")], travel)
    sol = solve(p, FAST)
    assert reason_of(sol, "bath") == "no_qualified_worker"
    assert "B" in sol.unassigned[0].detail


def test_shift_including_travel_from_and_to_home_is_respected():
    """A visit starts no earlier than shift start + travel and ends in time to get home."""
    sites, travel = plane({"h": (0, 0), "elder": (30, 0)})
    w = worker("ann", sites["h"], shift=(8 * H, 12 * H))
    jobs = [job("early", sites["elder"], minutes=60, window=(7 * H, 8 * H + 40)),
            job("late", sites["elder"], minutes=60, window=(10 * H + 20, 13 * H))]
    p = problem([w], jobs, travel)
    sol = solve(p, FAST)
    early, late = stops_of(sol, "early")[0], stops_of(sol, "late")[0]
    assert early.start >= 8 * H + 30
    assert late.end + 30 <= 12 * H
    assert check(p, sol) == []


def test_break_taken_inside_its_window_without_overlapping_a_visit():
    """Lunch (45 min in 11:30–13:30) is planned between visits that fill the noon hours."""
    sites, travel = plane({"h": (0, 0), "a": (5, 0), "b": (10, 0), "c": (15, 0)})
    w = worker("ann", sites["h"], breaks=lunch())
    jobs = [job("a", sites["a"], minutes=90, window=(10 * H, 11 * H)),
            job("b", sites["b"], minutes=60, window=(12 * H, 13 * H)),
            job("c", sites["c"], minutes=60, window=(13 * H, 14 * H + 30))]
    p = problem([w], jobs, travel)
    sol = solve(p, FAST)
    route = sol.route_of("ann")
    assert len(route.stops) == 3 and len(route.breaks) == 1
    br = route.breaks[0]
    assert 11 * H + 30 <= br.start and br.end <= 13 * H + 30 and br.end - br.start == 45
    assert all(br.end <= s.start or s.end <= br.start for s in route.stops)
    assert check(p, sol) == []


def test_max_working_minutes_are_respected():
    """With max_work of 100 minutes only some 40-minute visits fit; travel counts too."""
    sites, travel = plane({"h": (0, 0), "a": (5, 0), "b": (5, 1), "c": (5, 2)})
    w = worker("ann", sites["h"], max_work=100)
    jobs = [job(x, sites[x], minutes=40) for x in "abc"]
    p = problem([w], jobs, travel)
    sol = solve(p, FAST)
    route = sol.route_of("ann")
    assert route.work <= 100
    assert sol.stats.assigned == 2
    assert {u.reason for u in sol.unassigned} == {"capacity"}
    assert check(p, sol) == []


def test_gender_preference_of_the_elder_is_hard():
    """A job asking for a female worker goes to the female worker, though she is farther."""
    sites, travel = plane({"hm": (0, 0), "hf": (30, 0), "elder": (1, 0)})
    workers = [worker("max", sites["hm"], gender="M"), worker("fay", sites["hf"], gender="F")]
    p = problem(workers, [job("wash", sites["elder"], gender="F")], travel)
    sol = solve(p, FAST)
    assert served_by(sol, "wash") == ["fay"]
    assert check(p, sol) == []


def test_gender_preference_without_such_worker_is_no_qualified_worker():
    """No female worker on duty: the job is unassigned with no_qualified_worker."""
    sites, travel = plane({"hm": (0, 0), "elder": (1, 0)})
    p = problem([worker("max", sites["hm"], gender="M")], [job("wash", sites["elder"], gender="F")], travel)
    assert reason_of(solve(p, FAST), "wash") == "no_qualified_worker"


def test_pinned_worker_and_pinned_time_are_kept():
    """The dispatcher's pin holds: the far worker serves it at exactly the pinned minute."""
    sites, travel = plane({"near": (0, 0), "far": (20, 0), "elder": (1, 0)})
    workers = [worker("near", sites["near"]), worker("far", sites["far"])]
    pinned = job("visit", sites["elder"], window=(9 * H, 12 * H), pinned_workers=frozenset({"far"}), pinned_start=10 * H + 7)
    p = problem(workers, [pinned], travel)
    sol = solve(p, FAST)
    assert served_by(sol, "visit") == ["far"]
    assert stops_of(sol, "visit")[0].start == 10 * H + 7
    assert check(p, sol) == []


def test_preferred_worker_is_chosen_when_travel_is_equal():
    """Two workers at the same distance: the elder's previous caregiver gets the visit."""
    sites, travel = plane({"h1": (0, 0), "h2": (0, 10), "elder": (5, 5)})
    workers = [worker("ann", sites["h1"]), worker("bo", sites["h2"])]
    for preferred in ("ann", "bo"):
        p = problem(workers, [job("visit", sites["elder"], preferred_worker=preferred)], travel)
        assert served_by(solve(p, FAST), "visit") == [preferred]


def test_higher_priority_job_is_kept_when_only_one_fits():
    """Two visits need the same hour of the only worker; the higher priority one stays."""
    sites, travel = plane({"h": (0, 0), "a": (1, 0), "b": (2, 0)})
    for hi, lo in (("a", "b"), ("b", "a")):
        jobs = [job(hi, sites[hi], minutes=60, window=(10 * H, 10 * H), priority=2),
                job(lo, sites[lo], minutes=60, window=(10 * H, 10 * H), priority=1)]
        p = problem([worker("ann", sites["h"])], jobs, travel)
        sol = solve(p, FAST)
        assert served_by(sol, hi) == ["ann"]
        assert reason_of(sol, lo) == "capacity"
