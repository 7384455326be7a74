"""Dispatch use cases: request a plan, re-optimise, re-plan the day, cancel, read, edit,
publish. Each public function owns its transaction(s); helpers take a connection. Plain
keyword arguments (or `dispatch.models.EditCommand`) in, domain models out: pydantic and JSON
stay in schemas.py and views.py.

Solving a queued plan is not a use case a caller waits for: the job runner (dispatch/jobs/)
does it, fed through the `Submitter` every request use case hands its new plan to.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

import asyncpg

from core import outbox
from core.roles import circle_for
from core.users import User
from core.clock import LOCAL_TZ, local_instant, local_today, utc_now
from core.db import Database
from core.errors import ApiError, Conflict, invalid_field, not_found
from booking import service as booking_service
from dispatch import access, queries
from dispatch import messages as plan_messages
from dispatch.changes import changes
from dispatch.continuity import change_counts
from dispatch.models import (DEFAULT_FREEZE_MINUTES, Assignment, CancelMode, Change, EditAction, EditCommand, Plan,
                             PlanEdit, PlanKind, PlanStatus)
from dispatch.notify import Message, messages_for
from dispatch.problem_builder import eligible
from providers import queries as provider_queries
from providers import service as provider_service
from providers.models import PlannedVisit

HORIZON_DAYS = 31
DEFAULT_TIME_LIMIT_S = 10


class Submitter(Protocol):
    """Whatever gets a queued plan solved (dispatch.jobs.submit.JobSubmitter, QueueOnly)."""

    async def submit(self, plan_id: int) -> str: ...

# ------------------------------------------------------------------ who may see a plan


async def _visible_plan(conn: asyncpg.Connection, actor: User, plan_id: int, *, for_update: bool = False) -> Plan:
    plan = await queries.plan(conn, plan_id, for_update=for_update)
    if plan is None or not access.may_see_plan(actor, plan.circle_id):
        raise not_found("plan", plan_id, "排班方案")
    return plan

# ------------------------------------------------------------------ requesting a plan


async def request_plan(db: Database, jobs: Submitter, *, actor: User, circle_id: int, day: date,
                       time_limit_s: int = DEFAULT_TIME_LIMIT_S, solution_limit: int | None = None, seed: int = 0,
                       today: date | None = None) -> Plan:
    """Queue a plan for a circle-day (a new version) and hand it to `jobs`.

    A published plan of the same circle-day becomes the parent (the warm start). `time_limit_s`:
    seconds the search may run; `solution_limit`: stop after that many improving solutions
    (reproducible runs); `seed`: the search's random seed.
    """
    _check_plan_date(day, today or local_today())
    async with db.transaction() as conn:
        await _check_circle(conn, actor, circle_id)
        await queries.lock_circle_day(conn, circle_id, day)
        published = await queries.published_plan(conn, circle_id, day)
        plan = await queries.insert_plan(
            conn, circle_id=circle_id, day=day, parent_id=published.id if published else None,
            kind=PlanKind.PLAN, time_limit_s=time_limit_s, created_by=actor.id,
            options=_solve_options(solution_limit, seed))
    await jobs.submit(plan.id)
    return plan


def _solve_options(solution_limit: int | None, seed: int, **more: Any) -> dict[str, Any]:
    options = {"seed": seed, **more}
    if solution_limit is not None:
        options["solution_limit"] = solution_limit
    return options


def _check_plan_date(day: date, today: date, field_name: str = "date") -> None:
    if day < today:
        raise invalid_field(field_name, day.isoformat(), "must be today or later", "排班日期不能早于今天")
    if day > today + timedelta(days=HORIZON_DAYS):
        raise invalid_field(field_name, day.isoformat(), f"must be at most {HORIZON_DAYS} days ahead",
                            f"只能为{HORIZON_DAYS}天以内排班")


async def _check_circle(conn: asyncpg.Connection, actor: User, circle_id: int) -> None:
    access.check_circle(actor, circle_id)
    if not await queries.circle_exists(conn, circle_id):
        raise invalid_field("circle_id", circle_id, "no such service circle", "没有这个服务圈")


async def reoptimize(db: Database, jobs: Submitter, *, actor: User, plan_id: int,
                     time_limit_s: int | None = None, solution_limit: int | None = None) -> Plan:
    """A new draft version from a draft (or published) plan: its routes are the warm start,
    its edits (and its ancestors') are kept; re-plan options (freeze, sick caregivers) carry over."""
    async with db.transaction() as conn:
        source = await _visible_plan(conn, actor, plan_id)
        if source.status not in (PlanStatus.DRAFT, PlanStatus.PUBLISHED):
            raise Conflict(f"only a draft or published plan can be re-optimised (this one is {source.status})",
                           message_zh="只有草稿或已发布的方案可以重新优化", code="plan_not_ready")
        await queries.lock_circle_day(conn, source.circle_id, source.service_date)
        options = dict(source.options)
        if solution_limit is not None:
            options["solution_limit"] = solution_limit
        plan = await queries.insert_plan(
            conn, circle_id=source.circle_id, day=source.service_date, parent_id=source.id,
            kind=PlanKind.REOPTIMIZE, time_limit_s=time_limit_s or source.time_limit_s, options=options,
            created_by=actor.id)
    await jobs.submit(plan.id)
    return plan


async def replan(db: Database, jobs: Submitter, *, actor: User, circle_id: int, day: date | None = None,
                 freeze_minutes: int = DEFAULT_FREEZE_MINUTES, sick_caregiver_ids: Iterable[int] = (),
                 time_limit_s: int = DEFAULT_TIME_LIMIT_S, solution_limit: int | None = None, seed: int = 0,
                 today: date | None = None) -> Plan:
    """A same-day re-plan from the published plan (`day`: default today): what has started or
    starts within `freeze_minutes` stays, sick caregivers' unstarted visits go back into the
    pool, new pending bookings come in, cancelled ones drop out. The result is a draft: publish
    it like any other."""
    day = day or (today or local_today())
    _check_plan_date(day, today or local_today())
    async with db.transaction() as conn:
        await _check_circle(conn, actor, circle_id)
        await queries.lock_circle_day(conn, circle_id, day)
        published = await queries.published_plan(conn, circle_id, day)
        if published is None:
            raise Conflict("nothing is published for that circle and day: create a plan instead",
                           message_zh="该服务圈当天还没有发布的排班，请直接生成排班", code="no_published_plan")
        plan = await queries.insert_plan(
            conn, circle_id=circle_id, day=day, parent_id=published.id, kind=PlanKind.REPLAN,
            time_limit_s=time_limit_s, created_by=actor.id,
            options=_solve_options(solution_limit, seed, freeze_minutes=freeze_minutes,
                                   sick_caregiver_ids=sorted(set(sick_caregiver_ids))))
    await jobs.submit(plan.id)
    return plan


async def cancel_plan(db: Database, *, actor: User, plan_id: int, keep_best: bool = False) -> Plan:
    """Stop a queued or solving plan. Queued: it ends failed at once. Solving: the runner stops
    the search within about a second; the plan ends failed, or with `keep_best` a draft of the
    best plan found so far."""
    mode = CancelMode.KEEP_BEST if keep_best else CancelMode.DISCARD
    async with db.transaction() as conn:
        plan = await _visible_plan(conn, actor, plan_id, for_update=True)
        if plan.status.finished:
            raise Conflict(f"the plan is already {plan.status}", message_zh="该方案已结束计算，无法取消",
                           code="plan_finished")
        await queries.request_cancel(conn, plan_id, mode.value)
        if plan.status is PlanStatus.QUEUED:
            await queries.fail_plan(conn, plan_id, "cancelled by the dispatcher before solving")
        return await queries.plan(conn, plan_id)

# ------------------------------------------------------------------ reading


@dataclass(frozen=True)
class PlanView:
    plan: Plan
    edits: list[PlanEdit]
    affected: list[Change]
    changes: dict[str, int] | None = None  # dispatch.continuity.change_counts of `affected`
    waiting: list[int] = field(default_factory=list)  # published: pending bookings made after it (queries.bookings_waiting)


async def get_plan(db: Database, *, actor: User, plan_id: int) -> PlanView:
    """A plan with its own edits and what it changes: for a draft, against the published plan
    of its circle-day (what publishing would change); otherwise against its parent."""
    async with db.connection() as conn:
        plan = await _visible_plan(conn, actor, plan_id)
        edits = await queries.edits_of(conn, plan_id)
        base = await _comparison_base(conn, plan)
        waiting = (await queries.bookings_waiting(conn, plan.circle_id, plan.service_date, plan.id)
                   if plan.status is PlanStatus.PUBLISHED else [])
    affected = _affected(plan, base)
    counts = change_counts({c.booking_id: c.old for c in affected if c.old},
                           {c.booking_id: c.new for c in affected if c.new}) if _solved(plan) else None
    return PlanView(plan, edits, affected, counts, waiting)


async def _comparison_base(conn: asyncpg.Connection, plan: Plan) -> Plan | None:
    """A draft is compared with the published plan (none: everything is new); a published or
    superseded plan with its parent."""
    if plan.status is PlanStatus.DRAFT:
        return await queries.published_plan(conn, plan.circle_id, plan.service_date)
    return await queries.plan(conn, plan.parent_id) if plan.parent_id else None


def _solved(plan: Plan) -> bool:
    return plan.status.finished and plan.status is not PlanStatus.FAILED


def _affected(plan: Plan, base: Plan | None) -> list[Change]:
    if not _solved(plan):
        return []
    return changes(base.assignments() if base else {}, plan.assignments())


async def list_plans(db: Database, *, actor: User, circle_id: int | None, day: date | None) -> list[Plan]:
    """The versions of the caller's circle(s), newest first (optionally one circle-day)."""
    async with db.connection() as conn:
        return await queries.plans_of(conn, circle_id=access.plans_circle(actor, circle_id), day=day)

# ------------------------------------------------------------------ dispatcher edits


async def add_edit(db: Database, *, actor: User, plan_id: int, edit: EditCommand) -> PlanEdit:
    """Record a dispatcher's edit on a draft; `reoptimize` then honours it (dispatch/edits.py)."""
    async with db.transaction() as conn:
        plan = await _visible_plan(conn, actor, plan_id)
        if plan.status is not PlanStatus.DRAFT:
            raise Conflict(f"edits apply to a draft (this plan is {plan.status})",
                           message_zh="只能修改草稿方案", code="plan_not_draft")
        action = _edit_action(edit)
        _check_booking_in_plan(plan, edit.booking_id)
        if edit.caregiver_id is not None:
            await _check_caregiver_for(conn, plan, edit.booking_id, edit.caregiver_id, action)
        return await queries.insert_edit(
            conn, plan_id=plan_id, booking_id=edit.booking_id, action=action, caregiver_id=edit.caregiver_id,
            pinned_start=_pinned_start(plan, edit) if action is EditAction.PIN else None, created_by=actor.id)


def _edit_action(edit: EditCommand) -> EditAction:
    """The explicit action, or: a caregiver → pin (pin=true) or move; none → unassign (or a
    time-only pin when planned_start is given)."""
    if edit.action is not None:
        if edit.action in (EditAction.FORBID, EditAction.MOVE) and edit.caregiver_id is None:
            raise invalid_field("caregiver_id", None, f"{edit.action.value} needs a caregiver", "请指定护理员")
        return edit.action
    if edit.caregiver_id is None:
        return EditAction.PIN if edit.planned_start is not None else EditAction.UNASSIGN
    return EditAction.PIN if edit.pin else EditAction.MOVE


def _check_booking_in_plan(plan: Plan, booking_id: int) -> None:
    known = set(plan.assignments()) | {u.booking_id for u in plan.unassigned}
    if booking_id not in known:
        raise invalid_field("booking_id", booking_id, "is not in this plan", "该预约不在此方案中")


async def _check_caregiver_for(conn: asyncpg.Connection, plan: Plan, booking_id: int, caregiver_id: int,
                               action: EditAction) -> None:
    caregiver = await provider_queries.caregiver(conn, caregiver_id)
    if caregiver is None or caregiver.circle_id != plan.circle_id:
        raise invalid_field("caregiver_id", caregiver_id, "is not a caregiver of this circle", "该护理员不属于本服务圈")
    if action is EditAction.FORBID:
        return
    booking = next((b for b in await queries.bookings_of_day(conn, plan.circle_id, plan.service_date)
                    if b.id == booking_id), None)
    if booking is not None and not eligible(booking, caregiver):
        raise invalid_field("caregiver_id", caregiver_id,
                            f"cannot serve {booking.item_code}: qualification {booking.qualification}, the "
                            f"provider's items or the elder's gender preference rule it out",
                            "该护理员不具备此服务的资质、服务商不提供此项目或不符合老人的性别要求")


def _pinned_start(plan: Plan, edit: EditCommand) -> datetime | None:
    value = edit.planned_start
    if value is None:
        return None
    instant = local_instant(plan.service_date, value) if not isinstance(value, datetime) else value
    if instant.astimezone(LOCAL_TZ).date() != plan.service_date:
        raise invalid_field("planned_start", value.isoformat(), f"must be on the plan's day {plan.service_date}",
                            "固定时间须在方案当天")
    return instant

# ------------------------------------------------------------------ publishing


@dataclass(frozen=True)
class PublishResult:
    plan: Plan
    superseded_id: int | None
    changed: list[Change]
    skipped_booking_ids: list[int]
    visits_written: int
    notifications: int


async def publish_plan(db: Database, *, actor: User, plan_id: int) -> PublishResult:
    """Publish a draft in ONE transaction, or change nothing.

    The published plan of the circle-day (if any) becomes superseded. For every booking that
    can still change (pending or scheduled, nobody checked in) and whose caregivers or start
    differ from its active visits: the old visits are released, the new ones written (two for a
    crew-2 item), the booking scheduled with its lead caregiver and start, or, left out of the
    plan, put back to pending. Unchanged bookings keep their visit rows (a caregiver's open day
    sheet stays valid). A new visit overlapping any active visit of the same caregiver is
    refused by the database (visits_no_double_booking): 409 and nothing changes. Every change
    queues messages to the elder, the family and the caregivers.

    Only the newest solved version of the circle-day (draft, published or superseded) may be
    published: an older one answers 409 `plan_outdated` naming the newest, so published versions
    only ever grow. The check runs under the circle-day lock, which every new version and every
    publish takes, so of two drafts published at the same moment exactly one wins. A newer
    version still queued or solving does not block (it may never finish); once it is a draft, it
    does.
    """
    async with db.transaction() as conn:
        plan = await _lock_for_publishing(conn, actor, plan_id)
        previous = await queries.published_plan(conn, plan.circle_id, plan.service_date, for_update=True)
        changeable = await queries.lock_changeable_bookings(conn, plan.circle_id, plan.service_date)
        old = current_assignments(await queries.active_visits(conn, plan.circle_id, plan.service_date))
        planned = plan.assignments()
        diff = changes(old, {b: a for b, a in planned.items() if b in changeable}, only=changeable)
        written = await _apply_changes(conn, plan, diff, changeable)
        if previous is not None:
            await queries.set_plan_status(conn, previous.id, PlanStatus.SUPERSEDED)
        await queries.set_plan_status(conn, plan.id, PlanStatus.PUBLISHED)
        sent = await plan_messages.queue_changes(conn, await _messages(conn, diff), now=utc_now(),
                                                 same_day=outbox.same_day(plan.service_date, utc_now()))
        sent += await plan_messages.queue_unplanned(conn, plan, diff, now=utc_now())
        skipped = sorted(b for b, a in planned.items() if b not in changeable and not _same_as(old.get(b), a))
        return PublishResult(await queries.plan(conn, plan.id), previous.id if previous else None, diff,
                             skipped, written, sent)


async def _lock_for_publishing(conn: asyncpg.Connection, actor: User, plan_id: int) -> Plan:
    """The plan to publish, its circle-day locked (first, the order every writer takes), the
    plan row locked, and checked: a draft, and the newest version of its circle-day."""
    seen = await _visible_plan(conn, actor, plan_id)
    await queries.lock_circle_day(conn, seen.circle_id, seen.service_date)
    plan = await queries.plan(conn, plan_id, for_update=True)
    if plan.status is not PlanStatus.DRAFT:
        raise Conflict(f"only a draft can be published (this plan is {plan.status})",
                       message_zh="只能发布草稿方案", code="plan_not_draft")
    newest = await queries.newest_plan(conn, plan.circle_id, plan.service_date)
    if newest is not None and newest.id != plan.id:
        raise PlanOutdated(plan, newest)
    return plan


class PlanOutdated(Conflict):
    """409: a newer version of the circle-day exists; the body names it (`newest_id`,
    `newest_version`, `newest_status`) so the console can open it."""

    code = "plan_outdated"

    def __init__(self, plan: Plan, newest: Plan):
        super().__init__(
            f"version {plan.version} is not the newest plan of {plan.service_date} for this circle: version "
            f"{newest.version} (plan {newest.id}, {newest.status}) is; publish that one",
            message_zh=f"该方案（第{plan.version}版）不是最新版本，当天最新的是第{newest.version}版，请发布最新版本")
        self.newest = newest

    def body(self) -> dict[str, Any]:
        body = super().body()
        body["error"].update(newest_id=self.newest.id, newest_version=self.newest.version,
                             newest_status=self.newest.status.value)
        return body


def _same_as(old: Assignment | None, new: Assignment) -> bool:
    return old is not None and set(old.caregiver_ids) == set(new.caregiver_ids) \
        and old.planned_start == new.planned_start


def current_assignments(active) -> dict[int, Assignment]:
    """Booking id → Assignment from the active visits (what caregivers hold right now)."""
    crews: dict[int, list] = {}
    for visit in active:
        crews.setdefault(visit.booking_id, []).append(visit)
    found = {}
    for booking_id, visits in crews.items():
        visits.sort(key=lambda v: v.crew_member)
        found[booking_id] = Assignment(booking_id, tuple(v.caregiver_id for v in visits),
                                       visits[0].planned_start, visits[0].planned_end)
    return found


async def _apply_changes(conn: asyncpg.Connection, plan: Plan, diff: list[Change],
                         changeable: dict[int, str]) -> int:
    """Release, write and (un)schedule for the changed bookings; returns visits written."""
    await provider_service.release_visits(conn, booking_ids=[c.booking_id for c in diff if c.old])
    visits = planned_visits(plan, {c.booking_id for c in diff if c.new})
    try:
        await provider_service.write_visits(conn, plan_id=plan.id, visits=visits)
    except ApiError as exc:
        if exc.code == "caregiver_double_booked":
            raise await _double_booking_conflict(conn, visits) from exc
        raise
    for change in diff:
        if change.new is not None:
            await booking_service.schedule_booking(conn, change.booking_id, caregiver_id=change.new.caregiver_ids[0],
                                                   planned_start=change.new.planned_start)
    for booking_id, status in changeable.items():
        if status == "scheduled" and booking_id not in plan.assignments():
            await booking_service.unschedule_booking(conn, booking_id)
    return len(visits)


def planned_visits(plan: Plan, booking_ids: set[int]) -> list[PlannedVisit]:
    """The providers' visits for these bookings, one per caregiver (crew-2: two)."""
    return [PlannedVisit(booking_id=v.booking_id, caregiver_id=route.caregiver_id, crew_member=v.crew_member,
                         position=position, planned_start=v.planned_start, planned_end=v.planned_end,
                         travel_minutes=v.travel_minutes)
            for route in plan.routes for position, v in enumerate(route.visits, start=1)
            if v.booking_id in booking_ids]


async def _double_booking_conflict(conn: asyncpg.Connection, visits: list[PlannedVisit]) -> Conflict:
    """The 409 for a refused publish, naming the caregivers and times that clash."""
    clashes = []
    for visit in visits:
        other = await queries.clashing_visit(conn, visit.caregiver_id, visit.planned_start, visit.planned_end)
        if other is not None:
            clashes.append({"field": "routes", "caregiver_id": visit.caregiver_id, "caregiver_name": other["name"],
                            "booking_id": visit.booking_id, "conflicts_with_booking_id": other["booking_id"],
                            "message": f"{other['name']} already has a visit "
                                       f"{other['planned_start'].astimezone(LOCAL_TZ):%H:%M}-"
                                       f"{other['planned_end'].astimezone(LOCAL_TZ):%H:%M}"})
    names = "、".join(sorted({c["caregiver_name"] for c in clashes})) or "护理员"
    return Conflict("a caregiver in the plan already has another visit at that time; nothing was published",
                    message_zh=f"{names}在该时段已有其他服务，方案未发布", code="caregiver_double_booked",
                    details=clashes)


async def _messages(conn: asyncpg.Connection, diff: list[Change]) -> list[Message]:
    if not diff:
        return []
    facts = await queries.booking_facts(conn, [c.booking_id for c in diff])
    people = await queries.caregiver_people(conn, sorted({cid for c in diff for side in (c.old, c.new)
                                                           if side for cid in side.caregiver_ids}))
    return [m for c in diff if c.booking_id in facts for m in messages_for(c, facts[c.booking_id], people)]

# ------------------------------------------------------------------ live events (SSE)


async def open_plan_events(db: Database, *, actor: User, plan_id: int) -> Plan:
    """The plan an event stream is about (404 before any byte is streamed)."""
    async with db.connection() as conn:
        return await _visible_plan(conn, actor, plan_id)


async def alert_circles(db: Database, *, actor: User, circle_id: int | None) -> list[int]:
    """The circles whose live alerts this caller follows: the requested one (404 if not theirs),
    their own, or every circle."""
    circle_id = circle_for(actor, circle_id)
    if circle_id is not None:
        async with db.connection() as conn:
            await _check_circle(conn, actor, circle_id)
        return [circle_id]
    return [c.id for c in await provider_service.list_circles(db)]


async def standing_alerts(db: Database, *, circle_ids: list[int]) -> list:
    """The no-show alerts still standing in these circles (providers.models.LateVisit)."""
    return await provider_service.outstanding_late_visits(db, circle_ids=circle_ids, now=utc_now())
