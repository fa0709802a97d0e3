"""The public operator: accreditation, trust list, registration and the onboarding self-test.

- :mod:`governance.operator`: :class:`Operator` (root DID, accreditation credentials revocable
  through its Bitstring Status List, the signed trust list, DID-auth registrations).
- :mod:`governance.didauth`: the applicant's DID-auth presentation.
- :mod:`governance.audit`: the operator's hash-chained audit log.
- :mod:`governance.api`: the operator's HTTP service; :mod:`governance.cli`: ``mydata operator``.
- :mod:`governance.selftest`: ``mydata selftest URL``, checks of a running hospital deployment.

The package is named ``governance`` because ``operator`` is a standard library module. Like
every party it imports only :mod:`agent`.
"""

from governance.didauth import did_auth_presentation
from governance.operator import (
    CHALLENGE_LIFETIME,
    ROLES,
    Accreditation,
    AccreditationState,
    Operator,
    Registration,
    RegistrationState,
)

__all__ = [
    "CHALLENGE_LIFETIME",
    "ROLES",
    "Accreditation",
    "AccreditationState",
    "Operator",
    "Registration",
    "RegistrationState",
    "did_auth_presentation",
]
