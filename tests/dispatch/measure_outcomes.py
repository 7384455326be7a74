"""Measure continuity and calm re-plans on the demo street (docs/outcomes.md). Not a test.

    .venv/bin/python -m tests.dispatch.measure_outcomes --days 5 --seconds 5 [--json]

A fresh embedded PostgreSQL gets the menu and the demo street (`app.demo.load_demo`, today =
the local day). Then, day after day (day 1, 2, … `--days`), every circle's day is planned with
the real solver (in this process) and published, as a dispatcher planning ahead would. After
each publish the continuity of the day is counted from the database alone (the same rule for
any version of the code): a repeat visit is a visit of an elder who had that item on an
earlier day (done or published); it keeps the caregiver when its crew holds the lead caregiver
of the most recent such visit. Then, for days 1 and 2 of every circle, the caregiver with the
most visits is reported sick (`replan`), and the draft is compared with the published plan:
bookings changed (another caregiver, start moved more than 15 minutes, or left out), and,
once published, the messages queued. The database is then restored by publishing nothing
else: each sick re-plan is measured against the day as planned ahead.

It only uses use cases that existed before the continuity work, so the same file measures the
code before it (run from a checkout of the older commit with PYTHONPATH pointing there).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from app.demo import load_demo
from booking.seed import load_menu
from core.clock import local_today
from core.crypto import Crypto
from core.db import Database, apply_schema, connect, create_pool
from core.embedded import EmbeddedServices, start_postgres
from core.users import user_by_id
from dispatch import service
from dispatch.jobs.pool import SolverPool
from dispatch.jobs import run
from dispatch.jobs.run import run_plan

for _name in ("CONTINUITY_COST_S", "KEPT_START_COST"):  # e.g. CONTINUITY_COST_S=300 to compare weights
    if _name in os.environ:
        setattr(run, _name, int(os.environ[_name]))


class QueueOnly:
    async def submit(self, plan_id: int) -> str:
        return "queued"


REPEATS = """
WITH day_visits AS (
    SELECT b.id, b.resident_id, b.item_code, array_agg(v.caregiver_id) AS crew
    FROM bookings b JOIN visits v ON v.booking_id = b.id AND v.released_at IS NULL
    WHERE b.circle_id = $1 AND b.service_date = $2 GROUP BY b.id)
SELECT d.id, d.crew, (SELECT v.caregiver_id FROM bookings p JOIN visits v ON v.booking_id = p.id
                      AND v.released_at IS NULL AND v.crew_member = 1
                      WHERE p.resident_id = d.resident_id AND p.item_code = d.item_code
                        AND p.service_date < $2 AND p.status NOT IN ('cancelled', 'missed')
                      ORDER BY p.service_date DESC LIMIT 1) AS regular
