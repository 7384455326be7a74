"""All provider SQL. asyncpg Records become provider models here and nowhere else."""
from __future__ import annotations

from datetime import date, datetime, time
from typing import Any, Callable

import asyncpg

from booking.models import CircleReach
from providers.models import LateVisit
from providers.models import (Alert, Caregiver, Circle, DayKind, DayRule, PlannedVisit, Provider,
                              ReviewedEvaluation, SettlementBooking, SettlementVisit, SheetEntry, SheetResident, Visit,
                              VisitContext)

Conn = asyncpg.Connection

# ------------------------------------------------------------------ circles


_CIRCLE_COLUMNS = "id, name, address, lat, lon, radius_m, hotline_phone"


async def circles(conn: Conn) -> list[Circle]:
    rows = await conn.fetch(f"SELECT {_CIRCLE_COLUMNS} FROM circles ORDER BY id")
    return [Circle(**r) for r in rows]


async def circle(conn: Conn, circle_id: int) -> Circle | None:
    row = await conn.fetchrow(f"SELECT {_CIRCLE_COLUMNS} FROM circles WHERE id = $1",
                              circle_id)
    return Circle(**row) if row else None


async def circle_reach(conn: Conn, circle_id: int) -> CircleReach | None:
    """A circle's centre and reach, as booking asks for it when an elder registers."""
    row = await conn.fetchrow("SELECT lat, lon, radius_m FROM circles WHERE id = $1", circle_id)
    return CircleReach(**row) if row else None


async def insert_circle(conn: Conn, *, name: str, address: str, lat: float, lon: float,
                        radius_m: int, hotline_phone: str = "") -> Circle:
    row = await conn.fetchrow(
        f"""INSERT INTO circles (name, address, lat, lon, radius_m, hotline_phone) VALUES ($1, $2, $3, $4, $5, $6)
            RETURNING {_CIRCLE_COLUMNS}""", name, address, lat, lon, radius_m, hotline_phone)
    return Circle(**row)


async def missing_circles(conn: Conn, circle_ids: list[int]) -> list[int]:
    rows = await conn.fetch(
        "SELECT x FROM unnest($1::bigint[]) x WHERE NOT EXISTS (SELECT 1 FROM circles c WHERE c.id = x)",
        circle_ids)
    return [r["x"] for r in rows]

# ------------------------------------------------------------------ providers

_PROVIDER_SELECT = """SELECT p.id, p.name, p.phone,
    coalesce((SELECT array_agg(pc.circle_id ORDER BY pc.circle_id) FROM provider_circles pc
              WHERE pc.provider_id = p.id), '{}') AS circle_ids,
    coalesce((SELECT array_agg(pi.item_code ORDER BY pi.item_code) FROM provider_items pi
              WHERE pi.provider_id = p.id), '{}') AS item_codes,
    (SELECT count(*) FROM caregivers c WHERE c.provider_id = p.id AND c.active) AS caregiver_count
  FROM providers p"""


def _provider(row: asyncpg.Record) -> Provider:
    data = dict(row)
    data["circle_ids"] = tuple(data["circle_ids"])
    data["item_codes"] = tuple(data["item_codes"])
    return Provider(**data)


async def providers(conn: Conn) -> list[Provider]:
    return [_provider(r) for r in await conn.fetch(f"{_PROVIDER_SELECT} ORDER BY p.id")]


async def provider(conn: Conn, provider_id: int) -> Provider | None:
    row = await conn.fetchrow(f"{_PROVIDER_SELECT} WHERE p.id = $1", provider_id)
    return _provider(row) if row else None


async def insert_provider(conn: Conn, *, name: str, phone: str) -> int:
    return await conn.fetchval("INSERT INTO providers (name, phone) VALUES ($1, $2) RETURNING id", name, phone)


async def set_provider_circles(conn: Conn, provider_id: int, circle_ids: list[int]) -> None:
    await conn.execute("DELETE FROM provider_circles WHERE provider_id = $1", provider_id)
    await conn.execute(
        "INSERT INTO provider_circles (provider_id, circle_id) SELECT $1, unnest($2::bigint[])",
        provider_id, circle_ids)


