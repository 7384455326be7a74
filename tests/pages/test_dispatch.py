"""The dispatcher console in a real browser: generate, pin, re-optimise, compare, publish."""
from datetime import time

import pytest

from tests import factories
from tests.pages.conftest import DESK, screenshot, sign_in

pytestmark = pytest.mark.browser


async def pending(conn, resident, item_code, day, start, end):
    price = await conn.fetchval("SELECT price_fen FROM menu_items WHERE code = $1", item_code)
    return await conn.fetchval(
        """INSERT INTO bookings (resident_id, circle_id, item_code, service_date, window_start, window_end,
               channel, price_fen, subsidy_fen, self_pay_fen)
           VALUES ($1, $2, $3, $4, $5, $6, 'hotline', $7, 0, $7) RETURNING id""",
        resident.id, resident.circle_id, item_code, day, start, end, price)


async def test_dispatcher_generates_pins_reoptimises_and_publishes(planning_base_url, new_page, street, conn,
                                                                   crypto, tomorrow):
    await conn.execute("UPDATE caregivers SET qualifications = '{G,C}' WHERE id = $1", street.caregiver_id)
    await factories.make_caregiver(conn, provider_id=street.provider_id, circle_id=street.circle_id, name="陈红",
                                   home_lon=factories.CENTRE[1] + 0.004)
    third = await factories.make_resident(conn, crypto, circle_id=street.circle_id, name="孙桂兰",
                                          lat=factories.CENTRE[0] - 0.003)
    await pending(conn, street.elder, "K02", tomorrow, time(9), time(10))
    await pending(conn, street.other_elder, "C01", tomorrow, time(9), time(11))
    await pending(conn, third, "C01", tomorrow, time(14), time(15))
    await pending(conn, third, "B01", tomorrow, time(10), time(12))    # nobody is a bath aide: unassigned

    page = await new_page(planning_base_url, viewport=DESK)
    await sign_in(page, "dispatcher", expect_path="/dispatch")
    await page.wait_for_selector("#circle option[value]", state="attached")
    await page.select_option("#time-limit", "3")
    await page.click("#generate")
    await page.wait_for_selector("#plan-area:not([hidden])", timeout=30_000)
    assert "资质" in await page.text_content("#unassigned")       # the reason, in Chinese
    assert await page.locator(".tl-visit").count() == 3
    assert await page.locator("#map .stop:not(.unassigned)").count() == 3
    await page.locator("#map .stop.unassigned").click()            # the bath, at the elder's home
    assert "资质" in await page.text_content("#selection")
    assert "孙桂兰" in await page.text_content("#selection")

    await page.locator(".tl-visit").first.click()
    await page.click("#edit-pin")
    await page.wait_for_selector("#pending-edit")
    await screenshot(page, "dispatch-plan")

    await page.click("#reoptimize")
    await page.wait_for_selector("#compare", timeout=30_000)      # version 2, compared with version 1
    assert "第2版" in await page.text_content("#plan-label")
    assert await page.locator(".tl-visit.pinned").count() == 1
    assert "发布将改变 0 个已排预约，新排 3 个" in await page.text_content("#changes-count")
    assert "老人常用护理员" in await page.text_content("#stats")

    await page.click("#publish")
    await page.click('dialog >> text="发布"')
    await page.wait_for_selector("#plan-label:has-text('已发布')")
    assert await conn.fetchval("SELECT count(*) FROM bookings WHERE status = 'scheduled'") == 3
