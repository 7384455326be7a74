"""The booking lifecycle, enforced in this one place.

pending → scheduled → in_progress → completed; pending|scheduled → cancelled;
scheduled → missed | not_home | refused (the caregiver came, or nobody came).
"""
from __future__ import annotations

from core.errors import Conflict
from booking.models import BookingStatus as S

TRANSITIONS: dict[S, frozenset[S]] = {
    S.PENDING: frozenset({S.SCHEDULED, S.CANCELLED}),
    S.SCHEDULED: frozenset({S.PENDING, S.IN_PROGRESS, S.CANCELLED, S.MISSED, S.NOT_HOME, S.REFUSED}),
    S.IN_PROGRESS: frozenset({S.COMPLETED, S.NOT_HOME, S.REFUSED}),
}

# what the subsidy hold does when a booking reaches a status
WALLET_EFFECT: dict[S, str] = {
    S.COMPLETED: "capture",
    S.CANCELLED: "release",
    S.MISSED: "release",
    S.NOT_HOME: "release",
    S.REFUSED: "release",
}

STATUS_ZH = {
    S.PENDING: "待排班", S.SCHEDULED: "已排班", S.IN_PROGRESS: "服务中", S.COMPLETED: "已完成",
    S.CANCELLED: "已取消", S.MISSED: "未上门", S.NOT_HOME: "老人不在家", S.REFUSED: "老人拒绝服务",
}


def can_transition(current: S, target: S) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def ensure_transition(current: S, target: S) -> None:
    """Raise 409 naming both states when the lifecycle has no such step."""
    if not can_transition(current, target):
        raise Conflict(f"a {current.value} booking cannot become {target.value}",
                       message_zh=f"预约当前状态为“{STATUS_ZH[current]}”，不能改为“{STATUS_ZH[target]}”",
                       code="invalid_transition")


def wallet_effect(target: S) -> str | None:
    return WALLET_EFFECT.get(target)
