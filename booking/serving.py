"""Whether anyone in an elder's circle could ever serve a booking. Pure: a `ServeCheck` in, the
first reason it cannot be served (or None) out. Checked before any subsidy is held, and by the quote."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from booking.models import ServeCheck


@dataclass(frozen=True)
class Unservable:
    reason: str       # no_provider | no_qualified_caregiver | outside_shifts
    message: str
    message_zh: str


def _minutes(clock: time) -> int:
    return clock.hour * 60 + clock.minute


def fits_a_shift(shifts: tuple[tuple[time, time], ...], window_start: time, window_end: time,
                 minutes: int) -> bool:
    """Some shift lets a visit start inside the window and end by the shift's end."""
    for start, end in shifts:
        earliest = max(_minutes(window_start), _minutes(start))
        latest = min(_minutes(window_end), _minutes(end) - minutes)
        if earliest <= latest:
            return True
    return False


def why_unservable(check: ServeCheck, *, item_code: str, qualification: str, needs_visit: bool,
                   window_start: time, window_end: time, minutes: int) -> Unservable | None:
    if check.providers == 0:
        return Unservable("no_provider", f"no provider of the elder's circle delivers {item_code}",
                          f"本服务圈没有服务商提供此项目（{item_code}）")
    if not needs_visit:
        return None
    if check.qualified == 0:
        return Unservable("no_qualified_caregiver",
                          f"no caregiver of the elder's circle holds qualification {qualification} for {item_code}",
                          f"本服务圈没有具备该资质（{qualification}）的护理员")
    if not fits_a_shift(check.shifts, window_start, window_end, minutes):
        return Unservable("outside_shifts",
                          f"{window_start:%H:%M}–{window_end:%H:%M} lies outside every qualified caregiver's "
                          f"shift that day ({minutes} min visit)",
                          f"所选时段{window_start:%H:%M}–{window_end:%H:%M}不在当天任何护理员的班次内")
    return None
