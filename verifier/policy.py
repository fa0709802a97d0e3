"""Policies: a verification report becomes a decision for one data user's role.

STYLE.md items 4 and 13: primitives raise, :mod:`verifier.verify` reports named checks, and
this module holds the rules per role, versioned (:data:`POLICY_VERSION`) and replaceable.
Credentials carry facts; which facts a role may see, and which failed check it can live with,
is decided here and nowhere else.

===============  ============================================================================
role             rule
===============  ============================================================================
``generic``      accept when every check that ran passed
``emergency``    an EmergencySummary from an accredited hospital (``trust`` must pass), not
                 revoked or suspended, within its validity; accepted offline on cached keys,
                 status and trust, and shows how old they are; a status that cannot be
                 established (offline, stale list) is a warning, not a refusal: in an
                 emergency a card whose status is unknown is more use than none. No holder
                 binding is asked (an unconscious patient cannot sign), but a card's KB-JWT,
                 when present, must verify: it carries the citizen's expiry for the card.
``insurer``      a ClaimEvidence credential from an accredited hospital, holder-bound and
                 nonce-bound, with the fields the claim type needs; the same credential
                 presented for a second claim is refused and flagged in the store, which a
                 unique insert makes correct across replicas on one PostgreSQL
===============  ============================================================================
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from agent.clock import format_datetime, utcnow
from agent.credentials.jcs import canonicalize
from agent.credentials.jose import b64url_decode
from agent.errors import ErrorCode, InvalidInputError, StorageError
from agent.storage import Store
from verifier.report import Check, CheckResult, CheckStatus, VerificationReport

__all__ = [
    "CLAIM_EVIDENCE_CATEGORY",
    "CLAIM_FIELDS",
    "CLAIM_TYPE_MISMATCH",
    "DUPLICATE_FLAG_CATEGORY",
    "EMERGENCY_SECTIONS",
    "MAX_CLAIM_ID_LENGTH",
    "POLICY_VERSION",
    "VCT_CLAIM_EVIDENCE",
    "VCT_EMERGENCY_SUMMARY",
    "Decision",
    "EmergencyPolicy",
    "GenericPolicy",
    "InsurerClaimPolicy",
    "Policy",
    "check_claim",
    "claim_context",
    "evidence_key",
    "with_claim_check",
]

#: The version of these rules; a decision names it, so an audit can tell which rules applied.
POLICY_VERSION: Final = "2026.1"
#: SD-JWT VC types (issuer.templates.CredentialKind.vct; repeated, a verifier imports no issuer).
VCT_EMERGENCY_SUMMARY: Final = "https://w3id.org/health-mydata/vct/EmergencySummary/v1"
VCT_CLAIM_EVIDENCE: Final = "https://w3id.org/health-mydata/vct/ClaimEvidence/v1"
#: The emergency summary's members, in the order a doctor reads them.
EMERGENCY_SECTIONS: Final = (
    "bloodType",
    "allergies",
    "problems",
    "medications",
    "advanceDirective",
    "emergencyContact",
)
#: Fields of a ClaimEvidence credential each claim type needs (FHIR Claim.type codes). Every
#: type needs ``claimType`` itself: it is selectively disclosable, and evidence that withheld
#: it could not be told from evidence for another type of claim (:func:`with_claim_check`).
CLAIM_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "institutional": (
        "claimType",
        "encounter",
        "diagnoses",
        "procedures",
        "charges",
        "chargeTotal",
    ),
    "professional": ("claimType", "diagnoses", "procedures", "charges", "chargeTotal"),
    "oral": ("claimType", "procedures", "charges", "chargeTotal"),
    "pharmacy": ("claimType", "charges", "chargeTotal"),
    "vision": ("claimType", "diagnoses", "charges", "chargeTotal"),
}
#: The code of a failed ``fields`` check when the evidence's ``claimType`` is not the claim's.
CLAIM_TYPE_MISMATCH: Final = str(ErrorCode.CLAIM_TYPE_MISMATCH)
#: The longest claim id accepted (the insurer's own reference for a claim).
MAX_CLAIM_ID_LENGTH: Final = 128
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
CLAIM_EVIDENCE_CATEGORY: Final = "insurer_claim_evidence"
DUPLICATE_FLAG_CATEGORY: Final = "insurer_duplicate_flag"
_TECHNICAL: Final = frozenset({"iss", "iat", "nbf", "exp", "cnf", "status", "vct", "_sd_alg"})


@dataclass(frozen=True, slots=True)
class Decision:
    """What a role's policy makes of a report.

    :param accepted: whether the data user may act on it.
    :param role: the policy's role.
    :param reasons: why (refusals name the failed check); for a person.
    :param show: what the data user may see, and nothing more.
    :param warnings: accepted with reservations (unknown status, old cached data, ...).
    :param ages: seconds since the cached data used was fetched, by kind (``status``,
        ``trust``).
    :param flags: machine-readable marks, such as ``duplicateClaim``.
    """

    accepted: bool
    role: str
    reasons: tuple[str, ...] = ()
    show: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    ages: dict[str, int] = field(default_factory=dict)
    flags: tuple[str, ...] = ()
    policy_version: str = POLICY_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "role": self.role,
            "policyVersion": self.policy_version,
            "reasons": list(self.reasons),
            "show": self.show,
            "warnings": list(self.warnings),
            "ages": self.ages,
            "flags": list(self.flags),
        }


class Policy(Protocol):
    """One role's rules."""

    @property
    def role(self) -> str: ...

    async def decide(self, report: VerificationReport, **context: Any) -> Decision: ...


