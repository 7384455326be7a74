"""Positions you can trust: the AMap client against the local stand-in speaking AMap's protocol (GCJ-02
answers converted to WGS84), the Tianditu client, the conversion itself, and GET /geocode."""
from __future__ import annotations

import math

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from app.standins import STANDIN_KEY, standin_app
from booking.geo import haversine_m
from core.geocode import AmapGeocoder, TiandituGeocoder, gcj02_to_wgs84, wgs84_to_gcj02
from core.errors import Unavailable
from tests.conftest import login

HOME = (31.2321, 121.4752)


def test_gcj02_round_trip_and_offset():
    """In Shanghai GCJ-02 lies some 500 m off WGS84; converting back lands within a centimetre."""
    shifted = wgs84_to_gcj02(*HOME)
    assert 300 < haversine_m(*HOME, *shifted) < 800
    back = gcj02_to_wgs84(*shifted)
    assert haversine_m(*HOME, *back) < 0.01
    assert wgs84_to_gcj02(51.5, -0.12) == (51.5, -0.12)  # outside China: no offset


async def test_amap_client_against_the_standin():
    async with TestServer(standin_app(gazetteer={"上海市黄浦区长乐路8号": HOME})) as server:
        client = AmapGeocoder(key=STANDIN_KEY, base_url=str(server.make_url("/amap")), city="上海")
        place = await client.geocode("上海市黄浦区长乐路8号")
        assert place.level == "门牌号" and place.source == "amap"
        assert haversine_m(place.lat, place.lon, *HOME) < 1  # the GCJ-02 answer came back as WGS84
        rough = await client.geocode("某某路")
        assert rough.level == "道路"
        wrong_key = AmapGeocoder(key="nope", base_url=str(server.make_url("/amap")))
        assert await wrong_key.geocode("上海市黄浦区长乐路8号") is None


async def test_tianditu_client_speaks_its_protocol():
    async def answer(request: web.Request) -> web.Response:
        assert request.query["tk"] == "k" and "长乐路" in request.query["ds"]
        return web.json_response({"status": "0", "msg": "ok", "location": {"lon": HOME[1], "lat": HOME[0],
                                                                            "level": "门牌号", "keyWord": "长乐路8号"}})
    app = web.Application()
    app.router.add_get("/geocoder", answer)
    async with TestServer(app) as server:
        place = await TiandituGeocoder(key="k", base_url=str(server.make_url(""))).geocode("长乐路8号")
        assert (place.lat, place.lon, place.source) == (HOME[0], HOME[1], "tianditu")


async def test_a_geocoder_that_does_not_answer_is_a_503():
    client = AmapGeocoder(key="k", base_url="http://127.0.0.1:9", timeout_s=1)
    with pytest.raises(Unavailable):
        await client.geocode("长乐路8号")


async def test_geocode_endpoint_and_unconfirmed_flag(client, street, conn):
    operator, dispatcher = await login(client, "operator"), await login(client, "dispatcher")
    answer = await client.get("/api/v1/geocode", params={"address": "长乐路8号"}, headers=operator)
    assert answer.status == 200  # no geocoder configured in the test app: said, not failed
    assert await answer.json() == {"found": False, "configured": False, "lat": None, "lon": None, "level": "",
                                   "precise": False, "formatted": "", "source": ""}
    assert (await client.get("/api/v1/geocode", params={"address": ""}, headers=operator)).status == 422
    flagged = await (await client.get("/api/v1/residents-unconfirmed", headers=dispatcher)).json()
    assert {r["id"] for r in flagged["residents"]} == {street.elder.id, street.other_elder.id}
    await client.patch(f"/api/v1/residents/{street.elder.id}", json={"position_confirmed": True}, headers=operator)
    flagged = await (await client.get("/api/v1/residents-unconfirmed", headers=dispatcher)).json()
    assert [r["id"] for r in flagged["residents"]] == [street.other_elder.id]
    assert (await client.get("/api/v1/residents-unconfirmed", params={"circle_id": street.circle_id + 999},
                             headers=dispatcher)).status == 404
