"""An independent feasibility checker for plans.

``check(problem, solution)`` re-derives every rule from the ``Problem`` alone (it asks the
travel model for travel times and uses none of the model-building, construction or timing
code) and returns the violations as sentences; an empty list means the plan is feasible.
"""

from __future__ import annotations

from collections import defaultdict

from .problem import Job, Problem, Worker
from .solution import Route, Solution


def check(problem: Problem, solution: Solution) -> list[str]:
    """All violations of ``solution`` against ``problem`` (empty if feasible).

    Checked: start windows and pinned starts, service durations, shifts including travel
    from and to home, travel time between consecutive events, breaks (taken, fully inside
    their window and the shift, never during a visit), qualifications, gender, pins,
    crew-2 visits (two different workers, same start), ``max_work``, capacity, reported
    travel, and that every job is served exactly once or reported unassigned.
    """
    travel = _Travel(problem)
    out: list[str] = []
    seen_workers: set[str] = set()
    for route in solution.routes:
        worker = problem.workers_by_id.get(route.worker_id)
        if worker is None:
            out.append(f"route of unknown worker {route.worker_id}")
        elif route.worker_id in seen_workers:
            out.append(f"worker {route.worker_id} has more than one route")
        else:
            seen_workers.add(route.worker_id)
            out += _check_route(problem, worker, route, travel)
    out += _check_jobs(problem, solution)
    return out


class _Travel:
    """Travel units between two sites for a profile, one matrix per profile."""

    def __init__(self, problem: Problem) -> None:
        sites = {}
        for w in problem.workers:
            sites[w.start_site.id] = w.start_site
            sites[w.end_site.id] = w.end_site
        for j in problem.jobs:
            sites[j.site.id] = j.site
        self.sites = list(sites.values())
        self.pos = {s.id: i for i, s in enumerate(self.sites)}
        self.model = problem.travel
        self.cache: dict[str, object] = {}

    def __call__(self, profile: str, a, b) -> int:
        if profile not in self.cache:
            self.cache[profile] = self.model.matrix(self.sites, profile)
        return int(self.cache[profile][self.pos[a.id]][self.pos[b.id]])


def _check_route(problem: Problem, worker: Worker, route: Route, travel: _Travel) -> list[str]:
    name = f"route {worker.id}"
    out: list[str] = []
    for stop in route.stops:
        job = problem.jobs_by_id.get(stop.job_id)
        if job is None:
            out.append(f"{name}: unknown job {stop.job_id}")
            continue
        out += _check_stop(name, worker, job, stop)
    if not out:
        out += _check_timing(name, problem, worker, route, travel)
    return out


def _check_stop(name: str, worker: Worker, job: Job, stop) -> list[str]:
    out = []
    lo, hi = job.start_range()
    if not lo <= stop.start <= hi:
        out.append(f"{name}: job {job.id} starts at {stop.start}, outside its start range [{lo}, {hi}]")
    if stop.end - stop.start != job.duration:
        out.append(f"{name}: job {job.id} lasts {stop.end - stop.start}, not its duration {job.duration}")
    if job.qualification and job.qualification not in worker.qualifications:
        out.append(f"{name}: job {job.id} needs qualification {job.qualification} that {worker.id} lacks")
    if job.gender and worker.gender != job.gender:
        out.append(f"{name}: job {job.id} needs a {job.gender} worker, {worker.id} is {worker.gender}")
    if not 0 <= stop.member < job.crew:
        out.append(f"{name}: job {job.id} has crew member index {stop.member} for a crew of {job.crew}")
    return out


def _check_timing(name: str, problem: Problem, worker: Worker, route: Route, travel: _Travel) -> list[str]:
    out = []
    if route.depart < worker.shift_start:
        out.append(f"{name}: leaves home at {route.depart}, before the shift starts at {worker.shift_start}")
    if route.back > worker.shift_end:
        out.append(f"{name}: back home at {route.back}, after the shift ends at {worker.shift_end}")
    events = _events(problem, worker, route)
    total_travel = 0
    for (site_a, _, end_a, _), (site_b, start_b, _, stop) in zip(events, events[1:]):
        need = travel(worker.profile, site_a, site_b)
        total_travel += need
        pause = sum(e - s for s, e in _breaks_within(route, end_a, start_b))
        if start_b - end_a < need + pause:
            out.append(
                f"{name}: only {start_b - end_a} units between {end_a} and {start_b} for "
                f"travel {need} plus breaks {pause}"
            )
        if stop is not None and stop.travel_before != need:
            out.append(f"{name}: job {stop.job_id} reports travel {stop.travel_before}, the travel model says {need}")
    if route.stops and route.travel != total_travel:
        out.append(f"{name}: reports travel {route.travel}, the route needs {total_travel}")
    out += _check_breaks(name, worker, route)
    out += _check_limits(name, problem, worker, route, total_travel)
    return out


