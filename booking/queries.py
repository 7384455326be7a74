"""All booking SQL. asyncpg Records become booking models here and nowhere else."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import asyncpg

from core.users import live_token_sql
from core.crypto import Crypto
from booking.models import (Booking, BookingStatus, CallLog, Evaluation, MenuCategory, MenuItem,
                            Resident, Series, Wallet, WalletEntry)
from booking.subsidy import MONTHLY_GRANT_FEN

Conn = asyncpg.Connection

# ------------------------------------------------------------------ menu

_ITEM_COLUMNS = """code, category_code, name_zh, name_en, unit_zh, price_fen, minutes, qualification,
    crew, subsidy_max_fen, needs_visit, notes, position"""


async def menu(conn: Conn) -> tuple[list[MenuCategory], list[MenuItem]]:
    categories = await conn.fetch("SELECT code, name_zh, name_en, position FROM menu_categories ORDER BY position")
    items = await conn.fetch(f"SELECT {_ITEM_COLUMNS} FROM menu_items WHERE active ORDER BY position")
    return [MenuCategory(**r) for r in categories], [MenuItem(**r) for r in items]


async def menu_item(conn: Conn, code: str) -> MenuItem | None:
    row = await conn.fetchrow(f"SELECT {_ITEM_COLUMNS} FROM menu_items WHERE code = $1 AND active", code)
    return MenuItem(**row) if row else None


async def upsert_category(conn: Conn, *, code: str, name_zh: str, name_en: str, position: int) -> None:
    await conn.execute(
        """INSERT INTO menu_categories (code, name_zh, name_en, position) VALUES ($1, $2, $3, $4)
           ON CONFLICT (code) DO UPDATE SET name_zh = $2, name_en = $3, position = $4""",
        code, name_zh, name_en, position)


async def upsert_item(conn: Conn, item: MenuItem) -> None:
    await conn.execute(
        f"""INSERT INTO menu_items ({_ITEM_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)
            ON CONFLICT (code) DO UPDATE SET category_code=$2, name_zh=$3, name_en=$4, unit_zh=$5,
              price_fen=$6, minutes=$7, qualification=$8, crew=$9, subsidy_max_fen=$10,
              needs_visit=$11, notes=$12, position=$13, active=true""",
        item.code, item.category_code, item.name_zh, item.name_en, item.unit_zh, item.price_fen,
        item.minutes, item.qualification, item.crew, item.subsidy_max_fen, item.needs_visit,
        item.notes, item.position)

# ------------------------------------------------------------------ residents

_RESIDENT_COLUMNS = """id, circle_id, name, gender, birth_date, phone, address, lat, lon, lives_alone,
    subsidy_eligible, eligibility, caregiver_gender, care_notes_enc, id_card_last4"""


def _resident(row: asyncpg.Record, crypto: Crypto) -> Resident:
    data = dict(row)
    data["eligibility"] = tuple(data["eligibility"])
    data["care_notes"] = crypto.decrypt(data.pop("care_notes_enc"))
    data["gender"] = data["gender"].strip()
    if data["caregiver_gender"]:
        data["caregiver_gender"] = data["caregiver_gender"].strip()
    return Resident(**data)


async def insert_resident(conn: Conn, crypto: Crypto, *, circle_id: int, name: str, gender: str,
                          birth_date: date, phone: str, address: str, lat: float, lon: float,
                          lives_alone: bool, subsidy_eligible: bool, eligibility: list[str],
                          caregiver_gender: str | None, care_notes: str,
                          id_card_no: str | None) -> Resident:
    row = await conn.fetchrow(
        f"""INSERT INTO residents (circle_id, name, gender, birth_date, phone, address, lat, lon,
               lives_alone, subsidy_eligible, eligibility, caregiver_gender, care_notes_enc,
               id_card_hmac, id_card_last4, id_card_enc)
            VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)
            RETURNING {_RESIDENT_COLUMNS}""",
        circle_id, name, gender, birth_date, phone, address, lat, lon, lives_alone,
        subsidy_eligible, eligibility, caregiver_gender, crypto.encrypt(care_notes),
        crypto.keyed_hash(id_card_no) if id_card_no else None,
        id_card_no[-4:] if id_card_no else None, crypto.encrypt(id_card_no))
    return _resident(row, crypto)


async def resident(conn: Conn, crypto: Crypto, resident_id: int) -> Resident | None:
    row = await conn.fetchrow(f"SELECT {_RESIDENT_COLUMNS} FROM residents WHERE id = $1", resident_id)
    return _resident(row, crypto) if row else None


async def search_residents(conn: Conn, crypto: Crypto, *, phone: str | None, name_prefix: str | None,
                           limit: int = 20) -> list[Resident]:
    rows = await conn.fetch(
        f"""SELECT {_RESIDENT_COLUMNS} FROM residents
            WHERE ($1::text IS NULL OR phone = $1)
              AND ($2::text IS NULL OR name LIKE replace(replace(replace($2, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%')
            ORDER BY name, id LIMIT $3""", phone, name_prefix, limit)
    return [_resident(r, crypto) for r in rows]


async def residents_living_alone(conn: Conn, crypto: Crypto, circle_id: int | None) -> list[Resident]:
    rows = await conn.fetch(
        f"""SELECT {_RESIDENT_COLUMNS} FROM residents WHERE lives_alone
              AND ($1::bigint IS NULL OR circle_id = $1) ORDER BY circle_id, name, id""", circle_id)
    return [_resident(r, crypto) for r in rows]


async def record_sensitive_read(conn: Conn, *, user_id: int, resident_id: int, field: str) -> None:
    await conn.execute("INSERT INTO sensitive_reads (user_id, resident_id, field) VALUES ($1, $2, $3)",
                       user_id, resident_id, field)

# ------------------------------------------------------------------ wallet


def _wallet(row: asyncpg.Record) -> Wallet:
    return Wallet(**row)


async def open_wallet(conn: Conn, resident_id: int, month: date) -> None:
    """Create the month's wallet with its grant (once), for an eligible resident."""
    created = await conn.fetchval(
        """INSERT INTO subsidy_wallets (resident_id, month, granted_fen) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING RETURNING granted_fen""", resident_id, month, MONTHLY_GRANT_FEN)
    if created:
        await add_entry(conn, resident_id=resident_id, month=month, booking_id=None, kind="grant",
                        amount_fen=created)


async def lock_wallet(conn: Conn, resident_id: int, month: date) -> Wallet:
    """The month's wallet of an eligible elder, row-locked until the transaction ends; opened with its
    grant (and the grant's ledger entry) on first use. One statement: an upsert locks the row even when
    another transaction created it a moment ago, and `xmax = 0` tells a fresh insert from that."""
    row = await conn.fetchrow(
        """WITH w AS (
             INSERT INTO subsidy_wallets AS sw (resident_id, month, granted_fen) VALUES ($1, $2, $3)
             ON CONFLICT (resident_id, month) DO UPDATE SET granted_fen = sw.granted_fen
             RETURNING sw.resident_id, sw.month, sw.granted_fen, sw.held_fen, sw.spent_fen, sw.xmax = 0 AS created),
           grant_entry AS (
             INSERT INTO wallet_entries (resident_id, month, booking_id, kind, amount_fen)
             SELECT resident_id, month, NULL, 'grant', granted_fen FROM w WHERE created)
           SELECT resident_id, month, granted_fen, held_fen, spent_fen FROM w""",
        resident_id, month, MONTHLY_GRANT_FEN)
    return _wallet(row)


_TARGET_RESIDENT = [c.strip() for c in _RESIDENT_COLUMNS.split(",") if c.strip() != "care_notes_enc"]
_TARGET_ITEM = [c.strip() for c in _ITEM_COLUMNS.split(",")]
_TARGET_WALLET = ["resident_id", "month", "granted_fen", "held_fen", "spent_fen"]
_TARGET_SELECT = ", ".join([f"r.{c} AS r_{c}" for c in _TARGET_RESIDENT] + [f"m.{c} AS m_{c}" for c in _TARGET_ITEM]
                           + [f"w.{c} AS w_{c}" for c in _TARGET_WALLET])


def _target_sql(*, claim: bool) -> str:
    """The target statement; with `claim`, the Idempotency-Key ($5 user, $6 key, $7 request hash) is
    claimed first — the elder's row is read only when the claim succeeded, so the wallet (read from
    it) is locked after the key, as when they were two statements — and the booking's id and the
    transaction's now() are taken, for the response stored with the insert."""
    claim_cte = ("claim AS (INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES ($5, $6, $7)\n"
                 "          ON CONFLICT DO NOTHING RETURNING true),\n  ") if claim else ""
    gate = " AND EXISTS (SELECT FROM claim)" if claim else ""
    extra = ("EXISTS (SELECT FROM claim) AS claimed, now() AS now,\n"
             "  CASE WHEN r.id IS NOT NULL AND m.code IS NOT NULL\n"
             "       THEN nextval(pg_get_serial_sequence('bookings', 'id')) END AS next_id,\n  ") if claim else ""
    return f"""WITH {claim_cte}r AS (SELECT {", ".join(_TARGET_RESIDENT)}, subsidy_eligible AS eligible FROM residents
        WHERE id = $1{gate}),
  m AS (SELECT {_ITEM_COLUMNS} FROM menu_items WHERE code = $2 AND active),
  w AS (INSERT INTO subsidy_wallets AS sw (resident_id, month, granted_fen)
        SELECT id, $3, $4 FROM r WHERE eligible AND EXISTS (SELECT FROM m)
        ON CONFLICT (resident_id, month) DO UPDATE SET granted_fen = sw.granted_fen
        RETURNING {", ".join("sw." + c for c in _TARGET_WALLET)}, sw.xmax = 0 AS created),
  grant_entry AS (INSERT INTO wallet_entries (resident_id, month, booking_id, kind, amount_fen)
        SELECT resident_id, month, NULL, 'grant', granted_fen FROM w WHERE created)
SELECT {extra}{_TARGET_SELECT}
FROM (VALUES (1)) AS one (x) LEFT JOIN r ON true LEFT JOIN m ON true LEFT JOIN w ON true"""


_TARGET_SQL = _target_sql(claim=False)
_CLAIM_TARGET_SQL = _target_sql(claim=True)


def _target(row: asyncpg.Record) -> tuple[Resident | None, MenuItem | None, Wallet | None]:
    part = lambda prefix, names: {n: row[prefix + n] for n in names}  # noqa: E731
    resident = None
    if row["r_id"] is not None:
        data = part("r_", _TARGET_RESIDENT)
        data["eligibility"] = tuple(data["eligibility"])
        data["gender"] = data["gender"].strip()
        data["caregiver_gender"] = data["caregiver_gender"].strip() if data["caregiver_gender"] else None
        resident = Resident(care_notes=None, **data)
    item = MenuItem(**part("m_", _TARGET_ITEM)) if row["m_code"] is not None else None
    wallet = Wallet(**part("w_", _TARGET_WALLET)) if row["w_resident_id"] is not None else None
    return resident, item, wallet


async def booking_target(conn: Conn, *, resident_id: int, item_code: str,
                         month: date) -> tuple[Resident | None, MenuItem | None, Wallet | None]:
    """What booking needs, in one round trip: the elder (care notes left encrypted: None), the active
    menu item and — for an eligible elder, when both exist — the month's wallet, opened with its grant
    on first use and row-locked as `lock_wallet` does."""
    return _target(await conn.fetchrow(_TARGET_SQL, resident_id, item_code, month, MONTHLY_GRANT_FEN))


@dataclass(frozen=True)
class ClaimedTarget:
    claimed: bool                  # False: another request holds (or held) the key; nothing was locked
    now: datetime                  # the transaction's now(): the booking's created_at
    next_id: int | None            # the booking's id, taken from its sequence (when elder and item exist)
    resident: Resident | None
    item: MenuItem | None
    wallet: Wallet | None


async def claim_booking_target(conn: Conn, *, resident_id: int, item_code: str, month: date, user_id: int,
                               key: str, request_hash: bytes) -> ClaimedTarget:
    """`claim_idempotency_key` and then `booking_target` in one round trip (the claim waits for a
    concurrent first request with the key to finish; when it did not succeed, nothing else happens)."""
    row = await conn.fetchrow(_CLAIM_TARGET_SQL, resident_id, item_code, month, MONTHLY_GRANT_FEN, user_id, key,
                              request_hash)
    if not row["claimed"]:
        return ClaimedTarget(False, row["now"], None, None, None, None)
    return ClaimedTarget(True, row["now"], row["next_id"], *_target(row))


async def wallet(conn: Conn, resident_id: int, month: date, *, for_update: bool = False) -> Wallet | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"""SELECT resident_id, month, granted_fen, held_fen, spent_fen FROM subsidy_wallets
            WHERE resident_id = $1 AND month = $2{lock}""", resident_id, month)
    return _wallet(row) if row else None


async def move_wallet(conn: Conn, *, resident_id: int, month: date, held_delta: int,
                      spent_delta: int) -> None:
    await conn.execute(
        """UPDATE subsidy_wallets SET held_fen = held_fen + $3, spent_fen = spent_fen + $4
           WHERE resident_id = $1 AND month = $2""", resident_id, month, held_delta, spent_delta)


async def add_entry(conn: Conn, *, resident_id: int, month: date, booking_id: int | None, kind: str,
                    amount_fen: int) -> None:
    await conn.execute(
        """INSERT INTO wallet_entries (resident_id, month, booking_id, kind, amount_fen)
           VALUES ($1, $2, $3, $4, $5)""", resident_id, month, booking_id, kind, amount_fen)


async def wallet_entries(conn: Conn, resident_id: int, month: date) -> list[WalletEntry]:
    rows = await conn.fetch(
        """SELECT id, kind, amount_fen, booking_id, created_at FROM wallet_entries
           WHERE resident_id = $1 AND month = $2 ORDER BY id""", resident_id, month)
    return [WalletEntry(**r) for r in rows]


async def wallets_not_reconciling(conn: Conn) -> list[asyncpg.Record]:
    """Wallets whose balances differ from the sums of their ledger (should be none)."""
    return await conn.fetch(
        """SELECT w.resident_id, w.month FROM subsidy_wallets w
           LEFT JOIN LATERAL (
             SELECT coalesce(sum(amount_fen) FILTER (WHERE kind = 'grant'), 0) AS granted,
                    coalesce(sum(amount_fen) FILTER (WHERE kind = 'hold'), 0)
                    - coalesce(sum(amount_fen) FILTER (WHERE kind IN ('release', 'capture')), 0) AS held,
                    coalesce(sum(amount_fen) FILTER (WHERE kind = 'capture'), 0) AS spent
             FROM wallet_entries e WHERE e.resident_id = w.resident_id AND e.month = w.month) l ON true
           WHERE (w.granted_fen, w.held_fen, w.spent_fen) <> (l.granted, l.held, l.spent)""")

# ------------------------------------------------------------------ bookings

_BOOKING_SELECT = """SELECT b.id, b.resident_id, b.circle_id, b.item_code, m.name_zh AS item_name_zh,
    b.series_id, b.service_date, b.window_start, b.window_end, b.channel, b.booked_by, b.notes,
    b.price_fen, b.subsidy_fen, b.self_pay_fen, b.priority, b.status, b.caregiver_id,
    c.name AS caregiver_name, b.planned_start, b.created_at, r.name AS resident_name,
    (SELECT e.rating FROM evaluations e WHERE e.booking_id = b.id ORDER BY e.id DESC LIMIT 1) AS rating
  FROM bookings b JOIN menu_items m ON m.code = b.item_code
  JOIN residents r ON r.id = b.resident_id
  LEFT JOIN caregivers c ON c.id = b.caregiver_id"""


def _booking(row: asyncpg.Record) -> Booking:
    data = dict(row)
    data["status"] = BookingStatus(data["status"])
    return Booking(**data)


async def insert_booking(conn: Conn, *, resident_id: int, circle_id: int, item_code: str,
                         series_id: int | None, service_date: date, window_start: time,
                         window_end: time, channel: str, booked_by: int | None, notes: str,
                         price_fen: int, subsidy_fen: int, self_pay_fen: int) -> int:
    return await conn.fetchval(
        """INSERT INTO bookings (resident_id, circle_id, item_code, series_id, service_date,
               window_start, window_end, channel, booked_by, notes, price_fen, subsidy_fen, self_pay_fen)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13) RETURNING id""",
        resident_id, circle_id, item_code, series_id, service_date, window_start, window_end,
        channel, booked_by, notes, price_fen, subsidy_fen, self_pay_fen)


def _insert_with_hold_sql(*, with_id: bool, store: bool) -> str:
    columns = """resident_id, circle_id, item_code, series_id, service_date, window_start,
                  window_end, channel, booked_by, notes, price_fen, subsidy_fen, self_pay_fen"""
    values = "$1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13"
    if with_id:
        columns, values = "id, " + columns, "$15, " + values
    stored = ("""
            stored AS (
              UPDATE idempotency_keys SET response_status = 201, response_body = $18
              WHERE user_id = $16 AND key = $17),""") if store else ""
    return f"""WITH b AS (
              INSERT INTO bookings ({columns}){" OVERRIDING SYSTEM VALUE" if with_id else ""}
              VALUES ({values}) RETURNING *),
            held AS (
              UPDATE subsidy_wallets SET held_fen = held_fen + $12
              WHERE $12 > 0 AND resident_id = $1 AND month = $14),{stored}
            hold_entry AS (
              INSERT INTO wallet_entries (resident_id, month, booking_id, kind, amount_fen)
              SELECT $1, $14, b.id, 'hold', $12 FROM b WHERE $12 > 0)
            {_BOOKING_SELECT.replace("FROM bookings b", "FROM b", 1)}"""


_INSERT_WITH_HOLD_SQL = _insert_with_hold_sql(with_id=False, store=False)
_INSERT_WITH_HOLD_STORED_SQL = _insert_with_hold_sql(with_id=True, store=True)


async def insert_booking_with_hold(conn: Conn, *, resident_id: int, circle_id: int, item_code: str,
                                   series_id: int | None, service_date: date, window_start: time, window_end: time,
                                   channel: str, booked_by: int | None, notes: str, price_fen: int,
                                   subsidy_fen: int, self_pay_fen: int, month: date,
                                   stored: tuple[int, int, str, dict] | None = None) -> Booking:
    """Insert a booking and hold its subsidy part — the wallet's held_fen and the ledger's hold entry —
    in one statement, and return the booking as `booking()` reads it. The caller holds the wallet's
    row lock (`lock_wallet`); wallet_not_overspent still guards the update.

    `stored` = (booking id from the sequence, user id, Idempotency-Key, response body): the booking gets
    that id and the key's record its response (201, the body), in the same statement."""
    args = [resident_id, circle_id, item_code, series_id, service_date, window_start, window_end, channel,
            booked_by, notes, price_fen, subsidy_fen, self_pay_fen, month]
    if stored is None:
        return _booking(await conn.fetchrow(_INSERT_WITH_HOLD_SQL, *args))
    return _booking(await conn.fetchrow(_INSERT_WITH_HOLD_STORED_SQL, *args, *stored))


def subsidy_sql(*, price: str, cap: str, available: str, eligible: str = "true") -> str:
    """`booking.subsidy.split_price`'s subsidy part as a SQL expression over SQL operands (for the booking
    created in one statement); tests/booking/test_rules.py checks with hypothesis that the two agree."""
    return f"(CASE WHEN {eligible} THEN least({price}, {cap}, greatest({available}, 0)) ELSE 0 END)"


# the JSON form of a timestamptz as pydantic writes an aware UTC datetime (microseconds only when not 0)
_NOW_JSON = ("""to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')"""
             " || CASE WHEN extract(microseconds FROM now())::bigint % 1000000 = 0 THEN ''"
             " ELSE to_char(now() AT TIME ZONE 'UTC', '.US') END || 'Z'")
# the fields of the response that the statement fills in (the rest comes from the request)
KEYED_RESPONSE_FIELDS = ("id", "resident_name", "circle_id", "item_name_zh", "price_fen", "subsidy_fen",
                         "self_pay_fen", "created_at")

# the caller behind a bearer token ($5: its hash) as `app.auth.user_for_token` finds them, if they may book for
# the elder ($1): their role is in $14 (may book for every elder) or in $15 and they act for the elder (it is
# theirs, or a family link) — booking.access.booking_roles and User.acts_for, checked against each other by
# tests/booking/test_booking_service.py
_CALLER_CTE = """caller AS (
        SELECT u.id FROM auth_tokens t JOIN users u ON u.id = t.user_id
        WHERE """ + live_token_sql("$5") + """
          AND (u.role = ANY($14::text[])
               OR (u.role = ANY($15::text[])
                   AND (u.resident_id = $1
                        OR EXISTS (SELECT FROM family_links f WHERE f.user_id = u.id AND f.resident_id = $1))))),
  """


def _create_keyed_sql(*, by_token: bool) -> str:
    """The one-statement keyed create; `by_token`: the caller is not known yet, only their token (see
    _CALLER_CTE) — without a caller nothing happens, as for a missing elder."""
    user = "(SELECT id FROM caller)" if by_token else "$5::bigint"
    return f"""WITH
  {_CALLER_CTE if by_token else ""}elder AS (SELECT id, circle_id, name, subsidy_eligible FROM residents
        WHERE id = $1{" AND EXISTS (SELECT FROM caller)" if by_token else ""}),
  item AS (SELECT code, name_zh, price_fen, subsidy_max_fen FROM menu_items WHERE code = $2 AND active),
  target AS (
        SELECT elder.id AS resident_id, elder.circle_id, elder.name, elder.subsidy_eligible AS eligible, item.code,
               item.name_zh, item.price_fen, item.subsidy_max_fen,
               {subsidy_sql(price="item.price_fen", cap="item.subsidy_max_fen", eligible="elder.subsidy_eligible",
                            available="coalesce((SELECT granted_fen - held_fen - spent_fen FROM subsidy_wallets "
                                      "WHERE resident_id = $1 AND month = $3), $4)")} AS subsidy,
               nextval(pg_get_serial_sequence('bookings', 'id')) AS id
        FROM elder, item),
  claim AS (
        INSERT INTO idempotency_keys (user_id, key, request_hash, response_status, response_body)
        SELECT {user}, $6::text, $7::bytea, 201, $13::jsonb || jsonb_build_object('id', id, 'resident_name', name,
               'circle_id', circle_id, 'item_name_zh', name_zh, 'price_fen', price_fen, 'subsidy_fen', subsidy,
               'self_pay_fen', price_fen - subsidy, 'created_at', {_NOW_JSON})
        FROM target
        ON CONFLICT DO NOTHING RETURNING response_body),
  w AS (
        INSERT INTO subsidy_wallets AS sw (resident_id, month, granted_fen, held_fen)
        SELECT resident_id, $3::date, $4::integer, subsidy FROM target WHERE eligible AND EXISTS (SELECT FROM claim)
        ON CONFLICT (resident_id, month) DO UPDATE SET held_fen = CASE
          WHEN excluded.held_fen = {subsidy_sql(price="(SELECT price_fen FROM target)",
                                                cap="(SELECT subsidy_max_fen FROM target)",
                                                available="sw.granted_fen - sw.held_fen - sw.spent_fen")}
          THEN sw.held_fen + excluded.held_fen
          ELSE -1 END   -- the split changed since the statement's snapshot: wallet_not_overspent ends it
        RETURNING sw.granted_fen, sw.xmax = 0 AS created),
  b AS (
        INSERT INTO bookings (id, resident_id, circle_id, item_code, service_date, window_start, window_end, channel,
                              booked_by, notes, price_fen, subsidy_fen, self_pay_fen) OVERRIDING SYSTEM VALUE
        SELECT id, resident_id, circle_id, code, $8::date, $9::time, $10::time, $11::text, {user}, $12::text,
               price_fen, subsidy, price_fen - subsidy
        FROM target WHERE EXISTS (SELECT FROM claim)
        RETURNING *),
  entries AS (
        INSERT INTO wallet_entries (resident_id, month, booking_id, kind, amount_fen)
        SELECT resident_id, month, booking_id, kind, amount_fen FROM (
          SELECT 1 AS n, $1::bigint AS resident_id, $3::date AS month, NULL::bigint AS booking_id, 'grant' AS kind,
                 granted_fen AS amount_fen FROM w WHERE created
          UNION ALL
          SELECT 2, $1, $3, b.id, 'hold', b.subsidy_fen FROM b WHERE b.subsidy_fen > 0) AS e
        ORDER BY n)
SELECT EXISTS (SELECT FROM target) AS targeted, (SELECT response_body FROM claim) AS stored,
       {user} AS caller_id, bk.*
FROM (VALUES (1)) AS one (x) LEFT JOIN ({_BOOKING_SELECT.replace("FROM bookings b", "FROM b", 1)}) AS bk ON true"""


_CREATE_KEYED_SQL = _create_keyed_sql(by_token=False)
_CREATE_KEYED_BY_TOKEN_SQL = _create_keyed_sql(by_token=True)


@dataclass(frozen=True)
class KeyedCreate:
    targeted: bool                 # False: no such elder, item (or caller, by token); nothing happened
    booking: Booking | None        # the booking made, as `booking()` reads it; None: the key was taken
    stored: dict | None            # the response stored with the key (made by the statement)
    caller_id: int | None = None   # the user who booked (or whose key was taken)


async def create_keyed_booking(conn: Conn, *, resident_id: int, item_code: str, month: date, key: str,
                               request_hash: bytes, service_date: date, window_start: time, window_end: time,
                               channel: str, notes: str, response: dict, user_id: int | None = None,
                               token_hash: bytes | None = None,
                               roles: tuple[list[str], list[str]] | None = None) -> KeyedCreate:
    """A booking with an Idempotency-Key in ONE statement, for autocommit (no BEGIN / COMMIT):

    1. the elder and the active item are read, the subsidy split from the month's wallet as the statement's
       snapshot sees it (a wallet not opened yet: the full grant), and the booking's id taken;
    2. the key is claimed with its response — `response` (from the request) with the fields in
       KEYED_RESPONSE_FIELDS filled in — only if elder and item exist; the claim waits for a concurrent
       first request with the key to end and, if the key is taken, nothing else happens;
    3. only then (the key before the wallet) the month's wallet is opened (with its grant and the grant's
       ledger entry) or locked, and the hold added — if, under the lock, the split differs from the one in
       the response (another booking of the elder's month committed meanwhile) the hold is set to -1 and
       `wallet_not_overspent` aborts the whole statement;
    4. the booking and the hold's ledger entry are inserted, and the booking is read back.

    By `user_id`, or by `token_hash` with `roles` = (roles that may book for every elder, roles that may
    book for the elders they act for): the caller is then found from the token in the same statement
    (as `user_for_token` does) and must be allowed to book for the elder, or nothing happens."""
    args = [resident_id, item_code, month, MONTHLY_GRANT_FEN, user_id if token_hash is None else token_hash, key,
            request_hash, service_date, window_start, window_end, channel, notes, response]
    if token_hash is None:
        row = await conn.fetchrow(_CREATE_KEYED_SQL, *args)
    else:
        row = await conn.fetchrow(_CREATE_KEYED_BY_TOKEN_SQL, *args, *roles)
    data = dict(row)
    targeted, stored, caller_id = data.pop("targeted"), data.pop("stored"), data.pop("caller_id")
    booking = _booking(data) if data["id"] is not None else None
    return KeyedCreate(targeted, booking, stored, caller_id)


async def booking(conn: Conn, booking_id: int, *, for_update: bool = False) -> Booking | None:
    if for_update:
        await conn.execute("SELECT 1 FROM bookings WHERE id = $1 FOR UPDATE", booking_id)
    row = await conn.fetchrow(f"{_BOOKING_SELECT} WHERE b.id = $1", booking_id)
    return _booking(row) if row else None


_SCOPE_FILTERS = {
    "all": "true",
    "residents": "b.resident_id = ANY({p}::bigint[])",
    "circle": "b.circle_id = {p}::bigint",
    "caregiver": "EXISTS (SELECT 1 FROM visits v WHERE v.booking_id = b.id AND v.released_at IS NULL"
                 " AND v.caregiver_id = {p}::bigint)",
    "provider": "EXISTS (SELECT 1 FROM visits v JOIN caregivers vc ON vc.id = v.caregiver_id"
                " WHERE v.booking_id = b.id AND v.released_at IS NULL AND vc.provider_id = {p}::bigint)",
}


async def list_bookings(conn: Conn, *, scope: tuple[str, Any], resident_id: int | None,
                        service_date: date | None, status: str | None, circle_id: int | None,
                        limit: int, evaluated: bool | None = None) -> list[Booking]:
    kind, value = scope
    args: list[Any] = [resident_id, service_date, status, circle_id, limit, evaluated]
    if kind != "all":
        args.append(value)
    rows = await conn.fetch(
        f"""{_BOOKING_SELECT}
            WHERE ($1::bigint IS NULL OR b.resident_id = $1) AND ($2::date IS NULL OR b.service_date = $2)
              AND ($3::text IS NULL OR b.status = $3) AND ($4::bigint IS NULL OR b.circle_id = $4)
              AND ($6::bool IS NULL OR $6 = EXISTS (SELECT 1 FROM evaluations e WHERE e.booking_id = b.id))
              AND {_SCOPE_FILTERS[kind].format(p="$7")}
            ORDER BY b.service_date, b.window_start, b.id LIMIT $5""", *args)
    return [_booking(r) for r in rows]


async def booking_in_scope(conn: Conn, booking_id: int, scope: tuple[str, Any]) -> bool:
    kind, value = scope
    args: list[Any] = [booking_id] + ([value] if kind != "all" else [])
    return bool(await conn.fetchval(
        f"SELECT true FROM bookings b WHERE b.id = $1 AND {_SCOPE_FILTERS[kind].format(p='$2')}", *args))


async def set_status(conn: Conn, booking_id: int, status: str, *, cancel_reason: str | None = None) -> None:
    await conn.execute(
        """UPDATE bookings SET status = $2, updated_at = now(),
               cancel_reason = coalesce($3, cancel_reason) WHERE id = $1""",
        booking_id, status, cancel_reason)

# ------------------------------------------------------------------ idempotency


async def claim_idempotency_key(conn: Conn, *, user_id: int, key: str, request_hash: bytes) -> bool:
    """True if this request is the first with the key; waits for a concurrent first to finish."""
    return bool(await conn.fetchval(
        """INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING RETURNING true""", user_id, key, request_hash))


async def idempotent_response(conn: Conn, *, user_id: int, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT request_hash, response_status, response_body FROM idempotency_keys
           WHERE user_id = $1 AND key = $2""", user_id, key)


async def store_idempotent_response(conn: Conn, *, user_id: int, key: str, status: int,
                                    body: dict) -> None:
    await conn.execute(
        """UPDATE idempotency_keys SET response_status = $3, response_body = $4
           WHERE user_id = $1 AND key = $2""", user_id, key, status, body)

# ------------------------------------------------------------------ series

_SERIES_COLUMNS = """id, resident_id, item_code, weekdays, window_start, window_end, start_date,
    end_date, channel, notes, status, booked_by"""


def _series(row: asyncpg.Record) -> Series:
    data = dict(row)
    data["weekdays"] = tuple(data["weekdays"])
    return Series(**data)


async def insert_series(conn: Conn, *, resident_id: int, item_code: str, weekdays: list[int],
                        window_start: time, window_end: time, start_date: date, end_date: date,
                        channel: str, booked_by: int | None, notes: str) -> Series:
    row = await conn.fetchrow(
        f"""INSERT INTO booking_series (resident_id, item_code, weekdays, window_start, window_end,
               start_date, end_date, channel, booked_by, notes)
            VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) RETURNING {_SERIES_COLUMNS}""",
        resident_id, item_code, weekdays, window_start, window_end, start_date, end_date,
        channel, booked_by, notes)
    return _series(row)


async def series(conn: Conn, series_id: int, *, for_update: bool = False) -> Series | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_SERIES_COLUMNS} FROM booking_series WHERE id = $1{lock}", series_id)
    return _series(row) if row else None


async def active_series(conn: Conn, *, through: date) -> list[Series]:
    rows = await conn.fetch(
        f"""SELECT {_SERIES_COLUMNS} FROM booking_series
            WHERE status = 'active' AND start_date <= $1 ORDER BY id""", through)
    return [_series(r) for r in rows]


async def series_days_booked(conn: Conn, series_id: int) -> set[date]:
    rows = await conn.fetch("SELECT service_date FROM bookings WHERE series_id = $1", series_id)
    return {r["service_date"] for r in rows}


async def set_series_status(conn: Conn, series_id: int, status: str) -> None:
    await conn.execute("UPDATE booking_series SET status = $2 WHERE id = $1", series_id, status)


async def series_bookings_from(conn: Conn, series_id: int, day: date) -> list[int]:
    rows = await conn.fetch(
        """SELECT id FROM bookings WHERE series_id = $1 AND service_date >= $2
             AND status IN ('pending', 'scheduled') ORDER BY service_date""", series_id, day)
    return [r["id"] for r in rows]

# ------------------------------------------------------------------ evaluations and calls


async def insert_evaluation(conn: Conn, *, booking_id: int, rating: int, comment: str, source: str,
                            created_by: int) -> Evaluation:
    row = await conn.fetchrow(
        """INSERT INTO evaluations (booking_id, rating, comment, source, created_by)
           VALUES ($1, $2, $3, $4, $5)
           RETURNING id, booking_id, rating, comment, source, created_at""",
        booking_id, rating, comment, source, created_by)
    return Evaluation(**row)


async def insert_call(conn: Conn, *, resident_id: int, operator_id: int, kind: str, outcome: str,
                      booking_id: int | None, notes: str) -> CallLog:
    row = await conn.fetchrow(
        """INSERT INTO call_logs (resident_id, operator_id, kind, outcome, booking_id, notes)
           VALUES ($1, $2, $3, $4, $5, $6)
           RETURNING id, resident_id, operator_id, kind, outcome, booking_id, notes, created_at""",
        resident_id, operator_id, kind, outcome, booking_id, notes)
    return CallLog(**row)


async def calls_of_day(conn: Conn, *, day: date, kind: str, tz: str) -> list[CallLog]:
    rows = await conn.fetch(
        """SELECT id, resident_id, operator_id, kind, outcome, booking_id, notes, created_at
           FROM call_logs WHERE kind = $2 AND (created_at AT TIME ZONE $3)::date = $1
           ORDER BY id""", day, kind, tz)
    return [CallLog(**r) for r in rows]


async def recent_calls(conn: Conn, resident_id: int, limit: int = 20) -> list[CallLog]:
    rows = await conn.fetch(
        """SELECT id, resident_id, operator_id, kind, outcome, booking_id, notes, created_at
           FROM call_logs WHERE resident_id = $1 ORDER BY id DESC LIMIT $2""", resident_id, limit)
    return [CallLog(**r) for r in rows]


async def set_schedule(conn: Conn, booking_id: int, *, caregiver_id: int | None, planned_start) -> None:
    await conn.execute(
        """UPDATE bookings SET caregiver_id = $2, planned_start = $3, updated_at = now() WHERE id = $1""",
        booking_id, caregiver_id, planned_start)
