"""The demo street (`circle serve --demo`, `circle demo`): two service circles of Shanghai's
Jing'an district with their elders, families, providers, caregivers and the next two days'
bookings, plus one login per role (username = role, password `demo-<role>`).

The people and places come from app/demo_data.py (pure, seeded); this module writes them.
Elders are inserted through booking.queries (so ID numbers and care notes are encrypted as for
real ones) and every booking and series goes through booking.service on the caller's
connection, so subsidy holds, wallets and their ledger are exactly what real use produces.
The caller owns the transaction (the CLI wraps the whole load in one).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import asyncpg

from core.users import User, create_user, user_by_id
from core.clock import local_today
from core.crypto import Crypto
from core.db import UnitOfWork
from app.demo_data import CIRCLES, PROVIDERS, CaregiverSeed, FamilySeed, Street, build_street
from booking import queries as booking_queries
from booking import service as booking_service
from booking.models import BookingRequest, NewResident, SeriesRequest

log = logging.getLogger(__name__)

DEMO_SEED = 20_241_121
DEMO_ROLES = ("resident", "family", "operator", "dispatcher", "provider_admin", "caregiver", "admin")
# Family members other than the `family` login get an account they cannot sign in to until an
# operator sets a password: it is not an argon2 hash, so every password check fails.
NO_PASSWORD = "!no-password"


@dataclass(frozen=True)
class DemoSummary:
    """What was loaded, for the command line to print."""

    circles: int
    residents: int
    subsidy_eligible: int
    living_alone: int
    family_members: int
    providers: int
    caregivers: int
    series: int
    bookings_by_day: tuple[tuple[date, int], ...]
    accounts: tuple[str, ...]
    accounts_skipped: tuple[str, ...] = ()

    @property
    def bookings(self) -> int:
        return sum(n for _, n in self.bookings_by_day)

    def lines(self) -> list[str]:
        days = ", ".join(f"{day:%m-%d} {n}" for day, n in self.bookings_by_day)
        lines = [f"{self.circles} service circles; {self.residents} elders ({self.subsidy_eligible} subsidy-eligible, "
                 f"{self.living_alone} living alone); {self.family_members} family members",
                 f"{self.providers} providers; {self.caregivers} caregivers",
                 f"{self.bookings} bookings ({days}); {self.series} repeating series"]
        if self.accounts_skipped:
            lines.append(f"usernames already taken, left as they were: {', '.join(self.accounts_skipped)}")
        return lines


async def load_demo(conn: asyncpg.Connection, crypto: Crypto, *, today: date | None = None,
                    seed: int = DEMO_SEED, **size: int) -> DemoSummary:
    """Load the demo street, with bookings for the two days after `today` (default: the local
    day). Deterministic for a given `seed` and `today`; expects a database with the menu loaded
    and no demo street yet."""
    today = today or local_today()
    _, menu = await booking_queries.menu(conn)
    street = build_street(menu, today=today, seed=seed, **size)   # size: elders_per_circle, caregivers, …
    circle_ids = await _insert_circles(conn)
    provider_ids = await _insert_providers(conn, circle_ids)
    caregiver_ids = await _insert_caregivers(conn, street.caregivers, provider_ids, circle_ids)
    resident_ids = await _insert_residents(conn, crypto, street, circle_ids)
    created, skipped = await _insert_accounts(conn, street, resident_ids=resident_ids, circle_ids=circle_ids,
                                              provider_ids=provider_ids, caregiver_ids=caregiver_ids)
    await _insert_family_members(conn, street.families, resident_ids, skip=street.demo_family)
    operator = await _booking_operator(conn)
    series = await _book(conn, crypto, street, resident_ids, actor=operator, today=today)
    summary = DemoSummary(
        circles=len(circle_ids), residents=len(resident_ids),
        subsidy_eligible=sum(r.subsidy_eligible for r in street.residents),
        living_alone=sum(r.lives_alone for r in street.residents), family_members=len(street.families),
        providers=len(provider_ids), caregivers=len(caregiver_ids), series=series,
        bookings_by_day=await _bookings_by_day(conn, circle_ids), accounts=created, accounts_skipped=skipped)
    log.info("demo street loaded: %s", "; ".join(summary.lines()))
    return summary

# ------------------------------------------------------------------ places and organisations


async def _insert_circles(conn: asyncpg.Connection) -> list[int]:
    return [await conn.fetchval(
        """INSERT INTO circles (name, address, lat, lon, radius_m, hotline_phone) VALUES ($1, $2, $3, $4, $5, $6)
           RETURNING id""", c.name, c.address, c.lat, c.lon, c.radius_m, c.hotline_phone) for c in CIRCLES]


async def _insert_providers(conn: asyncpg.Connection, circle_ids: list[int]) -> list[int]:
    ids = [await conn.fetchval("INSERT INTO providers (name, phone) VALUES ($1, $2) RETURNING id", p.name, p.phone)
           for p in PROVIDERS]
    await conn.executemany("INSERT INTO provider_circles (provider_id, circle_id) VALUES ($1, $2)",
                           [(ids[n], circle_ids[c]) for n, p in enumerate(PROVIDERS) for c in p.circles])
    await conn.executemany(
        """INSERT INTO provider_items (provider_id, item_code)
           SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM menu_items WHERE code = $2)""",
        [(ids[n], code) for n, p in enumerate(PROVIDERS) for code in p.items])
    return ids


async def _insert_caregivers(conn: asyncpg.Connection, caregivers: tuple[CaregiverSeed, ...],
                             provider_ids: list[int], circle_ids: list[int]) -> list[int]:
    return [await conn.fetchval(
        """INSERT INTO caregivers (provider_id, circle_id, name, gender, phone, qualifications, home_lat,
               home_lon, transport, work_days, shift_start, shift_end, break_minutes, break_earliest,
               break_latest_end, max_work_minutes)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16) RETURNING id""",
        provider_ids[c.provider], circle_ids[c.circle], c.name, c.gender, c.phone, list(c.qualifications),
        c.home_lat, c.home_lon, c.transport, list(c.work_days), c.shift_start, c.shift_end, c.break_minutes,
        c.break_earliest, c.break_latest_end, c.max_work_minutes) for c in caregivers]

# ------------------------------------------------------------------ people


async def _insert_residents(conn: asyncpg.Connection, crypto: Crypto, street: Street,
                            circle_ids: list[int]) -> list[int]:
    ids = []
    for r in street.residents:
        resident = await booking_queries.insert_resident(conn, crypto, NewResident(
            circle_id=circle_ids[r.circle], name=r.name, gender=r.gender, birth_date=r.birth_date, phone=r.phone,
            address=r.address, lat=r.lat, lon=r.lon, lives_alone=r.lives_alone,
            subsidy_eligible=r.subsidy_eligible, eligibility=tuple(r.eligibility),
            caregiver_gender=r.caregiver_gender, care_notes=r.care_notes, id_card_no=r.id_card_no))
        ids.append(resident.id)
    return ids


async def _insert_accounts(conn: asyncpg.Connection, street: Street, *, resident_ids: list[int],
                           circle_ids: list[int], provider_ids: list[int],
                           caregiver_ids: list[int]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """One login per role; a username already taken (say, a real `admin`) is left as it was."""
    family = street.families[street.demo_family]
    accounts = {
        "resident": dict(display_name=street.residents[street.demo_resident].name,
                         resident_id=resident_ids[street.demo_resident]),
        "family": dict(display_name=family.name, family_of=tuple(resident_ids[i] for i in family.residents)),
        "operator": dict(display_name=street.staff["operator"]),
        "dispatcher": dict(display_name=street.staff["dispatcher"], circle_id=circle_ids[0]),
        "provider_admin": dict(display_name=street.staff["provider_admin"], provider_id=provider_ids[0]),
        "caregiver": dict(display_name=street.caregivers[street.demo_caregiver].name,
                          caregiver_id=caregiver_ids[street.demo_caregiver]),
        "admin": dict(display_name=street.staff["admin"]),
    }
    taken = {r["username"] for r in await conn.fetch("SELECT username FROM users WHERE username = ANY($1)",
                                                     list(accounts))}
    for role, links in accounts.items():
        if role not in taken:
            user = await create_user(conn, username=role, password=f"demo-{role}", role=role, **links)
            if role == "family":
                await conn.execute("UPDATE family_links SET relation = $2 WHERE user_id = $1", user.id,
                                   family.relation)
    return tuple(r for r in accounts if r not in taken), tuple(r for r in accounts if r in taken)


async def _insert_family_members(conn: asyncpg.Connection, families: tuple[FamilySeed, ...],
                                 resident_ids: list[int], *, skip: int) -> None:
    """Family members' accounts (username = their mobile number) and their links to elders."""
    others = [f for n, f in enumerate(families) if n != skip]
    rows = await conn.fetch(
        """INSERT INTO users (username, password_hash, role, display_name)
           SELECT phone, $2, 'family', name FROM unnest($1::text[], $3::text[]) AS f(phone, name)
           RETURNING id, username""", [f.phone for f in others], NO_PASSWORD, [f.name for f in others])
    user_ids = {r["username"]: r["id"] for r in rows}
    await conn.executemany("INSERT INTO family_links (user_id, resident_id, relation) VALUES ($1, $2, $3)",
                           [(user_ids[f.phone], resident_ids[i], f.relation) for f in others for i in f.residents])


