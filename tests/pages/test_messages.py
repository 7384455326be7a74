"""Messages in a real browser: the elder's inbox (unread first, 知道了 marks it read), the caregiver's,
the dispatcher's live no-show alert pushed by the chore, and the hotline closing a safety task."""
from __future__ import annotations

from datetime import time, timedelta

import pytest

from booking import service as booking_service
from core.clock import SimulatedClock, local_instant, use_clock
from dispatch import chores, events
from tests.pages.conftest import DESK, PHONE, no_horizontal_scroll, published_visit, screenshot, sign_in

pytestmark = pytest.mark.browser


async def cancelled_by_family(db, conn, street) -> int:
    visit_id = await published_visit(conn, street)
    booking_id = await conn.fetchval("SELECT booking_id FROM visits WHERE id = $1", visit_id)
    await booking_service.cancel_booking(db, actor=street.users["family"], booking_id=booking_id, reason="住院")
    return booking_id


async def test_the_elder_reads_the_cancellation_in_the_inbox(base_url, new_page, db, conn, street):
    await cancelled_by_family(db, conn, street)
    page = await new_page(base_url, viewport=PHONE)
    await sign_in(page, "resident", expect_path="/app")
    inbox = page.locator("#inbox")
    await inbox.locator(".inbox-unread").wait_for()
    assert "1条未读" in await inbox.locator("h2").text_content()
    assert "已取消" in await inbox.locator(".inbox-unread .inbox-text").text_content()
    assert await no_horizontal_scroll(page)
    await screenshot(page, "elder-inbox")
    await inbox.get_by_role("button", name="知道了").click()
    await inbox.locator(".inbox-old").wait_for()
    async with db.connection() as shared:   # the page may be polling on the test's connection
        assert await shared.fetchval("SELECT count(*) FROM notifications WHERE resident_id = $1 AND read_at IS NOT "
                                     "NULL AND user_id IS NULL AND caregiver_id IS NULL", street.elder.id) == 1


async def test_the_caregiver_sees_the_cancellation(base_url, new_page, db, conn, street):
    await cancelled_by_family(db, conn, street)
    page = await new_page(base_url, viewport=PHONE)
    await sign_in(page, "caregiver", expect_path="/caregiver")
    await page.locator("#inbox .inbox-unread").wait_for()
    assert "王秀英家" in await page.locator("#inbox").text_content()


async def test_the_dispatcher_sees_the_live_noshow_alert(base_url, new_page, db, conn, street, redis):
    visit_id = await published_visit(conn, street)
    start = await conn.fetchval("SELECT planned_start FROM visits WHERE id = $1", visit_id)
    page = await new_page(base_url, viewport=DESK)
    await sign_in(page, "dispatcher", expect_path="/dispatch")
    with use_clock(SimulatedClock(start + timedelta(minutes=15))):
        late = await chores.alert_noshows(db, redis)
    assert [v.visit_id for v in late] == [visit_id]
    alert = page.locator(f"#live-alerts [data-visit='{visit_id}']")
    for _ in range(20):   # the console subscribes once its page has loaded: push again until it shows
        if await alert.count():
            break
        await events.publish_alerts(redis, late)
        await page.wait_for_timeout(250)
    await alert.first.wait_for()
    assert "王秀英" in await alert.first.text_content() and "未签到" in await alert.first.text_content()
    await screenshot(page, "dispatch-live-alert", full_page=False)


async def test_the_hotline_closes_a_safety_task(base_url, new_page, db, conn, street):
    task_id = await conn.fetchval(
        "INSERT INTO safety_tasks (resident_id, kind, opened_at) VALUES ($1, 'not_home', now()) RETURNING id",
        street.elder.id)
    page = await new_page(base_url, viewport=DESK)
    await sign_in(page, "operator", expect_path="/hotline")
    await page.click("#tab-care")
    task = page.locator(f".safety-task[data-id='{task_id}']")
    await task.wait_for()
    assert "王秀英" in await task.text_content() and "上门未遇" in await task.text_content()
    await task.locator("select").select_option("family_reached")
    await task.locator("input").fill("女儿已上门，老人平安")
    await task.get_by_role("button", name="处理完毕").click()
    await page.locator("#safety-tasks").filter(has_text="没有待跟进的任务").wait_for()
    async with db.connection() as shared:
        row = await shared.fetchrow("SELECT outcome, notes, closed_at FROM safety_tasks WHERE id = $1", task_id)
    assert (row["outcome"], row["notes"]) == ("family_reached", "女儿已上门，老人平安") and row["closed_at"]


@pytest.fixture
def app_clock(today):
    """Seven in the morning of today, standing still: the same-day plan below holds a 9:00 and a
    14:00 visit whatever the hour the suite runs at (its freeze would drop visits already past)."""
    return SimulatedClock(local_instant(today, time(7)))


async def test_a_same_day_cancellation_leaves_the_dispatchers_timeline(planning_base_url, app_clock, new_page, db,
                                                                       conn, street, today):
    """Today's plan published with two visits; the family cancels one: it leaves the timeline (the
    published plan still lists it), and its same-day messages may not wait for quiet hours. A
    booking made after the publish is shown as waiting for a new version."""
    with use_clock(app_clock):
        await _cancel_from_a_published_same_day_plan(planning_base_url, new_page, db, conn, street, today)


async def _cancel_from_a_published_same_day_plan(planning_base_url, new_page, db, conn, street, today):
    from tests.pages.test_dispatch import pending

    first = await pending(conn, street.elder, "C01", today, time(9), time(11))
    await pending(conn, street.other_elder, "C01", today, time(14), time(16))
    page = await new_page(planning_base_url, viewport=DESK)
    await sign_in(page, "dispatcher", expect_path="/dispatch")
    await page.wait_for_selector("#circle option[value]", state="attached")
    await page.fill("#date", today.isoformat())
    await page.dispatch_event("#date", "change")
    await page.select_option("#time-limit", "3")
    await page.click("#generate")
    await page.wait_for_selector("#plan-area:not([hidden])", timeout=30_000)
    await page.click("#publish")
    await page.click('dialog >> text="发布"')
    await page.wait_for_selector("#plan-label:has-text('已发布')")
    assert await page.locator(".tl-visit").count() == 2

    await booking_service.cancel_booking(db, actor=street.users["family"], booking_id=first, reason="今天不在家")
    await page.dispatch_event("#date", "change")   # what the 30-second refresh does
    await page.locator(f".tl-visit[data-booking='{first}']").wait_for(state="detached")
    assert await page.locator(".tl-visit").count() == 1
    async with db.connection() as shared:   # the app is using the test's connection too
        told = await shared.fetch("SELECT same_day FROM notifications WHERE booking_id = $1 AND kind = 'cancelled'",
                                  first)
    assert told and all(r["same_day"] for r in told)

    await pending(conn, street.other_elder, "C02", today, time(15), time(17))   # booked after the publish
    await page.dispatch_event("#date", "change")
    notice = page.locator("#waiting-notice")
    await notice.and_(page.locator(":not([hidden])")).wait_for()
    assert "1 单新预约尚未排入" in await notice.text_content()
