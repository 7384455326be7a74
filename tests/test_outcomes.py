"""The simulated month's continuity measure: the previous caregiver of the elder's item, and whether
they were on duty that day (the ceiling no planner can pass)."""
from datetime import date

from app.outcomes import Continuity, _continuity

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
