"""Child processes (solver processes, the progress Manager) that end with their parent, whatever
killed it, SIGKILL included. A parent killed that way runs no clean-up, so each child guards
itself, from the moment it starts:

- `die_with_parent` (Linux): the kernel SIGKILLs the child when its parent dies. Needs no Python
  thread, so it works while a search in native code holds the GIL.
- `exit_with_parent`: a thread that leaves when the parent pid changes (any POSIX system; also
  the Manager's only guard).
Both take the parent's pid from the parent itself (as initializer arguments): a child that reads
`os.getppid()` only once it runs its initializer may already have been handed to init, if the
parent died while the child was still starting (importing OR-Tools takes seconds), and would
then guard the wrong parent forever. Such a child leaves at once.

Kept free of heavy imports: a child imports this module before anything else of ours.
"""
from __future__ import annotations

import ctypes
import os
import signal
import threading
import time

PR_SET_PDEATHSIG = 1


def init_solver_process(parent_pid: int) -> None:
    """The solver processes' initializer: both guards, then the solver imported (warm)."""
    die_with_parent(parent_pid)
    exit_with_parent(parent_pid)
    import dispatch.solver  # noqa: F401  (OR-Tools, numpy: once per process, not on its first plan)


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel SIGKILL this process when its parent dies (Linux; elsewhere a no-op).
    The parent is the thread that started the process: the event loop's, which lives as long as
    the process (solver processes are started from it, never from a helper thread)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    _leave_if_orphaned(parent_pid)


def exit_with_parent(parent_pid: int, poll_s: float = 1.0) -> None:
    """Leave (os._exit) as soon as `parent_pid` is no longer this process's parent."""
    _leave_if_orphaned(parent_pid)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_s)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _leave_if_orphaned(parent_pid: int) -> None:
    if os.getppid() != parent_pid:   # the parent died while this process was starting
        os._exit(0)
