"""Verify credentials and presentations into a report of named checks.

Each check calls primitives that raise typed errors; this module catches
:class:`agent.errors.HealthMyDataError` per check, records it, and goes on with the checks that
do not depend on the failed one. ``checks`` selects which run, like the VC-API's
``options.checks``: ``{"proof"}`` checks the signature alone.

Anything that is not one of our errors is a bug and propagates: a report never hides one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from agent.clock import DEFAULT_MAX_CLOCK_SKEW, utcnow
from agent.credentials.contexts import check_contexts, check_terms
from agent.credentials.model import (
    check_validity_period,
    validate_credential,
    validate_presentation,
)
from agent.credentials.proofs import check_proof_controllers, verify_proofs
from agent.errors import ErrorCode, HealthMyDataError, InvalidInputError, StatusError
from agent.keys.signer import KeyResolver
from agent.status import StatusChecker
from verifier.report import Check, CheckResult, CheckStatus, VerificationReport

__all__ = ["CREDENTIAL_CHECKS", "PRESENTATION_CHECKS", "verify_credential", "verify_presentation"]

#: Checks run on a credential by default, in order.
CREDENTIAL_CHECKS: tuple[Check, ...] = (
    Check.FORMAT,
    Check.PROOF,
    Check.ISSUER,
    Check.VALIDITY,
    Check.STATUS,
)
#: Checks run on a presentation by default, in order.
PRESENTATION_CHECKS: tuple[Check, ...] = (
    Check.FORMAT,
    Check.CHALLENGE,
    Check.PROOF,
    Check.ISSUER,
    Check.CREDENTIALS,
)


def _short(identifier: str, keep: int = 28) -> str:
    """A DID or DID URL shortened for a person to read: the start and the fragment's end."""
    did, _, fragment = identifier.partition("#")
    text = did if len(did) <= keep + 8 else f"{did[:keep]}...{did[-6:]}"
    return f"{text}#{fragment[-8:]}" if fragment else text


def _select(checks: Iterable[str] | None, available: tuple[Check, ...]) -> tuple[Check, ...]:
    if checks is None:
        return available
    wanted = list(checks)
    unknown = sorted(set(wanted) - {str(c) for c in available})
    if unknown:
        raise InvalidInputError(
            f"unknown check(s) {', '.join(unknown)}; available: "
            + ", ".join(str(c) for c in available),
            code=ErrorCode.INVALID_INPUT,
        )
    return tuple(c for c in available if str(c) in wanted)


async def _run(check: Check, step: Callable[[], Awaitable[str]]) -> CheckResult:
    try:
        message = await step()
    except HealthMyDataError as error:
        return CheckResult.failed(check, error)
    return CheckResult.passed(check, message)


def _require_object(document: object, kind: str) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise InvalidInputError(
            f"a {kind} must be a JSON object, got {type(document).__name__}",
            code=ErrorCode.PARSING_ERROR,
        )
    return document


async def verify_credential(
    document: object,
    *,
    resolver: KeyResolver,
    now: datetime | None = None,
    checks: Iterable[str] | None = None,
    max_clock_skew: timedelta = DEFAULT_MAX_CLOCK_SKEW,
    status_checker: StatusChecker | None = None,
) -> VerificationReport:
    """Verify a W3C Verifiable Credential secured with a Data Integrity proof.

    :param resolver: dereferences the proof's verification method (a
        :class:`agent.dids.DIDResolver`, or an offline cache).
    :param now: the instant to check validity against; defaults to the current time.
    :param checks: names of the checks to run (default: all of :data:`CREDENTIAL_CHECKS`).
    :param status_checker: fetches (or, offline, reads cached) status lists; without one a
        credential's status entries are reported as not checked, with a warning.
    :raises InvalidInputError: when the input is not a JSON object or a check name is unknown;
        every other problem is a failed check in the report.
    """
    credential = _require_object(document, "credential")
    at = now or utcnow()
    results: list[CheckResult] = []
    warnings: list[str] = []

    for check in _select(checks, CREDENTIAL_CHECKS):
        if check is Check.FORMAT:

            async def _format() -> str:
                version = validate_credential(credential, allow_v1=True)
                check_contexts(credential)
                check_terms(credential)
                return f"conforms to the VC Data Model {version}"

            results.append(await _run(check, _format))
        elif check is Check.PROOF:

            async def _proof() -> str:
                proofs = await verify_proofs(
                    credential,
                    resolver,
                    expected_purpose="assertionMethod",
                    now=at,
                    bind_controller=False,
                )
                return "; ".join(
                    f"{p.suite} signature verifies ({_short(p.verification_method)})"
                    for p in proofs
                )

            results.append(await _run(check, _proof))
        elif check is Check.ISSUER:

            async def _issuer() -> str:
                controllers = await check_proof_controllers(credential, resolver)
                return f"the signing key belongs to the issuer {_short(controllers[0])}"

            results.append(await _run(check, _issuer))
        elif check is Check.VALIDITY:

            async def _validity() -> str:
                check_validity_period(credential, now=at, max_clock_skew=max_clock_skew)
                return "within its validity period"

            results.append(await _run(check, _validity))
        elif check is Check.STATUS:
            if "credentialStatus" not in credential:
                results.append(CheckResult.skipped(check, "the credential has no status entry"))
            elif status_checker is None:
                warnings.append("credential has a status entry that this verifier did not check")
                results.append(
                    CheckResult.skipped(check, "status lists are not checked by this verifier")
                )
            else:
                results.append(await _run(check, _status_step(credential, status_checker, at)))
    return VerificationReport("credential", tuple(results), tuple(warnings))


