"""Verify credentials and presentations into a report of named checks.

Each check calls primitives that raise typed errors; this module catches
:class:`agent.errors.HealthMyDataError` per check, records it, and goes on with the checks that
do not depend on the failed one. ``checks`` selects which run, like the VC-API's
``options.checks``: ``{"proof"}`` checks the signature alone, and the report then warns that
the issuer (holder) check, which ties the key to a party, did not run.

Anything that is not one of our errors is a bug and propagates: a report never hides one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from agent.clock import DEFAULT_MAX_CLOCK_SKEW, utcnow
from agent.credentials.contexts import check_terms
from agent.credentials.model import (
    check_validity_period,
    type_values,
    validate_credential,
    validate_presentation,
)
from agent.credentials.proofs import (
    Binding,
    check_challenge_domain,
    check_proof_controllers,
    proof_objects,
    verify_proofs,
)
from agent.credentials.suites.ed25519_signature_2020 import (
    PROOF_TYPE as ED25519_2020,
)
from agent.credentials.suites.ed25519_signature_2020 import (
    verify_ed25519_signature_2020,
)
from agent.errors import (
    CryptosuiteError,
    ErrorCode,
    HealthMyDataError,
    InvalidInputError,
    ProofError,
    StatusError,
)
from agent.jsonio import check_depth, json_type
from agent.keys.signer import KeyResolver
from agent.status import StatusChecker
from verifier.report import Check, CheckResult, CheckStatus, VerificationReport
from verifier.trust import DEFAULT_ROLE, TrustRegistry, age_text, trust_check_result

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
    Check.HOLDER,
    Check.CREDENTIALS,
)

_ENVELOPED_TYPE = "EnvelopedVerifiableCredential"


def _short(identifier: str, keep: int = 28) -> str:
    """A DID or DID URL shortened for a person to read: the start and the fragment's end."""
    did, _, fragment = identifier.partition("#")
    text = did if len(did) <= keep + 8 else f"{did[:keep]}...{did[-6:]}"
    return f"{text}#{fragment[-8:]}" if fragment else text


#: Check names other implementations send in VC-API ``options.checks`` (the W3C test suites
#: send ``credentialStatus``), and ours they mean.
CHECK_ALIASES: dict[str, str] = {"credentialStatus": "status", "expiration": "validity"}


def _select(checks: Iterable[str] | None, available: tuple[Check, ...]) -> tuple[Check, ...]:
    """The checks to run. ``None`` or an empty selection means the default checks: VC-API
    lets the verifier choose (the W3C suites send ``options.checks: []``; decision 0007)."""
    wanted = [CHECK_ALIASES.get(name, name) for name in checks or ()]
    if not wanted:
        return available
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


async def _verify_signatures(
    document: dict[str, Any],
    resolver: KeyResolver,
    *,
    purpose: str,
    binding: Binding,
    now: datetime,
    max_clock_skew: timedelta,
    challenge: str | None = None,
    domain: str | None = None,
) -> str:
    """Every proof's signature: Data Integrity proofs through :func:`verify_proofs`,
    ``Ed25519Signature2020`` Linked Data proofs (ACA-Py) through their own suite."""
    proofs = proof_objects(document)
    legacy = [p for p in proofs if p.get("type") == ED25519_2020]
    parts: list[str] = []
    if len(legacy) < len(proofs) or not proofs:
        integrity = [p for p in proofs if p.get("type") != ED25519_2020]
        checked = await verify_proofs(
            {**document, "proof": integrity} if legacy else document,
            resolver,
            expected_purpose=purpose,
            challenge=challenge,
            domain=domain,
            now=now,
            max_clock_skew=max_clock_skew,
            binding=binding,
            bind_controller=False,  # the issuer (holder) check, reported on its own
        )
        parts.extend(
            f"{p.suite} signature verifies ({_short(p.verification_method)})" for p in checked
        )
    if legacy:
        methods = await verify_ed25519_signature_2020(
            document,
            legacy,
            resolver,
            now=now,
            expected_purpose=purpose,
            challenge=challenge,
            domain=domain,
            max_clock_skew=max_clock_skew,
        )
        parts.extend(f"{ED25519_2020} signature verifies ({_short(m)})" for m in methods)
    return "; ".join(parts)


