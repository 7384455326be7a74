"""The message features over HTTP: the inbox (each person their own, newest first, mark read),
the admin's outbox (phones masked unless asked for), the safety tasks (list and close), the
dispatcher's live alerts (server-sent events) and the stand-in's view."""
from __future__ import annotations

import asyncio
import json
from datetime import time

from booking import service as booking_service
from dispatch import events
from providers.models import LateVisit
from core.clock import local_instant, utc_now
from tests.conftest import login
from tests.providers.helpers import book_and_publish


async def cancelled_visit(db, conn, crypto, street, day) -> int:
    booking_id = await book_and_publish(db, conn, crypto, street, day, at=time(9))
    await booking_service.cancel_booking(db, actor=street.users["family"], booking_id=booking_id)
    return booking_id


async def test_each_person_reads_their_own_inbox_and_marks_it_read(client, db, conn, crypto, street, tomorrow):
    booking_id = await cancelled_visit(db, conn, crypto, street, tomorrow)
    for who in ("resident", "family", "caregiver"):
        headers = await login(client, who)
        body = await (await client.get("/api/v1/messages", headers=headers)).json()
        [message] = body["messages"]
        assert (message["booking_id"], message["read"], body["unread"]) == (booking_id, False, 1)
        assert set(message) >= {"id", "text", "booking_id", "created_at", "read"}
    headers = await login(client, "family")
    marked = await client.post("/api/v1/messages/read", json={}, headers=headers)
    assert (await marked.json()) == {"marked": 1}
    body = await (await client.get("/api/v1/messages", headers=headers)).json()
    assert body["unread"] == 0 and body["messages"][0]["read"] is True
    other = await (await client.get("/api/v1/messages", headers=await login(client, "other_resident"))).json()
    assert other == {"messages": [], "unread": 0}
    assert (await client.get("/api/v1/messages")).status == 401


async def test_the_admin_reads_the_outbox_masked_unless_a_phone_is_asked(client, db, conn, crypto, street, tomorrow):
    await cancelled_visit(db, conn, crypto, street, tomorrow)
    admin = await login(client, "admin")
    body = await (await client.get("/api/v1/outbox", headers=admin)).json()
    phones = {m["phone"] for m in body["messages"] if m["phone"]}
    assert "139****0001" in phones and "13900000001" not in phones
    assert {m["status"] for m in body["messages"]} == {"pending"}
    one = await (await client.get("/api/v1/outbox", params={"phone": "13900000001"}, headers=admin)).json()
    assert [m["phone"] for m in one["messages"]] == ["13900000001"]
    assert (await client.get("/api/v1/outbox", headers=await login(client, "operator"))).status == 403
    standin = await (await client.get("/api/v1/outbox/standin", headers=admin)).json()
    assert standin == {"running": False, "url": None, "received": []}


async def test_the_hotline_lists_and_closes_a_safety_task(client, conn, street, tomorrow):
    await conn.execute("INSERT INTO safety_tasks (resident_id, kind, opened_at) VALUES ($1, 'not_home', now())",
                       street.elder.id)
    operator = await login(client, "operator")
    [task] = (await (await client.get("/api/v1/safety-tasks", headers=operator)).json())["tasks"]
    assert (task["resident_name"], task["kind_zh"], task["closed_at"]) == ("王秀英", "上门未遇（独居）", None)
    closed = await client.post(f"/api/v1/safety-tasks/{task['id']}/close", json={"outcome": "elder_safe"},
                               headers=operator)
    assert closed.status == 200 and (await closed.json())["outcome"] == "elder_safe"
    again = await client.post(f"/api/v1/safety-tasks/{task['id']}/close", json={"outcome": "elder_safe"},
                              headers=operator)
    assert again.status == 409
    bad = await client.post(f"/api/v1/safety-tasks/{task['id']}/close", json={"outcome": "maybe"}, headers=operator)
    assert bad.status == 422
    assert (await client.get("/api/v1/safety-tasks", headers=await login(client, "resident"))).status == 403


async def test_the_dispatcher_gets_a_live_alert(client, redis, street, tomorrow):
    headers = await login(client, "dispatcher")
    response = await client.get("/api/v1/alerts/live", headers=headers)
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/event-stream")
    assert (await response.content.readuntil(b"\n\n")).startswith(b"event: ping")
    start = local_instant(tomorrow, time(9))
    late = LateVisit(1, 2, street.caregiver_id, "测试护理员", street.circle_id, street.elder.id, "王秀英", start,
                     utc_now())
    for _ in range(20):  # the stream subscribes right after the first ping
        await events.publish_alerts(redis, [late])
        try:
            chunk = await asyncio.wait_for(response.content.readuntil(b"\n\n"), 0.5)
        except asyncio.TimeoutError:
            continue
        if chunk.startswith(b"event: alert"):
            break
    data = json.loads(chunk.decode().split("data: ", 1)[1])
    assert (data["kind"], data["resident_name"], data["circle_id"]) == ("no_show", "王秀英", street.circle_id)
    response.close()


async def test_a_dispatcher_who_opens_the_live_view_late_sees_the_standing_alert(client, db, conn, crypto, street):
    """Alerted while nobody watched: the stream opens with the standing alert (the server runs on the
    real clock here, so the visit started 20 minutes ago)."""
    from datetime import timedelta

    from core.clock import local_now
    from dispatch import chores
    from tests.providers.helpers import book, publish

    start = local_now().replace(second=0, microsecond=0) - timedelta(minutes=20)
    booking_id = await book(db, crypto, street, start.date())
    await publish(conn, booking_id, [street.caregiver_id], start, 60)
    assert [v.booking_id for v in await chores.alert_noshows(db)] == [booking_id]
    headers = await login(client, "dispatcher")
    response = await client.get("/api/v1/alerts/live", params={"timeout_s": "0"}, headers=headers)
    text = await response.text()
    events_seen = [block.split("\n")[0] for block in text.strip().split("\n\n")]
    assert events_seen == ["event: ping", "event: alert"]
    assert f'"booking_id": {booking_id}' in text
