"""The dispatcher's edits, replayed: from an edit history to what the next solve must honour. Pure.

Rules, applied in the order the edits were made (oldest first, ancestors' edits before the
plan's own, so a re-optimised version keeps the pins of the version it came from):
- pin, move and unassign of a booking replace each other: the latest one counts;
- forbid adds a caregiver to the booking's forbidden set; it cancels a pin or move to that
  same caregiver;
- a later pin or move to a forbidden caregiver lifts that forbid.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable

from dispatch.models import EditAction, PlanEdit


@dataclass(frozen=True)
class Pin:
    """A hard choice: this caregiver (None: any) and, if given, this start."""

    caregiver_id: int | None
    planned_start: datetime | None


@dataclass(frozen=True)
class EditSet:
    """What the edits amount to, per booking id."""

    pins: dict[int, Pin] = field(default_factory=dict)
    moves: dict[int, int] = field(default_factory=dict)       # booking → preferred caregiver (soft)
    unassigned: frozenset[int] = frozenset()
    forbidden: dict[int, frozenset[int]] = field(default_factory=dict)

    def forbids(self, booking_id: int, caregiver_id: int) -> bool:
        return caregiver_id in self.forbidden.get(booking_id, frozenset())


def effective_edits(edits: Iterable[PlanEdit]) -> EditSet:
    """Replay `edits` (oldest first) into an EditSet, following the module's rules."""
    latest: dict[int, PlanEdit] = {}
    forbidden: dict[int, set[int]] = {}
    for edit in sorted(edits, key=lambda e: e.id):
        if edit.action is EditAction.FORBID:
            _forbid(edit, latest, forbidden)
        else:
            latest[edit.booking_id] = edit
            forbidden.get(edit.booking_id, set()).discard(edit.caregiver_id)
    return EditSet(
        pins={b: Pin(e.caregiver_id, e.pinned_start) for b, e in latest.items() if e.action is EditAction.PIN},
        moves={b: e.caregiver_id for b, e in latest.items() if e.action is EditAction.MOVE and e.caregiver_id},
        unassigned=frozenset(b for b, e in latest.items() if e.action is EditAction.UNASSIGN),
        forbidden={b: frozenset(c) for b, c in forbidden.items() if c})


def _forbid(edit: PlanEdit, latest: dict[int, PlanEdit], forbidden: dict[int, set[int]]) -> None:
    forbidden.setdefault(edit.booking_id, set()).add(edit.caregiver_id)
    chosen = latest.get(edit.booking_id)
    if chosen is not None and chosen.action in (EditAction.PIN, EditAction.MOVE) \
            and chosen.caregiver_id == edit.caregiver_id:
        del latest[edit.booking_id]