async def set_provider_items(conn: Conn, provider_id: int, item_codes: list[str]) -> None:
    await conn.execute("DELETE FROM provider_items WHERE provider_id = $1", provider_id)
    await conn.execute(
        "INSERT INTO provider_items (provider_id, item_code) SELECT $1, unnest($2::text[])",
        provider_id, item_codes)


async def unknown_items(conn: Conn, item_codes: list[str]) -> list[str]:
    rows = await conn.fetch(
        """SELECT x FROM unnest($1::text[]) x
           WHERE NOT EXISTS (SELECT 1 FROM menu_items m WHERE m.code = x AND m.active)""", item_codes)
    return [r["x"] for r in rows]


async def provider_serves(conn: Conn, provider_id: int, circle_id: int) -> bool:
    return bool(await conn.fetchval(
        "SELECT true FROM provider_circles WHERE provider_id = $1 AND circle_id = $2", provider_id, circle_id))

# ------------------------------------------------------------------ caregivers

_CAREGIVER_COLUMNS = ("provider_id", "circle_id", "name", "gender", "phone", "qualifications", "home_lat",
                      "home_lon", "transport", "work_days", "shift_start", "shift_end", "break_minutes",
                      "break_earliest", "break_latest_end", "max_work_minutes", "active")

_CAREGIVER_SELECT = f"""SELECT c.id, {', '.join('c.' + col for col in _CAREGIVER_COLUMNS)},
    coalesce((SELECT array_agg(pi.item_code) FROM provider_items pi
              WHERE pi.provider_id = c.provider_id), '{{}}') AS item_codes
  FROM caregivers c"""


def _caregiver(row: asyncpg.Record) -> Caregiver:
    data = dict(row)
    data["gender"] = data["gender"].strip()
    data["qualifications"] = tuple(data["qualifications"])
    data["work_days"] = tuple(sorted(data["work_days"]))
    data["item_codes"] = frozenset(data["item_codes"])
    return Caregiver(**data)


async def caregiver(conn: Conn, caregiver_id: int, *, for_update: bool = False) -> Caregiver | None:
    if for_update:
        await conn.execute("SELECT 1 FROM caregivers WHERE id = $1 FOR UPDATE", caregiver_id)
    row = await conn.fetchrow(f"{_CAREGIVER_SELECT} WHERE c.id = $1", caregiver_id)
    return _caregiver(row) if row else None


async def list_caregivers(conn: Conn, *, provider_id: int | None, circle_id: int | None,
                          include_inactive: bool) -> list[Caregiver]:
    rows = await conn.fetch(
        f"""{_CAREGIVER_SELECT}
            WHERE ($1::bigint IS NULL OR c.provider_id = $1) AND ($2::bigint IS NULL OR c.circle_id = $2)
              AND ($3 OR c.active) ORDER BY c.provider_id, c.name, c.id""",
        provider_id, circle_id, include_inactive)
    return [_caregiver(r) for r in rows]


async def serving_caregivers(conn: Conn, circle_id: int) -> list[Caregiver]:
    """Active caregivers of the circle whose provider serves the circle."""
    rows = await conn.fetch(
        f"""{_CAREGIVER_SELECT}
            WHERE c.circle_id = $1 AND c.active
              AND EXISTS (SELECT 1 FROM provider_circles pc
                          WHERE pc.provider_id = c.provider_id AND pc.circle_id = c.circle_id)
            ORDER BY c.id""", circle_id)
    return [_caregiver(r) for r in rows]


async def insert_caregiver(conn: Conn, **fields: Any) -> int:
    columns = [col for col in _CAREGIVER_COLUMNS if col in fields]
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    return await conn.fetchval(
        f"INSERT INTO caregivers ({', '.join(columns)}) VALUES ({placeholders}) RETURNING id",
        *(fields[col] for col in columns))


