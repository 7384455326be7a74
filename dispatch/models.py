"""Dispatch domain objects: plain frozen dataclasses and enums, knowing nothing of the database.

Times: `datetime` values are timezone-aware; `time` values are local clock times
(Asia/Shanghai); durations carry their unit in the name (`_minutes`, `_s`). Positions are WGS84.
The solver's generic words (Worker, Job, Site) stay in `dispatch/solver/`; here everything is a
caregiver, a booking, a visit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any


class PlanStatus(StrEnum):
    QUEUED = "queued"
    SOLVING = "solving"
    DRAFT = "draft"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        """True once solving is over (the plan will not change by itself any more)."""
        return self not in (PlanStatus.QUEUED, PlanStatus.SOLVING)


class PlanKind(StrEnum):
    PLAN = "plan"              # POST /plans
    REOPTIMIZE = "reoptimize"  # a new version after the dispatcher's edits
    REPLAN = "replan"          # same day: freeze what has started, drop sick caregivers


class EditAction(StrEnum):
    PIN = "pin"            # this caregiver (and, with pinned_start, this time), hard
    MOVE = "move"          # this caregiver preferred (soft), the search may still move it
    UNASSIGN = "unassign"  # leave the booking out of the plan
    FORBID = "forbid"      # never this caregiver for this booking


DEFAULT_FREEZE_MINUTES = 30   # a same-day plan keeps what starts within this many minutes


class CancelMode(StrEnum):
    DISCARD = "discard"      # the plan ends failed
    KEEP_BEST = "keep_best"  # the best plan found so far becomes the draft


# ------------------------------------------------------------------ a plan as stored and shown


@dataclass(frozen=True)
class PlanVisit:
    """One caregiver's visit on a route (a crew-2 booking has one on each of two routes).

    `travel_minutes` is the travel right before it; `pinned` marks a dispatcher's pin, `frozen`
    a visit a same-day re-plan kept as it was (started or about to start).
    """

    booking_id: int
    crew_member: int
    planned_start: datetime
    planned_end: datetime
    travel_minutes: int
    pinned: bool = False
    frozen: bool = False
    resident_id: int | None = None
    resident_name: str = ""
    item_code: str = ""
    item_name_zh: str = ""
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class PlanBreak:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class PlanRoute:
    """A caregiver's day: leaves home at `depart`, back at `back`, visits in order."""

    caregiver_id: int
    caregiver_name: str
    depart: datetime | None
    back: datetime | None
    visits: tuple[PlanVisit, ...]
    breaks: tuple[PlanBreak, ...] = ()
    travel_minutes: int = 0
    work_minutes: int = 0
    idle_minutes: int = 0


@dataclass(frozen=True)
class UnassignedBooking:
    """A booking left out of the plan: `reason` is a code, `reason_zh` what the dispatcher reads."""

    booking_id: int
    reason: str
    reason_zh: str
    detail: str = ""
    resident_name: str = ""
    item_code: str = ""
    item_name_zh: str = ""
    resident_id: int | None = None
    lat: float | None = None  # the home, for the dispatcher's map
    lon: float | None = None

    @classmethod
    def of(cls, booking: BookingToPlan | None, booking_id: int, reason: str, reason_zh: str,
           detail: str = "") -> UnassignedBooking:
        """`booking` left out for `reason`; without the booking, only its id is known."""
        if booking is None:
            return cls(booking_id=booking_id, reason=reason, reason_zh=reason_zh, detail=detail)
        return cls(booking_id=booking_id, reason=reason, reason_zh=reason_zh, detail=detail,
                   resident_name=booking.resident_name, item_code=booking.item_code,
                   item_name_zh=booking.item_name_zh, resident_id=booking.resident_id,
                   lat=booking.lat, lon=booking.lon)


@dataclass(frozen=True)
class PlanStats:
    """Solver statistics; minutes are whole minutes, `solve_seconds` wall-clock seconds."""

    objective: int | None = None
    travel_minutes: int = 0
    assigned: int = 0
    unassigned: int = 0
    solve_seconds: float = 0.0
    solver_status: str = ""
    strategy: str = ""
    caregivers_available: int = 0
    caregivers_used: int = 0
    frozen: int = 0
    live: dict[str, Any] = field(default_factory=dict)  # last progress while solving
    continuity_pct: float | None = None  # share of repeat visits with the regular caregiver
    repeat_visits: int = 0               # assigned visits of elders who had the item before
    with_regular: int = 0                # of them, served by the regular caregiver


