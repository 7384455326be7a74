"""Pydantic bodies at the HTTP edge for circles, providers, caregivers, visits and settlement."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, StringConstraints, ValidationInfo, field_validator

from booking.identity import PHONE_PATTERN
from booking.schemas import ClockTime, Gender, Phone, Strict, Text500
from core.fields import AnyLat, AnyLon, Day, Id, Lat, Lon, Month
from providers.models import (Alert, Caregiver, Circle, DayChange, DayRule, NewCaregiver, Provider, Settlement, SettlementLine,
                              SheetEntry, Shift, Visit)
from providers.settlement import REASONS_ZH

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
Qualification = Literal["G", "C", "B", "N", "R", "P", "H", "A"]
ItemCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Weekday = Annotated[int, Field(ge=1, le=7)]


def _each_once(days: list[int]) -> list[int]:
    if len(set(days)) != len(days):
        raise ValueError("each weekday at most once")
    return days


WorkDays = Annotated[list[Weekday], AfterValidator(_each_once)]
PhoneOrEmpty = Annotated[str, StringConstraints(strip_whitespace=True, pattern=f"^$|{PHONE_PATTERN}")]

# ------------------------------------------------------------------ circles


class CircleCreate(Strict):
    name: Name
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    lat: Lat
    lon: Lon
    radius_m: int = Field(ge=100, le=10_000, description="reach in metres (15 minutes: ~1,200 on foot, ~3,000 by e-bike)")
    hotline_phone: PhoneOrEmpty = Field("", description="the number elders call for same-day service")


class CircleRead(BaseModel):
    id: int
    name: str
    address: str
    lat: float
    lon: float
    radius_m: int
    hotline_phone: str

    @classmethod
    def of(cls, c: Circle) -> CircleRead:
        return cls.model_validate(c, from_attributes=True)


class CircleList(BaseModel):
    circles: list[CircleRead]

# ------------------------------------------------------------------ providers


class ProviderCreate(Strict):
    name: Name
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] = ""
    circle_ids: list[Id] = Field(min_length=1, max_length=100, description="circles the provider serves")
    item_codes: list[ItemCode] = Field(min_length=1, max_length=200, description="menu items it delivers")


class ProviderRead(BaseModel):
    id: int
    name: str
    phone: str
    circle_ids: list[int]
    item_codes: list[str]
    caregiver_count: int

    @classmethod
    def of(cls, p: Provider) -> ProviderRead:
        return cls(id=p.id, name=p.name, phone=p.phone, circle_ids=list(p.circle_ids),
                   item_codes=list(p.item_codes), caregiver_count=p.caregiver_count)


class ProviderList(BaseModel):
    providers: list[ProviderRead]

# ------------------------------------------------------------------ caregivers


class CaregiverFields(Strict):
    """Fields shared by create and update (all optional here; create makes some required)."""

    name: Name | None = None
    gender: Gender | None = None
    phone: Phone | None = None
    circle_id: Id | None = None
    qualifications: list[Qualification] | None = Field(default=None, min_length=1, max_length=8)
    home_lat: Lat | None = None
    home_lon: Lon | None = None
    transport: Literal["walk", "ebike"] | None = None
    work_days: WorkDays | None = Field(default=None, min_length=1, max_length=7,
                                            description="ISO weekdays worked, 1 = Monday")
    shift_start: ClockTime | None = None
    shift_end: ClockTime | None = None
    break_minutes: int | None = Field(default=None, ge=0, le=120)
    break_earliest: ClockTime | None = None
    break_latest_end: ClockTime | None = None
    max_work_minutes: int | None = Field(default=None, ge=30, le=720)


class CaregiverCreate(CaregiverFields):
    name: Name
    gender: Gender
    phone: Phone
    provider_id: Id | None = Field(default=None, description="required for street admins; a provider "
                                   "admin's own provider by default")
    circle_id: Id
    qualifications: list[Qualification] = Field(min_length=1, max_length=8)
    home_lat: Lat
    home_lon: Lon
    transport: Literal["walk", "ebike"]
    work_days: WorkDays = Field(default=[1, 2, 3, 4, 5, 6, 7], min_length=1, max_length=7)
    shift_start: ClockTime
    shift_end: ClockTime
    break_minutes: int = Field(default=45, ge=0, le=120)
    break_earliest: ClockTime = dt.time(11, 30)
    break_latest_end: ClockTime = dt.time(13, 30)
    max_work_minutes: int = Field(default=480, ge=30, le=720)
    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=64)] | None = Field(
        default=None, description="optional: also create the caregiver's login")
    password: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None, description="at least 10 characters, not a common password")

    def command(self) -> NewCaregiver:
        fields = {name: getattr(self, name) for name in type(self).model_fields if name not in ("username", "password")}
        return NewCaregiver(**{**fields, "qualifications": tuple(self.qualifications),
                               "work_days": tuple(self.work_days)})


class CaregiverUpdate(CaregiverFields):
    active: bool | None = None

    def changes(self) -> dict:
        """The fields sent, as Python values (model_dump would write clock times as text)."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class CaregiverRead(BaseModel):
    id: int
    provider_id: int
    circle_id: int
    name: str
    gender: str
    phone: str
    qualifications: list[str]
    home_lat: float
    home_lon: float
    transport: str
    work_days: list[int]
    shift_start: ClockTime
    shift_end: ClockTime
    break_minutes: int
    break_earliest: ClockTime
    break_latest_end: ClockTime
    max_work_minutes: int
    active: bool
    item_codes: list[str]

    @classmethod
    def of(cls, c: Caregiver) -> CaregiverRead:
        data = {name: getattr(c, name) for name in cls.model_fields}
        data.update(qualifications=list(c.qualifications), work_days=list(c.work_days),
                    item_codes=sorted(c.item_codes))
        return cls(**data)


