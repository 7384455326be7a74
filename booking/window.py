"""When a visit may be booked: the service date and the time window. Pure rules."""
from __future__ import annotations

from datetime import date, time, timedelta

from core.errors import invalid_field

BOOKING_HORIZON_DAYS = 30
SERVICE_DAY_START = time(6, 0)
SERVICE_DAY_END = time(21, 0)  # latest start of a visit


def check_service_date(service_date: date, *, today: date, field: str = "date") -> None:
    """A visit is booked from tomorrow up to 30 days ahead (same-day needs a dispatcher)."""
    if service_date <= today:
        raise invalid_field(field, service_date.isoformat(), "must be after today",
                            "服务日期须从明天开始")
    if service_date > today + timedelta(days=BOOKING_HORIZON_DAYS):
        raise invalid_field(field, service_date.isoformat(),
                            f"must be at most {BOOKING_HORIZON_DAYS} days ahead",
                            f"只能预约{BOOKING_HORIZON_DAYS}天以内的服务")


def check_window(window_start: time, window_end: time) -> None:
    """The window bounds the visit's start and lies within the service day, 06:00–21:00."""
    for field, value in (("window_start", window_start), ("window_end", window_end)):
        if not SERVICE_DAY_START <= value <= SERVICE_DAY_END:
            raise invalid_field(field, value.strftime("%H:%M"), "must be between 06:00 and 21:00",
                                "服务时间须在06:00到21:00之间")
    if window_end < window_start:
        raise invalid_field("window_end", window_end.strftime("%H:%M"),
                            f"must not be before window_start {window_start:%H:%M}",
                            "结束时间不能早于开始时间")
