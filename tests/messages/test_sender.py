"""The outbox sender (core/outbox.deliver_due) against the real stand-in gateway: delivery with the
gateway's id, retries with back-off and failure after N, quiet hours except same-day changes, the
per-phone hourly limit, app-only messages, and nothing logged with a phone or a text."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from core import outbox
from core.clock import LOCAL_TZ

NOON = datetime(2026, 12, 7, 12, 0, tzinfo=LOCAL_TZ)
QUIET = outbox.parse_quiet_hours("21-7")


async def queue(conn, street, text="【一刻钟服务圈】测试消息", *, now=NOON, **more) -> int:
    await outbox.queue(conn, [outbox.OutMessage(text, "test", resident_id=street.elder.id, **more)], now=now)
    return await conn.fetchval("SELECT max(id) FROM notifications")


async def row(conn, message_id):
    return await conn.fetchrow("SELECT * FROM notifications WHERE id = $1", message_id)


async def test_a_message_is_sent_with_the_gateways_id(db, conn, street, standin, gateway):
    """The phone comes from the elder's record (the database fills it in); the stand-in receives
    our id, the phone and the text, and its message id is recorded."""
    message_id = await queue(conn, street)
    result = await outbox.deliver_due(db, gateway, now=NOON, quiet=QUIET)
    assert result.sent == 1
    sent = await row(conn, message_id)
    assert (sent["status"], sent["sent_at"], sent["attempts"]) == ("sent", NOON, 1)
    assert sent["gateway_message_id"] == "standin-1"
    [got] = standin.received
    assert (got.id, got.phone, got.text) == (str(message_id), "13900000001", "【一刻钟服务圈】测试消息")
    assert (await outbox.deliver_due(db, gateway, now=NOON + timedelta(minutes=1))).total == 0


async def test_a_failing_gateway_is_retried_with_back_off_then_failed(db, conn, street, standin, gateway):
    """500 → attempt 1 at 12:00, again at 12:01 (1 min), 12:03 (2 min), then failed after 3 attempts;
    nothing is tried before its time."""
    standin.fail_with = 500
    message_id = await queue(conn, street)
    first = await outbox.deliver_due(db, gateway, now=NOON, max_attempts=3)
    assert first.retried == 1 and standin.calls == 1
    assert (await row(conn, message_id))["next_attempt_at"] == NOON + timedelta(minutes=1)
    await outbox.deliver_due(db, gateway, now=NOON + timedelta(seconds=30), max_attempts=3)
    assert standin.calls == 1
    await outbox.deliver_due(db, gateway, now=NOON + timedelta(minutes=1), max_attempts=3)
    assert (await row(conn, message_id))["next_attempt_at"] == NOON + timedelta(minutes=3)
    last = await outbox.deliver_due(db, gateway, now=NOON + timedelta(minutes=3), max_attempts=3)
    failed = await row(conn, message_id)
    assert last.failed == 1 and standin.calls == 3
    assert (failed["status"], failed["attempts"], failed["last_error"]) == ("failed", 3, "HTTP 500")


async def test_a_refusal_that_cannot_pass_fails_at_once(db, conn, street, standin, gateway):
    standin.fail_with = 400
    message_id = await queue(conn, street)
    assert (await outbox.deliver_due(db, gateway, now=NOON)).failed == 1
    assert (await row(conn, message_id))["status"] == "failed"


async def test_quiet_hours_hold_a_message_until_seven_but_not_a_same_day_change(db, conn, street, standin, gateway):
    late = NOON.replace(hour=22)
    held = await queue(conn, street, "明天的安排", now=late)
    urgent = await queue(conn, street, "今天的改动", now=late, same_day=True)
    result = await outbox.deliver_due(db, gateway, now=late, quiet=QUIET)
    assert (result.sent, result.held_quiet) == (1, 1)
    assert [r.id for r in standin.received] == [str(urgent)]
    seven = datetime(2026, 12, 8, 7, 0, tzinfo=LOCAL_TZ)
    assert (await row(conn, held))["next_attempt_at"] == seven
    assert (await outbox.deliver_due(db, gateway, now=seven - timedelta(minutes=1), quiet=QUIET)).total == 0
    assert (await outbox.deliver_due(db, gateway, now=seven, quiet=QUIET)).sent == 1
    assert outbox.parse_quiet_hours("") is None and not outbox.parse_quiet_hours("21-7").holds(NOON)


async def test_the_per_phone_hourly_limit_holds_the_rest_for_an_hour(db, conn, street, standin, gateway):
    ids = [await queue(conn, street, f"消息{i}") for i in range(3)]
    result = await outbox.deliver_due(db, gateway, now=NOON, per_phone_hour=2)
    assert (result.sent, result.held_limit) == (2, 1)
    assert (await row(conn, ids[2]))["next_attempt_at"] == NOON + timedelta(hours=1)
    assert (await outbox.deliver_due(db, gateway, now=NOON + timedelta(minutes=59), per_phone_hour=2)).total == 0
    assert (await outbox.deliver_due(db, gateway, now=NOON + timedelta(hours=1), per_phone_hour=2)).sent == 1


async def test_app_only_messages_reach_the_inbox_without_a_gateway(db, conn, street, standin):
    """A family member has no phone: the message is delivered to the app; SMS waits for a gateway."""
    family = street.users["family"]
    app_id = await queue(conn, street, "给家属", user_id=family.id, channel="app")
    sms_id = await queue(conn, street, "给老人")
    result = await outbox.deliver_due(db, None, now=NOON)
    assert result.app == 1
    assert (await row(conn, app_id))["status"] == "sent" and (await row(conn, sms_id))["status"] == "pending"
    [message] = await outbox.inbox(conn, user=family)
    assert (message.text, message.read) == ("给家属", False)


async def test_nothing_is_logged_with_a_phone_or_a_text(db, conn, street, standin, gateway, caplog):
    caplog.set_level(logging.DEBUG)
    await queue(conn, street, "秘密内容一")
    standin.fail_with = 503
    await outbox.deliver_due(db, gateway, now=NOON)
    standin.fail_with = None
    await outbox.deliver_due(db, gateway, now=NOON + timedelta(minutes=1))
    assert "outbox" in caplog.text
    assert "13900000001" not in caplog.text and "秘密内容" not in caplog.text


async def test_a_message_queued_twice_with_its_key_is_queued_once(conn, street):
    message = outbox.OutMessage("一次", "test", resident_id=street.elder.id, dedup_key="late:1:r1")
    assert await outbox.queue(conn, [message], now=NOON) == 1
    assert await outbox.queue(conn, [message], now=NOON) == 0


async def test_the_workers_sender_starts_the_standin_when_no_gateway_is_configured(committed_db, settings, street_committed):
    """`circle serve`'s sender with no gateway configured: it starts the local stand-in and delivers
    a queued message to it within a few seconds (the real loop, real time)."""
    import asyncio

    from dispatch.jobs.lifecycle import start_sender

    plain = settings.model_copy(update={"sms_webhook_url": None, "aliyun_access_key_id": None, "quiet_hours": ""})
    async with committed_db.transaction() as conn:
        await outbox.queue(conn, [outbox.OutMessage("开工了", "test", resident_id=street_committed)],
                           now=datetime.now(LOCAL_TZ))
    stop = asyncio.Event()
    sender = await start_sender(committed_db, plain, stop)
    try:
        for _ in range(50):
            if sender.standin.received:
                break
            await asyncio.sleep(0.1)
        assert [r.text for r in sender.standin.received] == ["开工了"]
    finally:
        stop.set()
        await sender.close()


async def test_an_sms_still_pending_a_day_later_expires(db, conn, street, standin, gateway):
    """A text about a visit that is over helps nobody: after 24 hours pending it is failed, not sent
    (an upgraded database's old backlog included)."""
    old = await queue(conn, street, "昨天的安排", now=NOON - timedelta(hours=25))
    fresh = await queue(conn, street, "今天的安排")
    result = await outbox.deliver_due(db, gateway, now=NOON)
    assert (result.expired, result.sent) == (1, 1)
    assert ((await row(conn, old))["status"], (await row(conn, old))["last_error"]) == ("failed", "expired")
    assert [r.id for r in standin.received] == [str(fresh)]