async def _trust_step(
    credential: dict[str, Any], trust: TrustRegistry, role: str, now: datetime
) -> CheckResult:
    issuer = credential.get("issuer")
    if isinstance(issuer, dict):
        issuer = issuer.get("id")
    if not isinstance(issuer, str):
        return CheckResult.failed(
            Check.TRUST,
            InvalidInputError(
                "the credential names no issuer to look up", code=ErrorCode.ISSUER_NOT_TRUSTED
            ),
        )
    return trust_check_result(await trust.check_issuer(issuer, role, now=now), role)


def _require_object(document: object, kind: str, *, depth_checked: bool) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise InvalidInputError(
            f"a {kind} must be a JSON object, got a JSON {json_type(document)}",
            code=ErrorCode.PARSING_ERROR,
        )
    if not depth_checked:
        check_depth(document)  # JSON-LD expansion and canonicalisation recurse per level.
    return document


async def verify_credential(
    document: object,
    *,
    resolver: KeyResolver,
    now: datetime | None = None,
    checks: Iterable[str] | None = None,
    max_clock_skew: timedelta = DEFAULT_MAX_CLOCK_SKEW,
    status_checker: StatusChecker | None = None,
    trust: TrustRegistry | None = None,
    required_role: str = DEFAULT_ROLE,
    expected_proof_purpose: str = "assertionMethod",
    challenge: str | None = None,
    domain: str | None = None,
    depth_checked: bool = False,
) -> VerificationReport:
    """Verify a W3C Verifiable Credential secured with a Data Integrity proof (or an
    ``Ed25519Signature2020`` Linked Data proof).

    :param resolver: dereferences the proof's verification method (a
        :class:`agent.dids.DIDResolver`, or an offline cache).
    :param now: the instant to check validity against; defaults to the current time.
    :param checks: names of the checks to run (default: all of :data:`CREDENTIAL_CHECKS`).
    :param status_checker: fetches (or, offline, reads cached) status lists; without one a
        credential's status entries are reported as not checked, with a warning.
    :param trust: the trust registry; with one the ``trust`` check runs (after ``issuer``):
        the issuer must be accredited as ``required_role`` by a trusted operator.
    :param expected_proof_purpose: the proof purpose the caller requires (VC-API
        ``options.expectedProofPurpose``); a proof made for another purpose fails ``proof``.
    :param challenge: when given (VC-API ``options.challenge``), every Data Integrity proof
        must carry it; ``domain`` likewise (VC Data Integrity 4.3, steps on ``domain`` and
        ``challenge``); a mismatch fails ``proof``.
    :param depth_checked: ``document`` is (part of) what :func:`agent.jsonio.parse_json`
        returned, which refuses nesting deeper than :data:`agent.jsonio.MAX_DEPTH`: the
        nesting walk is not repeated (a service's verify routes).
    :raises InvalidInputError: when the input is not a JSON object, nests deeper than
        :data:`agent.jsonio.MAX_DEPTH`, or a check name is unknown; every other problem is a
        failed check in the report.
    """
    credential = _require_object(document, "credential", depth_checked=depth_checked)
    at = now or utcnow()
    results: list[CheckResult] = []
    warnings: list[str] = []

    available = CREDENTIAL_CHECKS
    if trust is not None:
        available = (*CREDENTIAL_CHECKS[:3], Check.TRUST, *CREDENTIAL_CHECKS[3:])
    for check in _select(checks, available):
        if check is Check.TRUST and trust is not None:
            results.append(await _trust_step(credential, trust, required_role, at))
        elif check is Check.FORMAT:

            async def _format() -> str:
                version = validate_credential(credential, allow_v1=True)
                check_terms(credential)  # contexts first (contextNotAllowed), then terms
                return f"conforms to the VC Data Model {version}"

            results.append(await _run(check, _format))
        elif check is Check.PROOF:

            async def _proof() -> str:
                return await _verify_signatures(
                    credential,
                    resolver,
                    purpose=expected_proof_purpose,
                    binding="issuer",
                    now=at,
                    max_clock_skew=max_clock_skew,
                    challenge=challenge,
                    domain=domain,
                )

            results.append(await _run(check, _proof))
        elif check is Check.ISSUER:

            async def _issuer() -> str:
                controllers = await check_proof_controllers(credential, resolver, binding="issuer")
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
    _warn_unbound(results, Check.ISSUER, warnings)
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
    trust: TrustRegistry | None = None,
    required_role: str = DEFAULT_ROLE,
    require_holder_binding: bool = True,
    depth_checked: bool = False,
) -> VerificationReport:
    """Verify a W3C Verifiable Presentation and every credential in it.

    The presentation's proof must have purpose ``authentication`` and, when ``challenge`` or
    ``domain`` are given, carry that challenge and include that domain (they bind it to this
    verifier's request; without a challenge the report warns that a replay would pass). The
    ``holder`` check requires a ``holder``, a proof key of the holder's, and the holder as the
    subject of every embedded credential (a credential without a subject ``id`` gives a
    warning instead). Embedded credentials are verified with :func:`verify_credential`, with
    the same clock, skew and status checker.

    :param require_holder_binding: ``False`` is generic verification (VC-API
        ``/presentations/verify``, decision 0007): a presentation without ``holder`` is
        verified (its proof still must verify) and the ``holder`` check is skipped with a
        warning (``details.reason: noHolder``), unless it presents a credential its own signer
        issued with no proof of its own (VCDM 2.0 4.12.4: such a self-asserted credential
        needs a ``holder``); a holder presenting credentials about another subject passes with
        a warning (``details.reason: subjectNotHolder``); ``verifiableCredential: []`` (a DID
        authentication presentation) is well-formed; a credential without a proof whose
        ``issuer`` is the holder is a holder claim, secured by the presentation's proof (its
        report has a passed ``issuer`` result, ``details.reason: holderClaim``, instead of
        ``proof`` and ``issuer``). A named holder must still own the proof key. Role policies
        (emergency, insurer) keep the default, ``True``.
    :param depth_checked: as for :func:`verify_credential`.
    :raises InvalidInputError: as :func:`verify_credential`.
    """
    presentation = _require_object(document, "presentation", depth_checked=depth_checked)
    at = now or utcnow()
    results: list[CheckResult] = []
    warnings: list[str] = []
    nested: list[VerificationReport] = []
    if challenge is None:
        warnings.append(
            "no challenge was requested: the presentation is not bound to this request and "
            "could be a replay of one made for someone else"
        )

    for check in _select(checks, PRESENTATION_CHECKS):
        if check is Check.FORMAT:

            async def _format() -> str:
                shape = presentation
                if not require_holder_binding and presentation.get("verifiableCredential") == []:
                    # A DID authentication presentation: no credential, nothing to check.
                    shape = {k: v for k, v in presentation.items() if k != "verifiableCredential"}
                version = validate_presentation(shape, allow_v1=True)
                check_terms(shape)  # contexts first (contextNotAllowed), then terms
                return f"conforms to the VC Data Model {version}"

            results.append(await _run(check, _format))
        elif check is Check.CHALLENGE:
            if challenge is None and domain is None:
                results.append(CheckResult.skipped(check, "no challenge or domain was expected"))
            else:
                results.append(await _run(check, _challenge_step(presentation, challenge, domain)))
        elif check is Check.PROOF:

            async def _proof() -> str:
                return await _verify_signatures(
                    presentation,
                    resolver,
                    purpose="authentication",
                    binding="holder",
                    now=at,
                    max_clock_skew=max_clock_skew,
                    challenge=challenge,
                    domain=domain,
                )

            results.append(await _run(check, _proof))
        elif check is Check.HOLDER:
            results.append(
                await _holder_result(presentation, resolver, warnings, require_holder_binding)
            )
        elif check is Check.CREDENTIALS:
            embedded = presentation.get("verifiableCredential", [])
            items = embedded if isinstance(embedded, list) else [embedded]
            # A holder claim is secured by the VP's proof: both the signature and the
            # holder's ownership of its key must have been checked, and passed.
            holder_bound = all(
                any(r.check is c and r.status is CheckStatus.PASSED for r in results)
                for c in (Check.PROOF, Check.HOLDER)
            )
            for index, item in enumerate(items):
                if (
                    not require_holder_binding
                    and holder_bound
                    and _is_holder_claim(item, _holder_of(presentation))
                ):
                    nested.append(
                        await _verify_holder_claim(
                            item,
                            resolver=resolver,
                            now=at,
                            max_clock_skew=max_clock_skew,
                            status_checker=status_checker,
                            trust=trust,
                            required_role=required_role,
                        )
                    )
                    warnings.append(
                        f"credential at index {index} is the holder's own claim, secured only "
                        "by the presentation's proof"
                    )
                    continue
                nested.append(
                    await verify_credential(
                        item,
                        resolver=resolver,
                        now=at,
                        max_clock_skew=max_clock_skew,
                        status_checker=status_checker,
                        trust=trust,
                        required_role=required_role,
                        depth_checked=True,  # part of the presentation, checked above
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
                        str(ErrorCode.CREDENTIAL_NOT_VERIFIED),
                        {"indexes": bad},
                    )
                )
            else:
                results.append(CheckResult.passed(check, f"{len(items)} credential(s) verified"))
    _warn_unbound(results, Check.HOLDER, warnings)
    return VerificationReport("presentation", tuple(results), tuple(warnings), tuple(nested))