def _failed(report: VerificationReport, ignore: frozenset[Check] = frozenset()) -> list[str]:
    return [f"{r.check} failed: {r.message}" for r in report.failed if r.check not in ignore] + [
        f"credential {i}: {r.check} failed: {r.message}"
        for i, nested in enumerate(report.credentials)
        for r in nested.failed
    ]


def _holder_rules(report: VerificationReport) -> list[str]:
    """What a role policy refuses in a W3C presentation that generic verification
    (``verify_presentation(require_holder_binding=False)``, decision 0007) lets through: no
    holder, a holder who is not the subject of every credential, a holder's own claim in
    place of an issued credential, no credential at all. Named by check, as :func:`_failed`.
    Empty for other reports (an SD-JWT binds its holder through ``cnf``)."""
    if report.kind != "presentation":
        return []
    reasons: list[str] = []
    holder = report.result(Check.HOLDER)
    if holder is None or holder.status is CheckStatus.SKIPPED:
        reasons.append("holder not established: the presentation's signer must be its holder")
    elif holder.status is CheckStatus.PASSED and holder.details.get("reason") == "subjectNotHolder":
        reasons.append("holder failed: the holder is not the subject of every credential")
    for i, nested in enumerate(report.credentials):
        issuer = nested.result(Check.ISSUER)
        if issuer is not None and issuer.details.get("reason") == "holderClaim":
            reasons.append(f"credential {i}: issuer failed: the holder's own claim, not issued")
    if not report.credentials:
        reasons.append("credentials failed: the presentation holds no credential")
    return reasons


def _ages(report: VerificationReport) -> dict[str, int]:
    ages: dict[str, int] = {}
    for check in (Check.STATUS, Check.TRUST):
        result = report.result(check)
        if result is not None and isinstance(result.details.get("ageSeconds"), int):
            ages[str(check)] = int(result.details["ageSeconds"])
    return ages


def _visible(claims: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (claims or {}).items() if k not in _TECHNICAL}


class GenericPolicy:
    """Accept when every check that ran passed; show the disclosed claims."""

    role = "generic"

    async def decide(self, report: VerificationReport, **context: Any) -> Decision:
        if not report.verified:
            return Decision(False, self.role, tuple(_failed(report)) or ("no check ran",))
        return Decision(
            True,
            self.role,
            ("every check passed",),
            _visible(report.claims),
            report.warnings,
            _ages(report),
        )


def _age_words(seconds: int) -> str:
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


