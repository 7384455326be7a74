"""Input field types shared by every domain's schemas: strict where a lenient parse would read
nonsense as data (`true` as the id 1, `0` as 1970-01-01, other scripts' digits as ids, a NUL byte
in text), and bounded where an unbounded value would overflow date arithmetic downstream."""
from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

MAX_ID = 2 ** 63 - 1                         # PostgreSQL's bigint
FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2099, 12, 31)   # the days a street can plan or report on
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_MONTH = re.compile(r"\d{4}-\d{2}")


def _whole_number(value: Any) -> Any:
    """An id is a whole number, or a string of ASCII digits: never a boolean, a fraction or other digits."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise PydanticCustomError("whole_number", "must be a whole number")
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise PydanticCustomError("whole_number", "must be a whole number written with the digits 0-9")
    return value


def _iso_day(value: Any) -> Any:
    """A day is written YYYY-MM-DD (a number is no day)."""
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not _ISO_DAY.fullmatch(value):
        raise PydanticCustomError("iso_day", "must be a date written YYYY-MM-DD")
    return value


def _street_day(value: dt.date) -> dt.date:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise PydanticCustomError("street_day", "must lie between {first} and {last}",
                                  {"first": str(FIRST_DAY), "last": str(LAST_DAY)})
    return value


def _street_month(value: str) -> str:
    if not isinstance(value, str) or not _ISO_MONTH.fullmatch(value):
        raise PydanticCustomError("street_month", "month must look like YYYY-MM")
    year, month = int(value[:4]), int(value[5:])
    if not (1 <= month <= 12 and FIRST_DAY.year <= year <= LAST_DAY.year):
        raise PydanticCustomError("street_month", "must be a month from {first} to {last}",
                                  {"first": f"{FIRST_DAY:%Y-%m}", "last": f"{LAST_DAY:%Y-%m}"})
    return value


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


Id = Annotated[int, BeforeValidator(_whole_number), Field(ge=1, le=MAX_ID)]
IsoDate = Annotated[dt.date, BeforeValidator(_iso_day)]
Day = Annotated[dt.date, BeforeValidator(_iso_day), AfterValidator(_street_day)]
Month = Annotated[str, AfterValidator(_street_month),
                  WithJsonSchema({"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$", "examples": ["2026-03"]})]
# a place we register (a circle, a home): inside China's extent, so 0, 0 and swapped coordinates are refused
Lat = Annotated[float, Field(ge=18, le=54, description="WGS84 latitude (China)")]
Lon = Annotated[float, Field(ge=73, le=136, description="WGS84 longitude (China)")]
# where a phone says it is (never refused for being odd: a check-in is flagged, not blocked)
AnyLat = Annotated[float, Field(ge=-90, le=90)]
AnyLon = Annotated[float, Field(ge=-180, le=180)]