def _warn_unbound(results: list[CheckResult], binding: Check, warnings: list[str]) -> None:
    """A signature that verified says nothing about who signed: say so when the check that
    ties the key to the issuer (holder) did not run, e.g. with ``--checks proof``."""
    proof = next((r for r in results if r.check is Check.PROOF), None)
    if proof is None or any(r.check is binding for r in results):
        return
    warnings.append(
        f"the {binding} check did not run: the signature was not shown to be made by the "
        f"{binding}'s key, so anyone could have made it"
    )


def _holder_of(presentation: dict[str, Any]) -> str | None:
    holder = presentation.get("holder")
    if isinstance(holder, dict):
        holder = holder.get("id")
    return holder if isinstance(holder, str) else None


def _subject_ids(credential: dict[str, Any]) -> list[str | None]:
    """Each subject's ``id``, or None for a subject that has none (or is not an object)."""
    subjects = credential.get("credentialSubject")
    items = subjects if isinstance(subjects, list) else [subjects]
    ids: list[str | None] = []
    for subject in items:
        value = subject.get("id") if isinstance(subject, dict) else None
        ids.append(value if isinstance(value, str) else None)
    return ids or [None]


def _is_holder_claim(item: object, holder: str | None) -> bool:
    """A credential the holder issued that has no proof of its own: secured only by the
    presentation's proof (VCDM 2.0 4.12.4, "Presentations Including Holder Claims")."""
    return (
        isinstance(item, dict)
        and holder is not None
        and "proof" not in item
        and _issuer_id(item) == holder
    )