async def update_caregiver(conn: Conn, caregiver_id: int, **fields: Any) -> None:
    columns = [col for col in _CAREGIVER_COLUMNS if col in fields and col != "provider_id"]
    if not columns:
        return
    assignments = ", ".join(f"{col} = ${i}" for i, col in enumerate(columns, start=2))
    await conn.execute(f"UPDATE caregivers SET {assignments} WHERE id = $1",
                       caregiver_id, *(fields[col] for col in columns))

# ------------------------------------------------------------------ day rules


def _day_rule(row: asyncpg.Record) -> DayRule:
    return DayRule(day=row["day"], kind=DayKind(row["kind"]), shift_start=row["shift_start"],
                   shift_end=row["shift_end"], note=row["note"])


async def day_rules(conn: Conn, caregiver_ids: list[int], *, first: date, last: date) -> dict[int, list[DayRule]]:
    """Each caregiver's day rules from `first` through `last`."""
    rows = await conn.fetch(
        """SELECT caregiver_id, day, kind, shift_start, shift_end, note FROM caregiver_days
           WHERE caregiver_id = ANY($1::bigint[]) AND day BETWEEN $2 AND $3
           ORDER BY caregiver_id, day""", caregiver_ids, first, last)
    found: dict[int, list[DayRule]] = {}
    for row in rows:
        found.setdefault(row["caregiver_id"], []).append(_day_rule(row))
    return found


async def replace_day_rule(conn: Conn, caregiver_id: int, *, day: date, kind: str | None,
                           shift_start: time | None, shift_end: time | None, note: str) -> None:
    """Set one date's rule; kind None removes it (back to the weekly pattern)."""
    await conn.execute("DELETE FROM caregiver_days WHERE caregiver_id = $1 AND day = $2", caregiver_id, day)
    if kind is not None:
        await conn.execute(
            """INSERT INTO caregiver_days (caregiver_id, day, kind, shift_start, shift_end, note)
               VALUES ($1, $2, $3, $4, $5, $6)""", caregiver_id, day, kind, shift_start, shift_end, note)

# ------------------------------------------------------------------ visits: writing a plan


async def insert_visits(conn: Conn, *, plan_id: int | None, visits: list[PlannedVisit]) -> None:
    """Insert the visits in one statement (the exclusion constraint checks every row)."""
    await conn.execute(
        """INSERT INTO visits (booking_id, caregiver_id, plan_id, crew_member, position,
               planned_start, planned_end, travel_minutes)
           SELECT b, c, $1, m, p, s, e, t
           FROM unnest($2::bigint[], $3::bigint[], $4::smallint[], $5::integer[],
                       $6::timestamptz[], $7::timestamptz[], $8::integer[]) AS v(b, c, m, p, s, e, t)""",
        plan_id, [v.booking_id for v in visits], [v.caregiver_id for v in visits],
        [v.crew_member for v in visits], [v.position for v in visits],
        [v.planned_start for v in visits], [v.planned_end for v in visits],
        [v.travel_minutes for v in visits])


async def release_visits(conn: Conn, booking_ids: list[int], *, now: datetime | None = None) -> int:
    """Set released_at on the active visits of these bookings; returns how many."""
    result = await conn.execute(
        """UPDATE visits SET released_at = coalesce($2, now())
           WHERE booking_id = ANY($1::bigint[]) AND released_at IS NULL""", booking_ids, now)
    return int(result.split()[-1])

# ------------------------------------------------------------------ visits: reading and recording

_VISIT_COLUMNS = ("id", "booking_id", "caregiver_id", "plan_id", "crew_member", "position", "planned_start",
                  "planned_end", "travel_minutes", "check_in_at", "check_in_lat", "check_in_lon",
                  "check_in_distance_m", "check_out_at", "check_out_lat", "check_out_lon",
                  "check_out_distance_m", "outcome", "flags", "notes", "released_at", "review_status",
                  "corrected_by")
_V = ", ".join(f"v.{col}" for col in _VISIT_COLUMNS)


def _visit(row: asyncpg.Record) -> Visit:
    data = {col: row[col] for col in _VISIT_COLUMNS}
    data["flags"] = tuple(data["flags"])
    return Visit(**data)


