"""Plans on real PostgreSQL, solved in this process: queue → draft → edit → reoptimize →
publish; publish atomicity; the same-day re-plan; cancel; the Redis-down fallback."""
from __future__ import annotations

import asyncio
from datetime import time, timedelta

import pytest

from core.clock import local_instant
from core.errors import ApiError, Conflict
from core.redis import create_redis
from dispatch import queries, service
from dispatch.models import PlanStatus
from dispatch.jobs.run import run_plan
from dispatch.jobs.submit import JobSubmitter
from dispatch.models import EditAction, EditCommand
from providers import service as provider_service
from providers.models import PlannedVisit
from tests import factories
from tests.dispatch.conftest import FAST, make_booking


async def solved(db, planner, small, **kw):
    """Request a plan for the small day and wait until it is solved."""
    plan = await service.request_plan(db, planner, actor=small.users["dispatcher"], circle_id=small.circle_id,
                                      day=small.day, solution_limit=FAST, **kw)
    await planner.wait_idle()
    return (await service.get_plan(db, actor=small.users["dispatcher"], plan_id=plan.id)).plan


def where(plan, booking_id):
    """(caregiver ids, first visit) of a booking in a plan's routes."""
    visits = [(r.caregiver_id, v) for r in plan.routes for v in r.visits if v.booking_id == booking_id]
    return sorted(c for c, _ in visits), (visits[0][1] if visits else None)


async def test_plan_is_solved_into_a_draft_with_reasons(db, planner, small_day):
    """Every booking is either routed or unassigned with a Chinese reason; the crew-2 clean
    has two caregivers at one time; the elder who asked for a woman gets a woman; the bath
    goes to the only bath aide whose provider delivers baths."""
    plan = await solved(db, planner, small_day)
    b, cg = small_day.bookings, small_day.caregivers
    assert plan.status is PlanStatus.DRAFT and plan.progress == 1 and plan.version == 1
    assert {u.booking_id: u.reason for u in plan.unassigned} == {b["nursing"]: "not_qualified"}
    assert "护士" in plan.unassigned[0].reason_zh
    crew, visit = where(plan, b["deep_clean"])
    assert len(crew) == 2 and visit.planned_start >= local_instant(small_day.day, time(13))
    assert where(plan, b["bath"])[0] == [cg["刘芳"]]
    assert where(plan, b["clean_for_her"])[0] != [cg["陈强"]]
    assert plan.stats.assigned == 5 and plan.stats.unassigned == 1 and plan.stats.solver_status
    assert plan.stats.travel_minutes == sum(r.travel_minutes for r in plan.routes) > 0
    starts = [v.planned_start for r in plan.routes for v in r.visits]
    assert starts and all(t.second == 0 and t.microsecond == 0 for t in starts)  # on the minute


async def test_edit_reoptimize_publish(db, conn, planner, small_day):
    """Pin the meal to 陈强 at 11:10, forbid 刘芳 the morning clean, take the other clean out;
    the re-optimised version keeps all three; publishing writes visits (two for the crew-2
    clean), schedules bookings, and tells elder, family and caregivers."""
    b, cg, actor = small_day.bookings, small_day.caregivers, small_day.users["dispatcher"]
    first = await solved(db, planner, small_day)
    pin_at = local_instant(small_day.day, time(11, 10))
    for edit in (EditCommand(booking_id=b["meal"], caregiver_id=cg["陈强"], planned_start=time(11, 10)),
                 EditCommand(booking_id=b["clean_for_her"], caregiver_id=cg["刘芳"], action=EditAction.FORBID),
                 EditCommand(booking_id=b["clean"], caregiver_id=None)):
        await service.add_edit(db, actor=actor, plan_id=first.id, edit=edit)
    second = await service.reoptimize(db, planner, actor=actor, plan_id=first.id)
    await planner.wait_idle()
    view = await service.get_plan(db, actor=actor, plan_id=second.id)
    plan = view.plan
    assert (plan.version, plan.parent_id, plan.status) == (2, first.id, PlanStatus.DRAFT)
    crew, meal = where(plan, b["meal"])
    assert crew == [cg["陈强"]] and meal.planned_start == pin_at and meal.pinned
    assert cg["刘芳"] not in where(plan, b["clean_for_her"])[0]
    assert {u.booking_id: u.reason for u in plan.unassigned}[b["clean"]] == "unassigned_by_dispatcher"
    assert {c.kind for c in view.affected} == {"scheduled"}  # nothing published yet

    result = await service.publish_plan(db, actor=actor, plan_id=second.id)
    assert result.plan.status is PlanStatus.PUBLISHED and result.visits_written == 5
    visits = await conn.fetch("SELECT booking_id, caregiver_id FROM visits WHERE plan_id = $1", second.id)
    assert sum(1 for v in visits if v["booking_id"] == b["deep_clean"]) == 2
    booking = await conn.fetchrow("SELECT status, caregiver_id, planned_start FROM bookings WHERE id = $1", b["meal"])
    assert (booking["status"], booking["caregiver_id"], booking["planned_start"]) == ("scheduled", cg["陈强"], pin_at)
    assert await conn.fetchval("SELECT status FROM bookings WHERE id = $1", b["clean"]) == "pending"
    notes = await conn.fetch("SELECT * FROM notifications WHERE booking_id = $1 ORDER BY id", b["bath"])
    assert [(n["resident_id"] is not None, n["user_id"] is not None, n["caregiver_id"]) for n in notes] == [
        (True, False, None), (False, True, None), (False, False, cg["刘芳"])]
    assert notes[0]["message"].startswith("【一刻钟服务圈】孙阿姨您好，您预约的") and notes[0]["phone"]