class CaregiverList(BaseModel):
    caregivers: list[CaregiverRead]


class CaregiverQuery(Strict):
    provider_id: Id | None = None
    circle_id: Id | None = None
    include_inactive: bool = False

# ------------------------------------------------------------------ availability


class AvailabilityDay(Strict):
    date: Day
    kind: Literal["leave", "override", "normal"] = Field(
        description="leave: off that day; override: that day's shift instead; normal: remove the rule")
    shift_start: ClockTime | None = None
    shift_end: ClockTime | None = None
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""

    def command(self) -> DayChange:
        return DayChange(self.date, self.kind, self.shift_start, self.shift_end, self.note)


class AvailabilityPut(Strict):
    days: list[AvailabilityDay] = Field(min_length=1, max_length=92)


class DayRuleRead(BaseModel):
    date: dt.date
    kind: str
    shift_start: ClockTime | None
    shift_end: ClockTime | None
    note: str

    @classmethod
    def of(cls, r: DayRule) -> DayRuleRead:
        return cls(date=r.day, kind=r.kind.value, shift_start=r.shift_start, shift_end=r.shift_end, note=r.note)


class AvailabilityRead(BaseModel):
    caregiver_id: int
    days: list[DayRuleRead] = Field(description="the day rules from today on")
    visits_to_replan: list[int] = Field(description="bookings published for this caregiver on the changed "
                                        "dates that now fall outside their shift: re-plan them")


class ShiftRead(BaseModel):
    start: dt.datetime
    end: dt.datetime
    break_minutes: int
    break_earliest: dt.datetime | None
    break_latest_end: dt.datetime | None
    max_work_minutes: int

    @classmethod
    def of(cls, s: Shift | None) -> ShiftRead | None:
        return None if s is None else cls(start=s.start, end=s.end, break_minutes=s.break_minutes,
                                          break_earliest=s.break_earliest, break_latest_end=s.break_latest_end,
                                          max_work_minutes=s.max_work_minutes)


class WorkingDayRead(BaseModel):
    date: dt.date
    kind: Literal["normal", "off", "leave", "override"]
    shift: ShiftRead | None


class WorkingDays(BaseModel):
    caregiver_id: int
    days: list[WorkingDayRead]


class WorkingDaysQuery(Strict):
    start: Day | None = Field(default=None, description="first day (default today)")
    days: int = Field(default=14, ge=1, le=62)

# ------------------------------------------------------------------ day sheet and calendar


class DayQuery(Strict):
    date: Day | None = Field(default=None, description="the local day (default today)")


