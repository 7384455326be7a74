"""Time, from one injectable clock. The service's days are Asia/Shanghai days.

Domain code never asks the system for the time: it calls `utc_now()`, `local_now()` or
`local_today()`, which read the clock in force. Production runs on the system clock; a simulation
(or a test) runs a block of code under another with `use_clock(SimulatedClock(...))`. The clock
lives in a context variable, so an asyncio task started inside the block keeps its clock.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterator, Protocol
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class SimulatedClock:
    """A clock that stands still until moved: a simulated street's days pass as fast as the code runs."""

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("a simulated clock starts at an aware instant")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("time does not run backwards")
        self._now += delta
        return self._now

    def set(self, instant: datetime) -> datetime:
        return self.advance(instant - self._now)


_clock: ContextVar[Clock] = ContextVar("clock", default=SystemClock())


@contextmanager
def use_clock(clock: Clock) -> Iterator[Clock]:
    """Run the block (and the tasks it starts) on `clock`."""
    token = _clock.set(clock)
    try:
        yield clock
    finally:
        _clock.reset(token)


def clock_in_force() -> Clock:
    """The clock `utc_now()` reads here (the system's unless a block runs on another)."""
    return _clock.get()


def utc_now() -> datetime:
    return _clock.get().now()


def local_now() -> datetime:
    return utc_now().astimezone(LOCAL_TZ)


def local_today() -> date:
    return local_now().date()


def local_instant(day: date, clock: time) -> datetime:
    """The aware instant of a local day and clock time."""
    return datetime.combine(day, clock, tzinfo=LOCAL_TZ)
