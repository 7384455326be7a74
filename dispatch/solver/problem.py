"""The planning problem: sites, workers, jobs and solve parameters.

Everything is a frozen dataclass over plain values. Times are integers in one *time unit*
chosen by the caller: the home-care domain uses seconds since local midnight, the Solomon
benchmarks use distance × 1000. Travel between sites comes from a ``TravelModel``
(see ``travel.py``) in the same unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .travel import TravelModel


@dataclass(frozen=True)
class Site:
    """A place: an elder's home, a caregiver's home or a depot.

    Attributes:
        id: unique key of the site; the travel model looks sites up by it.
        lat: WGS84 latitude in degrees (or a planar y for Euclidean instances).
        lon: WGS84 longitude in degrees (or a planar x for Euclidean instances).
    """

    id: str
    lat: float = 0.0
    lon: float = 0.0


@dataclass(frozen=True)
class Break:
    """A break of ``duration`` units taken fully inside ``[window_start, window_end]``.

    The break may be taken at home before leaving, between two visits (during travel or
    waiting) or at home after returning, but never during a visit.
    """

    window_start: int
    window_end: int
    duration: int

    def __post_init__(self) -> None:
        if self.duration < 0 or self.window_end - self.window_start < self.duration:
            raise ValueError(
                f"break of {self.duration} does not fit its window "
                f"[{self.window_start}, {self.window_end}]"
            )


@dataclass(frozen=True)
class Worker:
    """A caregiver (a vehicle in routing terms).

    Attributes:
        id: unique worker key.
        start_site: where the day starts (home).
        end_site: where the day ends (home).
        shift_start: earliest time the worker may leave ``start_site``.
        shift_end: latest time the worker may be back at ``end_site``.
        profile: transport profile key of the travel model (default ``"walk"``).
        qualifications: codes the worker holds (e.g. ``{"G", "C", "B"}``).
        gender: the worker's gender code, matched against ``Job.gender``.
        breaks: breaks the worker must take (clipped to the shift; a break that does not
            fit the shift is ignored).
        max_work: most units of travel plus service in the day; ``None`` means no limit.
            Waiting and breaks do not count; the shift bounds them.
        capacity: load capacity (benchmarks only); ``None`` means unlimited.
    """

    id: str
    start_site: Site
    end_site: Site
    shift_start: int
    shift_end: int
    profile: str = "walk"
    qualifications: frozenset[str] = frozenset()
    gender: str | None = None
    breaks: tuple[Break, ...] = ()
    max_work: int | None = None
    capacity: int | None = None

    def effective_breaks(self) -> tuple[Break, ...]:
        """Breaks clipped to the shift, in window order; a break that no longer fits is dropped."""
        clipped = []
        for b in sorted(self.breaks, key=lambda b: (b.window_start, b.window_end)):
            start, end = max(b.window_start, self.shift_start), min(b.window_end, self.shift_end)
            if end - start >= b.duration:
                clipped.append(Break(start, end, b.duration))
        return tuple(clipped)

    def __post_init__(self) -> None:
        if self.shift_end < self.shift_start:
            raise ValueError(
                f"worker {self.id}: shift_end {self.shift_end} is before "
                f"shift_start {self.shift_start}"
            )


@dataclass(frozen=True)
class Job:
    """A visit to be served by one worker, or by two at the same minute (``crew=2``).

    Attributes:
        id: unique job key.
        site: where the visit takes place.
        duration: service units on site (for each crew member).
        window_start: earliest START of service.
        window_end: latest START of service.
        qualification: code a worker must hold, or ``None``.
        crew: 1, or 2 for two different workers starting together.
        gender: if set, only workers of this gender may serve (hard).
        priority: higher is more important; a lower priority job is dropped first.
        preferred_worker: the worker the elder had before (soft: a small cost otherwise).
        pinned_workers: workers fixed by the dispatcher (hard; at most ``crew`` of them).
        pinned_start: start time fixed by the dispatcher (hard), or ``None``.
        demand: load the job uses (benchmarks; home care leaves it 0).
        kept_start: a start the job was promised (a published plan), or ``None``: starting
            more than ``SolveParams.kept_start_slack`` away from it costs
            ``SolveParams.kept_start_cost`` per unit beyond (soft).
    """

    id: str
    site: Site
    duration: int
    window_start: int
    window_end: int
    qualification: str | None = None
    crew: int = 1
    gender: str | None = None
    priority: int = 0
    preferred_worker: str | None = None
    pinned_workers: frozenset[str] = frozenset()
    pinned_start: int | None = None
    demand: int = 0
    kept_start: int | None = None

    def __post_init__(self) -> None:
        if self.crew not in (1, 2):
            raise ValueError(f"job {self.id}: crew must be 1 or 2, not {self.crew}")
        if len(self.pinned_workers) > self.crew:
            raise ValueError(
                f"job {self.id}: {len(self.pinned_workers)} pinned workers for a crew of "
                f"{self.crew}"
            )
        if self.duration < 0 or self.window_end < self.window_start:
            raise ValueError(
                f"job {self.id}: bad duration {self.duration} or window "
                f"[{self.window_start}, {self.window_end}]"
            )

    def start_range(self) -> tuple[int, int]:
        """The allowed start interval after applying ``pinned_start``."""
        if self.pinned_start is None:
            return self.window_start, self.window_end
        return self.pinned_start, self.pinned_start


@dataclass(frozen=True)
class Problem:
    """One planning day.

    Attributes:
        workers: the workers (vehicles); their order does not change the plan's
            meaning (the solver sorts them internally).
        jobs: the visits to plan.
        travel: the travel model (default ``HaversineTravel()`` in seconds).
        units_per_minute: time units in one minute, used only to print clock times in
            reasons (default 60: seconds since midnight); ``None`` prints raw units.
    """

    workers: tuple[Worker, ...]
    jobs: tuple[Job, ...]
    travel: TravelModel = field(default=None)  # type: ignore[assignment]
    units_per_minute: int | None = 60

    def __post_init__(self) -> None:
        if self.travel is None:
            from .travel import HaversineTravel

            object.__setattr__(self, "travel", HaversineTravel())
        _require_unique("worker", [w.id for w in self.workers])
        _require_unique("job", [j.id for j in self.jobs])

    @cached_property
    def workers_by_id(self) -> dict[str, Worker]:
        """Workers keyed by id."""
        return {w.id: w for w in self.workers}

    @cached_property
    def jobs_by_id(self) -> dict[str, Job]:
        """Jobs keyed by id."""
        return {j.id: j for j in self.jobs}


@dataclass(frozen=True)
class SolveParams:
    """How to solve.

    Attributes:
        time_limit_s: wall-clock limit for the search in seconds (default 10). Runs that
            stop on a time limit are NOT reproducible: the machine's speed decides where
            the search stops. Use ``solution_limit`` for reproducible runs.
        solution_limit: stop after this many improving solutions of the local search
            (``None`` = no limit). With a solution limit and the same ``seed`` the result
            is identical from run to run.
        seed: seed of the solver's own randomised steps (construction tie-breaks,
            decomposition).
        strategy: ``"auto"`` (construction + OR-Tools, decomposed when large),
            ``"ortools"`` (the same, never decomposed), ``"greedy"`` (the insertion
            baseline only).
        preferred_worker_cost: cost, in travel units, of serving a job by a worker other
            than its ``preferred_worker`` (default 300, i.e. 5 minutes in seconds).
        balance_cost: cost per unit of work above a fair share for one worker (soft
            balancing; default 0 = off). Keep it small: it is second order to travel.
        freeze_until: with ``initial_routes``, visits that start before this time stay on
            their worker at their time; new visits start at or after it. ``None`` = no
            freeze.
        decompose_above: with ``strategy="auto"``, problems with more job visits than
            this are improved part by part (default 400).
        guided_lambda: guided local search lambda coefficient (default 0.1).
        first_solution: ``"auto"`` (default: ``"ortools"`` when every job is a plain
            crew-1 visit and routes are long, about 15 jobs or more, else ``"insertion"``),
            ``"insertion"`` (own construction fed to OR-Tools) or ``"ortools"`` (OR-Tools'
            PARALLEL_CHEAPEST_INSERTION; the own construction is then only the fallback).
            A solve from ``initial_routes`` always starts from them.
        cpu_time: count ``time_limit_s`` in CPU seconds of this process instead of wall
            seconds (for benchmarks on a shared machine; default False). OR-Tools'
            iterated local search knows only wall time: its phase gets its share as wall
            seconds.
        metaheuristic: ``"auto"`` (default: on a plain day planned afresh — every job a
            crew-1, unpinned visit, no previous routes — OR-Tools' iterated local search
            takes the first 70% of the budget, at most 6 s, then guided local search and
            POPMUSIC continue from its plan; otherwise guided local search throughout),
            ``"gls"`` (guided local search throughout). ``"ils"`` is internal. A stop
            request during the iterated phase takes effect when that phase ends.
        log_search: let OR-Tools log its search to stderr.
        iterated_share: share of the budget (or of the solution limit) for the iterated
            phase of a plain day (default 0.7).
        iterated_max_s: at most this many seconds for the iterated phase (default 6): it
            cannot be stopped before its own limit, so this bounds how long a stop
            request waits.
        iterated_min_jobs: fewer visits than this (default 10) never get the iterated
            phase (OR-Tools 9.15's iterated search hangs on a one-visit model).
        part_nodes: with decomposition, about this many job visits per part (default 200).
        lns_share: share of the budget (or of the solution limit, as steps) for ruin and
            recreate with its local search, aimed at unserved visits, when the construction
            leaves some out; guided local search on the whole plan takes the share before it
            (default 0.5; 0 = off). On such a day the iterated phase is skipped. On a plain
            day planned afresh (every job a crew-1, unpinned visit) that is not decomposed,
            any share above 0 gives ruin and recreate the whole budget (no guided local
            search; see ``decompose._ruin_only_applies``).
        kept_start_slack: how far, in time units, a job may start from its ``kept_start``
            for free (default 900: 15 minutes in seconds).
        kept_start_cost: cost per time unit a job starts beyond its ``kept_start`` ±
            ``kept_start_slack`` (default 0 = off).
    """

    time_limit_s: float = 10.0
    solution_limit: int | None = None
    seed: int = 0
    strategy: str = "auto"
    preferred_worker_cost: int = 300
    balance_cost: int = 0
    freeze_until: int | None = None
    decompose_above: int = 400
    guided_lambda: float = 0.1
    first_solution: str = "auto"
    cpu_time: bool = False
    log_search: bool = False
    metaheuristic: str = "auto"
    iterated_share: float = 0.7
    iterated_max_s: float = 6.0
    iterated_min_jobs: int = 10
    part_nodes: int = 200
    lns_share: float = 0.5
    kept_start_slack: int = 900
    kept_start_cost: int = 0

    def __post_init__(self) -> None:
        if self.strategy not in ("auto", "ortools", "greedy"):
            raise ValueError(f"strategy must be auto, ortools or greedy, not {self.strategy!r}")
        if self.metaheuristic not in ("auto", "gls", "ils"):
            raise ValueError(f"metaheuristic must be auto or gls, not {self.metaheuristic!r}")
        if self.time_limit_s <= 0:
            raise ValueError(f"time_limit_s must be positive, not {self.time_limit_s}")
        for name in ("iterated_share", "lns_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1, not {getattr(self, name)}")


def format_time(t: int, units_per_minute: int | None) -> str:
    """``HH:MM`` for a time since midnight, or the raw number when there is no clock."""
    if not units_per_minute:
        return str(t)
    minutes = t // units_per_minute
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _require_unique(kind: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise ValueError(f"duplicate {kind} id {i!r}")
        seen.add(i)
