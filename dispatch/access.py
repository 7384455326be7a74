"""Who may plan which circle. Pure: decided from the caller's role and circle (core.roles).
A plan or circle outside the caller's scope answers 404 (never 403), so ids cannot be probed."""
from __future__ import annotations

from core.errors import not_found
from core.roles import circle_for, may_see_circle
from core.users import User


def check_circle(actor: User, circle_id: int) -> None:
    """404 unless the caller may plan this circle."""
    if not may_see_circle(actor, circle_id):
        raise not_found("circle", circle_id, "服务圈")


def may_see_plan(actor: User, plan_circle_id: int) -> bool:
    return may_see_circle(actor, plan_circle_id)


plans_circle = circle_for   # a plan list: the requested circle (checked), else the caller's own