class EmergencyPolicy:
    """The emergency doctor's rules (see the module docstring).

    :param max_status_age: seconds after which cached status is called out as old.
    """

    role = "emergency"

    def __init__(self, *, max_status_age: int = 7 * 86400) -> None:
        self._max_status_age = max_status_age

    async def decide(self, report: VerificationReport, **context: Any) -> Decision:
        reasons: list[str] = []
        warnings = list(report.warnings)
        # Status that could not be established is tolerated; revoked/suspended is not.
        status = report.result(Check.STATUS)
        # No holder binding is required, but a Key Binding JWT that is there must hold: it
        # carries the citizen's own expiry for the card.
        tolerated: set[Check] = {Check.CHALLENGE, Check.FIELDS, Check.PURPOSE}
        if (
            status is not None
            and status.status is CheckStatus.FAILED
            and status.code
            not in (str(ErrorCode.CREDENTIAL_REVOKED), str(ErrorCode.CREDENTIAL_SUSPENDED))
        ):
            tolerated.add(Check.STATUS)
            warnings.append(f"revocation status unknown: {status.message}")
        reasons.extend(_failed(report, frozenset(tolerated)))
        reasons.extend(_holder_rules(report))
        trust = report.result(Check.TRUST)
        if trust is None or trust.status is not CheckStatus.PASSED:
            reasons.append("the issuer's accreditation was not established")
        claims = report.claims or {}
        if report.claims is None:
            # Nothing was verified (the failed checks above say why): what kind of
            # credential it is cannot be told, so it is not called "not a summary".
            if not reasons:
                reasons.append("the card's content could not be verified")
        elif claims.get("vct") != VCT_EMERGENCY_SUMMARY:
            reasons.append("this is not an emergency summary")
        ages = _ages(report)
        for kind, seconds in ages.items():
            if seconds >= 60:
                warnings.append(f"{kind} data is {_age_words(seconds)} old (cached)")
            if kind == "status" and seconds > self._max_status_age:
                warnings.append("the cached status list is older than a week")
        if reasons:
            return Decision(False, self.role, tuple(reasons), {}, tuple(warnings), ages)
        show: dict[str, Any] = {
            section: claims[section] for section in EMERGENCY_SECTIONS if section in claims
        }
        iat = claims.get("iat")
        if isinstance(iat, int | float):
            show["issuedAt"] = format_datetime(datetime.fromtimestamp(iat, UTC))
        show["issuer"] = report.issuer
        missing = [s for s in EMERGENCY_SECTIONS if s not in claims]
        if missing:
            warnings.append("not shown (no information, or not disclosed): " + ", ".join(missing))
        return Decision(
            True,
            self.role,
            ("an accredited hospital issued this emergency summary",),
            show,
            tuple(warnings),
            ages,
        )


def evidence_key(presentation: str | Mapping[str, Any]) -> str:
    """A stable key for one claim evidence credential, whatever was disclosed of it: the
    credential's id and a hash of what its issuer signed.

    For an SD-JWT, ``iss`` and the SHA-256 of the Issuer-signed JWT (the same for every
    presentation of it); for a W3C credential, its ``id`` and the SHA-256 of its JCS form.
    """
    if isinstance(presentation, str):
        issuer_jwt = presentation.strip().split("~", 1)[0]
        digest = hashlib.sha256(issuer_jwt.encode("ascii", "replace")).hexdigest()
        try:
            payload = json.loads(b64url_decode(issuer_jwt.split(".")[1], "issuerJwt"))
            identifier = str(payload.get("jti") or payload.get("iss") or "")
        except Exception:
            identifier = ""
        return f"{identifier}#{digest}"
    unsecured = {k: v for k, v in presentation.items() if k != "proof"}
    digest = hashlib.sha256(canonicalize(unsecured)).hexdigest()
    return f"{presentation.get('id', '')}#{digest}"


