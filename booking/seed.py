"""The menu's seed data: `menu.csv` (the demo street's 47 items) loaded into the database.

Loading is an upsert by code, so a street office can edit the CSV and load it again; prices are
snapshotted into bookings, so a new price changes no booking already made.
"""
from __future__ import annotations

import csv
from pathlib import Path

import asyncpg

from booking import queries
from booking.models import MenuItem

MENU_CSV = Path(__file__).with_name("menu.csv")

CATEGORIES = (
    ("meals", "助餐", "Meals"),
    ("cleaning", "助洁", "Cleaning"),
    ("bathing", "助浴与生活照料", "Bathing and personal care"),
    ("health", "助医与健康", "Health, escort and nursing"),
    ("errands", "助行与代办", "Mobility and errands"),
    ("companionship", "精神慰藉与探访关爱", "Companionship, visiting and safety"),
)

UNITS_ZH = {"meal": "份", "visit": "次", "hour": "小时", "call": "次", "month": "月", "trip": "趟"}


def read_menu(path: Path = MENU_CSV) -> list[MenuItem]:
    with path.open(encoding="utf-8") as f:
        return [_item(row, position) for position, row in enumerate(csv.DictReader(f), start=1)]


def _item(row: dict[str, str], position: int) -> MenuItem:
    return MenuItem(code=row["code"], category_code=row["category"], name_zh=row["name_zh"],
                    name_en=row["name_en"], unit_zh=UNITS_ZH.get(row["unit"], row["unit"]),
                    price_fen=int(row["price_fen"]), minutes=int(row["minutes"]),
                    qualification=row["qualification"], crew=int(row["crew"]),
                    subsidy_max_fen=int(row["subsidy_max_fen"]), needs_visit=row["needs_visit"] == "yes",
                    notes="", position=position)


async def load_menu(conn: asyncpg.Connection, path: Path = MENU_CSV) -> int:
    """Upsert the categories and the items of the CSV; returns the number of items."""
    for position, (code, name_zh, name_en) in enumerate(CATEGORIES, start=1):
        await queries.upsert_category(conn, code=code, name_zh=name_zh, name_en=name_en, position=position)
    items = read_menu(path)
    for item in items:
        await queries.upsert_item(conn, item)
    return len(items)
