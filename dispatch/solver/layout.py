"""Nodes and matrices shared by the construction heuristic and the OR-Tools model.

Node numbering: first the distinct home/depot sites of the workers (vehicles may share
them), then one node per crew member of every modelled job. Workers are re-ordered
(vehicle order changes OR-Tools behaviour, see its issue #2553): most capable first, so
first-solution heuristics that fill vehicles in order use the versatile ones early.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .problem import Break, Job, Problem, Worker
from .travel import TravelTables

if TYPE_CHECKING:
    from .reasons import Diagnosis


@dataclass
class Layout:
    """Everything the search needs, as arrays over nodes (read-only after ``build``).

    Attributes:
        problem: the problem being solved.
        workers: workers in solver (vehicle) order.
        jobs: modelled jobs (structurally feasible ones).
        starts / ends: per vehicle, its start and end node.
        node_job: per node, index into ``jobs`` or -1 for a home/depot node.
        node_member: per node, crew member index (0 or 1; 0 for homes).
        job_nodes: per job, its node(s), member 0 first.
        service, lo, hi, demand: per node, service units, start range, load.
        allowed: per node, vehicle indices that may serve it (all for homes).
        profiles: distinct profiles; ``vehicle_profile[v]`` indexes it.
        travel: per profile, node × node travel units (no service).
        horizon: an upper bound on every time in the model.
    """

    problem: Problem
    workers: list[Worker]
    jobs: list[Job]
    starts: list[int]
    ends: list[int]
    node_job: np.ndarray
    node_member: np.ndarray
    job_nodes: list[list[int]]
    service: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    demand: np.ndarray
    allowed: list[list[int]]
    profiles: list[str]
    vehicle_profile: list[int]
    travel: list[np.ndarray]
    horizon: int

    @property
    def num_nodes(self) -> int:
        """Number of nodes (homes plus job visits)."""
        return len(self.node_job)

    @property
    def num_vehicles(self) -> int:
        """Number of workers."""
        return len(self.workers)

    def breaks(self, vehicle: int) -> tuple[Break, ...]:
        """Breaks of a vehicle, clipped to its shift (computed once per layout)."""
        cache = self.__dict__.get("_breaks")
        if cache is None:
            cache = self.__dict__["_breaks"] = [w.effective_breaks() for w in self.workers]
        return cache[vehicle]

    def vehicle_travel(self, vehicle: int) -> np.ndarray:
        """The travel matrix of a vehicle's profile."""
        return self.travel[self.vehicle_profile[vehicle]]

    def route_travel(self, vehicle: int, route: Sequence[int]) -> int:
        """Travel of a vehicle's route of nodes, home to home (0 if empty)."""
        if not len(route):
            return 0
        path = np.array([self.starts[vehicle], *route, self.ends[vehicle]], dtype=np.int64)
        return int(self.vehicle_travel(vehicle)[path[:-1], path[1:]].sum())

    def preferred_vehicle(self, node: int) -> int | None:
        """Vehicle index of the job's preferred worker, if any and on duty."""
        job = self.jobs[self.node_job[node]] if self.node_job[node] >= 0 else None
        if job is None or job.preferred_worker is None:
            return None
        return self._vehicle_index.get(job.preferred_worker)

    @property
    def _vehicle_index(self) -> dict[str, int]:
        cached = self.__dict__.get("_vidx")
        if cached is None:
            cached = {w.id: v for v, w in enumerate(self.workers)}
            self.__dict__["_vidx"] = cached
        return cached

    def has_worker(self, worker_id: str) -> bool:
        """Whether a worker with this id is on duty in the layout."""
        return worker_id in self._vehicle_index

    def vehicle_of(self, worker_id: str) -> int:
        """Vehicle index of a worker id."""
        return self._vehicle_index[worker_id]


def order_workers(workers) -> list[Worker]:
    """Most capable first: more qualifications, longer shift, larger capacity; stable."""
    def capability(w: Worker):
        return (-len(w.qualifications), -(w.shift_end - w.shift_start), -(w.capacity or 0))
    return sorted(workers, key=capability)


