"""When a caregiver works on a given date. Pure: plain data in, a `Shift` (or None) out.

Rules, in order:
1. An inactive caregiver does not work.
2. A leave rule for the date: no shift.
3. An override rule for the date: that shift, even on a weekday outside the weekly pattern.
4. Otherwise the weekly pattern: the usual shift on the ISO weekdays in `work_days`.

The lunch break is `break_minutes` long, taken anywhere inside [`break_earliest`,
`break_latest_end`]. That window is clipped to the shift; there is no break when the shift is
shorter than 6 hours, when the clipped window is too short to hold the break (the shift does
not contain the lunch window), or when `break_minutes` is 0.

The day's working cap is the caregiver's `max_work_minutes`, never more than the shift minus
its break (the planner counts travel and service against it).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from app.clock import local_instant
from providers.models import Caregiver, DayKind, DayRule, Shift

BREAK_FROM_SHIFT_MINUTES = 6 * 60  # a shift this long or longer includes the lunch break


def working_shift(caregiver: Caregiver, day: date, day_rule: DayRule | None) -> Shift | None:
    """The caregiver's shift on `day` given that date's rule (or None), or None if off."""
    hours = shift_hours(caregiver, day, day_rule)
    if hours is None:
        return None
    start, end = local_instant(day, hours[0]), local_instant(day, hours[1])
    window = break_window(caregiver, day, start, end)
    break_minutes = caregiver.break_minutes if window else 0
    cap = min(caregiver.max_work_minutes, _minutes(end - start) - break_minutes)
    return Shift(day=day, start=start, end=end, break_minutes=break_minutes,
                 break_earliest=window[0] if window else None,
                 break_latest_end=window[1] if window else None, max_work_minutes=max(cap, 0))


def shift_hours(caregiver: Caregiver, day: date, day_rule: DayRule | None) -> tuple[time, time] | None:
    """The local (start, end) clock times worked on `day`, or None on a day off or leave."""
    if not caregiver.active:
        return None
    if day_rule is not None and day_rule.day == day:
        if day_rule.kind is DayKind.LEAVE:
            return None
        if day_rule.shift_start is not None and day_rule.shift_end is not None:
            return day_rule.shift_start, day_rule.shift_end
    if day.isoweekday() not in caregiver.work_days:
        return None
    return caregiver.shift_start, caregiver.shift_end


def break_window(caregiver: Caregiver, day: date, start: datetime,
                 end: datetime) -> tuple[datetime, datetime] | None:
    """The lunch window clipped to [start, end], or None when the shift has no break."""
    if caregiver.break_minutes <= 0 or _minutes(end - start) < BREAK_FROM_SHIFT_MINUTES:
        return None
    earliest = max(start, local_instant(day, caregiver.break_earliest))
    latest_end = min(end, local_instant(day, caregiver.break_latest_end))
    if _minutes(latest_end - earliest) < caregiver.break_minutes:
        return None
    return earliest, latest_end


def rules_by_day(rules: list[DayRule]) -> dict[date, DayRule]:
    return {rule.day: rule for rule in rules}


def _minutes(span: timedelta) -> int:
    return int(span.total_seconds() // 60)
