"""What a provider is owed for a month. Pure: plain data in, a `Settlement` out.

The street pays for results, not for promises (政府购买服务). Only completed bookings enter the
settlement; each is one line at the booking's price — a two-person booking too — split into
its subsidy part (billed to the street) and self-pay part (collected from the elder). A line is
payable only when every partner's visit is verified; otherwise it is withheld with every reason
that applies:

- `no_check_in`: a partner never checked in;
- `far_check_in`: a partner checked in more than 200 m from the home (an unknown position, from
  an audited correction, is not counted as far);
- `shortened`: a partner's on-site time was under half the item's minutes (a missing check-out
  counts as no time on site);
- `low_rating`: the visit was rated 1–2 and a street admin has not cleared it on review;
- `correction_unreviewed`: a provider's correction made a partner's visit done, and the street office
  has not reviewed it yet (a correction is evidence, not payment);
- `correction_rejected`: the street office rejected that correction;
- `missed`: nobody checked in by the planned end plus the grace period, and the worker closed the
  booking `missed` (issue 13). Missed bookings enter the settlement as withheld lines so that the
  street office sees them with their reason; they are never payable.

A check-in without any position from the phone (flag `no_position`: GPS fails indoors) is not
withheld by itself: it is shown to the dispatcher as an alert, and the on-site time and the
rating still decide.

Totals: `payable_fen` is the price of payable lines (= `payable_subsidy_fen` +
`payable_self_pay_fen`); `withheld_fen` the price of withheld lines; `withheld_by_reason` counts
lines per reason (a line with two reasons counts under both).
"""
from __future__ import annotations

import csv
import io
from datetime import date
from typing import Iterable

from providers.checkin import is_far, is_shortened
from providers.models import Settlement, SettlementBooking, SettlementLine

LOW_RATING_MAX = 2
REASONS = ("no_check_in", "far_check_in", "shortened", "low_rating", "correction_unreviewed", "correction_rejected",
           "missed")
REASONS_ZH = {"no_check_in": "未签到", "far_check_in": "签到位置距老人家超过200米",
              "shortened": "服务时长不足项目时长一半", "low_rating": "差评未复核",
              "correction_unreviewed": "服务商补录待街道审核", "correction_rejected": "服务商补录未通过审核",
              "missed": "无人上门，已记为未服务"}
REVIEW_REASONS = {"pending": "correction_unreviewed", "rejected": "correction_rejected"}


def withheld_reasons(booking: SettlementBooking) -> tuple[str, ...]:
    """Every reason this booking's line is withheld, in the fixed order of REASONS."""
    found = set()
    if not booking.visits or any(v.check_in_at is None for v in booking.visits):
        found.add("no_check_in")
    if any(is_far(v.check_in_distance_m) for v in booking.visits):
        found.add("far_check_in")
    if any(v.check_in_at and is_shortened(v.check_in_at, v.check_out_at, booking.item_minutes)
           for v in booking.visits):
        found.add("shortened")
    if any(rating <= LOW_RATING_MAX and not cleared for rating, cleared in booking.ratings):
        found.add("low_rating")
    found.update(REVIEW_REASONS[v.review_status] for v in booking.visits if v.review_status in REVIEW_REASONS)
    if booking.missed:
        found.add("missed")
    return tuple(r for r in REASONS if r in found)


def settlement_line(booking: SettlementBooking) -> SettlementLine:
    return SettlementLine(
        booking_id=booking.booking_id, service_date=booking.service_date, item_code=booking.item_code,
        item_name_zh=booking.item_name_zh, resident_name=booking.resident_name,
        caregiver_ids=tuple(v.caregiver_id for v in booking.visits), price_fen=booking.price_fen,
        subsidy_fen=booking.subsidy_fen, self_pay_fen=booking.self_pay_fen,
        reasons=withheld_reasons(booking))


def settle(*, provider_id: int, month: date, bookings: Iterable[SettlementBooking]) -> Settlement:
    """The provider's month: one line per completed booking, ordered by date and booking id."""
    lines = tuple(settlement_line(b) for b in sorted(bookings, key=lambda b: (b.service_date, b.booking_id)))
    payable = [line for line in lines if line.payable]
    withheld = [line for line in lines if not line.payable]
    return Settlement(
        provider_id=provider_id, month=month, lines=lines,
        payable_fen=sum(line.price_fen for line in payable),
        payable_subsidy_fen=sum(line.subsidy_fen for line in payable),
        payable_self_pay_fen=sum(line.self_pay_fen for line in payable),
        withheld_fen=sum(line.price_fen for line in withheld),
        withheld_by_reason={r: sum(r in line.reasons for line in withheld) for r in REASONS})

# ------------------------------------------------------------------ CSV for Excel


CSV_HEADER = ("预约编号", "服务日期", "项目编码", "项目名称", "老人", "护理员编号", "金额(元)",
              "补贴部分(元)", "自费部分(元)", "结算状态", "扣减原因")


def yuan(fen: int) -> str:
    """Fen as a yuan amount with two decimals, exactly (no floating point)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def _csv_row(line: SettlementLine) -> list[str]:
    return [str(line.booking_id), line.service_date.isoformat(), line.item_code, line.item_name_zh,
            line.resident_name, " ".join(str(c) for c in line.caregiver_ids), yuan(line.price_fen),
            yuan(line.subsidy_fen), yuan(line.self_pay_fen), "应付" if line.payable else "扣减",
            "；".join(REASONS_ZH[r] for r in line.reasons)]


def _csv_totals(s: Settlement) -> list[list[str]]:
    return [[], ["合计应付(元)", yuan(s.payable_fen)], ["其中补贴部分(元)", yuan(s.payable_subsidy_fen)],
            ["其中自费部分(元)", yuan(s.payable_self_pay_fen)], ["合计扣减(元)", yuan(s.withheld_fen)],
            ["服务单数", str(s.visits)]]


def settlement_csv(settlement: Settlement) -> bytes:
    """The settlement as CSV in UTF-8 with a byte-order mark, so Excel shows the Chinese."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(_csv_row(line) for line in settlement.lines)
    writer.writerows(_csv_totals(settlement))
    return ("\ufeff" + out.getvalue()).encode("utf-8")