async def _verify_holder_claim(
    credential: dict[str, Any],
    *,
    resolver: KeyResolver,
    now: datetime,
    max_clock_skew: timedelta,
    status_checker: StatusChecker | None,
    trust: TrustRegistry | None,
    required_role: str,
) -> VerificationReport:
    """A holder claim's report: every check but ``proof`` and ``issuer``, which the
    presentation's ``proof`` and ``holder`` checks stand for."""
    checks = [str(c) for c in CREDENTIAL_CHECKS if c not in (Check.PROOF, Check.ISSUER)]
    report = await verify_credential(
        credential,
        resolver=resolver,
        now=now,
        checks=[*checks, *(["trust"] if trust is not None else [])],
        max_clock_skew=max_clock_skew,
        status_checker=status_checker,
        trust=trust,
        required_role=required_role,
    )
    secured = CheckResult.passed(
        Check.ISSUER,
        "the holder's own claim: its issuer is the holder, whose key signed the presentation",
        reason="holderClaim",
    )
    return VerificationReport(
        "credential", (*report.results, secured), report.warnings, report.credentials
    )


def _signers(presentation: dict[str, Any]) -> set[str]:
    """The DIDs of the presentation's proof keys (the verification methods' controllers)."""
    try:
        proofs = proof_objects(presentation)
    except HealthMyDataError:
        return set()
    methods = [p.get("verificationMethod") for p in proofs]
    return {m.partition("#")[0] for m in methods if isinstance(m, str)}


def _issuer_id(credential: dict[str, Any]) -> str | None:
    issuer = credential.get("issuer")
    if isinstance(issuer, dict):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) else None


