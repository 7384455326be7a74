"""The street office's console (/office): the month's figures and charts, every provider's settlement,
a price change that shows in the audit trail, a password reset; axe-core finds nothing."""
from __future__ import annotations

import pytest

from tests.pages.conftest import DESK, axe_violations, screenshot, sign_in

pytestmark = pytest.mark.browser


async def _a_month_of_visits(db, conn, crypto, street, today):
    """Completed, missed and rated visits this month by two providers, for the figures and the charts."""
    from datetime import time, timedelta

    from booking import service as booking_service
    from booking.models import BookingStatus
    from tests import factories
    from tests.providers.helpers import book_and_publish

    other = await factories.make_provider(conn, name="安康居家服务社", circle_ids=(street.circle_id,))
    other_caregiver = await factories.make_caregiver(conn, provider_id=other, circle_id=street.circle_id,
                                                     qualifications=list(factories.ALL_QUALIFICATIONS))
    first = today.replace(day=1)
    plan = [("C01", street.caregiver_id, 5, "completed"), ("M01", street.caregiver_id, None, "completed"),
            ("B01", other_caregiver, 4, "completed"), ("K02", other_caregiver, 2, "completed"),
            ("C01", other_caregiver, None, "missed"), ("H01", street.caregiver_id, 5, "completed")]
    for n, (item, caregiver, rating, outcome) in enumerate(plan):
        day = first + timedelta(days=n % max(1, (today - first).days))
        booking_id = await book_and_publish(db, conn, crypto, street, day, item, at=time(8 + n),
                                            caregiver_ids=[caregiver])
        if outcome == "missed":
            await booking_service.transition_booking(conn, booking_id, BookingStatus.MISSED)
            continue
        await conn.execute("""UPDATE visits SET check_in_at = planned_start + make_interval(mins => $2),
                              check_in_distance_m = 15, check_out_at = planned_end WHERE booking_id = $1""",
                           booking_id, 5 * n)
        await booking_service.transition_booking(conn, booking_id, BookingStatus.IN_PROGRESS)
        await booking_service.transition_booking(conn, booking_id, BookingStatus.COMPLETED)
        if rating:
            await conn.execute("INSERT INTO evaluations (booking_id, rating, source) VALUES ($1, $2, 'app')",
                               booking_id, rating)


async def test_office_reports_price_change_audit_and_reset(base_url, new_page, street, conn, db, crypto, today):
    if today.day > 1:
        await _a_month_of_visits(db, conn, crypto, street, today)
    page = await new_page(base_url, viewport=DESK)
    await sign_in(page, "admin", expect_path="/admin")
    await page.click("#office-link a")
    await page.wait_for_url("**/office")
    await page.wait_for_selector("#report .stats")
    await page.wait_for_selector("#charts figure")
    assert await page.locator("#charts figure").count() == 2
    has_chartjs = await page.evaluate("typeof window.Chart !== 'undefined'")
    assert await page.locator("#charts canvas" if has_chartjs else "#charts svg.bars").count() == 2
    await page.wait_for_selector("#settlement-all table")
    await page.locator("#reports").scroll_into_view_if_needed()
    await screenshot(page, "office-reports", full_page=False)
    await page.evaluate("() => document.querySelector('#charts').scrollIntoView({ block: 'center' })")
    await screenshot(page, "office-charts", full_page=False)
    # a price change, audited
    row = page.locator("tr[data-code=C01]")
    await row.locator("input[name=price]").fill("47.5")
    await row.locator("button").click()
    await page.wait_for_selector("#status:has-text('已保存')")
    assert await conn.fetchval("SELECT price_fen FROM menu_items WHERE code = 'C01'") == 4750
    await page.fill("#audit-record", "menu_items:C01")
    await page.click("#audit-form button[type=submit]")
    try:
        await page.wait_for_selector("#audit-results td:has-text('menu_items:C01')")
    except Exception:
        raise AssertionError(await page.inner_text("#audit-results"))
    assert "4750" in await page.inner_text("#audit-results")
    # a password reset gives a one-time code
    await page.fill("#user-q", "operator")
    await page.click("#user-search button")
    await page.click("#users tr:has-text('operator') button")
    await page.click(".dialog .btn-danger")
    code = (await page.inner_text("#users .code-big")).strip()
    assert len(code) == 10
    assert await axe_violations(page) == []


async def test_redeem_code_on_the_landing_page(base_url, new_page, street, client):
    from tests.conftest import login

    admin = await login(client, "admin")
    reset = await client.post(f"/api/v1/users/{street.users['family'].id}/password-reset", json={}, headers=admin)
    code = (await reset.json())["one_time_code"]
    page = await new_page(base_url)
    await page.goto("/")
    await page.click("#redeem summary")
    await page.fill("#redeem-username", "family")
    await page.fill("#redeem-code", code)
    await page.fill("#redeem-password", "short")
    await page.click("#redeem-submit")
    await page.wait_for_selector("#redeem-password-error:not(:empty)")
    await page.fill("#redeem-password", "a-long-new-password")
    await page.click("#redeem-submit")
    await page.wait_for_selector("#login-error:has-text('新密码已设置')")
    await page.fill("#password", "a-long-new-password")
    await page.click("#login-submit")
    await page.wait_for_url("**/app*")
    assert await axe_violations(page) == []
