"""Travel models: whole time units between sites, per transport profile.

The solver asks a model once per profile for a full matrix over the sites it needs, then
registers that matrix with OR-Tools; no Python code runs per arc during the search.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from .problem import Site

EARTH_RADIUS_M = 6_371_008.8


@runtime_checkable
class TravelModel(Protocol):
    """Anything that gives travel times between sites.

    ``matrix(sites, profile)`` returns a square integer array ``m`` (numpy, int64) where
    ``m[i][j]`` is the travel time in whole time units from ``sites[i]`` to ``sites[j]``
    for the transport ``profile``; the diagonal is 0. An unknown profile raises KeyError
    naming it.
    """

    def matrix(self, sites: Sequence[Site], profile: str) -> np.ndarray: ...


@dataclass(frozen=True)
class HaversineTravel:
    """Great-circle distance × detour factor ÷ speed, rounded UP to whole units.

    Attributes:
        detour_factor: street distance over straight-line distance (default 1.3).
        speed_m_per_min: metres per minute per profile (default walk 70, ebike 250).
        units_per_minute: time units in one minute (default 60: the core works in
            seconds for home care).
    """

    detour_factor: float = 1.3
    speed_m_per_min: Mapping[str, float] = field(
        default_factory=lambda: {"walk": 70.0, "ebike": 250.0}
    )
    units_per_minute: int = 60

    def matrix(self, sites: Sequence[Site], profile: str) -> np.ndarray:
        """Travel times in whole units (ceil) from every site to every site."""
        speed = self.speed_m_per_min.get(profile)
        if speed is None or speed <= 0:
            raise KeyError(f"travel profile {profile!r} has no positive speed")
        metres = haversine_matrix_m(sites) * self.detour_factor
        return np.ceil(metres / speed * self.units_per_minute - 1e-9).astype(np.int64)


@dataclass(frozen=True)
class MatrixTravel:
    """Explicit travel matrices per profile, over a fixed list of site ids.

    Attributes:
        site_ids: the id of the site on each row/column.
        matrices: profile → square matrix of whole time units (nested lists or numpy).
    """

    site_ids: Sequence[str]
    matrices: Mapping[str, object]

    def matrix(self, sites: Sequence[Site], profile: str) -> np.ndarray:
        """The sub-matrix for ``sites`` (KeyError naming an unknown site or profile)."""
        if profile not in self.matrices:
            raise KeyError(f"travel profile {profile!r} has no matrix")
        full = np.asarray(self.matrices[profile], dtype=np.int64)
        rows = [self._position(s.id) for s in sites]
        return full[np.ix_(rows, rows)]

    def _position(self, site_id: str) -> int:
        try:
            return self._positions[site_id]
        except KeyError:
            raise KeyError(f"site {site_id!r} is not in the travel matrix") from None

    @property
    def _positions(self) -> dict[str, int]:
        cached = self.__dict__.get("_pos")
        if cached is None:
            cached = {sid: i for i, sid in enumerate(self.site_ids)}
            object.__setattr__(self, "_pos", cached)
        return cached


def haversine_matrix_m(sites: Sequence[Site]) -> np.ndarray:
    """Great-circle distances in metres between all pairs of sites (float array)."""
    lat = np.radians([s.lat for s in sites])
    lon = np.radians([s.lon for s in sites])
    dlat = lat[:, None] - lat[None, :]
    dlon = lon[:, None] - lon[None, :]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat)[:, None] * np.cos(lat)[None, :] * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def haversine_m(a: Site, b: Site) -> float:
    """Great-circle distance in metres between two sites."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, h)))


@dataclass(frozen=True)
class TravelTables:
    """Travel matrices over the distinct sites of one problem, one per profile.

    Attributes:
        sites: the distinct sites (by id), workers' homes first.
        index: site id → row in the matrices.
        times: profile → square int64 array of travel units.
    """

    sites: tuple[Site, ...]
    index: Mapping[str, int]
    times: Mapping[str, np.ndarray]

    def time(self, profile: str, a: Site, b: Site) -> int:
        """Travel units from ``a`` to ``b`` with ``profile``."""
        return int(self.times[profile][self.index[a.id], self.index[b.id]])


def travel_tables(problem) -> TravelTables:
    """Ask the problem's travel model once per profile in use."""
    sites: dict[str, Site] = {}
    for w in problem.workers:
        sites.setdefault(w.start_site.id, w.start_site)
        sites.setdefault(w.end_site.id, w.end_site)
    for j in problem.jobs:
        sites.setdefault(j.site.id, j.site)
    ordered = tuple(sites.values())
    profiles = sorted({w.profile for w in problem.workers})
    times = {p: problem.travel.matrix(ordered, p) for p in profiles}
    return TravelTables(ordered, {s.id: i for i, s in enumerate(ordered)}, times)
