"""The smaller console faults of issue 15, one browser test each, and axe-core on every page of every
console (0 violations)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from booking import service as booking_service
from booking.models import BookingStatus
from tests import factories
from tests.pages.conftest import DESK, PHONE, axe_violations, published_visit, sign_in
from tests.providers.helpers import book_and_publish

pytestmark = pytest.mark.browser


async def test_dispatcher_is_offered_only_her_circle(base_url, new_page, street, conn):
    await factories.make_circle(conn, name="另一个服务圈")
    page = await new_page(base_url, viewport=DESK)
    await sign_in(page, "dispatcher", expect_path="/dispatch")
    await page.wait_for_selector("#circle option[value]", state="attached")
    options = await page.locator("#circle option").all_inner_texts()
    assert len(options) == 1 and "另一个服务圈" not in options
    assert await page.locator(".notice-error").count() == 0


async def test_care_calls_unreached_first_and_no_answer_not_green(base_url, new_page, street, conn, crypto, client):
    from tests.conftest import login

    reached = await factories.make_resident(conn, crypto, circle_id=street.circle_id, name="甲平安", lives_alone=True)
    silent = await factories.make_resident(conn, crypto, circle_id=street.circle_id, name="乙没接", lives_alone=True)
    waiting = await factories.make_resident(conn, crypto, circle_id=street.circle_id, name="丙未打", lives_alone=True)
    operator = await login(client, "operator")
    for resident, outcome in ((reached, "ok"), (silent, "no_answer")):
        await client.post("/api/v1/calls", json={"resident_id": resident.id, "kind": "care_call", "outcome": outcome},
                          headers=operator)
    page = await new_page(base_url, viewport=DESK)
    await sign_in(page, "operator", expect_path="/hotline")
    await page.click("#tab-care")
    await page.wait_for_selector("#care-list .call-row")
    names = [n.split("\n")[0] for n in await page.locator("#care-list .call-row strong").all_inner_texts()]
    assert names.index("甲平安") == len(names) - 1                      # the reached elder is last
    assert set(names[:2]) == {"乙没接", "丙未打"}
    silent_row = page.locator(f"[data-resident='{silent.id}']")
    assert await silent_row.locator(".no-answer-mark").count() == 1
    assert await silent_row.locator(".done-mark").count() == 0
    assert waiting.id  # listed though nobody called yet


async def test_return_calls_leave_out_rated_visits_and_card_shows_calls(base_url, new_page, street, conn, crypto, db,
                                                                        today, client):
    from tests.conftest import login

    day = today - timedelta(days=1)
    rated, unrated = [await book_and_publish(db, conn, crypto, street, day, "C01", at=at)
                      for at in (__import__("datetime").time(9), __import__("datetime").time(14))]
    for booking_id in (rated, unrated):
        await booking_service.transition_booking(conn, booking_id, BookingStatus.IN_PROGRESS)
        await booking_service.transition_booking(conn, booking_id, BookingStatus.COMPLETED)
    await conn.execute("INSERT INTO evaluations (booking_id, rating, source) VALUES ($1, 5, 'app')", rated)
    await client.post("/api/v1/calls", json={"resident_id": street.elder.id, "kind": "inbound", "notes": "问送餐时间"},
                      headers=await login(client, "operator"))
    page = await new_page(base_url, viewport=DESK)
    await sign_in(page, "operator", expect_path="/hotline")
    await page.click("#tab-return")
    await page.wait_for_selector("#return-list [data-booking], #return-list .empty")
    listed = await page.locator("#return-list [data-booking]").evaluate_all("rows => rows.map(r => r.dataset.booking)")
    assert str(unrated) in listed and str(rated) not in listed
    await page.click("#tab-calls")
    await page.fill("#search", street.elder.phone)
    await page.wait_for_selector("#call-history")
    assert "问送餐时间" in await page.inner_text("#call-history")
    width = await page.eval_on_selector("#book-window", "s => s.scrollWidth <= s.clientWidth")
    assert width                                                          # "上午 08:00–11:00" is not cut off


async def test_check_in_asks_for_a_fresh_position(base_url, new_page, street, conn):
    await published_visit(conn, street)
    home = {"latitude": street.elder.lat, "longitude": street.elder.lon}
    page = await new_page(base_url, viewport=PHONE, permissions=["geolocation"], geolocation=home)
    await page.add_init_script("""(() => {
      const real = navigator.geolocation.getCurrentPosition.bind(navigator.geolocation);
      navigator.geolocation.getCurrentPosition = (ok, fail, options) => { window.__geoOptions = options; real(ok, fail, options); };
    })()""")
    await sign_in(page, "caregiver", expect_path="/caregiver")
    await page.locator("[data-action=check-in]").first.click()
    await page.locator("[data-outcome=done]").first.wait_for()
    options = await page.evaluate("() => window.__geoOptions")
    assert options["maximumAge"] == 0 and options["enableHighAccuracy"] is True


PAGES = [("resident", "/app", PHONE), ("family", "/app", PHONE), ("operator", "/hotline", DESK),
         ("dispatcher", "/dispatch", DESK), ("caregiver", "/caregiver", PHONE), ("provider_admin", "/admin", DESK),
         ("admin", "/office", DESK)]


@pytest.mark.parametrize("role,path,viewport", PAGES, ids=[p for _, p, _ in PAGES[:1]] + [f"{r}{p}" for r, p, _ in PAGES[1:]])
async def test_axe_finds_nothing(base_url, new_page, street, conn, role, path, viewport):
    await published_visit(conn, street)
    page = await new_page(base_url, viewport=viewport)
    if role == "resident":
        await page.goto("/")
        await page.wait_for_selector("#login-form")
        assert await axe_violations(page) == [], "the landing page"
    await sign_in(page, role, expect_path="/admin" if role == "admin" else path)
    if role == "admin":
        await page.goto(path)
    await settled(page)
    assert await axe_violations(page) == []
    if role == "caregiver":
        await page.goto("/caregiver/print")
        await page.wait_for_load_state("networkidle")
        assert await axe_violations(page) == [], "the A4 day sheet"


async def test_provider_admin_edits_a_caregiver(base_url, new_page, street, conn, client):
    """Qualifications, week pattern, shift and break, active (which signs the caregiver out), and the login."""
    from tests.conftest import login

    caregiver_session = await login(client, "caregiver")
    page = await new_page(base_url, viewport=DESK)
    await sign_in(page, "provider_admin", expect_path="/admin")
    await page.click(f"[data-edit='{street.caregiver_id}']")
    await page.uncheck("#caregiver-form input[name=work_days][value='7']")
    await page.fill("#cg-shift_end", "16:30")
    await page.uncheck("#cg-active")
    await page.click("#caregiver-save")
    await page.click(".dialog .btn-danger")
    await page.wait_for_selector("#status:has-text('已保存')")
    row = await conn.fetchrow("SELECT work_days, shift_end, active FROM caregivers WHERE id = $1", street.caregiver_id)
    assert 7 not in row["work_days"] and row["shift_end"].strftime("%H:%M") == "16:30" and row["active"] is False
    assert (await client.get("/api/v1/auth/me", headers=caregiver_session)).status == 401
    await page.click(f"[data-edit='{street.caregiver_id}']")
    await page.fill("#cg-username", "caregiver_new")
    await page.fill("#cg-password", "short")
    await page.click("#caregiver-login")
    await page.wait_for_selector("#cg-password-error:not(:empty)")
    assert await axe_violations(page) == []
    audit = await conn.fetchval("SELECT count(*) FROM audit_log WHERE record = $1", f"caregivers:{street.caregiver_id}")
    assert audit == 1


async def settled(page) -> None:
    """The page drawn: loaded, and its first requests answered. Not "networkidle": the dispatcher's
    live alerts keep a stream open for as long as the page is."""
    await page.wait_for_load_state("load")
    try:
        await page.wait_for_load_state("networkidle", timeout=3000)
    except Exception:  # an open event stream: the page is drawn all the same
        await page.wait_for_timeout(500)