@dataclass(frozen=True)
class Plan:
    """One version of a circle-day's plan (see DESIGN.md, Lifecycles)."""

    id: int
    circle_id: int
    service_date: date
    version: int
    parent_id: int | None
    kind: PlanKind
    status: PlanStatus
    progress: float
    time_limit_s: int
    options: dict[str, Any]
    freeze_at: datetime | None
    stats: PlanStats
    routes: tuple[PlanRoute, ...]
    unassigned: tuple[UnassignedBooking, ...]
    failure_reason: str | None
    cancel_requested: str | None
    attempts: int
    heartbeat_at: datetime | None
    created_by: int | None
    created_at: datetime
    published_at: datetime | None

    def assignments(self) -> dict[int, Assignment]:
        """Booking id → who and when, from the routes."""
        return assignments_of(self.routes)


@dataclass(frozen=True)
class PlanEdit:
    id: int
    plan_id: int
    booking_id: int
    action: EditAction
    caregiver_id: int | None
    pinned_start: datetime | None
    created_by: int | None
    created_at: datetime


@dataclass(frozen=True)
class EditCommand:
    """A dispatcher's edit of a draft, as asked for (dispatch.service.add_edit decides the action
    when none is given: a caregiver → pin, or move with `pin=False`; none → unassign, or a
    time-only pin when `planned_start` is given). `planned_start`: a local clock time on the
    plan's day, or an aware instant."""

    booking_id: int
    caregiver_id: int | None = None
    pin: bool = True
    planned_start: datetime | time | None = None
    action: EditAction | None = None


# ------------------------------------------------------------------ who serves a booking


@dataclass(frozen=True)
class Assignment:
    """Who serves a booking and when: caregiver ids by crew member (lead first), start and end."""

    booking_id: int
    caregiver_ids: tuple[int, ...]
    planned_start: datetime
    planned_end: datetime


def assignments_of(routes: tuple[PlanRoute, ...] | list[PlanRoute]) -> dict[int, Assignment]:
    """Booking id → Assignment over a plan's routes (crew members ordered 1, 2)."""
    members: dict[int, list[tuple[int, int, PlanVisit]]] = {}
    for route in routes:
        for visit in route.visits:
            members.setdefault(visit.booking_id, []).append((visit.crew_member, route.caregiver_id, visit))
    found = {}
    for booking_id, crew in members.items():
        crew.sort(key=lambda m: m[0])
        first = crew[0][2]
        found[booking_id] = Assignment(booking_id, tuple(c for _, c, _ in crew), first.planned_start,
                                       first.planned_end)
    return found


@dataclass(frozen=True)
class Change:
    """How publishing a plan changes one booking for the elder, the family and the caregivers.

    kind: `scheduled` (first time), `moved` (caregiver or time changed), `unscheduled`
    (was scheduled, now left out).
    """

    booking_id: int
    kind: str
    old: Assignment | None
    new: Assignment | None


# ------------------------------------------------------------------ a circle-day, as the builder sees it


@dataclass(frozen=True)
class BookingToPlan:
    """A booking of the circle-day that needs a visit, with what planning needs to know."""

    id: int
    resident_id: int
    resident_name: str
    resident_gender: str
    address: str
    lat: float
    lon: float
    caregiver_gender: str | None
    item_code: str
    item_name_zh: str
    minutes: int
    qualification: str
    crew: int
    window_start: time
    window_end: time
    priority: int
    status: str
    series_caregiver_id: int | None = None   # the regular caregiver its repeating booking names


@dataclass(frozen=True)
class ActiveVisit:
    """A visit that binds a caregiver now (released_at is null), with its booking's status."""

    booking_id: int
    caregiver_id: int
    crew_member: int
    position: int
    planned_start: datetime
    planned_end: datetime
    travel_minutes: int
    checked_in: bool
    booking_status: str


@dataclass(frozen=True)
class CircleDay:
    """Everything the problem builder reads about one circle and date.

    `caregivers` are (providers.models.Caregiver, providers.models.Shift) pairs;
    `last_caregiver` maps resident id → the caregiver of their most recent visit of any item,
    `regular` (resident id, item code) → their regular caregiver for that item (both over earlier
    days: done, published or planned; dispatch.continuity).
    """

    circle_id: int
    day: date
    bookings: tuple[BookingToPlan, ...]
    caregivers: tuple[tuple[Any, Any], ...]
    last_caregiver: dict[int, int] = field(default_factory=dict)
    active_visits: tuple[ActiveVisit, ...] = ()
    regular: dict[tuple[int, str], int] = field(default_factory=dict)
