"""`circle simulate`: a fresh embedded PostgreSQL, the demo street sized as asked, N simulated days,
the outcomes printed (and written as an HTML report)."""
from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from app.outcomes import Outcomes, measure
from app.simulate import SimConfig, simulate, worker_chores
from booking.seed import load_menu
from core.crypto import Crypto
from core.db import Database, apply_schema, connect, create_pool
from core.embedded import EmbeddedServices, start_postgres
from core.users import user_by_id
from dispatch.jobs.pool import SolverPool


def run_simulation(args: argparse.Namespace) -> int:
    config = SimConfig(days=args.days, seed=args.seed, elders_per_circle=max(2, args.elders // 2),
                       caregivers=args.caregivers, plan_seconds=args.plan_seconds)
    started = time.monotonic()
    outcomes, series = asyncio.run(_run(config))
    seconds = time.monotonic() - started
    if args.report:
        from app.report import write_report
        write_report(args.report, outcomes, series, config)
    if args.json:
        print(json.dumps({**outcomes.as_dict(), "wall_seconds": round(seconds, 1)}, ensure_ascii=False))
    else:
        _print(outcomes, seconds)
    return 0 if outcomes.lost_bookings == 0 and outcomes.wallet_mismatches == 0 else 1


async def _run(config: SimConfig) -> tuple[Outcomes, dict]:
    folder = Path(tempfile.mkdtemp(prefix="circle-sim-"))
    services = EmbeddedServices()
    pool = SolverPool(1)
    try:
        url = start_postgres(folder, services)
        conn = await connect(url)
        await apply_schema(conn)
        await load_menu(conn)
        await conn.close()
        database = await create_pool(url, size=4)
        db, crypto = Database(database), Crypto("simulation-secret")
        await pool.warm_up()
        async with worker_chores() as chores:
            journal = await simulate(db, crypto, config, chores=chores, pool=pool)
        async with db.connection() as conn:
            admin = await user_by_id(conn, await conn.fetchval("SELECT id FROM users WHERE username = 'admin'"))
            series = await daily_series(conn, config)
        outcomes = await measure(db, journal, config, admin=admin)
        await database.close()
        return outcomes, series
    finally:
        pool.close()
        services.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def daily_series(conn, config: SimConfig) -> dict:
    """Per lived day, for the report's charts: visits done, missed, not home; check-ins on time."""
    rows = await conn.fetch(
        """SELECT b.service_date AS day,
                  count(*) FILTER (WHERE b.status = 'completed') AS done,
                  count(*) FILTER (WHERE b.status = 'missed') AS missed,
                  count(*) FILTER (WHERE b.status IN ('not_home', 'refused')) AS not_home,
                  count(*) FILTER (WHERE b.status = 'cancelled') AS cancelled,
                  count(v.check_in_at) FILTER (WHERE abs(extract(epoch FROM v.check_in_at - v.planned_start)) <= 900)
                      AS on_time,
                  count(v.check_in_at) AS checked_in
           FROM bookings b LEFT JOIN visits v ON v.booking_id = b.id AND v.released_at IS NULL AND v.crew_member = 1
           WHERE b.service_date >= $1 AND b.service_date < $2
           GROUP BY b.service_date ORDER BY b.service_date""",
        config.start, config.start + timedelta(days=config.days))
    return {"days": [dict(r) for r in rows]}


def _print(o: Outcomes, seconds: float) -> None:
    lines = [
        f"simulated {o.days} days (seed {o.seed}) in {seconds:.0f} s: {o.bookings} bookings, {o.visits} visits",
        f"planned {o.planned_pct}% of the feasible bookings (target >= 99%); left out {o.left_out_capacity} for "
        f"capacity (feasible) and {o.left_out_structural} for a structural reason (not feasible)",
        f"on time {o.on_time_pct}% of check-ins within 15 min of the plan (target >= 95%)",
        f"continuity {o.continuity_pct}% of repeat visits by the regular caregiver (target >= 80%); the regular was "
        f"on duty for {o.continuity_reachable_pct}% of them (the ceiling), and made {o.continuity_on_duty_pct}% of those",
        f"unannounced misses {o.unannounced_misses} (target 0); messages sent {o.messages_sent}, failed {o.messages_failed}",
        f"no-show noticed p95 {o.noshow_detect_p95_min} min after the planned start (target <= 17)",
        f"re-plans: {o.sick_days} sick days, {o.replan_changes_per_sick_visit} bookings disturbed per sick visit "
        f"(another caregiver, left out or moved > 15 min), worst k + {o.replan_worst_excess} (target <= k + 3); "
        f"{o.replan_retimed} more shifted by 15 min or less",
        f"utilisation {o.utilisation_pct}%, overtime {o.overtime_min} min; subsidy used {o.subsidy_used_fen / 100:.2f} yuan; "
        f"withheld {o.withheld_pct}% of settlement lines",
        f"lost bookings {o.lost_bookings}, unexplained unplanned {o.unexplained_unplanned}, wallet mismatches "
        f"{o.wallet_mismatches} (all must be 0); {o.refused_requests} requests refused by the rules",
    ]
    print("\n".join(lines), file=sys.stdout)
