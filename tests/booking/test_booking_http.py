"""The booking API over HTTP: one test per endpoint group, and bad input answered with 422."""
from datetime import timedelta

import pytest

from tests.conftest import login


def body_for(street, day, **overrides):
    body = {"resident_id": street.elder.id, "item_code": "B01", "date": day.isoformat(),
            "window_start": "09:00", "window_end": "11:00", "notes": "请敲门"}
    body.update(overrides)
    return body


async def test_health_and_menu_are_public(client):
    health = await (await client.get("/healthz")).json()
    assert health == {"status": "ok", "database": "ok", "redis": "ok"}
    menu = await (await client.get("/api/v1/menu")).json()
    assert [c["code"] for c in menu["categories"]] == ["meals", "cleaning", "bathing", "health", "errands",
                                                        "companionship"]
    items = [i for c in menu["categories"] for i in c["items"]]
    assert len(items) == 47
    assert {"code", "name_zh", "name_en", "price_fen", "minutes", "qualification", "crew", "subsidy_max_fen",
            "needs_visit"} <= set(items[0])


async def test_login_me_logout(client, street):
    headers = await login(client, "family")
    me = await (await client.get("/api/v1/auth/me", headers=headers)).json()
    assert me["role"] == "family" and me["family_resident_ids"] == [street.elder.id]
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status == 200
    assert (await client.get("/api/v1/auth/me", headers=headers)).status == 401
    wrong = await client.post("/api/v1/auth/login", json={"username": "family", "password": "nope"})
    assert wrong.status == 401 and (await wrong.json())["error"]["code"] == "unauthenticated"


async def test_quote_book_read_list_cancel(client, street, tomorrow):
    headers = await login(client, "resident")
    quote = await (await client.post("/api/v1/bookings/quote", json=body_for(street, tomorrow), headers=headers)).json()
    assert quote == {"price_fen": 10_000, "subsidy_fen": 10_000, "self_pay_fen": 0, "available_fen": 20_000}
    created = await client.post("/api/v1/bookings", json=body_for(street, tomorrow), headers=headers)
    assert created.status == 201
    booking = await created.json()
    assert booking["status"] == "pending" and booking["window_start"] == "09:00" and booking["caregiver"] is None
    read = await (await client.get(f"/api/v1/bookings/{booking['id']}", headers=headers)).json()
    assert read["id"] == booking["id"] and read["date"] == tomorrow.isoformat()
    listed = await (await client.get(f"/api/v1/bookings?date={tomorrow}", headers=headers)).json()
    assert [b["id"] for b in listed["bookings"]] == [booking["id"]]
    wallet = await (await client.get(f"/api/v1/residents/{street.elder.id}/wallet?month={tomorrow:%Y-%m}",
                                     headers=headers)).json()
    assert (wallet["held_fen"], wallet["available_fen"]) == (10_000, 10_000)
    assert [e["kind"] for e in wallet["entries"]] == ["grant", "hold"]
    cancelled = await client.post(f"/api/v1/bookings/{booking['id']}/cancel", json={}, headers=headers)
    assert (await cancelled.json())["status"] == "cancelled"
    again = await client.post(f"/api/v1/bookings/{booking['id']}/cancel", json={}, headers=headers)
    assert again.status == 409 and (await again.json())["error"]["code"] == "invalid_transition"


async def test_idempotency_key_over_http(client, street, tomorrow):
    headers = {**await login(client, "operator"), "Idempotency-Key": "hotline-call-7"}
    body = body_for(street, tomorrow, channel="hotline")
    first = await client.post("/api/v1/bookings", json=body, headers=headers)
    second = await client.post("/api/v1/bookings", json=body, headers=headers)
    assert first.status == second.status == 201
    assert await first.json() == await second.json()
    other = await client.post("/api/v1/bookings", json={**body, "item_code": "C01"}, headers=headers)
    assert other.status == 422
    assert (await other.json())["error"]["details"][0]["field"] == "Idempotency-Key"


async def test_operator_registers_and_finds_a_resident(client, street):
    headers = await login(client, "operator")
    new = {"name": "赵桂兰", "gender": "F", "birth_date": "1941-03-08", "phone": "13912345678",
           "address": "测试路88弄3号201室", "lat": 31.2310, "lon": 121.4740, "circle_id": street.circle_id,
           "subsidy_eligible": True, "lives_alone": True, "care_notes": "高血压", "id_card_no": "11010519491231002X"}
    created = await client.post("/api/v1/residents", json=new, headers=headers)
    assert created.status == 201, await created.text()
    resident = await created.json()
    assert resident["id_card_no"] == "**************002X" and resident["care_notes"] == "高血压"
    by_phone = await (await client.get("/api/v1/residents?phone=13912345678", headers=headers)).json()
    assert [r["id"] for r in by_phone["residents"]] == [resident["id"]]
    by_name = await (await client.get("/api/v1/residents?q=赵桂", headers=headers)).json()
    assert resident["id"] in [r["id"] for r in by_name["residents"]]
    care = await (await client.get("/api/v1/care-calls", headers=headers)).json()
    assert resident["id"] in [e["resident"]["id"] for e in care["entries"]]
    call = await client.post("/api/v1/calls", json={"resident_id": resident["id"], "kind": "care_call",
                                                    "outcome": "ok", "notes": "身体还好"}, headers=headers)
    assert call.status == 201


