"""Circles, providers, caregivers and availability on real PostgreSQL, with scoping."""
from datetime import time, timedelta

import pytest

from core.clock import local_instant
from core.errors import ApiError, Invalid, NotFound
from providers import service
from providers.models import DayChange, NewCaregiver
from tests.factories import make_caregiver, make_provider, make_user
from tests.providers.helpers import book_and_publish


def new_caregiver(**overrides) -> NewCaregiver:
    fields = dict(name="赵丽", gender="F", phone="13711112222", circle_id=1, qualifications=("G", "C", "B"),
                  home_lat=31.229, home_lon=121.473, transport="walk", shift_start=time(8), shift_end=time(16))
    fields.update(overrides)
    return NewCaregiver(**fields)


async def other_provider_admin(conn, street):
    provider_id = await make_provider(conn, circle_ids=(street.circle_id,))
    return provider_id, await make_user(conn, "provider_admin", provider_id=provider_id)


async def test_circles_and_providers(db, street):
    circle = await service.create_circle(db, name="南京东路服务圈", address="", lat=31.235, lon=121.48,
                                         radius_m=1200, hotline_phone="")
    assert circle.radius_m == 1200 and circle in await service.list_circles(db)
    provider = await service.create_provider(
        db, name="安康居家养老", phone="", circle_ids=[circle.id, street.circle_id], item_codes=["C01", "M01", "C01"])
    assert provider.circle_ids == tuple(sorted([circle.id, street.circle_id]))
    assert provider.item_codes == ("C01", "M01")
    assert provider.id in [p.id for p in await service.list_providers(db)]


async def test_provider_with_unknown_circle_or_item_names_the_field(db, street):
    with pytest.raises(Invalid) as circle:
        await service.create_provider(db, name="甲", phone="", circle_ids=[999_999], item_codes=["C01"])
    assert circle.value.details[0]["field"] == "circle_ids"
    with pytest.raises(Invalid) as item:
        await service.create_provider(db, name="乙", phone="", circle_ids=[street.circle_id],
                                      item_codes=["C01", "ZZ9"])
    assert item.value.details[0]["field"] == "item_codes" and item.value.details[0]["value"] == ["ZZ9"]


async def test_provider_admin_adds_a_caregiver_to_their_own_provider(db, street):
    actor = street.users["provider_admin"]
    created = await service.create_caregiver(db, actor=actor, caregiver=new_caregiver(circle_id=street.circle_id),
                                             username="zhaoli", password="secret-pw-1")
    assert created.provider_id == street.provider_id and created.qualifications == ("G", "C", "B")
    assert "B01" in created.item_codes
    with pytest.raises(NotFound):
        await service.create_caregiver(db, actor=actor, caregiver=new_caregiver(circle_id=street.circle_id,
                                                                           provider_id=street.provider_id + 999))


async def test_caregiver_checks_circle_and_pattern(db, conn, street):
    admin = street.users["admin"]
    with pytest.raises(Invalid) as no_provider:
        await service.create_caregiver(db, actor=admin, caregiver=new_caregiver(circle_id=street.circle_id))
    assert no_provider.value.details[0]["field"] == "provider_id"
    elsewhere = await make_provider(conn)
    with pytest.raises(Invalid) as circle:
        await service.create_caregiver(db, actor=admin, caregiver=new_caregiver(circle_id=street.circle_id,
                                                                           provider_id=elsewhere))
    assert circle.value.details[0]["field"] == "circle_id"
    with pytest.raises(Invalid) as order:
        await service.create_caregiver(db, actor=admin, caregiver=new_caregiver(
            circle_id=street.circle_id, provider_id=street.provider_id, shift_start=time(16), shift_end=time(8)))
    assert order.value.details[0]["field"] == "shift_end"
    with pytest.raises(Invalid) as login:
        await service.create_caregiver(db, actor=admin, caregiver=new_caregiver(
            circle_id=street.circle_id, provider_id=street.provider_id), username="only-name")
    assert login.value.details[0]["field"] == "password"


