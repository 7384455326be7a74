"""The hotline console in a real browser: find an elder by phone and book for them."""
import pytest

from tests.pages.conftest import DESK, screenshot, sign_in

pytestmark = pytest.mark.browser


async def test_operator_finds_elder_by_phone_and_books_for_them(base_url, new_page, street, conn):
    page = await new_page(base_url, viewport=DESK)
    await sign_in(page, "operator", expect_path="/hotline")
    await page.fill("#search", "13900000001")          # a full phone number opens the only match
    await page.wait_for_selector("#elder-name")
    assert await page.text_content("#elder-name") == "王秀英"
    assert "胰岛素" in await page.text_content(".care-notes")

    await page.fill("#book-item", "B01")
    await page.wait_for_selector("#book-quote .subsidy")
    assert "补贴支付 ¥100" in await page.text_content("#book-quote")
    await page.press("#book-item", "Enter")
    await page.wait_for_selector("#elder tbody tr[data-booking]")
    row = await conn.fetchrow("SELECT channel, item_code, status FROM bookings WHERE resident_id = $1", street.elder.id)
    assert dict(row) == {"channel": "hotline", "item_code": "B01", "status": "pending"}
    await screenshot(page, "hotline-elder")

    await page.click("#new-resident")                   # a bad phone gets its message beside the field
    await page.fill("#new-name", "赵桂兰")
    await page.fill("#new-phone", "12345")
    await page.click("#resident-submit")
    await page.wait_for_selector("#new-phone-error:not(:empty)")
    assert "11位手机号" in await page.text_content("#new-phone-error")
    await screenshot(page, "hotline-register")
