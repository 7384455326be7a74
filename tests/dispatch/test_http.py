"""The plan endpoints over HTTP (API.md contract), the SSE stream, 422s naming the field, 404s
for another circle's dispatcher."""
from __future__ import annotations

import json
from datetime import timedelta

from aiohttp.test_utils import TestClient, TestServer

from core import keys
from core.users import issue_token
from app.main import create_app
from core.redis import create_redis
from dispatch import service
from dispatch.events import plan_events, subscriber
from dispatch.jobs.submit import JobSubmitter
from tests import factories
from tests.conftest import login
from tests.dispatch.conftest import FAST

API_PLAN_KEYS = {"id", "circle_id", "date", "status", "progress", "stats", "routes", "unassigned"}
API_STATS_KEYS = {"objective", "travel_minutes", "assigned", "unassigned", "solve_seconds"}
API_VISIT_KEYS = {"booking_id", "planned_start", "planned_end", "travel_minutes", "pinned"}


async def read_events(response) -> list[tuple[str, dict]]:
    """Parse a whole text/event-stream body into (event, data) pairs."""
    events, name = [], None
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            events.append((name, json.loads(line[6:])))
    return events


async def test_plan_lifecycle_over_http(planning_client, small_day):
    client, headers = planning_client, await login(planning_client, "plan-dispatcher")
    body = {"circle_id": small_day.circle_id, "date": small_day.day.isoformat(), "time_limit_s": 5,
            "solution_limit": FAST}
    created = await client.post("/api/v1/plans", json=body, headers=headers)
    assert created.status == 202, await created.text()
    queued = await created.json()
    assert queued["status"] == "queued" and isinstance(queued["id"], int)

    stream = await client.get(f"/api/v1/plans/{queued['id']}/events", headers=headers)
    assert stream.status == 200 and stream.headers["Content-Type"].startswith("text/event-stream")
    events = await read_events(stream)
    assert events[-1][0] == "status" and events[-1][1]["status"] == "draft"
    assert all(name == "progress" for name, _ in events[:-1])

    plan = await (await client.get(f"/api/v1/plans/{queued['id']}", headers=headers)).json()
    assert API_PLAN_KEYS <= set(plan) and API_STATS_KEYS <= set(plan["stats"])
    assert plan["date"] == small_day.day.isoformat() and plan["progress"] == 1
    visit = plan["routes"][0]["visits"][0]
    assert "caregiver_id" in plan["routes"][0] and API_VISIT_KEYS <= set(visit)
    assert visit["planned_start"].endswith("+08:00")
    waiting = plan["unassigned"][0]
    assert {"booking_id", "reason", "reason_zh"} <= set(waiting)
    assert waiting["item_name_zh"] and waiting["resident_id"]                 # for the map and the list
    assert abs(waiting["lat"] - factories.CENTRE[0]) < 0.05 and abs(waiting["lon"] - factories.CENTRE[1]) < 0.05

    listed = await client.get(f"/api/v1/plans?circle_id={small_day.circle_id}&date={small_day.day}", headers=headers)
    assert [p["id"] for p in (await listed.json())["plans"]] == [queued["id"]]

    edit = await client.post(f"/api/v1/plans/{queued['id']}/edits", headers=headers,
                             json={"booking_id": visit["booking_id"], "caregiver_id": plan["routes"][0]["caregiver_id"],
                                   "pin": True})
    assert edit.status == 201 and (await edit.json())["action"] == "pin"
    again = await client.post(f"/api/v1/plans/{queued['id']}/reoptimize", headers=headers, json={})
    assert again.status == 202 and (await again.json())["status"] == "queued"
    await client.app[keys.PLANNER].wait_idle()
    published = await client.post(f"/api/v1/plans/{(await again.json())['id']}/publish", headers=headers)
    assert published.status == 200, await published.text()
    assert (await published.json())["plan"]["status"] == "published"
    caregiver_id = plan["routes"][0]["caregiver_id"]
    sheet = await client.get(f"/api/v1/caregivers/{caregiver_id}/assignments?date={small_day.day}", headers=headers)
    assert sheet.status == 200, await sheet.text()
    assert visit["booking_id"] in [v["booking_id"] for v in (await sheet.json())["visits"]]  # the pinned visit