async def visit_context(conn: Conn, visit_id: int, *, for_update: bool = False) -> VisitContext | None:
    """A visit with its booking's status and the home. With `for_update`, the booking row is
    locked first, then the visit: every writer of a booking's visits locks in that order, so two
    partners checking in or out at once queue up instead of deadlocking."""
    if for_update:
        await conn.execute("""SELECT 1 FROM bookings WHERE id = (SELECT booking_id FROM visits WHERE id = $1)
                              FOR UPDATE""", visit_id)
    lock = " FOR UPDATE OF v" if for_update else ""
    row = await conn.fetchrow(
        f"""SELECT {_V}, b.status AS booking_status, b.circle_id, b.resident_id, r.lat AS home_lat,
                   r.lon AS home_lon, m.minutes AS item_minutes, c.provider_id
            FROM visits v JOIN bookings b ON b.id = v.booking_id JOIN residents r ON r.id = b.resident_id
            JOIN menu_items m ON m.code = b.item_code JOIN caregivers c ON c.id = v.caregiver_id
            WHERE v.id = $1{lock}""", visit_id)
    if row is None:
        return None
    return VisitContext(visit=_visit(row), booking_status=row["booking_status"], circle_id=row["circle_id"],
                        resident_id=row["resident_id"], home_lat=row["home_lat"], home_lon=row["home_lon"],
                        item_minutes=row["item_minutes"], provider_id=row["provider_id"])


async def partner_visits(conn: Conn, booking_id: int) -> list[Visit]:
    """The booking's active visits (one per crew member), locked."""
    rows = await conn.fetch(
        f"""SELECT {_V} FROM visits v WHERE v.booking_id = $1 AND v.released_at IS NULL
            ORDER BY v.crew_member FOR UPDATE""", booking_id)
    return [_visit(r) for r in rows]


async def visit(conn: Conn, visit_id: int) -> Visit | None:
    row = await conn.fetchrow(f"SELECT {_V} FROM visits v WHERE v.id = $1", visit_id)
    return _visit(row) if row else None


async def record_check_in(conn: Conn, visit_id: int, *, at: datetime, lat: float, lon: float,
                          distance_m: int, flags: tuple[str, ...]) -> None:
    await conn.execute(
        """UPDATE visits SET check_in_at = $2, check_in_lat = $3, check_in_lon = $4,
               check_in_distance_m = $5, flags = $6 WHERE id = $1""",
        visit_id, at, lat, lon, distance_m, list(flags))


async def record_check_out(conn: Conn, visit_id: int, *, at: datetime, lat: float, lon: float,
                           distance_m: int, outcome: str, notes: str, flags: tuple[str, ...]) -> None:
    await conn.execute(
        """UPDATE visits SET check_out_at = $2, check_out_lat = $3, check_out_lon = $4,
               check_out_distance_m = $5, outcome = $6, notes = $7, flags = $8 WHERE id = $1""",
        visit_id, at, lat, lon, distance_m, outcome, notes, list(flags))


async def correct_visit(conn: Conn, visit_id: int, *, check_in_at: datetime | None,
                        check_out_at: datetime | None, outcome: str | None, flags: tuple[str, ...],
                        review_status: str | None, corrected_by: int) -> None:
    await conn.execute(
        """UPDATE visits SET check_in_at = $2, check_out_at = $3, outcome = $4, flags = $5, review_status = $6,
               corrected_by = $7 WHERE id = $1""",
        visit_id, check_in_at, check_out_at, outcome, list(flags), review_status, corrected_by)


async def set_review(conn: Conn, visit_id: int, review_status: str) -> None:
    await conn.execute("UPDATE visits SET review_status = $2 WHERE id = $1", visit_id, review_status)


async def insert_audit(conn: Conn, *, visit_id: int, changed_by: int, reason: str, before: dict,
                       after: dict) -> None:
    await conn.execute(
        """INSERT INTO visit_audit (visit_id, changed_by, reason, before, after)
           VALUES ($1, $2, $3, $4, $5)""", visit_id, changed_by, reason, before, after)


# ------------------------------------------------------------------ day sheet and feed

