"""The HTTP edge: what the access log keeps, the headers every answer carries, the OpenAPI document's
own consistency, and — over every path and query parameter the document names — no 5xx whatever
text a client puts there."""
import json
import logging
import re

import aiohttp
from aiohttp import web
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from app.main import create_app
from app.openapi import build_openapi
from core.http import RedactingAccessLogger
from tests.conftest import login

PHONE = "13900001234"


async def test_the_access_log_of_a_hotline_session_holds_no_phone_or_name(settings, db, redis, street, caplog):
    """The app served as `circle serve` serves it (RedactingAccessLogger), a hotline operator searching."""
    app = create_app(settings, database=db, redis_client=redis, with_background=False)
    runner = web.AppRunner(app, access_log_class=RedactingAccessLogger, access_log=logging.getLogger("test.access"),
                           access_log_format='%a "%r" %s')
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    caplog.set_level(logging.INFO, logger="test.access")
    try:
        async with aiohttp.ClientSession(base) as http:
            signed_in = await (await http.post("/api/v1/auth/login", json={"username": "operator",
                                                                            "password": "pw-operator"})).json()
            headers = {"Authorization": f"Bearer {signed_in['token']}"}
            for query in ({"phone": PHONE}, {"phone": street.elder.phone}, {"q": street.elder.name[:2]}):
                assert (await http.get("/api/v1/residents", params=query, headers=headers)).status == 200
            assert (await http.get(f"/api/v1/bookings?date=2030-01-02&resident_id={street.elder.id}",
                                   headers=headers)).status == 200
    finally:
        await runner.cleanup()
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "test.access")
    assert "/api/v1/residents?phone=***" in logged and "q=***" in logged
    for secret in (PHONE, street.elder.phone, street.elder.name[:2], signed_in["token"]):
        assert secret not in logged
    assert "date=2030-01-02" in logged   # values that name nobody stay, for whoever reads the log


async def test_headers_of_every_answer(client, street):
    anonymous = await client.get("/api/v1/menu")
    assert anonymous.headers["Server"] == "service-circle" and "aiohttp" not in anonymous.headers["Server"]
    headers = await login(client, "operator")
    personal = await client.get(f"/api/v1/residents/{street.elder.id}", headers=headers)
    assert personal.status == 200 and personal.headers["Cache-Control"] == "no-store"
    wrong_method = await client.delete("/api/v1/menu")
    assert wrong_method.status == 405 and "GET" in wrong_method.headers["Allow"]
    assert (await wrong_method.json())["error"]["code"] == "method_not_allowed"


async def test_the_openapi_document_is_whole(client):
    document = await (await client.get("/api/v1/openapi.json")).json()
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(document)))
    assert refs and refs <= set(document["components"]["schemas"])
    create = document["paths"]["/api/v1/bookings"]["post"]
    assert any(p["in"] == "header" and p["name"] == "Idempotency-Key" for p in create["parameters"])
    assert {"429", "503"} <= set(document["paths"]["/api/v1/auth/login"]["post"]["responses"])


def _operations(document: dict) -> list[tuple[str, str, list[str]]]:
    return [(method.upper(), path, [p["name"] for p in op["parameters"] if p["in"] == "query"])
            for path, item in document["paths"].items() for method, op in item.items()
            if not path.endswith("/events") and not path.endswith("/auth/logout")]


NASTY = st.one_of(st.text(max_size=30), st.sampled_from(
    ["0", "-1", "²", "١٢", "9" * 30, "9999-12-31", "0001-01-01", "2026-02-30", "true", "1e309", "NaN", "\x00",
     "10000-01", "2026-13", "%", "../", "' OR 1=1 --"]))


async def test_no_parameter_text_gives_a_5xx(client, street):
    """For every operation the document names, hypothesis puts arbitrary text in each path id and query
    parameter (signed in as the street admin, who may call nearly all of them; writes get an empty
    body): never a 5xx."""
    document = build_openapi(client.server.app)
    headers = await login(client, "admin")
    operations = _operations(document)
    assert len(operations) >= 20
    answers: list[tuple[str, int]] = []

    @hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck),
                         derandomize=True)
    @given(data=st.data())
    def probe(data):
        method, path, names = data.draw(st.sampled_from(operations))
        url = re.sub(r"\{[^}]+\}", lambda _m: data.draw(NASTY).replace("/", "%2F") or "1", path)
        query = {name: data.draw(NASTY) for name in names if data.draw(st.booleans())}
        answers.append((method, url, query))

    probe()
    statuses = []
    for method, url, query in answers:
        body = None if method == "GET" else {}
        response = await client.request(method, url, params=query, headers=headers, json=body)
        statuses.append(response.status)
        assert response.status < 500, f"{url} {query}: {response.status} {await response.text()}"
    assert 422 in statuses
