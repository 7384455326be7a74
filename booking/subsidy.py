"""The monthly subsidy rule: a booking is paid from the month's subsidy first, the rest is
self-pay. Pure functions over integers (fen)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

MONTHLY_GRANT_FEN = 20_000  # 200 yuan per eligible resident per calendar month


@dataclass(frozen=True)
class PriceSplit:
    price_fen: int
    subsidy_fen: int
    self_pay_fen: int


def service_month(day: date) -> date:
    """The wallet month a service day draws on (its first day)."""
    return day.replace(day=1)


def split_price(*, price_fen: int, subsidy_max_fen: int, available_fen: int,
                eligible: bool) -> PriceSplit:
    """Subsidy = min(price, the item's subsidy cap, what is left this month); 0 if ineligible."""
    subsidy = min(price_fen, subsidy_max_fen, max(available_fen, 0)) if eligible else 0
    return PriceSplit(price_fen, subsidy, price_fen - subsidy)


def parse_month(text: str) -> date:
    """'YYYY-MM' → the month's first day; ValueError otherwise."""
    year, _, month = text.partition("-")
    if len(year) != 4 or len(month) != 2 or not (year + month).isdigit():
        raise ValueError("month must look like YYYY-MM")
    return date(int(year), int(month), 1)
