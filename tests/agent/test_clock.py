"""agent.clock: the one XML Schema date-time parser and formatter of the project."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from agent.clock import date_time_has_zone, format_datetime, parse_datetime


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-29T06:00:00Z", datetime(2026, 11, 29, 6, tzinfo=UTC)),
        ("2026-11-29T07:00:00+01:00", datetime(2026, 11, 29, 6, tzinfo=UTC)),
        ("2026-11-28T24:00:00Z", datetime(2026, 11, 29, tzinfo=UTC)),
        ("2026-11-29T06:00:00.1234567Z", datetime(2026, 11, 29, 6, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_parses_date_time_stamps(text: str, expected: datetime) -> None:
    assert parse_datetime(text) == expected


@pytest.mark.parametrize(
    "value",
    [
        "2023-02-30T00:00:00Z",  # not in the calendar: fromisoformat raised ValueError in proofs
        "2023-02-29T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "-0001-01-01T00:00:00Z",
        "10000-01-01T00:00:00Z",
        "2023-13-01T00:00:00Z",
        "2023-01-01T00:00:00+14:01",
        "2023-01-01 00:00:00Z",
        "2023-01-01T00:00:00Z\n",
        "",
        5,
        None,
        ["2023-01-01T00:00:00Z"],
    ],
)
def test_everything_else_is_a_value_error_without_the_value(value: Any) -> None:
    with pytest.raises(ValueError, match=r"^(is|has) ") as caught:
        parse_datetime(value)
    assert type(caught.value) is ValueError
    if isinstance(value, str) and value:
        assert value.strip() not in str(caught.value)


def test_zone_is_required_unless_the_caller_allows_its_absence() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        parse_datetime("2026-11-29T06:00:00")
    assert parse_datetime("2026-11-29T06:00:00", require_zone=False) == datetime(
        2026, 11, 29, 6, tzinfo=UTC
    )
    assert date_time_has_zone("2026-11-29T06:00:00Z")
    assert not date_time_has_zone("2026-11-29T06:00:00")
    assert not date_time_has_zone(5)


def test_format_is_utc_seconds_and_round_trips() -> None:
    value = datetime(2026, 11, 29, 7, 0, 0, 999_999, tzinfo=timezone(timedelta(hours=1)))
    assert format_datetime(value) == "2026-11-29T06:00:00Z"
    assert parse_datetime(format_datetime(value)) == value.replace(microsecond=0)
    assert format_datetime(datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00Z"


def test_format_refuses_naive_and_unrepresentable_datetimes() -> None:
    with pytest.raises(ValueError, match="valid_from must be timezone-aware"):
        format_datetime(datetime(2026, 1, 1), "valid_from")
    with pytest.raises(ValueError, match="outside the years"):
        format_datetime(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))))