_SHEET_SELECT = f"""SELECT {_V}, b.status AS booking_status, b.item_code, m.name_zh AS item_name_zh,
    m.category_code, m.minutes AS item_minutes, m.crew, r.id AS resident_id, r.name AS resident_name,
    r.address, r.lat, r.lon, r.phone, r.care_notes_enc,
    (SELECT pc.name FROM visits p JOIN caregivers pc ON pc.id = p.caregiver_id
     WHERE p.booking_id = v.booking_id AND p.id <> v.id AND p.released_at IS NULL
     ORDER BY p.crew_member LIMIT 1) AS partner_name
  FROM visits v JOIN bookings b ON b.id = v.booking_id JOIN menu_items m ON m.code = b.item_code
  JOIN residents r ON r.id = b.resident_id"""


def _sheet_entry(row: asyncpg.Record, care_notes: str | None) -> SheetEntry:
    resident = SheetResident(id=row["resident_id"], name=row["resident_name"], address=row["address"],
                             lat=row["lat"], lon=row["lon"], phone=row["phone"], care_notes=care_notes)
    return SheetEntry(visit=_visit(row), resident=resident, item_code=row["item_code"],
                      item_name_zh=row["item_name_zh"], category_code=row["category_code"],
                      item_minutes=row["item_minutes"], crew=row["crew"], booking_status=row["booking_status"],
                      partner_name=row["partner_name"])


async def published_visits(conn: Conn, caregiver_id: int, *, start: datetime, end: datetime,
                           decrypt: Callable[[bytes | None], str | None] | None) -> list[SheetEntry]:
    """A caregiver's active visits starting in [start, end), in order; care notes decrypted
    only when `decrypt` is given."""
    rows = await conn.fetch(
        f"""{_SHEET_SELECT}
            WHERE v.caregiver_id = $1 AND v.released_at IS NULL AND v.planned_start >= $2
              AND v.planned_start < $3 ORDER BY v.planned_start, v.position, v.id""",
        caregiver_id, start, end)
    return [_sheet_entry(r, decrypt(r["care_notes_enc"]) if decrypt else None) for r in rows]


async def record_sensitive_reads(conn: Conn, *, user_id: int, resident_ids: list[int], field: str) -> None:
    await conn.execute(
        """INSERT INTO sensitive_reads (user_id, resident_id, field)
           SELECT $1, unnest($2::bigint[]), $3""", user_id, resident_ids, field)


async def set_calendar_token(conn: Conn, caregiver_id: int, token_hash: str) -> None:
    await conn.execute("UPDATE caregivers SET calendar_token = $2 WHERE id = $1", caregiver_id, token_hash)


async def caregiver_by_calendar_token(conn: Conn, caregiver_id: int, token_hash: str) -> Caregiver | None:
    row = await conn.fetchrow(f"{_CAREGIVER_SELECT} WHERE c.id = $1 AND c.calendar_token = $2",
                              caregiver_id, token_hash)
    return _caregiver(row) if row else None

# ------------------------------------------------------------------ alerts


async def visits_of_day(conn: Conn, *, start: datetime, end: datetime, circle_id: int | None,
                        provider_id: int | None) -> list[Alert]:
    """Active visits starting in [start, end), narrowed by circle and provider, in time order."""
    rows = await conn.fetch(
        f"""SELECT {_V}, b.circle_id, c.name AS caregiver_name, c.provider_id, r.name AS resident_name,
                   b.item_code, b.status AS booking_status
            FROM visits v JOIN bookings b ON b.id = v.booking_id JOIN caregivers c ON c.id = v.caregiver_id
            JOIN residents r ON r.id = b.resident_id
            WHERE v.released_at IS NULL AND v.planned_start >= $1 AND v.planned_start < $2
              AND ($3::bigint IS NULL OR b.circle_id = $3) AND ($4::bigint IS NULL OR c.provider_id = $4)
            ORDER BY v.planned_start, v.id""", start, end, circle_id, provider_id)
    return [Alert(visit=_visit(r), circle_id=r["circle_id"], caregiver_name=r["caregiver_name"],
                  provider_id=r["provider_id"], resident_name=r["resident_name"], item_code=r["item_code"],
                  booking_status=r["booking_status"]) for r in rows]