async def _booking_operator(conn: asyncpg.Connection) -> User:
    user_id = await conn.fetchval("SELECT id FROM users WHERE username = 'operator' AND role IN ('operator', 'admin')")
    if user_id is None:
        raise RuntimeError("the demo bookings need an operator account named 'operator'; that username "
                           "belongs to a user of another role")
    return await user_by_id(conn, user_id)

# ------------------------------------------------------------------ bookings


async def _book(conn: asyncpg.Connection, crypto: Crypto, street: Street, resident_ids: list[int], *,
                actor: User, today: date) -> int:
    """Series first (regular lunches hold their subsidy first), then the single bookings in the
    order they were 'received'. Returns the number of series."""
    db = UnitOfWork(conn)
    for s in street.series:
        await booking_service.create_series(db, actor=actor, today=today, request=SeriesRequest(
            resident_ids[s.resident], s.item_code, tuple(s.weekdays), s.window_start, s.window_end, s.start_date,
            s.end_date, s.notes, s.channel))
    for b in street.bookings:
        await booking_service.create_booking(db, actor=actor, today=today, request=BookingRequest(
            resident_ids[b.resident], b.item_code, b.day, b.window_start, b.window_end, b.notes, b.channel))
    return len(street.series)


async def _bookings_by_day(conn: asyncpg.Connection, circle_ids: list[int]) -> tuple[tuple[date, int], ...]:
    rows = await conn.fetch(
        """SELECT service_date, count(*) AS n FROM bookings WHERE circle_id = ANY($1)
           GROUP BY service_date ORDER BY service_date""", circle_ids)
    return tuple((r["service_date"], r["n"]) for r in rows)
