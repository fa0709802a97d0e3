"""Time is passed in, never read from a global, so that validity checks are testable."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

__all__ = ["DEFAULT_MAX_CLOCK_SKEW", "Clock", "format_datetime", "parse_datetime", "utcnow"]

#: Allowance for clocks that disagree between issuer, holder and verifier.
DEFAULT_MAX_CLOCK_SKEW = timedelta(seconds=300)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current instant, timezone-aware in UTC: the default :data:`Clock`."""
    return datetime.now(UTC)


def format_datetime(value: datetime) -> str:
    """An XML Schema dateTimeStamp in UTC with second precision, e.g. ``2026-11-29T06:00:00Z``."""
    if value.tzinfo is None:
        raise ValueError("refusing a naive datetime: pass an aware one (e.g. datetime.now(UTC))")
    utc = value.astimezone(UTC)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
        f"T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z"
    )


def parse_datetime(value: str) -> datetime:
    """Parse an XML Schema dateTimeStamp (time zone required) into an aware datetime.

    :raises ValueError: when the value is not a dateTimeStamp or has no time zone.
    """
    if not isinstance(value, str) or "T" not in value:
        raise ValueError("not an XML Schema dateTimeStamp (expected YYYY-MM-DDThh:mm:ssZ)")
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError("dateTimeStamp without a time zone (append Z or an offset)")
    return parsed
