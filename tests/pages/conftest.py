"""Browser tests: a real Chromium (Debian's /usr/bin/chromium) driven by Playwright against the
app served on a real port, bound to the test's rolled-back transaction (the `client` fixture)."""
from __future__ import annotations

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


@pytest_asyncio.fixture
async def new_page(browser, base_url):
    """Open pages in fresh contexts: new_page(viewport=PHONE, **context options)."""
    contexts = []
    errors: list[str] = []

    async def open_page(viewport=PHONE, **options):
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
