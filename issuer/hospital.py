"""A hospital (or public health centre) as an issuer: identity, keys, status, issuance records.

:class:`Hospital` holds what one issuing organisation keeps in its askar store:

- its **identity**: a ``did:web`` (served by its own service at ``/.well-known/did.json``) or a
  ``did:key`` (offline, and what the W3C test suites resolve);
- its **signing keys**, Ed25519 in askar, named by Multikey. :meth:`Hospital.rotate_key` adds a
  key that signs from then on; the older key stays in the DID document, so credentials it signed
  still verify, until :meth:`Hospital.retire_key` removes it;
- its **status lists** (:class:`agent.status.StatusListAllocator`): every credential gets a
  revocation and a suspension entry at random indexes. One credential at a time takes them from
  blocks reserved per process (:class:`agent.status.ReservedIndexes`, one transaction per 1,024
  credentials); a batch allocates each chunk's indexes at once;
- an **issuance record** per credential (its id, type, status entries, key, time: identifiers
  only, never the health data the credential carries), so that it can be revoked by id. The
  records and ``credential.issued`` audit entries of the requests that arrive meanwhile commit
  in one transaction (:class:`issuer.group_commit.GroupCommit`), as one askar record each
  (an issuance group, found by any of its credential ids, and an audit page): a record
  operation costs about as much CPU as a signature, so one per group, not per credential.
  A batch (:meth:`Hospital.run_batch`) keeps no such record: its chunk records
  (:mod:`issuer.batch`) are found by credential id instead, and :meth:`Hospital.issued`
  reads the credential's record from its chunk, so a batch credential is revoked, suspended
  and reinstated as any other.

A store an earlier version wrote is brought up to date once, when the hospital loads
(:meth:`Hospital.upgrade`, recorded as :data:`STORE_VERSION`).

Everything here is a library; the HTTP service (:mod:`issuer.api`) and the CLI only carry it.
Several replicas may share one PostgreSQL store: the identity and key records are written once
by ``init`` and read by all; status allocation is safe across replicas.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from agent.clock import Clock, format_datetime, utcnow
from agent.credentials import (
    CREDENTIALS_V1_CONTEXT,
    add_proof,
    check_contexts,
    check_terms,
    decode_list,
    upgrade_v1_input,
    validate_credential,
)
from agent.credentials.token_status_list import (
    from_bitstring,
    referenced_status_claim,
    status_list_token,
)
from agent.dids import build_did_web_document
from agent.encoding import b64url_decode
from agent.errors import (
    DataModelError,
    ErrorCode,
    InvalidInputError,
    KeyMaterialError,
    StorageError,
)
from agent.identity import create_identity
from agent.keys import AskarKeyStore, AskarSigner, KeyType, decode_multikey
from agent.observability import record_issuance
from agent.status import ReservedIndexes, StatusListAllocator
from agent.storage import Record, Session, Store, is_contention
from agent.storeowner import refuse_other_party
from issuer.audit import AuditEvent, AuditLog
from issuer.batch import ID_TAG as _BATCH_ID_TAG
from issuer.batch import ISSUED_CATEGORY as _BATCH_ISSUED
from issuer.batch import BatchJobs, JobResult, find_issued
from issuer.batch import IssuedCredential as _BatchCredential
from issuer.fhir import validate_resource
from issuer.group_commit import GroupCommit
from issuer.issue import sd_jwt_credential, w3c_credential
from issuer.templates import CredentialKind, RecordClaims, claims_for_resource

__all__ = [
    "FORMATS",
    "STORE_VERSION",
    "Hospital",
    "IssuedCredential",
    "IssuedRecord",
    "StatusAction",
]

log = logging.getLogger(__name__)

#: Credential formats the hospital issues: W3C VC with Data Integrity, and SD-JWT VC.
FORMATS = frozenset({"vc", "sd-jwt"})

_IDENTITY = ("hospital", "identity")
#: The version of the store's layout this code has brought it to (:meth:`Hospital.upgrade`).
#: 1: batch chunk records are tagged with their credential ids (:data:`issuer.batch.ID_TAG`).
STORE_VERSION: Final = 1
_STORE_VERSION = ("hospital", "store-version")
#: Issuance records, one askar record per group of concurrent issuances: an askar record
#: operation costs about as much CPU as signing a credential (FFI and thread hand-offs), so
#: one per group rather than one per credential. Each is found by its ``credential_id`` tag,
#: which has every id of the group.
_ISSUED_GROUP = "issued-credential-group"
_ID_TAG = "credential_id"
_ID_TAKEN = "credentialIdTaken"
#: Attempts at one issuance's write when the store is busy or a concurrent writer took the
#: audit head or page name first (the group path's fallback; as AuditLog.append_many).
_WRITE_ATTEMPTS = 20
#: Issuance records as earlier versions wrote them, one per credential named by its id: still
#: found by :meth:`Hospital.issued`, never written.
_ISSUED = "issued-credential-record"
_SUITES = frozenset({"eddsa-jcs-2022", "eddsa-rdfc-2022"})
#: The status entries every credential gets, in this order.
_PURPOSES = ("revocation", "suspension")


class StatusAction:
    """What ``POST /credentials/status`` may ask for (VC-API "Update Status")."""

    REVOKED = "revoked"
    SUSPENDED = "suspended"
    ACTIVE = "active"
    ALL = frozenset({REVOKED, SUSPENDED, ACTIVE})


#: The id prefix of an SD-JWT VC's record here (it has no ``id`` of its own).
_SD_JWT_ID_PREFIX = "urn:sd-jwt:"


@dataclass(frozen=True)
class IssuedRecord:
    """What the hospital remembers of an issued credential: identifiers only."""

    credential_id: str
    types: tuple[str, ...]
    issued: str
    key: str
    status: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class IssuedCredential:
    """One credential issued from a FHIR record: a W3C VC (dict) or an SD-JWT VC (string)."""

    kind: str
    format: str
    id: str
    credential: dict[str, Any] | str
    record_key: str


@dataclass(frozen=True)
class _Issued:
    """An issuance record waiting to be written, with what its audit entry needs."""

    record: IssuedRecord
    credential_format: str
    new_id: bool = False

    def audit_entry(self) -> tuple[str, dict[str, str | int | bool | None]]:
        return (
            AuditEvent.CREDENTIAL_ISSUED,
            {
                "credential_id": self.record.credential_id,
                "key": self.record.key.rsplit("#", 1)[-1],
                "credential_format": self.credential_format,
            },
        )


def _record_json(record: IssuedRecord) -> dict[str, Any]:
    return {
        "credential_id": record.credential_id,
        "types": list(record.types),
        "issued": record.issued,
        "key": record.key,
        "status": list(record.status),
    }


def _record_of(data: Mapping[str, Any]) -> IssuedRecord:
    """:raises StorageError: the stored record lacks a member (it was altered)."""
    try:
        return IssuedRecord(
            credential_id=str(data["credential_id"]),
            types=tuple(data["types"]),
            issued=str(data["issued"]),
            key=str(data["key"]),
            status=tuple(data["status"]),
        )
    except (KeyError, TypeError) as exc:
        raise StorageError("an issuance record lacks a member or has a bad type") from exc


async def _insert_records(
    txn: Session, records: Sequence[IssuedRecord], *, check: Sequence[str]
) -> None:
    """One record holding the issuance records of a group, findable by each credential id.

    Call it after the audit head is locked in ``txn`` (:meth:`AuditLog.append_in`): that lock
    serialises every issuance transaction, across replicas too, so no other group can commit
    one of the ``check`` ids between the look-up below and this transaction's commit.

    :param check: the ids to look up among earlier issuances (those a client gave), in
        issuance groups, in batch chunk records (:data:`issuer.batch.ID_TAG`) and among the
        records earlier versions wrote one per credential.
    :raises StorageError: ``storeDuplicate`` (reason ``credentialIdTaken``) when one of the
        ``check`` ids was issued before, or an id occurs twice in the group; nothing is
        written then.
    """
    ids = [record.credential_id for record in records]
    taken = bool(check) and bool(
        await txn.fetch_all(_ISSUED_GROUP, {_ID_TAG: {"$in": list(check)}}, limit=1)
    )
    if check and not taken:
        # A count, not a fetch: a chunk record holds up to 500 whole credentials.
        taken = bool(await txn.count(_BATCH_ISSUED, {_BATCH_ID_TAG: {"$in": list(check)}}))
    for credential_id in check:
        taken = taken or await txn.fetch(_ISSUED, credential_id) is not None
    if taken or len(set(ids)) < len(ids):
        raise StorageError(
            "a credential with that id was issued before; give a new id, or none",
            code=ErrorCode.STORE_DUPLICATE,
            details={"category": _ISSUED_GROUP, "reason": _ID_TAKEN},
        )
    await txn.insert(
        _ISSUED_GROUP,
        str(uuid.uuid4()),
        {"records": [_record_json(record) for record in records]},
        tags={_ID_TAG: ids},
    )


#: The credential type of each SD-JWT VC type (``vct``) this issuer uses.
_KIND_OF_VCT: Final = {kind.vct: kind for kind in CredentialKind}


def _version(record: Record | None) -> int:
    """The store version a ``hospital/store-version`` record holds (0: none, an old store)."""
    value = record.json() if record is not None else None
    version = value.get("version") if isinstance(value, dict) else None
    return version if isinstance(version, int) and not isinstance(version, bool) else 0


def _as_list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _w3c_batch_record(credential_id: str, credential: Mapping[str, Any]) -> IssuedRecord:
    """The issuance record of a W3C credential a batch issued, read from the credential: its
    types, status entries and proof's key, and its ``validFrom`` (the signing time).

    :raises KeyError, TypeError: the credential lacks a member (the store was altered).
    """
    proof = _as_list(credential["proof"])[0]
    return IssuedRecord(
        credential_id=credential_id,
        types=tuple(_as_list(credential.get("type", []))),
        issued=str(credential["validFrom"]),
        key=str(proof["verificationMethod"]),
        status=tuple(_as_list(credential.get("credentialStatus", []))),
    )


def _jwt_part(jwt: str, number: int) -> dict[str, Any]:
    """A compact JWS's header (0) or payload (1), not verified (this issuer signed it)."""
    part = json.loads(b64url_decode(jwt.split(".")[number]))
    if not isinstance(part, dict):
        raise TypeError("a JWT part is not a JSON object")
    return part


