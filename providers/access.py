"""Who may see and act on which provider, caregiver and visit. Pure: decided from the caller's
role and links. Anything outside the caller's scope answers 404 (never 403), so ids cannot be
probed."""
from __future__ import annotations

from app.auth import User

EVERY_CAREGIVER = ("admin", "dispatcher")


def may_manage_provider(user: User, provider_id: int) -> bool:
    """Street admins manage every provider; a provider admin only their own."""
    return user.role == "admin" or (user.role == "provider_admin" and user.provider_id == provider_id)


def may_see_caregiver(user: User, *, caregiver_id: int, provider_id: int) -> bool:
    """Admins and dispatchers see every caregiver; a provider admin their own; a caregiver themself."""
    if user.role in EVERY_CAREGIVER or may_manage_provider(user, provider_id):
        return True
    return user.role == "caregiver" and user.caregiver_id == caregiver_id


def may_manage_calendar(user: User, *, caregiver_id: int, provider_id: int) -> bool:
    """The caregiver themself, their provider's admin, or a street admin."""
    if may_manage_provider(user, provider_id):
        return True
    return user.role == "caregiver" and user.caregiver_id == caregiver_id


def is_visit_caregiver(user: User, caregiver_id: int) -> bool:
    return user.role == "caregiver" and user.caregiver_id == caregiver_id


def provider_scope(user: User, requested: int | None) -> int | None:
    """The provider a list is narrowed to: a provider admin always sees only their own."""
    return user.provider_id if user.role == "provider_admin" else requested
