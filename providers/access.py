"""Who may see and act on which provider, caregiver and visit. Pure: decided from the caller's
role and links. Anything outside the caller's scope answers 404 (never 403), so ids cannot be
probed."""
from __future__ import annotations

from core.users import User

def may_manage_provider(user: User, provider_id: int) -> bool:
    """Street admins manage every provider; a provider admin only their own."""
    return user.role == "admin" or (user.role == "provider_admin" and user.provider_id == provider_id)


def may_see_caregiver(user: User, *, caregiver_id: int, provider_id: int, circle_id: int) -> bool:
    """Admins see every caregiver; a dispatcher those of their circle (all, if bound to none);
    a provider admin their own provider's; a caregiver themself."""
    if user.role == "admin" or may_manage_provider(user, provider_id):
        return True
    if user.role == "dispatcher":
        return user.circle_id is None or user.circle_id == circle_id
    return user.role == "caregiver" and user.caregiver_id == caregiver_id


def circle_scope(user: User, requested: int | None) -> tuple[int | None, bool]:
    """(circle to narrow a list to, whether anything may be listed at all): a dispatcher bound
    to a circle sees only that circle; asking for another one lists nothing."""
    if user.role == "dispatcher" and user.circle_id:
        return user.circle_id, requested in (None, user.circle_id)
    return requested, True


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
