"""All booking SQL. asyncpg Records become booking models here and nowhere else."""
from __future__ import annotations

from datetime import date, time
from typing import Any

import asyncpg

from core.crypto import Crypto
from booking.models import (Booking, BookingStatus, CallLog, Evaluation, MenuCategory, MenuItem, NewResident,
                            Resident, SafetyTask, Series, SeriesRequest, Wallet, WalletEntry)
from booking.subsidy import MONTHLY_GRANT_FEN
from booking.models import SensitiveRead

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
    subsidy_eligible, eligibility, caregiver_gender, care_notes_enc, id_card_last4, position_source"""


def _resident(row: asyncpg.Record, crypto: Crypto) -> Resident:
    data = dict(row)
    data["eligibility"] = tuple(data["eligibility"])
    data["care_notes"] = crypto.decrypt(data.pop("care_notes_enc"))
    data["gender"] = data["gender"].strip()
    if data["caregiver_gender"]:
        data["caregiver_gender"] = data["caregiver_gender"].strip()
    return Resident(**data)


async def insert_resident(conn: Conn, crypto: Crypto, new: NewResident) -> Resident:
    id_card = new.id_card_no
    row = await conn.fetchrow(
        f"""INSERT INTO residents (circle_id, name, gender, birth_date, phone, address, lat, lon,
               lives_alone, subsidy_eligible, eligibility, caregiver_gender, care_notes_enc,
               id_card_hmac, id_card_last4, id_card_enc)
            VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)
            RETURNING {_RESIDENT_COLUMNS}""",
        new.circle_id, new.name, new.gender, new.birth_date, new.phone, new.address, new.lat, new.lon,
        new.lives_alone, new.subsidy_eligible, list(new.eligibility), new.caregiver_gender,
        crypto.encrypt(new.care_notes), crypto.keyed_hash(id_card) if id_card else None,
        id_card[-4:] if id_card else None, crypto.encrypt(id_card))
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


_QUOTE_SQL = f"""WITH r AS (SELECT {", ".join(_TARGET_RESIDENT)} FROM residents WHERE id = $1),
  m AS (SELECT {_ITEM_COLUMNS} FROM menu_items WHERE code = $2 AND active),
  w AS (SELECT {", ".join(_TARGET_WALLET)} FROM subsidy_wallets WHERE resident_id = $1 AND month = $3)
SELECT {_TARGET_SELECT}
FROM (VALUES (1)) AS one (x) LEFT JOIN r ON true LEFT JOIN m ON true LEFT JOIN w ON true"""
_TARGET_SQL = f"""WITH r AS (SELECT {", ".join(_TARGET_RESIDENT)}, subsidy_eligible AS eligible FROM residents
        WHERE id = $1),
  m AS (SELECT {_ITEM_COLUMNS} FROM menu_items WHERE code = $2 AND active),
  w AS (INSERT INTO subsidy_wallets AS sw (resident_id, month, granted_fen)
        SELECT id, $3, $4 FROM r WHERE eligible AND EXISTS (SELECT FROM m)
        ON CONFLICT (resident_id, month) DO UPDATE SET granted_fen = sw.granted_fen
        RETURNING {", ".join("sw." + c for c in _TARGET_WALLET)}, sw.xmax = 0 AS created),
  grant_entry AS (INSERT INTO wallet_entries (resident_id, month, booking_id, kind, amount_fen)
        SELECT resident_id, month, NULL, 'grant', granted_fen FROM w WHERE created)
SELECT {_TARGET_SELECT}
FROM (VALUES (1)) AS one (x) LEFT JOIN r ON true LEFT JOIN m ON true LEFT JOIN w ON true"""


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


async def booking_target(conn: Conn, *, resident_id: int, item_code: str, month: date,
                         lock: bool) -> tuple[Resident | None, MenuItem | None, Wallet | None]:
    """What booking needs, in one round trip: the elder (care notes left encrypted: None), the active
    menu item and the month's wallet. With `lock` — for an eligible elder, when both exist — the wallet
    is opened with its grant on first use and row-locked as `lock_wallet` does; without, only read."""
    if lock:
        return _target(await conn.fetchrow(_TARGET_SQL, resident_id, item_code, month, MONTHLY_GRANT_FEN))
    return _target(await conn.fetchrow(_QUOTE_SQL, resident_id, item_code, month))


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
    b.caregiver_name, b.planned_start, b.created_at, r.name AS resident_name,
    (SELECT e.rating FROM evaluations e WHERE e.booking_id = b.id ORDER BY e.id DESC LIMIT 1) AS rating
  FROM bookings b JOIN menu_items m ON m.code = b.item_code
  JOIN residents r ON r.id = b.resident_id"""


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


