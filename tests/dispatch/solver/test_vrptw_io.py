"""The Solomon/Homberger reader and the conversion to a solver problem."""

from pathlib import Path

import pytest

from dispatch.solver.vrptw_io import read_vrptw, route_distance, to_problem

C101 = Path(__file__).resolve().parents[4] / "shared" / "bench" / "solomon" / "C101.txt"


@pytest.fixture
def c101():
    if not C101.exists():
        pytest.skip(f"benchmark data not found at {C101}")
    return read_vrptw(C101)


def test_reads_c101(c101):
    """C101: 100 customers, 25 vehicles of capacity 200, depot horizon 1236, service 90."""
    assert c101.name == "C101"
    assert (len(c101.customers), c101.vehicles, c101.capacity) == (100, 25, 200)
    assert c101.depot.number == 0 and c101.depot.due == 1236
    first = c101.customers[0]
    assert (first.number, first.x, first.y, first.demand, first.ready, first.due, first.service) == (1, 45, 68, 10, 912, 967, 90)


def test_problem_scales_times_and_rounds_travel_up(c101):
    """Windows and service ×1000; travel is the ceiling of distance ×1000."""
    p = to_problem(c101, scale=1000)
    assert len(p.workers) == 25 and p.workers[0].capacity == 200
    j1 = p.jobs[0]
    assert (j1.id, j1.duration, j1.window_start, j1.window_end, j1.demand) == ("1", 90_000, 912_000, 967_000, 10)
    m = p.travel.matrix([p.workers[0].start_site, j1.site], "vehicle")
    assert m[0][1] == 18_682  # ceil(1000 * sqrt(5² + 18²)) = ceil(18681.54)
    assert route_distance(c101, [1]) == pytest.approx(2 * 18.681541692269406)
