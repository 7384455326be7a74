"""Pydantic bodies at the HTTP edge (XCreate / XRead / query models) for plans.

API.md fixes the field names of `PlanRead` (id, circle_id, date, status, progress, stats{objective,
travel_minutes, assigned, unassigned, solve_seconds}, routes[{caregiver_id, visits[{booking_id,
planned_start, planned_end, travel_minutes, pinned}]}], unassigned[{booking_id, reason}]); the
other fields are additions.
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.clock import LOCAL_TZ
from core.fields import Day, Id
from dispatch.models import (Assignment, Change, EditAction, EditCommand, Plan, PlanEdit, PlanRoute, PlanVisit,
                             UnassignedBooking)

TimeLimit = Annotated[int, Field(ge=1, le=600, description="seconds the solver may search")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

# ------------------------------------------------------------------ requests


class PlanCreate(Strict):
    circle_id: Id
    date: Day
    time_limit_s: TimeLimit = 10
    solution_limit: Annotated[int, Field(ge=1, le=100_000)] | None = Field(
        default=None, description="stop after this many improving solutions (reproducible runs)")
    seed: Annotated[int, Field(ge=0, le=2**31)] = 0


class ReplanCreate(Strict):
    circle_id: Id
    date: Day | None = Field(default=None, description="the day to re-plan; default today")
    freeze_minutes: Annotated[int, Field(ge=0, le=240)] = 30
    sick_caregiver_ids: Annotated[list[Id], Field(max_length=200)] = []
    time_limit_s: TimeLimit = 10
    solution_limit: Annotated[int, Field(ge=1, le=100_000)] | None = None
    seed: Annotated[int, Field(ge=0, le=2**31)] = 0


class ReoptimizeBody(Strict):
    time_limit_s: TimeLimit | None = None
    solution_limit: Annotated[int, Field(ge=1, le=100_000)] | None = None


class CancelBody(Strict):
    keep_best: bool = Field(default=False, description="make the best plan found so far the draft")


def _local_start(value: Any) -> Any:
    """`HH:MM` (a clock time on the plan's day) or an ISO 8601 instant with offset."""
    if not isinstance(value, str):
        return value
    try:
        if len(value) == 5 and value[2] == ":":
            return dt.time.fromisoformat(value)
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("use HH:MM (local) or an ISO 8601 instant with offset") from None


class EditCreate(Strict):
    booking_id: Id
    caregiver_id: Id | None = None
    pin: bool = True
    planned_start: dt.datetime | dt.time | None = Field(
        default=None, description="pin a start: HH:MM on the plan's day, or an instant with offset")
    action: Literal["pin", "move", "unassign", "forbid"] | None = Field(
        default=None, description="default: pin (pin=true) or move (pin=false) with a caregiver, "
                                  "unassign with caregiver_id null")

    @field_validator("planned_start", mode="before")
    @classmethod
    def _clock_or_instant(cls, value: Any) -> Any:
        return _local_start(value)

    @field_validator("planned_start")
    @classmethod
    def _aware(cls, value: dt.datetime | dt.time | None) -> dt.datetime | dt.time | None:
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            raise ValueError("an instant needs its UTC offset, e.g. 2030-03-04T09:30:00+08:00")
        return value

    def command(self) -> EditCommand:
        return EditCommand(booking_id=self.booking_id, caregiver_id=self.caregiver_id, pin=self.pin,
                           planned_start=self.planned_start, action=EditAction(self.action) if self.action else None)


class PlanQuery(Strict):
    circle_id: Id | None = None
    date: Day | None = None

# ------------------------------------------------------------------ responses


def _local(value: dt.datetime | None) -> dt.datetime | None:
    return value.astimezone(LOCAL_TZ) if value else None


class PlanQueued(BaseModel):
    id: int
    status: str
    version: int
    parent_id: int | None
    kind: str


class StatsRead(BaseModel):
    objective: int | None
    travel_minutes: int
    assigned: int
    unassigned: int
    solve_seconds: float
    solver_status: str = ""
    strategy: str = ""
    caregivers_available: int = 0
    caregivers_used: int = 0
    frozen: int = 0
    live: dict[str, Any] = {}
    continuity_pct: float | None = Field(None, description="share (%) of repeat visits (an elder who had the "
                                                           "item before) served by the regular caregiver; "
                                                           "null without repeat visits")
    repeat_visits: int = 0
    with_regular: int = 0


class ChangesRead(BaseModel):
    """How many bookings this version changes against the published plan (a draft: what
    publishing it would change) or against its parent."""

    moved: int = Field(description="another caregiver (or another crew)")
    retimed: int = Field(description="same caregivers, start moved more than 15 minutes")
    unassigned: int = Field(description="was scheduled, now left out (back to pending)")
    changed: int = Field(description="moved + retimed + unassigned: bookings whose elder must be told")
    scheduled: int = Field(description="planned for the first time")
    adjusted: int = Field(description="same caregivers, start moved 15 minutes or less")


class VisitRead(BaseModel):
    booking_id: int
    planned_start: dt.datetime
    planned_end: dt.datetime
    travel_minutes: int
    pinned: bool
    frozen: bool
    crew_member: int
    resident_id: int | None
    resident_name: str
    item_code: str
    item_name_zh: str
    lat: float | None
    lon: float | None

    @classmethod
    def of(cls, v: PlanVisit) -> VisitRead:
        return cls(booking_id=v.booking_id, planned_start=_local(v.planned_start), planned_end=_local(v.planned_end),
                   travel_minutes=v.travel_minutes, pinned=v.pinned, frozen=v.frozen, crew_member=v.crew_member,
                   resident_id=v.resident_id, resident_name=v.resident_name, item_code=v.item_code,
                   item_name_zh=v.item_name_zh, lat=v.lat, lon=v.lon)


class BreakRead(BaseModel):
    start: dt.datetime
    end: dt.datetime


class RouteRead(BaseModel):
    caregiver_id: int
    caregiver_name: str
    depart: dt.datetime | None
    back: dt.datetime | None
    travel_minutes: int
    work_minutes: int
    idle_minutes: int
    breaks: list[BreakRead]
    visits: list[VisitRead]

    @classmethod
    def of(cls, r: PlanRoute) -> RouteRead:
        return cls(caregiver_id=r.caregiver_id, caregiver_name=r.caregiver_name, depart=_local(r.depart),
                   back=_local(r.back), travel_minutes=r.travel_minutes, work_minutes=r.work_minutes,
                   idle_minutes=r.idle_minutes,
                   breaks=[BreakRead(start=_local(b.start), end=_local(b.end)) for b in r.breaks],
                   visits=[VisitRead.of(v) for v in r.visits])


class UnassignedRead(BaseModel):
    booking_id: int
    reason: str
    reason_zh: str
    detail: str
    resident_name: str
    item_code: str
    item_name_zh: str
    resident_id: int | None
    lat: float | None
    lon: float | None

    @classmethod
    def of(cls, u: UnassignedBooking) -> UnassignedRead:
        return cls.model_validate(u, from_attributes=True)


class EditRead(BaseModel):
    id: int
    plan_id: int
    booking_id: int
    action: str
    caregiver_id: int | None
    pinned_start: dt.datetime | None
    created_at: dt.datetime

    @classmethod
    def of(cls, e: PlanEdit) -> EditRead:
        return cls(id=e.id, plan_id=e.plan_id, booking_id=e.booking_id, action=e.action.value,
                   caregiver_id=e.caregiver_id, pinned_start=_local(e.pinned_start), created_at=e.created_at)


class AssignmentRead(BaseModel):
    caregiver_ids: list[int]
    planned_start: dt.datetime

    @classmethod
    def of(cls, a: Assignment | None) -> AssignmentRead | None:
        return cls(caregiver_ids=list(a.caregiver_ids), planned_start=_local(a.planned_start)) if a else None


class AffectedRead(BaseModel):
    booking_id: int
    change: str = Field(description="scheduled | moved | unscheduled")
    old: AssignmentRead | None
    new: AssignmentRead | None

    @classmethod
    def of(cls, c: Change) -> AffectedRead:
        return cls(booking_id=c.booking_id, change=c.kind, old=AssignmentRead.of(c.old), new=AssignmentRead.of(c.new))


class PlanSummary(BaseModel):
    id: int
    circle_id: int
    date: dt.date
    version: int
    parent_id: int | None
    kind: str
    status: str
    progress: float
    time_limit_s: int
    stats: StatsRead
    failure_reason: str | None
    cancelled: bool
    freeze_at: dt.datetime | None
    created_at: dt.datetime
    published_at: dt.datetime | None

    @classmethod
    def fields_of(cls, p: Plan) -> dict[str, Any]:
        return dict(id=p.id, circle_id=p.circle_id, date=p.service_date, version=p.version, parent_id=p.parent_id,
                    kind=p.kind.value, status=p.status.value, progress=p.progress, time_limit_s=p.time_limit_s,
                    stats=StatsRead.model_validate(p.stats, from_attributes=True),
                    failure_reason=p.failure_reason, cancelled=p.cancel_requested is not None,
                    freeze_at=_local(p.freeze_at), created_at=p.created_at, published_at=p.published_at)

    @classmethod
    def of(cls, p: Plan) -> PlanSummary:
        return cls(**cls.fields_of(p))


class PlanRead(PlanSummary):
    routes: list[RouteRead]
    unassigned: list[UnassignedRead]
    edits: list[EditRead]
    affected: list[AffectedRead] = Field(description="what publishing this plan would change (for a draft), "
                                                     "or what it changed against its parent")
    sick_caregiver_ids: list[int]
    changes: ChangesRead | None = Field(None, description="counts of `affected` by kind (null while solving)")
    waiting_booking_ids: list[int] = Field(default_factory=list, description=(
        "a published plan: pending bookings of its circle-day made after it, which it neither places "
        "nor explains (a re-plan or re-optimisation takes them in)"))

    @classmethod
    def of_view(cls, p: Plan, edits: list[PlanEdit], affected: list[Change],
                changes: dict[str, int] | None = None, waiting: list[int] | None = None) -> PlanRead:
        return cls(**cls.fields_of(p), routes=[RouteRead.of(r) for r in p.routes],
                   unassigned=[UnassignedRead.of(u) for u in p.unassigned], edits=[EditRead.of(e) for e in edits],
                   affected=[AffectedRead.of(c) for c in affected],
                   sick_caregiver_ids=list(p.options.get("sick_caregiver_ids", [])),
                   changes=ChangesRead(**changes) if changes is not None else None,
                   waiting_booking_ids=list(waiting or []))


class PlanList(BaseModel):
    plans: list[PlanSummary]


class PublishRead(BaseModel):
    plan: PlanSummary
    superseded_id: int | None
    changed: list[AffectedRead]
    skipped_booking_ids: list[int] = Field(description="bookings in the plan that could not be scheduled "
                                                       "(cancelled or started since it was solved)")
    visits_written: int
    notifications: int
