"""Third-party browser libraries, served by the app itself (never a CDN), from where their packages
installed them:

- Leaflet 1.9 from the PyPI package `xstatic-leaflet` (a dependency: always there);
- Chart.js 4 from npm (`package.json`, installed by `make` with `npm ci` when node is present).

A library that is not installed is simply not offered: `vendor_url(name)` is None, the page leaves its
tag out, and the console falls back to its plain drawing (tables and SVG bars, the SVG map)."""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from aiohttp import web

from core.settings import ROOT


def _leaflet_dir() -> Path | None:
    try:
        import xstatic.pkg.leaflet as leaflet
    except ImportError:
        return None
    return Path(leaflet.BASE_DIR)


def _files() -> dict[str, Path]:
    files: dict[str, Path] = {}
    leaflet = _leaflet_dir()
    if leaflet is not None:
        files.update({"leaflet.js": leaflet / "leaflet.js", "leaflet.css": leaflet / "leaflet.css"})
        for image in ("marker-icon.png", "marker-icon-2x.png", "marker-shadow.png", "layers.png", "layers-2x.png"):
            files[f"images/{image}"] = leaflet / "images" / image
    files["chart.umd.js"] = ROOT / "node_modules" / "chart.js" / "dist" / "chart.umd.min.js"
    return files


FILES = _files()
_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


def available(name: str) -> bool:
    path = FILES.get(name)
    return path is not None and path.is_file()


@functools.lru_cache(maxsize=32)
def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10]


def vendor_url(name: str) -> str | None:
    """The URL of an installed library file (content-hashed), or None when it is not installed."""
    return f"/vendor/{name}?v={_digest(FILES[name])}" if available(name) else None


async def _serve(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if not available(name):
        raise web.HTTPNotFound()
    path = FILES[name]
    return web.FileResponse(path, headers={"Content-Type": _TYPES[path.suffix]})


def setup(app: web.Application) -> None:
    app.router.add_get("/vendor/{name:.+}", _serve, name="vendor")
