"""The public operator: a root DID, accreditation credentials, a status list and a trust list.

:class:`Operator` holds what the operator keeps in its askar store (it holds no health data):

- its **identity**: a root DID, ``did:key`` Ed25519 by default (nothing to host, resolvable
  offline by every verifier) or ``did:web`` (served by its own service), and its signing key;
- one **accreditation record** per accreditation credential it issued (the signed credential,
  the subject, the role and its state), each credential with a revocation and a suspension
  entry in the operator's own Bitstring Status Lists (:class:`agent.status.StatusListAllocator`);
- **registrations**: a party asks to be accredited by proving control of its DID (DID-auth: a
  presentation signed for ``authentication`` over a single-use challenge the operator issued);
  an administrator approves (an accreditation is issued) or rejects it.

The documents are exactly what :class:`agent.trust.TrustRegistry` loads: accreditation
credentials typed with their role, and a signed trust list whose subject's ``trustListEntry``
names every accreditation in force. Everything here is a library; the HTTP service
(:mod:`governance.api`) and the CLI (:mod:`governance.cli`) only carry it.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

import httpx

from agent.clock import DEFAULT_MAX_CLOCK_SKEW, Clock, format_datetime, parse_datetime, utcnow
from agent.credentials import (
    CREDENTIALS_V2_CONTEXT,
    HEALTH_V1,
    add_proof,
    check_terms,
    validate_credential,
    validate_presentation,
    verify_proofs,
)
from agent.dids import DIDResolver, build_did_web_document, check_did
from agent.errors import DIDError, ErrorCode, InvalidInputError, ProofError
from agent.identity import create_identity
from agent.keys import AskarKeyStore, AskarSigner, KeyType, decode_multikey
from agent.status import StatusListAllocator
from agent.storage import Store
from agent.storeowner import refuse_other_party
from governance.audit import OperatorAudit, OperatorEvent

__all__ = [
    "CHALLENGE_LIFETIME",
    "ROLES",
    "Accreditation",
    "AccreditationState",
    "Operator",
    "Registration",
    "RegistrationState",
]

#: The accreditation credential types (and roles) the operator issues.
ROLES: Final = frozenset(
    {
        "AccreditedHealthcareProvider",
        "LicensedClinician",
        "CertifiedDataBroker",
        "AccreditedDataUser",
    }
)
#: How long a registration challenge may be used (once).
CHALLENGE_LIFETIME: Final = timedelta(minutes=10)
#: How long a signed trust list is valid; verifiers fetch a new one before it expires.
TRUST_LIST_LIFETIME: Final = timedelta(days=1)

_IDENTITY = ("operator", "identity")
_ACCREDITATION = "operator-accreditation"
_REGISTRATION = "operator-registration"
_CHALLENGE = "operator-challenge"
_MAX_NAME = 200


class AccreditationState(StrEnum):
    """An accreditation's state as the operator records it (its status list is the truth for
    verifiers; ``expired`` is computed from ``validUntil``)."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    EXPIRED = "expired"


class RegistrationState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


_STATUS_ACTIONS: Final = frozenset({"revoked", "suspended", "active"})


@dataclass(frozen=True)
class Accreditation:
    """One accreditation credential the operator issued, and its state."""

    id: str
    subject: str
    role: str
    name: str
    state: AccreditationState
    valid_until: str
    credential: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        """The listing form: identifiers and state, not the credential."""
        return {
            "id": self.id,
            "subject": self.subject,
            "role": self.role,
            "name": self.name,
            "state": str(self.state),
            "validUntil": self.valid_until,
        }


