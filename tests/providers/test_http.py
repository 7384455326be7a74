"""One HTTP test per endpoint group, plus bad input naming the field (422) on every endpoint."""
import csv
import io
from datetime import time, timedelta

from icalendar import Calendar

from core.clock import local_instant, local_now
from booking import service as booking_service
from booking.models import BookingRequest
from providers import service
from tests.conftest import login
from tests.factories import make_provider, make_user
from tests.providers.helpers import book, publish, visit_ids

NEAR = {"lat": 31.2315, "lon": 121.4747}


async def field_of(response) -> str:
    assert response.status == 422, await response.text()
    return (await response.json())["error"]["details"][0]["field"]


async def test_circles_and_providers(client, street):
    admin, operator = await login(client, "admin"), await login(client, "operator")
    created = await client.post("/api/v1/circles", headers=admin,
                                json={"name": "外滩服务圈", "lat": 31.24, "lon": 121.49, "radius_m": 1200,
                                      "hotline_phone": "021-63210000"})
    assert created.status == 201
    circle_id = (await created.json())["id"]
    elder = await login(client, "resident")
    seen = await (await client.get(f"/api/v1/circles/{circle_id}", headers=elder)).json()
    assert (seen["name"], seen["hotline_phone"]) == ("外滩服务圈", "021-63210000")
    assert (await client.get("/api/v1/circles/999999", headers=elder)).status == 404
    assert await field_of(await client.post("/api/v1/circles", headers=admin, json={
        "name": "x", "lat": 31, "lon": 121, "radius_m": 1200, "hotline_phone": "call me"})) == "hotline_phone"
    listed = await client.get("/api/v1/circles", headers=operator)
    assert {"id", "name", "lat", "lon", "radius_m"} <= set((await listed.json())["circles"][0])
    assert (await client.post("/api/v1/circles", headers=operator, json={})).status == 403
    assert await field_of(await client.post("/api/v1/circles", headers=admin,
                                            json={"name": "x", "lat": 31, "lon": 121, "radius_m": 5})) == "radius_m"
    provider = await client.post("/api/v1/providers", headers=admin, json={
        "name": "康乐护理", "circle_ids": [street.circle_id], "item_codes": ["C01", "B01"]})
    assert provider.status == 201 and (await provider.json())["item_codes"] == ["B01", "C01"]
    names = [p["name"] for p in (await (await client.get("/api/v1/providers", headers=admin)).json())["providers"]]
    assert "康乐护理" in names
    assert await field_of(await client.post("/api/v1/providers", headers=admin, json={
        "name": "x", "circle_ids": [], "item_codes": ["C01"]})) == "circle_ids"
    again = await client.post("/api/v1/providers", headers=admin, json={
        "name": "康乐护理", "circle_ids": [street.circle_id], "item_codes": ["C01"]})
    assert again.status == 409 and (await again.json())["error"]["code"] == "provider_exists"


async def test_caregivers_and_availability(client, conn, street, tomorrow):
    pa = await login(client, "provider_admin")
    body = {"name": "周芳", "gender": "F", "phone": "13722223333", "circle_id": street.circle_id,
            "qualifications": ["G", "C"], "home_lat": 31.229, "home_lon": 121.47, "transport": "ebike",
            "shift_start": "08:00", "shift_end": "16:30", "max_work_minutes": 420}
    created = await client.post("/api/v1/caregivers", headers=pa, json=body)
    assert created.status == 201, await created.text()
    caregiver = await created.json()
    assert caregiver["provider_id"] == street.provider_id and caregiver["shift_end"] == "16:30"
    assert await field_of(await client.post("/api/v1/caregivers", headers=pa,
                                            json=body | {"transport": "car"})) == "transport"
    assert await field_of(await client.post("/api/v1/caregivers", headers=pa,
                                            json=body | {"qualifications": ["X"]})) == "qualifications.0"
    assert await field_of(await client.post("/api/v1/caregivers", headers=pa,
                                            json=body | {"shift_start": "17:00"})) == "shift_end"
    listed = await (await client.get(f"/api/v1/caregivers?provider_id={street.provider_id}", headers=pa)).json()
    assert {c["id"] for c in listed["caregivers"]} == {street.caregiver_id, caregiver["id"]}
    assert await field_of(await client.get("/api/v1/caregivers?provider_id=abc", headers=pa)) == "provider_id"
    path = f"/api/v1/caregivers/{caregiver['id']}"
    assert (await client.get(path, headers=pa)).status == 200
    assert await field_of(await client.get("/api/v1/caregivers/abc", headers=pa)) == "id"
    patched = await client.patch(path, headers=pa, json={"phone": "13799998888", "work_days": [1, 2, 3]})
    assert (await patched.json())["work_days"] == [1, 2, 3]
    assert await field_of(await client.patch(path, headers=pa, json={"provider_id": 1})) == "provider_id"
    await make_user(conn, "provider_admin", username="pa2", provider_id=await make_provider(conn))
    assert (await client.get(path, headers=await login(client, "pa2"))).status == 404
    days = {"days": [{"date": tomorrow.isoformat(), "kind": "leave"},
                     {"date": (tomorrow + timedelta(days=1)).isoformat(), "kind": "override",
                      "shift_start": "12:00", "shift_end": "18:00"}]}
    put = await client.put(f"{path}/availability", headers=pa, json=days)
    assert put.status == 200 and [d["kind"] for d in (await put.json())["days"]] == ["leave", "override"]
    bad = {"days": [{"date": tomorrow.isoformat(), "kind": "override", "shift_start": "12:00"}]}
    assert await field_of(await client.put(f"{path}/availability", headers=pa, json=bad)) == "days.0.shift_end"
    assert await field_of(await client.put(f"{path}/availability", headers=pa,
                                           json={"days": [{"date": "23-11-2026", "kind": "leave"}]})) == "days.0.date"
    shown = await (await client.get(f"{path}/availability?start={tomorrow}&days=2", headers=pa)).json()
    assert [d["kind"] for d in shown["days"]] == ["leave", "override"] and shown["days"][0]["shift"] is None
    assert await field_of(await client.get(f"{path}/availability?days=100", headers=pa)) == "days"


