"""The pure planning core: ``solve(problem, params) -> Solution``.

No database, network or asyncio here, and nothing of the rest of the project is
imported; ``dispatch/problem_builder.py`` maps the domain onto these generic types.
"""

from .check import check
from .problem import Break, Job, Problem, Site, SolveParams, Worker
from .solution import BreakTaken, Progress, Route, Solution, Stats, Stop, Unassigned
from .solve import solve
from .travel import HaversineTravel, MatrixTravel, TravelModel

__all__ = [
    "Break", "BreakTaken", "HaversineTravel", "Job", "MatrixTravel", "Problem", "Progress",
    "Route", "Site", "Solution", "SolveParams", "Stats", "Stop", "TravelModel", "Unassigned",
    "Worker", "check", "solve",
]
