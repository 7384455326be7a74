"""Provider domain objects: plain frozen dataclasses and enums, knowing nothing of the database.

Times: `datetime` values are timezone-aware; `time` values are local clock times (Asia/Shanghai);
positions are WGS84 degrees; distances are metres; money is integer fen.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum

ALL_WEEKDAYS = (1, 2, 3, 4, 5, 6, 7)
QUALIFICATIONS = ("G", "C", "B", "N", "R", "P", "H", "A")


class DayKind(StrEnum):
    """What a day rule does to the weekly pattern ("normal" only exists in requests: it removes a rule)."""

    LEAVE = "leave"
    OVERRIDE = "override"


class Outcome(StrEnum):
    DONE = "done"
    NOT_HOME = "not_home"
    REFUSED = "refused"


class Flag(StrEnum):
    """Marks on a visit for the dispatcher and the settlement; a flag never blocks anything."""

    FAR_CHECK_IN = "far_check_in"
    LATE_START = "late_start"
    NO_SHOW = "no_show"
    SHORTENED = "shortened"
    NO_POSITION = "no_position"  # the phone gave no position (GPS fails indoors): never refused
    CORRECTED = "corrected"      # a provider's correction made it done: evidence, paid only once reviewed


@dataclass(frozen=True)
class Circle:
    id: int
    name: str
    address: str
    lat: float
    lon: float
    radius_m: int
    hotline_phone: str = ""


@dataclass(frozen=True)
class Provider:
    id: int
    name: str
    phone: str
    circle_ids: tuple[int, ...]
    item_codes: tuple[str, ...]
    caregiver_count: int = 0


@dataclass(frozen=True)
class Caregiver:
    """A caregiver with the weekly pattern of their shift.

    `item_codes` are the menu items the caregiver's provider delivers (the planner offers a
    booking only to caregivers whose provider delivers its item). `work_days` are ISO weekdays
    (1 = Monday). Break: `break_minutes` taken inside [`break_earliest`, `break_latest_end`].
    """

    id: int
    provider_id: int
    circle_id: int
    name: str
    gender: str
    phone: str
    qualifications: tuple[str, ...]
    home_lat: float
    home_lon: float
    transport: str
    item_codes: frozenset[str] = frozenset()
    work_days: tuple[int, ...] = ALL_WEEKDAYS
    shift_start: time = time(8, 0)
    shift_end: time = time(17, 0)
    break_minutes: int = 45
    break_earliest: time = time(11, 30)
    break_latest_end: time = time(13, 30)
    max_work_minutes: int = 480
    active: bool = True


@dataclass(frozen=True)
class DayRule:
    """One date's exception to the weekly pattern: leave, or another shift (override)."""

    day: date
    kind: DayKind
    shift_start: time | None = None
    shift_end: time | None = None
    note: str = ""


