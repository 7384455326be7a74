"""Why a job cannot be planned: a pure diagnosis, run before and after the search.

Before the search (``diagnose``) cheap structural checks find jobs no worker could serve
even on an otherwise empty day; those jobs never enter the model. After the search
(``explain_unserved``) the remaining unserved jobs are told apart: ``no_partner`` when a
single worker could still take a crew-2 job but no second one at the same time,
``capacity`` otherwise.

Reason codes:
    no_qualified_worker  nobody with the qualification, gender or pin exists.
    outside_shifts       qualified workers exist, but the start window (or pinned start)
                         cannot be reached from home and back within any of their shifts
                         and breaks.
    exceeds_max_work     travel from home, service and travel back exceed every qualified
                         worker's maximum working time.
    no_partner           a crew-2 job with fewer than two qualified workers available at a
                         common start time.
    capacity             the job fits a worker's day alone, but the plan is full.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .problem import Job, Problem, Worker, format_time
from .solution import Unassigned
from .travel import TravelTables

Interval = tuple[int, int]


@dataclass(frozen=True)
class Diagnosis:
    """Result of the structural checks.

    Attributes:
        dropped: job id → why it is left out of the model.
        allowed: job id → per crew member, the ids of workers that could serve that member
            alone (member 0 first; crew-2 jobs have two entries).
    """

    dropped: dict[str, Unassigned]
    allowed: dict[str, tuple[tuple[str, ...], ...]]


def diagnose(problem: Problem, tables: TravelTables) -> Diagnosis:
    """Check every job against every worker (workers with equal data are checked once)."""
    dropped: dict[str, Unassigned] = {}
    allowed: dict[str, tuple[tuple[str, ...], ...]] = {}
    cache: dict[tuple, list[Interval]] = {}
    for job in problem.jobs:
        verdict = _diagnose_job(problem, tables, job, cache)
        if isinstance(verdict, Unassigned):
            dropped[job.id] = verdict
        else:
            allowed[job.id] = verdict
    return Diagnosis(dropped, allowed)


def explain_unserved(lay, routes, unserved: Sequence[int], fixed: dict[int, int]) -> list[Unassigned]:
    """Reasons for modelled jobs (indices into ``lay.jobs``) left off the final ``routes``.

    ``routes`` are node sequences per vehicle and ``fixed`` the crew-2 start per node.
    """
    if not unserved:
        return []
    from .construct import Plan

    plan = Plan(lay)
    plan.load_routes(routes, fixed)
    fmt = _formatter(lay.problem)
    return [_explain(lay, plan, k, fmt) for k in unserved]


def _explain(lay, plan, k: int, fmt) -> Unassigned:
    job, nodes = lay.jobs[k], lay.job_nodes[k]
    qualified = {v for n in nodes for v in lay.allowed[n]}
    free = {v for n in nodes for v in plan.feasible_vehicles(n)}
    window = _window_text(job, fmt)
    if job.crew == 2 and free:
        names = ", ".join(sorted(lay.workers[v].id for v in free))
        return Unassigned(job.id, "no_partner", f"needs two workers at once in {window}; only {names} could fit it in")
    return Unassigned(
        job.id, "capacity",
        f"fits a qualified worker's day alone, but all {len(qualified)} qualified worker(s) "
        f"are fully booked around {window}",
    )


def skill_gap(job: Job, worker: Worker) -> str | None:
    """Why ``worker`` may never serve ``job`` (qualification or gender), or ``None``."""
    if job.qualification and job.qualification not in worker.qualifications:
        return f"lacks qualification {job.qualification}"
    if job.gender and worker.gender != job.gender:
        return f"is not of gender {job.gender}"
    return None


def start_intervals(job: Job, worker: Worker, tables: TravelTables) -> list[Interval]:
    """Start times at which ``worker`` could serve ``job`` as the only visit of the day.

    Includes travel from ``start_site`` and back to ``end_site`` inside the shift, every
    break fitting before or after the visit, and ``max_work``. Returns disjoint closed
    intervals in increasing order (empty if none).
    """
    t_out = tables.time(worker.profile, worker.start_site, job.site)
    t_back = tables.time(worker.profile, job.site, worker.end_site)
    if worker.max_work is not None and t_out + job.duration + t_back > worker.max_work:
        return []
    lo, hi = job.start_range()
    lo = max(lo, worker.shift_start + t_out)
    hi = min(hi, worker.shift_end - job.duration - t_back)
    intervals = [(lo, hi)] if lo <= hi else []
    for b in worker.effective_breaks():
        intervals = _intersect(intervals, _break_allows(worker, b, job.duration, t_out, t_back))
    return intervals


def _break_allows(worker: Worker, b, duration: int, t_out: int, t_back: int) -> list[Interval]:
    """Starts s for which break ``b`` fits before the visit or after it."""
    before = max(worker.shift_start + t_out, b.window_start) + b.duration
    at_home_after = b.window_end - b.duration - duration - t_back
    on_way_back = worker.shift_end - duration - t_back - b.duration
    after = min(b.window_end - b.duration - duration, max(at_home_after, on_way_back))
    return _union([(before, 10**18), (-(10**18), after)])


def _diagnose_job(problem, tables, job, cache) -> Unassigned | tuple[tuple[str, ...], ...]:
    fmt = _formatter(problem)
    members = _member_candidates(problem, job)
    if isinstance(members, str):
        return Unassigned(job.id, "no_qualified_worker", members)
    classes = [_classes(job, m, tables, cache) for m in members]
    feasible = [tuple(wid for ids, iv in c if iv for wid in ids) for c in classes]
    if not all(feasible):
        return _unreachable(problem, tables, job, members, fmt)
    if job.crew == 2 and not _has_pair(classes):
        return Unassigned(
            job.id, "no_partner",
            f"needs two workers at the same time in {_window_text(job, fmt)}, "
            f"but only {len(set(feasible[0]) | set(feasible[1]))} qualified worker(s) are free then",
        )
    return tuple(feasible)


def _classes(job, workers, tables, cache) -> list[tuple[list[str], list[Interval]]]:
    """Workers grouped by equal data (same home, shift, profile...), with their start intervals."""
    groups: dict[tuple, list[str]] = {}
    first: dict[tuple, Worker] = {}
    for w in workers:
        key = _worker_key(w)
        groups.setdefault(key, []).append(w.id)
        first.setdefault(key, w)
    jkey = _job_key(job)
    out = []
    for key, ids in groups.items():
        if (jkey, key) not in cache:
            cache[(jkey, key)] = start_intervals(job, first[key], tables)
        out.append((ids, cache[(jkey, key)]))
    return out


def _member_candidates(problem: Problem, job: Job) -> list[list[Worker]] | str:
    """Candidate workers per crew member, or a sentence saying why there are none."""
    pins = sorted(job.pinned_workers)
    for pid in pins:
        worker = problem.workers_by_id.get(pid)
        if worker is None:
            return f"pinned worker {pid} is not in today's plan"
        gap = skill_gap(job, worker)
        if gap:
            return f"pinned worker {pid} {gap}"
    qualified = [w for w in problem.workers if skill_gap(job, w) is None]
    if len(qualified) < job.crew:
        return _no_qualified_text(job, len(qualified))
    members = [[problem.workers_by_id[p]] for p in pins]
    members += [qualified for _ in range(job.crew - len(pins))]
    return members


def _no_qualified_text(job: Job, found: int) -> str:
    need = f"qualification {job.qualification}" if job.qualification else "no qualification"
    who = f"{job.gender} worker" if job.gender else "worker"
    if job.crew == 2:
        return f"needs two of a {who} with {need}; {found} on duty today"
    return f"no {who} on duty today holds {need}"


def _unreachable(problem, tables, job, members, fmt) -> Unassigned:
    workers = {w.id: w for m in members for w in m}.values()
    too_long = [w for w in workers if _over_max_work(job, w, tables)]
    if too_long and len(too_long) == len(workers):
        return Unassigned(
            job.id, "exceeds_max_work",
            f"travel from home, {job.duration} units on site and travel back exceed the "
            f"maximum working time of all {len(too_long)} qualified worker(s)",
        )
    names = ", ".join(sorted(w.id for w in workers)[:5])
    return Unassigned(
        job.id, "outside_shifts",
        f"start window {_window_text(job, fmt)} cannot be reached within the shift and "
        f"breaks of the qualified worker(s) ({names}), counting travel from and to home",
    )


def _over_max_work(job: Job, worker: Worker, tables: TravelTables) -> bool:
    if worker.max_work is None:
        return False
    t_out = tables.time(worker.profile, worker.start_site, job.site)
    t_back = tables.time(worker.profile, job.site, worker.end_site)
    return t_out + job.duration + t_back > worker.max_work


def _has_pair(classes) -> bool:
    """Two different workers, one per crew member, with a common start time."""
    for ids_a, ia in classes[0]:
        for ids_b, ib in classes[1]:
            if ia and ib and len(set(ids_a) | set(ids_b)) >= 2 and _intersect(ia, ib):
                return True
    return False


def _job_key(job: Job) -> tuple:
    return (job.site.id, job.duration, job.start_range())


def _worker_key(worker: Worker) -> tuple:
    return (
        worker.start_site.id, worker.end_site.id, worker.shift_start, worker.shift_end,
        worker.profile, worker.breaks, worker.max_work,
    )


def _window_text(job: Job, fmt: Callable[[int], str]) -> str:
    lo, hi = job.start_range()
    return fmt(lo) if lo == hi else f"{fmt(lo)}–{fmt(hi)}"


def _formatter(problem: Problem) -> Callable[[int], str]:
    return lambda t: format_time(t, problem.units_per_minute)


def _intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    out = []
    for lo1, hi1 in a:
        for lo2, hi2 in b:
            lo, hi = max(lo1, lo2), min(hi1, hi2)
            if lo <= hi:
                out.append((lo, hi))
    return _union(out)


def _union(intervals: Sequence[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for lo, hi in sorted(i for i in intervals if i[0] <= i[1]):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged
