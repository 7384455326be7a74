"""Pure settlement on a hand-made month: amounts, withheld reasons, crew-2 lines, the CSV."""
import csv
import io
from datetime import date, time, timedelta

from core.clock import local_instant
from providers.models import SettlementBooking, SettlementVisit
from providers.settlement import settle, settlement_csv, withheld_reasons, yuan

MONTH = date(2026, 11, 1)


def visit(n, day, *, minutes=60, distance=30, checked_in=True, caregiver_id=7, review=None):
    start = local_instant(day, time(9))
    return SettlementVisit(visit_id=n, caregiver_id=caregiver_id, check_in_at=start if checked_in else None,
                           check_out_at=start + timedelta(minutes=minutes) if checked_in else None,
                           check_in_distance_m=distance if checked_in else None, review_status=review)


def booking(n, *, price=4500, subsidy=4500, item_minutes=60, visits=None, ratings=(), day=None):
    day = day or date(2026, 11, n)
    return SettlementBooking(booking_id=n, service_date=day, item_code="C01", item_name_zh="居室日常保洁（1小时）",
                             item_minutes=item_minutes, price_fen=price, subsidy_fen=subsidy,
                             self_pay_fen=price - subsidy, resident_name="王秀英",
                             visits=tuple(visits if visits is not None else [visit(n, day)]), ratings=ratings)


def hand_made_month():
    """Ten completed bookings: four verified, six withheld for each reason in turn."""
    return [
        booking(1),                                                   # verified, all subsidy
        booking(2, price=10_000, subsidy=6_000),                      # verified, part self-pay
        booking(3, visits=[visit(3, date(2026, 11, 3), checked_in=False)]),           # no_check_in
        booking(4, visits=[visit(4, date(2026, 11, 4), distance=450)]),               # far_check_in
        booking(5, visits=[visit(5, date(2026, 11, 5), minutes=20)]),                 # shortened
        booking(6, ratings=((2, False),)),                            # low_rating, not cleared
        booking(7, ratings=((1, True), (4, False))),                  # low rating cleared: verified
        booking(8, visits=[visit(8, date(2026, 11, 8), review="pending")]),           # correction_unreviewed
        booking(9, visits=[visit(9, date(2026, 11, 9), review="rejected")]),          # correction_rejected
        booking(10, visits=[visit(10, date(2026, 11, 10), review="approved")]),       # reviewed: verified
    ]


def test_hand_made_month_totals():
    result = settle(provider_id=1, month=MONTH, bookings=hand_made_month())
    assert result.visits == 10
    assert [line.booking_id for line in result.lines if line.payable] == [1, 2, 7, 10]
    assert result.payable_fen == 4500 + 10_000 + 4500 + 4500
    assert (result.payable_subsidy_fen, result.payable_self_pay_fen) == (4500 + 6000 + 4500 + 4500, 4000)
    assert result.withheld_fen == 6 * 4500
    assert result.withheld_by_reason == {"no_check_in": 1, "far_check_in": 1, "shortened": 1, "low_rating": 1,
                                         "correction_unreviewed": 1, "correction_rejected": 1, "missed": 0}


def test_each_reason_is_named():
    reasons = {b.booking_id: withheld_reasons(b) for b in hand_made_month()}
    assert reasons[3] == ("no_check_in",) and reasons[4] == ("far_check_in",)
    assert reasons[5] == ("shortened",) and reasons[6] == ("low_rating",)
    assert reasons[8] == ("correction_unreviewed",) and reasons[9] == ("correction_rejected",) and reasons[10] == ()


def test_exactly_half_the_minutes_is_not_shortened():
    assert withheld_reasons(booking(1, visits=[visit(1, date(2026, 11, 1), minutes=30)])) == ()


def test_several_reasons_at_once():
    bad = booking(1, visits=[visit(1, date(2026, 11, 1), distance=900, minutes=5)], ratings=((1, False),))
    assert withheld_reasons(bad) == ("far_check_in", "shortened", "low_rating")


def test_crew_two_is_one_line_verified_only_if_both_are():
    """A two-person stair assist: one line at the booking's price; partner 2 checked in 300 m away."""
    day = date(2026, 11, 9)
    both_ok = booking(9, price=3000, subsidy=3000, item_minutes=30,
                      visits=[visit(1, day, minutes=30), visit(2, day, minutes=30, caregiver_id=8)])
    one_far = booking(10, price=3000, subsidy=3000, item_minutes=30, day=day,
                      visits=[visit(3, day, minutes=30), visit(4, day, minutes=30, distance=300, caregiver_id=8)])
    result = settle(provider_id=1, month=MONTH, bookings=[one_far, both_ok])
    assert [(line.booking_id, line.caregiver_ids, line.reasons) for line in result.lines] == [
        (9, (7, 8), ()), (10, (7, 8), ("far_check_in",))]
    assert (result.payable_fen, result.withheld_fen, result.visits) == (3000, 3000, 2)


def test_a_booking_without_visits_is_not_verified():
    assert withheld_reasons(booking(1, visits=[])) == ("no_check_in",)


def test_csv_has_a_bom_chinese_headers_and_yuan():
    data = settlement_csv(settle(provider_id=1, month=MONTH, bookings=hand_made_month()))
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:2] == ["预约编号", "服务日期"]
    assert rows[2][6:10] == ["100.00", "60.00", "40.00", "应付"]
    assert rows[4][9:] == ["扣减", "签到位置距老人家超过200米"]
    assert ["合计应付(元)", "235.00"] in rows and ["合计扣减(元)", "270.00"] in rows
    assert rows[8][9:] == ["扣减", "服务商补录待街道审核"]


def test_yuan_is_exact():
    assert (yuan(0), yuan(5), yuan(123456), yuan(-250)) == ("0.00", "0.05", "1234.56", "-2.50")