_INSERT_WITH_HOLD_SQL = f"""WITH b AS (
              INSERT INTO bookings (resident_id, circle_id, item_code, series_id, service_date, window_start,
                                    window_end, channel, booked_by, notes, price_fen, subsidy_fen, self_pay_fen)
              VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13) RETURNING *),
            held AS (
              UPDATE subsidy_wallets SET held_fen = held_fen + $12
              WHERE $12 > 0 AND resident_id = $1 AND month = $14),
            hold_entry AS (
              INSERT INTO wallet_entries (resident_id, month, booking_id, kind, amount_fen)
              SELECT $1, $14, b.id, 'hold', $12 FROM b WHERE $12 > 0)
            {_BOOKING_SELECT.replace("FROM bookings b", "FROM b", 1)}"""


async def insert_booking_with_hold(conn: Conn, *, resident_id: int, circle_id: int, item_code: str,
                                   series_id: int | None, service_date: date, window_start: time, window_end: time,
                                   channel: str, booked_by: int | None, notes: str, price_fen: int,
                                   subsidy_fen: int, self_pay_fen: int, month: date) -> Booking:
    """Insert a booking and hold its subsidy part — the wallet's held_fen and the ledger's hold entry —
    in one statement, and return the booking as `booking()` reads it. The caller holds the wallet's
    row lock (`lock_wallet`); wallet_not_overspent still guards the update."""
    return _booking(await conn.fetchrow(
        _INSERT_WITH_HOLD_SQL, resident_id, circle_id, item_code, series_id, service_date, window_start, window_end,
        channel, booked_by, notes, price_fen, subsidy_fen, self_pay_fen, month))


async def booking(conn: Conn, booking_id: int, *, for_update: bool = False) -> Booking | None:
    if for_update:
        await conn.execute("SELECT 1 FROM bookings WHERE id = $1 FOR UPDATE", booking_id)
    row = await conn.fetchrow(f"{_BOOKING_SELECT} WHERE b.id = $1", booking_id)
    return _booking(row) if row else None


_SCOPE_FILTERS = {
    "all": "true",
    "residents": "b.resident_id = ANY({p}::bigint[])",
    "circle": "b.circle_id = {p}::bigint",
    "caregiver": "{p}::bigint = ANY(b.team_caregiver_ids)",
    "provider": "{p}::bigint = ANY(b.team_provider_ids)",
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
    """True if this request is the first with the key; waits for a concurrent first to finish
    (and, if that one rolled back, claims the key itself)."""
    return bool(await conn.fetchval(
        """INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING RETURNING true""", user_id, key, request_hash))


async def keyed_booking(conn: Conn, *, user_id: int, key: str) -> tuple[bytes, int | None]:
    """(the request hash, the booking id) kept with a key claimed earlier."""
    row = await conn.fetchrow(
        "SELECT request_hash, booking_id FROM idempotency_keys WHERE user_id = $1 AND key = $2", user_id, key)
    return bytes(row["request_hash"]), row["booking_id"]


async def keep_keyed_booking(conn: Conn, *, user_id: int, key: str, booking_id: int) -> None:
    await conn.execute("UPDATE idempotency_keys SET booking_id = $3 WHERE user_id = $1 AND key = $2",
                       user_id, key, booking_id)

# ------------------------------------------------------------------ series

_SERIES_COLUMNS = """id, resident_id, item_code, weekdays, window_start, window_end, start_date,
    end_date, channel, notes, status, booked_by, regular_caregiver_id"""


def _series(row: asyncpg.Record) -> Series:
    data = dict(row)
    data["weekdays"] = tuple(data["weekdays"])
    return Series(**data)


async def insert_series(conn: Conn, request: SeriesRequest, *, booked_by: int | None) -> Series:
    row = await conn.fetchrow(
        f"""INSERT INTO booking_series (resident_id, item_code, weekdays, window_start, window_end,
               start_date, end_date, channel, booked_by, notes, regular_caregiver_id)
            VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) RETURNING {_SERIES_COLUMNS}""",
        request.resident_id, request.item_code, sorted(set(request.weekdays)), request.window_start,
        request.window_end, request.start_date, request.end_date, request.channel, booked_by, request.notes,
        request.regular_caregiver_id)
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

# ------------------------------------------------------------------ issue 15: editing, duplicates, audit reads

_EDITABLE_ITEM = ("price_fen", "minutes", "subsidy_max_fen", "active")


async def menu_item_any(conn: Conn, code: str, *, for_update: bool = False) -> tuple[MenuItem, bool] | None:
    """A menu item whether active or not, with its active flag."""
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_ITEM_COLUMNS}, active FROM menu_items WHERE code = $1{lock}", code)
    if row is None:
        return None
    data = dict(row)
    active = data.pop("active")
    return MenuItem(**data), active


