"""Pydantic bodies at the HTTP edge (XCreate / XRead / query models)."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer,
                      StringConstraints, WithJsonSchema, field_validator)

from core.clock import local_today
from core.crypto import mask_id_card
from core.fields import Day, Id, IsoDate, Lat, Lon, Month
from booking.identity import PHONE_PATTERN, valid_id_card
from booking.lifecycle import STATUS_ZH
from booking.models import (Booking, BookingRequest, CallLog, MenuCategory, MenuItem, NewResident, Resident, Series,
                            SeriesRequest, Wallet, WalletEntry)
from booking.subsidy import MONTHLY_GRANT_FEN
from booking.models import MenuChanges, ResidentChanges


def _clock(value: dt.time) -> dt.time:
    if value.second or value.microsecond or value.tzinfo:
        raise ValueError("use local HH:MM")
    return value


def _pad_hour(value: object) -> object:
    """Accept '9:00' as people type it, meaning 09:00."""
    if isinstance(value, str) and len(value) == 4 and value[1] == ":":
        return "0" + value
    return value


# documented as what travels: "HH:MM" (JSON Schema's format "time" would demand seconds and an offset)
ClockTime = Annotated[dt.time, BeforeValidator(_pad_hour), AfterValidator(_clock),
                      PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str),
                      WithJsonSchema({"type": "string", "pattern": "^([01]?[0-9]|2[0-3]):[0-5][0-9]$",
                                      "examples": ["09:00"]})]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=PHONE_PATTERN)]
Text500 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Gender = Literal["F", "M"]
Channel = Literal["app", "hotline", "walk_in", "family"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

# ------------------------------------------------------------------ menu


class MenuItemRead(BaseModel):
    code: str
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


class MenuCategoryRead(BaseModel):
    code: str
    name_zh: str
    name_en: str
    items: list[MenuItemRead]


class MenuRead(BaseModel):
    categories: list[MenuCategoryRead]

    @classmethod
    def of(cls, categories: list[MenuCategory], items: list[MenuItem]) -> MenuRead:
        return cls(categories=[
            MenuCategoryRead(code=c.code, name_zh=c.name_zh, name_en=c.name_en,
                             items=[MenuItemRead.model_validate(i, from_attributes=True)
                                    for i in items if i.category_code == c.code])
            for c in categories])

# ------------------------------------------------------------------ residents


class ResidentCreate(Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    gender: Gender
    birth_date: IsoDate
    phone: Phone
    address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]
    lat: Lat
    lon: Lon
    circle_id: Id
    subsidy_eligible: bool = False
    eligibility: list[Literal["高龄", "独居", "失能", "低保", "空巢", "其他"]] = []
    lives_alone: bool = False
    caregiver_gender: Gender | None = None
    care_notes: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""
    id_card_no: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True)] | None = None
    duplicate_reason: Text500 | None = Field(default=None, description="why a second record is registered for "
                                             "a phone on file or the same name and birth date (recorded)")

    @field_validator("birth_date")
    @classmethod
    def _plausible_birth(cls, value: dt.date) -> dt.date:
        if not dt.date(1900, 1, 1) <= value <= local_today():
            raise ValueError("must be a past date after 1900-01-01")
        return value

    @field_validator("id_card_no")
    @classmethod
    def _id_card(cls, value: str | None) -> str | None:
        if value and not valid_id_card(value):
            raise ValueError("is not a valid 18-character ID card number")
        return value or None

    def command(self) -> NewResident:
        return NewResident(**{**self.model_dump(exclude={"duplicate_reason"}), "eligibility": tuple(self.eligibility)})


class ResidentRead(BaseModel):
    id: int
    circle_id: int
    name: str
    gender: str
    birth_date: dt.date
    age: int
    phone: str
    address: str
    lat: float
    lon: float
    lives_alone: bool
    subsidy_eligible: bool
    eligibility: list[str]
    caregiver_gender: str | None
    care_notes: str | None
    id_card_no: str | None = Field(description="masked: only the last 4 characters are shown")
    position_source: str = Field(default="unconfirmed", description="unconfirmed | geocoded | confirmed (on a map)")

    @classmethod
    def of(cls, r: Resident, *, today: dt.date, with_notes: bool = True) -> ResidentRead:
        age = today.year - r.birth_date.year - ((today.month, today.day) < (r.birth_date.month, r.birth_date.day))
        return cls(id=r.id, circle_id=r.circle_id, name=r.name, gender=r.gender, birth_date=r.birth_date,
                   age=age, phone=r.phone, address=r.address, lat=r.lat, lon=r.lon,
                   lives_alone=r.lives_alone, subsidy_eligible=r.subsidy_eligible,
                   eligibility=list(r.eligibility), caregiver_gender=r.caregiver_gender,
                   care_notes=r.care_notes if with_notes else None, id_card_no=mask_id_card(r.id_card_last4),
                   position_source=r.position_source)


class ResidentList(BaseModel):
    residents: list[ResidentRead]


class ResidentSearch(Strict):
    phone: Phone | None = None
    q: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] | None = None
    limit: int = Field(default=20, ge=1, le=100)

# ------------------------------------------------------------------ wallet


class WalletQuery(Strict):
    month: Month | None = None


class WalletEntryRead(BaseModel):
    id: int
    kind: str
    amount_fen: int
    booking_id: int | None
    created_at: dt.datetime


class WalletRead(BaseModel):
    month: str
    granted_fen: int
    held_fen: int
    spent_fen: int
    available_fen: int
    opened: bool = Field(description="false while the month is untouched: an eligible elder's grant "
                                     "is shown, and its ledger entry is written on first use")
    entries: list[WalletEntryRead]

    @classmethod
    def of(cls, month: dt.date, wallet: Wallet | None, entries: list[WalletEntry], *,
           eligible: bool) -> WalletRead:
        if wallet is None:
            wallet = Wallet(0, month, MONTHLY_GRANT_FEN if eligible else 0, 0, 0)
        return cls(month=month.strftime("%Y-%m"), granted_fen=wallet.granted_fen, held_fen=wallet.held_fen,
                   spent_fen=wallet.spent_fen, available_fen=wallet.available_fen, opened=bool(entries),
                   entries=[WalletEntryRead.model_validate(e, from_attributes=True) for e in entries])

# ------------------------------------------------------------------ bookings


class BookingCreate(Strict):
    resident_id: Id
    item_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    date: Day
    window_start: ClockTime
    window_end: ClockTime
    notes: Text500 = ""
    channel: Channel = "app"
    confirm_duplicate: bool = Field(default=False, description="book although the elder has a live booking of "
                                    "the same item and day with an overlapping window")

    def command(self) -> BookingRequest:
        return BookingRequest(self.resident_id, self.item_code, self.date, self.window_start, self.window_end,
                              self.notes, self.channel)


class QuoteRead(BaseModel):
    price_fen: int
    subsidy_fen: int
    self_pay_fen: int
    available_fen: int


class CaregiverBrief(BaseModel):
    id: int
    name: str | None


class BookingRead(BaseModel):
    id: int
    resident_id: int
    resident_name: str
    circle_id: int
    item_code: str
    item_name_zh: str
    series_id: int | None
    date: dt.date
    window_start: ClockTime
    window_end: ClockTime
    status: str
    status_zh: str
    price_fen: int
    subsidy_fen: int
    self_pay_fen: int
    channel: str
    notes: str
    caregiver: CaregiverBrief | None
    planned_start: dt.datetime | None
    created_at: dt.datetime
    rating: int | None = Field(default=None, description="the latest evaluation's rating; null until rated")

    @classmethod
    def of(cls, b: Booking) -> BookingRead:
        caregiver = CaregiverBrief(id=b.caregiver_id, name=b.caregiver_name) if b.caregiver_id else None
        return cls(id=b.id, resident_id=b.resident_id, resident_name=b.resident_name, circle_id=b.circle_id,
                   item_code=b.item_code, item_name_zh=b.item_name_zh, series_id=b.series_id,
                   date=b.service_date, window_start=b.window_start, window_end=b.window_end,
                   status=b.status.value, status_zh=STATUS_ZH[b.status], price_fen=b.price_fen,
                   subsidy_fen=b.subsidy_fen, self_pay_fen=b.self_pay_fen, channel=b.channel,
                   notes=b.notes, caregiver=caregiver, planned_start=b.planned_start,
                   created_at=b.created_at, rating=b.rating)


class BookingList(BaseModel):
    bookings: list[BookingRead]


class BookingQuery(Strict):
    resident_id: Id | None = None
    date: Day | None = None
    status: Literal["pending", "scheduled", "in_progress", "completed", "cancelled", "missed",
                    "not_home", "refused"] | None = None
    circle_id: Id | None = None
    evaluated: bool | None = Field(default=None, description="only rated (true) or unrated (false) bookings")
    limit: int = Field(default=200, ge=1, le=1000)


class CancelBody(Strict):
    reason: Text500 = ""


class RescheduleBody(Strict):
    date: Day
    window_start: ClockTime
    window_end: ClockTime
    notes: Text500 | None = Field(default=None, description="new notes; the old ones are kept when omitted")


class EvaluationCreate(Strict):
    rating: int = Field(ge=1, le=5)
    comment: Text500 = ""
    source: Literal["app", "return_call"] = "app"


class EvaluationRead(BaseModel):
    id: int
    booking_id: int
    rating: int
    comment: str
    source: str
    created_at: dt.datetime

# ------------------------------------------------------------------ series


class SeriesCreate(Strict):
    resident_id: Id
    item_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    weekdays: list[Annotated[int, Field(ge=1, le=7)]] = Field(
        default=[1, 2, 3, 4, 5, 6, 7], min_length=1, max_length=7,
        description="ISO weekdays, 1 = Monday; all seven = daily")
    window_start: ClockTime
    window_end: ClockTime
    start_date: Day
    end_date: Day
    notes: Text500 = ""
    channel: Channel = "app"
    regular_caregiver_id: Id | None = Field(None, description="the caregiver the planner prefers for the "
                                                              "series' visits (the elder's regular caregiver)")

    def command(self) -> SeriesRequest:
        return SeriesRequest(self.resident_id, self.item_code, tuple(self.weekdays), self.window_start,
                             self.window_end, self.start_date, self.end_date, self.notes, self.channel,
                             self.regular_caregiver_id)


class SeriesRead(BaseModel):
    id: int
    resident_id: int
    item_code: str
    weekdays: list[int]
    window_start: ClockTime
    window_end: ClockTime
    start_date: dt.date
    end_date: dt.date
    channel: str
    notes: str
    status: str
    bookings_created: int = 0
    regular_caregiver_id: int | None = None

    @classmethod
    def of(cls, s: Series, *, created: int = 0) -> SeriesRead:
        return cls(id=s.id, resident_id=s.resident_id, item_code=s.item_code, weekdays=list(s.weekdays),
                   window_start=s.window_start, window_end=s.window_end, start_date=s.start_date,
                   end_date=s.end_date, channel=s.channel, notes=s.notes, status=s.status,
                   bookings_created=created, regular_caregiver_id=s.regular_caregiver_id)

# ------------------------------------------------------------------ hotline calls


class CallCreate(Strict):
    resident_id: Id
    kind: Literal["inbound", "care_call", "return_call"]
    outcome: Literal["ok", "no_answer", "needs_help", "other"] = "ok"
    booking_id: Id | None = None
    notes: Text500 = ""


class CallRead(BaseModel):
    id: int
    resident_id: int
    kind: str
    outcome: str
    booking_id: int | None
    notes: str
    created_at: dt.datetime

    @classmethod
    def of(cls, c: CallLog) -> CallRead:
        return cls.model_validate(c, from_attributes=True)


class CallQuery(Strict):
    resident_id: Id
    limit: int = Field(default=20, ge=1, le=200)


class CallList(BaseModel):
    calls: list[CallRead]


class CareCallQuery(Strict):
    date: Day | None = None
    circle_id: Id | None = None


class CareCallEntry(BaseModel):
    resident: ResidentRead
    calls: list[CallRead]


class CareCallList(BaseModel):
    date: dt.date
    entries: list[CareCallEntry]

# ------------------------------------------------------------------ issue 15: editing



class MenuItemPatch(Strict):
    price_fen: int | None = Field(default=None, ge=0, le=10_000_000)
    minutes: int | None = Field(default=None, ge=0, le=600)
    subsidy_max_fen: int | None = Field(default=None, ge=0, le=10_000_000)
    active: bool | None = None

    def command(self) -> MenuChanges:
        return MenuChanges(**self.model_dump())


class MenuItemAdminRead(MenuItemRead):
    active: bool

    @classmethod
    def of(cls, item: MenuItem, active: bool) -> MenuItemAdminRead:
        return cls.model_validate({**MenuItemRead.model_validate(item, from_attributes=True).model_dump(),
                                   "active": active})


class ResidentPatch(Strict):
    address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)] | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    phone: Phone | None = None
    subsidy_eligible: bool | None = None
    eligibility: list[Literal["高龄", "独居", "失能", "低保", "空巢", "其他"]] | None = None
    lives_alone: bool | None = None
    caregiver_gender: Gender | None = None
    care_notes: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None
    position_confirmed: bool | None = Field(default=None, description="the position was checked on a map")
    reason: Text500 = ""

    def command(self) -> ResidentChanges:
        data = self.model_dump(exclude={"reason"})
        if data["eligibility"] is not None:
            data["eligibility"] = tuple(data["eligibility"])
        return ResidentChanges(**data)
# ------------------------------------------------------------------ safety tasks (issue 13)

SAFETY_KIND_ZH = {"not_home": "上门未遇（独居）", "refused": "拒绝服务（独居）", "unplanned": "未能安排上门"}


class SafetyTaskQuery(Strict):
    open: bool = Field(default=True, description="only the open tasks (default) or all, open first")
    circle_id: Id | None = None


class SafetyTaskClose(Strict):
    outcome: Literal["elder_safe", "family_reached", "visited", "escalated", "rebooked", "other"]
    notes: Text500 = ""


class SafetyTaskRead(BaseModel):
    id: int
    resident_id: int
    resident_name: str
    resident_phone: str
    address: str
    lives_alone: bool
    family_names: list[str]
    booking_id: int | None
    kind: str
    kind_zh: str
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    outcome: str | None
    notes: str

    @classmethod
    def of(cls, task) -> "SafetyTaskRead":
        return cls(id=task.id, resident_id=task.resident_id, resident_name=task.resident_name,
                   resident_phone=task.resident_phone, address=task.address, lives_alone=task.lives_alone,
                   family_names=list(task.family_names), booking_id=task.booking_id, kind=task.kind,
                   kind_zh=SAFETY_KIND_ZH.get(task.kind, task.kind), opened_at=task.opened_at,
                   closed_at=task.closed_at, outcome=task.outcome, notes=task.notes)


class SafetyTaskList(BaseModel):
    tasks: list[SafetyTaskRead]
