"""The time budget of one ``solve`` call, in wall-clock or process CPU seconds."""

from __future__ import annotations

import time


class Clock:
    """Seconds since ``solve`` started and the budget left.

    With ``cpu=True`` the budget counts CPU seconds of this process, so a benchmark on a
    busy shared machine measures the solver, not the neighbours; the OR-Tools wall-clock
    limit is then only a safety net and the search monitor enforces the budget.
    """

    def __init__(self, limit_s: float, cpu: bool = False) -> None:
        self.cpu = cpu
        self.limit_s = limit_s
        self._now = time.process_time if cpu else time.monotonic
        self.t0 = self._now()
        self.wall0 = time.monotonic()

    def elapsed(self) -> float:
        """Seconds used so far (CPU or wall, see the class)."""
        return self._now() - self.t0

    def wall(self) -> float:
        """Wall-clock seconds since the start, whatever the mode."""
        return time.monotonic() - self.wall0

    def left(self) -> float:
        """Budget left in seconds (never negative)."""
        return max(0.0, self.limit_s - self.elapsed())

    def wall_limit(self, seconds: float) -> float:
        """The OR-Tools time limit for a phase of ``seconds`` of budget."""
        return seconds * 20 + 5 if self.cpu else seconds
