"""Issue 15, part 1 and 3: editing through the API, every change audited; duplicates refused with
the existing record; bookings nobody could serve refused before any subsidy is held; the channel
follows the caller."""
from __future__ import annotations

from datetime import time, timedelta

from tests.conftest import login
from tests.factories import make_caregiver, make_provider, make_user


def _booking(street, day, **overrides):
    body = {"resident_id": street.elder.id, "item_code": "C01", "date": day.isoformat(),
            "window_start": "09:00", "window_end": "11:00"}
    return body | overrides


def _resident(street, **overrides):
    body = {"name": "赵桂兰", "gender": "F", "birth_date": "1941-03-03", "phone": "13955550001",
            "address": "长乐路8号", "lat": street.elder.lat, "lon": street.elder.lon, "circle_id": street.circle_id}
    return body | overrides


async def test_menu_price_change_is_audited_and_bookings_keep_their_price(client, street, tomorrow):
    admin, operator = await login(client, "admin"), await login(client, "operator")
    first = await client.post("/api/v1/bookings", json=_booking(street, tomorrow), headers=operator)
    assert first.status == 201, await first.text()
    before = (await first.json())["price_fen"]
    patched = await client.patch("/api/v1/menu/C01", json={"price_fen": before + 500, "minutes": 50}, headers=admin)
    assert patched.status == 200, await patched.text()
    assert (await patched.json())["price_fen"] == before + 500 and (await patched.json())["active"] is True
    kept = await (await client.get(f"/api/v1/bookings/{(await first.json())['id']}", headers=operator)).json()
    assert kept["price_fen"] == before
    trail = await (await client.get("/api/v1/audit", params={"record": "menu_items:C01"}, headers=admin)).json()
    change = trail["changes"][0]
    assert change["actor_name"] == "admin" and change["before"]["price_fen"] == before
    assert change["after"] == {"price_fen": before + 500, "minutes": 50}
    assert (await client.patch("/api/v1/menu/C01", json={"price_fen": -1}, headers=admin)).status == 422
    assert (await client.patch("/api/v1/menu/C01", json={"price_fen": 1}, headers=operator)).status == 403
    assert (await client.patch("/api/v1/menu/ZZ9", json={"active": False}, headers=admin)).status == 404


async def test_deactivated_item_leaves_the_menu(client, street):
    admin = await login(client, "admin")
    assert (await client.patch("/api/v1/menu/C01", json={"active": False}, headers=admin)).status == 200
    menu = await (await client.get("/api/v1/menu")).json()
    assert "C01" not in [i["code"] for c in menu["categories"] for i in c["items"]]


async def test_resident_edit_is_audited_without_care_notes_in_clear(client, street):
    operator, admin = await login(client, "operator"), await login(client, "admin")
    url = f"/api/v1/residents/{street.elder.id}"
    moved = await client.patch(url, json={"address": "长乐路10号", "phone": "13955550009", "lives_alone": True,
                                          "care_notes": "新的备注：青霉素过敏", "lat": street.elder.lat + 0.001,
                                          "reason": "家属来电更正"}, headers=operator)
    assert moved.status == 200, await moved.text()
    body = await moved.json()
    assert body["address"] == "长乐路10号" and body["lives_alone"] and body["care_notes"] is None
    assert (await (await client.get(url, headers=operator)).json())["care_notes"].startswith("新的备注")
    assert body["position_source"] == "unconfirmed"
    confirmed = await (await client.patch(url, json={"position_confirmed": True}, headers=operator)).json()
    assert confirmed["position_source"] == "confirmed"
    trail = await (await client.get("/api/v1/audit", params={"record": f"residents:{street.elder.id}"},
                                    headers=admin)).json()
    edit = next(c for c in trail["changes"] if "address" in c["after"])
    assert edit["before"]["address"] == street.elder.address and edit["reason"] == "家属来电更正"
    assert "青霉素" not in str(trail) and edit["after"]["care_notes"] == "(encrypted) changed"
    assert trail["sensitive_reads"] == [] or all(r["resident_id"] == street.elder.id for r in trail["sensitive_reads"])
    far = await client.patch(url, json={"lat": street.elder.lat + 0.5}, headers=operator)
    assert far.status == 422 and (await far.json())["error"]["details"][0]["field"] == "lat"
    taken = await client.patch(url, json={"phone": street.other_elder.phone}, headers=operator)
    assert taken.status == 409 and (await taken.json())["error"]["existing_id"] == street.other_elder.id
    assert (await client.patch(url, json={"phone": "12"}, headers=operator)).status == 422
    assert (await client.patch(url, json={"address": "x"}, headers=await login(client, "resident"))).status == 403


