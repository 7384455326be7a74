"""Security properties: argon2id passwords, login rate limits (per account, per address, atomic),
revocable tokens stored hashed, ID numbers and care notes encrypted at rest with the configured
key (no table holds them in plain text), masked in responses, and an audit row for every read
of care notes. (Every response of the authorization matrix and the logs of a full run are scanned
for the same secrets in test_authz_matrix.py and test_crash_safety.py.)"""
from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from argon2 import Type, extract_parameters
from cryptography.fernet import InvalidToken

from core import users as auth
from core.crypto import Crypto
from core.errors import RateLimited
from app.main import create_app
from tests.conftest import login
from tests.reliability.support import id_card

ID_CARD = id_card("32010219380315004")
NOTES = "安全测试备注：独居，钥匙在5楼邻居处，青霉素过敏"
NEW_RESIDENT = {"name": "安全测试老人", "gender": "F", "birth_date": "1938-03-15", "phone": "13955556666",
                "address": "安全路9号", "lat": 31.2310, "lon": 121.4740, "subsidy_eligible": True,
                "lives_alone": True, "care_notes": NOTES, "id_card_no": ID_CARD}


@pytest.fixture
async def strict_client(settings, db, redis):
    """The app with a login limit of 3 attempts a minute."""
    app = create_app(settings.model_copy(update={"login_attempts_per_minute": 3}), database=db, redis_client=redis,
                     with_background=False)
    async with TestClient(TestServer(app)) as client:
        yield client


async def _create_resident(client, street) -> dict:
    response = await client.post("/api/v1/residents", json={**NEW_RESIDENT, "circle_id": street.circle_id},
                                 headers=await login(client, "operator"))
    assert response.status == 201, await response.text()
    return await response.json()

# ------------------------------------------------------------------ passwords and login


async def test_passwords_are_argon2id_with_sound_parameters(conn, street):
    hashes = await conn.fetch("SELECT username, password_hash FROM users")
    assert hashes and all(h["password_hash"].startswith("$argon2id$") for h in hashes), hashes
    params = extract_parameters(hashes[0]["password_hash"])
    assert params.type is Type.ID
    assert params.memory_cost >= 19 * 1024 and params.time_cost >= 2, "below OWASP's argon2id minimum (19 MiB, t=2)"
    user = await auth.create_user(conn, username="new_user", password="a long pass phrase", role="operator")
    stored = await conn.fetchval("SELECT password_hash FROM users WHERE id = $1", user.id)
    assert stored.startswith("$argon2id$") and "a long pass phrase" not in stored
    assert auth.verify_password(stored, "a long pass phrase") and not auth.verify_password(stored, "wrong")


async def test_login_gives_no_hint_whether_the_account_exists(client, street):
    wrong = await client.post("/api/v1/auth/login", json={"username": "resident", "password": "nope"})
    unknown = await client.post("/api/v1/auth/login", json={"username": "nobody-here", "password": "nope"})
    assert wrong.status == unknown.status == 401
    assert await wrong.json() == await unknown.json()


async def test_past_the_limit_even_the_right_password_is_refused(strict_client, street):
    for _ in range(3):
        response = await strict_client.post("/api/v1/auth/login", json={"username": "resident", "password": "guess"})
        assert response.status == 401
    for username in ("resident", "RESIDENT", " Resident "):  # case and spaces do not reset the count
        blocked = await strict_client.post("/api/v1/auth/login", json={"username": username, "password": "pw-resident"})
        assert blocked.status == 429, await blocked.text()
        assert (await blocked.json())["error"]["code"] == "rate_limited"


async def test_login_limit_per_address_across_accounts(strict_client, street):
    statuses = []
    for username in ("family", "operator", "dispatcher", "admin"):
        response = await strict_client.post("/api/v1/auth/login", json={"username": username, "password": "guess"})
        statuses.append(response.status)
    assert statuses == [401, 401, 401, 429]


async def test_login_limit_is_atomic_under_concurrency(redis):
    """60 attempts at once for one account from 60 addresses: exactly 10 get through."""
    async def attempt(n: int) -> bool:
        try:
            await auth.check_login_rate(redis, username="target", address=f"10.0.0.{n}", limit=10)
            return True
        except RateLimited:
            return False

    results = await asyncio.gather(*(attempt(n) for n in range(60)))
    assert sum(results) == 10
    assert 0 < await redis.ttl("login:user:target") <= 60

# ------------------------------------------------------------------ tokens


