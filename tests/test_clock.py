"""One injectable clock: domain code reads the time through core.clock, and a block of code (and the
tasks it starts) can run on a simulated clock; no domain module asks the system for the time."""
import asyncio
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from core.clock import LOCAL_TZ, SimulatedClock, local_today, use_clock, utc_now

ROOT = Path(__file__).resolve().parent.parent


async def test_a_block_runs_on_a_simulated_clock_and_its_tasks_too():
    start = datetime(2030, 3, 4, 1, 0, tzinfo=timezone.utc)
    with use_clock(SimulatedClock(start)) as clock:
        assert utc_now() == start and local_today().isoformat() == "2030-03-04"
        clock.advance(timedelta(hours=16))   # 17:00 UTC is 01:00 the next day in Shanghai
        assert local_today().isoformat() == "2030-03-05"
        assert await asyncio.create_task(asyncio.sleep(0, result=None)) is None
        assert await asyncio.get_running_loop().create_task(_now()) == start + timedelta(hours=16)
        with pytest.raises(ValueError):
            clock.advance(timedelta(seconds=-1))
    assert abs(utc_now() - datetime.now(timezone.utc)) < timedelta(seconds=5)
    assert utc_now().astimezone(LOCAL_TZ).tzinfo is LOCAL_TZ


async def _now():
    return utc_now()


def test_no_domain_code_reads_the_system_clock():
    pattern = re.compile(r"datetime\.now\(|date\.today\(|datetime\.utcnow\(")
    found = [f"{path.relative_to(ROOT)}:{n}" for floor in ("booking", "providers", "dispatch", "app", "core")
             for path in (ROOT / floor).rglob("*.py") if "solver" not in path.parts
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if pattern.search(line) and path.name != "clock.py"]
    assert not found, found