class InsurerClaimPolicy:
    """The insurer's rules for claim evidence (see the module docstring).

    :param store: the insurer's askar store (shared by replicas on PostgreSQL).
    :param claim_fields: the fields each claim type needs.
    """

    role = "insurer"

    def __init__(
        self, store: Store, *, claim_fields: Mapping[str, tuple[str, ...]] = CLAIM_FIELDS
    ) -> None:
        self._store = store
        self._fields = dict(claim_fields)

    @property
    def claim_types(self) -> frozenset[str]:
        """The claim types this policy knows the fields of."""
        return frozenset(self._fields)

    def required_fields(self, claim_type: str) -> tuple[str, ...]:
        """The fields a claim type needs.

        :raises InvalidInputError: ``invalidInput`` for a claim type this policy does not
            know: evidence is never checked against another type's fields in its place.
        """
        if claim_type not in self._fields:
            raise InvalidInputError(
                f"unknown claim type; one of {', '.join(sorted(self._fields))}",
                details={"field": "claim_type", "allowed": sorted(self._fields)},
            )
        return self._fields[claim_type]

    async def decide(self, report: VerificationReport, **context: Any) -> Decision:
        """:param context: ``claim_type``, ``claim_id`` (the insurer's claim this evidence
        supports) and ``evidence_key`` (:func:`evidence_key` of the presentation).

        An unknown or missing claim type is a refusal, and so is evidence whose disclosed
        ``claimType`` is another (:func:`with_claim_check`, applied here too in case the
        caller did not, so that its report shows the failed check).
        """
        claim_type = str(context.get("claim_type") or "")
        claim_id = str(context.get("claim_id") or "")
        key = str(context.get("evidence_key") or "")
        now: datetime = context.get("now") or utcnow()
        report = with_claim_check(self, report, claim_type)
        # A failed purpose check is a refusal: data asked for one purpose is not used for
        # another (a skipped one, a desk check with no request, is not a failure).
        reasons = _failed(report)
        reasons.extend(_holder_rules(report))
        trust = report.result(Check.TRUST)
        if trust is None or trust.status is not CheckStatus.PASSED:
            reasons.append("the issuer's accreditation was not established")
        claims = report.claims or {}
        if claims and claims.get("vct", VCT_CLAIM_EVIDENCE) != VCT_CLAIM_EVIDENCE:
            reasons.append("this is not claim evidence")
        needed: tuple[str, ...] = ()
        if claim_type in self._fields:
            needed = self.required_fields(claim_type)
        else:
            reasons.append(
                f"unknown claim type; the insurer knows {', '.join(sorted(self._fields))}"
            )
        missing = [f for f in needed if f not in claims]
        if missing and report.claims is not None:
            reasons.append(f"{_article(claim_type)} {claim_type} claim needs: {', '.join(missing)}")
        elif missing:
            # No verified claims at all (the signature did not verify): the fields may be
            # there, but nothing in them can be used; the failed checks above say why.
            reasons.append(
                f"the fields {_article(claim_type)} {claim_type} claim needs could not be verified"
            )
        if not claim_id or not key:
            reasons.append("a claim id and the evidence key are needed to detect duplicates")
        ages = _ages(report)
        if reasons:
            return Decision(False, self.role, tuple(reasons), {}, report.warnings, ages)
        duplicate_of = await self._register(key, claim_id, claim_type, now)
        if duplicate_of is not None:
            return Decision(
                False,
                self.role,
                (
                    f"this claim evidence was presented already for claim {duplicate_of}; "
                    "flagged for review",
                ),
                {},
                report.warnings,
                ages,
                (str(ErrorCode.DUPLICATE_CLAIM),),
            )
        show = {f: claims[f] for f in needed if f in claims}
        if "claimType" in claims:
            show["claimType"] = claims["claimType"]
        return Decision(
            True,
            self.role,
            (
                f"accredited evidence for {_article(claim_type)} {claim_type} claim, "
                "first presentation",
            ),
            show,
            report.warnings,
            ages,
        )

    async def _register(
        self, key: str, claim_id: str, claim_type: str, now: datetime
    ) -> str | None:
        """Record ``key`` for ``claim_id``; the earlier claim's id when another claim has it.

        The insert is the arbiter: of two replicas inserting the same key at once, the
        database lets one win and the other gets ``storeDuplicate``.
        """
        name = hashlib.sha256(key.encode("utf-8")).hexdigest()
        value = {"claimId": claim_id, "claimType": claim_type, "first": format_datetime(now)}
        try:
            async with self._store.transaction() as txn:
                await txn.insert(CLAIM_EVIDENCE_CATEGORY, name, value)
                await txn.commit()
            return None
        except StorageError as exc:
            if exc.code is not ErrorCode.STORE_DUPLICATE:
                raise
        async with self._store.session() as session:
            record = await session.get(CLAIM_EVIDENCE_CATEGORY, name)
            earlier = str(record.json()["claimId"])
            if earlier == claim_id:
                return None  # the same claim submitted again: idempotent
            await session.insert(
                DUPLICATE_FLAG_CATEGORY,
                str(uuid.uuid4()),
                {
                    "evidence": name,
                    "claimId": claim_id,
                    "firstClaimId": earlier,
                    "at": format_datetime(now),
                },
                {"evidence": name},
            )
        return earlier

    async def flags(self) -> list[dict[str, Any]]:
        """Every duplicate flagged so far (for review)."""
        async with self._store.session() as session:
            records = await session.fetch_all(DUPLICATE_FLAG_CATEGORY)
        return [dict(r.json()) for r in records]