async def test_duplicate_resident_needs_a_reason(client, street):
    operator, admin = await login(client, "operator"), await login(client, "admin")
    same_phone = await client.post("/api/v1/residents", json=_resident(street, phone=street.elder.phone),
                                   headers=operator)
    assert same_phone.status == 409
    error = (await same_phone.json())["error"]
    assert error["code"] == "duplicate_resident" and error["existing_id"] == street.elder.id
    same_person = _resident(street, name=street.elder.name, birth_date=street.elder.birth_date.isoformat())
    again = await client.post("/api/v1/residents", json=same_person, headers=operator)
    assert (await again.json())["error"]["existing_id"] == street.elder.id
    forced = await client.post("/api/v1/residents", json=same_person | {"duplicate_reason": "同名同生日，另一位老人"},
                               headers=operator)
    assert forced.status == 201, await forced.text()
    new_id = (await forced.json())["id"]
    trail = await (await client.get("/api/v1/audit", params={"record": f"residents:{new_id}"}, headers=admin)).json()
    assert trail["changes"][0]["reason"] == "同名同生日，另一位老人"
    assert trail["changes"][0]["after"]["duplicate_of"] == street.elder.id
    fresh = await client.post("/api/v1/residents", json=_resident(street, phone="13955550002", name="孙淑珍"),
                              headers=operator)
    assert fresh.status == 201


async def test_duplicate_booking_needs_confirmation(client, street, tomorrow):
    operator = await login(client, "operator")
    first = await client.post("/api/v1/bookings", json=_booking(street, tomorrow), headers=operator)
    second = await client.post("/api/v1/bookings", json=_booking(street, tomorrow, window_start="10:00",
                                                                  window_end="12:00"), headers=operator)
    assert second.status == 409
    error = (await second.json())["error"]
    assert error["code"] == "duplicate_booking" and error["existing_id"] == (await first.json())["id"]
    later = await client.post("/api/v1/bookings", json=_booking(street, tomorrow, window_start="14:00",
                                                                 window_end="16:00"), headers=operator)
    assert later.status == 201
    confirmed = await client.post("/api/v1/bookings", json=_booking(street, tomorrow, confirm_duplicate=True),
                                  headers=operator)
    assert confirmed.status == 201


async def test_booking_nobody_can_serve_is_refused_before_any_hold(client, conn, street, tomorrow):
    """No provider of the circle delivers the item; no caregiver holds its qualification; the window lies
    outside every shift. The quote says so first; nothing is held."""
    operator = await login(client, "operator")
    await conn.execute("DELETE FROM provider_items WHERE provider_id = $1 AND item_code = 'E07'", street.provider_id)
    for path in ("/api/v1/bookings/quote", "/api/v1/bookings"):
        refused = await client.post(path, json=_booking(street, tomorrow, item_code="E07"), headers=operator)
        assert refused.status == 409, await refused.text()
        assert (await refused.json())["error"]["reason"] == "no_provider"
    await conn.execute("UPDATE caregivers SET qualifications = '{G}' WHERE id = $1", street.caregiver_id)
    unqualified = await client.post("/api/v1/bookings", json=_booking(street, tomorrow, item_code="B01"),
                                    headers=operator)
    assert (await unqualified.json())["error"]["reason"] == "no_qualified_caregiver"
    evening = await client.post("/api/v1/bookings/quote", json=_booking(street, tomorrow, item_code="M01",
                                window_start="18:00", window_end="20:00"), headers=operator)
    assert (await evening.json())["error"]["reason"] == "outside_shifts"
    assert "班次" in (await evening.json())["error"]["message_zh"]
    held = await conn.fetchval("SELECT count(*) FROM wallet_entries WHERE resident_id = $1 AND kind = 'hold'",
                               street.elder.id)
    assert held == 0
    # another provider with a qualified caregiver working evenings makes it servable
    other = await make_provider(conn, circle_ids=(street.circle_id,), item_codes=("M01",))
    await make_caregiver(conn, provider_id=other, circle_id=street.circle_id, qualifications=["G"],
                         shift_start=time(12), shift_end=time(21))
    ok = await client.post("/api/v1/bookings/quote", json=_booking(street, tomorrow, item_code="M01",
                           window_start="18:00", window_end="20:00"), headers=operator)
    assert ok.status == 200, await ok.text()