async def test_republish_supersedes_and_keeps_unchanged_visits(db, conn, planner, small_day):
    """Publishing v2 over v1: v1 superseded; unchanged bookings keep their visit row (a
    caregiver's open day sheet stays valid); only changed bookings are notified again."""
    actor, b = small_day.users["dispatcher"], small_day.bookings
    first = await solved(db, planner, small_day)
    await service.publish_plan(db, actor=actor, plan_id=first.id)
    before = {r["booking_id"]: r["id"] for r in await conn.fetch(
        "SELECT id, booking_id FROM visits WHERE released_at IS NULL AND crew_member = 1")}
    crew, bath = where(first, b["bath"])
    await service.add_edit(db, actor=actor, plan_id=(await solved(db, planner, small_day)).id,
                           edit=EditCommand(booking_id=b["clean"], caregiver_id=None))
    third = (await service.list_plans(db, actor=actor, circle_id=None, day=small_day.day))[0]
    assert third.version == 2 and third.parent_id == first.id
    redo = await service.reoptimize(db, planner, actor=actor, plan_id=third.id)
    await planner.wait_idle()
    notified = await conn.fetchval("SELECT count(*) FROM notifications")
    result = await service.publish_plan(db, actor=actor, plan_id=redo.id)
    assert result.superseded_id == first.id
    assert await conn.fetchval("SELECT status FROM plans WHERE id = $1", first.id) == "superseded"
    assert [(c.booking_id, c.kind) for c in result.changed if c.booking_id == b["clean"]] == [(b["clean"], "unscheduled")]
    after = {r["booking_id"]: r["id"] for r in await conn.fetch(
        "SELECT id, booking_id FROM visits WHERE released_at IS NULL AND crew_member = 1")}
    unchanged = {c for c in before if c not in {x.booking_id for x in result.changed}}
    assert unchanged and all(after[c] == before[c] for c in unchanged)
    assert b["clean"] not in after
    assert await conn.fetchval("SELECT count(*) FROM notifications") > notified


async def test_publish_is_atomic_when_a_caregiver_is_already_busy(db, conn, crypto, planner, small_day):
    """刘芳 (the only bath aide) already has an active visit at the bath's time in another
    circle: the database refuses the overlapping visit, publishing answers 409 naming her, and
    nothing changed: no visit written, no booking scheduled, no message, the plan still a draft."""
    plan = await solved(db, planner, small_day)
    crew, bath = where(plan, small_day.bookings["bath"])
    other = await factories.make_circle(conn)
    elsewhere = await factories.make_resident(conn, crypto, circle_id=other)
    busy = await make_booking(conn, elsewhere, "C01", small_day.day, time(8), time(12))
    await provider_service.write_visits(conn, plan_id=None, visits=[PlannedVisit(
        busy, crew[0], 1, 1, bath.planned_start - timedelta(minutes=10), bath.planned_start + timedelta(minutes=10))])
    with pytest.raises(Conflict) as refused:
        await service.publish_plan(db, actor=small_day.users["dispatcher"], plan_id=plan.id)
    assert refused.value.status == 409 and refused.value.code == "caregiver_double_booked"
    assert "刘芳" in refused.value.message_zh and refused.value.details[0]["conflicts_with_booking_id"] == busy
    assert await conn.fetchval("SELECT count(*) FROM visits WHERE plan_id = $1", plan.id) == 0
    assert await conn.fetchval("SELECT count(*) FROM bookings WHERE status = 'scheduled'") == 0
    assert await conn.fetchval("SELECT count(*) FROM notifications") == 0
    assert await conn.fetchval("SELECT status FROM plans WHERE id = $1", plan.id) == "draft"


