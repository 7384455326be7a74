"""Booking domain objects: plain frozen dataclasses, knowing nothing of the database."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum


class BookingStatus(StrEnum):
    PENDING = "pending"
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    MISSED = "missed"
    NOT_HOME = "not_home"
    REFUSED = "refused"


class Channel(StrEnum):
    APP = "app"
    HOTLINE = "hotline"
    WALK_IN = "walk_in"


@dataclass(frozen=True)
class MenuCategory:
    code: str
    name_zh: str
    name_en: str
    position: int


@dataclass(frozen=True)
class MenuItem:
    code: str
    category_code: str
    name_zh: str
    name_en: str
    unit_zh: str
    price_fen: int
    minutes: int
    qualification: str
    crew: int
    subsidy_max_fen: int
    needs_visit: bool
    notes: str
    position: int


@dataclass(frozen=True)
class Resident:
    id: int
    circle_id: int
    name: str
    gender: str
    birth_date: date
    phone: str
    address: str
    lat: float
    lon: float
    lives_alone: bool
    subsidy_eligible: bool
    eligibility: tuple[str, ...]
    caregiver_gender: str | None
    care_notes: str | None
    id_card_last4: str | None
    position_source: str = "unconfirmed"  # unconfirmed | geocoded | confirmed (on a map)


@dataclass(frozen=True)
class Wallet:
    resident_id: int
    month: date
    granted_fen: int
    held_fen: int
    spent_fen: int

    @property
    def available_fen(self) -> int:
        return self.granted_fen - self.held_fen - self.spent_fen


@dataclass(frozen=True)
class WalletEntry:
    id: int
    kind: str
    amount_fen: int
    booking_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class Booking:
    id: int
    resident_id: int
    circle_id: int
    item_code: str
    item_name_zh: str
    series_id: int | None
    service_date: date
    window_start: time
    window_end: time
    channel: str
    booked_by: int | None
    notes: str
    price_fen: int
    subsidy_fen: int
    self_pay_fen: int
    priority: int
    status: BookingStatus
    caregiver_id: int | None
    caregiver_name: str | None
    planned_start: datetime | None
    created_at: datetime
    resident_name: str = ""
    rating: int | None = None  # the latest evaluation's, once rated


def booking_on(series: Series | SeriesRequest, day: date) -> BookingRequest:
    """The booking a repeating booking asks for on one of its days."""
    return BookingRequest(series.resident_id, series.item_code, day, series.window_start, series.window_end,
                          series.notes, series.channel)


@dataclass(frozen=True)
class Series:
    id: int
    resident_id: int
    item_code: str
    weekdays: tuple[int, ...]
    window_start: time
    window_end: time
    start_date: date
    end_date: date
    channel: str
    notes: str
    status: str
    booked_by: int | None
    regular_caregiver_id: int | None = None

    def booking_on(self, day: date) -> BookingRequest:
        return booking_on(self, day)


@dataclass(frozen=True)
class Evaluation:
    id: int
    booking_id: int
    rating: int
    comment: str
    source: str
    created_at: datetime


@dataclass(frozen=True)
class CallLog:
    id: int
    resident_id: int
    operator_id: int | None
    kind: str
    outcome: str
    booking_id: int | None
    notes: str
    created_at: datetime

# ------------------------------------------------------------------ commands (what a caller asks for)


@dataclass(frozen=True)
class BookingRequest:
    """A visit someone asks to book (create, quote, reschedule)."""

    resident_id: int
    item_code: str
    service_date: date
    window_start: time
    window_end: time
    notes: str = ""
    channel: str = "app"


@dataclass(frozen=True)
class SeriesRequest:
    """A repeating booking someone asks for: the same window on the chosen ISO weekdays."""

    resident_id: int
    item_code: str
    weekdays: tuple[int, ...]
    window_start: time
    window_end: time
    start_date: date
    end_date: date
    notes: str = ""
    channel: str = "app"
    regular_caregiver_id: int | None = None  # the caregiver the planner should prefer (dispatch reads it)

    def booking_on(self, day: date) -> BookingRequest:
        return booking_on(self, day)


@dataclass(frozen=True)
class NewResident:
    """An elder to register."""

    circle_id: int
    name: str
    gender: str
    birth_date: date
    phone: str
    address: str
    lat: float
    lon: float
    subsidy_eligible: bool = False
    eligibility: tuple[str, ...] = ()
    lives_alone: bool = False
    caregiver_gender: str | None = None
    care_notes: str = ""
    id_card_no: str | None = None


@dataclass(frozen=True)
class CircleReach:
    """Where a service circle's centre is and how far it reaches (what registering an elder checks)."""

    lat: float
    lon: float
    radius_m: int


# ------------------------------------------------------------------ issue 15: editing, who can serve


@dataclass(frozen=True)
class ServeCheck:
    """Who in an elder's circle could ever serve an item on a day (asked of providers by the app):
    how many of the circle's providers deliver the item, how many of their active caregivers in the
    circle hold its qualification, and those caregivers' working hours that day (local clock)."""

    providers: int
    qualified: int
    shifts: tuple[tuple[time, time], ...]


@dataclass(frozen=True)
class ResidentChanges:
    """What an operator or admin changes on a resident; None leaves a field as it is."""

    address: str | None = None
    lat: float | None = None
    lon: float | None = None
    phone: str | None = None
    subsidy_eligible: bool | None = None
    eligibility: tuple[str, ...] | None = None
    lives_alone: bool | None = None
    caregiver_gender: str | None = None
    care_notes: str | None = None
    position_confirmed: bool | None = None


@dataclass(frozen=True)
class MenuChanges:
    """What an admin changes on a menu item; None leaves a field as it is. Bookings keep their prices."""

    price_fen: int | None = None
    minutes: int | None = None
    subsidy_max_fen: int | None = None
    active: bool | None = None


@dataclass(frozen=True)
class SensitiveRead:
    """Someone read an elder's sensitive field (care notes, ID number)."""

    id: int
    user_id: int | None
    username: str | None
    resident_id: int
    field: str
    created_at: datetime
SAFETY_TASK_KINDS = ("not_home", "refused", "unplanned")
SAFETY_OUTCOMES = ("elder_safe", "family_reached", "visited", "escalated", "rebooked", "other")


@dataclass(frozen=True)
class SafetyTask:
    """A follow-up on the hotline's care-call list (日电话): a not-home or refused visit of an elder
    living alone (call the elder, then the family), or a booking no plan could take (call the elder
    to re-book). Open until closed with an outcome."""

    id: int
    resident_id: int
    resident_name: str
    resident_phone: str
    address: str
    lives_alone: bool
    booking_id: int | None
    kind: str
    opened_at: datetime
    closed_at: datetime | None
    closed_by: int | None
    outcome: str | None
    notes: str
    circle_id: int
    family_names: tuple[str, ...] = ()
