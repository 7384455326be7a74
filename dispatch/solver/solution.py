"""The plan returned by ``solve``: routes per worker, unassigned jobs with reasons, stats.

All times are in the problem's time unit (seconds since midnight for home care).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stop:
    """One visit on a route.

    Attributes:
        job_id: the job served.
        member: crew member index (0, or 1 for the second worker of a crew-2 job).
        start: start of service.
        end: end of service (``start + duration``).
        travel_before: travel units from the previous stop (or home) to this one.
    """

    job_id: str
    member: int
    start: int
    end: int
    travel_before: int


@dataclass(frozen=True)
class BreakTaken:
    """A break as planned: ``[start, end)``; it lies at home or between two stops."""

    start: int
    end: int


@dataclass(frozen=True)
class Route:
    """One worker's day.

    Attributes:
        worker_id: the worker.
        depart: when the worker leaves ``start_site`` (equals ``back`` if no stops).
        back: when the worker arrives at ``end_site``.
        stops: visits in order.
        breaks: breaks as planned, in time order.
        travel: total travel units including the way home.
    """

    worker_id: str
    depart: int
    back: int
    stops: tuple[Stop, ...] = ()
    breaks: tuple[BreakTaken, ...] = ()
    travel: int = 0

    @property
    def work(self) -> int:
        """Travel plus service units (what ``Worker.max_work`` bounds)."""
        return self.travel + sum(s.end - s.start for s in self.stops)

    @property
    def job_ids(self) -> list[str]:
        """Job ids in visiting order."""
        return [s.job_id for s in self.stops]


@dataclass(frozen=True)
class Unassigned:
    """A job left out of the plan.

    Attributes:
        job_id: the job.
        reason: a short code: ``no_qualified_worker``, ``outside_shifts``,
            ``no_partner``, ``exceeds_max_work``, ``capacity``, ``pin_conflict``.
        detail: one English sentence for the dispatcher.
    """

    job_id: str
    reason: str
    detail: str


@dataclass(frozen=True)
class Stats:
    """Numbers about the run.

    Attributes:
        objective: the solver objective (travel + preference costs + penalties of
            unassigned jobs), in the problem's cost units.
        travel: total travel units of all routes.
        assigned: jobs served (a crew-2 job counts once).
        unassigned: jobs left out.
        solve_s: wall-clock seconds spent in ``solve``.
        status: ``"optimised"`` (search ran), ``"cancelled"``, ``"construction"`` (greedy
            plan only), ``"fallback"`` (OR-Tools returned nothing; greedy plan) or
            ``"empty"`` (nothing to plan).
        strategy: which procedure produced the plan, e.g. ``"insertion+gls"``.
    """

    objective: int
    travel: int
    assigned: int
    unassigned: int
    solve_s: float
    status: str
    strategy: str


@dataclass(frozen=True)
class Solution:
    """A complete plan: every job of the problem is either on a route or unassigned."""

    routes: tuple[Route, ...]
    unassigned: tuple[Unassigned, ...]
    stats: Stats

    def route_of(self, worker_id: str) -> Route | None:
        """The route of a worker, or ``None`` if the worker has none."""
        return next((r for r in self.routes if r.worker_id == worker_id), None)

    def routes_by_worker(self) -> dict[str, list[str]]:
        """Worker id → job ids in order: the shape ``solve(initial_routes=...)`` takes."""
        return {r.worker_id: r.job_ids for r in self.routes}


@dataclass(frozen=True)
class Progress:
    """An improving solution found during the search.

    Attributes:
        objective: the solver objective of that solution.
        elapsed_s: seconds since ``solve`` started.
        assigned: job visits on routes (a crew-2 job counts twice here).
    """

    objective: int
    elapsed_s: float
    assigned: int