@dataclass(frozen=True)
class Shift:
    """A caregiver's working interval on one date (all instants aware, Asia/Shanghai).

    The lunch break is `break_minutes` long, taken anywhere inside [`break_earliest`,
    `break_latest_end`] (already clipped to the shift); `break_minutes` is 0 and both bounds
    are None when there is no break. `max_work_minutes` caps travel plus service in the day.
    """

    day: date
    start: datetime
    end: datetime
    break_minutes: int
    break_earliest: datetime | None
    break_latest_end: datetime | None
    max_work_minutes: int

    @property
    def minutes(self) -> int:
        """Length of the shift, break included."""
        return int((self.end - self.start).total_seconds() // 60)

    @property
    def has_break(self) -> bool:
        return self.break_minutes > 0


@dataclass(frozen=True)
class PlannedVisit:
    """One caregiver's part in a published booking, as the planner hands it over.

    `crew_member` is 1, or 2 for the second caregiver of a two-person item; `position` is the
    order in the caregiver's day; `planned_start`/`planned_end` are aware datetimes;
    `travel_minutes` is the travel right before this visit.
    """

    booking_id: int
    caregiver_id: int
    crew_member: int
    position: int
    planned_start: datetime
    planned_end: datetime
    travel_minutes: int = 0

    def __post_init__(self) -> None:
        if self.crew_member not in (1, 2):
            raise ValueError(f"crew_member must be 1 or 2, not {self.crew_member}")
        if self.planned_start.tzinfo is None or self.planned_end.tzinfo is None:
            raise ValueError("planned_start and planned_end must be timezone-aware")
        if self.planned_end <= self.planned_start:
            raise ValueError(f"planned_end {self.planned_end} is not after planned_start {self.planned_start}")
        if self.travel_minutes < 0:
            raise ValueError(f"travel_minutes must not be negative ({self.travel_minutes})")


@dataclass(frozen=True)
class Visit:
    """A visit as recorded: plan, check-in/out evidence and outcome."""

    id: int
    booking_id: int
    caregiver_id: int
    plan_id: int | None
    crew_member: int
    position: int
    planned_start: datetime
    planned_end: datetime
    travel_minutes: int
    check_in_at: datetime | None
    check_in_lat: float | None
    check_in_lon: float | None
    check_in_distance_m: int | None
    check_out_at: datetime | None
    check_out_lat: float | None
    check_out_lon: float | None
    check_out_distance_m: int | None
    outcome: str | None
    flags: tuple[str, ...]
    notes: str
    released_at: datetime | None
    review_status: str | None = None   # a correction that made it done: pending, approved or rejected
    corrected_by: int | None = None


@dataclass(frozen=True)
class VisitContext:
    """A visit with what check-in/out needs to know about its booking and home."""

    visit: Visit
    booking_status: str
    circle_id: int
    resident_id: int
    home_lat: float
    home_lon: float
    item_minutes: int
    provider_id: int


@dataclass(frozen=True)
class SheetResident:
    id: int
    name: str
    address: str
    lat: float
    lon: float
    phone: str
    care_notes: str | None


@dataclass(frozen=True)
class SheetEntry:
    """One line of a caregiver's day sheet (and one event of the calendar feed)."""

    visit: Visit
    resident: SheetResident
    item_code: str
    item_name_zh: str
    category_code: str
    item_minutes: int
    crew: int
    booking_status: str
    partner_name: str | None
    bring: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReviewedEvaluation:
    """An evaluation with its review: a low rating is withheld from settlement until cleared."""

    id: int
    booking_id: int
    rating: int
    comment: str
    source: str
    cleared_by: int | None
    cleared_at: datetime | None


@dataclass(frozen=True)
class Alert:
    """A flagged visit for the dispatcher."""

    visit: Visit
    circle_id: int
    caregiver_name: str
    provider_id: int
    resident_name: str
    item_code: str
    booking_status: str

# ------------------------------------------------------------------ settlement: pure inputs and outputs


@dataclass(frozen=True)
class SettlementVisit:
    """One caregiver's visit of a completed booking, as evidence for the settlement."""

    visit_id: int
    caregiver_id: int
    check_in_at: datetime | None
    check_out_at: datetime | None
    check_in_distance_m: int | None
    review_status: str | None = None


@dataclass(frozen=True)
class SettlementBooking:
    """A completed booking with its price split, its visits and its ratings (rating, cleared)."""

    booking_id: int
    service_date: date
    item_code: str
    item_name_zh: str
    item_minutes: int
    price_fen: int
    subsidy_fen: int
    self_pay_fen: int
    resident_name: str = ""
    visits: tuple[SettlementVisit, ...] = ()
    ratings: tuple[tuple[int, bool], ...] = ()
    missed: bool = False   # nobody came: closed missed by the worker (issue 13), never payable


@dataclass(frozen=True)
class SettlementLine:
    """One settlement line (one booking; a crew-2 booking is one line at the booking's price)."""

    booking_id: int
    service_date: date
    item_code: str
    item_name_zh: str
    resident_name: str
    caregiver_ids: tuple[int, ...]
    price_fen: int
    subsidy_fen: int
    self_pay_fen: int
    reasons: tuple[str, ...]

    @property
    def payable(self) -> bool:
        return not self.reasons


@dataclass(frozen=True)
class Settlement:
    """A provider's month: lines and totals (fen). Payable = verified lines; withheld = the rest."""

    provider_id: int
    month: date
    lines: tuple[SettlementLine, ...]
    payable_fen: int
    payable_subsidy_fen: int
    payable_self_pay_fen: int
    withheld_fen: int
    withheld_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def visits(self) -> int:
        return len(self.lines)


# ------------------------------------------------------------------ commands (what a caller asks for)


@dataclass(frozen=True)
class NewCaregiver:
    """A caregiver to add; `provider_id` None means the provider admin's own."""

    name: str
    gender: str
    phone: str
    circle_id: int
    qualifications: tuple[str, ...]
    home_lat: float
    home_lon: float
    transport: str
    shift_start: time
    shift_end: time
    provider_id: int | None = None
    work_days: tuple[int, ...] = ALL_WEEKDAYS
    break_minutes: int = 45
    break_earliest: time = time(11, 30)
    break_latest_end: time = time(13, 30)
    max_work_minutes: int = 480


@dataclass(frozen=True)
class DayChange:
    """One date's rule in an availability change: leave, an override of the shift, or normal (no rule)."""

    day: date
    kind: str
    shift_start: time | None = None
    shift_end: time | None = None
    note: str = ""


@dataclass(frozen=True)
class LateVisit:
    """A visit nobody checked into CIRCLE_NOSHOW_AFTER_MIN minutes after its planned start: the
    dispatcher's live alert (pushed once, when the chore first sees it). A two-person visit's
    missing caregiver is alerted too when the other one is already there (`partner_there`)."""

    visit_id: int
    booking_id: int
    caregiver_id: int
    caregiver_name: str
    circle_id: int
    resident_id: int
    resident_name: str
    planned_start: datetime
    alerted_at: datetime
    partner_there: bool = False   # a two-person visit whose other caregiver has checked in
