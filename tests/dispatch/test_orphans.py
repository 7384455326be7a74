"""A web process killed with SIGKILL leaves no solver process behind."""
import os
import signal
import subprocess
import sys
import time

SCRIPT = """
import asyncio, multiprocessing, os, sys
from dispatch.solving import SolverRunner, process_pool

async def main():
    runner = SolverRunner(process_pool(1))
    await runner.warm_up()
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
