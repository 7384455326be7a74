"""App-level routes: health, login, logout, who am I, the OpenAPI document."""
from __future__ import annotations

from datetime import timedelta
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, StringConstraints
from typing_extensions import Annotated

from core import users as auth, keys
from core import labels
from core.roles import ROLES
from core.http import PUBLIC, current_user, endpoint, parse_body, respond
from core.redis import redis_ok

api_routes = web.RouteTableDef()
root_routes = web.RouteTableDef()


class LoginBody(BaseModel):
    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class UserRead(BaseModel):
    id: int
    username: str
    role: str
    display_name: str
    resident_id: int | None
    provider_id: int | None
    caregiver_id: int | None
    circle_id: int | None
    family_resident_ids: list[int]

    @classmethod
    def of(cls, user: auth.User) -> UserRead:
        return cls.model_validate(user, from_attributes=True)


class LoginRead(BaseModel):
    token: str
    user: UserRead


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "down"]
    redis: Literal["ok", "down"]


@root_routes.get("/healthz")
@endpoint(roles=PUBLIC, summary="Liveness of the service, its database and Redis", response=Health, errors=(503,))
async def healthz(request: web.Request) -> web.Response:
    database = "ok"
    try:
        async with request.config_dict[keys.DB].connection() as conn:
            await conn.fetchval("SELECT 1", timeout=2)
    except Exception:  # any failure means the database is not usable right now
        database = "down"
    redis = "ok" if await redis_ok(request.config_dict[keys.REDIS]) else "down"
    status = "ok" if database == "ok" else "degraded"
    return respond(Health(status=status, database=database, redis=redis), status=200 if database == "ok" else 503)


def client_address(request: web.Request, *, trust_proxy: bool) -> str:
    """The caller's address; behind our own proxy, the last hop it appended to X-Forwarded-For."""
    forwarded = request.headers.get("X-Forwarded-For", "") if trust_proxy else ""
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    return hops[-1] if hops else (request.remote or "?")


class LabelsRead(BaseModel):
    fields: dict[str, str]
    reasons: dict[str, str]
    codes: dict[str, str]


@api_routes.get("/labels")
@endpoint(roles=PUBLIC, summary="The Chinese names of fields, reasons and error codes (the consoles' one table)",
          response=LabelsRead)
async def get_labels(request: web.Request) -> web.Response:
    return respond(LabelsRead(**labels.served()))


@api_routes.post("/auth/login")
@endpoint(roles=PUBLIC, summary="Sign in with username and password; returns a bearer token (10 attempts a "
          "minute per account and per address: 429; 503 while the rate limiter is unreachable)",
          body=LoginBody, response=LoginRead, errors=(429, 503))
async def login(request: web.Request) -> web.Response:
    body = await parse_body(request, LoginBody)
    settings = request.config_dict[keys.SETTINGS]
    await auth.check_login_rate(request.config_dict[keys.REDIS], username=body.username,
                                address=client_address(request, trust_proxy=settings.trust_proxy),
                                limit=settings.login_attempts_per_minute)
    async with request.config_dict[keys.DB].transaction() as conn:
        user = await auth.check_credentials(conn, body.username, body.password)
        token = await auth.issue_token(conn, user.id, ttl=timedelta(hours=settings.token_ttl_hours))
    return respond(LoginRead(token=token, user=UserRead.of(user)))


@api_routes.post("/auth/logout")
@endpoint(roles=ROLES, summary="Revoke the token of this request")
async def logout(request: web.Request) -> web.Response:
    current_user(request)
    async with request.config_dict[keys.DB].transaction() as conn:
        await auth.revoke_token(conn, request[keys.TOKEN])
    return respond({"status": "signed_out"})


@api_routes.get("/auth/me")
@endpoint(roles=ROLES, summary="The signed-in user", response=UserRead)
async def me(request: web.Request) -> web.Response:
    return respond(UserRead.of(current_user(request)))
