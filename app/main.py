"""The aiohttp application factory: middlewares, resources' lifecycles, routes."""
from __future__ import annotations

import asyncio
import logging
from typing import AsyncIterator

import asyncpg
from aiohttp import web

from core import keys
from core.clock import Clock, use_clock
from core.crypto import Crypto
from core.db import Database, constraint_error, create_pool
from core.errors import ApiError, Invalid, Unavailable
from core.http import resolve_user, respond
from core.redis import create_redis
from core.settings import Settings
from booking.views import CIRCLE_REACH, SERVERS_OF
from booking.views import routes as booking_routes
from providers.queries import circle_reach
from providers.service import serve_check
from providers.views import routes as provider_routes
from dispatch.views import routes as dispatch_routes
from dispatch.jobs.lifecycle import background_ctx
from office.views import GEOCODER, routes as office_routes
from core.geocode import geocoder_from
from app.standins import standin_app
from app.demo_data import CIRCLES as DEMO_CIRCLES
from app.openapi import build_openapi
from app.pages import setup as setup_pages
from app.routes import api_routes, root_routes
from app.messages import routes as message_routes

log = logging.getLogger(__name__)

OPENAPI = web.AppKey("openapi", dict)
_HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
               422: "invalid", 429: "rate_limited"}
# the database went away or is overloaded: the client may retry (with its Idempotency-Key).
# InternalClientError: asyncpg's protocol state after the server ended the session mid-query
# (MagicStack/asyncpg#1069); core.db.Database never hands such a connection out again.
_DB_UNAVAILABLE = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.CannotConnectNowError,
                   asyncpg.InternalClientError,
                   asyncpg.AdminShutdownError, asyncpg.QueryCanceledError, asyncpg.SerializationError,
                   asyncpg.DeadlockDetectedError, asyncpg.TooManyConnectionsError, ConnectionError,
                   OSError, asyncio.TimeoutError)


def _error(exc: ApiError) -> web.Response:
    return respond(exc.body(), status=exc.status)


def _clock_middleware(clock: Clock):
    """Requests handled on `clock` (core.clock): a test's or a simulation's day, not the system's."""
    @web.middleware
    async def on_clock(request: web.Request, handler) -> web.StreamResponse:
        with use_clock(clock):
            return await handler(request)
    return on_clock


@web.middleware
async def error_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Every failure leaves in the one error shape; nothing a client sends yields a 500."""
    try:
        return await handler(request)
    except ApiError as exc:
        return _error(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = _error(ApiError(exc.reason, code=_HTTP_CODES.get(exc.status, "error"), status=exc.status))
        if "Allow" in exc.headers:   # 405: which methods the path takes
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except asyncpg.IntegrityConstraintViolationError as exc:
        return _error(constraint_error(exc))
    except asyncpg.DataError as exc:
        return _error(Invalid(f"a value is out of range: {exc}", message_zh="提交的数值超出范围"))
    except _DB_UNAVAILABLE as exc:
        log.warning("database unavailable: %s", type(exc).__name__)
        return _error(Unavailable("the service is busy, please retry", message_zh="系统繁忙，请稍后重试"))
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return _error(ApiError("internal error", message_zh="系统内部错误", code="internal", status=500))


@web.middleware
async def auth_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Resolve the bearer token (if any) to a user; endpoints decide whether one is needed."""
    request[keys.USER] = None
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer " and len(header) < 300:
        await resolve_user(request, header[7:].strip())
    return await handler(request)


def _database_ctx(database: Database | None):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        if database is not None:
            app[keys.DB] = database
            yield
            return
        settings = app[keys.SETTINGS]
        pool = await create_pool(settings.database_url, size=settings.db_pool_size)
        app[keys.DB] = Database(pool)
        yield
        await pool.close()
    return ctx


def _redis_ctx(client):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[keys.SETTINGS]
        app[keys.REDIS] = client or create_redis(settings.redis_url, timeout_s=settings.redis_timeout_s)
        yield
        if client is None:
            await app[keys.REDIS].aclose()
    return ctx


async def _openapi(request: web.Request) -> web.Response:
    return web.json_response(request.config_dict[OPENAPI])


def _api_app(settings: Settings | None = None) -> web.Application:
    api = web.Application()
    api[GEOCODER] = geocoder_from(settings) if settings is not None else None
    api[CIRCLE_REACH] = circle_reach
    api[SERVERS_OF] = serve_check
    for table in (api_routes, booking_routes, provider_routes, dispatch_routes, office_routes, message_routes):
        api.add_routes(table)
    api.router.add_get("/openapi.json", _openapi)
    return api


async def _private_headers(request: web.Request, response: web.StreamResponse) -> None:
    """No software version in `Server`; nothing a signed-in person was shown is kept by a cache."""
    response.headers["Server"] = "service-circle"
    if request.get(keys.USER) is not None or "Authorization" in request.headers or "token" in request.query:
        response.headers["Cache-Control"] = "no-store"


def create_app(settings: Settings, *, database: Database | None = None, redis_client=None,
               with_background: bool = True, clock: Clock | None = None) -> web.Application:
    """Build the application. `database` / `redis_client` let tests bind their own;
    `with_background=False` leaves out background workers (planning), for tests that drive them;
    `clock` runs every request (and the work it starts) on that clock instead of the system's."""
    middlewares = [error_middleware, auth_middleware]
    if clock is not None:
        middlewares.insert(0, _clock_middleware(clock))
    app = web.Application(middlewares=middlewares, client_max_size=1024 ** 2)
    app[keys.SETTINGS] = settings
    app[keys.CRYPTO] = Crypto(settings.resolved_secret())
    app.on_response_prepare.append(_private_headers)
    app.cleanup_ctx.append(_database_ctx(database))
    app.cleanup_ctx.append(_redis_ctx(redis_client))
    app.add_routes(root_routes)
    app.add_subapp("/api/v1", _api_app(settings))
    if settings.standins:  # the demo's: road-level guesses around the demo street's first circle
        app.add_subapp("/standin", standin_app(centre=(DEMO_CIRCLES[0].lat, DEMO_CIRCLES[0].lon)))
    _add_extensions(app, with_background=with_background)
    app[OPENAPI] = build_openapi(app)
    return app


def _add_extensions(app: web.Application, *, with_background: bool) -> None:
    """The console pages, and the background work (planning, chores) unless left out."""
    setup_pages(app)
    if with_background:
        app.cleanup_ctx.append(background_ctx)
