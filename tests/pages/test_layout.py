"""Phones: the consoles used on a phone fit a 360-px screen without horizontal scrolling."""
import pytest

from tests.pages.conftest import PHONE, no_horizontal_scroll, screenshot, sign_in

pytestmark = pytest.mark.browser


async def test_pages_fit_a_360_px_phone(base_url, new_page, street, conn, crypto):
    from tests import factories

    second = await factories.make_resident(conn, crypto, circle_id=street.circle_id, name="张德明", gender="M")
    await conn.execute("INSERT INTO family_links (user_id, resident_id) VALUES ($1, $2)",
                       street.users["family"].id, second.id)
    page = await new_page(base_url, viewport=PHONE)
    await page.goto("/")
    await page.wait_for_selector("#login-form")
    assert await no_horizontal_scroll(page)
    await screenshot(page, "login")

    await sign_in(page, "family", expect_path="/app")   # a family member first picks the elder
    await page.click("text=张德明")
    await page.wait_for_selector("#wallet-left, .wallet-none")
    await page.click("#go-book")
    await page.click("[data-category=meals]")
    await page.wait_for_selector("#items")
    assert await no_horizontal_scroll(page)
    await screenshot(page, "elder-menu")

    await page.goto("/hotline")                          # wrong console: sent back to their own
    await page.wait_for_url("**/app")
