"""Time is passed in, never read from a global, so that validity checks are testable.

This module is also the project's one reader and writer of XML Schema date-times: every
``validFrom``, ``validUntil``, ``issuanceDate``, proof ``created``/``expires`` and protocol
timestamp goes through :func:`parse_datetime` and :func:`format_datetime`, so that one value is
never accepted by one module and refused (or, worse, crashed on) by another.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

from agent.jsonio import json_type

__all__ = [
    "DEFAULT_MAX_CLOCK_SKEW",
    "Clock",
    "date_time_has_zone",
    "format_datetime",
    "parse_datetime",
    "utcnow",
]

#: Allowance for clocks that disagree between issuer, holder and verifier.
DEFAULT_MAX_CLOCK_SKEW = timedelta(seconds=300)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current instant, timezone-aware in UTC: the default :data:`Clock`."""
    return datetime.now(UTC)


# XML Schema 1.1 Part 2 dateTime (https://www.w3.org/TR/xmlschema11-2/#dateTime); the time zone
# is optional here and required by callers that want a dateTimeStamp. This is the expression
# reproduced in section 4.9 of the VC Data Model 2.0.
_DATE_TIME = re.compile(
    r"(?P<year>-?(?:[1-9][0-9]{3,}|0[0-9]{3}))-(?P<month>0[1-9]|1[0-2])"
    r"-(?P<day>0[1-9]|[12][0-9]|3[01])"
    r"T(?:(?P<hour>[01][0-9]|2[0-3]):(?P<minute>[0-5][0-9]):(?P<second>[0-5][0-9])"
    r"(?:\.(?P<fraction>[0-9]+))?|(?P<midnight>24:00:00(?:\.0+)?))"
    r"(?P<zone>Z|[+\-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00))?"
)


def date_time_has_zone(value: object) -> bool:
    """Whether ``value`` is an XML Schema ``dateTime`` string ending in ``Z`` or an offset."""
    if not isinstance(value, str):
        return False
    match = _DATE_TIME.fullmatch(value)
    return match is not None and match["zone"] is not None


def parse_datetime(value: object, *, require_zone: bool = True) -> datetime:
    """Parse an XML Schema ``dateTimeStamp`` (``dateTime`` when not ``require_zone``) to an
    aware datetime.

    A value without a time zone is read as UTC, as VC Data Model 2.0 section 4.9 requires for
    values "incorrectly serialized without an offset"; only callers that pass
    ``require_zone=False`` (VC 1.1 input) accept it. ``24:00:00`` is the first instant of the next
    day. Digits beyond microseconds are dropped (truncation keeps order). Years outside
    0001-9999, which Python cannot represent, and dates that do not exist (``2023-02-30``) are
    refused rather than raising anything else.

    :raises ValueError: always ``ValueError``, with a phrase that completes "the value ..."
        and never repeats the value (date-times can be health data).
    """
    if not isinstance(value, str):
        raise ValueError(f"is a JSON {json_type(value)}, not a date-time string")
    return _parse_datetime(value, require_zone)


@functools.lru_cache(maxsize=4096)
def _parse_datetime(value: str, require_zone: bool) -> datetime:
    # Cached: a verifier reads the same instants again and again (each status list's
    # validFrom/validUntil on every check); a datetime is immutable and errors are not cached.
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        raise ValueError("is not an XML Schema dateTime (expected YYYY-MM-DDThh:mm:ss[.s]Z)")
    zone = match["zone"]
    if zone is None and require_zone:
        raise ValueError("has no time zone; a dateTimeStamp ends in Z or an offset like +01:00")
    year = int(match["year"])
    if not 1 <= year <= 9999:
        raise ValueError("has a year outside 0001-9999, which cannot be compared here")
    if zone is None or zone == "Z":
        tz = UTC
    else:
        sign = -1 if zone[0] == "-" else 1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        if match["midnight"]:
            day = datetime(year, int(match["month"]), int(match["day"]), tzinfo=tz)
            return day + timedelta(days=1)
        fraction = (match["fraction"] or "")[:6].ljust(6, "0")
        return datetime(
            year,
            int(match["month"]),
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
            int(fraction),
            tzinfo=tz,
        )
    except (ValueError, OverflowError):
        raise ValueError("is not a date that exists in the calendar") from None


def format_datetime(value: datetime, name: str = "datetime") -> str:
    """An XML Schema ``dateTimeStamp`` in UTC with second precision and a four-digit year,
    e.g. ``2026-11-29T06:00:00Z``.

    :param name: the argument's name, for the error message.
    :raises ValueError: for a naive datetime, or one outside the years 0001-9999 in UTC.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (for example datetime.now(UTC))")
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{name} is outside the years 0001-9999 once converted to UTC") from None
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
        f"T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z"
    )
