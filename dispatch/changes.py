"""What publishing a plan changes, booking by booking. Pure.

A booking is affected when its set of caregivers or its start differs between the two sides:
first scheduled (`scheduled`), caregiver or time changed (`moved`), or scheduled before and not
now (`unscheduled`). The same comparison drives the `affected` list of a draft, which visits
publishing rewrites, and whom the notifications go to.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Iterable

from dispatch.models import Assignment, Change

# A re-plan disturbs a booking when it moves it to other caregivers, leaves it out, or shifts its
# start by more than this. Smaller shifts are still changes (rewritten and messaged), but the calm
# re-plan measure (docs/outcomes.md) does not count them as disturbing the elder's day.
NOTICEABLE_SHIFT = timedelta(minutes=15)


def same(old: Assignment | None, new: Assignment | None) -> bool:
    """True when nobody would notice a difference: same caregivers (as a set), same start."""
    if old is None or new is None:
        return old is new
    return set(old.caregiver_ids) == set(new.caregiver_ids) and old.planned_start == new.planned_start


def changes(old: dict[int, Assignment], new: dict[int, Assignment], *,
            only: Iterable[int] | None = None) -> list[Change]:
    """The changes from `old` to `new` (booking id → Assignment), ordered by booking id.

    `only` limits the comparison to these bookings (e.g. those still pending or scheduled).
    """
    ids = set(old) | set(new) if only is None else set(only)
    found = []
    for booking_id in sorted(ids):
        before, after = old.get(booking_id), new.get(booking_id)
        if same(before, after):
            continue
        kind = "scheduled" if before is None else "unscheduled" if after is None else "moved"
        found.append(Change(booking_id, kind, before, after))
    return found


def disturbs(change: Change) -> bool:
    """True for a change an elder feels: new caregivers, left out, or a start moved by more than
    NOTICEABLE_SHIFT. A first scheduling (nothing before) is no disturbance."""
    if change.old is None:
        return False
    if change.new is None:
        return True
    return (set(change.old.caregiver_ids) != set(change.new.caregiver_ids)
            or abs(change.new.planned_start - change.old.planned_start) > NOTICEABLE_SHIFT)
