"""The watchdog: a solve still running at 3 × its time limit + 30 s is abandoned, its process
replaced, and the plan fails with `solver_timeout` (the bound is shortened here to keep it fast)."""
from __future__ import annotations

import asyncio
import os

from dispatch import service
from dispatch.jobs.pool import SolverPool, Watchdog, solve_job
from dispatch.jobs.run import RunOutcome, run_plan
from dispatch.models import PlanStatus
from tests.dispatch import stuck_solver
from tests.dispatch.conftest import FAST


def test_the_default_bound_is_three_time_limits_and_thirty_seconds():
    assert Watchdog().bound_s(10) == 60 and Watchdog().bound_s(600) == 1830


async def test_a_solve_that_never_returns_fails_its_plan_and_its_process_is_replaced(db, small_day):
    """A solver process that spins forever (ignoring its 1 s limit and the stop request) is
    killed once the bound (here 1 × 1 s + 1 s) is passed; the plan ends failed with
    `solver_timeout`; a fresh process takes the slot and the next plan is solved there."""
    pool = SolverPool(1, solve_fn=stuck_solver.solve_spinning, watchdog=Watchdog(factor=1, grace_s=1))
    actor = small_day.users["dispatcher"]
    try:
        await pool.warm_up()
        stuck_pid = pool._slots[0].pid
        plan = await service.request_plan(db, _Held(), actor=actor, circle_id=small_day.circle_id, day=small_day.day,
                                          time_limit_s=1)
        assert await run_plan(db, plan.id, pool=pool, heartbeat_s=0.2) is RunOutcome.FINISHED
        failed = (await service.get_plan(db, actor=actor, plan_id=plan.id)).plan
        assert failed.status is PlanStatus.FAILED and failed.failure_reason.startswith("solver_timeout")
        assert pool.replaced == 1 and await _gone_within(stuck_pid, seconds=5)

        pool.solve_fn = solve_job
        again = await service.request_plan(db, _Held(), actor=actor, circle_id=small_day.circle_id,
                                           day=small_day.day, solution_limit=FAST)
        assert await run_plan(db, again.id, pool=pool, heartbeat_s=0.2) is RunOutcome.FINISHED
        solved = (await service.get_plan(db, actor=actor, plan_id=again.id)).plan
        assert solved.status is PlanStatus.DRAFT and pool._slots[0].pid not in (None, stuck_pid)
    finally:
        pool.close()


async def _gone_within(pid: int, *, seconds: float) -> bool:
    """SIGKILL is delivered at once, but a loaded machine may take a moment to end the process."""
    for _ in range(int(seconds * 10)):
        if not _alive(pid):
            return True
        await asyncio.sleep(0.1)
    return not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


class _Held:
    async def submit(self, plan_id: int) -> str:
        return "held"
