"""`circle serve --workers N`: N web processes share the port (SO_REUSEPORT), the planning worker
starts in one of them only, SIGTERM stops them all, and they do not outlive a SIGKILLed parent."""
from __future__ import annotations

import asyncio
import os
import re
import signal
import time

import aiohttp

from app.cli import _parser
from tests.conftest import TEST_SECRET
from tests.reliability.support import ServerProcess


def test_workers_option_is_parsed_and_checked():
    assert _parser().parse_args(["serve", "--workers", "3"]).workers == 3
    assert _parser().parse_args(["serve"]).workers == 1


async def _healthz_on_new_connections(url: str, count: int) -> list[int]:
    statuses = []
    for _ in range(count):   # one connection each: the kernel picks a process per connection
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
            async with session.get(url + "/healthz") as response:
                statuses.append(response.status)
    return statuses


def _wait_gone(pids: list[int], timeout_s: float) -> list[int]:
    deadline = time.monotonic() + timeout_s
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in alive if os.path.exists(f"/proc/{p}") and _state(p) != "Z"]
    return alive


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


async def test_two_web_processes_share_the_port_with_one_planning_worker(services, rel_db_url, tmp_path):
    server = ServerProcess(database_url=rel_db_url, redis_url=services.redis_url, data_dir=tmp_path / "server",
                           secret=TEST_SECRET, workers=2, planning_worker=True)
    server.start()
    try:
        await server.wait_ready()
        served_by: set[str] = set()
        deadline = time.monotonic() + 60     # the second process may still be starting
        while served_by != {"0", "1"} and time.monotonic() < deadline:
            assert await _healthz_on_new_connections(server.url, 20) == [200] * 20
            await asyncio.sleep(0.2)
            served_by = set(re.findall(r"\[web (\d)\] aiohttp\.access", server.log_text()))
        log = server.log_text()
        assert served_by == {"0", "1"}, log[-2000:]
        assert len(re.findall(r"planning worker \S+ started", log)) == 1, log[-2000:]
        assert "[web 0] dispatch.jobs.consumer: planning worker" in log
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=30) == 0
        assert _wait_gone([p for p in server.group_pids() if p != server.proc.pid], 10) == []
    finally:
        server.stop()


async def test_web_processes_end_with_a_killed_parent(services, rel_db_url, tmp_path):
    server = ServerProcess(database_url=rel_db_url, redis_url=services.redis_url, data_dir=tmp_path / "server",
                           secret=TEST_SECRET, workers=2)
    server.start()
    try:
        await server.wait_ready()
        children = [p for p in server.group_pids() if p != server.proc.pid]
        assert children
        os.kill(server.proc.pid, signal.SIGKILL)    # no clean-up runs in the parent
        server.proc.wait(timeout=10)
        # each web process gets SIGTERM from the kernel (PR_SET_PDEATHSIG) and stops, its solver pool with it
        assert _wait_gone(children, 30) == []
    finally:
        server.stop()
