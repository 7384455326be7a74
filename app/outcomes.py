"""The care outcomes a street pays for, measured from what the database holds after a simulated run
(app.simulate) — the same questions a street office would ask of a real month.

Days: the simulation lives days `start … start + days − 1` ("lived days": visits happen); each is
planned the evening before, and the last evening plans `start + days` too ("planned days":
`start … start + days`).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import date, timedelta

from app.simulate import Journal, SimConfig
from booking import queries as booking_queries
from core.clock import LOCAL_TZ, local_instant
from core.db import Database
from core.users import User
from providers import service as provider_service

# unassigned for a reason no plan could change (nobody qualified, no shift reaches the window, …):
# not feasible; only `capacity` (it fits, the day was full) counts against the planner
FEASIBLE_UNPLANNED = "capacity"
ON_TIME = timedelta(minutes=15)


@dataclass(frozen=True)
class Outcomes:
    days: int
    seed: int
    bookings: int
    visits: int
    planned_pct: float
    left_out_capacity: int                # bookings the last published plans left out for capacity (feasible)
    left_out_structural: int              # … for a structural reason (nobody qualified, no shift, no partner)
    on_time_pct: float
    continuity_pct: float
    continuity_reachable_pct: float       # repeat visits whose previous caregiver was on duty that day (the ceiling)
    continuity_on_duty_pct: float         # of those, the share the previous caregiver made
    unannounced_misses: int
    messages_sent: int
    messages_failed: int
    noshow_detect_p95_min: float | None
    replan_changes_per_sick_visit: float | None   # bookings disturbed (dispatch.continuity.disturbs) per sick visit
    replan_worst_excess: int | None       # max over sick days of (bookings disturbed − k); the target is ≤ 3
    replan_retimed: int                   # bookings the sick-day re-plans shifted by 15 minutes or less (messaged)
    sick_days: int
    utilisation_pct: float
    overtime_min: int
    subsidy_used_fen: int
    withheld_pct: float
    lost_bookings: int
    unexplained_unplanned: int
    wallet_mismatches: int
    refused_requests: int

    def as_dict(self) -> dict:
        return asdict(self)


def _pct(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 1) if whole else 100.0


def p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)], 1)


async def measure(db: Database, journal: Journal, config: SimConfig, *, admin: User) -> Outcomes:
    first, last_planned = config.start, config.start + timedelta(days=config.days)
    last_lived = last_planned - timedelta(days=1)
    async with db.connection() as conn:
        placement = await _planned(conn, first, last_planned)
        visits = await conn.fetch(
            """SELECT v.id, v.caregiver_id, v.crew_member, v.planned_start, v.planned_end, v.check_in_at,
                      v.check_out_at, b.resident_id, b.item_code, b.service_date, b.circle_id
               FROM visits v JOIN bookings b ON b.id = v.booking_id
               WHERE v.released_at IS NULL AND b.service_date BETWEEN $1 AND $2
               ORDER BY v.planned_start, v.id""", first, last_lived)
        shifts = {r["id"]: (r["shift_start"], r["shift_end"])
                  for r in await conn.fetch("SELECT id, shift_start, shift_end FROM caregivers")}
        continuity = _continuity(visits, await _on_duty(conn, visits))
        bookings = await conn.fetchval("SELECT count(*) FROM bookings WHERE service_date BETWEEN $1 AND $2",
                                       first, last_planned)
        known = {r["id"] for r in await conn.fetch("SELECT id FROM bookings WHERE id = ANY($1)",
                                                   list(journal.acknowledged))}
        unexplained = await _unexplained(conn, first, last_lived, placement.left_for_capacity)
        misses = await _unannounced(conn, first, last_lived, journal)
        detection = await _detection(conn, journal)
        sent, failed = await _messages(conn)
        subsidy = await conn.fetchval("SELECT coalesce(sum(amount_fen), 0) FROM wallet_entries WHERE kind = 'capture'")
        mismatches = len(await booking_queries.wallets_not_reconciling(conn))
        providers = [r["id"] for r in await conn.fetch("SELECT id FROM providers")]
    withheld = await _withheld_pct(db, admin, providers, first, last_lived)
    sick_k = sum(s.k for s in journal.sick)
    return Outcomes(
        days=config.days, seed=config.seed, bookings=bookings, visits=len(visits),
        planned_pct=placement.planned_pct, left_out_capacity=len(placement.left_for_capacity),
        left_out_structural=placement.left_structural, on_time_pct=_on_time(visits),
        continuity_pct=continuity.pct, continuity_reachable_pct=continuity.reachable_pct,
        continuity_on_duty_pct=continuity.on_duty_pct, unannounced_misses=misses, messages_sent=sent,
        messages_failed=failed, noshow_detect_p95_min=detection,
        replan_changes_per_sick_visit=round(sum(s.disturbed for s in journal.sick) / sick_k, 2) if sick_k else None,
        replan_worst_excess=max((s.disturbed - s.k for s in journal.sick), default=None),
        replan_retimed=sum(s.retimed for s in journal.sick), sick_days=len(journal.sick),
        utilisation_pct=_utilisation(visits, shifts), overtime_min=_overtime(visits, shifts),
        subsidy_used_fen=subsidy, withheld_pct=withheld, lost_bookings=len(journal.acknowledged - known),
        unexplained_unplanned=unexplained, wallet_mismatches=mismatches, refused_requests=journal.refused_requests)


@dataclass(frozen=True)
class Placement:
    """What the published plans of the planned days did with their bookings (each circle-day's last
    published version decides)."""

    placed: int
    left_for_capacity: frozenset[int]     # it fits, the day was full: counts against the planner
    left_structural: int                  # nobody qualified, no shift reaches the window, …: not feasible

    @property
    def planned_pct(self) -> float:
        """Placed over the feasible bookings: those placed and those left out for capacity."""
        return _pct(self.placed, self.placed + len(self.left_for_capacity))


def placement(plans) -> Placement:
    """The `Placement` of these plans' `routes` and `unassigned` (one plan per circle-day)."""
    placed, structural, capacity = 0, 0, set()
    for plan in plans:
        placed += len({v["booking_id"] for route in plan["routes"] for v in route["visits"]})
        for left in plan["unassigned"]:
            if left["reason"] == FEASIBLE_UNPLANNED:
                capacity.add(left["booking_id"])
            else:
                structural += 1
    return Placement(placed, frozenset(capacity), structural)


