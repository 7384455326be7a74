"""Pure booking rules: the subsidy split, the lifecycle, the booking window, ID numbers."""
from datetime import date, time

import pytest

from core.errors import Conflict, Invalid
from booking.identity import valid_id_card
from booking.lifecycle import TRANSITIONS, can_transition, ensure_transition, wallet_effect
from booking.models import BookingStatus as S
from booking.subsidy import parse_month, service_month, split_price
from booking.window import check_service_date, check_window


def test_subsidy_pays_first_up_to_the_item_cap():
    """A 100-yuan bath with a 100-yuan cap is fully subsidised while the wallet has money."""
    split = split_price(price_fen=10_000, subsidy_max_fen=10_000, available_fen=20_000, eligible=True)
    assert (split.subsidy_fen, split.self_pay_fen) == (10_000, 0)


def test_subsidy_cap_leaves_the_rest_to_self_pay():
    """A delivered meal: only the 4-yuan delivery part may be subsidised."""
    split = split_price(price_fen=1_800, subsidy_max_fen=400, available_fen=20_000, eligible=True)
    assert (split.subsidy_fen, split.self_pay_fen) == (400, 1_400)


def test_subsidy_is_limited_by_what_is_left():
    split = split_price(price_fen=24_000, subsidy_max_fen=24_000, available_fen=5_000, eligible=True)
    assert (split.subsidy_fen, split.self_pay_fen) == (5_000, 19_000)


def test_ineligible_resident_pays_everything():
    split = split_price(price_fen=4_500, subsidy_max_fen=4_500, available_fen=20_000, eligible=False)
    assert (split.subsidy_fen, split.self_pay_fen) == (0, 4_500)


def test_empty_or_negative_wallet_gives_no_subsidy():
    split = split_price(price_fen=4_500, subsidy_max_fen=4_500, available_fen=-10, eligible=True)
    assert split.subsidy_fen == 0 and split.self_pay_fen == 4_500


def test_month_helpers():
    assert service_month(date(2026, 12, 31)) == date(2026, 12, 1)
    assert parse_month("2026-02") == date(2026, 2, 1)
    for bad in ("2026-2", "26-02", "2026/02", "abcd-ef", "2026-13"):
        with pytest.raises(ValueError):
            parse_month(bad)


@pytest.mark.parametrize("current,target", [(S.PENDING, S.SCHEDULED), (S.PENDING, S.CANCELLED),
                                            (S.SCHEDULED, S.IN_PROGRESS), (S.SCHEDULED, S.MISSED),
                                            (S.SCHEDULED, S.NOT_HOME), (S.IN_PROGRESS, S.COMPLETED)])
def test_lifecycle_allows_the_documented_steps(current, target):
    assert can_transition(current, target)
    ensure_transition(current, target)


@pytest.mark.parametrize("current,target", [(S.COMPLETED, S.CANCELLED), (S.CANCELLED, S.PENDING),
                                            (S.PENDING, S.COMPLETED), (S.PENDING, S.IN_PROGRESS),
                                            (S.IN_PROGRESS, S.CANCELLED), (S.MISSED, S.SCHEDULED)])
def test_lifecycle_refuses_other_steps_with_409(current, target):
    with pytest.raises(Conflict) as caught:
        ensure_transition(current, target)
    assert current.value in caught.value.message and target.value in caught.value.message


def test_final_states_have_no_way_out():
    for final in (S.COMPLETED, S.CANCELLED, S.MISSED, S.NOT_HOME, S.REFUSED):
        assert final not in TRANSITIONS


def test_wallet_effects():
    assert wallet_effect(S.COMPLETED) == "capture"
    assert {wallet_effect(s) for s in (S.CANCELLED, S.MISSED, S.NOT_HOME, S.REFUSED)} == {"release"}
    assert wallet_effect(S.SCHEDULED) is None


def test_service_date_from_tomorrow_to_30_days():
    today = date(2026, 11, 21)
    check_service_date(date(2026, 11, 22), today=today)
    check_service_date(date(2026, 12, 21), today=today)
    for bad in (date(2026, 11, 21), date(2026, 11, 1), date(2026, 12, 22)):
        with pytest.raises(Invalid) as caught:
            check_service_date(bad, today=today)
        assert caught.value.details[0]["field"] == "date"
        assert caught.value.details[0]["value"] == bad.isoformat()


def test_window_within_the_service_day_and_ordered():
    check_window(time(9), time(10))
    check_window(time(11), time(11))
    with pytest.raises(Invalid) as caught:
        check_window(time(10), time(9))
    assert caught.value.details[0]["field"] == "window_end"
    with pytest.raises(Invalid) as caught:
        check_window(time(5, 30), time(9))
    assert caught.value.details[0]["field"] == "window_start"


def test_id_card_checksum():
    assert valid_id_card("11010519491231002X")
    assert not valid_id_card("110105194912310021")
    assert not valid_id_card("1101051949123100")
