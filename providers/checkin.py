"""Check-in and check-out at the door. Pure rules over plain values.

Position is evidence, never a gate: GPS fails indoors and in old stairwells, so a check-in far
from the elder's home is accepted and flagged (`far_check_in`) for the dispatcher and the
settlement. Time is the server's clock at the moment of the request, never the phone's.

Decisions:
- A check-in more than 200 m from the home is flagged `far_check_in`.
- A check-in more than 30 minutes after the planned start is flagged `late_start`.
- A check-in earlier than 2 hours before the planned start is refused (409): it cannot be the
  visit that was planned (a wrong tap, or a sign-in made away from the visit).
- A visit not checked in by its planned end is a `no_show` (the dispatcher's alert; the booking
  itself is left for the dispatcher to re-plan or mark missed).
- A `done` visit whose on-site time is under half the item's minutes is flagged `shortened`.
- Two-person items (crew 2): the first partner's check-in starts the booking; the booking's
  outcome is applied when the partner checking out is the last one on site (no other partner
  checked in and not yet out). A partner who never checked in does not hold the booking open
  (their visit becomes a `no_show`, and the settlement withholds the booking for it). The
  booking is completed if any partner recorded `done`; otherwise it takes the outcome of the
  last check-out.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable

from booking.geo import haversine_m
from booking.models import BookingStatus
from providers.models import Flag, Outcome, Visit

FAR_CHECK_IN_M = 200
LATE_START_MINUTES = 30
EARLIEST_CHECK_IN_MINUTES = 120

OUTCOME_STATUS = {
    Outcome.DONE: BookingStatus.COMPLETED,
    Outcome.NOT_HOME: BookingStatus.NOT_HOME,
    Outcome.REFUSED: BookingStatus.REFUSED,
}


def distance_m(lat: float | None, lon: float | None, home_lat: float, home_lon: float) -> int | None:
    """Whole metres from the phone's position to the elder's home; None without a position."""
    if lat is None or lon is None:
        return None
    return round(haversine_m(lat, lon, home_lat, home_lon))


def is_far(distance: int | None) -> bool:
    """True when a recorded position is more than 200 m from the home (unknown is not far)."""
    return distance is not None and distance > FAR_CHECK_IN_M


def is_late(planned_start: datetime, checked_in_at: datetime) -> bool:
    return checked_in_at - planned_start > timedelta(minutes=LATE_START_MINUTES)


def is_too_early(planned_start: datetime, now: datetime) -> bool:
    return planned_start - now > timedelta(minutes=EARLIEST_CHECK_IN_MINUTES)


def check_in_flags(*, distance: int | None, planned_start: datetime, checked_in_at: datetime,
                   has_position: bool = True) -> tuple[str, ...]:
    """The flags a check-in earns: far from home, no position from the phone, late start."""
    flags = [] if has_position else [Flag.NO_POSITION.value]
    if is_far(distance):
        flags.append(Flag.FAR_CHECK_IN.value)
    if is_late(planned_start, checked_in_at):
        flags.append(Flag.LATE_START.value)
    return tuple(flags)


def is_no_show(visit: Visit, now: datetime) -> bool:
    """An active visit never checked in by its planned end."""
    return visit.released_at is None and visit.check_in_at is None and now >= visit.planned_end


def on_site_minutes(check_in_at: datetime | None, check_out_at: datetime | None) -> float:
    """Minutes between check-in and check-out; 0 when either is missing."""
    if check_in_at is None or check_out_at is None:
        return 0.0
    return max((check_out_at - check_in_at).total_seconds() / 60, 0.0)


def is_shortened(check_in_at: datetime | None, check_out_at: datetime | None, item_minutes: int) -> bool:
    """On-site time under half the item's minutes (missing times count as no time on site)."""
    return on_site_minutes(check_in_at, check_out_at) * 2 < item_minutes


def check_out_flags(*, outcome: Outcome, check_in_at: datetime | None, check_out_at: datetime,
                    item_minutes: int) -> tuple[str, ...]:
    if outcome is Outcome.DONE and is_shortened(check_in_at, check_out_at, item_minutes):
        return (Flag.SHORTENED.value,)
    return ()


def merge_flags(existing: Iterable[str], new: Iterable[str]) -> tuple[str, ...]:
    """Existing flags plus new ones, each once, in first-seen order."""
    return tuple(dict.fromkeys([*existing, *new]))


def is_last_on_site(partners: Iterable[Visit], closing_visit_id: int) -> bool:
    """True when no other active partner visit is checked in and not yet checked out."""
    return not any(v.id != closing_visit_id and v.released_at is None and v.check_in_at is not None
                   and v.check_out_at is None for v in partners)


def booking_outcome(outcomes: Iterable[str | None], last: Outcome) -> Outcome:
    """A crew's outcome: done if any partner did the work, else the last check-out's outcome."""
    return Outcome.DONE if Outcome.DONE.value in outcomes else last


def next_booking_status(status: BookingStatus, visit: Visit, partners: Iterable[Visit]) -> BookingStatus | None:
    """The booking's next step given one visit's record, or None when it stays.

    scheduled + this visit checked in → in_progress; in_progress + this visit checked out with an
    outcome + nobody else on site → the crew's outcome.
    """
    partners = list(partners)
    if status is BookingStatus.SCHEDULED and visit.check_in_at is not None:
        return BookingStatus.IN_PROGRESS
    if status is BookingStatus.IN_PROGRESS and visit.check_out_at is not None and visit.outcome:
        if is_last_on_site(partners, visit.id):
            return OUTCOME_STATUS[booking_outcome([p.outcome for p in partners], Outcome(visit.outcome))]
    return None


def corrected_flags(visit: Visit, *, item_minutes: int) -> tuple[str, ...]:
    """A visit's flags recomputed after an audited correction of its times or outcome.

    far_check_in follows the recorded distance; late_start and shortened follow the corrected
    times; no_show stays only while the visit has no check-in.
    """
    flags = []
    if is_far(visit.check_in_distance_m):
        flags.append(Flag.FAR_CHECK_IN.value)
    if visit.check_in_at is not None and is_late(visit.planned_start, visit.check_in_at):
        flags.append(Flag.LATE_START.value)
    if visit.check_in_at is None and Flag.NO_SHOW.value in visit.flags:
        flags.append(Flag.NO_SHOW.value)
    if visit.outcome == Outcome.DONE.value and visit.check_out_at is not None \
            and is_shortened(visit.check_in_at, visit.check_out_at, item_minutes):
        flags.append(Flag.SHORTENED.value)
    return tuple(flags)
