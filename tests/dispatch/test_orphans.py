"""A web process killed with SIGKILL leaves no solver process behind."""
import os
import signal
import subprocess
import sys
import time

SCRIPT = """
import asyncio, multiprocessing, os, sys
from dispatch.jobs.pool import SolverPool

async def main():
    pool = SolverPool(1)
    await pool.warm_up()
    children = [p.pid for p in multiprocessing.active_children()]
    print(" ".join(map(str, children)), flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is gone for our purposes
        return stat.read().split()[2] != "Z"


def test_solver_children_exit_when_their_parent_is_killed():
    """The pool's solver and the progress Manager watch their parent and leave with it."""
    parent = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True,
                              cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    children = [int(pid) for pid in parent.stdout.readline().split()]
    assert len(children) >= 2 and all(_alive(pid) for pid in children)  # solver + Manager
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in children if _alive(pid)]


CLOSE_DURING_WARM_UP = """
import asyncio, multiprocessing, time
from multiprocessing.managers import SyncManager
from dispatch.jobs.pool import SolverPool

start = SyncManager.start
def slow_start(self, *args, **kwargs):  # close() must land while the Manager starts
    time.sleep(1.0)
    return start(self, *args, **kwargs)
SyncManager.start = slow_start

async def main():
    pool = SolverPool(1)
    warming = asyncio.create_task(pool.warm_up())
    await asyncio.sleep(0.3)
    await asyncio.get_running_loop().run_in_executor(None, pool.close)
    try:
        await warming
    except RuntimeError:
        pass
    time.sleep(0.5)
    print(" ".join(str(p.pid) for p in multiprocessing.active_children() if p.is_alive()), flush=True)

asyncio.run(main())
"""


def test_close_during_warm_up_shuts_the_manager_down():
    """A server stopped while the solver warms up leaves no Manager running behind it."""
    done = subprocess.run([sys.executable, "-c", CLOSE_DURING_WARM_UP], capture_output=True, text=True, timeout=60,
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []  # no child process alive before the script exits


HOLDING_THE_GIL = """
import asyncio, multiprocessing
from dispatch.jobs.pool import SolveJob, SolverPool
from dispatch.solver import SolveParams
from tests.dispatch import stuck_solver

async def main():
    pool = SolverPool(1, solve_fn=stuck_solver.solve_holding_the_gil)
    await pool.warm_up()
    asyncio.ensure_future(pool.solve(SolveJob(problem=None, params=SolveParams(time_limit_s=60.0))))
    await asyncio.sleep(1.0)
    print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
    await asyncio.sleep(60)

if __name__ == "__main__":
    asyncio.run(main())
"""


def test_a_solver_busy_in_native_code_ends_with_its_killed_parent(tmp_path):
    """A solver process that never lets go of the GIL (as OR-Tools' native search can) gives
    the watcher thread no chance; the kernel's parent-death signal ends it anyway. Before
    `die_with_parent` this process outlived its SIGKILLed parent."""
    script = tmp_path / "holding_the_gil.py"      # a file: "spawn" children re-import the main module
    script.write_text(HOLDING_THE_GIL)
    root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=root,
                              env={**os.environ, "PYTHONPATH": root})
    children = [int(pid) for pid in parent.stdout.readline().split()]
    assert len(children) == 2 and all(_alive(pid) for pid in children)  # solver + Manager
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [pid for pid in children if _alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left


GUARDED_LATE = """
import multiprocessing, os, sys, time
from dispatch.jobs.parent_death import die_with_parent, exit_with_parent

def child(parent_pid):
    time.sleep(1.5)                   # still starting (importing OR-Tools takes that long) when the parent dies
    die_with_parent(parent_pid)
    exit_with_parent(parent_pid)
    time.sleep(60)

if __name__ == "__main__":
    process = multiprocessing.get_context("spawn").Process(target=child, args=(os.getpid(),))
    process.start()
    print(process.pid, flush=True)
    time.sleep(60)
"""


def test_a_child_whose_parent_died_while_it_started_leaves(tmp_path):
    """The parent is SIGKILLed before its child has installed its guards (as when `circle serve`
    is killed while its solver process still imports OR-Tools). The guards compare with the
    parent's pid handed down by the parent, so the child, finding itself orphaned, leaves.
    Before, the child read `os.getppid()` when its initializer ran — init's pid by then — and
    watched init forever (`circle serve` SIGKILLed mid-start left its solver behind, 3 runs in 8)."""
    script = tmp_path / "guarded_late.py"
    script.write_text(GUARDED_LATE)
    root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=root,
                              env={**os.environ, "PYTHONPATH": root})
    child = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 6
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = _alive(child)
    if left:
        os.kill(child, signal.SIGKILL)
    assert not left
