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