async def update_menu_item(conn: Conn, code: str, **fields: Any) -> None:
    fields = {k: v for k, v in fields.items() if k in _EDITABLE_ITEM}
    if not fields:
        return
    sets = ", ".join(f"{name} = ${n}" for n, name in enumerate(fields, start=2))
    await conn.execute(f"UPDATE menu_items SET {sets} WHERE code = $1", code, *fields.values())


async def lock_resident_keys(conn: Conn, *keys: str) -> None:
    """Serialise registrations that could duplicate each other (same phone, or same name and birth date)."""
    for key in sorted(set(keys)):
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('resident:' || $1, 15))", key)


async def duplicate_resident(conn: Conn, *, phone: str, name: str, birth_date: date,
                             other_than: int | None = None) -> int | None:
    """The id of a resident with this phone, or the same name and birth date; None if none."""
    return await conn.fetchval(
        """SELECT id FROM residents WHERE (phone = $1 OR (name = $2 AND birth_date = $3))
             AND ($4::bigint IS NULL OR id <> $4) ORDER BY (phone = $1) DESC, id LIMIT 1""",
        phone, name, birth_date, other_than)


_EDITABLE_RESIDENT = ("address", "lat", "lon", "phone", "subsidy_eligible", "eligibility", "lives_alone",
                      "caregiver_gender", "position_source")


async def update_resident(conn: Conn, crypto: Crypto, resident_id: int, *, care_notes: str | None = None,
                          **fields: Any) -> None:
    fields = {k: (list(v) if k == "eligibility" else v) for k, v in fields.items() if k in _EDITABLE_RESIDENT}
    if care_notes is not None:
        fields["care_notes_enc"] = crypto.encrypt(care_notes)
    if not fields:
        return
    sets = ", ".join(f"{name} = ${n}" for n, name in enumerate(fields, start=2))
    await conn.execute(f"UPDATE residents SET {sets} WHERE id = $1", resident_id, *fields.values())


async def position_source(conn: Conn, resident_id: int) -> str | None:
    return await conn.fetchval("SELECT position_source FROM residents WHERE id = $1", resident_id)


async def positions_unconfirmed(conn: Conn, resident_ids: list[int]) -> list[int]:
    """Of these residents, those whose home position nobody ever confirmed."""
    return list(await conn.fetchval(
        """SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM residents
           WHERE id = ANY($1::bigint[]) AND position_source = 'unconfirmed'""", resident_ids))


async def overlapping_booking(conn: Conn, *, resident_id: int, item_code: str, service_date: date,
                              window_start: time, window_end: time) -> int | None:
    """A live booking of the same elder, item and day whose window overlaps this one."""
    await conn.execute("SELECT pg_advisory_xact_lock(16, $1::int)", resident_id % 2_000_000_000)
    return await conn.fetchval(
        """SELECT id FROM bookings
           WHERE resident_id = $1 AND item_code = $2 AND service_date = $3
             AND status NOT IN ('cancelled', 'missed') AND window_start <= $5 AND $4 <= window_end
           ORDER BY id LIMIT 1""", resident_id, item_code, service_date, window_start, window_end)