def _article(word: str) -> str:
    """``an`` before a vowel (an institutional claim, an oral claim), else ``a``."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def check_claim(
    claim_id: object,
    claim_type: object,
    *,
    claim_types: Collection[str] = tuple(CLAIM_FIELDS),
    code: ErrorCode = ErrorCode.REQUEST_INVALID,
    names: tuple[str, str] = ("claim_id", "claim_type"),
) -> dict[str, str]:
    """The insurer's claim, checked: ``claim_id`` a non-empty string of at most
    :data:`MAX_CLAIM_ID_LENGTH` characters without control characters, ``claim_type`` one of
    ``claim_types``.

    The one check of a claim for every way in: ``POST /presentation-requests`` and the DIDComm
    request-presentation (through :func:`claim_context`) and ``mydata insurer verify``, so
    that evidence is never verified for a claim nobody named or a type nobody defined.

    :param code: the error code (``presentationRequestInvalid`` for a request).
    :param names: what the caller calls the two (JSON members, or command-line options).
    :returns: ``{"claim_id", "claim_type"}``.
    :raises InvalidInputError: ``code``, ``details.field`` naming the member at fault.
    """
    if (
        not isinstance(claim_id, str)
        or not claim_id.strip()
        or len(claim_id) > MAX_CLAIM_ID_LENGTH
        or _CONTROL.search(claim_id)
    ):
        raise InvalidInputError(
            f"the insurer role needs {names[0]}: a non-empty string of at most "
            f"{MAX_CLAIM_ID_LENGTH} characters, without control characters",
            code=code,
            details={"field": "claim_id"},
        )
    known = sorted(claim_types)
    if not isinstance(claim_type, str) or claim_type not in known:
        raise InvalidInputError(
            f"the insurer role needs {names[1]}, one of {', '.join(known)}",
            code=code,
            details={"field": "claim_type", "allowed": known},
        )
    return {"claim_id": claim_id, "claim_type": claim_type}


def claim_context(
    policy: object, claim_id: object = None, claim_type: object = None
) -> dict[str, str]:
    """The claim a request is made for, checked against the role's ``policy``: for the
    insurer's (:class:`InsurerClaimPolicy`) ``claim_id`` and ``claim_type`` (one the policy
    knows) are both required (:func:`check_claim`); other roles take neither.

    :returns: ``{"claim_id", "claim_type"}``, or ``{}`` for a role without claims.
    :raises InvalidInputError: ``presentationRequestInvalid``, ``details.field`` naming the
        member at fault.
    """
    if not isinstance(policy, InsurerClaimPolicy):
        for name, value in (("claim_id", claim_id), ("claim_type", claim_type)):
            if value is not None:
                raise InvalidInputError(
                    f"{name} is for the insurer role only",
                    code=ErrorCode.REQUEST_INVALID,
                    details={"field": name},
                )
        return {}
    return check_claim(claim_id, claim_type, claim_types=policy.claim_types)


def with_claim_check(
    policy: object, report: VerificationReport, claim_type: object
) -> VerificationReport:
    """``report`` with a failed ``fields`` check (:data:`CLAIM_TYPE_MISMATCH`) when the
    insurer's ``policy`` is deciding a claim and the evidence's disclosed ``claimType`` is
    another: evidence for an institutional claim does not support a pharmacy claim, though it
    holds every field a pharmacy claim needs.

    Unchanged for another role and when the check is already there. Evidence that does not
    disclose ``claimType`` (withheld, or a record without a Claim) fails the ``fields`` check
    already: every claim type requires it (:data:`CLAIM_FIELDS`), so withholding it cannot
    pass institutional evidence off as a pharmacy claim's.
    """
    if not isinstance(policy, InsurerClaimPolicy) or not isinstance(claim_type, str):
        return report
    disclosed = (report.claims or {}).get("claimType")
    if disclosed is None or disclosed == claim_type:
        return report
    if any(r.code == CLAIM_TYPE_MISMATCH for r in report.results):
        return report
    # Name the evidence's type only when it is one of ours: it is the issuer's text.
    other = str(disclosed) if disclosed in policy.claim_types else "another type of"
    mismatch = CheckResult(
        Check.FIELDS,
        CheckStatus.FAILED,
        f"the evidence is for {_article(other)} {other} claim, not for "
        f"{_article(claim_type)} {claim_type} claim",
        CLAIM_TYPE_MISMATCH,
        {"field": "claimType"},
    )
    return replace(report, results=(*report.results, mismatch))
