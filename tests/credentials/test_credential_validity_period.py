"""check_validity_period: not yet valid versus expired, clock skew boundaries, VC 1.1 dates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from agent.clock import DEFAULT_MAX_CLOCK_SKEW
from agent.credentials.model import (
    CREDENTIALS_V1_CONTEXT,
    CREDENTIALS_V2_CONTEXT,
    ModelRule,
    ValidityPeriodViolation,
    check_validity_period,
)
from agent.errors import DataModelError, ErrorCode

# validFrom is 08:00Z written with a +02:00 offset; validUntil is 09:00Z.
START = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
END = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
TICK = timedelta(microseconds=1)
SKEW = DEFAULT_MAX_CLOCK_SKEW


def doc(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "@context": [CREDENTIALS_V2_CONTEXT],
        "type": ["VerifiableCredential"],
        "issuer": "did:example:issuer",
        "validFrom": "2026-01-01T10:00:00+02:00",
        "validUntil": "2026-01-01T09:00:00Z",
        "credentialSubject": {"allergy": "SECRET"},
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


@pytest.mark.parametrize(
    ("now", "skew"),
    [
        pytest.param(START, timedelta(0), id="at-validFrom-no-skew"),
        pytest.param(END, timedelta(0), id="at-validUntil-no-skew"),
        pytest.param(START - SKEW, SKEW, id="validFrom-minus-skew"),
        pytest.param(END + SKEW, SKEW, id="validUntil-plus-skew"),
        pytest.param(START + timedelta(minutes=30), timedelta(0), id="inside"),
        pytest.param(
            (START - SKEW).astimezone(timezone(timedelta(hours=-5))), SKEW, id="now-with-offset"
        ),
    ],
)
def test_valid_at_the_boundaries(now: datetime, skew: timedelta) -> None:
    check_validity_period(doc(), now=now, max_clock_skew=skew)


@pytest.mark.parametrize(
    ("now", "skew", "path", "rule", "reason"),
    [
        pytest.param(
            START - TICK,
            timedelta(0),
            "validFrom",
            ModelRule.VALID_FROM,
            ValidityPeriodViolation.NOT_YET_VALID,
            id="before-validFrom-no-skew",
        ),
        pytest.param(
            START - SKEW - TICK,
            SKEW,
            "validFrom",
            ModelRule.VALID_FROM,
            ValidityPeriodViolation.NOT_YET_VALID,
            id="before-validFrom-minus-skew",
        ),
        pytest.param(
            END + TICK,
            timedelta(0),
            "validUntil",
            ModelRule.VALID_UNTIL,
            ValidityPeriodViolation.EXPIRED,
            id="after-validUntil-no-skew",
        ),
        pytest.param(
            END + SKEW + TICK,
            SKEW,
            "validUntil",
            ModelRule.VALID_UNTIL,
            ValidityPeriodViolation.EXPIRED,
            id="after-validUntil-plus-skew",
        ),
    ],
)
def test_outside_the_period_raises_a_typed_reason(
    now: datetime, skew: timedelta, path: str, rule: ModelRule, reason: ValidityPeriodViolation
) -> None:
    with pytest.raises(DataModelError) as caught:
        check_validity_period(doc(), now=now, max_clock_skew=skew)
    assert caught.value.code == ErrorCode.RANGE_ERROR
    assert caught.value.details == {"path": path, "rule": rule, "reason": reason}
    assert caught.value.details["rule"] in ("validFrom", "validUntil")
    assert "SECRET" not in str(caught.value)


def test_default_skew_is_used() -> None:
    check_validity_period(doc(), now=END + DEFAULT_MAX_CLOCK_SKEW)
    with pytest.raises(DataModelError):
        check_validity_period(doc(), now=END + DEFAULT_MAX_CLOCK_SKEW + TICK)


def test_open_period() -> None:
    check_validity_period(
        doc(validFrom=None, validUntil=None), now=datetime(1970, 1, 1, tzinfo=UTC)
    )


def test_v1_dates_without_zone_are_read_as_utc() -> None:
    legacy = doc(
        validFrom=None,
        validUntil=None,
        issuanceDate="2026-01-01T08:00:00",
        expirationDate="2026-01-01T09:00:00Z",
    )
    legacy["@context"] = [CREDENTIALS_V1_CONTEXT]
    check_validity_period(legacy, now=START, max_clock_skew=timedelta(0))
    with pytest.raises(DataModelError) as caught:
        check_validity_period(legacy, now=START - TICK, max_clock_skew=timedelta(0))
    assert caught.value.details["path"] == "issuanceDate"
    assert caught.value.details["reason"] == ValidityPeriodViolation.NOT_YET_VALID
    with pytest.raises(DataModelError) as caught:
        check_validity_period(legacy, now=END + TICK, max_clock_skew=timedelta(0))
    assert caught.value.details["path"] == "expirationDate"
    assert caught.value.details["rule"] == ModelRule.VALID_UNTIL


def test_malformed_bound_is_a_malformed_value() -> None:
    with pytest.raises(DataModelError) as caught:
        check_validity_period(doc(validUntil="2026-01-01T09:00:00"), now=START)
    assert caught.value.code == ErrorCode.MALFORMED_VALUE_ERROR
    assert caught.value.details == {"path": "validUntil", "rule": ModelRule.VALID_UNTIL_FORMAT}


def test_naive_now_and_negative_skew_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check_validity_period(doc(), now=datetime(2026, 1, 1, 8, 30))
    with pytest.raises(ValueError, match="negative"):
        check_validity_period(doc(), now=START, max_clock_skew=timedelta(seconds=-1))