@dataclass(frozen=True)
class Registration:
    """A party's request to be accredited, after it proved control of its DID.

    :param did_checked: how the DID's key was found: ``resolved`` (the DID was resolved) or
        ``submitted document`` (a did:web not served yet: the applicant sent its document;
        the administrator should check the domain before approving).
    """

    id: str
    did: str
    role: str
    name: str
    state: RegistrationState
    created: str
    did_checked: str
    accreditation_id: str | None = None
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "did": self.did,
            "role": self.role,
            "name": self.name,
            "state": str(self.state),
            "created": self.created,
            "didChecked": self.did_checked,
            "accreditationId": self.accreditation_id,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Registration:
        return cls(
            id=str(data["id"]),
            did=str(data["did"]),
            role=str(data["role"]),
            name=str(data["name"]),
            state=RegistrationState(data["state"]),
            created=str(data["created"]),
            did_checked=str(data["didChecked"]),
            accreditation_id=data.get("accreditationId"),
            reason=str(data.get("reason", "")),
        )


def _check_role(role: object) -> str:
    if role not in ROLES:
        raise InvalidInputError(
            f"unknown accreditation role {str(role)[:60]!r}; use one of {', '.join(sorted(ROLES))}",
            details={"role": str(role)[:60]},
        )
    return str(role)


def _check_name(name: object, *, what: str = "a name") -> str:
    if not isinstance(name, str) or len(name) > _MAX_NAME:
        raise InvalidInputError(f"{what} is a string of at most {_MAX_NAME} characters")
    return name


def _not_found(what: str, identifier: str) -> InvalidInputError:
    return InvalidInputError(
        f"no {what} with that id here", code=ErrorCode.NOT_FOUND, details={"id": identifier[:100]}
    )