async def test_channel_follows_the_caller(client, conn, street, tomorrow):
    operator, resident, family = [await login(client, r) for r in ("operator", "resident", "family")]
    by_operator = await (await client.post("/api/v1/bookings", json=_booking(street, tomorrow), headers=operator)).json()
    assert by_operator["channel"] == "hotline"
    day2 = tomorrow + timedelta(days=1)
    by_resident = await (await client.post("/api/v1/bookings", json=_booking(street, day2), headers=resident)).json()
    assert by_resident["channel"] == "app"
    day3 = tomorrow + timedelta(days=2)
    by_family = await client.post("/api/v1/bookings", json=_booking(street, day3), headers=family)
    assert by_family.status == 201 and (await by_family.json())["channel"] == "family"
    lie = await client.post("/api/v1/bookings", json=_booking(street, day3, channel="hotline",
                                                              window_start="14:00", window_end="15:00"),
                            headers=resident)
    assert lie.status == 422
    detail = (await lie.json())["error"]["details"][0]
    assert detail["field"] == "channel" and detail["value"] == "hotline"
    walk_in = await client.post("/api/v1/bookings", json=_booking(street, day3, channel="walk_in",
                                                                  window_start="15:00", window_end="16:00"),
                                headers=operator)
    assert (await walk_in.json())["channel"] == "walk_in"
    listed = await (await client.get("/api/v1/bookings", headers=family)).json()
    assert {b["resident_name"] for b in listed["bookings"]} == {street.elder.name}


async def test_circle_provider_and_caregiver_edits_are_audited(client, conn, street):
    admin, provider_admin = await login(client, "admin"), await login(client, "provider_admin")
    circle = await client.patch(f"/api/v1/circles/{street.circle_id}", json={"radius_m": 1800,
                                "hotline_phone": "02161234567"}, headers=admin)
    assert circle.status == 200 and (await circle.json())["radius_m"] == 1800
    provider = await client.patch(f"/api/v1/providers/{street.provider_id}", json={"item_codes": ["C01", "M01"]},
                                  headers=admin)
    assert (await provider.json())["item_codes"] == ["C01", "M01"]
    bad = await client.patch(f"/api/v1/providers/{street.provider_id}", json={"item_codes": ["NOPE"]}, headers=admin)
    assert bad.status == 422
    caregiver_token = await login(client, "caregiver")
    assert (await client.get("/api/v1/auth/me", headers=caregiver_token)).status == 200
    off = await client.patch(f"/api/v1/caregivers/{street.caregiver_id}", json={"active": False,
                             "qualifications": ["G"]}, headers=provider_admin)
    assert off.status == 200
    assert (await client.get("/api/v1/auth/me", headers=caregiver_token)).status == 401
    trail = await (await client.get("/api/v1/audit", headers=admin)).json()
    records = {c["record"] for c in trail["changes"]}
    assert {f"circles:{street.circle_id}", f"providers:{street.provider_id}",
            f"caregivers:{street.caregiver_id}"} <= records
    cg = next(c for c in trail["changes"] if c["record"] == f"caregivers:{street.caregiver_id}")
    assert cg["before"]["active"] is True and cg["after"] == {"active": False, "qualifications": ["G"]}
    by_actor = await (await client.get("/api/v1/audit", params={"actor_id": street.users["provider_admin"].id},
                                       headers=admin)).json()
    assert {c["record"] for c in by_actor["changes"]} == {f"caregivers:{street.caregiver_id}"}
    assert (await client.get("/api/v1/audit", params={"record": "x y"}, headers=admin)).status == 422
    assert (await client.get("/api/v1/audit", headers=provider_admin)).status == 403


async def test_caregiver_login_from_the_console(client, conn, street):
    provider_admin = await login(client, "provider_admin")
    second = await make_caregiver(conn, provider_id=street.provider_id, circle_id=street.circle_id)
    made = await client.put(f"/api/v1/caregivers/{second}/login", json={"username": "zhang_hg",
                            "password": "long-enough-pw"}, headers=provider_admin)
    assert made.status == 200, await made.text()
    session = await login(client, "zhang_hg", "long-enough-pw")
    again = await client.put(f"/api/v1/caregivers/{second}/login", json={"username": "zhang2",
                             "password": "another-long-pw"}, headers=provider_admin)
    assert again.status == 200 and (await again.json())["user_id"] == (await made.json())["user_id"]
    assert (await client.get("/api/v1/auth/me", headers=session)).status == 401
    assert (await client.post("/api/v1/auth/login", json={"username": "zhang2", "password": "another-long-pw"})).status == 200
    short = await client.put(f"/api/v1/caregivers/{second}/login", json={"username": "zhang2", "password": "short"},
                             headers=provider_admin)
    assert short.status == 422


