"""Local time: the service's days are Asia/Shanghai days."""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def local_now() -> datetime:
    return datetime.now(LOCAL_TZ)


def local_today() -> date:
    return local_now().date()


def local_instant(day: date, clock: time) -> datetime:
    """The aware instant of a local day and clock time."""
    return datetime.combine(day, clock, tzinfo=LOCAL_TZ)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