async def sensitive_reads(conn: Conn, *, resident_id: int | None, user_id: int | None, since,
                          limit: int = 200) -> list[SensitiveRead]:
    rows = await conn.fetch(
        """SELECT s.id, s.user_id, u.username, s.resident_id, s.field, s.created_at
           FROM sensitive_reads s LEFT JOIN users u ON u.id = s.user_id
           WHERE ($1::bigint IS NULL OR s.resident_id = $1) AND ($2::bigint IS NULL OR s.user_id = $2)
             AND ($3::timestamptz IS NULL OR s.created_at >= $3)
           ORDER BY s.created_at DESC, s.id DESC LIMIT $4""", resident_id, user_id, since, limit)
    return [SensitiveRead(**r) for r in rows]


async def residents_unconfirmed(conn: Conn, crypto: Crypto, circle_id: int | None) -> list[Resident]:
    rows = await conn.fetch(
        f"""SELECT {_RESIDENT_COLUMNS} FROM residents WHERE position_source = 'unconfirmed'
              AND ($1::bigint IS NULL OR circle_id = $1) ORDER BY circle_id, name, id""", circle_id)
    return [_resident(r, crypto) for r in rows]

async def team_caregiver_ids(conn: Conn, booking_id: int) -> list[int]:
    """Who is coming to a booking (kept on the booking by the database from the active visits)."""
    return list(await conn.fetchval("SELECT team_caregiver_ids FROM bookings WHERE id = $1", booking_id) or [])

# ------------------------------------------------------------------ safety tasks (the hotline's follow-ups)


_TASK_SELECT = """SELECT t.id, t.resident_id, r.name AS resident_name, r.phone AS resident_phone, r.address,
    r.lives_alone, t.booking_id, t.kind, t.opened_at, t.closed_at, t.closed_by, t.outcome, t.notes, r.circle_id,
    coalesce((SELECT array_agg(u.display_name ORDER BY u.id) FROM family_links f
              JOIN users u ON u.id = f.user_id AND u.active WHERE f.resident_id = r.id), '{}') AS family_names
  FROM safety_tasks t JOIN residents r ON r.id = t.resident_id"""


def _task(row: asyncpg.Record) -> SafetyTask:
    data = dict(row)
    data["family_names"] = tuple(data["family_names"])
    return SafetyTask(**data)


async def open_safety_task(conn: Conn, *, resident_id: int, booking_id: int | None, kind: str,
                           now) -> int | None:
    """Open a task (once per booking and kind); returns its id, None if it was already open."""
    return await conn.fetchval(
        """INSERT INTO safety_tasks (resident_id, booking_id, kind, opened_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT ON CONSTRAINT safety_tasks_once DO NOTHING RETURNING id""",
        resident_id, booking_id, kind, now)


async def safety_tasks(conn: Conn, *, open_only: bool, circle_id: int | None, limit: int = 200) -> list[SafetyTask]:
    rows = await conn.fetch(
        f"""{_TASK_SELECT} WHERE ($1::boolean IS FALSE OR t.closed_at IS NULL)
            AND ($2::bigint IS NULL OR r.circle_id = $2)
            ORDER BY t.closed_at IS NOT NULL, t.opened_at, t.id LIMIT $3""", open_only, circle_id, limit)
    return [_task(r) for r in rows]


async def safety_task(conn: Conn, task_id: int, *, for_update: bool = False) -> SafetyTask | None:
    if for_update:
        await conn.execute("SELECT 1 FROM safety_tasks WHERE id = $1 FOR UPDATE", task_id)
    row = await conn.fetchrow(f"{_TASK_SELECT} WHERE t.id = $1", task_id)
    return _task(row) if row else None


async def close_safety_task(conn: Conn, task_id: int, *, outcome: str, notes: str, closed_by: int, now) -> None:
    await conn.execute(
        """UPDATE safety_tasks SET closed_at = $2, outcome = $3, notes = $4, closed_by = $5
           WHERE id = $1 AND closed_at IS NULL""", task_id, now, outcome, notes, closed_by)


async def lives_alone(conn: Conn, resident_id: int) -> bool:
    return bool(await conn.fetchval("SELECT lives_alone FROM residents WHERE id = $1", resident_id))
