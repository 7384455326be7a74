"""Who may see and act on which provider, caregiver and visit. Pure: decided from the caller's
role and links. Anything outside the caller's scope answers 404 (never 403), so ids cannot be
probed."""
from __future__ import annotations

from core.roles import ADMIN, CAREGIVER, DISPATCHER, PROVIDER_ADMIN, may_see_circle
from core.users import User


def may_manage_provider(user: User, provider_id: int) -> bool:
    """Street admins manage every provider; a provider admin only their own."""
    return user.role == ADMIN or (user.role == PROVIDER_ADMIN and user.provider_id == provider_id)


def may_see_caregiver(user: User, *, caregiver_id: int, provider_id: int, circle_id: int) -> bool:
    """Admins see every caregiver; a dispatcher those of their circle (all, if bound to none);
    a provider admin their own provider's; a caregiver themself."""
    if user.role == ADMIN or may_manage_provider(user, provider_id):
        return True
    if user.role == DISPATCHER:
        return may_see_circle(user, circle_id)
    return is_visit_caregiver(user, caregiver_id)


def may_manage_calendar(user: User, *, caregiver_id: int, provider_id: int) -> bool:
    """The caregiver themself, their provider's admin, or a street admin."""
    return may_manage_provider(user, provider_id) or is_visit_caregiver(user, caregiver_id)


def is_visit_caregiver(user: User, caregiver_id: int) -> bool:
    return user.role == CAREGIVER and user.caregiver_id == caregiver_id


def provider_scope(user: User, requested: int | None) -> int | None:
    """The provider a list is narrowed to: a provider admin always sees only their own."""
    return user.provider_id if user.role == PROVIDER_ADMIN else requested
