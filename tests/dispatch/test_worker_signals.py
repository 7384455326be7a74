"""`circle worker` (and `circle serve` with its planning worker) as real processes, mid-solve:

- SIGTERM or SIGINT stops the worker within 10 s; its running job is handed back: the plan row
  is `queued` again (no stale heartbeat to wait for), the stream entry is still pending (not
  acknowledged), the next consumer takes it at once without counting a delivery, and no solver
  process is left behind;
- SIGKILL of the worker or of the web process: its solver processes (and the progress Manager)
  end with it.
"""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dispatch import service
from dispatch.jobs import stream
from dispatch.jobs.submit import QueueOnly
from dispatch.models import PlanStatus
from tests.conftest import TEST_SECRET
from tests.dispatch.conftest import build_small_day

ROOT = Path(__file__).resolve().parents[2]


def _start(command: list[str], settings, tmp_path: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "CIRCLE_"))}
    env.update(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url, CIRCLE_SECRET_KEY=TEST_SECRET,
               CIRCLE_DATA_DIR=str(tmp_path), CIRCLE_START_WORKER="1", PYTHONUNBUFFERED="1")
    log = open(tmp_path / "process.log", "wb")
    return subprocess.Popen([sys.executable, "-m", "app.cli", *command], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)


async def _solving_plan(committed_db, redis, crypto, day) -> int:
    """A 60-second plan of the small day, queued on the stream."""
    async with committed_db.transaction() as conn:
        small = await build_small_day(conn, crypto, day)
    await stream.ensure_group(redis)
    plan = await service.request_plan(committed_db, QueueOnly(redis), actor=small.users["dispatcher"],
                                      circle_id=small.circle_id, day=day, time_limit_s=60)
    return plan.id


async def _wait_status(db, plan_id: int, status: PlanStatus, proc: subprocess.Popen, timeout_s: float = 90):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the process exited early"
        async with db.connection() as conn:
            if await conn.fetchval("SELECT status FROM plans WHERE id = $1", plan_id) == status.value:
                return
        await asyncio.sleep(0.2)
    raise AssertionError(f"plan {plan_id} never became {status}")


def _group(proc: subprocess.Popen) -> list[int]:
    """The live processes of `proc`'s process group other than itself (solver pool, Manager)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != proc.pid:
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == proc.pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def _wait_gone(pids: list[int], timeout_s: float) -> list[int]:
    deadline = time.monotonic() + timeout_s
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in alive if Path(f"/proc/{p}").exists() and
                 Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]
    return alive


def _describe(pid: int) -> str:
    """What a leftover process is, for the failure message."""
    try:
        status = dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                      if ":\t" in line)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        tasks = [(t.name, (t / "stat").read_text().rsplit(")", 1)[1].split()[0]) for t in Path(f"/proc/{pid}/task").iterdir()]
        listening = {line.split()[6] for line in Path("/proc/net/unix").read_text().splitlines()[1:]
                     if line.split()[3] == "00010000"}
        sockets = {os.readlink(f) [8:-1] for f in Path(f"/proc/{pid}/fd").iterdir()
                   if os.readlink(f).startswith("socket:")}
        role = "manager" if sockets & listening else "solver"
        return f"{pid} {cmdline[-60:]} {role} ppid={status.get('PPid', '').strip()} tasks={tasks}"
    except OSError:
        return f"{pid} (gone)"


def _clean_up(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)
    for pid in _group(proc):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_worker_stops_within_10_s_and_hands_its_running_job_back(
        sig, committed_db, redis, settings, crypto, tomorrow, tmp_path):
    plan_id = await _solving_plan(committed_db, redis, crypto, tomorrow)
    proc = _start(["worker"], settings, tmp_path)
    try:
        await _wait_status(committed_db, plan_id, PlanStatus.SOLVING, proc)
        children = _group(proc)
        assert children, "no solver process"
        started = time.monotonic()
        proc.send_signal(sig)
        code = proc.wait(timeout=30)
        stopped_s = time.monotonic() - started
        log = (tmp_path / "process.log").read_text(errors="replace")
        assert code == 0 and stopped_s < 10, (code, stopped_s, log[-3000:])
        assert _wait_gone(children, 3) == []
    finally:
        _clean_up(proc)
    async with committed_db.connection() as conn:
        row = await conn.fetchrow("SELECT status, heartbeat_at FROM plans WHERE id = $1", plan_id)
    assert (row["status"], row["heartbeat_at"]) == ("queued", None)
    assert await stream.pending_count(redis) == 1                       # not acknowledged
    taken = await stream.claim_idle(redis, "next-worker", idle_ms=30_000)
    assert [(j.plan_id, j.deliveries) for j in taken] == [(plan_id, 1)]  # at once; the stop is no crash
    print(f"\n{sig.name}: the worker stopped in {stopped_s:.1f} s")


@pytest.mark.parametrize("command", [["worker"], ["serve", "--host", "127.0.0.1", "--port", "0"]],
                         ids=["worker", "serve"])
async def test_solver_processes_end_with_a_sigkilled_parent(command, committed_db, redis, settings, crypto, tomorrow,
                                                           tmp_path):
    """SIGKILL while a solver process is deep in a search: nothing of the parent's is left."""
    plan_id = await _solving_plan(committed_db, redis, crypto, tomorrow)
    proc = _start(command, settings, tmp_path)
    try:
        await _wait_status(committed_db, plan_id, PlanStatus.SOLVING, proc)
        await asyncio.sleep(1.0)                  # the search is under way
        children = _group(proc)
        assert len(children) >= 2, children       # a solver process and the progress Manager at least
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        left = _wait_gone(children, 5)
        info = [_describe(p) for p in left]
        assert left == [], f"{info} {len(left)} of {len(children)} child processes outlived their killed parent"
    finally:
        _clean_up(proc)
