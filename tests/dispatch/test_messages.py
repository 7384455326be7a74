"""Publishing tells and lists what it cannot plan: a booking left unassigned in a published plan
is told to the elder and family once per day and put on the hotline's list (a safety task of kind
`unplanned`); plan-change messages go through the outbox, same-day ones marked so."""
from __future__ import annotations

from booking import service as booking_service
from dispatch import service
from tests.dispatch.test_service import solved


async def test_an_unplannable_booking_reaches_the_elder_and_the_hotline_once(db, conn, planner, small_day):
    actor, nursing = small_day.users["dispatcher"], small_day.bookings["nursing"]
    plan = await solved(db, planner, small_day)
    await service.publish_plan(db, actor=actor, plan_id=plan.id)
    told = await conn.fetch("SELECT * FROM notifications WHERE booking_id = $1 AND kind = 'unplanned'", nursing)
    assert told and "暂未能安排上门" in told[0]["message"] and told[0]["status"] == "pending"
    assert not any(n["same_day"] for n in told)  # tomorrow's plan may wait for quiet hours to end
    [task] = [t for t in await booking_service.list_safety_tasks(db, actor=small_day.users["dispatcher"])
              if t.booking_id == nursing]
    assert task.kind == "unplanned" and task.closed_at is None

    again = await service.reoptimize(db, planner, actor=actor, plan_id=plan.id)
    await planner.wait_idle()
    await service.publish_plan(db, actor=actor, plan_id=again.id)
    assert await conn.fetchval(
        "SELECT count(*) FROM notifications WHERE booking_id = $1 AND kind = 'unplanned'", nursing) == len(told)
    statuses = {r["status"] for r in await conn.fetch("SELECT status FROM notifications")}
    assert statuses == {"pending"}
