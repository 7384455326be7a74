"""The HTTP edge: one decorator per handler declares who may call it and what it reads and
returns (the OpenAPI document is built from the same declarations); bodies and query strings
are parsed into pydantic models, and anything invalid becomes a 422 naming the field."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, TypeVar

from aiohttp import web
from aiohttp.web_log import AccessLogger
from pydantic import BaseModel, ValidationError

from core import users as auth, keys
from core.users import User
from core import labels
from core.errors import Forbidden, Invalid, Unauthenticated, invalid_field

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC = None  # roles=PUBLIC: no token needed


@dataclass(frozen=True)
class EndpointDoc:
    roles: tuple[str, ...] | None
    summary: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    content_type: str = "application/json"


def endpoint(*, roles: tuple[str, ...] | None, summary: str = "", body: type[BaseModel] | None = None,
             query: type[BaseModel] | None = None, response: type[BaseModel] | None = None,
             status: int = 200, content_type: str = "application/json") -> Callable[[Handler], Handler]:
    """Declare a handler's callers and shapes; callers outside `roles` get 401/403."""
    doc = EndpointDoc(roles, summary, body, query, response, status, content_type)

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            if roles is not None:
                require_role(request, roles)
            return await handler(request)

        guarded.__api__ = doc  # type: ignore[attr-defined]
        return guarded

    return decorate


async def resolve_user(request: web.Request, token: str) -> None:
    """The active user behind a live bearer token, or None."""
    request[keys.TOKEN] = token
    async with request.config_dict[keys.DB].connection() as conn:
        request[keys.USER] = await auth.user_for_token(conn, token)


def current_user(request: web.Request) -> User:
    user = request.get(keys.USER)
    if user is None:
        raise Unauthenticated("sign in first", message_zh="请先登录")
    return user


def require_role(request: web.Request, roles: tuple[str, ...]) -> User:
    user = current_user(request)
    if user.role not in roles:
        raise Forbidden(f"role {user.role} may not do this", message_zh="您没有权限进行此操作")
    return user


def validation_error(exc: ValidationError, *, prefix: str = "") -> Invalid:
    """A 422 whose details name each bad field and the value that was sent."""
    details = []
    for err in exc.errors():
        field = prefix + ".".join(str(p) for p in err["loc"]) if err["loc"] else prefix or "body"
        details.append({"field": field, "value": _safe(err.get("input")), "message": err["msg"],
                        "message_zh": labels.detail_zh(field, err["type"])})
    first = details[0]
    return Invalid(f"{first['field']}: {first['message']} (got {first['value']!r})",
                   message_zh=first["message_zh"], details=details)


def _safe(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return str(value)


async def parse_body(request: web.Request, model: type[M]) -> M:
    raw = await request.read()
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            raise Invalid("the body is not valid JSON", message_zh=labels.REASONS["json_invalid"],
                          details=[{"field": "body", "value": raw[:200].decode(errors="replace"),
                                    "message": "invalid JSON", "message_zh": labels.REASONS["json_invalid"]}]) from exc
        raise validation_error(exc) from exc


def parse_query(request: web.Request, model: type[M]) -> M:
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise validation_error(exc) from exc


def path_id(request: web.Request, name: str = "id") -> int:
    """A path id: ASCII digits within PostgreSQL's bigint (other scripts' digits are no id)."""
    raw = request.match_info[name]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or int(raw) > MAX_ID:
        raise invalid_field(name, raw, "must be a positive whole number", "编号格式错误")
    return int(raw)


MAX_ID = 2 ** 63 - 1


def respond(payload: BaseModel | dict | list, *, status: int = 200) -> web.Response:
    if isinstance(payload, BaseModel):
        return web.Response(text=payload.model_dump_json(), status=status,
                            content_type="application/json")
    return web.json_response(payload, status=status, dumps=_dumps)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


class RedactingAccessLogger(AccessLogger):
    """The access log without the secrets some URLs carry (the calendar feed's `?token=`)."""

    SECRET_PARAMS = frozenset({"token"})

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if "token" in request.query_string:
            query = [(k, "***" if k in self.SECRET_PARAMS else v) for k, v in request.query.items()]
            request = request.clone(rel_url=request.rel_url.with_query(query))
        super().log(request, response, time)
