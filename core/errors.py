"""One error shape for the whole API: {"error": {"code", "message", "message_zh", "details"}}."""
from __future__ import annotations

from typing import Any

from core import labels


class ApiError(Exception):
    """An error a client can act on; `message` is English, `message_zh` is shown to users."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, message_zh: str = "", code: str | None = None,
                 details: list[dict[str, Any]] | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.message_zh = message_zh or message
        self.details = details or []
        if code:
            self.code = code
        if status:
            self.status = status

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message,
                          "message_zh": self.message_zh, "details": self.details}}


class Invalid(ApiError):
    status, code = 422, "invalid"


class Unauthenticated(ApiError):
    status, code = 401, "unauthenticated"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class RateLimited(ApiError):
    status, code = 429, "rate_limited"


class Unavailable(ApiError):
    status, code = 503, "unavailable"


def invalid_field(field: str, value: Any, message: str, message_zh: str = "") -> Invalid:
    """A 422 naming one field and the value that was sent; the detail's `message_zh` names the field
    as the consoles call it (core.labels)."""
    reason_zh = message_zh or labels.REASONS["invalid"]
    detail = {"field": field, "value": _jsonable(value), "message": message,
              "message_zh": f"{labels.field_label(field)}：{reason_zh}"}
    return Invalid(f"{field}: {message} (got {value!r})", message_zh=reason_zh, details=[detail])


def not_found(what: str, ident: Any, what_zh: str = "") -> NotFound:
    return NotFound(f"{what} {ident} not found", message_zh=f"找不到{what_zh or what} {ident}")


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


class ConflictWith(Conflict):
    """A 409 that names the record it conflicts with (`existing_id`) or why (`reason`), beside the code."""

    def __init__(self, message: str, *, code: str, message_zh: str = "", existing_id: int | None = None,
                 reason: str | None = None):
        super().__init__(message, message_zh=message_zh, code=code)
        self.existing_id, self.reason = existing_id, reason

    def body(self) -> dict[str, Any]:
        body = super().body()
        if self.existing_id is not None:
            body["error"]["existing_id"] = self.existing_id
        if self.reason is not None:
            body["error"]["reason"] = self.reason
        return body
