"""The worker's periodic chores: overdue visits get flagged, series get their coming days,
and a round locked by another process is skipped."""
from datetime import time, timedelta

from booking import service as booking_service
from booking.models import SeriesRequest
from dispatch import chores


async def test_series_chore_creates_the_coming_days_once(db, crypto, street, redis, today):
    """A series made two days ago has bookings through today+5; the hourly chore adds today+6
    and today+7, and a second round in the same hour is skipped by the lock."""
    data = SeriesRequest(street.elder.id, "M01", (1, 2, 3, 4, 5, 6, 7), time(11), time(12),
                         today + timedelta(days=1), today + timedelta(days=30))
    _, created = await booking_service.create_series(db, actor=street.users["family"], request=data,
                                                     today=today - timedelta(days=2))
    assert created == 5
    made = await chores.run_once(redis, "series-test", 60, lambda: chores.materialize(db, crypto))
    assert made == 2
    skipped = await chores.run_once(redis, "series-test", 60, lambda: chores.materialize(db, crypto))
    assert skipped is None


async def test_a_failing_chore_is_logged_not_raised(redis, caplog):
    async def broken():
        raise RuntimeError("boom")
    assert await chores.run_once(redis, "broken", 60, broken) is None
    assert "chore broken failed" in caplog.text
