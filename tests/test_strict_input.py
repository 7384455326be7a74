"""Input a lenient parse used to accept as data is refused with a 422 that names the field: each class
the outside tester found, with more cases of the same class than the one in the report."""
from datetime import timedelta

import pytest

from tests.conftest import login


async def field_of(response) -> str:
    assert response.status == 422, f"{response.status} {await response.text()}"
    return (await response.json())["error"]["details"][0]["field"]


def booking_body(street, day, **over):
    return {"resident_id": street.elder.id, "item_code": "C01", "date": day.isoformat(), "window_start": "09:00",
            "window_end": "11:00", **over}


@pytest.mark.parametrize("value", [True, False, 1.5, "１", "²", "٣", "1e3", -1, 0, 2 ** 63])
async def test_an_id_is_a_whole_ascii_number(client, street, tomorrow, value):
    """`true` is not the id 1; nor are fractions, other scripts' digits, or numbers past bigint."""
    headers = await login(client, "operator")
    answer = await client.post("/api/v1/bookings", headers=headers, json=booking_body(street, tomorrow, resident_id=value))
    assert await field_of(answer) == "resident_id"


@pytest.mark.parametrize("raw", ["²", "%D9%A3", "1" * 20, "9223372036854775808", "-1", "0x1"])
async def test_a_path_id_is_ascii_digits_within_bigint(client, street, raw):
    headers = await login(client, "operator")
    assert await field_of(await client.get(f"/api/v1/bookings/{raw}", headers=headers)) == "id"
    assert await field_of(await client.get(f"/api/v1/caregivers/{raw}/calendar.ics?token=x")) == "id"


@pytest.mark.parametrize("query", ["date=0", "date=20261207", "date=9999-12-31", "date=1970-01-01", "date=2026-13-01"])
async def test_a_day_is_written_yyyy_mm_dd_within_the_street_s_range(client, street, query):
    headers = await login(client, "dispatcher")
    assert await field_of(await client.get(f"/api/v1/visits/alerts?{query}", headers=headers)) == "date"
    assert await field_of(await client.get(f"/api/v1/bookings?{query}", headers=headers)) == "date"


@pytest.mark.parametrize("month", ["9999-12", "0001-01", "2026-13", "2026-1", "0"])
async def test_a_month_is_bounded(client, street, month):
    headers = await login(client, "admin")
    answer = await client.get(f"/api/v1/reports/settlement?provider_id={street.provider_id}&month={month}",
                              headers=headers)
    assert await field_of(answer) == "month"


async def test_far_future_availability_and_day_sheet_are_refused_not_500(client, street):
    headers = await login(client, "provider_admin")
    answer = await client.get(f"/api/v1/caregivers/{street.caregiver_id}/availability?start=9999-12-31&days=7",
                              headers=headers)
    assert answer.status == 422
    sheet = await client.get(f"/api/v1/caregivers/{street.caregiver_id}/assignments?date=9999-12-31", headers=headers)
    assert await field_of(sheet) == "date"


@pytest.mark.parametrize("lat,lon,field", [(0, 0, "lat"), (31.23, 0, "lon"), (121.47, 31.23, "lat")])
async def test_a_place_lies_in_china(client, street, lat, lon, field):
    """A circle at 0, 0 or with swapped coordinates is a typo, not a place."""
    headers = await login(client, "admin")
    answer = await client.post("/api/v1/circles", headers=headers,
                               json={"name": "零点服务圈", "lat": lat, "lon": lon, "radius_m": 1200})
    assert await field_of(answer) == field


async def test_bodies_are_required_where_declared(client, street, tomorrow):
    headers = await login(client, "operator")
    made = await (await client.post("/api/v1/bookings", headers=headers, json=booking_body(street, tomorrow))).json()
    assert await field_of(await client.post(f"/api/v1/bookings/{made['id']}/cancel", headers=headers)) == "body"
    pa = await login(client, "provider_admin")
    assert await field_of(await client.patch(f"/api/v1/caregivers/{street.caregiver_id}", headers=pa)) == "body"
    assert (await client.post(f"/api/v1/bookings/{made['id']}/cancel", headers=headers, json={})).status == 200


