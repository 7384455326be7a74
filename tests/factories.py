"""SQL factories for test data: each makes one row with sensible defaults, overridable."""
from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from datetime import date, time
from typing import Any

import asyncpg

from core.users import User, create_user, hash_password
from core.crypto import Crypto
from booking import queries as booking_queries
from booking.models import NewResident, Resident

CENTRE = (31.2304, 121.4737)
ALL_QUALIFICATIONS = ("A", "B", "C", "G", "H", "N", "P", "R")  # every qualification booking/menu.csv asks for  # a neighbourhood in Shanghai's Huangpu district
_seq = itertools.count(1)


async def make_circle(conn: asyncpg.Connection, *, name: str | None = None, lat: float = CENTRE[0],
                      lon: float = CENTRE[1], radius_m: int = 1500) -> int:
    return await conn.fetchval(
        "INSERT INTO circles (name, lat, lon, radius_m) VALUES ($1, $2, $3, $4) RETURNING id",
        name or f"测试服务圈{next(_seq)}", lat, lon, radius_m)


async def make_resident(conn: asyncpg.Connection, crypto: Crypto, *, circle_id: int, **overrides: Any) -> Resident:
    n = next(_seq)
    fields = dict(name=f"测试老人{n}", gender="F", birth_date=date(1940, 5, 1), phone=f"139{n:08d}",
                  address=f"测试路{n}号", lat=CENTRE[0] + 0.001, lon=CENTRE[1] + 0.001, lives_alone=False,
                  subsidy_eligible=True, eligibility=["高龄"], caregiver_gender=None,
                  care_notes="", id_card_no=None)
    fields.update(overrides)
    fields["eligibility"] = tuple(fields["eligibility"])
    return await booking_queries.insert_resident(conn, crypto, NewResident(circle_id=circle_id, **fields))


async def make_user(conn: asyncpg.Connection, role: str, *, username: str | None = None, **links: Any) -> User:
    username = username or f"{role}{next(_seq)}"
    password = f"pw-{username}"
    return await create_user(conn, username=username, password=password, role=role,
                             password_hash=_cached_hash(password), **links)


@functools.lru_cache(maxsize=None)
def _cached_hash(password: str) -> str:
    """argon2id is slow on purpose; the suite hashes each test password once."""
    return hash_password(password)


async def make_provider(conn: asyncpg.Connection, *, name: str | None = None, circle_ids: tuple[int, ...] = (),
                        item_codes: tuple[str, ...] | None = None) -> int:
    provider_id = await conn.fetchval("INSERT INTO providers (name) VALUES ($1) RETURNING id",
                                      name or f"测试服务商{next(_seq)}")
    for circle_id in circle_ids:
        await conn.execute("INSERT INTO provider_circles VALUES ($1, $2)", provider_id, circle_id)
    await conn.execute(
        """INSERT INTO provider_items (provider_id, item_code)
           SELECT $1, code FROM menu_items WHERE $2::text[] IS NULL OR code = ANY($2::text[])""",
        provider_id, list(item_codes) if item_codes is not None else None)
    return provider_id


async def make_caregiver(conn: asyncpg.Connection, *, provider_id: int, circle_id: int, **overrides: Any) -> int:
    n = next(_seq)
    fields = dict(name=f"测试护理员{n}", gender="F", phone=f"137{n:08d}", qualifications=["G", "C"],
                  home_lat=CENTRE[0] - 0.002, home_lon=CENTRE[1], transport="ebike",
                  shift_start=time(8, 0), shift_end=time(17, 0), max_work_minutes=480)
    fields.update(overrides)
    columns = ", ".join(fields)
    placeholders = ", ".join(f"${i}" for i in range(3, len(fields) + 3))
    return await conn.fetchval(
        f"INSERT INTO caregivers (provider_id, circle_id, {columns}) VALUES ($1, $2, {placeholders}) RETURNING id",
        provider_id, circle_id, *fields.values())


@dataclass
class Street:
    circle_id: int
    elder: Resident          # subsidy-eligible, has a resident login and a family member
    other_elder: Resident    # not eligible, in the same circle
    provider_id: int
    caregiver_id: int
    users: dict[str, User]   # one per role, username = role name, password "pw-<role>"


async def make_street(conn: asyncpg.Connection, crypto: Crypto) -> Street:
    circle_id = await make_circle(conn)
    elder = await make_resident(conn, crypto, circle_id=circle_id, name="王秀英", phone="13900000001",
                                care_notes="糖尿病，胰岛素每日两次")
    other = await make_resident(conn, crypto, circle_id=circle_id, name="李建国", gender="M",
                                phone="13900000002", subsidy_eligible=False, eligibility=[])
    provider_id = await make_provider(conn, circle_ids=(circle_id,))
    # the street's caregiver holds every qualification, so any item can be booked (bookings no one could
    # serve are refused: booking.serving)
    caregiver_id = await make_caregiver(conn, provider_id=provider_id, circle_id=circle_id,
                                        qualifications=list(ALL_QUALIFICATIONS))
    users = {
        "resident": await make_user(conn, "resident", username="resident", resident_id=elder.id),
        "family": await make_user(conn, "family", username="family", family_of=(elder.id,)),
        "operator": await make_user(conn, "operator", username="operator"),
        "dispatcher": await make_user(conn, "dispatcher", username="dispatcher", circle_id=circle_id),
        "provider_admin": await make_user(conn, "provider_admin", username="provider_admin", provider_id=provider_id),
        "caregiver": await make_user(conn, "caregiver", username="caregiver", caregiver_id=caregiver_id),
        "admin": await make_user(conn, "admin", username="admin"),
        "other_resident": await make_user(conn, "resident", username="other_resident", resident_id=other.id),
    }
    return Street(circle_id, elder, other, provider_id, caregiver_id, users)


async def make_serving_team(conn: asyncpg.Connection, circle_id: int) -> tuple[int, int]:
    """A provider delivering every item in the circle, with a caregiver holding every qualification and
    working 06:00–21:00 every day: whatever is booked, someone could serve it (booking.serving)."""
    provider_id = await make_provider(conn, circle_ids=(circle_id,))
    caregiver_id = await make_caregiver(conn, provider_id=provider_id, circle_id=circle_id,
                                        qualifications=list(ALL_QUALIFICATIONS), shift_start=time(6, 0),
                                        shift_end=time(21, 0))
    return provider_id, caregiver_id
