"""Street maps (issue 15) against local stand-ins for the third parties: tiles from a local tile server
(another origin, so the page's CSP must allow it) and AMap's geocoding protocol. The hotline places a new
elder by address and by dragging the pin, and confirms the position; the dispatcher sees the routes on
the street map, stops of one building grouped, labels of at least 14 px, unconfirmed homes flagged."""
from __future__ import annotations

import asyncio
from datetime import time

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer

from app.standins import STANDIN_KEY, standin_app
from booking.geo import haversine_m
from tests import factories
from tests.pages.conftest import DESK, axe_violations, close_planner, screenshot, sign_in

pytestmark = pytest.mark.browser
HOME = (factories.CENTRE[0] + 0.0021, factories.CENTRE[1] + 0.0018)


async def _status_says(page, words: str) -> None:
    """The position status line says `words` (polled: the pages' CSP forbids eval, so no wait_for_function)."""
    for _ in range(80):
        if words in await page.inner_text(".position-box + p"):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(await page.inner_text(".position-box + p"))


@pytest_asyncio.fixture
async def mapped(settings, db, redis):
    """The app with street tiles and a geocoder, both local stand-ins; plans solved in this process."""
    from core import keys
    from app.main import create_app
    from dispatch.jobs.pool import SolverPool
    from dispatch.jobs.submit import JobSubmitter

    async with TestServer(standin_app(gazetteer={"黄浦区长乐路8号": HOME}, centre=factories.CENTRE)) as standin:
        base = str(standin.make_url("")).rstrip("/")
        mapped_settings = settings.model_copy(update={
            "tile_url": base + "/tiles/{z}/{x}/{y}.svg", "tile_attribution": "本地测试底图",
            "geocoder": "amap", "geocoder_key": STANDIN_KEY, "geocoder_url": base + "/amap"})
        app = create_app(mapped_settings, database=db, redis_client=redis, with_background=False)
        planner = JobSubmitter(db, redis, SolverPool(), use_queue=False, heartbeat_s=0.3)
        app[keys.PLANNER] = planner
        async with TestServer(app) as server:
            yield str(server.make_url("/")).rstrip("/")
        await close_planner(planner)


async def test_register_by_address_drag_the_pin_and_confirm(mapped, new_page, street, conn):
    page = await new_page(mapped, viewport=DESK)
    await sign_in(page, "operator", expect_path="/hotline")
    await page.click("#new-resident")
    await page.fill("#new-name", "赵桂兰")
    await page.check("input[name=gender][value=F]")
    await page.fill("#new-birth_date", "1941-03-03")
    await page.fill("#new-phone", "13955550001")
    await page.fill("#new-address", "黄浦区长乐路8号")
    await page.wait_for_selector(".position-box .leaflet-tile-loaded")       # street tiles from the stand-in
    await page.click("text=按地址定位")
    await _status_says(page, "已按地址定位")
    lat, lon = float(await page.input_value("#new-lat")), float(await page.input_value("#new-lon"))
    assert haversine_m(lat, lon, *HOME) < 1                                  # GCJ-02 answer, shown as WGS84
    pin = page.locator(".position-box .leaflet-marker-icon")
    await page.locator(".position-box .street-map").scroll_into_view_if_needed()
    for attempt in range(3):                                                 # after the map's pan animation
        await asyncio.sleep(0.6)
        box = await pin.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] - 4
        await page.mouse.move(x, y)
        await page.mouse.down()
        await page.mouse.move(x + 20, y, steps=4)
        await page.mouse.move(x + 40, y, steps=4)
        await page.mouse.up()
        if "已在地图上标出" in await page.inner_text(".position-box + p"):
            break
    await _status_says(page, "已在地图上标出")
    assert await page.is_checked("#new-position_confirmed")
    dragged = float(await page.input_value("#new-lon"))
    assert dragged > lon                                                     # dragged east
    await screenshot(page, "hotline-register-map", full_page=False)
    assert await axe_violations(page) == []
    await page.click("#resident-submit")
    await page.wait_for_selector("#elder-name")
    row = await conn.fetchrow("SELECT lon, position_source FROM residents WHERE phone = '13955550001'")
    assert row["position_source"] == "confirmed" and abs(row["lon"] - dragged) < 1e-6


async def test_dispatcher_street_map_groups_a_building(mapped, new_page, street, conn, crypto, tomorrow):
    neighbour = await factories.make_resident(conn, crypto, circle_id=street.circle_id, name="周玉珍",
                                              lat=street.elder.lat, lon=street.elder.lon)  # same building
    for resident, start in ((street.elder, time(9)), (neighbour, time(10))):
        await conn.execute(
            """INSERT INTO bookings (resident_id, circle_id, item_code, service_date, window_start, window_end,
                   channel, price_fen, subsidy_fen, self_pay_fen) VALUES ($1, $2, 'C01', $3, $4, $5, 'hotline', 4500, 0, 4500)""",
            resident.id, street.circle_id, tomorrow, start, time(start.hour + 1))
    page = await new_page(mapped, viewport=DESK)
    await sign_in(page, "dispatcher", expect_path="/dispatch")
    await page.wait_for_selector("#unconfirmed:not([hidden])")
    assert "周玉珍" in await page.inner_text("#unconfirmed")
    await page.select_option("#time-limit", "3")
    await page.click("#generate")
    await page.wait_for_selector("#plan-area:not([hidden])", timeout=30_000)
    await page.wait_for_selector("#street-map .leaflet-tile-loaded")
    labels = await page.locator("#street-map .stop-icon").all_inner_texts()
    assert "1·2" in labels                                                   # one marker for the building
    size = await page.eval_on_selector("#street-map .stop-icon", "e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 14
    svg_size = await page.eval_on_selector("#map text", "e => e.getBoundingClientRect().height")
    assert svg_size >= 14 * 0.9                                              # the drawing's text on screen
    await screenshot(page, "dispatch-street-map", full_page=False)
    assert await axe_violations(page, exclude=(".leaflet-control-attribution",)) == []


async def test_caregiver_day_on_the_street_map(mapped, new_page, street, conn):
    from tests.pages.conftest import PHONE, published_visit

    await published_visit(conn, street)
    page = await new_page(mapped, viewport=PHONE)
    await sign_in(page, "caregiver", expect_path="/caregiver")
    await page.wait_for_selector("#day-map .leaflet-tile-loaded")
    assert await page.locator("#day-map .stop-icon").all_inner_texts() == ["1"]
    assert await axe_violations(page, exclude=(".leaflet-control-attribution",)) == []
