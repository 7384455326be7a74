"""A solver Solution read back into the domain: routes of visits, unassigned bookings with
Chinese reasons, statistics. Pure; the inverse of problem_builder.

Frozen visits (a same-day re-plan keeps them as they were) are merged into their caregiver's
route; a caregiver may have a route of frozen visits only (e.g. reported sick after starting).
"""
from __future__ import annotations

from datetime import timedelta

from dispatch.continuity import continuity
from dispatch.models import (ActiveVisit, PlanBreak, PlanRoute, PlanStats, PlanVisit, UnassignedBooking,
                             assignments_of)
from dispatch.problem_builder import BuiltProblem, instant_of, minutes_up
from dispatch.reasons import reason_zh
from dispatch.solver import Route, Solution, Stop


def read_solution(built: BuiltProblem, solution: Solution) -> tuple[list[PlanRoute], list[UnassignedBooking], PlanStats]:
    """(routes, unassigned, stats) of `solution` for the problem `built` describes."""
    solved = {int(r.worker_id): r for r in solution.routes if r.stops}
    frozen = _frozen_by_caregiver(built)
    routes = [_route(built, cid, solved.get(cid), frozen.get(cid, [])) for cid in sorted(set(solved) | set(frozen))]
    unassigned = list(built.left_out) + [_unassigned(built, u) for u in solution.unassigned]
    stats = _stats(built, solution, routes, unassigned)
    return routes, unassigned, stats


def _frozen_by_caregiver(built: BuiltProblem) -> dict[int, list[PlanVisit]]:
    found: dict[int, list[PlanVisit]] = {}
    for visit in built.frozen:
        found.setdefault(visit.caregiver_id, []).append(_frozen_visit(built, visit))
    return found


def _frozen_visit(built: BuiltProblem, visit: ActiveVisit) -> PlanVisit:
    return _visit(built, visit.booking_id, crew_member=visit.crew_member, start=visit.planned_start,
                  end=visit.planned_end, travel_minutes=visit.travel_minutes, frozen=True)


def _visit(built: BuiltProblem, booking_id: int, *, crew_member: int, start, end, travel_minutes: int,
           frozen: bool = False) -> PlanVisit:
    booking = built.bookings.get(booking_id)
    return PlanVisit(
        booking_id=booking_id, crew_member=crew_member, planned_start=start, planned_end=end,
        travel_minutes=travel_minutes, pinned=booking_id in built.pinned, frozen=frozen,
        resident_id=booking.resident_id if booking else None,
        resident_name=booking.resident_name if booking else "",
        item_code=booking.item_code if booking else "", item_name_zh=booking.item_name_zh if booking else "",
        lat=booking.lat if booking else None, lon=booking.lon if booking else None)


def _solved_visit(built: BuiltProblem, stop: Stop) -> PlanVisit:
    return _visit(built, int(stop.job_id), crew_member=stop.member + 1,
                  start=instant_of(built.day, stop.start), end=instant_of(built.day, stop.end),
                  travel_minutes=minutes_up(stop.travel_before))


def _route(built: BuiltProblem, caregiver_id: int, solved: Route | None, frozen: list[PlanVisit]) -> PlanRoute:
    """One caregiver's day: frozen visits, then the solver's, with times and idle minutes."""
    visits = sorted(frozen + [_solved_visit(built, s) for s in (solved.stops if solved else ())],
                    key=lambda v: v.planned_start)
    breaks = tuple(PlanBreak(instant_of(built.day, b.start), instant_of(built.day, b.end))
                   for b in (solved.breaks if solved else ()))
    travel = sum(v.travel_minutes for v in frozen) + (minutes_up(solved.travel) if solved else 0)
    service = sum(int((v.planned_end - v.planned_start).total_seconds() // 60) for v in visits)
    depart, back = _span(built, solved, visits)
    span = int((back - depart).total_seconds() // 60)
    rest = sum(int((b.end - b.start).total_seconds() // 60) for b in breaks)
    return PlanRoute(caregiver_id=caregiver_id, caregiver_name=built.caregiver_names.get(caregiver_id, ""),
                     depart=depart, back=back, visits=tuple(visits), breaks=breaks, travel_minutes=travel,
                     work_minutes=travel + service, idle_minutes=max(span - travel - service - rest, 0))


def _span(built: BuiltProblem, solved: Route | None, visits: list[PlanVisit]):
    """When the caregiver leaves home and is back (frozen visits stretch it backwards)."""
    first = visits[0]
    depart = first.planned_start - timedelta(minutes=first.travel_minutes)
    back = visits[-1].planned_end
    if solved is not None:
        depart = min(depart, instant_of(built.day, solved.depart))
        back = max(back, instant_of(built.day, solved.back))
    return depart, back


def _unassigned(built: BuiltProblem, unassigned) -> UnassignedBooking:
    booking_id = int(unassigned.job_id)
    return UnassignedBooking.of(built.bookings.get(booking_id), booking_id, unassigned.reason,
                                reason_zh(unassigned.reason), unassigned.detail)


def _stats(built: BuiltProblem, solution: Solution, routes: list[PlanRoute],
           unassigned: list[UnassignedBooking]) -> PlanStats:
    frozen_bookings = {v.booking_id for v in built.frozen}
    kept = continuity({b: a.caregiver_ids for b, a in assignments_of(routes).items()}, built.regular)
    return PlanStats(
        objective=solution.stats.objective, travel_minutes=sum(r.travel_minutes for r in routes),
        assigned=solution.stats.assigned + len(frozen_bookings), unassigned=len(unassigned),
        solve_seconds=round(solution.stats.solve_s, 3), solver_status=solution.stats.status,
        strategy=solution.stats.strategy, caregivers_available=len(built.problem.workers),
        caregivers_used=len(routes), frozen=len(frozen_bookings), continuity_pct=kept.pct,
        repeat_visits=kept.repeat_visits, with_regular=kept.with_regular)
