"""The problem builder on a hand-made circle-day (no database): who may serve what, windows in
seconds, crew, continuity, the dispatcher's edits and the same-day freeze; plus the pure edit
replay, change diff and notification texts."""
from __future__ import annotations

from datetime import date, datetime, time

from core.clock import local_instant
from dispatch.changes import changes
from dispatch.continuity import disturbs
from dispatch.edits import EditSet, Pin, effective_edits
from dispatch.models import ActiveVisit, Assignment, BookingToPlan, CircleDay, EditAction, PlanEdit
from dispatch.notify import BookingFacts, Elder, Person, elder_text, messages_for
from dispatch.plan_result import read_solution
from dispatch.problem_builder import build_problem, instant_of
from dispatch.solver import SolveParams, solve
from providers.models import Caregiver, Shift

DAY = date(2030, 3, 4)
T0 = datetime(2030, 1, 1)


def caregiver(cid: int, *, gender="F", quals=("G", "C"), items=("C01", "C03", "B01", "M01"), lat=31.230) -> Caregiver:
    return Caregiver(id=cid, provider_id=1, circle_id=1, name=f"护理员{cid}", gender=gender, phone="13700000000",
                     qualifications=quals, home_lat=lat, home_lon=121.4737, transport="ebike",
                     item_codes=frozenset(items))


def shift(start=time(8), end=time(17)) -> Shift:
    return Shift(day=DAY, start=local_instant(DAY, start), end=local_instant(DAY, end), break_minutes=45,
                 break_earliest=local_instant(DAY, time(11, 30)), break_latest_end=local_instant(DAY, time(13, 30)),
                 max_work_minutes=480)


def booking(bid: int, item="C01", *, qual="G", crew=1, minutes=60, start=time(9), end=time(11), wants=None,
            status="pending", resident=None) -> BookingToPlan:
    return BookingToPlan(id=bid, resident_id=resident or 100 + bid, resident_name=f"老人{bid}", resident_gender="F",
                         address="测试路", lat=31.231 + bid * 0.0005, lon=121.474, caregiver_gender=wants,
                         item_code=item, item_name_zh="服务", minutes=minutes, qualification=qual, crew=crew,
                         window_start=start, window_end=end, priority=1, status=status)


def circle_day(bookings, caregivers, **kw) -> CircleDay:
    return CircleDay(circle_id=1, day=DAY, bookings=tuple(bookings),
                     caregivers=tuple((c, shift()) for c in caregivers), **kw)


def jobs_of(built):
    return {int(j.id): j for j in built.problem.jobs}


def test_qualification_and_provider_items_decide_who_may_serve():
    """A bath needs qualification B AND a provider delivering B01: caregiver 3 holds B but her
    provider does not deliver baths, so only caregiver 2 may; a nursing visit (N) has nobody."""
    day = circle_day([booking(1, "B01", qual="B"), booking(2, "H06", qual="N"), booking(3)],
                     [caregiver(1), caregiver(2, quals=("G", "C", "B")),
                      caregiver(3, quals=("G", "B"), items=("C01",))])
    built = build_problem(day)
    assert built.allowed[1] == {2}
    assert built.allowed[3] == {1, 2, 3}
    workers = {w.id: w for w in built.problem.workers}
    assert jobs_of(built)[1].qualification in workers["2"].qualifications
    assert jobs_of(built)[1].qualification not in workers["3"].qualifications
    assert [(u.booking_id, u.reason) for u in built.left_out] == [(2, "not_qualified")]
    assert "护士" in built.left_out[0].reason_zh


def test_item_not_delivered_and_gender_are_reasons():
    """Qualified but no provider delivers the item → item_not_delivered; an elder asking for a
    man when only women work → gender_unavailable (the preference is hard)."""
    day = circle_day([booking(1, "B01", qual="B"), booking(2, wants="M"), booking(3, wants="F")],
                     [caregiver(1, quals=("G", "B"), items=("C01",)), caregiver(2, gender="M", items=("M01",))])
    built = build_problem(day)
    reasons = {u.booking_id: u.reason for u in built.left_out}
    assert reasons == {1: "item_not_delivered", 2: "gender_unavailable"}
    assert built.allowed[3] == {1}
    assert jobs_of(built)[3].gender == "F"


