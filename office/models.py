"""Street-office objects: plain frozen dataclasses."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class ReportRow:
    """One booking of the month, as the monthly report reads it."""

    booking_id: int
    resident_id: int
    circle_id: int
    category_code: str
    category_zh: str
    status: str
    subsidy_fen: int
    self_pay_fen: int
    provider_id: int | None        # the lead caregiver's provider, once a visit was planned
    provider_name: str | None
    caregiver_id: int | None
    planned_start: datetime | None
    check_in_at: datetime | None
    rating: int | None
    seen_before: bool              # the elder had a completed visit before this one
    same_caregiver_before: bool    # ... by the same lead caregiver


@dataclass(frozen=True)
class Figures:
    """The month's figures for the whole street, one circle, one provider or one category."""

    subsidy_used_fen: int = 0
    self_pay_fen: int = 0
    visits_done: int = 0
    visits_missed: int = 0
    not_home: int = 0
    refused: int = 0
    cancelled: int = 0
    withheld_fen: int = 0
    withheld_by_reason: dict[str, int] = field(default_factory=dict)
    on_time_pct: float | None = None
    satisfaction_avg: float | None = None
    ratings: int = 0
    continuity_pct: float | None = None


@dataclass(frozen=True)
class MonthlyReport:
    month: date
    circle_id: int | None
    total: Figures
    by_provider: list[tuple[int, str, Figures]]
    by_category: list[tuple[str, str, Figures]]