class SheetResidentRead(BaseModel):
    id: int
    name: str
    address: str
    lat: float
    lon: float
    phone: str
    care_notes: str | None = Field(description="only on the day sheets of today and tomorrow")


class AssignmentRead(BaseModel):
    visit_id: int
    booking_id: int
    position: int
    crew_member: int
    planned_start: dt.datetime
    planned_end: dt.datetime
    travel_minutes: int
    resident: SheetResidentRead
    item_code: str
    item_name_zh: str
    minutes: int
    crew: int
    bring: list[str]
    partner_name: str | None
    booking_status: str
    outcome: str | None
    check_in_at: dt.datetime | None
    check_in_distance_m: int | None
    check_out_at: dt.datetime | None
    flags: list[str]

    @classmethod
    def of(cls, e: SheetEntry) -> AssignmentRead:
        v, r = e.visit, e.resident
        return cls(visit_id=v.id, booking_id=v.booking_id, position=v.position, crew_member=v.crew_member,
                   planned_start=v.planned_start, planned_end=v.planned_end, travel_minutes=v.travel_minutes,
                   resident=SheetResidentRead(id=r.id, name=r.name, address=r.address, lat=r.lat, lon=r.lon,
                                              phone=r.phone, care_notes=r.care_notes),
                   item_code=e.item_code, item_name_zh=e.item_name_zh, minutes=e.item_minutes, crew=e.crew,
                   bring=list(e.bring), partner_name=e.partner_name, booking_status=e.booking_status,
                   outcome=v.outcome, check_in_at=v.check_in_at, check_in_distance_m=v.check_in_distance_m,
                   check_out_at=v.check_out_at, flags=list(v.flags))


class DaySheetRead(BaseModel):
    caregiver_id: int
    caregiver_name: str
    circle_id: int = Field(description="the caregiver's circle: GET /circles/{id} has the number to call")
    date: dt.date
    shift: ShiftRead | None
    care_notes_shown: bool
    visits: list[AssignmentRead]


class CalendarQuery(BaseModel):
    token: Annotated[str, StringConstraints(min_length=16, max_length=200)]


class CalendarTokenRead(BaseModel):
    caregiver_id: int
    token: str
    url: str = Field(description="the feed's path; the previous token stops working")

# ------------------------------------------------------------------ visits


class CheckInBody(Strict):
    """The phone's position; when it has none (indoors, permission denied), send no lat/lon and
    say why in `position_error`: the check-in is accepted and flagged `no_position`."""

    lat: AnyLat | None = None
    lon: AnyLon | None = Field(default=None, validate_default=True)
    accuracy_m: Annotated[float, Field(ge=0, le=100_000)] | None = None
    position_error: Literal["denied", "unavailable", "timeout"] | None = None

    @field_validator("lon")
    @classmethod
    def _with_lat(cls, lon: float | None, info: ValidationInfo) -> float | None:
        if (lon is None) != (info.data.get("lat") is None):
            raise ValueError("lat and lon come together (or neither, with position_error)")
        return lon


class CheckOutBody(CheckInBody):
    outcome: Literal["done", "not_home", "refused"]
    notes: Text500 = ""


