"""Only the newest version of a circle-day can be published (issue 12, Found 3).

Publishing an older version after a newer one, or one of two drafts published at the same
moment, answers 409 `plan_outdated` naming the newest version, and changes nothing.
"""
from __future__ import annotations

import asyncio

import pytest

from core import keys
from core.errors import ApiError
from dispatch import service
from dispatch.models import PlanStatus
from tests.dispatch.conftest import FAST, build_small_day


async def _two_drafts(db, planner, small):
    """Versions 1 and 2 of the small day, both solved into drafts."""
    actor = small.users["dispatcher"]
    drafts = []
    for _ in range(2):
        plan = await service.request_plan(db, planner, actor=actor, circle_id=small.circle_id, day=small.day,
                                          solution_limit=FAST)
        drafts.append(plan)
    await planner.wait_idle()
    return drafts


async def _state(db) -> dict:
    async with db.connection() as conn:
        return {"plans": [tuple(r) for r in await conn.fetch("SELECT id, status FROM plans ORDER BY id")],
                "visits": await conn.fetchval("SELECT count(*) FROM visits"),
                "scheduled": await conn.fetchval("SELECT count(*) FROM bookings WHERE status = 'scheduled'"),
                "notifications": await conn.fetchval("SELECT count(*) FROM notifications")}


async def test_publishing_an_older_version_after_a_newer_one_is_refused(db, planner, small_day):
    """v2 is published; publishing v1 then answers 409 plan_outdated naming v2, and nothing
    changes: no visit, booking, plan status or message."""
    actor = small_day.users["dispatcher"]
    v1, v2 = await _two_drafts(db, planner, small_day)
    await service.publish_plan(db, actor=actor, plan_id=v2.id)
    before = await _state(db)
    with pytest.raises(ApiError) as refused:
        await service.publish_plan(db, actor=actor, plan_id=v1.id)
    error = refused.value.body()["error"]
    assert refused.value.status == 409 and error["code"] == "plan_outdated"
    assert (error["newest_id"], error["newest_version"]) == (v2.id, 2)
    assert error["message_zh"] and "2" in error["message"]
    assert await _state(db) == before


async def test_the_409_over_http_names_the_newest_version(planning_client, db, small_day):
    """POST /plans/{id}/publish of an older draft: 409 with code, newest_id and newest_version."""
    from tests.conftest import login

    planner = planning_client.app[keys.PLANNER]
    v1, v2 = await _two_drafts(db, planner, small_day)
    response = await planning_client.post(f"/api/v1/plans/{v1.id}/publish",
                                          headers=await login(planning_client, "plan-dispatcher"))
    assert response.status == 409
    error = (await response.json())["error"]
    assert (error["code"], error["newest_id"], error["newest_version"]) == ("plan_outdated", v2.id, 2)
    assert error["message"] and error["message_zh"]


async def test_two_drafts_published_at_once_exactly_one_wins(committed_db, crypto, tomorrow, runner):
    """Two drafts of one circle-day published concurrently on separate connections: exactly
    one is published, the other answers 409 naming the winner; one published plan remains."""
    from dispatch.jobs.submit import JobSubmitter

    async with committed_db.transaction() as conn:
        small = await build_small_day(conn, crypto, tomorrow)
    submitter = JobSubmitter(committed_db, None, runner, use_queue=False, heartbeat_s=0.2)
    try:
        v1, v2 = await _two_drafts(committed_db, submitter, small)
    finally:
        await submitter.close()
    actor = small.users["dispatcher"]
    results = await asyncio.gather(*(service.publish_plan(committed_db, actor=actor, plan_id=p.id)
                                     for p in (v1, v2)), return_exceptions=True)
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1 and len(lost) == 1, results
    assert isinstance(lost[0], ApiError) and lost[0].body()["error"]["code"] == "plan_outdated"
    assert won[0].plan.id == v2.id and lost[0].body()["error"]["newest_id"] == v2.id
    async with committed_db.connection() as conn:
        statuses = dict(await conn.fetch("SELECT id, status FROM plans"))
    assert statuses == {v1.id: PlanStatus.DRAFT.value, v2.id: PlanStatus.PUBLISHED.value}


async def test_newer_versions_not_solved_do_not_block_publishing(db, planner, small_day):
    """Only solved versions count: a newer version that failed (cancelled) or is still queued
    leaves the draft publishable; once a newer version is a draft, it blocks the older one."""
    actor, ids = small_day.users["dispatcher"], dict(circle_id=small_day.circle_id, day=small_day.day)
    v1, v2 = await _two_drafts(db, planner, small_day)
    cancelled = await service.request_plan(db, _Held(), actor=actor, **ids)
    await service.cancel_plan(db, actor=actor, plan_id=cancelled.id)
    await service.request_plan(db, _Held(), actor=actor, **ids)                   # v4, queued for ever
    with pytest.raises(ApiError) as refused:
        await service.publish_plan(db, actor=actor, plan_id=v1.id)
    assert refused.value.body()["error"]["newest_version"] == 2                    # v2 is a draft: newer
    result = await service.publish_plan(db, actor=actor, plan_id=v2.id)
    assert result.plan.status is PlanStatus.PUBLISHED and result.superseded_id is None


class _Held:
    async def submit(self, plan_id: int) -> str:
        return "held"