async def unchecked_visits_started_by(conn: Conn, now: datetime) -> list[Visit]:
    """Active visits not checked in whose planned start has passed and not yet flagged no_show."""
    rows = await conn.fetch(
        f"""SELECT {_V} FROM visits v WHERE v.released_at IS NULL AND v.check_in_at IS NULL
              AND v.planned_start <= $1 AND NOT ('no_show' = ANY(v.flags))
            ORDER BY v.id FOR UPDATE SKIP LOCKED""", now)
    return [_visit(r) for r in rows]


async def add_flag(conn: Conn, visit_ids: list[int], flag: str) -> None:
    await conn.execute(
        """UPDATE visits SET flags = array_append(flags, $2)
           WHERE id = ANY($1::bigint[]) AND NOT ($2 = ANY(flags))""", visit_ids, flag)

# ------------------------------------------------------------------ settlement and evaluations


# a completed booking's active visits; a missed booking's visits as they were when it was closed (the
# database released them all at that moment: the latest release time of the booking)
_SETTLED_VISIT = ("({v}.released_at IS NULL OR (b.status = 'missed' AND {v}.released_at = "
                  "(SELECT max(x.released_at) FROM visits x WHERE x.booking_id = b.id)))")


async def settlement_bookings(conn: Conn, *, provider_id: int, first: date, last: date) -> list[SettlementBooking]:
    """Completed (and missed) bookings served in [first, last] whose lead caregiver (crew member 1)
    is the provider's, with their visits and their ratings."""
    rows = await conn.fetch(
        f"""SELECT b.id, b.service_date, b.item_code, m.name_zh, m.minutes, b.price_fen, b.subsidy_fen,
                  b.self_pay_fen, r.name AS resident_name,
                  (SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'visit_id', v.id, 'caregiver_id', v.caregiver_id, 'check_in_at', v.check_in_at,
                       'check_out_at', v.check_out_at, 'check_in_distance_m', v.check_in_distance_m,
                       'review_status', v.review_status)
                       ORDER BY v.crew_member), '[]')
                   FROM visits v WHERE v.booking_id = b.id AND {_SETTLED_VISIT.format(v="v")}) AS visits,
                  (SELECT coalesce(jsonb_agg(jsonb_build_array(e.rating, e.cleared_at IS NOT NULL)), '[]')
                   FROM evaluations e WHERE e.booking_id = b.id) AS ratings, b.status = 'missed' AS missed
           FROM bookings b JOIN menu_items m ON m.code = b.item_code JOIN residents r ON r.id = b.resident_id
           WHERE b.status IN ('completed', 'missed') AND b.service_date BETWEEN $2 AND $3
             AND EXISTS (SELECT 1 FROM visits lead JOIN caregivers lc ON lc.id = lead.caregiver_id
                         WHERE lead.booking_id = b.id AND {_SETTLED_VISIT.format(v="lead")}
                           AND lead.crew_member = 1 AND lc.provider_id = $1)
           ORDER BY b.service_date, b.id""", provider_id, first, last)
    return [_settlement_booking(r) for r in rows]


def _settlement_booking(row: asyncpg.Record) -> SettlementBooking:
    visits = tuple(SettlementVisit(
        visit_id=v["visit_id"], caregiver_id=v["caregiver_id"], check_in_at=_instant(v["check_in_at"]),
        check_out_at=_instant(v["check_out_at"]), check_in_distance_m=v["check_in_distance_m"],
        review_status=v.get("review_status"))
        for v in row["visits"])
    return SettlementBooking(
        booking_id=row["id"], service_date=row["service_date"], item_code=row["item_code"],
        item_name_zh=row["name_zh"], item_minutes=row["minutes"], price_fen=row["price_fen"],
        subsidy_fen=row["subsidy_fen"], self_pay_fen=row["self_pay_fen"], resident_name=row["resident_name"],
        visits=visits, ratings=tuple((int(r), bool(c)) for r, c in row["ratings"]), missed=row["missed"])


