"""Publishing's messages, queued in the outbox (core/outbox.py) inside publishing's transaction.

`queue_changes`: the plan-change texts of dispatch/notify.py (elder, family, caregivers), marked
same-day when the plan is for today (quiet hours do not hold them back).

`queue_unplanned`: what a published plan leaves unplanned reaches the elder, the family and the hotline.

A booking that a published plan could not take (unassigned, still pending) is told to the elder
and the family ("暂未能安排上门，服务中心会尽快与您联系"), once per booking and service day, and put
on the hotline's care-call list (a safety task of kind `unplanned`, once per booking), so that
somebody calls to re-book. Bookings that were scheduled and fell out of the plan already got the
`unscheduled` message of the plan change; they get the hotline task too.
"""
from __future__ import annotations

from datetime import datetime

import asyncpg

from core import outbox
from booking import service as booking_service
from dispatch import queries
from dispatch.models import Change, Plan
from dispatch.notify import Message, elder_text, family_text


async def queue_changes(conn: asyncpg.Connection, messages: list[Message], *, same_day: bool, now: datetime) -> int:
    """Queue the plan-change messages; returns how many were queued."""
    return await outbox.queue(conn, [outbox.OutMessage(
        m.text, "plan_change", m.booking_id, resident_id=m.resident_id, user_id=m.user_id, caregiver_id=m.caregiver_id,
        phone=m.phone, channel=m.channel, same_day=same_day) for m in messages], now=now)


async def queue_unplanned(conn: asyncpg.Connection, plan: Plan, diff: list[Change], *, now: datetime) -> int:
    """Inside publishing's transaction: tell and list the plan's unassigned pending bookings; returns
    the messages queued."""
    pending = await queries.pending_bookings(conn, sorted({u.booking_id for u in plan.unassigned}))
    if not pending:
        return 0
    told = {c.booking_id for c in diff if c.kind == "unscheduled"}
    facts = await queries.booking_facts(conn, pending)
    same_day = outbox.same_day(plan.service_date, now)
    messages = []
    for booking_id in pending:
        fact = facts[booking_id]
        await booking_service.open_safety_task(conn, resident_id=fact.elder.resident_id, booking_id=booking_id,
                                               kind="unplanned", now=now)
        if booking_id in told:
            continue
        change = Change(booking_id, "unscheduled", None, None)
        key = f"unplanned:{booking_id}:{plan.service_date}"
        messages.append(outbox.OutMessage(elder_text(change, fact, {}), "unplanned", booking_id,
                                          resident_id=fact.elder.resident_id, same_day=same_day,
                                          dedup_key=f"{key}:r{fact.elder.resident_id}"))
        messages += [outbox.OutMessage(family_text(change, fact, {}), "unplanned", booking_id, user_id=member.id,
                                       channel="app", same_day=same_day, dedup_key=f"{key}:u{member.id}")
                     for member in fact.family]
    return await outbox.queue(conn, messages, now=now)
