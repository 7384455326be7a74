"""One circle-day of the home-care domain mapped onto the solver's generic Problem. Pure.

Mapping (units: the solver's integer time is SECONDS since local midnight, Asia/Shanghai):
- caregiver (available that day, not reported sick) → Worker: home → start and end site,
  shift → [shift_start, shift_end], lunch break window and minutes → Break, max working
  minutes → max_work, transport (`walk` / `ebike`) → travel profile of the default haversine
  travel model.
- booking (pending or scheduled, item needs a visit) → Job: the elder's home → site, item
  minutes → duration (at least MIN_VISIT_MINUTES), window_start..window_end (bounds of the
  START, local clock) → window, item crew → crew, booking priority → priority, elder's
  caregiver_gender → gender (hard), preferred_worker (soft), the first of: the dispatcher's
  move, the caregiver the booking is published with (a calm re-plan), the regular caregiver its
  repeating booking names, the elder's regular caregiver for the item (dispatch.continuity), the
  caregiver of the elder's most recent visit of any item.
- a published, unstarted booking (an active visit of the day) → kept_start: its published start,
  which the solver keeps within RETIME_MINUTES at a cost per minute beyond (calm re-plans).
- who may serve a booking is decided here, where the domain is known: the caregiver holds the
  item's qualification, the caregiver's provider delivers the item, the gender matches and the
  dispatcher has not forbidden them. The solver knows one qualification code per job, so each
  distinct set of allowed caregivers becomes one code (`B01`, or `B01/2` for a second set of the
  same item) held by exactly those caregivers.
- a booking nobody may serve never reaches the solver: it is reported with a domain reason.
- the dispatcher's edits (dispatch/edits.py): pin → pinned worker (and start), move → preferred
  worker and a place in the warm start, unassign → left out, forbid → not allowed.
- a same-day re-plan (`freeze_at`): visits started (checked in) or starting before `freeze_at`
  stay exactly as they are and are NOT given to the solver; their caregiver's day resumes after
  the last of them, from that elder's home, with the time already worked taken off max_work.
  Nothing new starts before `freeze_at`. Sick caregivers are left out; their unstarted visits
  go back into the pool.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from core.clock import LOCAL_TZ, local_instant
from dispatch.edits import EditSet
from dispatch.models import ActiveVisit, BookingToPlan, CircleDay, PlanRoute, UnassignedBooking
from dispatch.reasons import GENDER_ZH, qualification_zh, reason_zh
from dispatch.solver import Break, HaversineTravel, Job, Problem, Site, SolveParams, Worker, solve

MIN_VISIT_MINUTES = 5          # a visit on site takes at least this long
PLANNABLE = ("pending", "scheduled")
STARTED = ("in_progress", "completed", "not_home", "refused")


@dataclass(frozen=True)
class BuiltProblem:
    """The solver's problem plus what is needed to read its solution back.

    `left_out`: bookings that never reach the solver, with reasons. `frozen`: visits kept as
    they are (re-plan). `pinned`: booking ids the dispatcher pinned. `initial_routes`: the warm
    start (worker id → job ids), or None.
    """

    problem: Problem
    day: date
    bookings: dict[int, BookingToPlan]
    caregiver_names: dict[int, str]
    left_out: tuple[UnassignedBooking, ...] = ()
    frozen: tuple[ActiveVisit, ...] = ()
    pinned: frozenset[int] = frozenset()
    initial_routes: dict[str, list[str]] | None = None
    allowed: dict[int, frozenset[int]] = field(default_factory=dict)
    regular: dict[int, int] = field(default_factory=dict)  # booking id → regular caregiver (repeat visits)
    held: dict[str, frozenset[str]] = field(default_factory=dict)  # job id → its published workers still allowed


def seconds_of(day: date, instant: datetime) -> int:
    """Whole seconds from local midnight of `day` to `instant` (may be negative or > 86400)."""
    return int((instant - local_instant(day, datetime.min.time())).total_seconds())


def instant_of(day: date, seconds: int) -> datetime:
    """The aware local instant `seconds` after midnight of `day`."""
    return (local_instant(day, datetime.min.time()) + timedelta(seconds=seconds)).astimezone(LOCAL_TZ)


def clock_seconds(clock) -> int:
    """Seconds since midnight of a local `time`."""
    return clock.hour * 3600 + clock.minute * 60 + clock.second


def job_id(booking_id: int) -> str:
    return str(booking_id)


def worker_id(caregiver_id: int) -> str:
    return str(caregiver_id)

# ------------------------------------------------------------------ entry point


def build_problem(day: CircleDay, *, edits: EditSet = EditSet(), freeze_at: datetime | None = None,
                  sick_caregiver_ids: frozenset[int] = frozenset(),
                  previous: tuple[PlanRoute, ...] = ()) -> BuiltProblem:
    """Map a circle-day onto a Problem (see the module docstring for every rule).

    `previous` are the routes of the version this one starts from (warm start); `freeze_at`
    is the re-plan's freeze instant (None for a day that has not begun).
    """
    freeze_s = seconds_of(day.day, freeze_at) if freeze_at else None
    frozen = frozen_visits(day.active_visits, freeze_at=freeze_at, sick=sick_caregiver_ids)
    frozen_ids = {v.booking_id for v in frozen}
    caregivers = [(c, s) for c, s in day.caregivers if c.id not in sick_caregiver_ids]
    workers = {c.id: _worker(c, s, day, frozen, freeze_s) for c, s in caregivers}
    workers = {cid: w for cid, w in workers.items() if w is not None}
    by_id = {c.id: c for c, _ in caregivers}
    pool = [b for b in day.bookings if b.status in PLANNABLE and b.id not in frozen_ids]
    jobs, left_out, allowed = [], [], {}
    for booking in pool:
        outcome = _job_or_reason(booking, day, edits, by_id, workers, freeze_s)
        if isinstance(outcome, UnassignedBooking):
            left_out.append(outcome)
        else:
            jobs.append(outcome[0])
            allowed[booking.id] = outcome[1]
    jobs, workers = _encode_allowed(jobs, allowed, workers, {b.id: b for b in pool})
    problem = Problem(workers=tuple(workers.values()), jobs=tuple(jobs), travel=WholeMinuteTravel())
    return BuiltProblem(
        problem=problem, day=day.day, bookings={b.id: b for b in day.bookings},
        caregiver_names={c.id: c.name for c, _ in day.caregivers}, left_out=tuple(left_out),
        frozen=tuple(frozen), pinned=frozenset(b for b in edits.pins if b in allowed),
        initial_routes=_warm_start(problem, previous, jobs, allowed, edits, day.day, workers) if previous else None,
        allowed=allowed, regular=regular_of(day), held=_held(day, allowed))

# ------------------------------------------------------------------ the freeze


def frozen_visits(active: tuple[ActiveVisit, ...], *, freeze_at: datetime | None,
                  sick: frozenset[int]) -> list[ActiveVisit]:
    """Visits a re-plan keeps as they are: every visit of a booking that has started, and,
    with a freeze, of a booking starting before `freeze_at` unless one of its caregivers is
    sick. Without a freeze only started bookings are kept."""
    by_booking: dict[int, list[ActiveVisit]] = {}
    for visit in active:
        by_booking.setdefault(visit.booking_id, []).append(visit)
    kept = []
    for visits in by_booking.values():
        started = any(v.checked_in or v.booking_status in STARTED for v in visits)
        soon = freeze_at is not None and min(v.planned_start for v in visits) < freeze_at
        if started or (soon and not any(v.caregiver_id in sick for v in visits)):
            kept += visits
    return sorted(kept, key=lambda v: (v.caregiver_id, v.planned_start))

# ------------------------------------------------------------------ caregivers → workers


def _worker(caregiver, shift, day: CircleDay, frozen: list[ActiveVisit], freeze_s: int | None) -> Worker | None:
    """The caregiver as a Worker for what is left of the day; None if nothing is left."""
    home = Site(f"home:{caregiver.id}", caregiver.home_lat, caregiver.home_lon)
    start_s, end_s = seconds_of(day.day, shift.start), seconds_of(day.day, shift.end)
    max_work = shift.max_work_minutes * 60
    start_site = home
    mine = [v for v in frozen if v.caregiver_id == caregiver.id]
    if mine:
        last = max(mine, key=lambda v: v.planned_end)
        start_site = _visit_site(last, day)
        start_s = max(start_s, seconds_of(day.day, last.planned_end))
        max_work -= sum(int((v.planned_end - v.planned_start).total_seconds()) + v.travel_minutes * 60
                        for v in mine)
    if freeze_s is not None:
        start_s = max(start_s, freeze_s)
    if start_s >= end_s:
        return None
    return Worker(id=worker_id(caregiver.id), start_site=start_site, end_site=home, shift_start=start_s,
                  shift_end=end_s, profile=caregiver.transport, gender=caregiver.gender,
                  breaks=_breaks(shift, day.day, start_s), max_work=max(max_work, 0))


def _visit_site(visit: ActiveVisit, day: CircleDay) -> Site:
    booking = next(b for b in day.bookings if b.id == visit.booking_id)
    return Site(f"resident:{booking.resident_id}", booking.lat, booking.lon)


def _breaks(shift, day: date, start_s: int) -> tuple[Break, ...]:
    """The lunch break still to be taken after `start_s` (none if it no longer fits)."""
    if not shift.break_minutes or shift.break_earliest is None or shift.break_latest_end is None:
        return ()
    earliest = max(seconds_of(day, shift.break_earliest), start_s)
    latest_end = seconds_of(day, shift.break_latest_end)
    duration = shift.break_minutes * 60
    if latest_end - earliest < duration:
        return ()
    return (Break(window_start=earliest, window_end=latest_end, duration=duration),)

# ------------------------------------------------------------------ bookings → jobs


def _job_or_reason(booking: BookingToPlan, day: CircleDay, edits: EditSet, caregivers: dict,
                   workers: dict[int, Worker], freeze_s: int | None):
    """(Job, allowed caregiver ids) for a plannable booking, or why it stays out."""
    if booking.id in edits.unassigned:
        return _left_out(booking, "unassigned_by_dispatcher")
    window = _window(booking, freeze_s)
    if window is None:
        return _left_out(booking, "window_passed")
    allowed = frozenset(cid for cid in workers
                        if eligible(booking, caregivers[cid]) and not edits.forbids(booking.id, cid))
    if not allowed:
        return why_nobody(booking, [caregivers[cid] for cid in workers], edits)
    pin = edits.pins.get(booking.id)
    if pin is not None and pin.caregiver_id is not None and pin.caregiver_id not in allowed:
        code = ("pinned_caregiver_not_eligible" if pin.caregiver_id in workers
                else "pinned_caregiver_unavailable")
        return _left_out(booking, code)
    job = Job(id=job_id(booking.id), site=Site(f"resident:{booking.resident_id}", booking.lat, booking.lon),
              duration=max(booking.minutes, MIN_VISIT_MINUTES) * 60, window_start=window[0],
              window_end=window[1], crew=booking.crew, gender=booking.caregiver_gender,
              priority=booking.priority,
              preferred_worker=_preferred(booking, day, edits, allowed),
              kept_start=_kept_start(booking, day, freeze_s),
              pinned_workers=frozenset({worker_id(pin.caregiver_id)}) if pin and pin.caregiver_id else frozenset(),
              pinned_start=_pinned_start(pin, day.day))
    return job, allowed


def _window(booking: BookingToPlan, freeze_s: int | None) -> tuple[int, int] | None:
    start, end = clock_seconds(booking.window_start), clock_seconds(booking.window_end)
    if freeze_s is not None:
        if end < freeze_s:
            return None
        start = max(start, freeze_s)
    return start, end


def _pinned_start(pin, day: date) -> int | None:
    if pin is None or pin.planned_start is None:
        return None
    return seconds_of(day, pin.planned_start)


def _preferred(booking: BookingToPlan, day: CircleDay, edits: EditSet, allowed: frozenset[int]) -> str | None:
    """The dispatcher's move target, else the published caregiver, else the regular caregiver
    (the series', the item's, the elder's), the first one allowed."""
    published = _published(booking.id, day)
    for candidate in (edits.moves.get(booking.id), published[0].caregiver_id if published else None,
                      booking.series_caregiver_id, day.regular.get((booking.resident_id, booking.item_code)),
                      day.last_caregiver.get(booking.resident_id)):
        if candidate is not None and candidate in allowed:
            return worker_id(candidate)
    return None


def _published(booking_id: int, day: CircleDay) -> list[ActiveVisit]:
    """The booking's active visits of the day (lead first): what its people were told."""
    return sorted((v for v in day.active_visits if v.booking_id == booking_id), key=lambda v: v.crew_member)


def _kept_start(booking: BookingToPlan, day: CircleDay, freeze_s: int | None) -> int | None:
    """The published start of a published booking (not before the freeze), else None."""
    published = _published(booking.id, day)
    if not published:
        return None
    start = seconds_of(day.day, published[0].planned_start)
    return start if freeze_s is None else max(start, freeze_s)


def _held(day: CircleDay, allowed: dict[int, frozenset[int]]) -> dict[str, frozenset[str]]:
    """Job id → the workers a published booking has now and may keep (on duty, allowed)."""
    found: dict[str, set[str]] = {}
    for visit in day.active_visits:
        if visit.caregiver_id in allowed.get(visit.booking_id, ()):
            found.setdefault(job_id(visit.booking_id), set()).add(worker_id(visit.caregiver_id))
    return {job: frozenset(workers) for job, workers in found.items()}


def regular_of(day: CircleDay) -> dict[int, int]:
    """Booking id → its regular caregiver, for the bookings that are repeat visits: the one its
    series names, else the elder's regular caregiver for the item."""
    found = {}
    for booking in day.bookings:
        regular = booking.series_caregiver_id or day.regular.get((booking.resident_id, booking.item_code))
        if regular is not None:
            found[booking.id] = regular
    return found


def eligible(booking: BookingToPlan, caregiver) -> bool:
    """May this caregiver ever serve this booking: qualification, provider's items, gender."""
    return (booking.qualification in caregiver.qualifications
            and booking.item_code in caregiver.item_codes
            and (booking.caregiver_gender is None or booking.caregiver_gender == caregiver.gender))


def why_nobody(booking: BookingToPlan, caregivers: list, edits: EditSet) -> UnassignedBooking:
    """The first check every caregiver of the day fails, as a reason."""
    if not caregivers:
        return _left_out(booking, "no_caregivers")
    qualified = [c for c in caregivers if booking.qualification in c.qualifications]
    if not qualified:
        return _left_out(booking, "not_qualified", qualification=qualification_zh(booking.qualification))
    delivering = [c for c in qualified if booking.item_code in c.item_codes]
    if not delivering:
        return _left_out(booking, "item_not_delivered")
    if not any(booking.caregiver_gender in (None, c.gender) for c in delivering):
        return _left_out(booking, "gender_unavailable", gender=GENDER_ZH.get(booking.caregiver_gender, ""))
    return _left_out(booking, "all_forbidden")


def _left_out(booking: BookingToPlan, code: str, **facts: str) -> UnassignedBooking:
    return UnassignedBooking.of(booking, booking.id, code, reason_zh(code, **facts))

# ------------------------------------------------------------------ allowed sets → qualification codes


def _encode_allowed(jobs: list[Job], allowed: dict[int, frozenset[int]], workers: dict[int, Worker],
                    bookings: dict[int, BookingToPlan]) -> tuple[list[Job], dict[int, Worker]]:
    """Give each item's distinct allowed set one qualification code (`B01`, `B01/2`, ...), held
    by exactly the caregivers of that set."""
    codes: dict[tuple[str, frozenset[int]], str] = {}
    per_item: dict[str, int] = {}
    held: dict[int, set[str]] = {cid: set() for cid in workers}
    encoded = []
    for job in jobs:
        booking_id = int(job.id)
        key = (bookings[booking_id].item_code, allowed[booking_id])
        if key not in codes:
            item = key[0]
            per_item[item] = per_item.get(item, 0) + 1
            codes[key] = item if per_item[item] == 1 else f"{item}/{per_item[item]}"
            for cid in key[1]:
                held[cid].add(codes[key])
        encoded.append(replace(job, qualification=codes[key]))
    return encoded, {cid: replace(w, qualifications=frozenset(held[cid])) for cid, w in workers.items()}

# ------------------------------------------------------------------ warm start


def _warm_start(problem: Problem, previous: tuple[PlanRoute, ...], jobs: list[Job],
                allowed: dict[int, frozenset[int]], edits: EditSet, day: date,
                workers: dict[int, Worker]) -> dict[str, list[str]]:
    """The warm start, with new partners for two-person bookings that lost one when a quick
    greedy completion of it serves at least as many bookings as the plain one (else the plain
    one: keeping a two-person visit is not worth leaving two others out)."""
    plain = warm_start(previous, jobs, allowed, edits, day=day)
    partnered = warm_start(previous, jobs, allowed, edits, day=day, workers=workers)
    if partnered == plain:
        return plain
    return partnered if _greedy_served(problem, partnered) >= _greedy_served(problem, plain) else plain


def _greedy_served(problem: Problem, routes: dict[str, list[str]]) -> int:
    return solve(problem, SolveParams(strategy="greedy"), initial_routes=routes).stats.assigned


def warm_start(previous: tuple[PlanRoute, ...], jobs: list[Job], allowed: dict[int, frozenset[int]],
               edits: EditSet, *, day: date, workers: dict[int, Worker] | None = None) -> dict[str, list[str]]:
    """Worker id → job ids in visiting order, from the previous version's routes.

    Visits of jobs no longer in the problem, or on a caregiver no longer allowed, are dropped;
    pinned or moved bookings are put on their chosen caregiver's route, in window order. With
    `workers` (those of the problem), a two-person booking left with one caregiver gets a partner
    (_partner_lone_crews).
    """
    starts = {int(j.id): j.window_start for j in jobs}
    routes: dict[int, list[tuple[int, int]]] = {}
    for route in previous:
        for visit in route.visits:
            if visit.booking_id in allowed and route.caregiver_id in allowed[visit.booking_id]:
                routes.setdefault(route.caregiver_id, []).append(
                    (seconds_of(day, visit.planned_start), visit.booking_id))
    if workers is not None:
        _partner_lone_crews(routes, previous, jobs, allowed, day, workers)
    for booking_id, caregiver_id in _chosen(edits).items():
        if booking_id not in starts or caregiver_id not in allowed.get(booking_id, ()):
            continue
        for stops in routes.values():
            stops[:] = [s for s in stops if s[1] != booking_id]
        routes.setdefault(caregiver_id, []).append((starts[booking_id], booking_id))
    return {worker_id(cid): [job_id(b) for _, b in sorted(stops)] for cid, stops in routes.items() if stops}


CREW_ROOM_S = 20 * 60  # room cleared on each side of a two-person visit for its new partner


def _partner_lone_crews(routes: dict[int, list[tuple[int, int]]], previous: tuple[PlanRoute, ...],
                        jobs: list[Job], allowed: dict[int, frozenset[int]], day: date,
                        workers: dict[int, Worker]) -> None:
    """Give a two-person booking left with one of its caregivers (the other off sick, or no
    longer allowed) a partner in the warm start, in place: the allowed caregiver with the fewest
    visits in the way (none of them two-person) whose shift holds the visit; those visits leave that route and go back into
    the pool, where the search places them again. Without this the booking fell back to pending
    even when a way to keep it existed: the search inserts two-person visits only as a pair, and
    by then the other routes were full."""
    crews = {int(j.id) for j in jobs if j.crew == 2}
    spans = {v.booking_id: (seconds_of(day, v.planned_start), seconds_of(day, v.planned_end))
             for route in previous for v in route.visits}
    for booking_id in sorted(crews & set(spans)):
        holders = [cid for cid, stops in routes.items() if any(b == booking_id for _, b in stops)]
        if len(holders) != 1:
            continue
        start, end = spans[booking_id]
        best = None
        for cid in sorted(allowed[booking_id] - {holders[0]}):
            worker = workers.get(cid)
            if worker is None or not worker.shift_start <= start - CREW_ROOM_S < end + CREW_ROOM_S <= worker.shift_end:
                continue
            stops = routes.get(cid, [])
            in_way = [s for s in stops if spans[s[1]][0] < end + CREW_ROOM_S and spans[s[1]][1] > start - CREW_ROOM_S]
            if any(b in crews for _, b in in_way):
                continue
            if best is None or (len(in_way), len(stops)) < best[0]:
                best = ((len(in_way), len(stops)), cid, in_way)
        if best is not None:
            _, cid, in_way = best
            routes[cid] = [s for s in routes.get(cid, []) if s not in in_way] + [(start, booking_id)]


def _chosen(edits: EditSet) -> dict[int, int]:
    chosen = dict(edits.moves)
    chosen.update({b: p.caregiver_id for b, p in edits.pins.items() if p.caregiver_id is not None})
    return chosen


def minutes_up(seconds: int | float) -> int:
    """Whole minutes, rounded up (travel is never shown shorter than planned)."""
    return int(math.ceil(seconds / 60 - 1e-9))


@dataclass(frozen=True)
class WholeMinuteTravel:
    """The default haversine travel, rounded UP to whole minutes. Shifts, windows, breaks and
    service times are whole minutes too, so every planned time falls on a minute: a day sheet
    says 09:25, not 09:24:37, and travel is never shorter than planned."""

    inner: HaversineTravel = field(default_factory=HaversineTravel)

    def matrix(self, sites, profile: str):
        seconds = self.inner.matrix(sites, profile)
        return -(-seconds // 60) * 60