async def test_series_over_http(client, street, today):
    headers = await login(client, "family")
    body = {"resident_id": street.elder.id, "item_code": "M01", "weekdays": [1, 2, 3, 4, 5, 6, 7],
            "window_start": "11:00", "window_end": "12:00", "start_date": (today + timedelta(days=1)).isoformat(),
            "end_date": (today + timedelta(days=20)).isoformat()}
    created = await client.post("/api/v1/series", json=body, headers=headers)
    assert created.status == 201 and (await created.json())["bookings_created"] == 7
    series_id = (await created.json())["id"]
    cancelled = await client.post(f"/api/v1/series/{series_id}/cancel", headers=headers)
    assert (await cancelled.json())["status"] == "cancelled"


async def test_scoping_answers_404_for_someone_elses_elder(client, street, tomorrow):
    headers = await login(client, "other_resident")
    assert (await client.get(f"/api/v1/residents/{street.elder.id}", headers=headers)).status == 404
    assert (await client.get(f"/api/v1/residents/{street.elder.id}/wallet", headers=headers)).status == 404
    booked = await client.post("/api/v1/bookings", json=body_for(street, tomorrow), headers=headers)
    assert booked.status == 404
    assert (await client.get("/api/v1/residents?q=王", headers=headers)).status == 403
    assert (await client.get("/api/v1/bookings")).status == 401


BAD_BOOKINGS = [
    ({"item_code": "XX1"}, "item_code", "XX1"),
    ({"window_start": "25:00"}, "window_start", "25:00"),
    ({"window_start": "05:00"}, "window_start", "05:00"),
    ({"window_end": "08:00"}, "window_end", "08:00"),
    ({"date": "2020-01-01"}, "date", "2020-01-01"),
    ({"date": "tomorrow"}, "date", "tomorrow"),
    ({"channel": "fax"}, "channel", "fax"),
    ({"resident_id": "abc"}, "resident_id", "abc"),
    ({"resident_id": -1}, "resident_id", -1),
    ({"notes": "x" * 501}, "notes", "x" * 501),
    ({"surprise": 1}, "surprise", 1),
]


@pytest.mark.parametrize("override,field,value", BAD_BOOKINGS)
async def test_bad_booking_bodies_name_the_field_and_value(client, street, tomorrow, override, field, value):
    headers = await login(client, "resident")
    for path in ("/api/v1/bookings", "/api/v1/bookings/quote"):
        response = await client.post(path, json=body_for(street, tomorrow, **override), headers=headers)
        assert response.status == 422, await response.text()
        detail = (await response.json())["error"]["details"][0]
        assert detail["field"] == field and detail["value"] == value


async def test_bad_input_on_every_booking_endpoint_is_422(client, street):
    headers = await login(client, "operator")
    cases = [
        ("post", "/api/v1/bookings", b"{not json", "body"),
        ("post", "/api/v1/bookings", b"[]", "body"),
        ("get", "/api/v1/bookings?date=2026-13-40", None, "date"),
        ("get", "/api/v1/bookings?status=lost", None, "status"),
        ("get", "/api/v1/bookings/abc", None, "id"),
        ("get", "/api/v1/residents?phone=12345", None, "phone"),
        ("get", f"/api/v1/residents/{street.elder.id}/wallet?month=2026-13", None, "month"),
        ("post", "/api/v1/residents", b'{"name": ""}', "name"),
        ("post", "/api/v1/bookings/1/evaluation", b'{"rating": 9}', "rating"),
        ("post", "/api/v1/series", b'{"weekdays": [8]}', "resident_id"),
        ("post", "/api/v1/calls", b'{"resident_id": 1, "kind": "sms"}', "kind"),
        ("get", "/api/v1/care-calls?date=yesterday", None, "date"),
        ("post", "/api/v1/auth/login", b'{"username": ""}', "username"),
    ]
    for method, path, data, field in cases:
        response = await getattr(client, method)(path, data=data, headers=headers)
        assert response.status == 422, (path, await response.text())
        fields = [d["field"] for d in (await response.json())["error"]["details"]]
        assert field in fields, (path, fields)


async def test_unknown_route_and_method_keep_the_error_shape(client):
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status == 404 and (await missing.json())["error"]["code"] == "not_found"
    wrong = await client.delete("/api/v1/menu")
    assert wrong.status == 405 and "error" in await wrong.json()