class Hospital:
    """An issuing organisation over its askar store (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        *,
        did: str,
        base_url: str,
        clock: Clock = utcnow,
        insecure_http_hosts: frozenset[str] = frozenset(),
    ) -> None:
        self.store = store
        self.did = did
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self.keys = AskarKeyStore(store)
        self.status = StatusListAllocator(
            store, issuer=did, base_url=f"{self.base_url}/status-lists"
        )
        self.indexes = ReservedIndexes(self.status)
        self.audit = AuditLog(store, clock=clock)
        self._issued = GroupCommit[_Issued](self._write_issued, self._write_issued_one)
        self._signers: dict[str, AskarSigner] = {}
        self._identity_read: asyncio.Future[dict[str, Any]] | None = None
        self._insecure_http_hosts = insecure_http_hosts

    # Identity and keys.

    @classmethod
    async def init(
        cls,
        store: Store,
        *,
        base_url: str,
        did_method: str = "web",
        name: str = "",
        clock: Clock = utcnow,
        insecure_http_hosts: frozenset[str] = frozenset(),
    ) -> Hospital:
        """Create the hospital's first key and DID in an empty store (idempotent: an existing
        identity is returned unchanged).

        :raises InvalidInputError: an unknown DID method, a base URL did:web cannot use, or a
            store that belongs to another party (:mod:`agent.storeowner`).
        """
        existing = await cls.load(store, clock=clock, insecure_http_hosts=insecure_http_hosts)
        if existing is not None:
            return existing
        await refuse_other_party(
            store, party="a hospital", own=_IDENTITY[0], command="mydata hospital init"
        )
        did, multikey = await create_identity(
            store,
            _IDENTITY,
            party="a hospital",
            base_url=base_url,
            did_method=did_method,
            insecure_http_hosts=insecure_http_hosts,
            extra={"name": name, "created": clock().isoformat()},
        )
        hospital = cls(
            store, did=did, base_url=base_url, clock=clock, insecure_http_hosts=insecure_http_hosts
        )
        await hospital._record_store_version()  # a new store has nothing to upgrade
        await hospital.audit.append(AuditEvent.KEY_CREATED, did=did, key=multikey)
        return hospital

    @classmethod
    async def load(
        cls,
        store: Store,
        *,
        clock: Clock = utcnow,
        insecure_http_hosts: frozenset[str] = frozenset(),
    ) -> Hospital | None:
        """The hospital in ``store``, or ``None`` when ``init`` never ran on it.

        A store an earlier version wrote is upgraded first (:meth:`upgrade`; once done, a load
        only reads its version). An upgrade that fails (the store busy, say) is logged and
        tried again at the next load: never a reason not to load.
        """
        async with store.session() as session:
            record = await session.fetch(*_IDENTITY)
            version = await session.fetch(*_STORE_VERSION)
        if record is None:
            return None
        identity = record.json()
        hospital = cls(
            store,
            did=str(identity["did"]),
            base_url=str(identity["base_url"]),
            clock=clock,
            insecure_http_hosts=insecure_http_hosts,
        )
        if _version(version) < STORE_VERSION:
            try:
                await hospital.upgrade()
            except Exception as exc:  # never a reason not to load: a damaged record included
                log.warning(
                    "the hospital's store was not upgraded this time (%s); the next load tries "
                    "again",
                    exc.code if isinstance(exc, StorageError) else type(exc).__name__,
                )
        return hospital

    async def upgrade(self) -> int:
        """Bring a store an earlier version wrote up to :data:`STORE_VERSION`, and record it;
        returns how many records changed. Idempotent, and safe to run in several processes at
        once (each step is; the last one to finish records the version).

        Version 1: the chunk records of batches run before it are tagged with their
        credential ids (:meth:`issuer.batch.BatchJobs.tag_credential_ids`), so that their
        credentials can be revoked, suspended and reinstated by id. One transaction per
        chunk record, each read and written again whole: about 0.1 s per 500 credentials,
        some 20 s per 100,000 (SQLite; PostgreSQL a little more), once.

        :raises StorageError: the store fails; what was done stays done, the rest is done by
            the next call.
        """
        async with self.store.session() as session:
            if _version(await session.fetch(*_STORE_VERSION)) >= STORE_VERSION:
                return 0
        started = time.monotonic()
        changed = await BatchJobs(self.store, clock=self.clock).tag_credential_ids()
        await self._record_store_version()
        if changed:
            log.info(
                "upgraded the hospital's store to version %d: %d batch chunk record(s) tagged "
                "with their credential ids in %.1f s",
                STORE_VERSION,
                changed,
                time.monotonic() - started,
            )
        return changed

    async def _record_store_version(self) -> None:
        async with self.store.transaction() as txn:
            recorded = await txn.fetch(*_STORE_VERSION, for_update=True)
            if _version(recorded) >= STORE_VERSION:
                return
            value = {"version": STORE_VERSION}
            try:
                if recorded is None:
                    await txn.insert(*_STORE_VERSION, value)
                else:
                    await txn.replace(*_STORE_VERSION, value)
                await txn.commit()
            except StorageError as exc:
                if exc.code is not ErrorCode.STORE_DUPLICATE:
                    raise
                # Another process recorded it first, having upgraded the store as well.

    async def identity(self) -> dict[str, Any]:
        async with self.store.session() as session:
            record = await session.get(*_IDENTITY)
        data: dict[str, Any] = record.json()
        return data

    async def active_signer(self) -> AskarSigner:
        """The signer of new credentials (the most recently rotated-in key).

        The identity record is read on every call, so a rotation on any replica takes effect at
        once; calls made while a read is in flight share that read (under load, one read serves
        many requests). The askar key handle is kept per key, since loading it is the costly
        part.
        """
        reading = self._identity_read
        if reading is None or reading.done():
            reading = self._identity_read = asyncio.ensure_future(self.identity())
        identity = await asyncio.shield(reading)
        multikey = str(identity["active_key"])
        signer = self._signers.get(multikey)
        if signer is None:
            signer = await self.keys.signer(multikey, verification_method=f"{self.did}#{multikey}")
            self._signers = {multikey: signer}
        return signer

    async def rotate_key(self) -> str:
        """Add a new signing key and make it the one that signs; returns its Multikey.

        The previous key stays listed in the DID document: what it signed still verifies until
        :meth:`retire_key`.
        """
        multikey = await self.keys.create_key(KeyType.ED25519_PUB)
        await self.keys.bind(
            multikey,
            did=self.did,
            verification_method=f"{self.did}#{multikey}",
            relationships=["assertionMethod", "authentication"],
        )
        async with self.store.transaction() as txn:
            record = await txn.fetch(*_IDENTITY, for_update=True)
            if record is None:  # pragma: no cover - init ran, or there would be no Hospital
                raise KeyMaterialError("the hospital has no identity record; run init")
            identity = record.json()
            previous = str(identity["active_key"])
            identity["active_key"] = multikey
            await txn.replace(*_IDENTITY, identity)
            await txn.commit()
        await self.audit.append(
            AuditEvent.KEY_ROTATED, did=self.did, key=multikey, previous_key=previous
        )
        return multikey

    async def retire_key(self, multikey: str) -> bool:
        """Remove a key from the DID document: credentials it signed no longer verify.

        Idempotent: retiring a key retired already changes nothing and audits nothing.

        :returns: whether the key was retired now (``False``: it was retired already).
        :raises KeyMaterialError: ``keyNotFound`` for an unknown key; ``invalidInput`` when it
            is the active key (rotate first).
        """
        identity = await self.identity()
        if multikey == identity["active_key"]:
            raise KeyMaterialError(
                "refusing to retire the active signing key: rotate to a new key first",
                code=ErrorCode.INVALID_INPUT,
            )
        known = {info.multikey: info for info in await self.keys.keys_for(self.did)}
        if multikey not in known:
            raise KeyMaterialError(f"no key {multikey} belongs to {self.did}")
        if known[multikey].retired:
            return False
        await self.keys.retire(multikey)
        await self.audit.append(AuditEvent.KEY_RETIRED, did=self.did, key=multikey)
        return True

    async def did_document(self) -> dict[str, Any]:
        """The document served at the did:web URL: every signing key not retired."""
        infos = await self.keys.keys_for(self.did)
        keys = [
            (info.key_type, decode_multikey(info.multikey)[1])
            for info in infos
            if not info.retired and info.key_type is KeyType.ED25519_PUB
        ]
        return build_did_web_document(self.did, keys)

    # Issuance.

    async def prepare(self, credential: Mapping[str, Any]) -> dict[str, Any]:
        """Check an unsigned credential from a client, upgrade VC 1.1 input, and set defaults.

        :raises DataModelError: the credential breaks a VC Data Model rule.
        :raises agent.errors.ContextError: a context is not shipped, or a term is undefined.
        """
        document = dict(credential)
        document.setdefault("issuer", self.did)
        contexts = document.get("@context")
        if isinstance(contexts, list) and contexts and contexts[0] == CREDENTIALS_V1_CONTEXT:
            document = upgrade_v1_input(document)
        # The service issues as this hospital, whatever issuer the request named (VC-API: the
        # issuer is the instance's; the W3C test suites post fixtures with their own issuer id).
        # An issuer object keeps its other members (name, description).
        # The issuer as given must be well formed first: a malformed one is the client's error.
        validate_credential(document)
        issuer = document.get("issuer")
        if isinstance(issuer, Mapping):
            document["issuer"] = {**issuer, "id": self.did}
        else:
            document["issuer"] = self.did
        document.setdefault("id", f"urn:uuid:{uuid.uuid4()}")
        document.setdefault("validFrom", format_datetime(self.clock()))
        if "proof" in document:
            raise DataModelError(
                "the credential to issue already has a proof; send it unsigned",
                code=ErrorCode.MALFORMED_VALUE_ERROR,
                details={"path": "proof", "rule": "proof"},
            )
        validate_credential(document)
        # Never sign what a verifier would refuse: every context shipped, every term defined.
        check_contexts(document)
        check_terms(document)
        return document

    async def issue(
        self,
        credential: Mapping[str, Any],
        *,
        cryptosuite: str = "eddsa-jcs-2022",
        with_status: bool = True,
    ) -> dict[str, Any]:
        """Sign ``credential`` (after :meth:`prepare`), with revocation and suspension entries.

        :raises DataModelError: the credential is not acceptable.
        :raises agent.errors.CryptosuiteError: an unknown cryptosuite.
        """
        if cryptosuite not in _SUITES:
            raise InvalidInputError(
                f"unsupported cryptosuite {cryptosuite!r}; use one of {sorted(_SUITES)}",
                code=ErrorCode.UNSUPPORTED_CRYPTOSUITE,
            )
        document = await self.prepare(credential)
        if with_status:
            if "credentialStatus" in document:
                raise DataModelError(
                    "the credential already has a credentialStatus; the issuer assigns it",
                    code=ErrorCode.MALFORMED_VALUE_ERROR,
                    details={"path": "credentialStatus", "rule": "credentialStatus"},
                )
            document["credentialStatus"] = await self.status_entries()
        signer = await self.active_signer()
        signed = add_proof(document, signer, created=self.clock(), cryptosuite=cryptosuite)
        await self.record_issued(
            signed, key=signer.verification_method, new_id="id" not in credential
        )
        return signed

    async def status_entries(self) -> list[dict[str, Any]]:
        """A fresh revocation and a fresh suspension entry, at random indexes."""
        return self._entries(await self._fresh_indexes())

    def _entries(self, status: Sequence[tuple[str, int]]) -> list[dict[str, Any]]:
        """The ``credentialStatus`` entries of ``(list_id, index)`` for each of
        :data:`_PURPOSES`, in that order."""
        return [
            self.status.entry(list_id, index, purpose)
            for (list_id, index), purpose in zip(status, _PURPOSES, strict=True)
        ]

    async def _fresh_indexes(self) -> list[tuple[str, int]]:
        """``(list_id, index)`` for revocation then suspension, from the reserved blocks."""
        return [(await self.indexes.take(purpose))[0] for purpose in _PURPOSES]

    async def record_issued(
        self,
        credential: Mapping[str, Any],
        *,
        key: str,
        credential_format: str = "vc",
        new_id: bool = False,
    ) -> IssuedRecord:
        """Remember an issued credential by id (identifiers only) so it can be revoked, and
        audit it; both commit together with those of concurrent requests.

        :param new_id: the id was made here at random (a UUID v4, 122 random bits, or a digest
            of the signed credential), so it is not looked up among earlier issuances (a store
            operation per group); an id a client gave always is.
        :raises agent.errors.StorageError: ``storeDuplicate`` when a credential with that id
            was issued before; the store fails.
        """
        status = credential.get("credentialStatus", [])
        types = credential.get("type", [])
        record = IssuedRecord(
            credential_id=str(credential["id"]),
            types=tuple(types if isinstance(types, list) else [types]),
            issued=format_datetime(self.clock()),
            key=key,
            status=tuple(status if isinstance(status, list) else [status]),
        )
        await self._issued.submit(_Issued(record, credential_format, new_id))
        record_issuance(credential_format)
        return record

    async def _write_issued(self, items: Sequence[_Issued]) -> None:
        """A group's audit entries and issuance records, all in one transaction: the audit
        head first (its lock orders the group after any other, see :func:`_insert_records`)."""
        async with self.store.transaction() as txn:
            await self.audit.append_in(txn, [item.audit_entry() for item in items])
            await _insert_records(
                txn,
                [item.record for item in items],
                check=[item.record.credential_id for item in items if not item.new_id],
            )
            await txn.commit()

    async def _write_issued_one(self, item: _Issued) -> None:
        """One issuance, after its group failed: the error raised is this item's own.

        Contention (a busy SQLite store, a concurrent writer's head or page first) is retried
        with a short random back-off; a taken credential id is not.
        """
        for attempt in range(1, _WRITE_ATTEMPTS + 1):
            try:
                await self._write_issued([item])
                return
            except StorageError as exc:
                contention = is_contention(exc) and exc.details.get("reason") != _ID_TAKEN
                if not contention or attempt == _WRITE_ATTEMPTS:
                    raise
            await asyncio.sleep(random.random() * min(0.002 * attempt, 0.05))  # noqa: S311

    async def issued(self, credential_id: str) -> IssuedRecord:
        """What the hospital remembers of a credential it issued: from its issuance group, or
        from the chunk record of the batch that issued it (:meth:`run_batch`), or from the
        record an earlier version wrote for it alone.

        :raises InvalidInputError: ``notFound`` when no credential with that id was issued.
        :raises StorageError: the store fails, or a record was altered.
        """
        async with self.store.session() as session:
            groups = await session.fetch_all(_ISSUED_GROUP, {_ID_TAG: credential_id}, limit=1)
            batch = None if groups else await find_issued(session, credential_id)
            legacy = None if groups or batch else await session.fetch(_ISSUED, credential_id)
        if batch is not None:
            return self._batch_record(batch)
        for group in groups:
            value = group.json()
            records = value.get("records") if isinstance(value, dict) else None
            if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
                raise StorageError(f"the issuance record {_ISSUED_GROUP}/… is not a group")
            for data in records:
                if data.get("credential_id") == credential_id:
                    return _record_of(data)
        if legacy is None:
            raise InvalidInputError(
                "no credential with that id was issued here",
                code=ErrorCode.NOT_FOUND,
                details={"credentialId": credential_id[:100]},
            )
        data = legacy.json()
        if not isinstance(data, dict):
            raise StorageError(f"the issuance record {_ISSUED}/… is not a JSON object")
        return _record_of(data)

    def _batch_record(self, found: _BatchCredential) -> IssuedRecord:
        """The issuance record of a credential a batch issued, read from its chunk record.

        :raises StorageError: the stored credential is not one this hospital's batch made.
        """
        credential = found.credential
        try:
            if isinstance(credential, dict):
                return _w3c_batch_record(found.credential_id, credential)
            if isinstance(credential, str):
                return self._sd_jwt_batch_record(found.credential_id, credential, found.extra)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise StorageError(
                "a batch credential record lacks a member or has a bad type (store altered)",
                details={"category": _BATCH_ISSUED},
            ) from exc
        raise StorageError(
            "a batch credential record holds neither a W3C credential nor an SD-JWT",
            details={"category": _BATCH_ISSUED},
        )

    def _sd_jwt_batch_record(
        self, credential_id: str, sd_jwt: str, extra: Mapping[str, Any] | None
    ) -> IssuedRecord:
        """An SD-JWT VC's issuance record: its key (``kid``), signing time (``iat``) and type
        (``vct``) from its issuer-signed JWT; its status entries as stored beside it, or, for a
        chunk an earlier version stored without them, the revocation entry its ``status``
        claim names (the one status an SD-JWT VC has: :meth:`update_status` revokes it).
        """
        jwt = sd_jwt.split("~", 1)[0]
        header, payload = _jwt_part(jwt, 0), _jwt_part(jwt, 1)
        kind = _KIND_OF_VCT.get(str(payload.get("vct")))
        stored = extra.get("status") if extra is not None else None
        if isinstance(stored, list):
            status = tuple(stored)
        else:
            reference = payload["status"]["status_list"]
            token_url, index = str(reference["uri"]), int(reference["idx"])
            prefix, suffix = f"{self.base_url}/status-lists/", "/token"
            own = token_url.startswith(prefix) and token_url.endswith(suffix)
            list_id = token_url[len(prefix) : -len(suffix)]
            status = (self.status.entry(list_id, index, "revocation"),) if own else ()
        return IssuedRecord(
            credential_id=credential_id,
            types=("VerifiableCredential", str(kind)) if kind else ("VerifiableCredential",),
            issued=format_datetime(datetime.fromtimestamp(int(payload["iat"]), UTC)),
            key=str(header["kid"]),
            status=status,
        )

    async def update_status(self, credential_id: str, action: str) -> dict[str, bool]:
        """Revoke, suspend, or reinstate (``active``) a credential issued here.

        Revocation is final; reinstating lifts a suspension only: reinstating a credential
        that is not suspended changes nothing and audits nothing. The status bit and the audit
        entry commit in one transaction: a crash leaves both or neither.

        :returns: per purpose, whether its bit is now set.
        :raises InvalidInputError: unknown action or credential; reinstating a revocation.
        """
        if action not in StatusAction.ALL:
            raise InvalidInputError(
                f"unknown status {action!r}; use one of {sorted(StatusAction.ALL)}"
            )
        record = await self.issued(credential_id)
        if action != StatusAction.REVOKED and credential_id.startswith(_SD_JWT_ID_PREFIX):
            # Its IETF Token Status List carries the revocation list only (one bit per entry).
            raise InvalidInputError(
                "an SD-JWT VC can be revoked, not suspended or reinstated: its status list "
                "carries revocation only; revoke it and issue a new one when it applies again",
                details={"reason": "suspensionNotSupported", "format": "sd-jwt"},
            )
        own = f"{self.base_url}/status-lists/"
        entries = {
            str(e.get("statusPurpose")): e
            for e in record.status
            if str(e.get("statusListCredential", "")).startswith(own)
        }
        if not entries:
            raise InvalidInputError(
                "the credential was issued without a status entry", code=ErrorCode.NOT_FOUND
            )

        def entry(purpose: str) -> dict[str, Any]:
            # A credential issued with a client-given status (VC-API) may lack a purpose.
            if purpose not in entries:
                raise InvalidInputError(
                    f"the credential has no {purpose} status entry here",
                    code=ErrorCode.NOT_FOUND,
                    details={"reason": "noStatusEntry", "purpose": purpose},
                )
            return entries[purpose]

        outcome: dict[str, bool] = {}
        if action == StatusAction.REVOKED:
            await self._set(entry("revocation"), True, AuditEvent.CREDENTIAL_REVOKED, record)
            outcome["revocation"] = True
        elif action == StatusAction.SUSPENDED:
            await self._set(entry("suspension"), True, AuditEvent.CREDENTIAL_SUSPENDED, record)
            outcome["suspension"] = True
        else:
            revocation = entries.get("revocation")
            if revocation is not None and await self._get(revocation):
                raise InvalidInputError(
                    "the credential is revoked; revocation is final and cannot be undone",
                    code=ErrorCode.INVALID_INPUT,
                )
            suspension = entry("suspension")
            if await self._get(suspension):
                await self._set(suspension, False, AuditEvent.CREDENTIAL_REINSTATED, record)
            outcome["suspension"] = False
        return outcome

    async def _set(
        self, entry: Mapping[str, Any], value: bool, event: AuditEvent, record: IssuedRecord
    ) -> None:
        """Set a status bit and append its audit entry in one transaction: a crash leaves
        both or neither."""
        list_id, index = self._list_of(entry)

        async def audit(txn: Session) -> None:
            await self.audit.append_in(txn, [(event, {"credential_id": record.credential_id})])

        await self.status.set_status(
            list_id, index, str(entry["statusPurpose"]), value, before_commit=audit
        )

    async def _get(self, entry: Mapping[str, Any]) -> bool:
        list_id, index = self._list_of(entry)
        return await self.status.status(list_id, index, str(entry["statusPurpose"]))

    def _list_of(self, entry: Mapping[str, Any]) -> tuple[str, int]:
        url = str(entry["statusListCredential"])
        prefix = f"{self.base_url}/status-lists/"
        if not url.startswith(prefix):
            raise InvalidInputError(
                "a status entry of another issuer", code=ErrorCode.INVALID_INPUT
            )
        return url[len(prefix) :], int(entry["statusListIndex"])

    async def issue_record(
        self,
        claims: RecordClaims,
        *,
        subject_did: str,
        credential_format: str = "vc",
        holder_jwk: Mapping[str, Any] | None = None,
        cryptosuite: str = "eddsa-jcs-2022",
        valid_until: datetime | None = None,
        status: list[tuple[str, int]] | None = None,
        record: bool = True,
        signer: AskarSigner | None = None,
    ) -> IssuedCredential:
        """Issue one template's claims (:mod:`issuer.templates`) to a citizen.

        ``vc``: a W3C VC with revocation and suspension entries. ``sd-jwt``: an SD-JWT VC bound
        to ``holder_jwk`` (``cnf``) whose ``status`` points at the same revocation index,
        published as an IETF Token Status List (``/status-lists/<id>/token``).

        :param status: pre-allocated ``(list_id, index)`` for revocation then suspension (the
            batch path allocates a chunk's indexes at once); allocated here when ``None``.
        :param record: keep an issuance record and audit entry for it; a batch keeps its own
            results (one record per chunk) and audits the batch instead.
        :param signer: the active signer, when the caller already has it (a batch chunk).
        :raises InvalidInputError: an unknown format, or ``sd-jwt`` without a holder key.
        """
        if credential_format not in FORMATS:
            raise InvalidInputError(
                f"unknown credential format {credential_format!r}; use one of {sorted(FORMATS)}"
            )
        if status is None:
            status = await self._fresh_indexes()
        entries = self._entries(status)
        signer = signer or await self.active_signer()
        now = self.clock()
        if credential_format == "vc":
            unsigned = w3c_credential(
                claims,
                issuer=self.did,
                subject_did=subject_did,
                valid_from=now,
                valid_until=valid_until,
                status=entries,
            )
            signed: dict[str, Any] | str = add_proof(
                unsigned, signer, created=now, cryptosuite=cryptosuite
            )
            credential_id = str(unsigned["id"])
        else:
            if holder_jwk is None and claims.kind != CredentialKind.EMERGENCY_SUMMARY:
                raise InvalidInputError(
                    "an SD-JWT VC needs the holder's public key (holderJwk) for key binding"
                )
            list_id, index = status[0]
            signed = sd_jwt_credential(
                claims,
                signer=signer,
                issuer=self.did,
                holder_jwk=dict(holder_jwk) if holder_jwk is not None else None,
                iat=now,
                exp=valid_until,
                status=referenced_status_claim(self.token_status_url(list_id), index),
            )
            credential_id = f"{_SD_JWT_ID_PREFIX}{hashlib.sha256(signed.encode()).hexdigest()[:32]}"
        if record:
            await self.record_issued(
                {
                    "id": credential_id,
                    "type": ["VerifiableCredential", str(claims.kind)],
                    "credentialStatus": entries,
                },
                key=signer.verification_method,
                credential_format=credential_format,
                new_id=True,  # a UUID v4 (W3C) or a digest of the SD-JWT, made above
            )
        return IssuedCredential(
            str(claims.kind), credential_format, credential_id, signed, claims.record_key
        )

    async def run_batch(
        self,
        job_id: str | None,
        patients: Iterable[tuple[str, Mapping[str, Any]]],
        *,
        credential_format: str = "vc",
        progress: Callable[[int, int], None] | None = None,
        chunk_size: int = 500,
    ) -> JobResult:
        """Issue one credential per patient, crash-safe: rerunning ``job_id`` after a crash
        leaves every patient with exactly one credential (:mod:`issuer.batch`).

        Each payload is ``{"subject": <citizen DID>, "fhir": <resource>, "holderJwk": {...}}``
        (``holderJwk`` for SD-JWT VC). A chunk's status indexes are allocated at once.

        No issuance record is written per credential: :meth:`issued` reads a batch
        credential's record from its chunk record (found by credential id), so it is revoked,
        suspended and reinstated like any other. A W3C credential shows all its record holds;
        an SD-JWT VC's status claim names its revocation entry only, so its two status
        entries are stored beside it.
        """
        if credential_format not in FORMATS:
            raise InvalidInputError(
                f"unknown credential format {credential_format!r}; use one of {sorted(FORMATS)}"
            )
        jobs = BatchJobs(self.store, clock=self.clock, audit=self.audit)
        job = await jobs.create(job_id, patients, credential_format, chunk_size=chunk_size)
        pending: list[list[tuple[str, int]]] = []
        signers: list[AskarSigner] = []

        async def before_chunk(count: int) -> None:
            signers[:] = [await self.active_signer()]
            revocation = await self.status.allocate_many("revocation", count)
            suspension = await self.status.allocate_many("suspension", count)
            pending.clear()
            pending.extend([r, s] for r, s in zip(revocation, suspension, strict=True))
            pending.reverse()

        async def issue_one(
            patient_key: str, payload: Mapping[str, Any]
        ) -> tuple[str, Any] | tuple[str, Any, dict[str, Any]]:
            status = pending.pop() if pending else None
            subject = payload.get("subject")
            if not isinstance(subject, str) or not subject.startswith("did:"):
                raise InvalidInputError(
                    "a batch item needs 'subject', the citizen's DID",
                    code=ErrorCode.BATCH_ITEM_INVALID,
                )
            claims = claims_for_resource(validate_resource(payload.get("fhir")))
            if status is None:  # never, as before_chunk allocates for every item
                status = await self._fresh_indexes()
            issued = await self.issue_record(
                claims,
                subject_did=subject,
                credential_format=credential_format,
                holder_jwk=payload.get("holderJwk"),
                status=status,
                record=False,
                signer=signers[0] if signers else None,
            )
            if credential_format == "vc":
                return issued.id, issued.credential
            return issued.id, issued.credential, {"status": self._entries(status)}

        result = await jobs.run(
            job.job_id,
            issue_one,
            progress=progress,
            before_chunk=before_chunk,
            actor=self.did,
            # issue_one passes payload["fhir"] unchanged to validate_resource and the
            # template, so a worker process may validate and map the next chunk meanwhile.
            fhir_member="fhir",
        )
        record_issuance(credential_format, result.issued_now)
        return result

    def token_status_url(self, list_id: str) -> str:
        """Where a list is published as an IETF Token Status List (for SD-JWT VC)."""
        return f"{self.status.list_url(list_id)}/token"

    async def status_list_token(self, list_id: str, purpose: str) -> str:
        """The signed Token Status List JWT of one list (valid for a day)."""
        encoded = await self.status.encoded(list_id, purpose)
        bits = from_bitstring(decode_list(encoded.encoded_list), purpose)
        now = self.clock()
        return status_list_token(
            self.token_status_url(list_id),
            bits,
            await self.active_signer(),
            iat=now,
            exp=now + timedelta(days=1),
            ttl=timedelta(seconds=300),
            issuer=self.did,
        )

    async def status_list_credential(self, list_id: str, purpose: str) -> dict[str, Any]:
        """The signed BitstringStatusListCredential for one list (valid for a day)."""
        now = self.clock()
        unsigned = await self.status.list_credential(
            list_id,
            purpose,
            valid_from=now - timedelta(minutes=5),
            valid_until=now + timedelta(days=1),
        )
        return add_proof(unsigned, await self.active_signer(), created=now)
