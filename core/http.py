"""The HTTP edge: one decorator per handler declares who may call it and what it reads and
returns (the OpenAPI document is built from the same declarations); bodies and query strings
are parsed into pydantic models, and anything invalid becomes a 422 naming the field."""
from __future__ import annotations

import functools
from datetime import timedelta
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
    headers: tuple[tuple[str, str], ...] = ()   # (name, description) of request headers it reads
    errors: tuple[int, ...] = ()                # statuses it may answer besides the usual 401/403/404/409/422


def endpoint(*, roles: tuple[str, ...] | None, summary: str = "", body: type[BaseModel] | None = None,
             query: type[BaseModel] | None = None, response: type[BaseModel] | None = None,
             status: int = 200, content_type: str = "application/json",
             headers: tuple[tuple[str, str], ...] = (), errors: tuple[int, ...] = ()) -> Callable[[Handler], Handler]:
    """Declare a handler's callers and shapes; callers outside `roles` get 401/403."""
    doc = EndpointDoc(roles, summary, body, query, response, status, content_type, headers, errors)

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
    settings = request.config_dict[keys.SETTINGS]
    idle = auth.IdleTimeout(staff=timedelta(hours=settings.token_idle_hours_staff),
                            elder_side=timedelta(hours=settings.token_idle_hours_elder))
    async with request.config_dict[keys.DB].connection() as conn:
        request[keys.USER] = await auth.user_for_token(conn, token, idle=idle)


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
    """The body as `model`; a missing body, JSON that is not JSON, a bad field or a NUL character in
    any text is a 422 naming the field."""
    raw = await request.read()
    if not raw.strip():
        raise invalid_field("body", "", "a JSON body is required (send {} for no fields)", "请求内容不能为空")
    try:
        parsed = model.model_validate_json(raw)
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            raise Invalid("the body is not valid JSON", message_zh=labels.REASONS["json_invalid"],
                          details=[{"field": "body", "value": raw[:200].decode(errors="replace"),
                                    "message": "invalid JSON", "message_zh": labels.REASONS["json_invalid"]}]) from exc
        raise validation_error(exc) from exc
    _refuse_nul(parsed.model_dump())
    return parsed


def parse_query(request: web.Request, model: type[M]) -> M:
    try:
        parsed = model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise validation_error(exc) from exc
    _refuse_nul(parsed.model_dump())
    return parsed


def _refuse_nul(value: Any, path: str = "") -> None:
    """PostgreSQL text cannot hold a NUL character: refuse it as bad input, naming the field."""
    if isinstance(value, str) and "\x00" in value:
        raise invalid_field(path or "body", value.replace("\x00", "\\0")[:200], "must not contain a NUL character",
                            "含有无法保存的字符")
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, (list, tuple)) else ()
    for key, inner in items:
        _refuse_nul(inner, f"{path}.{key}" if path else str(key))


def header_text(request: web.Request, name: str, *, max_length: int = 200) -> str | None:
    """A header a client sets for us (an Idempotency-Key): printable ASCII up to `max_length`, else 422."""
    raw = request.headers.get(name)
    if raw is None:
        return None
    value = raw.strip()
    if not value or len(value) > max_length or not (value.isascii() and value.isprintable()):
        raise invalid_field(name, value[:max_length], f"must be 1-{max_length} printable ASCII characters",
                            "请求编号格式错误")
    return value


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
    """The access log with the path and the names of its query parameters, but no personal or secret
    values: a hotline search's phone number or name, the calendar feed's token. Only values that name
    no person (days, months, ids of records, statuses) are kept."""

    PLAIN_PARAMS = frozenset({"date", "month", "start", "days", "since", "status", "circle_id", "provider_id",
                              "caregiver_id", "resident_id", "booking_id", "plan_id", "limit", "evaluated",
                              "include_inactive", "record", "actor_id"})

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if request.query_string:
            query = [(k, v if k in self.PLAIN_PARAMS else "***") for k, v in request.query.items()]
            request = request.clone(rel_url=request.rel_url.with_query(query))
        super().log(request, response, time)