async def test_openapi_documents_every_route(client):
    spec = await (await client.get("/api/v1/openapi.json")).json()
    assert spec["paths"]["/api/v1/bookings"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BookingCreate"}
    assert "BookingRead" in spec["components"]["schemas"]


async def test_times_as_people_type_them_and_errors_in_chinese(client, street, tomorrow):
    """'9:00' means 09:00; an error names the field in words an operator knows."""
    headers = await login(client, "operator")
    ok = await client.post("/api/v1/bookings/quote", json=body_for(street, tomorrow, window_start="9:00"),
                           headers=headers)
    assert ok.status == 200
    bad = await client.post("/api/v1/bookings/quote", json=body_for(street, tomorrow, window_start="9点"),
                            headers=headers)
    assert bad.status == 422 and "开始时间" in (await bad.json())["error"]["message_zh"]


async def test_wallet_shows_the_grant_before_first_use_and_calls_history(client, street, tomorrow):
    headers = await login(client, "operator")
    wallet = await (await client.get(f"/api/v1/residents/{street.elder.id}/wallet", headers=headers)).json()
    assert (wallet["granted_fen"], wallet["available_fen"], wallet["opened"], wallet["entries"]) == (20_000, 20_000, False, [])
    other = await (await client.get(f"/api/v1/residents/{street.other_elder.id}/wallet", headers=headers)).json()
    assert other["available_fen"] == 0
    await client.post("/api/v1/calls", json={"resident_id": street.elder.id, "kind": "inbound", "notes": "问洗澡"},
                      headers=headers)
    calls = await (await client.get(f"/api/v1/calls?resident_id={street.elder.id}", headers=headers)).json()
    assert [c["notes"] for c in calls["calls"]] == ["问洗澡"]
    bad = await client.get("/api/v1/calls", headers=headers)
    assert bad.status == 422 and (await bad.json())["error"]["details"][0]["field"] == "resident_id"


async def test_reschedule_over_http(client, street, tomorrow):
    headers = await login(client, "family")
    booking = await (await client.post("/api/v1/bookings", json=body_for(street, tomorrow), headers=headers)).json()
    moved = await client.post(f"/api/v1/bookings/{booking['id']}/reschedule", headers=headers,
                              json={"date": tomorrow.isoformat(), "window_start": "14:00", "window_end": "15:00"})
    assert moved.status == 201 and (await moved.json())["window_start"] == "14:00"
    bad = await client.post(f"/api/v1/bookings/{booking['id']}/reschedule", headers=headers,
                            json={"date": tomorrow.isoformat(), "window_start": "14:00", "window_end": "13:00"})
    assert bad.status in (409, 422)


async def test_a_keyed_booking_replays_the_booking(client, conn, street, tomorrow):
    """POST /bookings with a key: a retry answers the same booking with 201 and makes no other."""
    headers = {**await login(client, "family"), "Idempotency-Key": "replay-1"}
    first = await client.post("/api/v1/bookings", json=body_for(street, tomorrow), headers=headers)
    again = await client.post("/api/v1/bookings", json=body_for(street, tomorrow), headers=headers)
    assert first.status == again.status == 201, await first.text()
    assert await first.json() == await again.json()
    booked_by = await conn.fetchval("SELECT booked_by FROM bookings WHERE id = $1", (await first.json())["id"])
    assert booked_by == street.users["family"].id
    assert await conn.fetchval("SELECT count(*) FROM bookings") == 1


async def test_a_keyed_booking_answers_refusals_in_the_old_order(client, conn, street, tomorrow):
    """The statement that checks the token answers only a caller who may book; all else as before: a token
    expired or revoked by SQL or a deactivated user 401 (even with a bad body), a role that may not book 403,
    another family's elder 404, a bad body 422 — and none of them keeps the key."""
    body = body_for(street, tomorrow)

    async def post(username, key, payload=body):
        headers = {**await login(client, username), "Idempotency-Key": key}
        return headers, await client.post("/api/v1/bookings", json=payload, headers=headers)

    assert (await post("dispatcher", "refused-1"))[1].status == 403
    assert (await post("other_resident", "refused-2"))[1].status == 404
    assert (await post("family", "refused-3", {**body, "window_start": "25:00"}))[1].status == 422
    headers, _ = await post("operator", "refused-4", {**body, "item_code": "ZZ9"})
    await conn.execute("UPDATE auth_tokens SET expires_at = now() - interval '1 second'")
    for payload in (body, {**body, "window_start": "25:00"}, {**body, "notes": "长" * 2_000_000}):
        refused = await client.post("/api/v1/bookings", json=payload, headers=headers)
        assert refused.status == 401
    headers, _ = await post("resident", "refused-5", {**body, "item_code": "ZZ9"})
    await conn.execute("UPDATE auth_tokens SET revoked_at = now()")
    assert (await client.post("/api/v1/bookings", json=body, headers=headers)).status == 401
    headers, _ = await post("admin", "refused-6", {**body, "item_code": "ZZ9"})
    await conn.execute("UPDATE users SET active = false WHERE username = 'admin'")
    assert (await client.post("/api/v1/bookings", json=body, headers=headers)).status == 401
    assert await conn.fetchval("SELECT count(*) FROM idempotency_keys") == 0
    assert await conn.fetchval("SELECT count(*) FROM bookings") == 0
