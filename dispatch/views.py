"""Dispatch routes: parse, one service call, respond."""
from __future__ import annotations

import json
from contextlib import aclosing

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from core import keys
from core.fields import Id
from core.roles import PLANNERS
from core.http import current_user, endpoint, parse_body, parse_query, path_id, respond
from dispatch import events, service
from dispatch.jobs.submit import QueueOnly
from dispatch.schemas import (AffectedRead, CancelBody, EditCreate, EditRead, PlanCreate, PlanList, PlanQuery,
                              PlanQueued, PlanRead, PlanSummary, PublishRead, ReoptimizeBody, ReplanCreate)

routes = web.RouteTableDef()


def _db(request: web.Request):
    return request.config_dict[keys.DB]


def _jobs(request: web.Request):
    """The app's JobSubmitter (dispatch.jobs.lifecycle.background_ctx installs it); without one,
    plans are only queued for a separate worker."""
    return request.config_dict.get(keys.PLANNER) or QueueOnly(request.config_dict.get(keys.REDIS))


def _queued(plan) -> web.Response:
    return respond(PlanQueued(id=plan.id, status=plan.status.value, version=plan.version,
                              parent_id=plan.parent_id, kind=plan.kind.value), status=202)


@routes.post("/plans")
@endpoint(roles=PLANNERS, summary="Plan a circle-day with OR-Tools (solved in the background)",
          body=PlanCreate, response=PlanQueued, status=202)
async def create_plan(request: web.Request) -> web.Response:
    body = await parse_body(request, PlanCreate)
    plan = await service.request_plan(_db(request), _jobs(request), actor=current_user(request),
                                      circle_id=body.circle_id, day=body.date, time_limit_s=body.time_limit_s,
                                      solution_limit=body.solution_limit, seed=body.seed)
    return _queued(plan)


@routes.get("/plans")
@endpoint(roles=PLANNERS, summary="Plan versions of a circle (and day), newest first", query=PlanQuery,
          response=PlanList)
async def list_plans(request: web.Request) -> web.Response:
    q = parse_query(request, PlanQuery)
    plans = await service.list_plans(_db(request), actor=current_user(request), circle_id=q.circle_id, day=q.date)
    return respond(PlanList(plans=[PlanSummary.of(p) for p in plans]))


@routes.post("/plans/replan")
@endpoint(roles=PLANNERS, summary="Re-plan the current day from the published plan (freeze, sick caregivers)",
          body=ReplanCreate, response=PlanQueued, status=202)
async def replan(request: web.Request) -> web.Response:
    body = await parse_body(request, ReplanCreate)
    plan = await service.replan(_db(request), _jobs(request), actor=current_user(request), circle_id=body.circle_id,
                                day=body.date, freeze_minutes=body.freeze_minutes,
                                sick_caregiver_ids=body.sick_caregiver_ids, time_limit_s=body.time_limit_s,
                                solution_limit=body.solution_limit, seed=body.seed)
    return _queued(plan)


@routes.get("/plans/{id}")
@endpoint(roles=PLANNERS, summary="One plan: routes, unassigned bookings with reasons, statistics",
          response=PlanRead)
async def get_plan(request: web.Request) -> web.Response:
    view = await service.get_plan(_db(request), actor=current_user(request), plan_id=path_id(request))
    return respond(PlanRead.of_view(view.plan, view.edits, view.affected, view.changes, view.waiting))


@routes.post("/plans/{id}/cancel")
@endpoint(roles=PLANNERS, summary="Stop a queued or solving plan", body=CancelBody, response=PlanSummary)
async def cancel_plan(request: web.Request) -> web.Response:
    body = await parse_body(request, CancelBody)
    plan = await service.cancel_plan(_db(request), actor=current_user(request), plan_id=path_id(request),
                                     keep_best=body.keep_best)
    return respond(PlanSummary.of(plan))


@routes.post("/plans/{id}/edits")
@endpoint(roles=PLANNERS, summary="Pin, move, unassign or forbid on a draft (honoured by reoptimize)",
          body=EditCreate, response=EditRead, status=201)
async def add_edit(request: web.Request) -> web.Response:
    body = await parse_body(request, EditCreate)
    edit = await service.add_edit(_db(request), actor=current_user(request), plan_id=path_id(request),
                                  edit=body.command())
    return respond(EditRead.of(edit), status=201)


@routes.post("/plans/{id}/reoptimize")
@endpoint(roles=PLANNERS, summary="A new draft version keeping pins and honouring the edits",
          body=ReoptimizeBody, response=PlanQueued, status=202)
async def reoptimize(request: web.Request) -> web.Response:
    body = await parse_body(request, ReoptimizeBody)
    plan = await service.reoptimize(_db(request), _jobs(request), actor=current_user(request),
                                    plan_id=path_id(request), time_limit_s=body.time_limit_s,
                                    solution_limit=body.solution_limit)
    return _queued(plan)


@routes.post("/plans/{id}/publish")
@endpoint(roles=PLANNERS, summary="Publish a draft atomically: visits written, bookings scheduled, "
                                  "elders, families and caregivers notified", response=PublishRead)
async def publish(request: web.Request) -> web.Response:
    result = await service.publish_plan(_db(request), actor=current_user(request), plan_id=path_id(request))
    return respond(PublishRead(plan=PlanSummary.of(result.plan), superseded_id=result.superseded_id,
                               changed=[AffectedRead.of(c) for c in result.changed],
                               skipped_booking_ids=result.skipped_booking_ids,
                               visits_written=result.visits_written, notifications=result.notifications))


@routes.get("/plans/{id}/events")
@endpoint(roles=PLANNERS, summary="Server-sent events: progress while solving, then the final status",
          content_type="text/event-stream")
async def plan_events(request: web.Request) -> web.StreamResponse:
    plan = await service.open_plan_events(_db(request), actor=current_user(request), plan_id=path_id(request))
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    stream = events.plan_events(_db(request), events.subscriber(request.config_dict.get(keys.REDIS)), plan)
    async with aclosing(stream):  # a client that goes away also ends the Redis subscription
        async for name, data in stream:
            await response.write(_sse(name, data))
    await response.write_eof()
    return response


def _sse(name: str, data: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n".encode()


class LiveAlertsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    circle_id: Id | None = None
    timeout_s: int = Field(default=3600, ge=0, le=3600, description="seconds before the stream ends (reconnect)")


@routes.get("/alerts/live")
@endpoint(roles=PLANNERS, summary="Server-sent events: the dispatcher's live alerts (a visit nobody checked into "
          "CIRCLE_NOSHOW_AFTER_MIN minutes after its planned start), `ping` every 15 s",
          query=LiveAlertsQuery, content_type="text/event-stream")
async def live_alerts(request: web.Request) -> web.StreamResponse:
    q = parse_query(request, LiveAlertsQuery)
    circle_ids = await service.alert_circles(_db(request), actor=current_user(request), circle_id=q.circle_id)
    standing = await service.standing_alerts(_db(request), circle_ids=circle_ids)   # before any byte is sent
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    stream = events.live_alerts(request.config_dict.get(keys.REDIS), circle_ids, timeout_s=q.timeout_s,
                                standing=standing)
    async with aclosing(stream):
        async for name, data in stream:
            await response.write(_sse(name, data))
    await response.write_eof()
    return response
