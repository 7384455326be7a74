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