class Operator:
    """The public operator over its askar store (see the module docstring).

    :param insecure_http_hosts: hosts whose did:web may be fetched over plain http when
        checking an applicant's DID (local testing only).
    :param http: the client for resolving applicants' did:web; one is made per call if absent.
    """

    def __init__(
        self,
        store: Store,
        *,
        did: str,
        base_url: str,
        name: str = "",
        jurisdiction: str = "",
        clock: Clock = utcnow,
        insecure_http_hosts: frozenset[str] = frozenset(),
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.store = store
        self.did = did
        self.base_url = base_url.rstrip("/")
        self.name = name
        self.jurisdiction = jurisdiction
        self.clock = clock
        self.keys = AskarKeyStore(store)
        self.status = StatusListAllocator(
            store, issuer=did, base_url=f"{self.base_url}/status-lists"
        )
        self.insecure_http_hosts = insecure_http_hosts
        self.audit = OperatorAudit(store, clock=clock)
        self._http = http
        self._signer: AskarSigner | None = None

    # --- identity ---------------------------------------------------------------------------

    @classmethod
    async def init(
        cls,
        store: Store,
        *,
        base_url: str,
        did_method: str = "key",
        name: str = "",
        jurisdiction: str = "",
        clock: Clock = utcnow,
        insecure_http_hosts: frozenset[str] = frozenset(),
    ) -> Operator:
        """Create the operator's root key and DID in an empty store (idempotent: an existing
        identity is returned unchanged).

        :raises InvalidInputError: an unknown DID method, a base URL did:web cannot use, or a
            store that belongs to another party (:mod:`agent.storeowner`).
        """
        existing = await cls.load(store, clock=clock, insecure_http_hosts=insecure_http_hosts)
        if existing is not None:
            return existing
        _check_name(name)
        await refuse_other_party(
            store, party="the operator", own=_IDENTITY[0], command="mydata operator init"
        )
        did, multikey = await create_identity(
            store,
            _IDENTITY,
            party="the operator",
            base_url=base_url,
            did_method=did_method,
            insecure_http_hosts=insecure_http_hosts,
            extra={"name": name, "jurisdiction": jurisdiction, "created": format_datetime(clock())},
        )
        operator = cls(
            store,
            did=did,
            base_url=base_url,
            name=name,
            jurisdiction=jurisdiction,
            clock=clock,
            insecure_http_hosts=insecure_http_hosts,
        )
        await operator.audit.append(OperatorEvent.OPERATOR_CREATED, did=did, key=multikey)
        return operator

    @classmethod
    async def load(
        cls,
        store: Store,
        *,
        clock: Clock = utcnow,
        insecure_http_hosts: frozenset[str] = frozenset(),
        http: httpx.AsyncClient | None = None,
    ) -> Operator | None:
        """The operator in ``store``, or ``None`` when ``init`` never ran on it."""
        async with store.session() as session:
            record = await session.fetch(*_IDENTITY)
        if record is None:
            return None
        identity = record.json()
        return cls(
            store,
            did=str(identity["did"]),
            base_url=str(identity["base_url"]),
            name=str(identity.get("name", "")),
            jurisdiction=str(identity.get("jurisdiction", "")),
            clock=clock,
            insecure_http_hosts=insecure_http_hosts,
            http=http,
        )

    async def signer(self) -> AskarSigner:
        """The operator's signing key (its root DID's key)."""
        if self._signer is None:
            async with self.store.session() as session:
                identity = (await session.get(*_IDENTITY)).json()
            multikey = str(identity["active_key"])
            self._signer = await self.keys.signer(
                multikey, verification_method=f"{self.did}#{multikey}"
            )
        return self._signer

    async def did_document(self) -> dict[str, Any]:
        """The document served at the did:web URL.

        :raises InvalidInputError: ``notFound`` when the operator's DID is not a did:web.
        """
        if not self.did.startswith("did:web:"):
            raise InvalidInputError(
                "the operator's DID is not a did:web; resolve it directly",
                code=ErrorCode.NOT_FOUND,
            )
        infos = await self.keys.keys_for(self.did)
        keys = [
            (info.key_type, decode_multikey(info.multikey)[1])
            for info in infos
            if not info.retired and info.key_type is KeyType.ED25519_PUB
        ]
        return build_did_web_document(self.did, keys)

    # --- accreditations ---------------------------------------------------------------------

    async def accredit(
        self,
        subject: str,
        role: str,
        *,
        name: str = "",
        valid_for: timedelta = timedelta(days=365),
    ) -> Accreditation:
        """Issue an accreditation credential for ``subject`` (a DID) in ``role``, with a
        revocation and a suspension entry.

        :raises InvalidInputError: an unknown role, a subject that is not a DID, a bad name
            or a validity that is not positive.
        """
        subject = check_did(subject)
        role = _check_role(role)
        name = _check_name(name)
        if valid_for <= timedelta(0):
            raise InvalidInputError("an accreditation's validity must be positive")
        now = self.clock()
        entries = []
        for purpose in ("revocation", "suspension"):
            list_id, index = await self.status.allocate(purpose)
            entries.append(self.status.entry(list_id, index, purpose))
        claims: dict[str, Any] = {"id": subject, "accreditedRole": role}
        if name:
            claims["name"] = name
        if self.jurisdiction:
            claims["jurisdiction"] = self.jurisdiction
        credential: dict[str, Any] = {
            "@context": [CREDENTIALS_V2_CONTEXT, HEALTH_V1],
            "id": f"urn:uuid:{uuid.uuid4()}",
            "type": ["VerifiableCredential", role],
            "name": f"Accreditation: {role}",
            "issuer": self.did,
            "validFrom": format_datetime(now),
            "validUntil": format_datetime(now + valid_for),
            "credentialSubject": claims,
            "credentialStatus": entries,
        }
        validate_credential(credential)
        check_terms(credential)
        signed = add_proof(credential, await self.signer(), created=now)
        accreditation = Accreditation(
            id=str(credential["id"]),
            subject=subject,
            role=role,
            name=name,
            state=AccreditationState.ACTIVE,
            valid_until=str(credential["validUntil"]),
            credential=signed,
        )
        async with self.store.transaction() as txn:
            await txn.insert(
                _ACCREDITATION,
                accreditation.id,
                {
                    "credential": signed,
                    "subject": subject,
                    "role": role,
                    "name": name,
                    "state": str(AccreditationState.ACTIVE),
                    "issued": format_datetime(now),
                },
                tags={"subject": subject, "role": role},
            )
            await txn.commit()
        await self.audit.append(
            OperatorEvent.ACCREDITATION_ISSUED,
            accreditation=accreditation.id,
            subject=subject,
            role=role,
        )
        return accreditation

    def _accreditation(self, data: Mapping[str, Any], now: datetime) -> Accreditation:
        credential = dict(data["credential"])
        state = AccreditationState(data["state"])
        valid_until = str(credential.get("validUntil", ""))
        if (
            state is AccreditationState.ACTIVE
            and valid_until
            and parse_datetime(valid_until) < now - DEFAULT_MAX_CLOCK_SKEW
        ):
            state = AccreditationState.EXPIRED
        return Accreditation(
            id=str(credential["id"]),
            subject=str(data["subject"]),
            role=str(data["role"]),
            name=str(data.get("name", "")),
            state=state,
            valid_until=valid_until,
            credential=credential,
        )

    async def accreditation(self, accreditation_id: str) -> Accreditation:
        """:raises InvalidInputError: ``notFound`` for an id the operator never issued."""
        async with self.store.session() as session:
            record = await session.fetch(_ACCREDITATION, accreditation_id)
        if record is None:
            raise _not_found("accreditation", accreditation_id)
        return self._accreditation(record.json(), self.clock())

    async def accreditations(self, *, subject: str | None = None) -> list[Accreditation]:
        """Every accreditation issued (of one subject DID when given), oldest first."""
        async with self.store.session() as session:
            records = await session.fetch_all(
                _ACCREDITATION, {"subject": subject} if subject else None
            )
        now = self.clock()
        found = [(r.json(), r) for r in records]
        found.sort(key=lambda item: str(item[0].get("issued", "")))
        return [self._accreditation(data, now) for data, _ in found]

    async def update_status(self, accreditation_id: str, action: str) -> Accreditation:
        """Revoke (final), suspend, or reinstate (``active``: lifts a suspension).

        The status list bit changes first (what verifiers see), then the record.

        :raises InvalidInputError: an unknown action or accreditation; reinstating a revoked
            accreditation.
        """
        if action not in _STATUS_ACTIONS:
            raise InvalidInputError(
                f"unknown status {str(action)[:40]!r}; use one of {sorted(_STATUS_ACTIONS)}"
            )
        current = await self.accreditation(accreditation_id)
        entries = {
            str(e.get("statusPurpose")): e for e in current.credential.get("credentialStatus", [])
        }
        if action == "revoked":
            await self._set_bit(entries["revocation"], True)
            state = AccreditationState.REVOKED
        elif action == "suspended":
            if current.state is AccreditationState.REVOKED:
                raise InvalidInputError("the accreditation is revoked already; that is final")
            await self._set_bit(entries["suspension"], True)
            state = AccreditationState.SUSPENDED
        else:
            if current.state is AccreditationState.REVOKED:
                raise InvalidInputError(
                    "the accreditation is revoked; revocation is final and cannot be undone "
                    "(accredit the party again instead)"
                )
            await self._set_bit(entries["suspension"], False)
            state = AccreditationState.ACTIVE
        async with self.store.transaction() as txn:
            record = await txn.get(_ACCREDITATION, accreditation_id, for_update=True)
            data = record.json()
            data["state"] = str(state)
            await txn.replace(
                _ACCREDITATION,
                accreditation_id,
                data,
                tags={"subject": str(data["subject"]), "role": str(data["role"])},
            )
            await txn.commit()
        event = {
            AccreditationState.REVOKED: OperatorEvent.ACCREDITATION_REVOKED,
            AccreditationState.SUSPENDED: OperatorEvent.ACCREDITATION_SUSPENDED,
        }.get(state, OperatorEvent.ACCREDITATION_REINSTATED)
        await self.audit.append(event, accreditation=accreditation_id)
        return await self.accreditation(accreditation_id)

    async def revoke(self, accreditation_id: str) -> Accreditation:
        return await self.update_status(accreditation_id, "revoked")

    async def suspend(self, accreditation_id: str) -> Accreditation:
        return await self.update_status(accreditation_id, "suspended")

    async def reinstate(self, accreditation_id: str) -> Accreditation:
        return await self.update_status(accreditation_id, "active")

    async def _set_bit(self, entry: Mapping[str, Any], value: bool) -> None:
        url = str(entry["statusListCredential"])
        prefix = f"{self.base_url}/status-lists/"
        if not url.startswith(prefix):  # pragma: no cover - the operator wrote the entry
            raise InvalidInputError("a status entry of another issuer")
        await self.status.set_status(
            url[len(prefix) :], int(entry["statusListIndex"]), str(entry["statusPurpose"]), value
        )

    # --- published documents ----------------------------------------------------------------

    async def trust_list_entries(self) -> list[dict[str, str]]:
        """The accreditations in force (not revoked, suspended or expired), oldest first."""
        return [
            {"id": a.subject, "accreditedRole": a.role, "accreditation": a.id}
            for a in await self.accreditations()
            if a.state is AccreditationState.ACTIVE
        ]

    def trust_list_url(self) -> str:
        return f"{self.base_url}/trust-list"

    async def trust_list(
        self,
        *,
        entries: list[dict[str, str]] | None = None,
        valid_for: timedelta = TRUST_LIST_LIFETIME,
    ) -> dict[str, Any]:
        """The signed trust list: a VC whose subject lists every accreditation in force.

        :param entries: :meth:`trust_list_entries`, when the caller has them already.
        """
        now = self.clock()
        listed = entries if entries is not None else await self.trust_list_entries()
        document: dict[str, Any] = {
            "@context": [CREDENTIALS_V2_CONTEXT, HEALTH_V1],
            "id": self.trust_list_url(),
            "type": ["VerifiableCredential"],
            "name": f"Trust list of {self.name or self.did}",
            "issuer": self.did,
            "validFrom": format_datetime(now - timedelta(minutes=5)),
            "validUntil": format_datetime(now + valid_for),
            "credentialSubject": {"id": self.did, "trustListEntry": listed},
        }
        return add_proof(document, await self.signer(), created=now)

    async def status_list_credential(self, list_id: str, purpose: str) -> dict[str, Any]:
        """The signed BitstringStatusListCredential for one of the operator's lists.

        :raises InvalidInputError: the list has another purpose.
        :raises agent.errors.StorageError: ``storeRecordNotFound`` for an unknown list.
        """
        now = self.clock()
        unsigned = await self.status.list_credential(
            list_id,
            purpose,
            valid_from=now - timedelta(minutes=5),
            valid_until=now + timedelta(days=1),
        )
        return add_proof(unsigned, await self.signer(), created=now)

    # --- registration -----------------------------------------------------------------------

    async def challenge(self) -> dict[str, str]:
        """A fresh single-use challenge for a DID-auth registration, valid
        :data:`CHALLENGE_LIFETIME`; the presentation's ``domain`` must be the operator DID."""
        value = secrets.token_urlsafe(32)
        now = self.clock()
        expires = now + CHALLENGE_LIFETIME
        async with self.store.transaction() as txn:
            await txn.insert(
                _CHALLENGE,
                value,
                {"expires": format_datetime(expires)},
                expiry_ms=int(CHALLENGE_LIFETIME.total_seconds() * 1000) * 2,
            )
            await txn.commit()
        return {"challenge": value, "domain": self.did, "expires": format_datetime(expires)}

    async def _consume_challenge(self, value: object) -> str:
        """Use a challenge up (whatever the outcome), so that it cannot be replayed.

        :raises ProofError: ``INVALID_CHALLENGE_ERROR`` for an unknown, used or expired one.
        """
        if not isinstance(value, str) or not 0 < len(value) <= 200:
            raise ProofError(
                "the presentation's proof carries no challenge; ask POST "
                "/registrations/challenge for one",
                code=ErrorCode.INVALID_CHALLENGE_ERROR,
            )
        async with self.store.transaction() as txn:
            record = await txn.fetch(_CHALLENGE, value, for_update=True)
            if record is None:
                raise ProofError(
                    "the challenge is not one this operator issued, or it was used already "
                    "(each challenge is good for one registration)",
                    code=ErrorCode.INVALID_CHALLENGE_ERROR,
                )
            await txn.remove(_CHALLENGE, value)
            await txn.commit()
        if parse_datetime(str(record.json()["expires"])) < self.clock():
            raise ProofError(
                "the challenge has expired; ask for a new one",
                code=ErrorCode.INVALID_CHALLENGE_ERROR,
            )
        return value

    async def _resolver_for(
        self, did: str, did_document: Mapping[str, Any] | None
    ) -> tuple[DIDResolver, str, httpx.AsyncClient | None]:
        """A resolver for the applicant's DID, and how its key was found."""
        if not did.startswith("did:web:"):
            return DIDResolver(), "resolved", None
        http = self._http or httpx.AsyncClient(timeout=httpx.Timeout(10.0))
        resolver = DIDResolver(http_client=http, insecure_http_hosts=self.insecure_http_hosts)
        try:
            await resolver.resolve(did)
            return resolver, "resolved", None if self._http else http
        except DIDError:
            if did_document is None:
                if self._http is None:
                    await http.aclose()
                raise
        if did_document.get("id") != did:
            if self._http is None:
                await http.aclose()
            raise InvalidInputError(
                "the submitted didDocument is not the document of the presentation's holder",
                code=ErrorCode.INVALID_DID_DOCUMENT,
            )
        offline = DIDResolver()
        offline.add_document(did_document)
        if self._http is None:
            await http.aclose()
        return offline, "submitted document", None

    async def register(
        self,
        presentation: object,
        *,
        role: str,
        name: str = "",
        did_document: Mapping[str, Any] | None = None,
    ) -> Registration:
        """Record a request to be accredited, after the applicant proved control of its DID.

        ``presentation`` is a ``VerifiablePresentation`` whose ``holder`` is the applicant's
        DID, with a Data Integrity proof for ``authentication`` by a key of that DID over a
        challenge from :meth:`challenge` (used up here, whatever the outcome) and with the
        operator DID as ``domain``. A did:web that its domain does not serve yet may come with
        its ``did_document``; the registration then says so (``did_checked``).

        :raises ProofError: ``INVALID_CHALLENGE_ERROR`` (unknown, used or expired challenge),
            ``INVALID_DOMAIN_ERROR``, ``PROOF_VERIFICATION_ERROR`` (not the holder's key) and
            the other proof errors; :class:`agent.errors.SignatureError`.
        :raises agent.errors.DataModelError: not a presentation.
        :raises InvalidInputError: a bad role or name; no holder DID.
        """
        role = _check_role(role)
        name = _check_name(name)
        validate_presentation(presentation)
        assert isinstance(presentation, dict)  # validate_presentation checked it
        holder = presentation.get("holder")
        if isinstance(holder, dict):
            holder = holder.get("id")
        did = check_did(holder)
        proofs = presentation.get("proof")
        first = proofs[0] if isinstance(proofs, list) and proofs else proofs
        challenge = first.get("challenge") if isinstance(first, dict) else None
        await self._consume_challenge(challenge)
        resolver, checked, to_close = await self._resolver_for(did, did_document)
        try:
            await verify_proofs(
                presentation,
                resolver,
                now=self.clock(),
                expected_purpose="authentication",
                challenge=str(challenge),
                domain=self.did,
                binding="holder",
            )
        finally:
            if to_close is not None:
                await to_close.aclose()
        registration = Registration(
            id=str(uuid.uuid4()),
            did=did,
            role=role,
            name=name,
            state=RegistrationState.PENDING,
            created=format_datetime(self.clock()),
            did_checked=checked,
        )
        async with self.store.transaction() as txn:
            await txn.insert(
                _REGISTRATION,
                registration.id,
                registration.to_json(),
                tags={"state": str(registration.state), "did": did},
            )
            await txn.commit()
        await self.audit.append(
            OperatorEvent.REGISTRATION_RECEIVED,
            registration=registration.id,
            did=did,
            role=role,
            didChecked=checked,
        )
        return registration

    async def registration(self, registration_id: str) -> Registration:
        """:raises InvalidInputError: ``notFound``."""
        async with self.store.session() as session:
            record = await session.fetch(_REGISTRATION, registration_id)
        if record is None:
            raise _not_found("registration", registration_id)
        return Registration.from_json(record.json())

    async def registrations(self, *, state: str | None = None) -> list[Registration]:
        """Registrations (in one state when given), oldest first."""
        if state is not None and state not in set(RegistrationState):
            raise InvalidInputError(
                f"unknown registration state {state[:40]!r}; use one of "
                f"{sorted(str(s) for s in RegistrationState)}"
            )
        async with self.store.session() as session:
            records = await session.fetch_all(_REGISTRATION, {"state": state} if state else None)
        found = [Registration.from_json(r.json()) for r in records]
        return sorted(found, key=lambda r: r.created)

    async def _decide(self, registration: Registration) -> None:
        async with self.store.transaction() as txn:
            await txn.replace(
                _REGISTRATION,
                registration.id,
                registration.to_json(),
                tags={"state": str(registration.state), "did": registration.did},
            )
            await txn.commit()

    async def _claim(self, registration_id: str, state: RegistrationState) -> Registration:
        """Move a pending registration to ``state`` atomically (one replica wins a race);
        returns it as it was.

        :raises InvalidInputError: ``notFound``; a registration decided already.
        """
        async with self.store.transaction() as txn:
            record = await txn.fetch(_REGISTRATION, registration_id, for_update=True)
            if record is None:
                raise _not_found("registration", registration_id)
            registration = Registration.from_json(record.json())
            if registration.state is not RegistrationState.PENDING:
                raise InvalidInputError(
                    f"the registration is {registration.state} already",
                    details={"state": str(registration.state)},
                )
            await txn.replace(
                _REGISTRATION,
                registration.id,
                replace(registration, state=state).to_json(),
                tags={"state": str(state), "did": registration.did},
            )
            await txn.commit()
        return registration

    async def approve(
        self, registration_id: str, *, valid_for: timedelta = timedelta(days=365)
    ) -> Accreditation:
        """Accredit a pending registration's DID in the role it asked for (once, even when
        two administrators or replicas approve at the same time).

        :raises InvalidInputError: ``notFound``; a registration decided already.
        """
        registration = await self._claim(registration_id, RegistrationState.APPROVED)
        try:
            accreditation = await self.accredit(
                registration.did, registration.role, name=registration.name, valid_for=valid_for
            )
        except BaseException:
            await self._decide(registration)  # back to pending: nothing was issued
            raise
        await self._decide(
            replace(
                registration, state=RegistrationState.APPROVED, accreditation_id=accreditation.id
            )
        )
        await self.audit.append(
            OperatorEvent.REGISTRATION_APPROVED,
            registration=registration_id,
            accreditation=accreditation.id,
        )
        return accreditation

    async def reject(self, registration_id: str, *, reason: str = "") -> Registration:
        """:raises InvalidInputError: ``notFound``; a registration decided already; a reason
        longer than 200 characters."""
        reason = _check_name(reason, what="a rejection's reason")
        registration = await self._claim(registration_id, RegistrationState.REJECTED)
        rejected = replace(registration, state=RegistrationState.REJECTED, reason=reason)
        await self._decide(rejected)
        await self.audit.append(OperatorEvent.REGISTRATION_REJECTED, registration=registration_id)
        return rejected
