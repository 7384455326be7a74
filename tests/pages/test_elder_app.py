"""The elder and family app in a real browser, on a 360-px phone."""
import pytest

from tests.pages.conftest import PHONE, no_horizontal_scroll, screenshot, sign_in

pytestmark = pytest.mark.browser


async def test_elder_books_a_bath_and_sees_the_subsidy_split(base_url, new_page, street, conn):
    await conn.execute("UPDATE circles SET hotline_phone = '021-62580101' WHERE id = $1", street.circle_id)
    page = await new_page(base_url, viewport=PHONE)
    await sign_in(page, "resident", expect_path="/app")
    await page.wait_for_selector("#wallet-left")
    assert await page.text_content("#wallet-left") == "¥200"
    assert await page.get_attribute("#call-hotline", "href") == "tel:021-62580101"   # one tap to the community
    await screenshot(page, "elder-home")

    await page.click("#go-book")
    await page.click("[data-category=bathing]")
    await page.click("[data-item=B03]")             # bed-bound tub bath: ¥240, subsidy pays up to ¥240
    await page.wait_for_selector("#same-day a[href='tel:021-62580101']")   # today's service: call
    await page.click("#days button >> nth=0")       # tomorrow
    await page.click("[data-window=morning]")
    await page.wait_for_selector("#quote-self")
    assert (await page.text_content("#quote-price"), await page.text_content("#quote-subsidy"),
            await page.text_content("#quote-self")) == ("¥240", "¥200", "¥40")
    assert await no_horizontal_scroll(page)
    await screenshot(page, "elder-quote")

    await page.dblclick("#confirm")                 # a double tap books once (one Idempotency-Key)
    await page.wait_for_selector("#done-title")
    assert await conn.fetchval("SELECT count(*) FROM bookings WHERE resident_id = $1", street.elder.id) == 1

    await page.click("text=看我的预约")
    card = page.locator("#upcoming article")
    await card.first.wait_for()
    assert await card.count() == 1
    assert "待排班" in await card.first.text_content()
    await card.first.locator("text=取消预约").click()
    await page.click("dialog >> text=确定取消")
    await page.wait_for_selector("#upcoming .empty")
    assert await conn.fetchval("SELECT status FROM bookings WHERE resident_id = $1", street.elder.id) == "cancelled"