async def test_password_reset_with_a_one_time_code(client, street):
    admin = await login(client, "admin")
    old = await login(client, "operator")
    user_id = street.users["operator"].id
    reset = await client.post(f"/api/v1/users/{user_id}/password-reset", json={"reason": "忘记密码"}, headers=admin)
    assert reset.status == 201
    code = (await reset.json())["one_time_code"]
    assert (await client.get("/api/v1/auth/me", headers=old)).status == 401
    assert (await client.post("/api/v1/auth/login", json={"username": "operator", "password": "pw-operator"})).status == 401
    assert (await client.post("/api/v1/auth/login", json={"username": "operator", "password": code})).status == 401
    wrong = await client.post("/api/v1/auth/redeem-code", json={"username": "operator", "code": "AAAAAAAAAA",
                                                                 "new_password": "a-new-password-1"})
    assert wrong.status == 401
    ok = await client.post("/api/v1/auth/redeem-code", json={"username": "operator", "code": code.lower(),
                                                              "new_password": "a-new-password-1"})
    assert ok.status == 200
    assert (await client.post("/api/v1/auth/login", json={"username": "operator",
                                                          "password": "a-new-password-1"})).status == 200
    spent = await client.post("/api/v1/auth/redeem-code", json={"username": "operator", "code": code,
                                                                 "new_password": "another-password"})
    assert spent.status == 401
    trail = await (await client.get("/api/v1/audit", params={"record": f"users:{user_id}"}, headers=admin)).json()
    assert [c["action"] for c in trail["changes"]] == ["password_set", "password_reset"]
    assert code not in str(trail)


async def test_family_linked_from_the_console(client, conn, street):
    operator = await login(client, "operator")
    url = f"/api/v1/residents/{street.other_elder.id}/family"
    made = await client.post(url, json={"username": "li_son", "password": "a-family-password", "relation": "儿子",
                                        "display_name": "李明"}, headers=operator)
    assert made.status == 201, await made.text()
    son = await login(client, "li_son", "a-family-password")
    listed = await (await client.get(f"/api/v1/residents/{street.other_elder.id}", headers=son)).json()
    assert listed["id"] == street.other_elder.id
    existing = await client.post(url, json={"username": "family", "relation": "女儿"}, headers=operator)
    assert existing.status == 201
    wrong_role = await client.post(url, json={"username": "operator"}, headers=operator)
    assert wrong_role.status == 422
    family = await (await client.get(url, headers=operator)).json()
    assert [m["username"] for m in family["family"]] == ["family", "li_son"]
    user_id = family["family"][1]["user_id"]
    assert (await client.delete(f"{url}/{user_id}", headers=operator)).status == 204
    assert (await client.get(f"/api/v1/residents/{street.other_elder.id}", headers=son)).status == 404


async def test_audit_brings_visit_corrections_and_plan_edits(client, conn, street):
    admin = await login(client, "admin")
    visit_booking = await conn.fetchval(
        """INSERT INTO bookings (resident_id, circle_id, item_code, service_date, window_start, window_end, channel,
               price_fen, subsidy_fen, self_pay_fen) VALUES ($1, $2, 'C01', current_date, '09:00', '10:00', 'hotline', 1, 0, 1)
           RETURNING id""", street.elder.id, street.circle_id)
    visit = await conn.fetchval(
        """INSERT INTO visits (booking_id, caregiver_id, planned_start, planned_end)
           VALUES ($1, $2, now(), now() + interval '1 hour') RETURNING id""", visit_booking, street.caregiver_id)
    await conn.execute("""INSERT INTO visit_audit (visit_id, changed_by, reason, before, after)
                          VALUES ($1, $2, '手机没电，电话报到', '{}', '{"check_in_at": "09:05"}')""",
                       visit, street.users["provider_admin"].id)
    plan = await conn.fetchval("INSERT INTO plans (circle_id, service_date) VALUES ($1, current_date) RETURNING id",
                               street.circle_id)
    await conn.execute("INSERT INTO plan_edits (plan_id, booking_id, action, created_by) VALUES ($1, $2, 'unassign', $3)",
                       plan, visit_booking, street.users["dispatcher"].id)
    trail = await (await client.get("/api/v1/audit", headers=admin)).json()
    actions = {c["record"]: c["action"] for c in trail["changes"]}
    assert actions[f"visits:{visit}"] == "visit_correction" and actions[f"plans:{plan}"] == "plan_unassign"
    only = await (await client.get("/api/v1/audit", params={"record": f"visits:{visit}"}, headers=admin)).json()
    assert [c["reason"] for c in only["changes"]] == ["手机没电，电话报到"]
