"""A wallet's answer to a presentation request: an SD-JWT VC or a W3C VP, checked against the
request it names (by nonce) and reported with the same named checks.

For an SD-JWT this is :func:`verifier.sdjwt.verify_sd_jwt_presentation` with the nonce store.
For a VP, :func:`verifier.verify.verify_presentation` checks the proof with the challenge the
proof carries and this verifier as ``domain``; the ``challenge`` check then becomes the
nonce's single use (consumed only when the holder's proof verified), and ``fields`` and
``purpose`` compare the credentials with the request stored with the nonce.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from agent.clock import utcnow
from agent.credentials.proofs import proof_objects
from agent.errors import ErrorCode, HealthMyDataError, InvalidInputError, ProofError
from agent.keys.signer import KeyResolver
from agent.status import StatusChecker
from verifier.nonces import NonceRecord, NonceStore
from verifier.report import Check, CheckResult, CheckStatus, VerificationReport
from verifier.request import match_definition
from verifier.sdjwt import TokenStatusCache, verify_sd_jwt_presentation
from verifier.trust import DEFAULT_ROLE, TrustRegistry
from verifier.verify import verify_presentation

__all__ = ["verify_submission"]


async def verify_submission(
    submission: object,
    *,
    resolver: KeyResolver,
    nonces: NonceStore,
    audience: str,
    purpose: str | None = None,
    status_checker: StatusChecker | None = None,
    token_status: TokenStatusCache | None = None,
    trust: TrustRegistry | None = None,
    required_role: str = DEFAULT_ROLE,
    now: datetime | None = None,
) -> VerificationReport:
    """Verify a submitted presentation against the request its nonce names.

    :param submission: a compact SD-JWT (string) or a VP (JSON object).
    :raises InvalidInputError: neither.
    """
    at = now or utcnow()
    if isinstance(submission, str):
        return await verify_sd_jwt_presentation(
            submission,
            resolver=resolver,
            now=at,
            audience=audience,
            nonces=nonces,
            purpose=purpose,
            status=token_status,
            trust=trust,
            required_role=required_role,
        )
    if not isinstance(submission, dict):
        raise InvalidInputError(
            "a submission is an SD-JWT string or a presentation object",
            code=ErrorCode.PARSING_ERROR,
        )
    try:
        proofs = proof_objects(submission)
    except HealthMyDataError:
        proofs = []
    challenge = proofs[0].get("challenge") if proofs else None
    report = await verify_presentation(
        submission,
        resolver=resolver,
        challenge=challenge if isinstance(challenge, str) else "",
        domain=audience,
        now=at,
        status_checker=status_checker,
        trust=trust,
        required_role=required_role,
    )
    results = [r for r in report.results if r.check is not Check.CHALLENGE]
    bound = all(
        (r := report.result(c)) is not None and r.status is CheckStatus.PASSED
        for c in (Check.PROOF, Check.HOLDER)
    )
    request: NonceRecord | None = None
    challenge_result: CheckResult
    if not bound:
        challenge_result = CheckResult.skipped(
            Check.CHALLENGE, "the nonce was not consumed: the holder's proof did not verify"
        )
    else:
        try:
            request = await nonces.consume(challenge, audience=audience, now=at)
            challenge_result = CheckResult.passed(
                Check.CHALLENGE, "the nonce was issued here and is now used; domain matches"
            )
        except HealthMyDataError as error:
            challenge_result = CheckResult.failed(Check.CHALLENGE, error)
    results.insert(1, challenge_result)
    credentials = [
        c for c in _as_list(submission.get("verifiableCredential")) if isinstance(c, dict)
    ]
    results.append(_fields(request, credentials))
    results.append(_purpose(request, purpose))
    claims: dict[str, Any] | None = None
    if bound and credentials:
        subject = credentials[0].get("credentialSubject")
        claims = dict(subject) if isinstance(subject, dict) else None
    return VerificationReport(
        "presentation",
        tuple(results),
        report.warnings,
        report.credentials,
        claims=claims,
        issuer=_issuer(credentials[0]) if credentials else None,
    )


def _as_list(value: object) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _issuer(credential: Mapping[str, Any]) -> str | None:
    issuer = credential.get("issuer")
    if isinstance(issuer, dict):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) else None


def _fields(request: NonceRecord | None, credentials: list[dict[str, Any]]) -> CheckResult:
    definition = request.request.get("presentation_definition") if request else None
    if not isinstance(definition, dict):
        return CheckResult.skipped(Check.FIELDS, "no request known, so no fields to check")
    try:
        match = match_definition(definition, credentials)
    except HealthMyDataError as error:
        return CheckResult.failed(Check.FIELDS, error)
    if match.missing:
        return CheckResult(
            Check.FIELDS,
            CheckStatus.FAILED,
            "requested field(s) missing: "
            + ", ".join(f"{d}: {' | '.join(p)}" for d, p in match.missing),
            str(ErrorCode.FIELD_MISSING),
            {"missing": [{"inputDescriptor": d, "path": list(p)} for d, p in match.missing]},
        )
    return CheckResult.passed(Check.FIELDS, "all requested fields present")


def _purpose(request: NonceRecord | None, purpose: str | None) -> CheckResult:
    if purpose is None:
        return CheckResult.skipped(Check.PURPOSE, "no purpose is expected by this verifier")
    if request is None:
        return CheckResult.skipped(
            Check.PURPOSE, "no request could be matched (see the challenge check)"
        )
    if request.purpose != purpose:
        return CheckResult.failed(
            Check.PURPOSE,
            ProofError(
                "the presentation was not made for a request with this verifier's purpose",
                code=ErrorCode.PURPOSE_MISMATCH,
                details={"expected": purpose},
            ),
        )
    return CheckResult.passed(Check.PURPOSE, f"made for a request with purpose {purpose!r}")