async def test_day_sheet_and_calendar_feed(client, db, conn, crypto, street, tomorrow):
    booking_id = await book(db, crypto, street, tomorrow, "B01")
    await publish(conn, booking_id, [street.caregiver_id], local_instant(tomorrow, time(9)), 60)
    me = await login(client, "caregiver")
    sheet = await client.get(f"/api/v1/caregivers/{street.caregiver_id}/assignments?date={tomorrow}", headers=me)
    data = await sheet.json()
    assert sheet.status == 200 and data["care_notes_shown"]
    (visit,) = data["visits"]
    assert visit["booking_id"] == booking_id and visit["resident"]["care_notes"] == "糖尿病，胰岛素每日两次"
    assert visit["bring"][:2] == ["防滑垫", "毛巾"] and visit["travel_minutes"] == 10
    assert await field_of(await client.get(f"/api/v1/caregivers/{street.caregiver_id}/assignments?date=tomorrow",
                                           headers=me)) == "date"
    await make_user(conn, "caregiver", username="cg2", caregiver_id=await conn.fetchval(
        "INSERT INTO caregivers (provider_id, circle_id, name, gender, phone, home_lat, home_lon, transport, "
        "shift_start, shift_end) VALUES ($1, $2, '另一位', 'F', '1', 31.2, 121.4, 'walk', '08:00', '17:00') "
        "RETURNING id", street.provider_id, street.circle_id))
    other = await login(client, "cg2")
    assert (await client.get(f"/api/v1/caregivers/{street.caregiver_id}/assignments", headers=other)).status == 404
    issued = await client.post(f"/api/v1/caregivers/{street.caregiver_id}/calendar-token", headers=me)
    assert issued.status == 201
    url = (await issued.json())["url"]
    feed = await client.get(url)
    assert feed.status == 200 and feed.content_type == "text/calendar"
    events = Calendar.from_ical(await feed.read()).walk("VEVENT")
    assert [str(e["UID"]) for e in events] == [f"booking-{booking_id}-1@service-circle"]
    assert await field_of(await client.get(f"/api/v1/caregivers/{street.caregiver_id}/calendar.ics")) == "token"
    await client.post(f"/api/v1/caregivers/{street.caregiver_id}/calendar-token", headers=me)
    assert (await client.get(url)).status == 404
    assert await field_of(await client.post("/api/v1/caregivers/0x1/calendar-token", headers=me)) == "id"


