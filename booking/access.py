"""Who may see and act for which resident. Pure: decided from the caller's role and links."""
from __future__ import annotations

from core.roles import CAREGIVER, EVERY_RESIDENT, PROVIDER_ADMIN, THEIR_OWN, circle_limit
from core.users import User


def may_read_resident(user: User, resident_id: int) -> bool:
    return user.role in EVERY_RESIDENT or user.acts_for(resident_id)


def may_book_for(user: User, resident_id: int) -> bool:
    if user.role in THEIR_OWN:
        return user.acts_for(resident_id)
    return user.role in EVERY_RESIDENT


def booking_scope(user: User) -> tuple[str, object]:
    """How a booking list is narrowed for this caller: (kind, value)."""
    if user.role in THEIR_OWN:
        return "residents", list({*user.family_resident_ids, *([user.resident_id] if user.resident_id else [])})
    if circle_limit(user) is not None:
        return "circle", circle_limit(user)
    if user.role == PROVIDER_ADMIN:
        return "provider", user.provider_id
    if user.role == CAREGIVER:
        return "caregiver", user.caregiver_id
    return "all", None