def _instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


async def evaluation_for_update(conn: Conn, evaluation_id: int) -> ReviewedEvaluation | None:
    await conn.execute("SELECT 1 FROM evaluations WHERE id = $1 FOR UPDATE", evaluation_id)
    return await evaluation(conn, evaluation_id)


async def clear_evaluation(conn: Conn, evaluation_id: int, *, cleared_by: int) -> None:
    await conn.execute("UPDATE evaluations SET cleared_by = $2, cleared_at = now() WHERE id = $1",
                       evaluation_id, cleared_by)


async def evaluation(conn: Conn, evaluation_id: int) -> ReviewedEvaluation | None:
    row = await conn.fetchrow(
        """SELECT id, booking_id, rating, comment, source, cleared_by, cleared_at FROM evaluations
           WHERE id = $1""", evaluation_id)
    return ReviewedEvaluation(**row) if row else None

# ------------------------------------------------------------------ issue 15: editing, who can serve

_EDITABLE_CIRCLE = ("name", "address", "lat", "lon", "radius_m", "hotline_phone")


async def update_circle(conn: Conn, circle_id: int, **fields: Any) -> None:
    columns = [col for col in _EDITABLE_CIRCLE if col in fields]
    if columns:
        assignments = ", ".join(f"{col} = ${i}" for i, col in enumerate(columns, start=2))
        await conn.execute(f"UPDATE circles SET {assignments} WHERE id = $1", circle_id,
                           *(fields[col] for col in columns))


async def update_provider(conn: Conn, provider_id: int, **fields: Any) -> None:
    columns = [col for col in ("name", "phone") if col in fields]
    if columns:
        assignments = ", ".join(f"{col} = ${i}" for i, col in enumerate(columns, start=2))
        await conn.execute(f"UPDATE providers SET {assignments} WHERE id = $1", provider_id,
                           *(fields[col] for col in columns))


async def providers_delivering(conn: Conn, circle_id: int, item_code: str) -> int:
    """How many providers serving the circle deliver the item."""
    return await conn.fetchval(
        """SELECT count(*) FROM provider_circles pc JOIN provider_items pi ON pi.provider_id = pc.provider_id
           WHERE pc.circle_id = $1 AND pi.item_code = $2""", circle_id, item_code)


async def caregiver_login(conn: Conn, caregiver_id: int) -> tuple[int, str] | None:
    row = await conn.fetchrow("SELECT id, username FROM users WHERE caregiver_id = $1 ORDER BY id LIMIT 1",
                              caregiver_id)
    return (row["id"], row["username"]) if row else None


async def set_login(conn: Conn, user_id: int, *, username: str, password_hash: str) -> None:
    await conn.execute("UPDATE users SET username = $2, password_hash = $3 WHERE id = $1",
                       user_id, username, password_hash)


async def serve_candidates(conn: Conn, *, circle_id: int, item_code: str, qualification: str,
                           day: date) -> tuple[int, list[tuple[Caregiver, DayRule | None]]]:
    """In one round trip: how many providers of the circle deliver the item, and the circle's active
    caregivers of those providers holding the qualification, each with that day's rule (leave, override)."""
    columns = ", ".join(f"c.{col}" for col in _CAREGIVER_COLUMNS)
    rows = await conn.fetch(
        f"""SELECT (SELECT count(*) FROM provider_circles pc JOIN provider_items pi ON pi.provider_id = pc.provider_id
                    WHERE pc.circle_id = $1 AND pi.item_code = $2) AS providers,
                   c.id, {columns}, d.day AS rule_day, d.kind AS rule_kind, d.shift_start AS rule_start,
                   d.shift_end AS rule_end
            FROM (VALUES (1)) AS one (x)
            LEFT JOIN caregivers c ON c.circle_id = $1 AND c.active AND $3 = ANY(c.qualifications)
                 AND EXISTS (SELECT 1 FROM provider_circles pc WHERE pc.provider_id = c.provider_id AND pc.circle_id = $1)
                 AND EXISTS (SELECT 1 FROM provider_items pi WHERE pi.provider_id = c.provider_id AND pi.item_code = $2)
            LEFT JOIN caregiver_days d ON d.caregiver_id = c.id AND d.day = $4""",
        circle_id, item_code, qualification, day)
    found = []
    for row in rows:
        if row["id"] is None:
            continue
        data = {"id": row["id"], **{col: row[col] for col in _CAREGIVER_COLUMNS}, "item_codes": []}
        rule = (DayRule(day=row["rule_day"], kind=DayKind(row["rule_kind"]), shift_start=row["rule_start"],
                        shift_end=row["rule_end"]) if row["rule_day"] is not None else None)
        found.append((_caregiver(data), rule))
    return rows[0]["providers"], found
