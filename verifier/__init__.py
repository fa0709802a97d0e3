"""Data users: presentation requests, verification reports of named checks, policies.

- :mod:`verifier.verify`: :func:`verify_credential` and :func:`verify_presentation` run the
  named checks and return a :class:`VerificationReport`; they never stop at the first failure.
- :mod:`verifier.report`: the report, one :class:`CheckResult` per :class:`Check`.
"""

from verifier.report import Check, CheckResult, CheckStatus, VerificationReport
from verifier.verify import (
    CREDENTIAL_CHECKS,
    PRESENTATION_CHECKS,
    verify_credential,
    verify_presentation,
)

__all__ = [
    "CREDENTIAL_CHECKS",
    "PRESENTATION_CHECKS",
    "Check",
    "CheckResult",
    "CheckStatus",
    "VerificationReport",
    "verify_credential",
    "verify_presentation",
]