async def test_lists_and_reads_are_scoped(db, conn, street):
    """A provider admin never sees another provider's caregivers: not listed, and 404 by id."""
    other_provider, other_admin = await other_provider_admin(conn, street)
    theirs = await make_caregiver(conn, provider_id=other_provider, circle_id=street.circle_id)
    mine = await service.list_caregivers(db, actor=street.users["provider_admin"], provider_id=other_provider,
                                         circle_id=None)
    assert [c.id for c in mine] == [street.caregiver_id]
    everyone = await service.list_caregivers(db, actor=street.users["dispatcher"], provider_id=None, circle_id=None)
    assert {street.caregiver_id, theirs} <= {c.id for c in everyone}
    with pytest.raises(NotFound):
        await service.get_caregiver(db, actor=other_admin, caregiver_id=street.caregiver_id)
    with pytest.raises(NotFound):
        await service.get_caregiver(db, actor=street.users["caregiver"], caregiver_id=theirs)
    assert (await service.get_caregiver(db, actor=street.users["caregiver"], caregiver_id=street.caregiver_id)).id


async def test_update_merges_and_checks(db, conn, street):
    actor = street.users["provider_admin"]
    updated = await service.update_caregiver(db, actor=actor, caregiver_id=street.caregiver_id,
                                             shift_end=time(18), transport="walk")
    assert updated.shift_end == time(18) and updated.transport == "walk" and updated.shift_start == time(8)
    with pytest.raises(Invalid) as bad:
        await service.update_caregiver(db, actor=actor, caregiver_id=street.caregiver_id,
                                       shift_start=time(19))
    assert bad.value.details[0]["field"] == "shift_end"
    _, other_admin = await other_provider_admin(conn, street)
    with pytest.raises(NotFound):
        await service.update_caregiver(db, actor=other_admin, caregiver_id=street.caregiver_id,
                                       active=False)
    retired = await service.update_caregiver(db, actor=actor, caregiver_id=street.caregiver_id,
                                             active=False)
    assert not retired.active


async def test_availability_replaces_dates_and_names_visits_to_replan(db, conn, crypto, street, today, tomorrow):
    """Leave tomorrow takes the caregiver out of planning and names the published booking on it."""
    booked = await book_and_publish(db, conn, crypto, street, tomorrow, at=time(9))
    actor = street.users["provider_admin"]
    day2 = tomorrow + timedelta(days=1)
    rules, replan = await service.set_availability(db, actor=actor, caregiver_id=street.caregiver_id, days=[
        DayChange(day=tomorrow, kind="leave", note="病假"),
        DayChange(day=day2, kind="override", shift_start=time(12), shift_end=time(18))], today=today)
    assert [(r.day, r.kind.value) for r in rules] == [(tomorrow, "leave"), (day2, "override")]
    assert replan == [booked]
    assert await service.available_caregivers(conn, circle_id=street.circle_id, day=tomorrow) == []
    (_, shift), = await service.available_caregivers(conn, circle_id=street.circle_id, day=day2)
    assert shift.start == local_instant(day2, time(12))
    rules, _ = await service.set_availability(db, actor=actor, caregiver_id=street.caregiver_id,
                                              days=[DayChange(day=tomorrow, kind="normal")], today=today)
    assert [r.day for r in rules] == [day2]
    days = await service.working_days(db, actor=actor, caregiver_id=street.caregiver_id, start=tomorrow, days=2)
    assert [(d, kind) for d, kind, _ in days] == [(tomorrow, "normal"), (day2, "override")]


BAD_DAYS = [
    (dict(date=-1, kind="leave"), "days.0.date"),
    (dict(date=1, kind="override", shift_start=time(12)), "days.0.shift_end"),
    (dict(date=1, kind="override", shift_start=time(12), shift_end=time(11)), "days.0.shift_end"),
    (dict(date=1, kind="leave", shift_start=time(12)), "days.0.shift_start"),
]


async def test_availability_bad_days_name_the_field(db, street, today):
    for day, field in BAD_DAYS:
        day = dict(day, date=today + timedelta(days=day["date"]))
        with pytest.raises(Invalid) as caught:
            await service.set_availability(db, actor=street.users["admin"], caregiver_id=street.caregiver_id,
                                           days=[DayChange(day=day.pop("date"), **day)], today=today)
        assert caught.value.details[0]["field"] == field, day


async def test_availability_of_another_provider_is_404(db, conn, street, today):
    _, other_admin = await other_provider_admin(conn, street)
    with pytest.raises(NotFound):
        await service.set_availability(db, actor=other_admin, caregiver_id=street.caregiver_id,
                                       days=[DayChange(day=today, kind="leave")], today=today)


async def test_duplicate_dates_are_refused(db, street, today):
    days = [DayChange(day=today, kind="leave"), DayChange(day=today, kind="normal")]
    with pytest.raises(ApiError) as caught:
        await service.set_availability(db, actor=street.users["admin"], caregiver_id=street.caregiver_id,
                                       days=days, today=today)
    assert caught.value.details[0]["field"] == "days.1.date"
