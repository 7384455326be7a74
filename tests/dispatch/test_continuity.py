"""The same caregiver and calm re-plans, pure: who the regular caregiver is, what the problem
builder prefers and keeps, how continuity and a version's changes are counted."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time

from core.clock import local_instant
from dispatch.continuity import PastVisit, change_counts, continuity, elders_caregivers, regular_caregivers
from dispatch.models import ActiveVisit, Assignment
from dispatch.problem_builder import build_problem, regular_of
from tests.dispatch.test_problem_builder import DAY, booking, caregiver, circle_day, jobs_of

MON, TUE, WED = date(2030, 3, 4), date(2030, 3, 5), date(2030, 3, 6)


def test_the_regular_caregiver_is_the_one_of_the_most_recent_visit_planned_or_done():
    """王阿姨 (elder 1) had lunch on Monday with 张丽 (1), done; Tuesday's lunch is only planned,
    with 刘芳 (2). Planning Wednesday, her regular caregiver for lunch is 刘芳: days planned
    ahead keep the person of the day before, done or not. Her bath (another item) keeps its own
    regular caregiver, and Wednesday's own plan does not count for Wednesday."""
    past = [PastVisit(1, "M01", MON, 1, done=True), PastVisit(1, "M01", TUE, 2),
            PastVisit(1, "B01", MON, 3, done=True), PastVisit(1, "M01", WED, 4)]
    assert regular_caregivers(past, before=WED) == {(1, "M01"): 2, (1, "B01"): 3}
    assert regular_caregivers(past, before=TUE) == {(1, "M01"): 1, (1, "B01"): 3}
    assert elders_caregivers(past, before=WED) == {1: 2}


def test_on_one_day_the_visit_that_happened_wins_over_a_plan():
    """Monday's plan said 刘芳 (2) but 张丽 (1) came and checked out: 张丽 is the regular one."""
    past = [PastVisit(1, "M01", MON, 2), PastVisit(1, "M01", MON, 1, done=True), PastVisit(1, "M01", MON, 3)]
    assert regular_caregivers(past, before=TUE) == {(1, "M01"): 1}


def test_continuity_counts_repeat_visits_served_by_the_regular_caregiver():
    """Three repeat visits (bookings 1–3), booking 4 is a first visit: 1 kept, 2 moved, 3 a
    two-person visit with the regular caregiver as the second member (kept) → 2 of 3."""
    found = continuity({1: (5,), 2: (6,), 3: (7, 5), 4: (6,)}, {1: 5, 2: 5, 3: 5, 9: 5})
    assert (found.repeat_visits, found.with_regular, found.pct) == (3, 2, 66.7)
    assert continuity({4: (6,)}, {}).pct is None


def _at(hour: int, minute: int = 0) -> datetime:
    return local_instant(DAY, time(hour, minute))


def test_changes_count_moved_retimed_and_unassigned_apart_from_small_shifts():
    """Against the published day: 1 same; 2 another caregiver; 3 twenty minutes later
    (retimed); 4 ten minutes later (adjusted, not a change the elder must hear of); 5 left out;
    6 planned for the first time."""
    old = {b: Assignment(b, (1,), _at(9), _at(10)) for b in (1, 2, 3, 4, 5)}
    new = {1: old[1], 2: replace(old[2], caregiver_ids=(2,)), 3: replace(old[3], planned_start=_at(9, 20)),
           4: replace(old[4], planned_start=_at(9, 10)), 6: Assignment(6, (2,), _at(11), _at(12))}
    assert change_counts(old, new) == {"moved": 1, "retimed": 1, "unassigned": 1, "changed": 3,
                                       "scheduled": 1, "adjusted": 1}


def test_a_series_names_the_regular_caregiver_and_it_wins_over_history():
    """Booking 1 comes from a series naming caregiver 2; the elder's history says caregiver 1.
    Booking 2 (no series) follows history for its item; booking 3's item is new to its elder,
    who gets the familiar face of any item, but it is no repeat visit."""
    day = circle_day([replace(booking(1, resident=7), series_caregiver_id=2), booking(2, resident=8),
                      booking(3, "C03", resident=8)],
                     [caregiver(1), caregiver(2)], regular={(7, "C01"): 1, (8, "C01"): 1},
                     last_caregiver={7: 1, 8: 2})
    built = build_problem(day)
    jobs = jobs_of(built)
    assert (jobs[1].preferred_worker, jobs[2].preferred_worker, jobs[3].preferred_worker) == ("2", "1", "2")
    assert built.regular == regular_of(day) == {1: 2, 2: 1}


def test_a_published_booking_prefers_its_caregiver_and_keeps_its_start():
    """Re-planning a published day: booking 1 was published with caregiver 2 at 09:40 although
    its regular caregiver is 1; the re-plan prefers 2 and asks to keep 09:40 (kept_start, soft).
    A pending booking has no start to keep."""
    published = ActiveVisit(booking_id=1, caregiver_id=2, crew_member=1, position=1, planned_start=_at(9, 40),
                            planned_end=_at(10, 40), travel_minutes=5, checked_in=False, booking_status="scheduled")
    day = circle_day([booking(1, status="scheduled", resident=7), booking(2)], [caregiver(1), caregiver(2)],
                     regular={(7, "C01"): 1}, active_visits=(published,))
    jobs = jobs_of(build_problem(day))
    assert jobs[1].preferred_worker == "2" and jobs[1].kept_start == 9 * 3600 + 40 * 60
    assert jobs[2].kept_start is None
    sick = jobs_of(build_problem(day, freeze_at=_at(9, 50), sick_caregiver_ids=frozenset({2})))
    assert sick[1].preferred_worker == "1"                  # caregiver 2 is off sick: the regular one
    assert sick[1].kept_start == 9 * 3600 + 50 * 60         # and never before the freeze