FROM day_visits d"""


async def plan_and_publish(db: Database, actor, circle_id: int, day: date, seconds: int) -> dict:
    plan = await service.request_plan(db, QueueOnly(), actor=actor, circle_id=circle_id, day=day,
                                      time_limit_s=seconds, seed=0)
    await run_plan(db, plan.id, pool=SolverPool())
    view = await service.get_plan(db, actor=actor, plan_id=plan.id)
    published = await service.publish_plan(db, actor=actor, plan_id=plan.id)
    stats = view.plan.stats
    async with db.connection() as conn:
        rows = await conn.fetch(REPEATS, circle_id, day)
    repeat = [r for r in rows if r["regular"] is not None]
    kept = sum(r["regular"] in r["crew"] for r in repeat)
    return {"circle_id": circle_id, "day": day.isoformat(), "assigned": stats.assigned,
            "unassigned": stats.unassigned, "travel_minutes": stats.travel_minutes,
            "repeat_visits": len(repeat), "with_regular": kept, "messages": published.notifications}


async def sick_replan(db: Database, actor, circle_id: int, day: date, seconds: int) -> dict:
    """Report the busiest caregiver sick, compare the draft with the published day, publish."""
    async with db.connection() as conn:
        busiest = await conn.fetchrow(
            """SELECT v.caregiver_id, count(*) AS k FROM visits v JOIN bookings b ON b.id = v.booking_id
               WHERE b.circle_id = $1 AND b.service_date = $2 AND v.released_at IS NULL
               GROUP BY v.caregiver_id ORDER BY count(*) DESC, v.caregiver_id LIMIT 1""", circle_id, day)
        crew2_before = await conn.fetchval(
            """SELECT count(DISTINCT b.id) FROM bookings b JOIN visits v ON v.booking_id = b.id
               AND v.released_at IS NULL AND v.crew_member = 2
               WHERE b.circle_id = $1 AND b.service_date = $2""", circle_id, day)
    published = await _published(db, actor, circle_id, day)
    plan = await service.replan(db, QueueOnly(), actor=actor, circle_id=circle_id, day=day,
                                sick_caregiver_ids=[busiest["caregiver_id"]], time_limit_s=seconds, seed=0)
    await run_plan(db, plan.id, pool=SolverPool())
    draft = (await service.get_plan(db, actor=actor, plan_id=plan.id)).plan
    old, new = published.assignments(), draft.assignments()
    counts = {"moved": 0, "retimed": 0, "unassigned": 0, "adjusted": 0, "others_changed": 0}
    sick_id = busiest["caregiver_id"]
    for booking_id, before in old.items():
        after = new.get(booking_id)
        counts["others_changed"] += sick_id not in before.caregiver_ids and not _same_enough(before, after)
        if after is None:
            counts["unassigned"] += 1
        elif set(after.caregiver_ids) != set(before.caregiver_ids):
            counts["moved"] += 1
        elif abs((after.planned_start - before.planned_start).total_seconds()) > 15 * 60:
            counts["retimed"] += 1
        elif after.planned_start != before.planned_start:
            counts["adjusted"] += 1
    result = await service.publish_plan(db, actor=actor, plan_id=plan.id)
    async with db.connection() as conn:
        crew2_after = await conn.fetchval(
            """SELECT count(DISTINCT b.id) FROM bookings b JOIN visits v ON v.booking_id = b.id
               AND v.released_at IS NULL AND v.crew_member = 2
               WHERE b.circle_id = $1 AND b.service_date = $2""", circle_id, day)
    k = int(busiest["k"])
    changed = counts["moved"] + counts["retimed"] + counts["unassigned"]
    return {"circle_id": circle_id, "day": day.isoformat(), "k": k, "changed": changed, **counts,
            "within_k_plus_3": changed <= k + 3, "messages": result.notifications,
            "assigned": draft.stats.assigned, "unassigned_total": draft.stats.unassigned,
            "travel_minutes": draft.stats.travel_minutes,
            "two_person_published": crew2_before, "two_person_after": crew2_after}


def _same_enough(before, after) -> bool:
    return after is not None and set(after.caregiver_ids) == set(before.caregiver_ids) and \
        abs((after.planned_start - before.planned_start).total_seconds()) <= 15 * 60


async def _published(db: Database, actor, circle_id: int, day: date):
    plans = await service.list_plans(db, actor=actor, circle_id=circle_id, day=day)
    return next(p for p in plans if p.status.value == "published")


async def measure(days: int, seconds: int) -> dict:
    services = EmbeddedServices(None, None)
    with tempfile.TemporaryDirectory(prefix="cont-measure-") as tmp:
        url = start_postgres(Path(tmp), services)
        try:
            return await _measure(url, days, seconds)
        finally:
            services.stop()


async def _measure(url: str, days: int, seconds: int) -> dict:
    conn = await connect(url)
    await apply_schema(conn)
    await load_menu(conn)
    today = local_today()
    await load_demo(conn, Crypto("measure-outcomes-secret-key"), today=today)
    admin = await user_by_id(conn, await conn.fetchval("SELECT id FROM users WHERE username = 'admin'"))
    circles = [r["id"] for r in await conn.fetch("SELECT id FROM circles ORDER BY id")]
    await conn.close()
    pool = await create_pool(url, size=5)
    db = Database(pool)
    started = time.monotonic()
    planned = []
    for n in range(1, days + 1):
        for circle_id in circles:
            planned.append(await plan_and_publish(db, admin, circle_id, today + timedelta(days=n), seconds))
    sick = [await sick_replan(db, admin, c, today + timedelta(days=n), seconds) for n in (1, 2) for c in circles]
    await pool.close()
    return {"planned": planned, "sick": sick, "summary": _summary(planned, sick),
            "seconds": round(time.monotonic() - started)}


def _summary(planned: list[dict], sick: list[dict]) -> dict:
    repeat = sum(p["repeat_visits"] for p in planned)
    kept = sum(p["with_regular"] for p in planned)
    k = sum(s["k"] for s in sick)
    return {"continuity_pct": round(100 * kept / repeat, 1) if repeat else None, "repeat_visits": repeat,
            "assigned": sum(p["assigned"] for p in planned), "unassigned": sum(p["unassigned"] for p in planned),
            "travel_minutes": sum(p["travel_minutes"] for p in planned),
            "sick_visits": k, "changed": sum(s["changed"] for s in sick),
            "changes_per_sick_visit": round(sum(s["changed"] for s in sick) / k, 2) if k else None,
            "replans_within_k_plus_3": sum(s["within_k_plus_3"] for s in sick), "replans": len(sick),
            "replan_messages": sum(s["messages"] for s in sick),
            "two_person_lost": sum(s["two_person_published"] - s["two_person_after"] for s in sick)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    found = asyncio.run(measure(args.days, args.seconds))
    if args.json:
        print(json.dumps(found, indent=1))
        return
    for p in found["planned"]:
        print("plan", p)
    for s in found["sick"]:
        print("sick", s)
    print("summary", found["summary"], "in", found["seconds"], "s")


if __name__ == "__main__":
    main()
