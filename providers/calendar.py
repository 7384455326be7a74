"""A caregiver's published visits as an iCalendar feed (RFC 5545), built with `icalendar`.

One VEVENT per visit. The UID is `booking-<booking id>-<crew member>@service-circle`, stable
across re-plans of the same booking, so a calendar app moves the event instead of duplicating
it. Times are local (TZID Asia/Shanghai, with its VTIMEZONE); LOCATION is the address and GEO the
home's position. Care notes and phone numbers are never in the feed (a phone may sync it to a
cloud), and the elder appears by surname only.
"""
from __future__ import annotations

from datetime import datetime

from icalendar import Calendar, Event

from core.clock import LOCAL_TZ
from providers.models import SheetEntry

PRODID = "-//Service Circle//一刻钟服务圈//ZH"
UID_DOMAIN = "service-circle"


def event_uid(entry: SheetEntry) -> str:
    return f"booking-{entry.visit.booking_id}-{entry.visit.crew_member}@{UID_DOMAIN}"


def elder_label(name: str) -> str:
    """The elder as the feed names them: surname and 老人 (王秀英 → 王老人)."""
    return f"{name[:1]}老人" if name else "老人"


def _description(entry: SheetEntry) -> str:
    lines = [f"项目：{entry.item_code} {entry.item_name_zh}（{entry.item_minutes}分钟）",
             f"预约编号：{entry.visit.booking_id}"]
    if entry.bring:
        lines.append("携带：" + "、".join(entry.bring))
    if entry.partner_name:
        lines.append(f"搭档：{entry.partner_name}")
    return "\n".join(lines)


def visit_event(entry: SheetEntry, *, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", event_uid(entry))
    event.add("dtstamp", stamp)
    event.add("dtstart", entry.visit.planned_start.astimezone(LOCAL_TZ))
    event.add("dtend", entry.visit.planned_end.astimezone(LOCAL_TZ))
    event.add("summary", f"{entry.item_name_zh} · {elder_label(entry.resident.name)}")
    event.add("location", entry.resident.address)
    event.add("geo", (entry.resident.lat, entry.resident.lon))
    event.add("description", _description(entry))
    event.add("status", "CONFIRMED")
    return event


def feed(*, caregiver_name: str, entries: list[SheetEntry], stamp: datetime) -> bytes:
    """The iCalendar document for a caregiver's coming visits; `stamp` is the DTSTAMP (UTC)."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"服务排班 · {caregiver_name}")
    cal.add("x-wr-timezone", str(LOCAL_TZ))
    for entry in entries:
        cal.add_component(visit_event(entry, stamp=stamp))
    cal.add_missing_timezones()
    return cal.to_ical()
