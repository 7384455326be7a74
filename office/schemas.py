"""Pydantic bodies of the street office's endpoints."""
from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from core.audit import Change
from booking.models import SensitiveRead
from booking.schemas import Id, Month
from office.models import Figures, MonthlyReport
from providers.schemas import SettlementRead


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MonthlyQuery(Strict):
    month: Month
    circle_id: Id | None = None


class FiguresRead(BaseModel):
    subsidy_used_fen: int
    self_pay_fen: int
    visits_done: int
    visits_missed: int = Field(description="nobody came (missed)")
    not_home: int
    refused: int
    cancelled: int
    withheld_fen: int
    withheld_by_reason: dict[str, int]
    on_time_pct: float | None = Field(description="checked in at most 30 minutes after the planned start, %")
    satisfaction_avg: float | None
    ratings: int
    continuity_pct: float | None = Field(description="returning elders' visits by a caregiver they had before, %")

    @classmethod
    def of(cls, f: Figures) -> dict:
        return cls.model_validate(f, from_attributes=True).model_dump()


class ProviderFigures(FiguresRead):
    provider_id: int
    name: str


class CategoryFigures(FiguresRead):
    category_code: str
    name_zh: str


class MonthlyRead(FiguresRead):
    month: str
    circle_id: int | None
    by_provider: list[ProviderFigures]
    by_category: list[CategoryFigures]

    @classmethod
    def of(cls, r: MonthlyReport) -> MonthlyRead:
        return cls(month=r.month.strftime("%Y-%m"), circle_id=r.circle_id, **FiguresRead.of(r.total),
                   by_provider=[ProviderFigures(provider_id=pid, name=name, **FiguresRead.of(f))
                                for pid, name, f in r.by_provider],
                   by_category=[CategoryFigures(category_code=code, name_zh=name, **FiguresRead.of(f))
                                for code, name, f in r.by_category])


class SettlementAllQuery(Strict):
    month: Month
    circle_id: Id | None = None


class SettlementAllRead(BaseModel):
    month: str
    payable_fen: int
    withheld_fen: int
    providers: list[SettlementRead]


class AuditQuery(Strict):
    record: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z_]+(:[A-Za-z0-9_]+)?$",
                                             max_length=80)] | None = Field(
        default=None, description='a record ("residents:12", "menu_items:B01") or a whole table ("residents")')
    actor_id: Id | None = None
    since: dt.datetime | None = None
    limit: int = Field(default=200, ge=1, le=1000)


class ChangeRead(BaseModel):
    id: int
    actor_id: int | None
    actor_name: str | None
    record: str
    action: str
    before: dict
    after: dict
    reason: str
    created_at: dt.datetime

    @classmethod
    def of(cls, c: Change) -> ChangeRead:
        return cls.model_validate(c, from_attributes=True)


class SensitiveReadRead(BaseModel):
    id: int
    user_id: int | None
    username: str | None
    resident_id: int
    field: str
    created_at: dt.datetime

    @classmethod
    def of(cls, r: SensitiveRead) -> SensitiveReadRead:
        return cls.model_validate(r, from_attributes=True)


class AuditRead(BaseModel):
    changes: list[ChangeRead]
    sensitive_reads: list[SensitiveReadRead]


class PasswordResetBody(Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""


class PasswordResetRead(BaseModel):
    user_id: int
    one_time_code: str = Field(description="read it to the user; it buys one new password within 24 hours")
    expires_in_hours: int


class RedeemBody(Strict):
    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=64)]
    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=6, max_length=20)]
    new_password: Annotated[str, StringConstraints(min_length=10, max_length=200)]


class FamilyLinkBody(Strict):
    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=64)]
    relation: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] = ""
    password: Annotated[str, StringConstraints(min_length=10, max_length=200)] | None = Field(
        default=None, description="give it to create the family account at the same time")
    display_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] = ""


class FamilyMemberRead(BaseModel):
    user_id: int
    username: str
    display_name: str
    relation: str


class FamilyList(BaseModel):
    resident_id: int
    family: list[FamilyMemberRead]


class UserQuery(Strict):
    q: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = None
    limit: int = Field(default=50, ge=1, le=200)


class AccountRead(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    role_zh: str
    active: bool


class AccountList(BaseModel):
    users: list[AccountRead]


class GeocodeQuery(Strict):
    address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]


class GeocodeRead(BaseModel):
    found: bool
    configured: bool = Field(default=True, description="false: no geocoder is set up (CIRCLE_GEOCODER)")
    lat: float | None = Field(default=None, description="WGS84")
    lon: float | None = Field(default=None, description="WGS84")
    level: str = Field(default="", description="the provider's precision word (门牌号, 兴趣点, 道路 …)")
    precise: bool = Field(default=False, description="door-number or point-of-interest precision")
    formatted: str = ""
    source: str = ""


class UnconfirmedQuery(Strict):
    circle_id: Id | None = None


class UnconfirmedResident(BaseModel):
    id: int
    name: str
    address: str
    lat: float
    lon: float
    position_source: str


class UnconfirmedList(BaseModel):
    residents: list[UnconfirmedResident]
