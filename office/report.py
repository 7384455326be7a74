"""The street office's month. Pure: the month's bookings (`ReportRow`) and the settlements in,
figures out.

- subsidy used and self-pay: completed visits (the subsidy hold was captured);
- visits done (`completed`), missed (`missed`: nobody came), not at home, refused, cancelled;
- withheld: the settlement's withheld amount and reasons (providers.settlement), per provider;
- on time: of the completed visits that were checked in, the share checked in no later than
  `LATE_START_MINUTES` after the planned start (the same rule that flags `late_start`);
- satisfaction: the mean of the latest rating of each rated visit;
- continuity: of the completed visits to elders who had been visited before, the share by a
  caregiver who had visited that elder before.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Iterable

from office.models import Figures, ReportRow

LATE_START_MINUTES = 30  # providers.checkin.LATE_START_MINUTES: late beyond this


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def figures(rows: Iterable[ReportRow], *, withheld_fen: int = 0,
            withheld_by_reason: dict[str, int] | None = None) -> Figures:
    rows = list(rows)
    done = [r for r in rows if r.status == "completed"]
    count = lambda status: sum(1 for r in rows if r.status == status)  # noqa: E731
    checked = [r for r in done if r.check_in_at and r.planned_start]
    on_time = [r for r in checked if r.check_in_at - r.planned_start <= timedelta(minutes=LATE_START_MINUTES)]
    rated = [r.rating for r in rows if r.rating is not None]
    returning = [r for r in done if r.seen_before]
    return Figures(
        subsidy_used_fen=sum(r.subsidy_fen for r in done), self_pay_fen=sum(r.self_pay_fen for r in done),
        visits_done=len(done), visits_missed=count("missed"), not_home=count("not_home"), refused=count("refused"),
        cancelled=count("cancelled"), withheld_fen=withheld_fen, withheld_by_reason=dict(withheld_by_reason or {}),
        on_time_pct=_pct(len(on_time), len(checked)),
        satisfaction_avg=round(sum(rated) / len(rated), 2) if rated else None, ratings=len(rated),
        continuity_pct=_pct(sum(1 for r in returning if r.same_caregiver_before), len(returning)))


def group(rows: Iterable[ReportRow], key) -> dict:
    found: dict = defaultdict(list)
    for row in rows:
        found[key(row)].append(row)
    return found


def add_reasons(*parts: dict[str, int]) -> dict[str, int]:
    total: dict[str, int] = defaultdict(int)
    for part in parts:
        for reason, n in part.items():
            total[reason] += n
    return dict(total)