async def _planned(conn, first: date, last: date) -> Placement:
    rows = await conn.fetch(
        """SELECT DISTINCT ON (circle_id, service_date) routes, unassigned FROM plans
           WHERE service_date BETWEEN $1 AND $2 AND status IN ('published', 'superseded')
             AND published_at IS NOT NULL
           ORDER BY circle_id, service_date, version DESC""", first, last)
    return placement(rows)


def _on_time(visits) -> float:
    checked = [v for v in visits if v["check_in_at"] is not None]
    return _pct(sum(abs(v["check_in_at"] - v["planned_start"]) <= ON_TIME for v in checked), len(checked))


@dataclass(frozen=True)
class Continuity:
    pct: float            # repeat visits made by the caregiver of the elder's previous visit of the item
    reachable_pct: float  # repeat visits whose previous caregiver was on duty that day
    on_duty_pct: float    # of those, the share that caregiver made


def _continuity(visits, on_duty: dict[tuple[int, date], set[int]]) -> Continuity:
    """Repeat visits (the elder had this item before, in the run) and the caregiver of the elder's
    previous visit for it — the lead caregiver of crew-2 items. `on_duty`: (circle, day) → caregivers
    rostered that day; a repeat visit whose previous caregiver was off cannot keep them."""
    last: dict[tuple[int, str], int] = {}
    repeat = same = reachable = same_reachable = 0
    for v in visits:
        if v["crew_member"] != 1:
            continue
        key = (v["resident_id"], v["item_code"])
        if key in last:
            kept = last[key] == v["caregiver_id"]
            could = last[key] in on_duty.get((v["circle_id"], v["service_date"]), ())
            repeat, same = repeat + 1, same + kept
            reachable, same_reachable = reachable + could, same_reachable + (kept and could)
        last[key] = v["caregiver_id"]
    return Continuity(_pct(same, repeat), _pct(reachable, repeat), _pct(same_reachable, reachable))


async def _on_duty(conn, visits) -> dict[tuple[int, date], set[int]]:
    """(circle, day) → the caregivers rostered there that day (leave and days off left out)."""
    days = {(v["circle_id"], v["service_date"]) for v in visits}
    return {(circle, day): {c.id for c, _ in await provider_service.available_caregivers(conn, circle_id=circle, day=day)}
            for circle, day in sorted(days)}


