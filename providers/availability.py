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

from core.clock import local_instant
from core.errors import invalid_field
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

# ------------------------------------------------------------------ checking what is submitted

MAX_DAYS_AHEAD = 366


def check_pattern(*, shift_start: time, shift_end: time, break_earliest: time, break_latest_end: time,
                  break_minutes: int) -> None:
    """A weekly pattern's times make sense (422 naming the field otherwise)."""
    if shift_end <= shift_start:
        raise invalid_field("shift_end", shift_end.strftime("%H:%M"),
                            f"must be after shift_start {shift_start:%H:%M}", "下班时间须晚于上班时间")
    if break_latest_end <= break_earliest:
        raise invalid_field("break_latest_end", break_latest_end.strftime("%H:%M"),
                            f"must be after break_earliest {break_earliest:%H:%M}", "午休最晚结束须晚于最早开始")
    window = _clock_minutes(break_latest_end) - _clock_minutes(break_earliest)
    if break_minutes > window:
        raise invalid_field("break_minutes", break_minutes, f"does not fit the {window}-minute break window",
                            f"午休时长超过了午休时段（{window}分钟）")


def check_day_rules(days: list, *, today: date) -> None:
    """Day rules of an availability request (DayChange: day, kind, shift_start, shift_end):
    unique dates from today up to a year ahead; only an override has shift times, and it needs both."""
    seen: set[date] = set()
    for n, rule in enumerate(days):
        _check_rule_date(n, rule.day, seen, today)
        _check_rule_times(n, rule)
        seen.add(rule.day)


def _check_rule_date(n: int, day: date, seen: set[date], today: date) -> None:
    field = f"days.{n}.date"
    if day in seen:
        raise invalid_field(field, day.isoformat(), "appears twice", "同一日期重复出现")
    if day < today:
        raise invalid_field(field, day.isoformat(), "must not be in the past", "不能修改过去的日期")
    if day > today + timedelta(days=MAX_DAYS_AHEAD):
        raise invalid_field(field, day.isoformat(), "must be at most a year ahead", "最多提前一年安排")


def _check_rule_times(n: int, rule) -> None:
    has_times = rule.shift_start is not None or rule.shift_end is not None
    if rule.kind != DayKind.OVERRIDE.value:
        if has_times:
            raise invalid_field(f"days.{n}.shift_start", _hhmm(rule.shift_start or rule.shift_end),
                                f"only an override has shift times (kind is {rule.kind})", "只有调班需要填写时间")
        return
    for name in ("shift_start", "shift_end"):
        if getattr(rule, name) is None:
            raise invalid_field(f"days.{n}.{name}", None, "an override needs shift_start and shift_end",
                                "调班须填写上下班时间")
    if rule.shift_end <= rule.shift_start:
        raise invalid_field(f"days.{n}.shift_end", _hhmm(rule.shift_end),
                            f"must be after shift_start {rule.shift_start:%H:%M}", "下班时间须晚于上班时间")


def _clock_minutes(clock: time) -> int:
    return clock.hour * 60 + clock.minute


def _hhmm(clock: time | None) -> str | None:
    return clock.strftime("%H:%M") if clock else None
