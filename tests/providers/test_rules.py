"""Pure rules: check-in distance and lateness, no-shows, crew outcomes, what to bring, care-notes window."""
from dataclasses import replace
from datetime import date, datetime, time, timedelta

from core.clock import local_instant
from booking.models import BookingStatus
from providers import checkin
from providers.daysheet import care_notes_visible, what_to_bring
from providers.models import Outcome, Visit

DAY = date(2026, 11, 23)
START = local_instant(DAY, time(9))
HOME = (31.2314, 121.4747)


def visit(**overrides) -> Visit:
    fields = dict(id=1, booking_id=10, caregiver_id=5, plan_id=None, crew_member=1, position=0,
                  planned_start=START, planned_end=START + timedelta(minutes=60), travel_minutes=10,
                  check_in_at=None, check_in_lat=None, check_in_lon=None, check_in_distance_m=None,
                  check_out_at=None, check_out_lat=None, check_out_lon=None, check_out_distance_m=None,
                  outcome=None, flags=(), notes="", released_at=None)
    fields.update(overrides)
    return Visit(**fields)


def test_distance_is_whole_metres():
    """0.001° of latitude is about 111 m."""
    assert checkin.distance_m(HOME[0] + 0.001, HOME[1], *HOME) == 111
    assert checkin.distance_m(*HOME, *HOME) == 0


def test_far_means_more_than_200_m():
    assert not checkin.is_far(200) and checkin.is_far(201) and not checkin.is_far(None)


def test_check_in_flags_far_and_late():
    assert checkin.check_in_flags(distance=50, planned_start=START, checked_in_at=START) == ()
    late = START + timedelta(minutes=31)
    assert checkin.check_in_flags(distance=350, planned_start=START, checked_in_at=late) == (
        "far_check_in", "late_start")
    assert checkin.check_in_flags(distance=0, planned_start=START,
                                  checked_in_at=START + timedelta(minutes=30)) == ()


def test_too_early_is_over_two_hours_before():
    assert checkin.is_too_early(START, START - timedelta(minutes=121))
    assert not checkin.is_too_early(START, START - timedelta(minutes=120))


def test_no_show_only_after_the_planned_end_without_check_in():
    end = START + timedelta(minutes=60)
    assert not checkin.is_no_show(visit(), end - timedelta(seconds=1))
    assert checkin.is_no_show(visit(), end)
    assert not checkin.is_no_show(visit(check_in_at=START), end + timedelta(hours=1))
    assert not checkin.is_no_show(visit(released_at=START), end + timedelta(hours=1))


def test_shortened_is_under_half_the_item_minutes():
    assert checkin.is_shortened(START, START + timedelta(minutes=29), 60)
    assert not checkin.is_shortened(START, START + timedelta(minutes=30), 60)
    assert checkin.is_shortened(START, None, 60)


def test_crew_booking_moves_when_the_last_partner_leaves():
    """Partner 1 checked out while partner 2 is still inside: the booking waits for partner 2."""
    out = START + timedelta(minutes=40)
    first = visit(id=1, check_in_at=START, check_out_at=out, outcome="done")
    second = visit(id=2, crew_member=2, check_in_at=START)
    assert checkin.next_booking_status(BookingStatus.IN_PROGRESS, first, [first, second]) is None
    second = replace(second, check_out_at=out, outcome="refused")
    assert checkin.next_booking_status(BookingStatus.IN_PROGRESS, second, [first, second]) is BookingStatus.COMPLETED


def test_a_partner_who_never_came_does_not_hold_the_booking_open():
    first = visit(id=1, check_in_at=START, check_out_at=START + timedelta(minutes=50), outcome="not_home")
    absent = visit(id=2, crew_member=2)
    assert checkin.next_booking_status(BookingStatus.IN_PROGRESS, first, [first, absent]) is BookingStatus.NOT_HOME


def test_first_check_in_starts_the_booking():
    arrived = visit(check_in_at=START)
    assert checkin.next_booking_status(BookingStatus.SCHEDULED, arrived, [arrived]) is BookingStatus.IN_PROGRESS
    assert checkin.next_booking_status(BookingStatus.IN_PROGRESS, arrived, [arrived]) is None


def test_crew_outcome_done_wins():
    assert checkin.booking_outcome(["done", None], Outcome.REFUSED) is Outcome.DONE
    assert checkin.booking_outcome(["not_home", "refused"], Outcome.REFUSED) is Outcome.REFUSED


def test_corrected_flags_follow_the_corrected_times():
    """A forgotten check-in entered by the provider admin clears no_show; a late one is late."""
    corrected = visit(check_in_at=START + timedelta(minutes=45), flags=("no_show",))
    assert checkin.corrected_flags(corrected, item_minutes=60) == ("late_start",)
    done_short = visit(check_in_at=START, check_out_at=START + timedelta(minutes=10), outcome="done",
                       check_in_distance_m=500)
    assert checkin.corrected_flags(done_short, item_minutes=60) == ("far_check_in", "shortened")


def test_merge_flags_keeps_each_once():
    assert checkin.merge_flags(("late_start",), ["far_check_in", "late_start"]) == ("late_start", "far_check_in")


def test_what_to_bring_for_a_bath_and_a_tub_bath():
    assert what_to_bring("bathing", "B01")[:2] == ("防滑垫", "毛巾")
    assert "充气浴槽" in what_to_bring("bathing", "B03")
    assert what_to_bring("unknown", "X1") == ()


def test_care_notes_for_today_and_tomorrow_only():
    assert care_notes_visible(DAY, today=DAY)
    assert care_notes_visible(DAY + timedelta(days=1), today=DAY)
    assert not care_notes_visible(DAY + timedelta(days=2), today=DAY)
    assert not care_notes_visible(DAY - timedelta(days=1), today=DAY)
