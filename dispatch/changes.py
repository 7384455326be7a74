"""What publishing a plan changes, booking by booking. Pure.

A booking is affected when its set of caregivers or its start differs between the two sides:
first scheduled (`scheduled`), caregiver or time changed (`moved`), or scheduled before and not
now (`unscheduled`). The same comparison drives the `affected` list of a draft, which visits
publishing rewrites, and whom the notifications go to.
"""
from __future__ import annotations

from typing import Iterable

from dispatch.models import Assignment, Change


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
