"""The caregiver's phone view in a real browser: check in and out with the phone's position."""
import pytest

from tests.pages.conftest import PHONE, no_horizontal_scroll, published_visit, screenshot, sign_in

pytestmark = pytest.mark.browser


async def test_caregiver_checks_in_and_out_at_the_door(base_url, new_page, street, conn):
    visit_id = await published_visit(conn, street)
    await conn.execute("UPDATE circles SET hotline_phone = '021-62580101' WHERE id = $1", street.circle_id)
    home = {"latitude": street.elder.lat, "longitude": street.elder.lon + 0.0002}  # ~20 m from the door
    page = await new_page(base_url, viewport=PHONE, permissions=["geolocation"], geolocation=home)
    await sign_in(page, "caregiver", expect_path="/caregiver")
    card = page.locator(f"[data-visit='{visit_id}']")
    await card.wait_for()
    await page.wait_for_selector("#call-desk[href='tel:021-62580101']")   # the desk, one tap away
    assert "王秀英" in await card.text_content()
    assert "糖尿病" in await card.text_content()         # today's care notes are on the card
    assert await no_horizontal_scroll(page)
    await screenshot(page, "caregiver-day")

    await card.locator("[data-action=check-in]").click()
    await card.locator("[data-outcome=done]").wait_for()
    row = await conn.fetchrow("SELECT check_in_distance_m, flags FROM visits WHERE id = $1", visit_id)
    assert row["check_in_distance_m"] < 50 and row["flags"] == []

    await card.locator("[data-outcome=done]").click()
    await page.locator(f"[data-visit='{visit_id}'] .visit-state").filter(has_text="已完成").wait_for()
    assert await conn.fetchval("SELECT status FROM bookings b JOIN visits v ON v.booking_id = b.id "
                               "WHERE v.id = $1", visit_id) == "completed"

    await page.goto("/caregiver/print")                  # the printable A4 sheet of the same day
    await page.wait_for_selector(".print-table")
    assert "王秀英" in await page.text_content(".print-table")
    await page.set_viewport_size({"width": 794, "height": 1123})   # A4 at 96 dpi
    await page.emulate_media(media="print")
    await screenshot(page, "caregiver-print")


async def test_caregiver_checks_in_without_a_position(base_url, new_page, street, conn):
    """Indoors the phone gets no position: the check-in still goes through, flagged no_position,
    and the caregiver is told the dispatcher will verify it (flag, never block)."""
    visit_id = await published_visit(conn, street)
    page = await new_page(base_url, viewport=PHONE, permissions=[])   # location not allowed
    await sign_in(page, "caregiver", expect_path="/caregiver")
    card = page.locator(f"[data-visit='{visit_id}']")
    await card.wait_for()
    await card.locator("[data-action=check-in]").click()
    await card.locator("[data-outcome=done]").wait_for()
    row = await conn.fetchrow("SELECT check_in_distance_m, flags FROM visits WHERE id = $1", visit_id)
    assert row["check_in_distance_m"] is None and row["flags"] == ["no_position"]
    assert "未定位" in await page.text_content("body")
