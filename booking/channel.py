"""The booking channel follows from who books: an elder in the app `app`, a family member `family`,
an operator (or the street office) on the phone `hotline` — or `walk_in` for an elder at the centre's
desk. Pure. A body that names another channel than the caller's is refused, never silently changed."""
from __future__ import annotations

from core.errors import invalid_field
from core.roles import ADMIN, FAMILY, OPERATOR, RESIDENT

CHANNELS_OF_ROLE: dict[str, tuple[str, ...]] = {
    RESIDENT: ("app",),
    FAMILY: ("family",),
    OPERATOR: ("hotline", "walk_in"),
    ADMIN: ("hotline", "walk_in"),
}


def channel_for(role: str, requested: str | None) -> str:
    """The channel recorded for a booking by `role`; `requested` is the body's channel (None: not sent)."""
    allowed = CHANNELS_OF_ROLE.get(role, ())
    if requested is None:
        return allowed[0] if allowed else "app"
    if requested not in allowed:
        raise invalid_field("channel", requested, f"a {role}'s booking is recorded as "
                            f"{' or '.join(allowed) or 'nothing'}",
                            f"此渠道与预约人身份不符（应为{'或'.join(allowed)}）")
    return requested
