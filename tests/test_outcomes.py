"""The simulated month's continuity measure: the previous caregiver of the elder's item, and whether
they were on duty that day (the ceiling no planner can pass)."""
from datetime import date

from app.outcomes import Continuity, _continuity, placement

MON, TUE, WED, THU = (date(2030, 3, d) for d in (4, 5, 6, 7))


def visit(day, caregiver, *, resident=1, item="M01", crew_member=1, circle=1):
    return {"service_date": day, "caregiver_id": caregiver, "resident_id": resident, "item_code": item,
            "crew_member": crew_member, "circle_id": circle}


def test_a_day_off_caps_continuity_and_on_duty_days_are_counted_apart():
    """A lunch every day by caregiver 7, who is off on Wednesday: Wednesday's substitute cannot be
    helped, Thursday's return to 7 is a change again; a second crew member never counts."""
    visits = [visit(MON, 7), visit(TUE, 7), visit(TUE, 9, crew_member=2), visit(WED, 8), visit(THU, 7),
              visit(TUE, 5, resident=2, item="B01")]   # a first visit: not a repeat
    on_duty = {(1, MON): {7, 8}, (1, TUE): {7, 8}, (1, WED): {8}, (1, THU): {7, 8}}
    assert _continuity(visits, on_duty) == Continuity(pct=33.3, reachable_pct=66.7, on_duty_pct=50.0)


def plan(placed: list[int], left: list[tuple[int, str]]) -> dict:
    return {"routes": [{"visits": [{"booking_id": b} for b in placed]}],
            "unassigned": [{"booking_id": b, "reason": r} for b, r in left]}


def test_planned_share_counts_only_the_feasible_bookings_left_out():
    """Left out for capacity (it fits, the day was full) counts against the planner; a structural
    reason (nobody qualified, no shift reaches the window, no partner) is not feasible and is counted
    apart. Until 2026-12-06 the share was taken over the structural ones instead."""
    plans = [plan([1, 2, 3, 4, 5, 6], [(7, "capacity"), (8, "outside_shifts")]),
             plan([9, 10, 11], [(12, "no_qualified_worker"), (13, "no_partner"), (14, "capacity")])]
    found = placement(plans)
    assert (found.placed, found.left_for_capacity, found.left_structural) == (9, {7, 14}, 3)
    assert found.planned_pct == 81.8
    assert placement([plan([1, 2], [(3, "outside_shifts")])]).planned_pct == 100.0
