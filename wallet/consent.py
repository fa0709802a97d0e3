"""Consent records, after ISO/IEC TS 27560:2023 (consent record information structure) and the
Kantara Consent Receipt: one per presentation, signed by the citizen, kept as a hash-chained
history; withdrawal and the recipient's deletion receipt are appended to it.

The record is a small JSON document, not a Verifiable Credential: it is the citizen's own
statement, kept by the citizen (and shown to the recipient if ever asked), so it needs a
signature and no JSON-LD. It is signed with Data Integrity ``eddsa-jcs-2022`` (which only
canonicalises with JCS, so it needs no ``@context``) by the holder's Ed25519 key, with proof
purpose ``assertionMethod``; ``issuer`` is the holder DID, so
:func:`agent.credentials.verify_proofs` checks the key is the citizen's.

=========================  ==================================================================
member                     27560 / Consent Receipt element
=========================  ==================================================================
``id``                     record identifier
``issuer``, ``subject``    the data subject (holder DID) who gives and signs the consent
``recipient``              recipient: ``id`` (DID) and ``name``
``purpose``                purpose, as the recipient stated it
``legalBasis``             legal basis (default ``consent``: GDPR Art. 6(1)(a) and, for health
                           data, explicit consent under Art. 9(2)(a))
``dataCategories``         personal data categories: the credential types
``fields``                 per credential: its id, format, types and the exact claims revealed
``retention``              storage period the recipient may keep them, ISO 8601 duration
``time``                   time consent was given
``presentationDigest``     SHA-256 of the presentation sent (JCS), linking record and data
``status``                 ``active`` when signed; the current status (``active`` or
                           ``withdrawn``) is :attr:`ConsentRecord.status`
=========================  ==================================================================

History: records ``consent-log / <seq>`` (``~seq`` plaintext, a counter), each
``{seq, time, event, consentId, document, prevHash, hash}`` with ``hash`` = SHA-256 of the JCS
of the entry without ``hash`` (as :mod:`issuer.audit`), events ``given``, ``withdrawn``
(a signed withdrawal statement), ``receipt`` (the recipient's deletion receipt body) and
``undelivered`` (:func:`rollback_consent`: the presentation never reached the recipient). The
current state of each consent is ``consent / <id>``.

A consent record says that a presentation went to its recipient. The record is written before
the presentation is sent (so that a share is never made without one); when the presentation
cannot be delivered, :func:`rollback_consent` removes the consent's current state (it is no
longer listed, and there is nothing to withdraw: nothing was shared) and appends an
``undelivered`` entry naming it, so that the history keeps both what the citizen agreed to and
that it was never sent. Nothing is removed from the history.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from agent.clock import format_datetime
from agent.credentials.jcs import canonicalize
from agent.credentials.proofs import add_proof, verify_proofs
from agent.errors import ErrorCode
from agent.protocols.notification import Notice, NoticeKind, parse_notice
from agent.storage import Session
from agent.types import JSONObject
from wallet.errors import ConsentError
from wallet.plan import PresentationPlan

if TYPE_CHECKING:
    from wallet.holder import Wallet

__all__ = [
    "CONSENT_CATEGORY",
    "LOG_CATEGORY",
    "ConsentRecord",
    "ConsentStatus",
    "HistoryEntry",
    "consent_history",
    "get_consent",
    "list_consents",
    "record_consent",
    "record_receipt",
    "rollback_consent",
    "verify_consent",
    "verify_history",
    "withdraw",
]

CONSENT_CATEGORY: Final = "consent"
LOG_CATEGORY: Final = "consent-log"
_HEAD: Final = ("consent-head", "head")
GENESIS: Final = "0" * 64
RECORD_TYPE: Final = "ConsentRecord"
WITHDRAWAL_TYPE: Final = "ConsentWithdrawal"
UNDELIVERED_TYPE: Final = "ConsentUndelivered"
#: The history event of a consent rolled back because its presentation was not delivered.
UNDELIVERED_EVENT: Final = "undelivered"


class ConsentStatus(StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """A consent and its current state.

    :param document: the signed consent record (see the module docstring).
    :param status: ``active`` or ``withdrawn``.
    :param withdrawal: the signed withdrawal statement, once withdrawn.
    :param receipt: the recipient's ``deletion-receipt`` notice body, once received.
    """

    id: str
    document: JSONObject
    status: ConsentStatus
    withdrawal: JSONObject | None
    receipt: JSONObject | None

    @property
    def recipient(self) -> dict[str, str]:
        return dict(self.document["recipient"])

    @property
    def purpose(self) -> str:
        return str(self.document["purpose"])


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    seq: int
    time: str
    event: str
    consent_id: str
    document: JSONObject
    prev_hash: str
    hash: str


def _entry_hash(entry: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonicalize({k: v for k, v in entry.items() if k != "hash"})).hexdigest()


async def _append(
    txn: Session, event: str, consent_id: str, document: JSONObject, time: str
) -> None:
    head = await txn.fetch(*_HEAD, for_update=True)
    seq, prev = (0, GENESIS) if head is None else (head.json()["seq"], head.json()["hash"])
    entry: dict[str, Any] = {
        "seq": seq + 1,
        "time": time,
        "event": event,
        "consentId": consent_id,
        "document": document,
        "prevHash": prev,
    }
    entry["hash"] = _entry_hash(entry)
    name = f"{seq + 1:012d}"
    await txn.insert(LOG_CATEGORY, name, entry, {"~seq": name})
    value = {"seq": seq + 1, "hash": entry["hash"]}
    if head is None:
        await txn.insert(*_HEAD, value)
    else:
        await txn.replace(*_HEAD, value)


def _state(data: Any) -> ConsentRecord:
    return ConsentRecord(
        id=str(data["record"]["id"]),
        document=data["record"],
        status=ConsentStatus(data["status"]),
        withdrawal=data.get("withdrawal"),
        receipt=data.get("receipt"),
    )


async def record_consent(
    wallet: Wallet,
    plan: PresentationPlan,
    *,
    presentation_digest: str,
    legal_basis: str = "consent",
    retention: str = "P30D",
) -> ConsentRecord:
    """Sign and keep the consent for a presentation made from ``plan``.

    :param presentation_digest: ``sha-256:<hex>`` of the presentation sent.
    :param retention: how long the recipient may keep the data, an ISO 8601 duration.
    """
    now = wallet.clock()
    holder = await wallet.holder_did()
    document: JSONObject = {
        "type": [RECORD_TYPE],
        "id": f"urn:uuid:{uuid.uuid4()}",
        "issuer": holder,
        "subject": holder,
        "recipient": {"id": plan.recipient.id, "name": plan.recipient.name},
        "purpose": plan.purpose,
        "legalBasis": legal_basis,
        "dataCategories": sorted({t for item in plan.items for t in item.credential.types}),
        "fields": [
            {
                "credential": item.credential.id,
                "format": str(item.credential.format),
                "types": list(item.credential.types),
                "fields": ["/"] if item.whole_credential else list(item.disclosed),
                "requested": list(item.requested),
            }
            for item in plan.items
        ],
        "retention": retention,
        "time": format_datetime(now),
        "presentationDigest": presentation_digest,
        "status": str(ConsentStatus.ACTIVE),
    }
    signed = add_proof(
        document, await wallet.holder_signer(), created=now, proof_purpose="assertionMethod"
    )
    async with wallet.store.transaction(wallet.profile) as txn:
        await txn.insert(
            CONSENT_CATEGORY,
            signed["id"],
            {"record": signed, "status": str(ConsentStatus.ACTIVE)},
            {"recipient": plan.recipient.id, "status": str(ConsentStatus.ACTIVE)},
        )
        await _append(txn, "given", signed["id"], signed, signed["time"])
        await txn.commit()
    return ConsentRecord(signed["id"], signed, ConsentStatus.ACTIVE, None, None)


async def verify_consent(wallet: Wallet, document: JSONObject) -> None:
    """Check a consent record's (or withdrawal's) signature: made by its ``issuer``'s key.

    :raises agent.errors.ProofError: the signature does not verify or is not the issuer's.
    """
    await verify_proofs(document, wallet.resolver, now=wallet.clock())


async def get_consent(wallet: Wallet, consent_id: str) -> ConsentRecord:
    """:raises ConsentError: ``consentNotFound``."""
    async with wallet.store.session(wallet.profile) as session:
        record = await session.fetch(CONSENT_CATEGORY, consent_id)
    if record is None:
        raise _not_found(consent_id)
    return _state(record.json())


async def list_consents(
    wallet: Wallet, *, status: ConsentStatus | None = None, recipient: str | None = None
) -> list[ConsentRecord]:
    """The consents, oldest first, optionally only those of a status or recipient."""
    wql: dict[str, Any] = {}
    if status is not None:
        wql["status"] = str(status)
    if recipient is not None:
        wql["recipient"] = recipient
    async with wallet.store.session(wallet.profile) as session:
        records = await session.fetch_all(CONSENT_CATEGORY, wql or None, order_by="id")
    return [_state(r.json()) for r in records]


def _not_found(consent_id: str) -> ConsentError:
    return ConsentError("no consent with this id in this wallet", details={"consentId": consent_id})


async def withdraw(wallet: Wallet, consent_id: str) -> JSONObject:
    """Withdraw a consent: sign a withdrawal, mark the consent ``withdrawn``, and return the
    ``consent-withdrawn`` notice body (:mod:`agent.protocols.notification`) to send to the
    recipient over DIDComm.

    :raises ConsentError: ``consentNotFound``; ``consentNotActive`` when withdrawn already.
    """
    now = wallet.clock()
    time = format_datetime(now)
    # Keys are read before the transaction: on SQLite a second session would wait on its lock.
    holder = await wallet.holder_did()
    signer = await wallet.holder_signer()
    async with wallet.store.transaction(wallet.profile) as txn:
        data = await _active_for_update(txn, consent_id)
        statement: JSONObject = {
            "type": [WITHDRAWAL_TYPE],
            "issuer": holder,
            "consent": consent_id,
            "recipient": data["record"]["recipient"],
            "time": time,
        }
        signed = add_proof(statement, signer, created=now, proof_purpose="assertionMethod")
        data["status"] = str(ConsentStatus.WITHDRAWN)
        data["withdrawal"] = signed
        await txn.replace(
            CONSENT_CATEGORY,
            consent_id,
            data,
            {"recipient": data["record"]["recipient"]["id"], "status": data["status"]},
        )
        await _append(txn, "withdrawn", consent_id, signed, time)
        await txn.commit()
    return {
        "kind": str(NoticeKind.CONSENT_WITHDRAWN),
        "occurred_at": time,
        "consent_id": consent_id,
    }


async def _active_for_update(txn: Session, consent_id: str) -> dict[str, Any]:
    """The consent's current record, locked for this transaction, while it is active.

    :raises ConsentError: ``consentNotFound``; ``consentNotActive`` when withdrawn already.
    """
    record = await txn.fetch(CONSENT_CATEGORY, consent_id, for_update=True)
    if record is None:
        raise _not_found(consent_id)
    data: dict[str, Any] = record.json()
    if data["status"] != ConsentStatus.ACTIVE:
        raise ConsentError(
            "this consent was withdrawn already",
            code=ErrorCode.CONSENT_NOT_ACTIVE,
            details={"consentId": consent_id},
        )
    return data


async def rollback_consent(wallet: Wallet, consent_id: str, *, reason: str) -> JSONObject:
    """Roll back a consent whose presentation never reached its recipient: its current state is
    removed (:func:`get_consent` no longer finds it, nor :func:`list_consents`), and the history
    gets an ``undelivered`` entry after its ``given`` one. Returns that entry's document.

    :param reason: why, as an error code (e.g. ``didcommDeliveryFailed``); no health data.
    :raises ConsentError: ``consentNotFound``; ``consentNotActive`` when it was withdrawn
        meanwhile (then it is left as it is).
    """
    time = format_datetime(wallet.clock())
    async with wallet.store.transaction(wallet.profile) as txn:
        data = await _active_for_update(txn, consent_id)
        statement: JSONObject = {
            "type": [UNDELIVERED_TYPE],
            "consent": consent_id,
            "recipient": data["record"]["recipient"],
            "reason": reason[:100],
            "time": time,
        }
        await txn.remove(CONSENT_CATEGORY, consent_id)
        await _append(txn, UNDELIVERED_EVENT, consent_id, statement, time)
        await txn.commit()
    return statement


async def record_receipt(wallet: Wallet, notice: Notice | Mapping[str, Any]) -> ConsentRecord:
    """Keep the recipient's ``deletion-receipt`` notice with the consent it answers.

    :param notice: the parsed notice, or the received DIDComm message.
    :raises ConsentError: ``consentReceiptMismatch`` for another kind of notice, or a receipt
        for a consent that is not withdrawn or was sent by another party than its recipient;
        ``consentNotFound``.
    :raises agent.errors.InvalidInputError: a malformed notice.
    """
    parsed = notice if isinstance(notice, Notice) else parse_notice(dict(notice))
    if parsed.kind is not NoticeKind.DELETION_RECEIPT:
        raise ConsentError(
            f"a {parsed.kind} notice is not a deletion receipt",
            code=ErrorCode.CONSENT_RECEIPT_MISMATCH,
        )
    consent_id = str(parsed.body["consent_id"])
    sender = parsed.message.get("from")
    async with wallet.store.transaction(wallet.profile) as txn:
        record = await txn.fetch(CONSENT_CATEGORY, consent_id, for_update=True)
        if record is None:
            raise _not_found(consent_id)
        data = record.json()
        recipient = data["record"]["recipient"]["id"]
        if data["status"] != ConsentStatus.WITHDRAWN or (
            sender is not None and str(sender).split("#")[0] != recipient
        ):
            raise ConsentError(
                "the receipt does not answer a withdrawal of this consent by its recipient",
                code=ErrorCode.CONSENT_RECEIPT_MISMATCH,
                details={"consentId": consent_id},
            )
        data["receipt"] = dict(parsed.body)
        await txn.replace(
            CONSENT_CATEGORY, consent_id, data, {"recipient": recipient, "status": data["status"]}
        )
        await _append(
            txn, "receipt", consent_id, dict(parsed.body), format_datetime(wallet.clock())
        )
        await txn.commit()
    return _state(data)


async def consent_history(wallet: Wallet) -> list[HistoryEntry]:
    """Every history entry, in order."""
    async with wallet.store.session(wallet.profile) as session:
        records = await session.fetch_all(LOG_CATEGORY)
    entries = sorted((r.json() for r in records), key=lambda e: e["seq"])
    return [
        HistoryEntry(
            e["seq"], e["time"], e["event"], e["consentId"], e["document"], e["prevHash"], e["hash"]
        )
        for e in entries
    ]


async def verify_history(wallet: Wallet) -> int:
    """Check the hash chain; returns the number of entries.

    :raises ConsentError: ``consentHistoryBroken`` naming the first bad ``seq``.
    """
    entries = await consent_history(wallet)
    prev = GENESIS
    for expected, entry in enumerate(entries, start=1):
        raw = {
            "seq": entry.seq,
            "time": entry.time,
            "event": entry.event,
            "consentId": entry.consent_id,
            "document": entry.document,
            "prevHash": entry.prev_hash,
        }
        if entry.seq != expected or entry.prev_hash != prev or _entry_hash(raw) != entry.hash:
            raise ConsentError(
                "the consent history was altered: an entry was changed, removed or reordered",
                code=ErrorCode.CONSENT_HISTORY_BROKEN,
                details={"seq": expected},
            )
        prev = entry.hash
    async with wallet.store.session(wallet.profile) as session:
        head = await session.fetch(*_HEAD)
    if (head is None and entries) or (
        head is not None and (head.json()["seq"], head.json()["hash"]) != (len(entries), prev)
    ):
        raise ConsentError(
            "the consent history head does not match its last entry (entries were removed)",
            code=ErrorCode.CONSENT_HISTORY_BROKEN,
            details={"seq": len(entries)},
        )
    return len(entries)