async def _holder_result(
    presentation: dict[str, Any], resolver: KeyResolver, warnings: list[str], required: bool
) -> CheckResult:
    """The presentation names a holder, its proof key is the holder's, and the holder is the
    subject of every credential it presents.

    Without this a valid presentation proves only that *someone* holds a key: anyone who
    obtained a copy of a credential could wrap it in a presentation of their own. Generic
    verification (``required`` false) relaxes the first and last rule (see
    :func:`verify_presentation`).
    """
    embedded = presentation.get("verifiableCredential", [])
    items = embedded if isinstance(embedded, list) else [embedded]
    holder = _holder_of(presentation)
    try:
        if holder is None:
            signers = _signers(presentation)
            self_asserted = [
                i
                for i, item in enumerate(items)
                if isinstance(item, dict) and "proof" not in item and _issuer_id(item) in signers
            ]
            if required or self_asserted:
                raise ProofError(
                    "the presentation names no holder, so nothing ties its signer to the "
                    "credentials it presents"
                    + (
                        f" (credential(s) at index {', '.join(map(str, self_asserted))} are "
                        "the signer's own claims, secured only by this proof: they need a "
                        "holder, VCDM 2.0 4.12.4)"
                        if self_asserted
                        else ""
                    ),
                    code=ErrorCode.HOLDER_BINDING_ERROR,
                    details={"reason": "noHolder"},
                )
            warnings.append(
                "the presentation names no holder: its signer was not shown to be the holder "
                "or the subject of what it presents"
            )
            return CheckResult(
                Check.HOLDER,
                CheckStatus.SKIPPED,
                "not applicable: the presentation names no holder",
                None,
                {"reason": "noHolder"},
            )
        await check_proof_controllers(presentation, resolver, binding="holder")
    except HealthMyDataError as error:
        return CheckResult.failed(Check.HOLDER, error)
    mismatched: list[int] = []
    unbound: list[int] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or _ENVELOPED_TYPE in type_values(item):
            unbound.append(index)
            continue
        ids = _subject_ids(item)
        if any(value is not None and value != holder for value in ids):
            mismatched.append(index)
        elif None in ids:
            unbound.append(index)
    indexes = ", ".join(map(str, mismatched))
    if mismatched and required:
        return CheckResult.failed(
            Check.HOLDER,
            ProofError(
                f"credential(s) at index {indexes} are about another subject than the "
                "presentation's holder",
                code=ErrorCode.HOLDER_BINDING_ERROR,
                details={"reason": "subjectNotHolder", "indexes": mismatched},
            ),
        )
    if unbound:
        warnings.append(
            f"credential(s) at index {', '.join(map(str, unbound))} name no subject id, so "
            "the holder could not be shown to be their subject"
        )
    if mismatched:
        warnings.append(
            f"credential(s) at index {indexes} are about another subject than the "
            "presentation's holder (presenting someone else's credential)"
        )
        return CheckResult.passed(
            Check.HOLDER,
            f"the signing key belongs to the holder {_short(holder)}; credential(s) at index "
            f"{indexes} are about another subject",
            reason="subjectNotHolder",
            indexes=mismatched,
        )
    return CheckResult.passed(
        Check.HOLDER,
        f"the signing key belongs to the holder {_short(holder)}, the credentials' subject",
    )


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
        states = {"revocation": "not revoked", "suspension": "not suspended"}
        summary = ", ".join(sorted({states[r.purpose] for r in results if r.purpose in states}))
        if oldest is not None and oldest.total_seconds() >= 60:
            summary += f" (status list fetched {age_text(oldest)} ago)"
        return summary or "status entries checked"

    return step


def _challenge_step(
    presentation: dict[str, Any], challenge: str | None, domain: str | None
) -> Callable[[], Awaitable[str]]:
    async def step() -> str:
        proofs = proof_objects(presentation)
        if not proofs:
            raise CryptosuiteError(
                "the presentation has no proof to carry this verifier's challenge or domain",
                code=ErrorCode.MALFORMED_PROOF_ERROR,
            )
        for proof in proofs:
            check_challenge_domain(proof, challenge, domain)
        return "challenge and domain match this verifier's request"

    return step
