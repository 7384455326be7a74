"""Address → position (WGS84), through a geocoding web service: AMap (高德) or Tianditu (天地图).

AMap answers in GCJ-02, the offset datum Chinese law requires of its maps; positions here are WGS84
(the phone's GPS, the planner's distances), so AMap's answers are converted with `gcj02_to_wgs84`
(the published transform, inverted by iteration to well under a metre). Tianditu answers in
CGCS2000, which equals WGS84 to a few centimetres: no conversion.

A geocoder only proposes a position: the operator confirms it on the map (residents.position_source).
Each client speaks its provider's protocol to `base_url`, so the demo and the tests point the same
client at a local stand-in (`app/standins.py`)."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from core.errors import Unavailable


@dataclass(frozen=True)
class Place:
    lat: float          # WGS84
    lon: float
    level: str          # how precise: the provider's word (门牌号, 兴趣点, 道路, 区县 …)
    formatted: str
    source: str         # amap | tianditu


class Geocoder(Protocol):
    async def geocode(self, address: str) -> Place | None: ...


# ------------------------------------------------------------------ GCJ-02 ↔ WGS84

_A, _EE = 6378245.0, 0.00669342162296594323


def _outside_china(lat: float, lon: float) -> bool:
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _delta(lat: float, lon: float) -> tuple[float, float]:
    x, y = lon - 105.0, lat - 35.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
            + (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
            + (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
            + (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
            + (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
            + (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
            + (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0)
    rad = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad) ** 2
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * math.sqrt(magic)) * math.pi)
    dlon = (dlon * 180.0) / (_A / math.sqrt(magic) * math.cos(rad) * math.pi)
    return dlat, dlon


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    if _outside_china(lat, lon):
        return lat, lon
    dlat, dlon = _delta(lat, lon)
    return lat + dlat, lon + dlon


def gcj02_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    """The WGS84 point whose GCJ-02 image is (lat, lon), by fixed-point iteration."""
    wlat, wlon = lat, lon
    for _ in range(8):
        glat, glon = wgs84_to_gcj02(wlat, wlon)
        wlat, wlon = wlat - (glat - lat), wlon - (glon - lon)
    return wlat, wlon


# ------------------------------------------------------------------ the clients


class _Client:
    source = ""

    def __init__(self, *, key: str, base_url: str, city: str = "", timeout_s: float = 5.0):
        self.key, self.base_url, self.city = key, base_url.rstrip("/"), city
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def _get_json(self, path: str, params: dict) -> dict:
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as session:
                async with session.get(self.base_url + path, params=params) as response:
                    response.raise_for_status()
                    return json.loads(await response.text())
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise Unavailable(f"the {self.source} geocoder did not answer: {type(exc).__name__}",
                              message_zh="地址定位服务暂时不可用，请在地图上手动标出位置") from exc


class AmapGeocoder(_Client):
    """AMap web service geocoding (`/v3/geocode/geo`); its GCJ-02 answer is converted to WGS84."""

    source = "amap"
    DEFAULT_URL = "https://restapi.amap.com"

    async def geocode(self, address: str) -> Place | None:
        data = await self._get_json("/v3/geocode/geo", {"key": self.key, "address": address, "city": self.city,
                                                        "output": "JSON"})
        if str(data.get("status")) != "1" or not data.get("geocodes"):
            return None
        first = data["geocodes"][0]
        lon, lat = (float(v) for v in str(first["location"]).split(","))
        wlat, wlon = gcj02_to_wgs84(lat, lon)
        return Place(round(wlat, 6), round(wlon, 6), str(first.get("level", "")),
                     str(first.get("formatted_address", address)), self.source)


class TiandituGeocoder(_Client):
    """Tianditu geocoding (`/geocoder?ds={"keyWord": …}&tk=`); CGCS2000 ≈ WGS84."""

    source = "tianditu"
    DEFAULT_URL = "https://api.tianditu.gov.cn"

    async def geocode(self, address: str) -> Place | None:
        data = await self._get_json("/geocoder", {"ds": json.dumps({"keyWord": address}, ensure_ascii=False),
                                                  "tk": self.key})
        if str(data.get("status")) != "0" or not data.get("location"):
            return None
        where = data["location"]
        return Place(round(float(where["lat"]), 6), round(float(where["lon"]), 6), str(where.get("level", "")),
                     str(where.get("keyWord", address)), self.source)


def geocoder_from(settings) -> Geocoder | None:
    """The configured geocoder, or None (positions are then set on the map or typed)."""
    kinds = {"amap": AmapGeocoder, "tianditu": TiandituGeocoder}
    kind = kinds.get(settings.geocoder)
    if kind is None:
        return None
    return kind(key=settings.geocoder_key, base_url=settings.geocoder_url or kind.DEFAULT_URL,
                city=settings.geocoder_city)
