"""The roles, and every named set of them that an endpoint or a rule admits, in one module.

What a role may do *with which record* is each domain's `access.py`; the one rule every domain
shares — a dispatcher bound to a circle works only in that circle — is `circle_limit`.
"""
from __future__ import annotations

from typing import Protocol

from core.errors import not_found

RESIDENT, FAMILY, OPERATOR, DISPATCHER = "resident", "family", "operator", "dispatcher"
PROVIDER_ADMIN, CAREGIVER, ADMIN = "provider_admin", "caregiver", "admin"

ROLES = (RESIDENT, FAMILY, OPERATOR, DISPATCHER, PROVIDER_ADMIN, CAREGIVER, ADMIN)
STAFF = (OPERATOR, DISPATCHER, PROVIDER_ADMIN, CAREGIVER, ADMIN)

# who acts for an elder
THEIR_OWN = (RESIDENT, FAMILY)               # for the elders they are linked to
EVERY_RESIDENT = (OPERATOR, ADMIN)           # for every elder
ELDER_SIDE = THEIR_OWN + EVERY_RESIDENT      # book, cancel, rate, read the elder and the wallet
HOTLINE = EVERY_RESIDENT                     # register and find elders, log calls
BOOKING_READERS = ROLES                      # list and read bookings, each narrowed to their scope

# street office, providers, caregivers
ADMIN_ONLY = (ADMIN,)
PROVIDER_SIDE = (PROVIDER_ADMIN, ADMIN)                       # manage caregivers, corrections, settlement
CAREGIVER_LISTERS = (PROVIDER_ADMIN, ADMIN, DISPATCHER)       # list caregivers
CAREGIVER_READERS = (PROVIDER_ADMIN, ADMIN, DISPATCHER, CAREGIVER)   # one caregiver, the day sheet
CALENDAR_OWNERS = (CAREGIVER, PROVIDER_ADMIN, ADMIN)          # issue a calendar-feed token
VISIT_ACTORS = (CAREGIVER,)                                   # check in and out at the door
ALERT_READERS = (DISPATCHER, PROVIDER_ADMIN, ADMIN)           # the day's flagged visits

# planning
PLANNERS = (DISPATCHER, ADMIN)

# messages and follow-ups (issue 13)
SIGNED_IN = ROLES                                             # their own inbox
SAFETY_TASK_READERS = (OPERATOR, DISPATCHER, ADMIN)           # the hotline's follow-ups: list and close
OUTBOX_READERS = ADMIN_ONLY                                   # every message and its delivery


class Bound(Protocol):
    role: str
    circle_id: int | None


def circle_limit(user: Bound) -> int | None:
    """The one circle this caller works in: a dispatcher bound to a circle; None for no limit
    (every other role, and a dispatcher bound to no circle)."""
    return user.circle_id if user.role == DISPATCHER else None


def may_see_circle(user: Bound, circle_id: int) -> bool:
    limit = circle_limit(user)
    return limit is None or limit == circle_id


def circle_for(user: Bound, requested: int | None) -> int | None:
    """The circle a list is narrowed to: the requested one if the caller may see it (another answers
    404, never 403, so ids cannot be probed), else the caller's own (None: every circle)."""
    if requested is None:
        return circle_limit(user)
    if not may_see_circle(user, requested):
        raise not_found("circle", requested, "服务圈")
    return requested