async def test_same_day_replan_keeps_frozen_visits_and_repools_the_sick(db, conn, planner, runner, small_day):
    """At 10:00 with a 30-minute freeze: the checked-in bath stays (and its visit row is not
    touched by publishing); the sick caregiver's later visits move to others; a booking made
    this morning is planned; a cancelled one is dropped; `affected` lists who moved."""
    actor, b, day = small_day.users["dispatcher"], small_day.bookings, small_day.day
    first = await solved(db, planner, small_day)
    await service.publish_plan(db, actor=actor, plan_id=first.id)
    bath_visit = await conn.fetchval("SELECT id FROM visits WHERE booking_id = $1", b["bath"])
    await conn.execute("UPDATE visits SET check_in_at = planned_start WHERE id = $1", bath_visit)
    await conn.execute("UPDATE bookings SET status = 'in_progress' WHERE id = $1", b["bath"])
    sick = where(first, b["deep_clean"])[0][0]
    await conn.execute("UPDATE bookings SET status = 'cancelled' WHERE id = $1", b["meal"])
    late = await make_booking(conn, small_day.residents["李建国"], "C01", day, time(14), time(16))
    plan = await service.replan(db, planner, actor=actor, circle_id=small_day.circle_id, day=day,
                                sick_caregiver_ids=[sick], solution_limit=FAST, today=day - timedelta(days=1))
    await run_plan(db, plan.id, pool=runner, now=local_instant(day, time(10)))
    await planner.wait_idle()
    view = await service.get_plan(db, actor=actor, plan_id=plan.id)
    replanned = view.plan
    assert replanned.status is PlanStatus.DRAFT and replanned.freeze_at == local_instant(day, time(10, 30))
    crew, bath = where(replanned, b["bath"])
    assert bath.frozen and crew == where(first, b["bath"])[0]
    assert all(sick not in where(replanned, x)[0] for x in (b["deep_clean"], b["nursing"], late))
    assert where(replanned, late)[0] and not where(replanned, b["meal"])[0]
    assert b["deep_clean"] in {c.booking_id for c in view.affected if c.kind == "moved"}
    await service.publish_plan(db, actor=actor, plan_id=plan.id)
    assert await conn.fetchval("SELECT released_at IS NULL FROM visits WHERE id = $1", bath_visit)


async def test_cancel_a_solving_plan_keeps_the_best_so_far(db, planner, runner, small_day):
    """A 60-second search cancelled after its first heartbeat stops within seconds; with
    keep_best the best plan found so far becomes the draft. A queued plan cancels at once."""
    actor = small_day.users["dispatcher"]
    data = dict(circle_id=small_day.circle_id, day=small_day.day, time_limit_s=60)
    queued = await service.request_plan(db, _NoSubmit(), actor=actor, **data)
    assert (await service.cancel_plan(db, actor=actor, plan_id=queued.id)).status is PlanStatus.FAILED
    plan = await service.request_plan(db, _NoSubmit(), actor=actor, **data)
    task = asyncio.create_task(run_plan(db, plan.id, pool=runner, heartbeat_s=0.2))
    await _until(db, actor, plan.id, lambda p: p.status is PlanStatus.SOLVING)
    await service.cancel_plan(db, actor=actor, plan_id=plan.id, keep_best=True)
    await asyncio.wait_for(task, 10)
    done = (await service.get_plan(db, actor=actor, plan_id=plan.id)).plan
    assert done.status is PlanStatus.DRAFT and done.stats.solver_status == "cancelled"
    assert done.stats.solve_seconds < 10 and done.stats.assigned == 5


async def test_redis_down_solves_in_process(db, runner, small_day):
    """A Redis client on a closed port: submit falls back to solving here; the plan finishes."""
    dead = create_redis("redis://127.0.0.1:1/0", timeout_s=0.2)
    planner = JobSubmitter(db, dead, runner, heartbeat_s=0.2)
    try:
        plan = await service.request_plan(db, planner, actor=small_day.users["dispatcher"],
                                          circle_id=small_day.circle_id, day=small_day.day, solution_limit=FAST)
        await planner.wait_idle()
        async with db.connection() as conn:
            assert (await queries.plan(conn, plan.id)).status is PlanStatus.DRAFT
    finally:
        await planner.close()
        await dead.aclose()


async def test_other_circles_plans_are_not_found(db, conn, planner, small_day):
    plan = await solved(db, planner, small_day)
    stranger = await factories.make_user(conn, "dispatcher", circle_id=await factories.make_circle(conn))
    with pytest.raises(ApiError) as missing:
        await service.get_plan(db, actor=stranger, plan_id=plan.id)
    assert missing.value.status == 404


class _NoSubmit:
    async def submit(self, plan_id: int) -> str:
        return "held"


async def _until(db, actor, plan_id, condition, timeout_s: float = 10.0):
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        plan = (await service.get_plan(db, actor=actor, plan_id=plan_id)).plan
        if condition(plan):
            return plan
        await asyncio.sleep(0.05)
    raise AssertionError(f"plan {plan_id} never reached the expected state")