async def test_duplicate_work_days_and_a_home_far_from_the_circle_are_refused(client, street):
    pa = await login(client, "provider_admin")
    path = f"/api/v1/caregivers/{street.caregiver_id}"
    assert await field_of(await client.patch(path, headers=pa, json={"work_days": [1, 1, 2]})) == "work_days"
    assert await field_of(await client.patch(path, headers=pa, json={"home_lat": 39.9, "home_lon": 116.4})) == "home_lat"
    body = {"name": "远方", "gender": "F", "phone": "13711112222", "circle_id": street.circle_id,
            "qualifications": ["C"], "home_lat": 31.5, "home_lon": 121.47, "transport": "ebike",
            "shift_start": "08:00", "shift_end": "16:00"}
    assert await field_of(await client.post("/api/v1/caregivers", headers=pa, json=body)) == "home_lat"


@pytest.mark.parametrize("where", ["notes", "window_start"])
async def test_a_nul_character_is_refused_naming_the_field(client, street, tomorrow, where):
    headers = await login(client, "operator")
    body = booking_body(street, tomorrow, **{where: "请先\x00敲门" if where == "notes" else "09:00\x00"})
    assert await field_of(await client.post("/api/v1/bookings", headers=headers, json=body)) == where
    search = await client.get("/api/v1/residents", params={"q": "王\x00"}, headers=headers)
    assert await field_of(search) == "q"


@pytest.mark.parametrize("key", [b"caf\xe9", b"\xff\xfe", b"a" * 201, b"tab\there"])
async def test_an_idempotency_key_is_printable_ascii(client, street, tomorrow, key):
    headers = {**await login(client, "operator"), "Idempotency-Key": key.decode("latin-1")}
    answer = await client.post("/api/v1/bookings", headers=headers, json=booking_body(street, tomorrow))
    assert await field_of(answer) == "Idempotency-Key"


async def test_a_call_links_only_a_booking_of_that_elder(client, street, tomorrow):
    headers = await login(client, "operator")
    theirs = await (await client.post("/api/v1/bookings", headers=headers,
                                      json=booking_body(street, tomorrow, resident_id=street.other_elder.id))).json()
    call = {"resident_id": street.elder.id, "kind": "inbound", "booking_id": theirs["id"]}
    assert await field_of(await client.post("/api/v1/calls", headers=headers, json=call)) == "booking_id"
    mine = await (await client.post("/api/v1/bookings", headers=headers, json=booking_body(street, tomorrow))).json()
    assert (await client.post("/api/v1/calls", headers=headers, json={**call, "booking_id": mine["id"]})).status == 201


async def test_usernames_differ_by_more_than_case(client, street):
    pa = await login(client, "provider_admin")
    body = {"name": "赵丽", "gender": "F", "phone": "13711112222", "circle_id": street.circle_id,
            "qualifications": ["C"], "home_lat": 31.232, "home_lon": 121.474, "transport": "walk",
            "shift_start": "08:00", "shift_end": "16:00", "password": "a-long-passphrase"}
    taken = await client.post("/api/v1/caregivers", headers=pa, json={**body, "username": "CareGiver"})
    assert taken.status == 409 and (await taken.json())["error"]["code"] == "username_taken"
    signed_in = await client.post("/api/v1/auth/login", json={"username": "CAREGIVER", "password": "pw-caregiver"})
    assert signed_in.status == 200


@pytest.mark.parametrize("password", ["short-1", "1234567890", "qwertyuiop", "aaaaaaaaaaaa"])
async def test_one_password_policy(client, street, password):
    pa = await login(client, "provider_admin")
    body = {"name": "赵丽", "gender": "F", "phone": "13711112222", "circle_id": street.circle_id,
            "qualifications": ["C"], "home_lat": 31.232, "home_lon": 121.474, "transport": "walk",
            "shift_start": "08:00", "shift_end": "16:00", "username": "zhaoli", "password": password}
    assert await field_of(await client.post("/api/v1/caregivers", headers=pa, json=body)) == "password"


def test_the_cli_refuses_a_weak_password(capsys):
    from app.cli import main
    assert main(["users", "create", "--username", "x1", "--password", "a", "--role", "admin"]) == 2
    assert "at least 10 characters" in capsys.readouterr().err


async def test_an_idle_token_signs_nobody_in(client, conn, street):
    headers = await login(client, "operator")
    assert (await client.get("/api/v1/auth/me", headers=headers)).status == 200
    await conn.execute("UPDATE auth_tokens SET last_used_at = now() - interval '13 hours'")
    assert (await client.get("/api/v1/auth/me", headers=headers)).status == 401
    elder = await login(client, "resident")
    await conn.execute("UPDATE auth_tokens SET last_used_at = now() - interval '13 hours' WHERE revoked_at IS NULL")
    assert (await client.get("/api/v1/auth/me", headers=elder)).status == 200   # elders: a week
    assert timedelta(days=7) > timedelta(hours=13)