async def _detection(conn, journal: Journal) -> float | None:
    """p95 of the minutes from the planned start of a visit nobody came to until the dispatcher was
    alerted (`visits.noshow_alerted_at`, written on the simulated clock); infinite if one never was.
    A visit whose booking was cancelled, or which a re-plan released, owes no alert."""
    rows = await conn.fetch(
        """SELECT v.id, v.planned_start, v.noshow_alerted_at FROM visits v JOIN bookings b ON b.id = v.booking_id
           WHERE v.id = ANY($1) AND (v.noshow_alerted_at IS NOT NULL
                                     OR (v.released_at IS NULL AND b.status <> 'cancelled'))""",
        list(journal.never_came))
    if any(r["noshow_alerted_at"] is None for r in rows):
        return math.inf
    return p95([(r["noshow_alerted_at"] - r["planned_start"]).total_seconds() / 60 for r in rows])


def _utilisation(visits, shifts) -> float:
    """On-site minutes planned, over the shift minutes of the caregivers who had a visit that day."""
    busy, days = 0.0, set()
    for v in visits:
        busy += (v["planned_end"] - v["planned_start"]).total_seconds() / 60
        days.add((v["caregiver_id"], v["service_date"]))
    available = sum(_minutes(*shifts[cid]) for cid, _ in days)
    return _pct(busy, available)


def _minutes(start, end) -> float:
    return (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)


def _overtime(visits, shifts) -> int:
    """Minutes checked out after the end of the caregiver's shift, summed over caregiver-days."""
    last: dict[tuple[int, date], object] = {}
    for v in visits:
        if v["check_out_at"] is not None:
            key = (v["caregiver_id"], v["service_date"])
            last[key] = max(last.get(key, v["check_out_at"]), v["check_out_at"])
    total = 0.0
    for (cid, day), out in last.items():
        end = local_instant(day, shifts[cid][1])
        total += max(0.0, (out.astimezone(LOCAL_TZ) - end).total_seconds() / 60)
    return round(total)


async def _unexplained(conn, first: date, last: date, capacity: set[int]) -> int:
    """Bookings of lived days that were never planned, never cancelled, and that no published plan
    explained (left out with a reason): lost in the cracks."""
    rows = await conn.fetch(
        """SELECT b.id FROM bookings b JOIN menu_items m ON m.code = b.item_code
           WHERE b.service_date BETWEEN $1 AND $2 AND m.needs_visit AND b.status = 'pending'""", first, last)
    explained = await conn.fetch(
        """SELECT DISTINCT (u ->> 'booking_id')::bigint AS id FROM plans p, jsonb_array_elements(p.unassigned) u
           WHERE p.service_date BETWEEN $1 AND $2 AND p.published_at IS NOT NULL""", first, last)
    return len({r["id"] for r in rows} - {r["id"] for r in explained} - capacity)


async def _unannounced(conn, first: date, last: date, journal: Journal) -> int:
    """Visits missed, moved or cancelled by the service (not by the elder's side) without a message to
    the elder or a family member that the gateway accepted."""
    changed = sorted(journal.moved_by_service)
    rows = await conn.fetch(
        """SELECT b.id FROM bookings b
           WHERE b.service_date BETWEEN $1 AND $2
             AND (b.status = 'missed' OR b.id = ANY($3::bigint[]))
             AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.booking_id = b.id AND n.status = 'sent'
                             AND (n.resident_id IS NOT NULL OR n.user_id IN
                                  (SELECT f.user_id FROM family_links f WHERE f.resident_id = b.resident_id)))""",
        first, last, changed)
    return len(rows)


async def _messages(conn) -> tuple[int, int]:
    """(messages the gateway accepted or the inbox took, messages that failed for good)."""
    rows = dict(await conn.fetch("SELECT status, count(*) FROM notifications GROUP BY status"))
    return rows.get("sent", 0), rows.get("failed", 0)


async def _withheld_pct(db: Database, admin: User, providers: list[int], first: date, last: date) -> float:
    lines = withheld = 0
    months = sorted({(first + timedelta(days=n)).replace(day=1) for n in range((last - first).days + 1)})
    for provider_id in providers:
        for month in months:
            _, owed = await provider_service.settlement(db, actor=admin, provider_id=provider_id, month=month)
            lines += len(owed.lines)
            withheld += sum(not line.payable for line in owed.lines)
    return _pct(withheld, lines)
