"""A verification report: one named check result per check, never a bare boolean.

Primitives raise typed errors (:mod:`agent.errors`); :mod:`verifier.verify` runs every selected
check, turns each raised error into a failed :class:`CheckResult` naming the check, its code and
the reason, and carries on with the checks that do not depend on it. A policy
(:mod:`verifier.policy`) turns a report into a decision for a role.

The JSON shape follows the VC-API verify response (``verified``, ``checks``, ``warnings``,
``errors``), with the per-check detail under ``results``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from agent.errors import HealthMyDataError

__all__ = ["Check", "CheckResult", "CheckStatus", "VerificationReport"]


class Check(StrEnum):
    """The named checks, in the order they run. Names match VC-API ``options.checks``."""

    FORMAT = "format"  # VC Data Model rules and JSON-LD contexts/terms
    PROOF = "proof"  # signature, including dereferencing the verification method
    ISSUER = "issuer"  # a credential's proof key belongs to its issuer
    TRUST = "trust"  # the issuer is accredited by an operator this verifier trusts
    HOLDER = "holder"  # a presentation's proof key is its holder's, who is every subject
    VALIDITY = "validity"  # validFrom / validUntil against the clock, with skew allowance
    STATUS = "status"  # Bitstring Status List entries
    CHALLENGE = "challenge"  # presentation proof's challenge and domain; nonce single use
    FIELDS = "fields"  # the fields the presentation request asked for are all present
    PURPOSE = "purpose"  # made for a request with the purpose this verifier acts for
    CREDENTIALS = "credentials"  # every credential inside a presentation


class CheckStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one named check.

    :param message: for a person; says why a check failed or was skipped. Never health data.
    :param code: the machine-readable error code of a failure.
    """

    check: Check
    status: CheckStatus
    message: str = ""
    code: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def passed(cls, check: Check, message: str = "", **details: Any) -> CheckResult:
        return cls(check, CheckStatus.PASSED, message, None, details)

    @classmethod
    def skipped(cls, check: Check, message: str) -> CheckResult:
        return cls(check, CheckStatus.SKIPPED, message)

    @classmethod
    def failed(cls, check: Check, error: HealthMyDataError) -> CheckResult:
        return cls(check, CheckStatus.FAILED, error.message, str(error.code), dict(error.details))

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"check": str(self.check), "status": str(self.status)}
        if self.message:
            body["message"] = self.message
        if self.code:
            body["code"] = self.code
        if self.details:
            body["details"] = self.details
        return body


@dataclass(frozen=True, slots=True)
class VerificationReport:
    """What a verifier learned about one credential or presentation.

    ``verified`` holds when at least one check ran and none failed.
    """

    kind: str  # "credential", "presentation", "sd-jwt" or "smart-health-card"
    results: tuple[CheckResult, ...]
    warnings: tuple[str, ...] = ()
    credentials: tuple[VerificationReport, ...] = ()
    #: The verified claims (an SD-JWT's processed payload, a card's subject), for a policy to
    #: read; ``None`` when the signature did not verify. Never part of :meth:`to_dict`: it is
    #: health data, and only a policy decides what of it to show.
    claims: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    #: The issuer's identifier (DID or URL), when known.
    issuer: str | None = None

    @property
    def verified(self) -> bool:
        ran = [r for r in self.results if r.status is not CheckStatus.SKIPPED]
        return bool(ran) and all(r.status is CheckStatus.PASSED for r in ran)

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if r.status is CheckStatus.FAILED)

    def result(self, check: Check) -> CheckResult | None:
        """The result of ``check``, or None when it was not selected."""
        return next((r for r in self.results if r.check is check), None)

    def to_dict(self) -> dict[str, Any]:
        """The VC-API response shape plus per-check results."""
        body: dict[str, Any] = {
            "verified": self.verified,
            "checks": [str(r.check) for r in self.results if r.status is CheckStatus.PASSED],
            "warnings": list(self.warnings),
            "errors": [r.to_dict() for r in self.failed],
            "results": [r.to_dict() for r in self.results],
        }
        if self.credentials:
            body["credentialResults"] = [c.to_dict() for c in self.credentials]
        return body