def build_layout(problem: Problem, tables: TravelTables, diagnosis: Diagnosis) -> Layout:
    """Nodes, windows, allowed vehicles and per-profile travel for the modelled jobs."""
    workers = order_workers(problem.workers)
    jobs = [j for j in problem.jobs if j.id not in diagnosis.dropped]
    home_sites = list(dict.fromkeys([w.start_site.id for w in workers] + [w.end_site.id for w in workers]))
    home_node = {sid: i for i, sid in enumerate(home_sites)}
    vidx = {w.id: v for v, w in enumerate(workers)}
    nodes = _job_node_rows(jobs, diagnosis, vidx)
    horizon = _horizon(workers, jobs)
    n_homes = len(home_sites)
    site_of = [tables.index[s] for s in home_sites] + [tables.index[j.site.id] for j, _, _ in nodes]
    profiles = sorted({w.profile for w in workers})
    travel = [_node_matrix(tables.times[p], site_of) for p in profiles]
    lay = Layout(
        problem=problem, workers=workers, jobs=jobs,
        starts=[home_node[w.start_site.id] for w in workers],
        ends=[home_node[w.end_site.id] for w in workers],
        node_job=np.array([-1] * n_homes + [k for _, _, k in _job_index(nodes, jobs)], dtype=np.int64),
        node_member=np.array([0] * n_homes + [m for _, m, _ in nodes], dtype=np.int64),
        job_nodes=_job_node_lists(nodes, jobs, n_homes),
        service=np.array([0] * n_homes + [j.duration for j, _, _ in nodes], dtype=np.int64),
        lo=np.array([0] * n_homes + [j.start_range()[0] for j, _, _ in nodes], dtype=np.int64),
        hi=np.array([horizon] * n_homes + [j.start_range()[1] for j, _, _ in nodes], dtype=np.int64),
        demand=np.array([0] * n_homes + [j.demand for j, _, _ in nodes], dtype=np.int64),
        allowed=[list(range(len(workers)))] * n_homes + [a for _, _, a in nodes],
        profiles=profiles,
        vehicle_profile=[profiles.index(w.profile) for w in workers],
        travel=travel,
        horizon=horizon,
    )
    return lay


def _job_node_rows(jobs, diagnosis, vidx) -> list[tuple[Job, int, list[int]]]:
    rows = []
    for job in jobs:
        for member, worker_ids in enumerate(diagnosis.allowed[job.id]):
            rows.append((job, member, sorted(vidx[w] for w in worker_ids)))
    return rows


def _job_index(rows, jobs):
    position = {j.id: k for k, j in enumerate(jobs)}
    return [(j, m, position[j.id]) for j, m, _ in rows]


def _job_node_lists(rows, jobs, n_homes) -> list[list[int]]:
    position = {j.id: k for k, j in enumerate(jobs)}
    lists: list[list[int]] = [[] for _ in jobs]
    for offset, (job, _, _) in enumerate(rows):
        lists[position[job.id]].append(n_homes + offset)
    return lists


def _node_matrix(site_matrix: np.ndarray, site_of: list[int]) -> np.ndarray:
    idx = np.asarray(site_of, dtype=np.int64)
    return np.ascontiguousarray(site_matrix[np.ix_(idx, idx)])


def _horizon(workers, jobs) -> int:
    ends = [w.shift_end for w in workers] + [j.start_range()[1] + j.duration for j in jobs]
    return max(ends, default=0) + 1


def restrict(lay: Layout, jobs: list[int], vehicles: list[int]) -> tuple[Layout, list[int]]:
    """The part of ``lay`` with only these jobs (indices) and vehicles.

    Returns the smaller layout and, per node of it, the node of ``lay`` it stands for.
    Vehicle ``i`` of the part is ``vehicles[i]``; job ``i`` is ``jobs[i]``.
    """
    homes = list(dict.fromkeys([lay.starts[v] for v in vehicles] + [lay.ends[v] for v in vehicles]))
    job_nodes = [n for k in jobs for n in lay.job_nodes[k]]
    nodes = homes + job_nodes
    local = {n: i for i, n in enumerate(nodes)}
    vpos = {v: i for i, v in enumerate(vehicles)}
    idx = np.asarray(nodes, dtype=np.int64)
    kpos = {k: i for i, k in enumerate(jobs)}
    part = Layout(
        problem=lay.problem, workers=[lay.workers[v] for v in vehicles], jobs=[lay.jobs[k] for k in jobs],
        starts=[local[lay.starts[v]] for v in vehicles], ends=[local[lay.ends[v]] for v in vehicles],
        node_job=np.array([-1] * len(homes) + [kpos[int(lay.node_job[n])] for n in job_nodes], dtype=np.int64),
        node_member=lay.node_member[idx].copy(),
        job_nodes=[[local[n] for n in lay.job_nodes[k]] for k in jobs],
        service=lay.service[idx].copy(), lo=lay.lo[idx].copy(), hi=lay.hi[idx].copy(),
        demand=lay.demand[idx].copy(),
        allowed=[list(range(len(vehicles)))] * len(homes)
        + [[vpos[v] for v in lay.allowed[n] if v in vpos] for n in job_nodes],
        profiles=lay.profiles, vehicle_profile=[lay.vehicle_profile[v] for v in vehicles],
        travel=[np.ascontiguousarray(m[np.ix_(idx, idx)]) for m in lay.travel],
        horizon=lay.horizon,
    )
    return part, nodes


def node_xy(lay: Layout, node: int) -> tuple[float, float]:
    """(lon, lat) of a node's site: a job's site, or a home of a worker starting there."""
    k = int(lay.node_job[node])
    if k >= 0:
        site = lay.jobs[k].site
    else:
        v = (lay.starts + lay.ends).index(node) % lay.num_vehicles
        site = lay.workers[v].start_site if lay.starts[v] == node else lay.workers[v].end_site
    return site.lon, site.lat