class VisitPatch(Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    check_in_at: AwareDatetime | None = None
    check_out_at: AwareDatetime | None = None
    outcome: Literal["done", "not_home", "refused"] | None = None


class VisitRead(BaseModel):
    id: int
    booking_id: int
    caregiver_id: int
    crew_member: int
    planned_start: dt.datetime
    planned_end: dt.datetime
    travel_minutes: int
    check_in_at: dt.datetime | None
    check_in_distance_m: int | None
    check_out_at: dt.datetime | None
    check_out_distance_m: int | None
    outcome: str | None
    notes: str
    flags: list[str]
    booking_status: str
    review_status: Literal["pending", "approved", "rejected"] | None = Field(
        default=None, description="a provider's correction that made the visit done waits for review (pending)")

    @classmethod
    def of(cls, v: Visit, booking_status: str) -> VisitRead:
        data = {name: getattr(v, name) for name in cls.model_fields if hasattr(v, name)}
        return cls(**data | {"flags": list(v.flags), "booking_status": booking_status})


class VisitReview(Strict):
    approve: bool
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = Field(
        default="", description="required when rejecting")


class AlertQuery(Strict):
    circle_id: Id | None = None
    date: Day | None = None


class AlertRead(BaseModel):
    visit_id: int
    booking_id: int
    circle_id: int
    caregiver_id: int
    caregiver_name: str
    provider_id: int
    resident_name: str
    item_code: str
    planned_start: dt.datetime
    planned_end: dt.datetime
    check_in_at: dt.datetime | None
    check_in_distance_m: int | None
    flags: list[str]
    booking_status: str

    @classmethod
    def of(cls, a: Alert) -> AlertRead:
        v = a.visit
        return cls(visit_id=v.id, booking_id=v.booking_id, circle_id=a.circle_id, caregiver_id=v.caregiver_id,
                   caregiver_name=a.caregiver_name, provider_id=a.provider_id, resident_name=a.resident_name,
                   item_code=a.item_code, planned_start=v.planned_start, planned_end=v.planned_end,
                   check_in_at=v.check_in_at, check_in_distance_m=v.check_in_distance_m, flags=list(v.flags),
                   booking_status=a.booking_status)


class AlertList(BaseModel):
    date: dt.date
    alerts: list[AlertRead]

# ------------------------------------------------------------------ settlement and evaluations


class SettlementQuery(Strict):
    provider_id: Id | None = Field(default=None, description="required for street admins")
    month: Month


class SettlementLineRead(BaseModel):
    booking_id: int
    service_date: dt.date
    item_code: str
    item_name_zh: str
    resident_name: str
    caregiver_ids: list[int]
    price_fen: int
    subsidy_fen: int
    self_pay_fen: int
    payable: bool
    reasons: list[str]
    reasons_zh: list[str]

    @classmethod
    def of(cls, line: SettlementLine) -> SettlementLineRead:
        return cls(booking_id=line.booking_id, service_date=line.service_date, item_code=line.item_code,
                   item_name_zh=line.item_name_zh, resident_name=line.resident_name,
                   caregiver_ids=list(line.caregiver_ids), price_fen=line.price_fen, subsidy_fen=line.subsidy_fen,
                   self_pay_fen=line.self_pay_fen, payable=line.payable, reasons=list(line.reasons),
                   reasons_zh=[REASONS_ZH[r] for r in line.reasons])


class SettlementRead(BaseModel):
    provider_id: int
    provider_name: str
    month: str
    visits: int = Field(description="settlement lines (a two-person booking is one line)")
    payable_fen: int
    payable_subsidy_fen: int = Field(description="billed to the street")
    payable_self_pay_fen: int = Field(description="collected from the elders")
    withheld_fen: int
    withheld_by_reason: dict[str, int]
    lines: list[SettlementLineRead]
    withheld: list[SettlementLineRead]

    @classmethod
    def of(cls, provider: Provider, s: Settlement) -> SettlementRead:
        lines = [SettlementLineRead.of(line) for line in s.lines]
        return cls(provider_id=provider.id, provider_name=provider.name, month=s.month.strftime("%Y-%m"),
                   visits=s.visits, payable_fen=s.payable_fen, payable_subsidy_fen=s.payable_subsidy_fen,
                   payable_self_pay_fen=s.payable_self_pay_fen, withheld_fen=s.withheld_fen,
                   withheld_by_reason=s.withheld_by_reason, lines=lines,
                   withheld=[line for line in lines if not line.payable])


class EvaluationClearRead(BaseModel):
    id: int
    booking_id: int
    rating: int
    comment: str
    source: str
    cleared_by: int | None
    cleared_at: dt.datetime | None

# ------------------------------------------------------------------ issue 15: editing


class CirclePatch(Strict):
    name: Name | None = None
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    lat: Lat | None = None
    lon: Lon | None = None
    radius_m: int | None = Field(default=None, ge=100, le=10_000)
    hotline_phone: PhoneOrEmpty | None = None


class ProviderPatch(Strict):
    name: Name | None = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None
    circle_ids: list[Id] | None = Field(default=None, min_length=1, max_length=100)
    item_codes: list[ItemCode] | None = Field(default=None, min_length=1, max_length=200)


class CaregiverLoginCreate(Strict):
    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=10, max_length=200)]


class CaregiverLoginRead(BaseModel):
    caregiver_id: int
    user_id: int
    username: str
