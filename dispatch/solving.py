"""Running the CPU-bound solver off the event loop, with progress and cancellation.

`SolverRunner.solve` hands one problem to an executor and returns its Solution:
- with a `ProcessPoolExecutor` (the worker, `circle serve`) the solve runs in a child process;
  progress travels back through a `multiprocessing.Manager` queue and the stop request through
  a Manager event (proxies can be passed to a pool task; plain multiprocessing queues cannot);
- with a thread executor, or None for the loop's default one (tests), a plain `queue.Queue`
  and `threading.Event` do the same job.
The child throttles both: at most one progress message per PROGRESS_EVERY_S (the latest wins,
the last one always arrives) and one look at the stop event per STOP_EVERY_S, because OR-Tools
calls back on every improving solution, hundreds of times a second early in the search.
"""
from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing.managers import SyncManager
from typing import Any, Callable

from dispatch.solver import Problem, Progress, Solution, SolveParams, solve

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 0.25
STOP_EVERY_S = 0.1
DRAIN_EVERY_S = 0.2


@dataclass(frozen=True)
class SolveJob:
    """Everything the child needs (all picklable)."""

    problem: Problem
    params: SolveParams
    initial_routes: dict[str, list[str]] | None = None


class SolverRunner:
    """Solves on an executor; see the module docstring.

    `executor`: a ProcessPoolExecutor, a ThreadPoolExecutor, or None (the loop's default
    thread pool). A process pool gets a Manager, started on first use and shut by `close`.
    """

    def __init__(self, executor: Executor | None = None):
        self.executor = executor
        self._manager = None
        self._closed = False
        self._lock = threading.Lock()

    @property
    def uses_processes(self) -> bool:
        return isinstance(self.executor, ProcessPoolExecutor)

    def _channel(self) -> tuple[Any, Any]:
        if not self.uses_processes:
            return queue.Queue(), threading.Event()
        with self._lock:
            if self._closed:
                raise RuntimeError("the solver runner is closed")
            if self._manager is None:
                import multiprocessing

                manager = SyncManager(ctx=multiprocessing.get_context("spawn"))
                manager.start(initializer=exit_with_parent)
                self._manager = manager
            return self._manager.Queue(), self._manager.Event()  # under the lock: close() waits

    async def solve(self, job: SolveJob, *, on_progress: Callable[[Progress], None] | None = None,
                    should_stop: Callable[[], bool] | None = None) -> Solution:
        """Solve `job`; `on_progress` runs on the event loop, `should_stop` is polled there
        every DRAIN_EVERY_S and, once True, stops the search (the best plan so far returns)."""
        channel, stop = await asyncio.get_running_loop().run_in_executor(None, self._channel)
        future = asyncio.get_running_loop().run_in_executor(self.executor, solve_job, job, channel, stop)
        while True:
            done, _ = await asyncio.wait({future}, timeout=DRAIN_EVERY_S)
            _drain(channel, on_progress)
            if done:
                return future.result()
            if should_stop is not None and should_stop() and not stop.is_set():
                stop.set()

    async def warm_up(self) -> None:
        """Start the child process(es) and the Manager now, not on the first plan (measured:
        about 2.5 s on a 2-core machine)."""
        if self.uses_processes:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, self._channel)
            await loop.run_in_executor(self.executor, _warm_up)

    def close(self) -> None:
        """Shut the Manager down; a start in progress (warm-up) is waited for, then shut."""
        with self._lock:
            self._closed = True
            if self._manager is not None:
                self._manager.shutdown()
                self._manager = None


def _drain(channel, on_progress: Callable[[Progress], None] | None) -> None:
    latest = None
    while True:
        try:
            latest = channel.get_nowait()
        except queue.Empty:
            break
        except (EOFError, OSError, BrokenPipeError):  # the Manager went away (shutting down)
            break
    if latest is not None and on_progress is not None:
        on_progress(latest)

# ------------------------------------------------------------------ in the child (or thread)


def solve_job(job: SolveJob, channel, stop) -> Solution:
    """Run the solver with throttled progress and stop checks (module docstring)."""
    report = _Throttled(channel, PROGRESS_EVERY_S)
    stopped = _StopCheck(stop, STOP_EVERY_S)
    solution = solve(job.problem, job.params, report, initial_routes=job.initial_routes, should_stop=stopped)
    report.flush()
    return solution


class _Throttled:
    def __init__(self, channel, every_s: float):
        self.channel, self.every_s = channel, every_s
        self.last_sent = 0.0
        self.pending: Progress | None = None

    def __call__(self, progress: Progress) -> None:
        self.pending = progress
        if time.monotonic() - self.last_sent >= self.every_s:
            self.flush()

    def flush(self) -> None:
        if self.pending is not None:
            self.channel.put(self.pending)
            self.pending, self.last_sent = None, time.monotonic()


class _StopCheck:
    def __init__(self, stop, every_s: float):
        self.stop, self.every_s = stop, every_s
        self.last_checked = 0.0
        self.stopped = False

    def __call__(self) -> bool:
        now = time.monotonic()
        if not self.stopped and now - self.last_checked >= self.every_s:
            self.last_checked = now
            self.stopped = bool(self.stop.is_set())
        return self.stopped


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of `workers` solver processes, started with "spawn" (a clean interpreter: no
    inherited event loop, sockets or threads from the web process)."""
    import multiprocessing

    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_child)


def _init_child() -> None:
    exit_with_parent()
    _warm_up()


def exit_with_parent(poll_s: float = 1.0) -> None:
    """Leave when the parent process is gone. A parent killed with SIGKILL cannot stop its
    children, so each child (solver, Manager) watches for it; a crashed web process then
    leaves no solver running behind it."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _warm_up() -> None:
    """Import the solver (OR-Tools, numpy) once per child, not on its first plan."""
    import dispatch.solver  # noqa: F401
