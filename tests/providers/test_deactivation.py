"""Deactivating a caregiver ends their access at once: every token revoked, login refused, every
endpoint a caregiver may call answers 401 (walked from the OpenAPI document), the calendar feed 404."""
from datetime import time

from app.openapi import documented_routes
from tests.conftest import login
from tests.providers.helpers import book_and_publish, visit_ids


def caregiver_routes(app) -> list[tuple[str, str]]:
    return [(method, path) for method, path, _handler, doc in documented_routes(app)
            if doc.roles is not None and "caregiver" in doc.roles]


async def test_every_caregiver_endpoint_refuses_a_deactivated_caregiver(client, db, conn, crypto, street, today):
    booking_id = await book_and_publish(db, conn, crypto, street, today, at=time(9))
    (visit_id,) = await visit_ids(conn, booking_id)
    me = await login(client, "caregiver")
    feed = await (await client.post(f"/api/v1/caregivers/{street.caregiver_id}/calendar-token", headers=me)).json()
    sheet = f"/api/v1/caregivers/{street.caregiver_id}/assignments?date={today}"
    assert (await client.get(sheet, headers=me)).status == 200

    admin = await login(client, "provider_admin")
    off = await client.patch(f"/api/v1/caregivers/{street.caregiver_id}", headers=admin, json={"active": False})
    assert off.status == 200 and (await off.json())["active"] is False

    routes = caregiver_routes(client.server.app)
    assert len(routes) >= 8, routes
    ids = {"caregivers": street.caregiver_id, "visits": visit_id, "bookings": booking_id}
    for method, path in routes:
        parts = path.split("/")
        url = "/".join(str(ids.get(parts[i - 1], 1)) if part == "{id}" else part for i, part in enumerate(parts))
        answer = await client.request(method, url, headers=me, json={} if method != "GET" else None)
        assert answer.status == 401, f"{method} {url}: {answer.status} {await answer.text()}"
    refused = await client.post("/api/v1/auth/login", json={"username": "caregiver", "password": "pw-caregiver"})
    assert refused.status == 401
    calendar = await client.get(f"/api/v1/caregivers/{street.caregiver_id}/calendar.ics", params={"token": feed["token"]})
    assert calendar.status == 404
    assert await conn.fetchval("SELECT count(*) FROM auth_tokens t JOIN users u ON u.id = t.user_id "
                               "WHERE u.caregiver_id = $1 AND t.revoked_at IS NULL", street.caregiver_id) == 0

    back = await client.patch(f"/api/v1/caregivers/{street.caregiver_id}", headers=admin, json={"active": True})
    assert back.status == 200
    again = await login(client, "caregiver")    # reactivated: may sign in again; old tokens stay revoked
    assert (await client.get(sheet, headers=again)).status == 200
    assert (await client.get(sheet, headers=me)).status == 401