# ------------------------------------------------------------------ visits that close (issue 13)


# A visit someone still waits for: planned, nobody checked in, its booking scheduled or under way (a
# two-person visit whose partner checked in: `partner_there`). Read as a `LateVisit` with `alerted_at`.
_LATE_VISIT = """SELECT v.id AS visit_id, v.booking_id, v.caregiver_id, c.name AS caregiver_name, b.circle_id,
                        b.resident_id, r.name AS resident_name, v.planned_start, {alerted_at} AS alerted_at,
                        b.status = 'in_progress' AS partner_there
                 FROM visits v JOIN caregivers c ON c.id = v.caregiver_id JOIN bookings b ON b.id = v.booking_id
                 JOIN residents r ON r.id = b.resident_id
                 WHERE v.released_at IS NULL AND v.check_in_at IS NULL AND b.status IN ('scheduled', 'in_progress')"""


async def late_visits_to_alert(conn: Conn, *, now: datetime, after_min: int) -> list[LateVisit]:
    """Visits waited for (`_LATE_VISIT`) `after_min` minutes after the planned start (within the last
    day) and not yet alerted; locked, skipping any another round holds."""
    rows = await conn.fetch(
        _LATE_VISIT.format(alerted_at="$1::timestamptz") + """
             AND v.noshow_alerted_at IS NULL
             AND v.planned_start <= $1 - make_interval(mins => $2) AND v.planned_start > $1 - interval '1 day'
           ORDER BY v.planned_start, v.id
           FOR UPDATE OF v SKIP LOCKED""", now, after_min)
    return [LateVisit(**dict(r)) for r in rows]


async def mark_noshow_alerted(conn: Conn, visit_ids: list[int], now: datetime) -> None:
    await conn.execute("UPDATE visits SET noshow_alerted_at = $2 WHERE id = ANY($1::bigint[])", visit_ids, now)


async def bookings_to_close_missed(conn: Conn, *, now: datetime, grace_min: int) -> list[asyncpg.Record]:
    """Scheduled bookings (nobody checked in) whose active visits all ended `grace_min` minutes ago."""
    return await conn.fetch(
        """SELECT b.id, b.resident_id, b.service_date, m.name_zh FROM bookings b
           JOIN menu_items m ON m.code = b.item_code
           JOIN visits v ON v.booking_id = b.id AND v.released_at IS NULL
           WHERE b.status = 'scheduled'
           GROUP BY b.id, m.name_zh
           HAVING max(v.planned_end) + make_interval(mins => $2) <= $1 AND bool_and(v.check_in_at IS NULL)
           ORDER BY b.id""", now, grace_min)


async def outstanding_late_visits(conn: Conn, *, circle_ids: list[int], now: datetime) -> list[LateVisit]:
    """Visits alerted as late in the last day that are still waited for (`_LATE_VISIT`)."""
    rows = await conn.fetch(
        _LATE_VISIT.format(alerted_at="v.noshow_alerted_at") + """
             AND v.noshow_alerted_at IS NOT NULL AND b.circle_id = ANY($1::bigint[])
             AND v.planned_start > $2::timestamptz - interval '1 day' AND v.planned_start <= $2::timestamptz
           ORDER BY v.planned_start, v.id""", circle_ids, now)
    return [LateVisit(**dict(r)) for r in rows]
