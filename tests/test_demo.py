"""The demo street: a believable neighbourhood that loads fast, balances to the fen and can be
planned (every booked item has a qualified caregiver of a provider serving its circle)."""
from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from core.users import check_credentials
from app.demo import DEMO_ROLES, load_demo
from app.demo_data import CIRCLES, CaregiverSeed, DayBoard, build_street, offset
from booking import queries as booking_queries
from booking.geo import haversine_m
from booking.identity import valid_id_card
from booking.seed import read_menu

TODAY = date(2026, 3, 30)  # a Monday; the demo days cross into April (two wallet months)


def test_the_street_is_the_same_for_the_same_seed_and_day():
    """Seeded: one seed and day give one street; another seed another."""
    menu = read_menu()
    assert build_street(menu, today=TODAY, seed=7) == build_street(menu, today=TODAY, seed=7)
    assert build_street(menu, today=TODAY, seed=7).residents != build_street(menu, today=TODAY, seed=8).residents


def test_elders_are_plausible_people():
    """Ages 62–98, unique 139 numbers, valid ID numbers matching birth date and gender, mostly
    women, about a third eligible (each with a tag), about a fifth living alone."""
    street = build_street(read_menu(), today=TODAY)
    people = street.residents
    assert all(62 <= r.age(TODAY) <= 98 for r in people)
    assert len({r.phone for r in people}) == len(people)
    assert all(r.phone.startswith("139") and len(r.phone) == 11 for r in people)
    for r in (r for r in people if r.id_card_no):
        assert valid_id_card(r.id_card_no)
        assert r.id_card_no[6:14] == r.birth_date.strftime("%Y%m%d")
        assert int(r.id_card_no[16]) % 2 == (1 if r.gender == "M" else 0)
    assert sum(r.gender == "F" for r in people) > 0.55 * len(people)
    assert 0.25 < sum(r.subsidy_eligible for r in people) / len(people) < 0.45
    assert all(r.eligibility for r in people if r.subsidy_eligible)
    assert 0.15 < sum(r.lives_alone for r in people) / len(people) < 0.25
    assert all("独居" in r.eligibility for r in people if r.lives_alone and r.subsidy_eligible)


@pytest.mark.parametrize("offset", range(7))
def test_bookings_fill_both_demo_days_whatever_the_weekday(offset):
    """Caregivers' days off move with the weekday; each demo day still gets 100–150 bookings."""
    today = TODAY + timedelta(days=offset)
    street = build_street(read_menu(), today=today)
    for day in (today + timedelta(days=1), today + timedelta(days=2)):
        singles = sum(b.day == day for b in street.bookings)
        series = sum(day.isoweekday() in s.weekdays for s in street.series)
        assert 100 <= singles + series <= 150, (day, singles, series)


def test_the_board_leaves_travel_time_and_the_lunch_break_free():
    """The greedy check behind the demo bookings: a caregiver on foot needs 19 minutes for 1 km
    (× 1.3 detour at 70 m/min, as the planner's travel model) and never works through a break."""
    centre = CIRCLES[0].lat, CIRCLES[0].lon
    walker = CaregiverSeed(provider=0, circle=0, name="测试", gender="F", phone="13700000000",
                           qualifications=("G",), home_lat=centre[0], home_lon=centre[1], transport="walk",
                           work_days=tuple(range(1, 8)), shift_start=time(8), shift_end=time(17))
    cleaning = next(i for i in read_menu() if i.code == "C01")  # 60 minutes on site
    board = DayBoard({0: walker})
    assert board.place([0], cleaning, (time(9), time(9)), centre)
    far = offset(*centre, 1000, 0)
    assert not board.place([0], cleaning, (time(10), time(10, 10)), far)
    assert board.place([0], cleaning, (time(10), time(10, 30)), far)
    assert [(s.start, s.end) for s in board.stops[0] if s.where == far] == [(10 * 60 + 19, 11 * 60 + 19)]
    assert not board.place([0], cleaning, (time(12, 0), time(12, 30)), far)  # would run into 12:45–13:30


