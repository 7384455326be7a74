"""Reader for Solomon and Gehring & Homberger VRPTW text files.

The classic format: a name line, a ``VEHICLE`` block (``NUMBER CAPACITY``), then a
``CUSTOMER`` block with one row per node ``CUST_NO X Y DEMAND READY DUE SERVICE``.
Node 0 is the depot and its DUE is the horizon. Travel time equals the Euclidean
distance; READY and DUE bound the *start* of service.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class VrptwCustomer:
    """One row of the CUSTOMER block (the depot is number 0).

    Coordinates, times and service are in the file's own units (floats as read).
    """

    number: int
    x: float
    y: float
    demand: int
    ready: float
    due: float
    service: float


@dataclass(frozen=True)
class VrptwInstance:
    """A whole Solomon/Homberger instance.

    Attributes:
        name: instance name from the first line (e.g. ``C101``).
        vehicles: fleet size (the maximum number of routes).
        capacity: capacity of every vehicle, in demand units.
        depot: node 0.
        customers: nodes 1..n in file order.
    """

    name: str
    vehicles: int
    capacity: int
    depot: VrptwCustomer
    customers: tuple[VrptwCustomer, ...]

    def distance(self, a: VrptwCustomer, b: VrptwCustomer) -> float:
        """Euclidean distance between two nodes, as a float."""
        return math.hypot(a.x - b.x, a.y - b.y)


def read_vrptw(path: str | Path) -> VrptwInstance:
    """Read a Solomon/Homberger text file.

    Raises ValueError naming the file when a block is missing or a row is malformed.
    """
    path = Path(path)
    lines = [line.split() for line in path.read_text().splitlines()]
    lines = [parts for parts in lines if parts]
    name = lines[0][0]
    vehicles, capacity = _vehicle_block(lines, path)
    nodes = _customer_rows(lines, path)
    if not nodes or nodes[0].number != 0:
        raise ValueError(f"{path}: the first CUSTOMER row must be the depot (number 0)")
    return VrptwInstance(name, vehicles, capacity, nodes[0], tuple(nodes[1:]))


def _vehicle_block(lines: list[list[str]], path: Path) -> tuple[int, int]:
    for i, parts in enumerate(lines):
        if parts[0].upper() == "VEHICLE":
            row = lines[i + 2]
            return int(row[0]), int(row[1])
    raise ValueError(f"{path}: no VEHICLE block")


def _customer_rows(lines: list[list[str]], path: Path) -> list[VrptwCustomer]:
    start = next((i for i, p in enumerate(lines) if p[0].upper() == "CUSTOMER"), None)
    if start is None:
        raise ValueError(f"{path}: no CUSTOMER block")
    rows = [p for p in lines[start + 1 :] if p[0].lstrip("-").isdigit()]
    try:
        return [_customer(p) for p in rows]
    except (IndexError, ValueError) as exc:
        raise ValueError(f"{path}: malformed CUSTOMER row ({exc})") from exc


def _customer(parts: list[str]) -> VrptwCustomer:
    number, x, y, demand, ready, due, service = parts[:7]
    return VrptwCustomer(
        int(number), float(x), float(y), int(float(demand)),
        float(ready), float(due), float(service),
    )


def to_problem(instance: VrptwInstance, scale: int = 1000):
    """The instance as a solver ``Problem`` in integer units of ``1 / scale``.

    Travel is ``ceil(distance × scale)`` (rounding up keeps every integer-feasible plan
    feasible in real numbers); windows and service are multiplied by ``scale``. Each of
    the ``instance.vehicles`` workers starts and ends at the depot with the horizon as
    shift and ``instance.capacity`` as capacity. Site ids: ``"0"`` for the depot and the
    customer number for customers; job ids are the customer numbers as strings.
    """
    import numpy as np

    from .problem import Job, Problem, Site, Worker
    from .travel import MatrixTravel

    nodes = [instance.depot, *instance.customers]
    xy = np.array([[c.x, c.y] for c in nodes], dtype=float)
    dist = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    matrix = np.ceil(dist * scale - 1e-9).astype(np.int64)
    sites = [Site(str(c.number), c.y, c.x) for c in nodes]
    travel = MatrixTravel([s.id for s in sites], {"vehicle": matrix})
    horizon = round(instance.depot.due * scale)
    workers = tuple(
        Worker(f"v{k}", sites[0], sites[0], 0, horizon, profile="vehicle", capacity=instance.capacity)
        for k in range(instance.vehicles)
    )
    jobs = tuple(
        Job(str(c.number), sites[i + 1], round(c.service * scale), round(c.ready * scale),
            round(c.due * scale), demand=c.demand)
        for i, c in enumerate(instance.customers)
    )
    return Problem(workers, jobs, travel, units_per_minute=None)


def route_distance(instance: VrptwInstance, customers: list[int]) -> float:
    """Euclidean length (floats) of depot → customers (by number) → depot."""
    by_number = {c.number: c for c in instance.customers}
    path = [instance.depot, *(by_number[n] for n in customers), instance.depot]
    return sum(instance.distance(a, b) for a, b in zip(path, path[1:])) if customers else 0.0