def _events(problem: Problem, worker: Worker, route: Route) -> list[tuple]:
    """(site, start, end, stop) of leaving home, each visit and coming home."""
    events = [(worker.start_site, route.depart, route.depart, None)]
    for stop in route.stops:
        events.append((problem.jobs_by_id[stop.job_id].site, stop.start, stop.end, stop))
    events.append((worker.end_site, route.back, route.back, None))
    return events


def _breaks_within(route: Route, lo: int, hi: int) -> list[tuple[int, int]]:
    return [(b.start, b.end) for b in route.breaks if lo <= b.start and b.end <= hi]


def _check_breaks(name: str, worker: Worker, route: Route) -> list[str]:
    if not route.stops:
        return []
    out = []
    required = worker.effective_breaks()
    taken = sorted(route.breaks, key=lambda b: b.start)
    if len(taken) != len(required):
        return [f"{name}: takes {len(taken)} break(s), the worker needs {len(required)}"]
    for need, got in zip(required, taken):
        if got.end - got.start < need.duration:
            out.append(f"{name}: break {got.start}-{got.end} is shorter than {need.duration}")
        if got.start < need.window_start or got.end > need.window_end:
            out.append(f"{name}: break {got.start}-{got.end} is outside its window [{need.window_start}, {need.window_end}]")
    out += _break_overlaps(name, route, taken)
    return out


def _break_overlaps(name: str, route: Route, taken) -> list[str]:
    out = []
    for b in taken:
        for s in route.stops:
            if b.start < s.end and s.start < b.end:
                out.append(f"{name}: break {b.start}-{b.end} overlaps job {s.job_id} ({s.start}-{s.end})")
        if b.start < route.depart < b.end or b.start < route.back < b.end:
            out.append(f"{name}: break {b.start}-{b.end} straddles leaving or coming home")
    for a, b in zip(taken, taken[1:]):
        if b.start < a.end:
            out.append(f"{name}: breaks {a.start}-{a.end} and {b.start}-{b.end} overlap")
    return out


def _check_limits(name: str, problem: Problem, worker: Worker, route: Route, total_travel: int) -> list[str]:
    out = []
    jobs = [problem.jobs_by_id[s.job_id] for s in route.stops]
    work = total_travel + sum(j.duration for j in jobs)
    if worker.max_work is not None and work > worker.max_work:
        out.append(f"{name}: works {work} units (travel + service), more than max_work {worker.max_work}")
    load = sum(j.demand for j in jobs)
    if worker.capacity is not None and load > worker.capacity:
        out.append(f"{name}: carries load {load}, more than capacity {worker.capacity}")
    for a, b in zip(route.stops, route.stops[1:]):
        if b.start < a.end:
            out.append(f"{name}: jobs {a.job_id} and {b.job_id} overlap or are out of order")
    return out


def _check_jobs(problem: Problem, solution: Solution) -> list[str]:
    visits: dict[str, list[tuple[str, object]]] = defaultdict(list)
    for route in solution.routes:
        for stop in route.stops:
            visits[stop.job_id].append((route.worker_id, stop))
    out = []
    unassigned = [u.job_id for u in solution.unassigned]
    for job_id in set(unassigned):
        if unassigned.count(job_id) > 1:
            out.append(f"job {job_id} is reported unassigned more than once")
    for job in problem.jobs:
        out += _check_job(job, visits.get(job.id, []), job.id in unassigned)
    known = problem.jobs_by_id
    out += [f"unknown job {j} reported unassigned" for j in unassigned if j not in known]
    return out


def _check_job(job: Job, visits, is_unassigned: bool) -> list[str]:
    if not visits:
        return [] if is_unassigned else [f"job {job.id} is neither served nor reported unassigned"]
    out = [f"job {job.id} is served and also reported unassigned"] if is_unassigned else []
    if len(visits) != job.crew:
        return out + [f"job {job.id} is served {len(visits)} time(s), its crew is {job.crew}"]
    workers = [w for w, _ in visits]
    if len(set(workers)) != len(workers):
        out.append(f"job {job.id}: the crew must be different workers, got {workers}")
    if len({s.start for _, s in visits}) > 1:
        out.append(f"job {job.id}: crew members start at different times {[s.start for _, s in visits]}")
    if sorted(s.member for _, s in visits) != list(range(job.crew)):
        out.append(f"job {job.id}: crew member indices {[s.member for _, s in visits]} are not 0..{job.crew - 1}")
    missing = set(job.pinned_workers) - set(workers)
    if missing:
        out.append(f"job {job.id} is pinned to {sorted(missing)} but served by {workers}")
    return out
