"""Browser tests: a real Chromium (Debian's /usr/bin/chromium) driven by Playwright against the
app served on a real port, bound to the test's rolled-back transaction (the `client` fixture)."""
from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import pytest_asyncio

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", Path(__file__).resolve().parents[2] / "docs" / "screenshots"))
PHONE = {"width": 360, "height": 780}
DESK = {"width": 1366, "height": 860}


@pytest_asyncio.fixture(scope="session")
async def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("browser tests need the playwright package (pip install playwright)")
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
def base_url(client) -> str:
    return str(client.make_url("/")).rstrip("/")


@pytest.fixture
def app_clock():
    """The clock the app under test runs on: the system's, unless a module overrides this
    fixture with a `SimulatedClock` (a same-day test must not depend on the hour it runs at)."""
    return None


@pytest_asyncio.fixture
async def planning_base_url(settings, db, redis, app_clock):
    """The app on a real port, solving plans in this process (a thread), bound to the test's
    transaction: what the dispatcher console needs end to end."""
    from aiohttp.test_utils import TestServer

    from core import keys
    from app.main import create_app
    from dispatch.jobs.pool import SolverPool
    from dispatch.jobs.submit import JobSubmitter

    app = create_app(settings, database=db, redis_client=redis, with_background=False, clock=app_clock)
    planner = JobSubmitter(db, redis, SolverPool(), use_queue=False, heartbeat_s=0.3)
    app[keys.PLANNER] = planner
    async with TestServer(app) as server:
        yield str(server.make_url("/")).rstrip("/")
    await close_planner(planner)


async def close_planner(planner) -> None:
    """Stop the in-process solves; one that cannot stop fails the test's teardown within 30 s
    instead of holding the whole suite (a failed map test once left the suite waiting for good)."""
    await asyncio.wait_for(planner.close(), timeout=30)


@pytest_asyncio.fixture
async def new_page(browser):
    """Open pages in fresh contexts: new_page(base_url, viewport=PHONE, **context options).
    Any uncaught script error or console error fails the test."""
    contexts = []
    errors: list[str] = []

    async def open_page(base_url: str, viewport=PHONE, **options):
        context = await browser.new_context(viewport=viewport, base_url=base_url, locale="zh-CN",
                                            timezone_id="Asia/Shanghai", **options)
        context.set_default_timeout(8000)
        contexts.append(context)
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        return page

    yield open_page
    for context in contexts:
        await context.close()
    assert not [e for e in errors if "Failed to load resource" not in e], errors


async def sign_in(page, username: str, *, expect_path: str) -> None:
    """Sign in through the landing page and wait for the console of the role."""
    await page.goto("/")
    await page.fill("#username", username)
    await page.fill("#password", f"pw-{username}")
    await page.click("#login-submit")
    await page.wait_for_url(f"**{expect_path}*")


async def screenshot(page, name: str, *, full_page: bool = True) -> None:
    """Save a screenshot for docs/ when SCREENSHOTS=1 (kept out of normal runs for speed)."""
    if os.environ.get("SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


async def no_horizontal_scroll(page) -> bool:
    return await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


async def published_visit(conn, street, *, item_code: str = "K02", start=None, minutes: int = 20) -> int:
    """A booking today, scheduled and with its published visit for the street's caregiver; the
    visit's id. (A plan is not needed: the day sheet reads active visits.)"""
    from datetime import timedelta

    from core.clock import local_now
    from booking import queries as booking_queries
    from booking import service as booking_service
    from providers import service as provider_service
    from providers.models import PlannedVisit

    start = start or local_now().replace(second=0, microsecond=0) - timedelta(minutes=5)
    booking_id = await booking_queries.insert_booking(
        conn, resident_id=street.elder.id, circle_id=street.circle_id, item_code=item_code, series_id=None,
        service_date=start.date(), window_start=start.time(), window_end=start.time(), channel="hotline",
        booked_by=None, notes="", price_fen=2000, subsidy_fen=0, self_pay_fen=2000)
    await booking_service.schedule_booking(conn, booking_id, caregiver_id=street.caregiver_id, planned_start=start)
    await provider_service.write_visits(conn, plan_id=None, visits=[PlannedVisit(
        booking_id=booking_id, caregiver_id=street.caregiver_id, crew_member=1, position=1,
        planned_start=start, planned_end=start + timedelta(minutes=minutes), travel_minutes=8)])
    return await conn.fetchval("SELECT id FROM visits WHERE booking_id = $1", booking_id)


# ------------------------------------------------------------------ axe-core (npm, issue 15)

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


async def axe_violations(page, *, exclude: tuple[str, ...] = ()) -> list[str]:
    """axe-core's violations on the page as it is now (WCAG 2 A/AA and best practices), one line each.
    axe-core comes from npm (package.json, `npm ci`); without it the calling test is skipped."""
    if not AXE.exists():
        pytest.skip("axe-core is not installed (npm ci)")
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text() + "\n;undefined")
    result = await page.evaluate(
        """async (exclude) => {
             const r = await axe.run({ exclude: exclude.map(s => [s]) }, { resultTypes: ['violations'] });
             return r.violations.map(v => `${v.id} (${v.impact}): ${v.nodes.length} × ${v.nodes[0].target.join(' ')} — ${v.help}`);
           }""", list(exclude))
    return result
