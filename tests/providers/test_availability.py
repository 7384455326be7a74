"""Pure availability rules: a caregiver's working shift on tricky days."""
from datetime import date, time

from core.clock import local_instant
from providers.availability import working_shift
from providers.models import Caregiver, DayKind, DayRule

MONDAY = date(2026, 11, 23)
SUNDAY = date(2026, 11, 29)


def carer(**overrides) -> Caregiver:
    fields = dict(id=1, provider_id=1, circle_id=1, name="张敏", gender="F", phone="13700000001",
                  qualifications=("G", "C"), home_lat=31.23, home_lon=121.47, transport="ebike",
                  work_days=(1, 2, 3, 4, 5), shift_start=time(8), shift_end=time(17))
    fields.update(overrides)
    return Caregiver(**fields)


def at(day, hour, minute=0):
    return local_instant(day, time(hour, minute))


def test_weekday_shift_has_the_lunch_window():
    """A normal 9-hour Monday: 08:00–17:00, 45 minutes of break inside 11:30–13:30."""
    shift = working_shift(carer(), MONDAY, None)
    assert (shift.start, shift.end) == (at(MONDAY, 8), at(MONDAY, 17))
    assert shift.start.utcoffset().total_seconds() == 8 * 3600
    assert (shift.break_earliest, shift.break_latest_end, shift.break_minutes) == (
        at(MONDAY, 11, 30), at(MONDAY, 13, 30), 45)
    assert shift.max_work_minutes == 480 and shift.minutes == 540


def test_weekday_not_worked_is_off():
    """Sunday is outside a Monday–Friday pattern."""
    assert working_shift(carer(), SUNDAY, None) is None


def test_leave_wins_over_the_pattern():
    assert working_shift(carer(), MONDAY, DayRule(MONDAY, DayKind.LEAVE)) is None


def test_override_replaces_the_shift_even_on_a_day_off():
    """An override on Sunday makes it a working day, 12:00–18:00."""
    rule = DayRule(SUNDAY, DayKind.OVERRIDE, time(12), time(18))
    shift = working_shift(carer(), SUNDAY, rule)
    assert (shift.start, shift.end) == (at(SUNDAY, 12), at(SUNDAY, 18))


def test_break_window_is_clipped_to_the_shift():
    """A 12:00–18:00 shift (exactly 6 h) keeps a break, inside 12:00–13:30."""
    rule = DayRule(MONDAY, DayKind.OVERRIDE, time(12), time(18))
    shift = working_shift(carer(), MONDAY, rule)
    assert (shift.break_earliest, shift.break_latest_end) == (at(MONDAY, 12), at(MONDAY, 13, 30))
    assert shift.max_work_minutes == 6 * 60 - 45


def test_no_break_when_the_shift_misses_the_lunch_window():
    """13:00–21:00 leaves only 30 minutes of the window: too short for a 45-minute break."""
    rule = DayRule(MONDAY, DayKind.OVERRIDE, time(13), time(21))
    shift = working_shift(carer(), MONDAY, rule)
    assert shift.break_minutes == 0 and shift.break_earliest is None and not shift.has_break
    assert shift.max_work_minutes == 480


def test_short_shift_has_no_break_and_a_smaller_cap():
    """A 5-hour morning (07:00–12:00) has no break; the cap is the shift's 300 minutes."""
    shift = working_shift(carer(shift_start=time(7), shift_end=time(12)), MONDAY, None)
    assert shift.break_minutes == 0
    assert shift.max_work_minutes == 300


def test_rule_for_another_day_is_ignored():
    assert working_shift(carer(), MONDAY, DayRule(SUNDAY, DayKind.LEAVE)) is not None


def test_inactive_caregiver_never_works():
    assert working_shift(carer(active=False), MONDAY, None) is None


def test_zero_break_minutes_means_no_break():
    shift = working_shift(carer(break_minutes=0), MONDAY, None)
    assert not shift.has_break and shift.max_work_minutes == 480