async def test_visit_check_in_out_alerts_and_correction(noon, client, db, conn, crypto, street, today):
    """A visit starting in ten minutes: check in far away (flagged), check out done, then correct it."""
    booking = await booking_service.create_booking(db, actor=street.users["operator"], today=today - timedelta(days=1),
        request=BookingRequest(street.elder.id, "C01", today, time(6), time(21), channel="hotline"))
    start = local_now().replace(microsecond=0) + timedelta(minutes=10)
    await publish(conn, booking.id, [street.caregiver_id], start, 60)
    (visit_id,) = await visit_ids(conn, booking.id)
    me = await login(client, "caregiver")
    assert await field_of(await client.post(f"/api/v1/visits/{visit_id}/check-in", headers=me,
                                            json={"lat": 999, "lon": 121.4})) == "lat"
    assert await field_of(await client.post(f"/api/v1/visits/{visit_id}/check-in", headers=me,
                                            json={"lat": 31.23})) == "lon"
    far = await client.post(f"/api/v1/visits/{visit_id}/check-in", headers=me, json={"lat": 31.2344, "lon": 121.4747})
    checked = await far.json()
    assert far.status == 200 and checked["booking_status"] == "in_progress" and checked["flags"] == ["far_check_in"]
    assert (await client.post(f"/api/v1/visits/{visit_id}/check-in", headers=me, json=NEAR)).status == 409
    assert await field_of(await client.post(f"/api/v1/visits/{visit_id}/check-out", headers=me, json=NEAR)) == "outcome"
    out = await client.post(f"/api/v1/visits/{visit_id}/check-out", headers=me, json=NEAR | {"outcome": "done"})
    assert (await out.json())["booking_status"] == "completed"
    assert "shortened" in (await out.json())["flags"]
    dispatcher = await login(client, "dispatcher")
    alerts = await (await client.get(f"/api/v1/visits/alerts?date={start.date()}", headers=dispatcher)).json()
    assert [a["visit_id"] for a in alerts["alerts"]] == [visit_id]
    assert await field_of(await client.get("/api/v1/visits/alerts?circle_id=0", headers=dispatcher)) == "circle_id"
    pa = await login(client, "provider_admin")
    assert await field_of(await client.patch(f"/api/v1/visits/{visit_id}", headers=pa,
                                             json={"reason": "  ", "outcome": "done"})) == "reason"
    assert await field_of(await client.patch(f"/api/v1/visits/{visit_id}", headers=pa,
                                             json={"reason": "核实", "check_in_at": "2026-01-01T09:00"})) == "check_in_at"
    fixed = await client.patch(f"/api/v1/visits/{visit_id}", headers=pa, json={
        "reason": "电话核实：签到晚录，实际服务55分钟", "check_in_at": (local_now() - timedelta(minutes=55)).isoformat()})
    assert fixed.status == 200, await fixed.text()
    corrected = await fixed.json()
    assert corrected["flags"] == ["far_check_in", "corrected"]  # no longer shortened; paid only once reviewed
    assert corrected["review_status"] == "pending"
    assert await conn.fetchval("SELECT count(*) FROM visit_audit WHERE visit_id = $1", visit_id) == 1
    assert (await client.post(f"/api/v1/visits/{visit_id}/check-in", headers=pa, json=NEAR)).status == 403


async def test_settlement_json_csv_and_clearing(client, db, conn, crypto, street, tomorrow):
    booking_id = await book(db, crypto, street, tomorrow, "C01")
    start = local_instant(tomorrow, time(9))
    await publish(conn, booking_id, [street.caregiver_id], start, 60)
    (visit_id,) = await visit_ids(conn, booking_id)
    actor = street.users["caregiver"]
    await service.check_in(db, actor=actor, visit_id=visit_id, lat=NEAR["lat"], lon=NEAR["lon"], now=start)
    await service.check_out(db, actor=actor, visit_id=visit_id, lat=NEAR["lat"], lon=NEAR["lon"], outcome="done",
                            now=start + timedelta(minutes=60))
    evaluation = await booking_service.evaluate(db, actor=street.users["resident"], booking_id=booking_id,
                                                rating=1, comment="态度差", source="app")
    month = tomorrow.strftime("%Y-%m")
    pa, admin = await login(client, "provider_admin"), await login(client, "admin")
    report = await (await client.get(f"/api/v1/reports/settlement?month={month}", headers=pa)).json()
    assert (report["visits"], report["payable_fen"], report["withheld_fen"]) == (1, 0, 4500)
    assert report["withheld"][0]["reasons"] == ["low_rating"] and report["withheld"][0]["reasons_zh"] == ["差评未复核"]
    assert await field_of(await client.get("/api/v1/reports/settlement?month=2026-13", headers=pa)) == "month"
    assert await field_of(await client.get(f"/api/v1/reports/settlement?month={month}", headers=admin)) == "provider_id"
    await make_user(conn, "provider_admin", username="pa3", provider_id=await make_provider(conn))
    other = await client.get(f"/api/v1/reports/settlement?month={month}&provider_id={street.provider_id}",
                             headers=await login(client, "pa3"))
    assert other.status == 404
    cleared = await client.post(f"/api/v1/evaluations/{evaluation.id}/clear", headers=admin)
    assert cleared.status == 200 and (await cleared.json())["cleared_at"]
    assert await field_of(await client.post("/api/v1/evaluations/x/clear", headers=admin)) == "id"
    exported = await client.get(f"/api/v1/reports/settlement.csv?month={month}&provider_id={street.provider_id}",
                                headers=admin)
    raw = await exported.read()
    assert exported.content_type == "text/csv" and raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[1][0] == str(booking_id) and rows[1][9] == "应付" and ["合计应付(元)", "45.00"] in rows
    assert "attachment" in exported.headers["Content-Disposition"]
    assert await field_of(await client.get("/api/v1/reports/settlement.csv?month=11-2026", headers=pa)) == "month"


async def test_elder_side_cannot_reach_rosters(client, street):
    for role in ("resident", "family", "operator"):
        headers = await login(client, role)
        assert (await client.get("/api/v1/caregivers", headers=headers)).status == 403
        assert (await client.get(f"/api/v1/caregivers/{street.caregiver_id}/assignments",
                                 headers=headers)).status == 403
