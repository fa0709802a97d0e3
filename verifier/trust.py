"""Trust in issuers, as a verifier uses it.

The party-neutral core (the operator's signed trust list and accreditation credentials,
:class:`TrustRegistry` and its :class:`TrustDecision`) is :mod:`agent.trust`, shared with the
wallet; this module keeps its names where verifiers import them and adds
:func:`trust_check_result`, the ``trust`` check of a verification report. Fetching from the
operator, with refresh before expiry, is :mod:`verifier.trustsync`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from agent.errors import ErrorCode
from agent.trust import ACCREDITATION_TYPES, DEFAULT_ROLE, TrustDecision, TrustRegistry, age_text
from verifier.report import Check, CheckResult, CheckStatus

__all__ = [
    "ACCREDITATION_TYPES",
    "DEFAULT_ROLE",
    "TrustDecision",
    "TrustRegistry",
    "age_text",
    "trust_check_result",
]


def trust_check_result(decision: TrustDecision, role: str) -> CheckResult:
    """The ``trust`` check of a verification report for the decision on ``role``: the operator
    and the age of the trust data in its details, the age in its message from a minute on."""
    details: dict[str, Any] = {"role": role}
    if decision.operator:
        details["operator"] = decision.operator
    if decision.age is not None:
        details["ageSeconds"] = int(decision.age.total_seconds())
    if not decision.trusted:
        return CheckResult(
            Check.TRUST,
            CheckStatus.FAILED,
            decision.reason,
            decision.code or str(ErrorCode.ISSUER_NOT_TRUSTED),
            details,
        )
    message = decision.reason
    if decision.age is not None and decision.age >= timedelta(minutes=1):
        message += f" (trust data from {age_text(decision.age)} ago)"
    return CheckResult(Check.TRUST, CheckStatus.PASSED, message, None, details)
