"""Data users: presentation requests, verification reports of named checks, trust, policies.

- :mod:`verifier.request`, :mod:`verifier.nonces`: signed presentation requests (PE 2.0
  definitions) with single-use nonces kept in the verifier's store.
- :mod:`verifier.verify`: :func:`verify_credential` and :func:`verify_presentation` (W3C VCs
  and VPs, Data Integrity and Ed25519Signature2020); :mod:`verifier.sdjwt`:
  :func:`verify_sd_jwt_presentation`; :mod:`verifier.shc`: SMART Health Cards (ES256);
  :mod:`verifier.submit`: a wallet's answer checked against its request. Each returns a
  :class:`VerificationReport` and never stops at the first failure.
- :mod:`verifier.trust`: the operator's trust list and accreditation credentials.
- :mod:`verifier.policy`: a report becomes a :class:`Decision` for a role (emergency, insurer,
  generic).
- :mod:`verifier.api`, :mod:`verifier.cli`: HTTP (VC-API) and the ``mydata`` commands.
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