async def test_bad_requests_name_the_field(planning_client, small_day, today):
    client, headers = planning_client, await login(planning_client, "plan-dispatcher")
    good = {"circle_id": small_day.circle_id, "date": small_day.day.isoformat()}
    for override, field in (({"date": "2030-13-01"}, "date"), ({"date": (today - timedelta(days=1)).isoformat()}, "date"),
                            ({"time_limit_s": 0}, "time_limit_s"), ({"circle_id": "x"}, "circle_id")):
        response = await client.post("/api/v1/plans", json={**good, **override}, headers=headers)
        assert response.status == 422, (override, await response.text())
        assert (await response.json())["error"]["details"][0]["field"] == field
    admin = await login(client, "plan-admin")
    unknown = await client.post("/api/v1/plans", json={**good, "circle_id": 10**9}, headers=admin)
    assert unknown.status == 422 and (await unknown.json())["error"]["details"][0]["field"] == "circle_id"
    bad_edit = await client.post("/api/v1/plans/1/edits", json={"booking_id": 1, "planned_start": "9点"}, headers=headers)
    assert bad_edit.status == 422 and (await bad_edit.json())["error"]["details"][0]["field"] == "planned_start"


async def test_another_circles_dispatcher_gets_404(planning_client, conn, db, planner, small_day):
    plan = await service.request_plan(db, planner, actor=small_day.users["dispatcher"],
                                      circle_id=small_day.circle_id, day=small_day.day, solution_limit=FAST)
    await planner.wait_idle()
    await factories.make_user(conn, "dispatcher", username="other-dispatcher",
                              circle_id=await factories.make_circle(conn))
    headers = await login(planning_client, "other-dispatcher")
    for method, path in (("GET", f"/api/v1/plans/{plan.id}"), ("POST", f"/api/v1/plans/{plan.id}/publish"),
                         ("GET", f"/api/v1/plans/{plan.id}/events")):
        response = await planning_client.request(method, path, headers=headers)
        assert response.status == 404, (path, await response.text())
    create = await planning_client.post("/api/v1/plans", headers=headers,
                                        json={"circle_id": small_day.circle_id, "date": small_day.day.isoformat()})
    assert create.status == 404
    family = await login(planning_client, "plan-family")
    assert (await planning_client.get(f"/api/v1/plans/{plan.id}", headers=family)).status == 403


async def test_event_stream_polls_the_database_when_redis_is_down(db, planner, small_day):
    """No pub/sub: the stream still reports progress and ends with the final status."""
    plan = await service.request_plan(db, planner, actor=small_day.users["dispatcher"],
                                      circle_id=small_day.circle_id, day=small_day.day, solution_limit=FAST)
    dead = create_redis("redis://127.0.0.1:1/0", timeout_s=0.2)
    try:
        seen = [e async for e in plan_events(db, subscriber(dead), plan, poll_s=0.05)]
    finally:
        await dead.aclose()
    assert seen[0][0] == "progress" and seen[-1] == ("status", seen[-1][1])
    assert seen[-1][1]["status"] == "draft" and seen[-1][1]["stats"]["assigned"] == 5


async def test_redis_down_post_plans_still_answers_202_and_the_plan_finishes(settings, db, conn, runner, small_day):
    """The app's Redis on a closed port: POST /plans → 202, solved in the web process; the
    event stream polls the database and ends with the draft."""
    dead = create_redis("redis://127.0.0.1:1/0", timeout_s=0.2)
    app = create_app(settings, database=db, redis_client=dead, with_background=False)
    app[keys.PLANNER] = planner = JobSubmitter(db, dead, runner, heartbeat_s=0.2)
    token = await issue_token(conn, small_day.users["dispatcher"].id, ttl=timedelta(hours=1))  # login needs Redis
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with TestClient(TestServer(app)) as client:
            created = await client.post("/api/v1/plans", headers=headers, json={
                "circle_id": small_day.circle_id, "date": small_day.day.isoformat(), "solution_limit": FAST})
            assert created.status == 202 and (await created.json())["status"] == "queued"
            events = await read_events(await client.get(f"/api/v1/plans/{(await created.json())['id']}/events",
                                                        headers=headers))
            assert events[-1][0] == "status" and events[-1][1]["status"] == "draft"
    finally:
        await planner.close()
        await dead.aclose()
