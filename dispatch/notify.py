"""Chinese texts telling the elder, the family and the caregivers that a plan changed. Pure.

"A plan change must reach the elder, the family and the caregiver" (DESIGN.md): publishing
queues one message per recipient for every booking whose caregiver or time changed. These
functions only build the texts and the recipients; dispatch/service.py stores them in the
notifications table (sending is a separate concern: rows with `sent_at` null are pending).

Forms of address: an elder is called by surname + 阿姨 (women) or 叔叔 (men), the way a
neighbourhood service centre speaks; a caregiver by surname + 护理员.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from core.clock import LOCAL_TZ
from dispatch.models import Change

SIGNATURE = "【一刻钟服务圈】"
_BRACKETS = re.compile(r"[（(].*?[)）]")


@dataclass(frozen=True)
class Elder:
    resident_id: int
    name: str
    gender: str
    phone: str
    address: str


@dataclass(frozen=True)
class Person:
    """A caregiver (id, name, phone) or a family user (id, name, phone may be empty)."""

    id: int
    name: str
    phone: str = ""


@dataclass(frozen=True)
class BookingFacts:
    """What the texts say about a booking."""

    booking_id: int
    service_date: date
    item_name_zh: str
    elder: Elder
    family: tuple[Person, ...] = ()


@dataclass(frozen=True)
class Message:
    """One queued message: to a resident, a user or a caregiver (exactly one is set)."""

    booking_id: int
    channel: str          # sms | app
    phone: str | None
    text: str
    resident_id: int | None = None
    user_id: int | None = None
    caregiver_id: int | None = None

# ------------------------------------------------------------------ wording


def elder_address(name: str, gender: str) -> str:
    """王秀英, F → 王阿姨; 李建国, M → 李叔叔 (a two-character surname is kept whole)."""
    surname = name[:2] if len(name) >= 4 else name[:1]
    return surname + ("阿姨" if gender == "F" else "叔叔")


def caregiver_title(name: str) -> str:
    """张丽 → 张护理员."""
    return (name[:1] or "") + "护理员"


def service_name(item_name_zh: str) -> str:
    """The item name without its bracketed details: 协助淋浴/坐浴（含洗头） → 协助淋浴/坐浴."""
    return _BRACKETS.sub("", item_name_zh).strip() or item_name_zh


def day_text(day: date) -> str:
    return f"{day.month}月{day.day}日"


def clock_text(instant: datetime) -> str:
    return instant.astimezone(LOCAL_TZ).strftime("%H:%M")


def crew_text(names: list[str]) -> str:
    return "、".join(caregiver_title(n) for n in names)

# ------------------------------------------------------------------ the texts


def elder_text(change: Change, facts: BookingFacts, names: dict[int, str]) -> str:
    """What the elder reads (also sent to the family, addressed to them)."""
    who = elder_address(facts.elder.name, facts.elder.gender)
    what = f"您预约的{day_text(facts.service_date)}{service_name(facts.item_name_zh)}服务"
    return SIGNATURE + who + "您好，" + what + _outcome(change, names)


def family_text(change: Change, facts: BookingFacts, names: dict[int, str]) -> str:
    what = f"您的家人{facts.elder.name}预约的{day_text(facts.service_date)}{service_name(facts.item_name_zh)}服务"
    return SIGNATURE + "您好，" + what + _outcome(change, names)


def _outcome(change: Change, names: dict[int, str]) -> str:
    if change.kind == "unscheduled" or change.new is None:
        return "暂未能安排上门，服务中心会尽快与您联系。"
    crew = crew_text([names.get(c, "") for c in change.new.caregiver_ids])
    when = clock_text(change.new.planned_start)
    if change.kind == "moved":
        return f"有调整：改由{crew}于{when}上门。"
    return f"由{crew}于{when}上门。"


def caregiver_assigned_text(name: str, facts: BookingFacts, start: datetime) -> str:
    return (f"{SIGNATURE}{caregiver_title(name)}您好，新的服务安排：{day_text(facts.service_date)}"
            f"{clock_text(start)}到{facts.elder.name}家（{facts.elder.address}）"
            f"提供{service_name(facts.item_name_zh)}服务，请以最新日程为准。")


def caregiver_retimed_text(name: str, facts: BookingFacts, old: datetime, new: datetime) -> str:
    return (f"{SIGNATURE}{caregiver_title(name)}您好，{day_text(facts.service_date)}"
            f"{facts.elder.name}家的{service_name(facts.item_name_zh)}服务由{clock_text(old)}"
            f"改为{clock_text(new)}，请以最新日程为准。")


def caregiver_released_text(name: str, facts: BookingFacts, old: datetime) -> str:
    return (f"{SIGNATURE}{caregiver_title(name)}您好，{day_text(facts.service_date)}{clock_text(old)}"
            f"{facts.elder.name}家的{service_name(facts.item_name_zh)}服务已改派或取消，"
            f"请以最新日程为准。")

# ------------------------------------------------------------------ who gets what


def messages_for(change: Change, facts: BookingFacts, caregivers: dict[int, Person]) -> list[Message]:
    """Every message one booking's change sends: elder (SMS), each linked family user (in the
    app, and by SMS when a phone is known) and each caregiver who gains, keeps with a new time,
    or loses the visit."""
    names = {cid: p.name for cid, p in caregivers.items()}
    found = [Message(change.booking_id, "sms", facts.elder.phone, elder_text(change, facts, names),
                     resident_id=facts.elder.resident_id)]
    for member in facts.family:
        found.append(Message(change.booking_id, "sms" if member.phone else "app", member.phone or None,
                             family_text(change, facts, names), user_id=member.id))
    return found + _caregiver_messages(change, facts, caregivers)


def _caregiver_messages(change: Change, facts: BookingFacts, caregivers: dict[int, Person]) -> list[Message]:
    old = set(change.old.caregiver_ids) if change.old else set()
    new = set(change.new.caregiver_ids) if change.new else set()
    found = []
    for cid in sorted(old | new):
        text = _caregiver_text(cid, change, facts, caregivers[cid].name, old, new)
        if text:
            found.append(Message(change.booking_id, "sms", caregivers[cid].phone or None, text, caregiver_id=cid))
    return found


def _caregiver_text(cid: int, change: Change, facts: BookingFacts, name: str, old: set[int],
                    new: set[int]) -> str | None:
    if cid in new and cid not in old:
        return caregiver_assigned_text(name, facts, change.new.planned_start)
    if cid in old and cid not in new:
        return caregiver_released_text(name, facts, change.old.planned_start)
    if change.old.planned_start != change.new.planned_start:
        return caregiver_retimed_text(name, facts, change.old.planned_start, change.new.planned_start)
    return None
