"""Trust in parties: the public operator's trust list and accreditation credentials.

A valid signature says only that *someone* holding a key signed. Whether that someone is a
hospital (for a verifier) or an accredited data user (for a wallet asked for data) is a
separate question (STYLE.md item 13: "the trust framework layered on top"), answered here: a
verifier or wallet is configured with the DIDs of the operators it trusts, never "any valid
signature" (DESIGN.md section 2). This is the party-neutral core; :mod:`verifier.trust` adds the
verification report's ``trust`` check, and :mod:`agent.trustsync` fetches from the operator.
An operator publishes:

* **accreditation credentials** (W3C VC 2.0, Data Integrity), one per accredited party::

    {"type": ["VerifiableCredential", "AccreditedHealthcareProvider"],
     "issuer": "<operator DID>", "validFrom": ..., "validUntil": ...,
     "credentialSubject": {"id": "<hospital DID>",
                           "accreditedRole": "AccreditedHealthcareProvider",
                           "jurisdiction": "NO"},
     "credentialStatus": [...Bitstring Status List, so it can be revoked...]}

  with types ``AccreditedHealthcareProvider``, ``LicensedClinician``, ``CertifiedDataBroker``
  and ``AccreditedDataUser`` (terms of ``https://w3id.org/health-mydata/v1``);
* a signed **trust list**: a VC issued by the operator whose subject lists the accredited
  DIDs, each with its role and the id of its accreditation credential::

    {"type": ["VerifiableCredential"], "issuer": "<operator DID>", "validUntil": ...,
     "credentialSubject": {"id": "<operator DID>", "trustListEntry": [
        {"id": "<hospital DID>", "accreditedRole": "AccreditedHealthcareProvider",
         "accreditation": "urn:uuid:..."}]}}

:class:`TrustRegistry` loads both (each must verify and be issued by a configured operator),
and :meth:`TrustRegistry.check_issuer` answers "is this DID accredited for this role, by whom,
and is that accreditation still in force?" as a :class:`TrustDecision`. A revoked, suspended
or expired accreditation outweighs a trust list entry naming it. For the offline emergency
story the registry exports everything to a JSON file and imports it again; decisions then say
how old the data is.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from agent.clock import DEFAULT_MAX_CLOCK_SKEW, Clock, format_datetime, parse_datetime, utcnow
from agent.credentials.model import check_validity_period, type_values, validate_credential
from agent.credentials.proofs import verify_proofs
from agent.errors import CredentialError, ErrorCode, HealthMyDataError, StatusError
from agent.keys.signer import KeyResolver
from agent.status import StatusChecker

__all__ = [
    "ACCREDITATION_TYPES",
    "DEFAULT_ROLE",
    "TrustDecision",
    "TrustRegistry",
    "age_text",
]

#: The accreditation credential types (and roles) an operator issues.
ACCREDITATION_TYPES: Final = frozenset(
    {
        "AccreditedHealthcareProvider",
        "LicensedClinician",
        "CertifiedDataBroker",
        "AccreditedDataUser",
    }
)
#: The role an issuer of health credentials must have.
DEFAULT_ROLE: Final = "AccreditedHealthcareProvider"
_EXPORT_VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class TrustDecision:
    """Whether an issuer is accredited for a role, and on what grounds.

    :param trusted: accredited, by a trusted operator, accreditation in force.
    :param issuer: the DID asked about.
    :param role: the role asked for.
    :param operator: the operator whose list or credential accredits it.
    :param accreditation: the accreditation credential's id, when known.
    :param reason: for a person: why (not) trusted.
    :param code: the error code when not trusted (``issuerNotTrusted``,
        ``credentialRevoked``, ``credentialSuspended``, ``RANGE_ERROR``, ...).
    :param age: how old the trust data used is (since it was fetched or loaded).
    """

    trusted: bool
    issuer: str
    role: str
    operator: str | None = None
    accreditation: str | None = None
    reason: str = ""
    code: str | None = None
    age: timedelta | None = None

    def raise_unless_trusted(self) -> None:
        """:raises CredentialError: with :attr:`code` when not trusted."""
        if not self.trusted:
            raise CredentialError(
                self.reason,
                code=ErrorCode(self.code) if self.code else ErrorCode.ISSUER_NOT_TRUSTED,
                details={"issuer": self.issuer, "role": self.role},
            )


def age_text(age: timedelta) -> str:
    """How old something is, for a person: ``12 min``, ``3 h 5 min`` or ``2 d 4 h``."""
    seconds = int(age.total_seconds())
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


@dataclass(frozen=True, slots=True)
class _Signed:
    document: dict[str, Any]
    operator: str
    loaded_at: datetime


def _invalid(message: str, **details: Any) -> CredentialError:
    return CredentialError(message, code=ErrorCode.TRUST_LIST_INVALID, details=details)


def _subject(document: Mapping[str, Any]) -> dict[str, Any]:
    subject = document.get("credentialSubject")
    if not isinstance(subject, dict):
        raise _invalid("a trust list or accreditation has exactly one credentialSubject object")
    return subject


def _issuer_id(document: Mapping[str, Any]) -> str | None:
    issuer = document.get("issuer")
    if isinstance(issuer, dict):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) else None


class TrustRegistry:
    """The operators a party (verifier or wallet) trusts, and what they published.

    :param operator_dids: the operator DIDs trusted; nothing else is.
    :param resolver: dereferences the operators' keys (cache their DID documents for offline
        use with :meth:`agent.dids.DIDResolver.add_document`; did:key needs nothing).
    :param status_checker: checks accreditation credentials' status lists; without one their
        status is not checked, and decisions say so.
    :param clock: the current time, for ages.
    """

    def __init__(
        self,
        operator_dids: Collection[str],
        resolver: KeyResolver,
        status_checker: StatusChecker | None = None,
        *,
        clock: Clock = utcnow,
        max_clock_skew: timedelta = DEFAULT_MAX_CLOCK_SKEW,
    ) -> None:
        if not operator_dids:
            raise ValueError("a TrustRegistry needs at least one trusted operator DID")
        self._operators = frozenset(operator_dids)
        self._resolver = resolver
        self._status = status_checker
        self._clock = clock
        self._skew = max_clock_skew
        self._lists: dict[str, _Signed] = {}  # by operator
        self._accreditations: dict[str, _Signed] = {}  # by credential id

    @property
    def operators(self) -> frozenset[str]:
        return self._operators

    @property
    def fetched_at(self) -> datetime | None:
        """When the oldest trust list held was obtained (``None`` when none is loaded)."""
        return min((s.loaded_at for s in self._lists.values()), default=None)

    def entries(self) -> list[dict[str, Any]]:
        """The trust list entries held, each with its ``operator``."""
        return [
            {**entry, "operator": signed.operator}
            for signed in self._lists.values()
            for entry in _subject(signed.document)["trustListEntry"]
        ]

    def adopt(self, other: TrustRegistry) -> None:
        """Hold exactly what ``other`` holds (a refresh built and verified it first), so that
        holders of this object see the new data at once and never a half-loaded state."""
        if other.operators != self._operators:
            raise ValueError("adopt needs a registry of the same operators")
        self._lists, self._accreditations = dict(other._lists), dict(other._accreditations)

    # --- loading --------------------------------------------------------------------------

    async def _verify(
        self, document: object, what: str, now: datetime
    ) -> tuple[dict[str, Any], str]:
        if not isinstance(document, dict):
            raise _invalid(f"the {what} is not a JSON object")
        try:
            validate_credential(document)
            await verify_proofs(
                document, self._resolver, now=now, max_clock_skew=self._skew, binding="issuer"
            )
        except HealthMyDataError as exc:
            raise _invalid(
                f"the {what} does not verify: {exc.message}", cause=str(exc.code)
            ) from exc
        operator = _issuer_id(document)
        if operator not in self._operators:
            raise CredentialError(
                f"the {what} is issued by {operator!r}, which is not a trusted operator (a forged "
                "or foreign accreditation)",
                code=ErrorCode.ISSUER_NOT_TRUSTED,
                details={"issuer": str(operator)[:200], "reason": "notAnOperator"},
            )
        return document, operator

    async def load_trust_list(
        self, trust_list: object, *, fetched_at: datetime | None = None
    ) -> int:
        """Verify and keep an operator's signed trust list (replacing its previous one).

        :param fetched_at: when it was obtained from the operator (for its age); default now.
        :returns: the number of entries.
        :raises CredentialError: ``trustListInvalid`` (does not verify, malformed),
            ``issuerNotTrusted`` (not signed by a trusted operator).
        """
        now = self._clock()
        document, operator = await self._verify(trust_list, "trust list", now)
        entries = _subject(document).get("trustListEntry")
        if not isinstance(entries, list):
            raise _invalid("the trust list's subject has no trustListEntry list")
        for entry in entries:
            if not (
                isinstance(entry, dict)
                and isinstance(entry.get("id"), str)
                and entry.get("accreditedRole") in ACCREDITATION_TYPES
            ):
                raise _invalid(
                    "each trustListEntry is an object with a DID id and an accreditedRole of "
                    + ", ".join(sorted(ACCREDITATION_TYPES))
                )
        self._lists[operator] = _Signed(document, operator, fetched_at or now)
        return len(entries)

    async def add_accreditation(
        self, credential: object, *, fetched_at: datetime | None = None
    ) -> str:
        """Verify and keep an accreditation credential; returns its id.

        :raises CredentialError: ``trustListInvalid`` (does not verify, no id, no
            accreditation type), ``issuerNotTrusted`` (not issued by a trusted operator).
        """
        now = self._clock()
        document, operator = await self._verify(credential, "accreditation credential", now)
        roles = ACCREDITATION_TYPES & set(type_values(document))
        credential_id = document.get("id")
        if not roles or not isinstance(credential_id, str):
            raise _invalid(
                "an accreditation credential has an id and one of the types "
                + ", ".join(sorted(ACCREDITATION_TYPES))
            )
        if not isinstance(_subject(document).get("id"), str):
            raise _invalid("an accreditation credential's subject needs the accredited DID as id")
        self._accreditations[credential_id] = _Signed(document, operator, fetched_at or now)
        return credential_id

    # --- deciding -------------------------------------------------------------------------

    async def check_issuer(
        self, issuer_did: str, required_role: str = DEFAULT_ROLE, *, now: datetime | None = None
    ) -> TrustDecision:
        """Is ``issuer_did`` accredited for ``required_role`` by a trusted operator, with its
        accreditation in force at ``now``? Never raises for an untrusted issuer: the decision
        says why.
        """
        at = now or self._clock()
        refusals: list[TrustDecision] = []
        # Accreditation credentials first: they carry validity and status.
        for signed in self._accreditations.values():
            document = signed.document
            subject = _subject(document)
            if subject.get("id") != issuer_did or required_role not in type_values(document):
                continue
            decision = await self._accreditation_in_force(signed, issuer_did, required_role, at)
            if decision.trusted:
                return decision
            refusals.append(decision)
        for signed in self._lists.values():
            document = signed.document
            try:
                check_validity_period(document, now=at, max_clock_skew=self._skew)
            except HealthMyDataError:
                refusals.append(
                    self._refuse(
                        issuer_did,
                        required_role,
                        "the operator's trust list has expired; load a current one",
                        ErrorCode.RANGE_ERROR,
                        signed,
                        at,
                    )
                )
                continue
            for entry in _subject(document)["trustListEntry"]:
                if entry.get("id") != issuer_did or entry.get("accreditedRole") != required_role:
                    continue
                accreditation = entry.get("accreditation")
                named = (
                    self._accreditations.get(accreditation)
                    if isinstance(accreditation, str)
                    else None
                )
                note = ""
                if named is not None:
                    decision = await self._accreditation_in_force(
                        named, issuer_did, required_role, at
                    )
                    # The list is the operator's signed statement of the accreditations in
                    # force (re-signed when one is revoked): when only the accreditation's
                    # status list cannot be fetched, the list decides, and says so.
                    if decision.code == str(ErrorCode.STATUS_RETRIEVAL_ERROR):
                        note = " (the accreditation's status list could not be fetched)"
                    elif not decision.trusted:
                        refusals.append(decision)
                        continue
                return TrustDecision(
                    trusted=True,
                    issuer=issuer_did,
                    role=required_role,
                    operator=signed.operator,
                    accreditation=accreditation if isinstance(accreditation, str) else None,
                    reason=f"listed as {required_role} in the trust list of {signed.operator}"
                    + note,
                    age=at - signed.loaded_at,
                )
        if refusals:
            return refusals[0]
        return TrustDecision(
            trusted=False,
            issuer=issuer_did,
            role=required_role,
            reason=f"no trusted operator accredits the party as {required_role}",
            code=str(ErrorCode.ISSUER_NOT_TRUSTED),
        )

    async def _accreditation_in_force(
        self, signed: _Signed, issuer: str, role: str, at: datetime
    ) -> TrustDecision:
        document = signed.document
        try:
            check_validity_period(document, now=at, max_clock_skew=self._skew)
        except HealthMyDataError as exc:
            return self._refuse(
                issuer,
                role,
                f"the accreditation is not in force: {exc.message}",
                exc.code,
                signed,
                at,
            )
        status_note = ""
        if "credentialStatus" in document:
            if self._status is None:
                status_note = " (its status was not checked)"
            else:
                try:
                    results = await self._status.check(document, now=at)
                except StatusError as exc:
                    return self._refuse(
                        issuer,
                        role,
                        f"the accreditation's status is unknown: {exc.message}",
                        exc.code,
                        signed,
                        at,
                    )
                for result in results:
                    if result.set and result.purpose in {"revocation", "suspension"}:
                        revoked = result.purpose == "revocation"
                        return self._refuse(
                            issuer,
                            role,
                            f"the operator has {'revoked' if revoked else 'suspended'} the "
                            "issuer's accreditation",
                            ErrorCode.CREDENTIAL_REVOKED
                            if revoked
                            else ErrorCode.CREDENTIAL_SUSPENDED,
                            signed,
                            at,
                        )
        return TrustDecision(
            trusted=True,
            issuer=issuer,
            role=role,
            operator=signed.operator,
            accreditation=str(document.get("id")),
            reason=f"accredited as {role} by {signed.operator}{status_note}",
            age=at - signed.loaded_at,
        )

    @staticmethod
    def _refuse(
        issuer: str, role: str, reason: str, code: ErrorCode, signed: _Signed, at: datetime
    ) -> TrustDecision:
        return TrustDecision(
            trusted=False,
            issuer=issuer,
            role=role,
            operator=signed.operator,
            accreditation=str(signed.document.get("id")) if "id" in signed.document else None,
            reason=reason,
            code=str(code),
            age=at - signed.loaded_at,
        )

    # --- offline cache --------------------------------------------------------------------

    def export(self) -> dict[str, Any]:
        """Everything loaded, as JSON, with when each was obtained."""
        return {
            "version": _EXPORT_VERSION,
            "operators": sorted(self._operators),
            "trustLists": [
                {"document": s.document, "fetchedAt": format_datetime(s.loaded_at)}
                for s in self._lists.values()
            ],
            "accreditations": [
                {"document": s.document, "fetchedAt": format_datetime(s.loaded_at)}
                for s in self._accreditations.values()
            ],
        }

    async def import_(self, data: Mapping[str, Any]) -> None:
        """Load an :meth:`export`; each document is verified again (a cache file is input
        like any other), and keeps its original ``fetchedAt`` so that its age shows.

        :raises CredentialError: as :meth:`load_trust_list` and :meth:`add_accreditation`.
        """
        if not isinstance(data, Mapping) or data.get("version") != _EXPORT_VERSION:
            raise _invalid(f"not a trust cache of version {_EXPORT_VERSION}")
        for item in data.get("trustLists", []):
            await self.load_trust_list(
                item["document"], fetched_at=parse_datetime(item["fetchedAt"])
            )
        for item in data.get("accreditations", []):
            await self.add_accreditation(
                item["document"], fetched_at=parse_datetime(item["fetchedAt"])
            )

    def save(self, path: str | Path) -> None:
        """Write :meth:`export` to a JSON file."""
        Path(path).write_text(json.dumps(self.export(), indent=1), encoding="utf-8")