async def test_load_demo(conn, crypto):
    """Loaded on a rolled-back connection: 2 circles, ~150 elders within reach, one working login
    per role, bookings on both demo days, wallets reconciling, every visit deliverable.
    (Its speed, 2.5–4 s on an idle 2-core machine, is a figure for docs, not a test.)"""
    summary = await load_demo(conn, crypto, today=TODAY)

    assert summary.circles == 2 and summary.providers == 3 and summary.caregivers == 20
    assert 140 <= summary.residents <= 160
    outside = await conn.fetch(
        """SELECT r.name, r.lat, r.lon, c.lat AS clat, c.lon AS clon, c.radius_m
           FROM residents r JOIN circles c ON c.id = r.circle_id""")
    assert len(outside) == summary.residents
    assert all(haversine_m(r["lat"], r["lon"], r["clat"], r["clon"]) <= r["radius_m"] for r in outside)
    circles = await conn.fetch("SELECT lat, lon FROM circles ORDER BY id")
    assert 1500 <= haversine_m(circles[0]["lat"], circles[0]["lon"], circles[1]["lat"], circles[1]["lon"]) <= 2000

    for role in DEMO_ROLES:
        user = await check_credentials(conn, role, f"demo-{role}")
        assert user.role == role
    await _check_accounts(conn)

    by_day = dict(summary.bookings_by_day)
    for day in (TODAY + timedelta(days=1), TODAY + timedelta(days=2)):
        assert 100 <= by_day.get(day, 0) <= 150, summary.bookings_by_day
    assert await conn.fetchval("SELECT count(*) FROM bookings WHERE channel = 'hotline'") > 0
    assert await conn.fetchval("SELECT count(*) FROM bookings WHERE channel = 'app'") > 0
    assert await conn.fetchval("SELECT count(*) FROM bookings WHERE subsidy_fen > 0") > 0
    assert await conn.fetchval("SELECT count(*) FROM booking_series") == summary.series > 0
    assert await booking_queries.wallets_not_reconciling(conn) == []
    assert await _undeliverable(conn) == []


async def _check_accounts(conn):
    """The demo logins are linked as the consoles expect."""
    resident = await conn.fetchrow(
        """SELECT r.id, r.subsidy_eligible, r.circle_id = (SELECT min(id) FROM circles) AS first_circle,
                  (SELECT count(*) FROM bookings b WHERE b.resident_id = r.id) AS bookings
           FROM users u JOIN residents r ON r.id = u.resident_id WHERE u.username = 'resident'""")
    assert resident["subsidy_eligible"] and resident["first_circle"] and resident["bookings"] > 0
    links = await conn.fetch(
        """SELECT f.resident_id FROM family_links f JOIN users u ON u.id = f.user_id WHERE u.username = 'family'""")
    assert len(links) == 2 and resident["id"] in {r["resident_id"] for r in links}
    caregiver = await conn.fetchrow(
        """SELECT c.qualifications, c.provider_id = (SELECT min(id) FROM providers) AS first_provider,
                  c.circle_id = (SELECT min(id) FROM circles) AS first_circle
           FROM users u JOIN caregivers c ON c.id = u.caregiver_id WHERE u.username = 'caregiver'""")
    assert "B" in caregiver["qualifications"] and caregiver["first_provider"] and caregiver["first_circle"]
    assert await conn.fetchval(
        "SELECT circle_id = (SELECT min(id) FROM circles) FROM users WHERE username = 'dispatcher'")
    assert await conn.fetchval(
        "SELECT provider_id = (SELECT min(id) FROM providers) FROM users WHERE username = 'provider_admin'")


async def _undeliverable(conn):
    """Bookings with fewer qualified caregivers than the item's crew, counting only caregivers
    of the booking's circle whose provider serves that circle and delivers the item, and who
    work on that weekday (and match the elder's gender preference)."""
    return await conn.fetch(
        """SELECT b.id, b.item_code, b.service_date FROM bookings b
           JOIN menu_items m ON m.code = b.item_code
           JOIN residents r ON r.id = b.resident_id
           WHERE m.crew > (
             SELECT count(*) FROM caregivers c
             JOIN provider_circles pc ON pc.provider_id = c.provider_id AND pc.circle_id = b.circle_id
             JOIN provider_items pi ON pi.provider_id = c.provider_id AND pi.item_code = b.item_code
             WHERE c.circle_id = b.circle_id AND c.active AND m.qualification = ANY(c.qualifications)
               AND extract(isodow FROM b.service_date)::smallint = ANY(c.work_days)
               AND (r.caregiver_gender IS NULL OR c.gender = r.caregiver_gender))""")
