"""The same caregiver, and calm re-plans: who an elder's regular caregiver is, how often a plan
keeps them, and how much a new version changes for the people in it. Pure.

- The regular caregiver of an elder for an item is the lead caregiver of their most recent
  visit of that item on an EARLIER day: done (completed, started, not home, refused),
  published (an active visit), or planned in the newest draft or published plan of that day.
  On one day a visit that happened wins over a plan. So days planned one after another keep
  the same person, without waiting for the first visit to be done.
- A repeating booking may name its regular caregiver; that one wins (problem_builder).
- A repeat visit is a visit of an elder who had this item before; continuity is the share of
  the plan's repeat visits served (alone or in a crew) by the regular caregiver.
- A booking is *changed* by a new version when its caregivers differ (`moved`), its start
  moved more than RETIME_MINUTES (`retimed`), or it was scheduled and is not now
  (`unassigned`). First scheduled bookings are counted apart (`scheduled`), and smaller
  shifts of the start as `adjusted` (caregivers' day sheets change, elders' times hardly).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from dispatch.models import Assignment

RETIME_MINUTES = 15   # a start moved more than this is a change the elder notices
HISTORY_DAYS = 60     # how far back the regular caregiver is looked for


@dataclass(frozen=True)
class PastVisit:
    """The lead caregiver of one booking of an elder on a day before the one being planned.

    `done`: the visit happened (or started); otherwise it is published or planned.
    """

    resident_id: int
    item_code: str
    service_date: date
    caregiver_id: int
    done: bool = False


def regular_caregivers(past: Iterable[PastVisit], *, before: date) -> dict[tuple[int, str], int]:
    """(resident id, item code) → the caregiver of the most recent visit before `before`."""
    best: dict[tuple[int, str], tuple[date, bool, int]] = {}
    for visit in past:
        if visit.service_date >= before:
            continue
        key = (visit.resident_id, visit.item_code)
        rank = (visit.service_date, visit.done, visit.caregiver_id)
        if key not in best or rank[:2] > best[key][:2]:
            best[key] = rank
    return {key: rank[2] for key, rank in best.items()}


def elders_caregivers(past: Iterable[PastVisit], *, before: date) -> dict[int, int]:
    """Resident id → the caregiver of their most recent visit of any item before `before`
    (the familiar face for an item the elder never had)."""
    best: dict[int, tuple[date, bool, int]] = {}
    for visit in past:
        if visit.service_date >= before:
            continue
        rank = (visit.service_date, visit.done, visit.caregiver_id)
        if visit.resident_id not in best or rank[:2] > best[visit.resident_id][:2]:
            best[visit.resident_id] = rank
    return {resident: rank[2] for resident, rank in best.items()}


def history_since(day: date) -> date:
    """The first day whose visits count for the regular caregiver of `day`."""
    return day - timedelta(days=HISTORY_DAYS)


@dataclass(frozen=True)
class Continuity:
    """`repeat_visits` assigned visits of elders who had the item before, `with_regular` of
    them served by the regular caregiver; `pct` their share (None without repeat visits)."""

    repeat_visits: int
    with_regular: int

    @property
    def pct(self) -> float | None:
        return round(100 * self.with_regular / self.repeat_visits, 1) if self.repeat_visits else None


def continuity(assigned: Mapping[int, Iterable[int]], regular: Mapping[int, int]) -> Continuity:
    """Continuity of a plan: `assigned` booking id → its caregivers, `regular` booking id →
    the regular caregiver (repeat visits only)."""
    repeat = [b for b in assigned if b in regular]
    kept = sum(regular[b] in set(assigned[b]) for b in repeat)
    return Continuity(repeat_visits=len(repeat), with_regular=kept)


def retimed(old: Assignment, new: Assignment) -> bool:
    """The start moved more than RETIME_MINUTES."""
    return abs((new.planned_start - old.planned_start).total_seconds()) > RETIME_MINUTES * 60


DISTURBING = ("moved", "retimed", "unassigned")


def change_kind(before: Assignment | None, after: Assignment | None) -> str | None:
    """How a version changes one booking (see the module docstring), or None for no change."""
    if before is None:
        return "scheduled" if after is not None else None
    if after is None:
        return "unassigned"
    if set(before.caregiver_ids) != set(after.caregiver_ids):
        return "moved"
    if retimed(before, after):
        return "retimed"
    return "adjusted" if before.planned_start != after.planned_start else None


def disturbs(before: Assignment | None, after: Assignment | None) -> bool:
    """A change the elder feels: other caregivers, left out, or moved more than RETIME_MINUTES."""
    return change_kind(before, after) in DISTURBING


def change_counts(old: Mapping[int, Assignment], new: Mapping[int, Assignment], *,
                  only: Iterable[int] | None = None) -> dict[str, int]:
    """How many bookings a version changes against `old` (see the module docstring):
    `moved`, `retimed`, `unassigned`, `changed` (their sum), `scheduled`, `adjusted`."""
    counts = dict.fromkeys(("moved", "retimed", "unassigned", "scheduled", "adjusted"), 0)
    ids = set(old) | set(new) if only is None else set(only)
    for booking_id in ids:
        kind = change_kind(old.get(booking_id), new.get(booking_id))
        if kind is not None:
            counts[kind] += 1
    counts["changed"] = sum(counts[k] for k in DISTURBING)
    return counts
