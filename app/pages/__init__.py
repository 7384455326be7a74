"""The four consoles and the landing page: server-rendered shells (Jinja2) whose scripts use
the JSON API from the browser. No build step, no CDN: every file is served from `static/`.

`setup(app)` adds the page routes and `/static/` to the root application (not `/api/v1`).
"""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from urllib.parse import urlsplit
from typing import Any

import jinja2
from aiohttp import web

from core import keys
from app.pages import vendor

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATE_DIR = HERE / "templates"

# Pages only run our own files: no inline script or style, no third-party origin.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")

ICON = ("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 64 64'%3E"
        "%3Ccircle cx='32' cy='32' r='30' fill='%230a5a52'/%3E%3Ccircle cx='32' cy='32' r='18' fill='none' "
        "stroke='%23fff' stroke-width='5' stroke-dasharray='85 30'/%3E%3Ccircle cx='32' cy='32' r='6' "
        "fill='%23fff'/%3E%3C/svg%3E")

# path -> (template, page title, body class, script)
PAGES: dict[str, tuple[str, str, str, str]] = {
    "/": ("login.html", "一刻钟服务圈 · 登录", "page-login", "login.js"),
    "/app": ("elder.html", "一刻钟服务圈 · 我的服务", "page-elder", "elder.js"),
    "/hotline": ("hotline.html", "热线坐席台", "page-hotline", "hotline.js"),
    "/dispatch": ("dispatch.html", "调度台", "page-dispatch", "dispatch.js"),
    "/caregiver": ("caregiver.html", "护理员 · 今日任务", "page-caregiver", "caregiver.js"),
    "/caregiver/print": ("print.html", "护理员日程单", "page-print", "print.js"),
    "/admin": ("admin.html", "服务商与街道管理", "page-admin", "admin.js"),
    "/office": ("office.html", "街道管理台", "page-office", "office.js"),
}


def setup(app: web.Application) -> None:
    """Add the pages and their static files to the root application."""
    env = _environment()
    for path, page in PAGES.items():
        app.router.add_get(path, _page_handler(env, *page), name=_route_name(path))
    app.router.add_static("/static/", STATIC_DIR, name="static")
    vendor.setup(app)
    app.on_response_prepare.append(_page_headers)


def _route_name(path: str) -> str:
    return "page-" + (path.strip("/").replace("/", "-") or "home")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
                             autoescape=jinja2.select_autoescape(["html"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals["static"] = _static_url
    env.globals["ICON"] = ICON
    env.globals["vendor"] = vendor.vendor_url
    return env


def _static_url(name: str) -> str:
    """A cache-busting URL: the file's content hash changes the query when the file changes."""
    path = STATIC_DIR / name
    return f"/static/{name}?v={_digest(path, path.stat().st_mtime_ns)}"


@functools.lru_cache(maxsize=64)
def _digest(path: Path, mtime_ns: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10]


def _page_handler(env: jinja2.Environment, template: str, title: str, body_class: str, script: str):
    async def handler(request: web.Request) -> web.Response:
        context: dict[str, Any] = {"title": title, "body_class": body_class, "script": script,
                                   "query": dict(request.query), **_map_context(request)}
        html = env.get_template(template).render(**context)
        return web.Response(text=html, content_type="text/html", charset="utf-8")
    return handler


def _map_context(request: web.Request) -> dict[str, str]:
    """The tile URL template and attribution the consoles' maps use (empty: the plain drawing)."""
    settings = request.config_dict.get(keys.SETTINGS)
    if settings is None:
        return {"tiles": "", "tile_attribution": ""}
    return {"tiles": settings.map_tiles(), "tile_attribution": settings.tile_attribution}


def _csp(request: web.Request) -> str:
    """The policy, with the tile server's origin allowed for images when tiles come from elsewhere."""
    tiles = _map_context(request)["tiles"]
    if not tiles.startswith(("http://", "https://")):
        return CSP
    parts = urlsplit(tiles.replace("{s}", "*"))
    return CSP.replace("img-src 'self' data:", f"img-src 'self' data: {parts.scheme}://{parts.netloc}")


async def _page_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Security and caching headers for pages and static files (the API sets its own)."""
    if request.path.startswith("/api/"):
        return
    if response.content_type == "text/html":
        response.headers.setdefault("Content-Security-Policy", _csp(request))
        response.headers.setdefault("Cache-Control", "no-cache")
        response.headers.setdefault("Referrer-Policy", "same-origin")
    elif request.path.startswith(("/static/", "/vendor/")):
        cache = "public, max-age=31536000, immutable" if "v" in request.query else "no-cache"
        response.headers.setdefault("Cache-Control", cache)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
