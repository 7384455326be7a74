"""Tiny named instances for the solver tests.

Sites live on a plane measured in minutes of walking: walking from (0, 0) to (3, 4)
takes 5 minutes, an e-bike is 3 times faster. The time unit is the minute
(``units_per_minute=1``), so 8:00 is 480.
"""

from __future__ import annotations

import math

from dispatch.solver import Break, Job, MatrixTravel, Problem, Site, SolveParams, Worker

H = 60  # minutes per hour
FAST = SolveParams(time_limit_s=0.3, solution_limit=100)


def plane(points: dict[str, tuple[float, float]]) -> tuple[dict[str, Site], MatrixTravel]:
    """Sites at the given (x, y) and a travel model in whole minutes (rounded up)."""
    sites = {sid: Site(sid, y, x) for sid, (x, y) in points.items()}
    ids = list(points)

    def matrix(speed: float):
        return [[math.ceil(math.dist(points[a], points[b]) / speed - 1e-9) for b in ids] for a in ids]

    return sites, MatrixTravel(ids, {"walk": matrix(1.0), "ebike": matrix(3.0)})


def worker(wid: str, home: Site, *, shift=(8 * H, 17 * H), quals="G", **kw) -> Worker:
    """A caregiver living at ``home`` with the given shift and qualification letters."""
    return Worker(wid, home, home, shift[0], shift[1], qualifications=frozenset(quals), **kw)


def job(jid: str, site: Site, *, minutes=30, window=(8 * H, 17 * H), **kw) -> Job:
    """A visit of ``minutes`` whose start must fall in ``window``."""
    return Job(jid, site, minutes, window[0], window[1], **kw)


def problem(workers, jobs, travel) -> Problem:
    """A problem in minutes."""
    return Problem(tuple(workers), tuple(jobs), travel, units_per_minute=1)


def lunch(start=11 * H + 30, end=13 * H + 30, minutes=45) -> tuple[Break, ...]:
    """The usual lunch break: 45 minutes between 11:30 and 13:30."""
    return (Break(start, end, minutes),)


def served_by(solution, job_id: str) -> list[str]:
    """Worker ids serving a job."""
    return [r.worker_id for r in solution.routes for s in r.stops if s.job_id == job_id]


def stops_of(solution, job_id: str):
    """All stops of a job."""
    return [s for r in solution.routes for s in r.stops if s.job_id == job_id]


def reason_of(solution, job_id: str) -> str | None:
    """The unassigned reason code of a job, or None if it is served."""
    return next((u.reason for u in solution.unassigned if u.job_id == job_id), None)