def test_windows_are_seconds_since_local_midnight_and_crew_comes_from_the_item():
    day = circle_day([booking(1, "C03", crew=2, minutes=180, start=time(9, 30), end=time(11)),
                      booking(2, minutes=0)], [caregiver(1), caregiver(2)])
    job, tiny = jobs_of(build_problem(day))[1], jobs_of(build_problem(day))[2]
    assert (job.window_start, job.window_end, job.duration, job.crew) == (34_200, 39_600, 10_800, 2)
    assert tiny.duration == 5 * 60  # a visit takes at least five minutes on site
    worker = build_problem(day).problem.workers[0]
    assert (worker.shift_start, worker.shift_end, worker.max_work) == (28_800, 61_200, 480 * 60)
    assert worker.breaks[0].duration == 45 * 60 and worker.profile == "ebike"


def test_continuity_prefers_the_last_caregiver_only_when_allowed():
    day = circle_day([booking(1, resident=7), booking(2, "B01", qual="B", resident=8)],
                     [caregiver(1), caregiver(2, quals=("G", "B"))], last_caregiver={7: 2, 8: 1})
    jobs = jobs_of(build_problem(day))
    assert jobs[1].preferred_worker == "2"
    assert jobs[2].preferred_worker is None  # caregiver 1 cannot bathe


def test_edits_pin_forbid_unassign_move():
    pin_at = local_instant(DAY, time(10, 15))
    edits = EditSet(pins={1: Pin(2, pin_at)}, moves={2: 2}, unassigned=frozenset({3}),
                    forbidden={4: frozenset({1})})
    day = circle_day([booking(i) for i in (1, 2, 3, 4)], [caregiver(1), caregiver(2)])
    built = build_problem(day, edits=edits)
    jobs = jobs_of(built)
    assert jobs[1].pinned_workers == {"2"} and jobs[1].pinned_start == 36_900
    assert jobs[2].preferred_worker == "2" and not jobs[2].pinned_workers
    assert [u.reason for u in built.left_out] == ["unassigned_by_dispatcher"]
    assert built.allowed[4] == {2} and built.pinned == {1}


def test_solution_reads_back_with_pins_and_reasons():
    """End to end through the solver: the pinned visit is where the dispatcher put it."""
    pin_at = local_instant(DAY, time(10, 15))
    day = circle_day([booking(1), booking(2), booking(3, "H06", qual="N")], [caregiver(1), caregiver(2)])
    built = build_problem(day, edits=EditSet(pins={1: Pin(2, pin_at)}))
    routes, unassigned, stats = read_solution(built, solve(built.problem, SolveParams(solution_limit=20)))
    visits = {v.booking_id: (r.caregiver_id, v) for r in routes for v in r.visits}
    assert visits[1][0] == 2 and visits[1][1].planned_start == pin_at and visits[1][1].pinned
    assert [u.booking_id for u in unassigned] == [3] and stats.assigned == 2 and stats.unassigned == 1


def test_freeze_keeps_started_and_imminent_visits_and_repools_the_sick():
    """Re-plan at 10:00 with a 30-minute freeze: caregiver 1's 09:00 visit (checked in) and
    10:15 visit stay as they are; she resumes after 11:15 from the last elder's home. Caregiver
    2 is sick: her 10:20 visit goes back into the pool; a booking whose window ended is out."""
    at = lambda h, m=0: local_instant(DAY, time(h, m))  # noqa: E731
    visits = (ActiveVisit(1, 1, 1, 1, at(9), at(10), 5, True, "in_progress"),
              ActiveVisit(2, 1, 1, 2, at(10, 15), at(11, 15), 5, False, "scheduled"),
              ActiveVisit(3, 2, 1, 1, at(10, 20), at(11, 20), 5, False, "scheduled"))
    day = circle_day([booking(1, status="in_progress"), booking(2, status="scheduled"),
                      booking(3, status="scheduled"), booking(4, start=time(8), end=time(9, 30))],
                     [caregiver(1), caregiver(2)], active_visits=visits)
    built = build_problem(day, freeze_at=at(10, 30), sick_caregiver_ids=frozenset({2}))
    assert {v.booking_id for v in built.frozen} == {1, 2}
    assert set(jobs_of(built)) == {3} and jobs_of(built)[3].window_start == 37_800
    (worker,) = built.problem.workers
    assert worker.id == "1" and worker.shift_start == 40_500 and worker.start_site.id == "resident:102"
    assert [u.reason for u in built.left_out] == ["window_passed"]


