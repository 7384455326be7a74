"""Local stand-ins for the third parties a street office's maps need, speaking their protocols:

- AMap's geocoding web service (`GET /amap/v3/geocode/geo?key=&address=&city=`), answering in GCJ-02
  as AMap does, so the real client (`core.geocode.AmapGeocoder`) and its GCJ-02 → WGS84 conversion
  are exercised end to end;
- a slippy-map tile server (`GET /tiles/{z}/{x}/{y}.svg`): a light street grid drawn per tile.

Used by the tests and by `circle serve --demo` (mounted at /standin when nothing real is configured).
A known address answers its gazetteer position at 门牌号 level; any other address answers a position
derived from the address text within 600 m of the centre, at 道路 level — imprecise on purpose, so the
operator must confirm it on the map, as with a real geocoder's road-level answer."""
from __future__ import annotations

import hashlib
import math

from aiohttp import web

from core.geocode import wgs84_to_gcj02

GAZETTEER = web.AppKey("gazetteer", dict)
CENTRE = web.AppKey("centre", tuple)
STANDIN_KEY = "standin-key"


async def amap_geocode(request: web.Request) -> web.Response:
    if request.query.get("key") != STANDIN_KEY:
        return web.json_response({"status": "0", "info": "INVALID_USER_KEY", "infocode": "10001"})
    address = request.query.get("address", "").strip()
    if not address:
        return web.json_response({"status": "0", "info": "INVALID_PARAMS", "infocode": "20000"})
    known = request.app[GAZETTEER].get(address)
    lat, lon = known if known else _guess(request.app[CENTRE], address)
    glat, glon = wgs84_to_gcj02(lat, lon)
    return web.json_response({"status": "1", "info": "OK", "infocode": "10000", "count": "1", "geocodes": [{
        "formatted_address": address, "city": request.query.get("city", ""),
        "location": f"{glon:.6f},{glat:.6f}", "level": "门牌号" if known else "道路"}]})


def _guess(centre: tuple[float, float], address: str) -> tuple[float, float]:
    digest = hashlib.sha256(address.encode()).digest()
    angle, dist = digest[0] / 255 * 2 * math.pi, 100 + digest[1] / 255 * 500
    north, east = dist * math.cos(angle), dist * math.sin(angle)
    return centre[0] + north / 111_320, centre[1] + east / (111_320 * math.cos(math.radians(centre[0])))


async def tile(request: web.Request) -> web.Response:
    z, x, y = (int(request.match_info[k]) for k in ("z", "x", "y"))
    roads = []
    for i in range(0, 256, 64):
        width = 6 if (x * 4 + i // 64) % 3 == 0 else 3
        roads.append(f'<rect x="{i + 28}" y="0" width="{width}" height="256" fill="#fff"/>')
        width = 6 if (y * 4 + i // 64) % 3 == 0 else 3
        roads.append(f'<rect x="0" y="{i + 40}" width="256" height="{width}" fill="#fff"/>')
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">'
           f'<rect width="256" height="256" fill="#ebe7df"/>'
           f'<rect x="70" y="80" width="50" height="40" fill="#cfe6c8"/>{"".join(roads)}'
           f'<text x="6" y="250" font-size="10" fill="#9a9a9a">stand-in {z}/{x}/{y}</text></svg>')
    return web.Response(text=svg, content_type="image/svg+xml", headers={"Cache-Control": "max-age=3600"})


def standin_app(*, gazetteer: dict[str, tuple[float, float]] | None = None,
                centre: tuple[float, float] = (31.2304, 121.4737)) -> web.Application:
    app = web.Application()
    app[GAZETTEER] = dict(gazetteer or {})
    app[CENTRE] = centre
    app.router.add_get("/amap/v3/geocode/geo", amap_geocode)
    app.router.add_get("/tiles/{z:\\d+}/{x:\\d+}/{y:\\d+}.svg", tile)
    return app
