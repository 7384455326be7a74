"""The solver processes: the CPU-bound search off the event loop, with progress, stop, and a
watchdog that abandons a solve that never returns.

`SolverPool(processes=n)` keeps n solver processes ("spawn": a clean interpreter, no inherited
event loop, sockets or threads), each a one-process `ProcessPoolExecutor` of its own, so that one
stuck process can be killed and replaced without breaking the solves running beside it.
`SolverPool()` solves on the loop's default thread pool instead (tests).

- Progress travels back through a `multiprocessing.Manager` queue and the stop request through a
  Manager event (proxies can be passed to a pool task; plain multiprocessing queues cannot); on
  threads a `queue.Queue` and a `threading.Event` do the same job. The child throttles both: at
  most one progress message per PROGRESS_EVERY_S (the latest wins, the last one always arrives)
  and one look at the stop event per STOP_EVERY_S, because OR-Tools calls back on every improving
  solution, hundreds of times a second early in the search.
- The watchdog: a solve still running at `Watchdog.bound_s(time_limit_s)` (default 3 × the time
  limit + 30 s) raises `SolverTimeout`; its process is killed and replaced (and warmed again).
  On threads the search cannot be killed: it is asked to stop and left behind.
- `abandon`, once set (the process is shutting down), ends the wait at once with `SolveAbandoned`:
  the result would be thrown away anyway. The process is killed and replaced.
- Every child leaves when its parent is gone, whatever killed the parent
  (dispatch.jobs.parent_death).
"""
from __future__ import annotations

import asyncio
import logging
import os
import queue
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.managers import SyncManager
from typing import Any, Callable

from dispatch.jobs.parent_death import exit_with_parent, init_solver_process
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


@dataclass(frozen=True)
class Watchdog:
    """How long a solve may run before it is abandoned: `factor` × its time limit + `grace_s`
    seconds (the search itself stops at its time limit; the rest is building, a slow machine)."""

    factor: float = 3.0
    grace_s: float = 30.0

    def bound_s(self, time_limit_s: float) -> float:
        return self.factor * time_limit_s + self.grace_s


class SolverTimeout(Exception):
    """The solve outlived its watchdog bound; its process was replaced."""

    def __init__(self, elapsed_s: float, bound_s: float):
        super().__init__(f"no answer after {elapsed_s:.0f} s (bound {bound_s:.0f} s)")
        self.elapsed_s, self.bound_s = elapsed_s, bound_s


class SolveAbandoned(Exception):
    """The caller gave the solve up (shutdown) before it returned."""


@dataclass
class _Slot:
    """One solver process: a one-process executor and, once started, its pid."""

    executor: ProcessPoolExecutor
    pid: int | None = None
    busy: bool = False