async def test_tokens_are_revocable_and_expire(client, conn, street):
    first, second = await login(client, "family"), await login(client, "family")
    assert (await client.post("/api/v1/auth/logout", headers=first)).status == 200
    assert (await client.get("/api/v1/auth/me", headers=first)).status == 401
    assert (await client.get("/api/v1/bookings", headers=first)).status == 401
    assert (await client.get("/api/v1/auth/me", headers=second)).status == 200  # only that token was revoked
    await conn.execute("UPDATE auth_tokens SET expires_at = now() - interval '1 second' WHERE revoked_at IS NULL")
    assert (await client.get("/api/v1/auth/me", headers=second)).status == 401
    third = await login(client, "admin")
    await conn.execute("UPDATE users SET active = false WHERE username = 'admin'")
    assert (await client.get("/api/v1/auth/me", headers=third)).status == 401


async def test_tokens_are_stored_only_as_hashes(client, conn, street):
    token = (await login(client, "operator"))["Authorization"].split()[1]
    stored = await conn.fetch("SELECT token_hash FROM auth_tokens")
    assert hashlib.sha256(token.encode()).digest() in {bytes(r["token_hash"]) for r in stored}
    assert not await _tables_containing(conn, token)

# ------------------------------------------------------------------ sensitive fields at rest and in responses


async def _tables_containing(conn, secret: str) -> list[str]:
    """Tables with a row whose text (bytea as hex) contains `secret` in plain text."""
    hex_secret = secret.encode().hex()
    tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    found = []
    for row in tables:
        name = row["tablename"]
        hits = await conn.fetchval(
            f'SELECT count(*) FROM "{name}" t WHERE strpos(t::text, $1) > 0 OR strpos(t::text, $2) > 0',
            secret, hex_secret)
        if hits:
            found.append(name)
    return found


async def test_id_numbers_and_care_notes_are_encrypted_at_rest(client, conn, street, settings, tomorrow):
    created = await _create_resident(client, street)
    operator = await login(client, "operator")
    booking = {"resident_id": created["id"], "item_code": "C01", "date": tomorrow.isoformat(),
               "window_start": "09:00", "window_end": "10:00", "channel": "hotline"}
    assert (await client.post("/api/v1/bookings", json=booking, headers=operator)).status == 201
    assert (await client.get(f"/api/v1/residents/{created['id']}", headers=operator)).status == 200
    for secret in (ID_CARD, NOTES, ID_CARD[:14]):
        assert not await _tables_containing(conn, secret), f"{secret!r} stored in plain text"
    row = await conn.fetchrow("SELECT care_notes_enc, id_card_enc, id_card_hmac, id_card_last4 FROM residents "
                              "WHERE id = $1", created["id"])
    key = Crypto(settings.secret_key)
    assert key.decrypt(row["care_notes_enc"]) == NOTES and key.decrypt(row["id_card_enc"]) == ID_CARD
    with pytest.raises(InvalidToken):
        Crypto("another-key").decrypt(row["care_notes_enc"])
    assert bytes(row["id_card_hmac"]) == key.keyed_hash(ID_CARD) != hashlib.sha256(ID_CARD.encode()).digest()
    assert row["id_card_last4"] == ID_CARD[-4:]


async def test_id_numbers_are_masked_and_notes_shown_only_where_needed(client, street):
    created = await _create_resident(client, street)
    masked = "*" * 14 + ID_CARD[-4:]
    assert created["id_card_no"] == masked
    operator = await login(client, "operator")
    one = await (await client.get(f"/api/v1/residents/{created['id']}", headers=operator)).json()
    assert one["id_card_no"] == masked and one["care_notes"] == NOTES
    found = await (await client.get("/api/v1/residents", params={"phone": NEW_RESIDENT["phone"]},
                                    headers=operator)).text()
    assert ID_CARD not in found and NOTES not in found and masked in found
    calls = await (await client.get("/api/v1/care-calls", headers=operator)).text()
    assert ID_CARD not in calls and NOTES not in calls


async def test_every_read_of_care_notes_is_audited(client, conn, street):
    headers = {role: await login(client, role) for role in ("family", "operator")}
    elder = street.elder.id
    for role in ("family", "operator", "family"):
        assert (await client.get(f"/api/v1/residents/{elder}", headers=headers[role])).status == 200
    assert (await client.get("/api/v1/residents", params={"phone": street.elder.phone},
                             headers=headers["operator"])).status == 200  # no notes shown: no audit row
    rows = await conn.fetch("""SELECT u.username, s.field FROM sensitive_reads s JOIN users u ON u.id = s.user_id
                               WHERE s.resident_id = $1 ORDER BY s.id""", elder)
    assert [(r["username"], r["field"]) for r in rows] == [("family", "care_notes"), ("operator", "care_notes"),
                                                            ("family", "care_notes")]
    other = street.other_elder.id  # no care notes: nothing sensitive was read
    assert (await client.get(f"/api/v1/residents/{other}", headers=headers["operator"])).status == 200
    assert not await conn.fetchval("SELECT count(*) FROM sensitive_reads WHERE resident_id = $1", other)
