"""Issue 15, part 6: the street office's month (GET /reports/monthly, .xlsx, settlement of all)."""
from __future__ import annotations

import io
from datetime import datetime, time, timedelta, timezone

from openpyxl import load_workbook

from booking import service as booking_service
from booking.models import BookingStatus
from core.clock import local_instant
from office.models import ReportRow
from office.report import figures
from tests.conftest import login
from tests.providers.helpers import book_and_publish

T0 = datetime(2026, 11, 3, 1, 0, tzinfo=timezone.utc)


def _row(n, status="completed", *, late=0, rating=None, seen=False, same=False, provider=1):
    return ReportRow(booking_id=n, resident_id=1, circle_id=1, category_code="care", category_zh="生活照料",
                     status=status, subsidy_fen=1000, self_pay_fen=200, provider_id=provider, provider_name="甲",
                     caregiver_id=1, planned_start=T0, check_in_at=T0 + timedelta(minutes=late) if status ==
                     "completed" else None, rating=rating, seen_before=seen, same_caregiver_before=same)


def test_figures_count_money_only_for_done_visits_and_share_on_time_and_continuity():
    """Two done (one 45 min late), one missed, one cancelled; one returning elder served by the same caregiver."""
    got = figures([_row(1, rating=5), _row(2, late=45, rating=2, seen=True, same=True), _row(3, "missed"),
                   _row(4, "cancelled")], withheld_fen=1200, withheld_by_reason={"low_rating": 1})
    assert (got.subsidy_used_fen, got.self_pay_fen, got.visits_done, got.visits_missed, got.cancelled) == \
        (2000, 400, 2, 1, 1)
    assert got.on_time_pct == 50.0 and got.satisfaction_avg == 3.5 and got.continuity_pct == 100.0
    assert got.withheld_fen == 1200 and got.withheld_by_reason == {"low_rating": 1}


def test_no_visits_no_percentages():
    got = figures([])
    assert got.on_time_pct is None and got.satisfaction_avg is None and got.continuity_pct is None


async def _complete(db, conn, crypto, street, day, item, *, late_minutes=0, rating=None):
    booking_id = await book_and_publish(db, conn, crypto, street, day, item, at=time(9))
    await conn.execute("""UPDATE visits SET check_in_at = planned_start + make_interval(mins => $2),
                          check_in_distance_m = 20, check_out_at = planned_end WHERE booking_id = $1""",
                       booking_id, late_minutes)
    await booking_service.transition_booking(conn, booking_id, BookingStatus.IN_PROGRESS)
    await booking_service.transition_booking(conn, booking_id, BookingStatus.COMPLETED)
    if rating:
        await conn.execute("INSERT INTO evaluations (booking_id, rating, source) VALUES ($1, $2, 'app')",
                           booking_id, rating)
    return booking_id


async def test_monthly_report_and_workbook(client, db, conn, crypto, street, today):
    month_day = today.replace(day=1) + timedelta(days=40)
    first = month_day.replace(day=2)
    await _complete(db, conn, crypto, street, first, "C01", rating=5)
    await _complete(db, conn, crypto, street, first + timedelta(days=1), "C01", late_minutes=50, rating=1)
    await _complete(db, conn, crypto, street, first + timedelta(days=2), "M01")
    missed = await book_and_publish(db, conn, crypto, street, first + timedelta(days=3), "C01")
    await booking_service.transition_booking(conn, missed, BookingStatus.MISSED)
    admin = await login(client, "admin")
    month = f"{first:%Y-%m}"
    answer = await client.get("/api/v1/reports/monthly", params={"month": month, "circle_id": street.circle_id},
                              headers=admin)
    assert answer.status == 200, await answer.text()
    report = await answer.json()
    assert report["month"] == month and report["visits_done"] == 3 and report["visits_missed"] == 1
    assert report["on_time_pct"] == round(200 / 3, 1) and report["satisfaction_avg"] == 3.0
    assert report["continuity_pct"] == 100.0  # the second and third visits: the same caregiver as the first
    # the late visit: rated 1, and 10 minutes on site (checked out at the planned end); the missed one is a
    # withheld line too (nobody came: missed, no check-in)
    assert report["withheld_fen"] > 0 and {k: v for k, v in report["withheld_by_reason"].items() if v} == \
        {"low_rating": 1, "shortened": 1, "missed": 1, "no_check_in": 1}
    [provider] = report["by_provider"]
    assert provider["provider_id"] == street.provider_id and provider["visits_done"] == 3
    assert {c["category_code"]: (c["visits_done"], c["visits_missed"]) for c in report["by_category"]} == \
        {"cleaning": (2, 1), "meals": (1, 0)}
    assert report["subsidy_used_fen"] + report["self_pay_fen"] == sum(
        c["subsidy_used_fen"] + c["self_pay_fen"] for c in report["by_category"])
    workbook = await client.get("/api/v1/reports/monthly.xlsx", params={"month": month}, headers=admin)
    assert workbook.status == 200
    sheets = load_workbook(io.BytesIO(await workbook.read()))
    assert sheets.sheetnames == ["全街道", "按服务商", "按服务类别", "暂扣原因"]
    assert sheets["全街道"]["C2"].value == "subsidy_used_fen" and sheets["全街道"]["E3"].value == 3
    csv_text = (await (await client.get("/api/v1/reports/monthly.csv", params={"month": month}, headers=admin)).read()
                ).decode("utf-8-sig")
    assert csv_text.splitlines()[1].startswith("scope,name,subsidy_used_fen") and "服务类别" in csv_text
    every = await (await client.get("/api/v1/reports/settlement/all", params={"month": month}, headers=admin)).json()
    assert [p["provider_id"] for p in every["providers"]] == [street.provider_id]
    assert every["withheld_fen"] == report["withheld_fen"]
    bad = await client.get("/api/v1/reports/monthly", params={"month": "2026-13"}, headers=admin)
    assert bad.status == 422 and (await bad.json())["error"]["details"][0]["value"] == "2026-13"
    assert (await client.get("/api/v1/reports/monthly", params={"month": month},
                             headers=await login(client, "provider_admin"))).status == 403
