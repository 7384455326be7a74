"""The texts booking sends when a scheduled visit is cancelled or moved, and who gets them. Pure
apart from `queue_change`, which queues them in the caller's transaction (core/outbox.py).

A cancel or reschedule of a booking that is scheduled or in progress — by anyone: the elder, the
family, an operator, a series ending — tells its caregiver(s) (from `bookings.team_caregiver_ids`,
kept by the database from the visits; their phones are filled in by the database too, since
booking does not read providers' tables) and the elder and family. A pending booking had nobody
coming: its cancellation needs no message.
"""
from __future__ import annotations

import re
from datetime import date, datetime

import asyncpg

from core import outbox
from core.clock import LOCAL_TZ, utc_now

SIGNATURE = "【一刻钟服务圈】"
_BRACKETS = re.compile(r"[（(].*?[)）]")


def day_text(day: date) -> str:
    return f"{day.month}月{day.day}日"


def service_name(item_name_zh: str) -> str:
    return _BRACKETS.sub("", item_name_zh).strip() or item_name_zh


def when_text(service_date: date, planned_start: datetime | None) -> str:
    if planned_start is None:
        return day_text(service_date)
    return day_text(service_date) + planned_start.astimezone(LOCAL_TZ).strftime("%H:%M")


def elder_cancel_text(item: str, service_date: date, planned_start: datetime | None,
                      new_date: date | None = None) -> str:
    what = f"您预约的{when_text(service_date, planned_start)}{service_name(item)}服务"
    if new_date is not None:
        return f"{SIGNATURE}{what}已改约到{day_text(new_date)}，安排好后会再通知您。"
    return f"{SIGNATURE}{what}已取消。如有疑问请致电服务中心。"


def family_cancel_text(elder_name: str, item: str, service_date: date, planned_start: datetime | None,
                       new_date: date | None = None) -> str:
    what = f"您的家人{elder_name}预约的{when_text(service_date, planned_start)}{service_name(item)}服务"
    if new_date is not None:
        return f"{SIGNATURE}{what}已改约到{day_text(new_date)}。"
    return f"{SIGNATURE}{what}已取消。"


def caregiver_cancel_text(elder_name: str, item: str, service_date: date, planned_start: datetime | None) -> str:
    return (f"{SIGNATURE}护理员您好，{when_text(service_date, planned_start)}{elder_name}家的"
            f"{service_name(item)}服务已取消，请以最新日程为准。")


async def queue_change(conn: asyncpg.Connection, booking, *, team_caregiver_ids: list[int],
                       new_date: date | None = None) -> int:
    """Queue the messages for a scheduled or in-progress booking that was cancelled (or moved to
    `new_date`); returns how many were queued."""
    now = utc_now()
    same_day = outbox.same_day(booking.service_date, now)
    messages = await outbox.elder_side(
        conn, resident_id=booking.resident_id, booking_id=booking.id,
        elder_text=elder_cancel_text(booking.item_name_zh, booking.service_date, booking.planned_start, new_date),
        family_text=family_cancel_text(booking.resident_name, booking.item_name_zh, booking.service_date,
                                       booking.planned_start, new_date),
        kind="rescheduled" if new_date else "cancelled", same_day=same_day)
    text = caregiver_cancel_text(booking.resident_name, booking.item_name_zh, booking.service_date,
                                 booking.planned_start)
    messages += [outbox.OutMessage(text, "cancelled", booking.id, caregiver_id=cid, same_day=same_day)
                 for cid in team_caregiver_ids]
    return await outbox.queue(conn, messages, now=now)