def test_edit_replay_rules():
    """Latest of pin/move/unassign wins; a forbid cancels a pin to the same caregiver; a later
    pin to a forbidden caregiver lifts the forbid; edits replay oldest first."""
    def edit(n, booking_id, action, caregiver_id=None):
        return PlanEdit(n, 1, booking_id, EditAction(action), caregiver_id, None, None, T0)
    result = effective_edits([edit(5, 2, "pin", 9), edit(1, 1, "pin", 7), edit(2, 1, "forbid", 7),
                              edit(3, 2, "forbid", 9), edit(4, 3, "move", 8), edit(6, 3, "unassign")])
    assert result.pins == {2: Pin(9, None)} and 1 not in result.pins
    assert result.forbidden == {1: frozenset({7})} and result.unassigned == {3} and not result.moves


def test_changes_and_the_messages_they_send():
    """Publishing tells the elder (SMS), the family (app) and the old and new caregivers."""
    nine, half_past = local_instant(DAY, time(9)), local_instant(DAY, time(9, 30))
    old = {1: Assignment(1, (5,), nine, nine), 2: Assignment(2, (5,), nine, nine)}
    new = {1: Assignment(1, (6,), half_past, half_past), 2: Assignment(2, (5,), nine, nine),
           3: Assignment(3, (5,), half_past, half_past)}
    diff = changes(old, new)
    assert [(c.booking_id, c.kind) for c in diff] == [(1, "moved"), (3, "scheduled")]
    facts = BookingFacts(1, date(2030, 11, 23), "助浴", Elder(9, "王秀英", "F", "13900000001", "测试路1号"),
                         family=(Person(40, "王小明"),))
    people = {5: Person(5, "李红", "1"), 6: Person(6, "张丽", "2")}
    messages = messages_for(diff[0], facts, people)
    assert [(m.resident_id, m.user_id, m.caregiver_id, m.channel) for m in messages] == [
        (9, None, None, "sms"), (None, 40, None, "app"), (None, None, 5, "sms"), (None, None, 6, "sms")]
    assert messages[0].text == "【一刻钟服务圈】王阿姨您好，您预约的11月23日助浴服务有调整：改由张护理员于09:30上门。"
    first = changes({}, {1: Assignment(1, (6,), half_past, half_past)})[0]
    assert elder_text(first, facts, {6: "张丽"}) == "【一刻钟服务圈】王阿姨您好，您预约的11月23日助浴服务由张护理员于09:30上门。"
    assert "已改派或取消" in messages[2].text and "新的服务安排" in messages[3].text


def test_a_re_plan_disturbs_on_other_caregivers_a_lost_visit_or_a_shift_beyond_15_minutes():
    """The calm re-plan measure: shifts of 15 minutes or less are changes (messaged) but no disturbance."""
    nine = local_instant(DAY, time(9))
    old = {b: Assignment(b, (5, 7), nine, nine) for b in range(1, 7)}
    new = {1: Assignment(1, (7, 5), nine, nine),                        # crew order only: no change
           2: Assignment(2, (5, 7), local_instant(DAY, time(9, 15)), nine),     # 15 min later
           3: Assignment(3, (5, 7), local_instant(DAY, time(8, 44)), nine),     # 16 min earlier
           4: Assignment(4, (5, 8), nine, nine),                        # one crew member replaced
           6: Assignment(6, (5, 7), local_instant(DAY, time(9, 16)), nine),     # 16 min later
           9: Assignment(9, (5,), nine, nine)}                          # first scheduled
    verdict = {c.booking_id: disturbs(c.old, c.new) for c in changes(old, new)}
    assert verdict == {2: False, 3: True, 4: True, 5: True, 6: True, 9: False}


def test_instants_round_trip_through_seconds():
    assert instant_of(DAY, 34_200) == local_instant(DAY, time(9, 30))