class SolverPool:
    """Solves on solver processes or threads; see the module docstring.

    `processes`: how many solver processes (0: the loop's default thread pool). `solve_fn`: what
    runs in the child, `solve_job` unless a test injects another (it must be importable there).
    """

    def __init__(self, processes: int = 0, *, solve_fn: Callable | None = None, watchdog: Watchdog = Watchdog()):
        self.processes = processes
        self.solve_fn = solve_fn or solve_job
        self.watchdog = watchdog
        self._slots = [_Slot(_process_executor()) for _ in range(processes)]
        self._free: asyncio.Queue[_Slot] | None = None
        self._manager = None
        self._closed = False
        self._lock = threading.Lock()
        self.replaced = 0   # processes killed and replaced (watchdog, abandon, crash)

    @property
    def uses_processes(self) -> bool:
        return self.processes > 0

    async def solve(self, job: SolveJob, *, on_progress: Callable[[Progress], None] | None = None,
                    should_stop: Callable[[], bool] | None = None,
                    abandon: asyncio.Event | None = None) -> Solution:
        """Solve `job`; `on_progress` runs on the event loop, `should_stop` is polled there every
        DRAIN_EVERY_S and, once True, stops the search (the best plan so far returns). Raises
        SolverTimeout past the watchdog's bound, SolveAbandoned once `abandon` is set."""
        loop = asyncio.get_running_loop()
        channel, stop = await loop.run_in_executor(None, self._channel)
        slot = await self._take()
        try:
            future = loop.run_in_executor(slot.executor if slot else None, self.solve_fn, job, channel, stop)
            return await self._watch(future, slot, job, channel, stop, on_progress, should_stop, abandon)
        finally:
            self._give_back(slot)

    async def _watch(self, future, slot, job, channel, stop, on_progress, should_stop, abandon) -> Solution:
        bound_s, started = self.watchdog.bound_s(job.params.time_limit_s), time.monotonic()
        while True:
            done, _ = await asyncio.wait({future}, timeout=DRAIN_EVERY_S)
            _drain(channel, on_progress)
            if done:
                return self._result(future, slot)
            if abandon is not None and abandon.is_set():
                self._give_up(future, slot, stop, "abandoned (shutting down)", warm=False)
                raise SolveAbandoned()
            elapsed = time.monotonic() - started
            if elapsed > bound_s:
                self._give_up(future, slot, stop, f"past the watchdog bound ({elapsed:.0f} s)", warm=True)
                raise SolverTimeout(elapsed, bound_s)
            if should_stop is not None and should_stop() and not stop.is_set():
                stop.set()

    def _result(self, future, slot: _Slot | None) -> Solution:
        try:
            return future.result()
        except BrokenProcessPool:   # the child died (killed, out of memory): a fresh one for the next solve
            if slot is not None:
                self._replace(slot, "died", warm=True)
            raise

    def _give_up(self, future, slot: _Slot | None, stop, why: str, *, warm: bool) -> None:
        stop.set()
        future.add_done_callback(_ignore_outcome)
        if slot is not None:
            self._replace(slot, why, warm=warm)

    def _replace(self, slot: _Slot, why: str, *, warm: bool) -> None:
        """Kill the slot's process and give the slot a fresh executor (warmed unless closing)."""
        log.warning("solver process %s %s: killed and replaced", slot.pid, why)
        _kill(slot.pid)
        slot.executor.shutdown(wait=False, cancel_futures=True)
        slot.executor, slot.pid = _process_executor(), None
        self.replaced += 1
        if warm and not self._closed:
            asyncio.get_running_loop().create_task(self._start(slot))

    async def _take(self) -> _Slot | None:
        if not self.uses_processes:
            return None
        if self._free is None:
            self._free = asyncio.Queue()
            for slot in self._slots:
                self._free.put_nowait(slot)
        slot = await self._free.get()
        slot.busy = True
        if slot.pid is None:
            await self._start(slot)
        return slot

    def _give_back(self, slot: _Slot | None) -> None:
        if slot is not None:
            slot.busy = False
            self._free.put_nowait(slot)

    async def _start(self, slot: _Slot) -> None:
        """Start the slot's process (imports the solver) and learn its pid."""
        try:
            slot.pid = await asyncio.get_running_loop().run_in_executor(slot.executor, _warm_up)
        except (BrokenProcessPool, RuntimeError):   # shut down meanwhile
            slot.pid = None

    def _channel(self) -> tuple[Any, Any]:
        if not self.uses_processes:
            return queue.Queue(), threading.Event()
        with self._lock:
            if self._closed:
                raise RuntimeError("the solver pool is closed")
            if self._manager is None:
                import multiprocessing

                manager = SyncManager(ctx=multiprocessing.get_context("spawn"))
                manager.start(initializer=exit_with_parent, initargs=(os.getpid(),))
                self._manager = manager
            return self._manager.Queue(), self._manager.Event()  # under the lock: close() waits

    async def warm_up(self) -> None:
        """Start the solver processes and the Manager now, not on the first plan (measured:
        about 2.5 s on a 2-core machine)."""
        if self.uses_processes:
            await asyncio.get_running_loop().run_in_executor(None, self._channel)
            await asyncio.gather(*(self._start(slot) for slot in self._slots if slot.pid is None))

    def close(self) -> None:
        """Stop every solver process (a busy one is killed) and the Manager; a Manager start in
        progress (warm-up) is waited for, then shut."""
        with self._lock:
            self._closed = True
            manager, self._manager = self._manager, None
        for slot in self._slots:
            if slot.busy:
                _kill(slot.pid)
            slot.executor.shutdown(wait=not slot.busy, cancel_futures=True)
        if manager is not None:
            manager.shutdown()


def _process_executor() -> ProcessPoolExecutor:
    import multiprocessing

    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                               initializer=init_solver_process, initargs=(os.getpid(),))


def _kill(pid: int | None) -> None:
    if pid is not None:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _ignore_outcome(future) -> None:
    """A given-up future's result or error is nobody's concern (and must not be logged as lost)."""
    if not future.cancelled():
        future.exception()


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


def _warm_up() -> int:
    """Nothing but a first task for a fresh solver process (its initializer imported the
    solver): the process's pid."""
    return os.getpid()