async def verify_presentation(
    document: object,
    *,
    resolver: KeyResolver,
    challenge: str | None = None,
    domain: str | None = None,
    now: datetime | None = None,
    checks: Iterable[str] | None = None,
    max_clock_skew: timedelta = DEFAULT_MAX_CLOCK_SKEW,
    status_checker: StatusChecker | None = None,
) -> VerificationReport:
    """Verify a W3C Verifiable Presentation and every credential in it.

    The presentation's proof must have purpose ``authentication`` and, when ``challenge`` or
    ``domain`` are given, carry exactly those values (they bind it to this verifier's request).

    :raises InvalidInputError: as :func:`verify_credential`.
    """
    presentation = _require_object(document, "presentation")
    at = now or utcnow()
    results: list[CheckResult] = []
    nested: list[VerificationReport] = []

    for check in _select(checks, PRESENTATION_CHECKS):
        if check is Check.FORMAT:

            async def _format() -> str:
                version = validate_presentation(presentation, allow_v1=True)
                check_contexts(presentation)
                check_terms(presentation)
                return f"conforms to the VC Data Model {version}"

            results.append(await _run(check, _format))
        elif check is Check.CHALLENGE:
            results.append(await _run(check, _challenge_step(presentation, challenge, domain)))
        elif check is Check.PROOF:

            async def _proof() -> str:
                proofs = await verify_proofs(
                    presentation,
                    resolver,
                    expected_purpose="authentication",
                    challenge=challenge,
                    domain=domain,
                    now=at,
                    bind_controller=False,
                )
                return "; ".join(
                    f"{p.suite} signature verifies ({_short(p.verification_method)})"
                    for p in proofs
                )

            results.append(await _run(check, _proof))
        elif check is Check.ISSUER:

            async def _holder() -> str:
                await check_proof_controllers(
                    presentation, resolver, expected_purpose="authentication"
                )
                holder = presentation.get("holder")
                if holder is None:
                    return "the presentation names no holder"
                return "the signing key belongs to the holder"

            results.append(await _run(check, _holder))
        elif check is Check.CREDENTIALS:
            embedded = presentation.get("verifiableCredential", [])
            items = embedded if isinstance(embedded, list) else [embedded]
            for item in items:
                nested.append(
                    await verify_credential(
                        item,
                        resolver=resolver,
                        now=at,
                        max_clock_skew=max_clock_skew,
                        status_checker=status_checker,
                    )
                    if isinstance(item, dict)
                    else VerificationReport(
                        "credential",
                        (
                            CheckResult.failed(
                                Check.FORMAT,
                                InvalidInputError(
                                    "embedded credential is not a JSON object",
                                    code=ErrorCode.PARSING_ERROR,
                                ),
                            ),
                        ),
                    )
                )
            bad = [i for i, report in enumerate(nested) if not report.verified]
            if not items:
                results.append(CheckResult.skipped(check, "the presentation holds no credential"))
            elif bad:
                results.append(
                    CheckResult(
                        check,
                        CheckStatus.FAILED,
                        f"credential(s) at index {', '.join(map(str, bad))} did not verify",
                        "credentialNotVerified",
                        {"indexes": bad},
                    )
                )
            else:
                results.append(CheckResult.passed(check, f"{len(items)} credential(s) verified"))
    return VerificationReport("presentation", tuple(results), (), tuple(nested))


def _status_step(
    credential: dict[str, Any], checker: StatusChecker, now: datetime
) -> Callable[[], Awaitable[str]]:
    async def step() -> str:
        results = await checker.check(credential, now=now)
        for result in results:
            if result.set and result.purpose in {"revocation", "suspension"}:
                revoked = result.purpose == "revocation"
                raise StatusError(
                    f"the issuer has {'revoked' if revoked else 'suspended'} this credential",
                    code=ErrorCode.CREDENTIAL_REVOKED
                    if revoked
                    else ErrorCode.CREDENTIAL_SUSPENDED,
                    details={"purpose": result.purpose, "statusListCredential": result.list_url},
                )
        ages = [r.age for r in results if r.age is not None]
        oldest = max(ages) if ages else None
        summary = ", ".join(
            sorted(
                {f"not {r.purpose}" for r in results if r.purpose in {"revocation", "suspension"}}
            )
        )
        if oldest is not None and oldest.total_seconds() >= 60:
            summary += f" (status list fetched {_age(oldest)} ago)"
        return summary or "status entries checked"

    return step


def _age(age: timedelta) -> str:
    seconds = int(age.total_seconds())
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def _challenge_step(
    presentation: dict[str, Any], challenge: str | None, domain: str | None
) -> Callable[[], Awaitable[str]]:
    async def step() -> str:
        proofs = presentation.get("proof")
        proof_list = proofs if isinstance(proofs, list) else [proofs]
        for proof in proof_list:
            if not isinstance(proof, dict):
                continue
            if challenge is not None and proof.get("challenge") != challenge:
                raise HealthMyDataError(
                    "the presentation's proof does not carry this verifier's challenge: it was "
                    "made for another request, or replayed",
                    code=ErrorCode.INVALID_CHALLENGE_ERROR,
                )
            if domain is not None and proof.get("domain") != domain:
                raise HealthMyDataError(
                    "the presentation's proof is bound to another domain (audience)",
                    code=ErrorCode.INVALID_DOMAIN_ERROR,
                )
        if challenge is None and domain is None:
            return "no challenge or domain was expected"
        return "challenge and domain match this verifier's request"

    return step
