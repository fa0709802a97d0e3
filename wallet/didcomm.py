"""The citizen's wallet over DIDComm: accept offered credentials, present with consent, withdraw.

Three protocols, each registered on the wallet service's :class:`agent.runtime.DIDCommAgent`
(:func:`register_wallet` does all three):

* **issue-credential 3.0, holder** (:func:`register_holder`). An ``offer-credential`` is kept
  pending (the protocol record stays in ``offer-received``) until the citizen accepts it
  (:func:`pending_offers`, :func:`accept_offer`, :func:`decline_offer`); ``auto_accept`` requests
  at once (demo). An offer names the offering party by its DID on the connection; the issuer
  of the credentials stored from that connection is remembered (agent store, category
  :data:`ISSUER_CATEGORY`), so that a later offer says which hospital it comes from and, with
  :class:`wallet.trust.WalletTrust`, whether it is accredited. The ``request-credential``
  carries ``didcomm/w3c-di-vc-request@v0.1`` ``{"holder": <holder DID>}`` and, when the offer
  previews SD-JWT VCs, ``health-mydata/sd-jwt-vc-request@v1.0`` ``{"holder", "holderJwk"}``.
  Each credential of ``issue-credential`` is verified and stored by
  :meth:`wallet.Wallet.add_credential`.
* **present-proof 3.0, prover** (:func:`register_prover`). A ``request-presentation`` carries
  one attachment of format :data:`FORMAT_DCQL_REQUEST`; the request stays pending
  (``request-received``) until the citizen has seen the plan (:func:`pending_requests`: what
  goes to whom for which purpose) and approves (:func:`approve_request`: the presentation and
  a signed consent record) or declines (:func:`decline_request`: a problem-report
  :data:`DECLINED`). A malformed request is refused at once with ``e.p.msg.malformed``. The
  thread moves to ``presentation-sent`` only once the verifier has taken the presentation: if
  it cannot be delivered, the request stays pending and its consent is rolled back
  (:func:`wallet.consent.rollback_consent`). :func:`answered_requests` lists the requests
  answered, with the verifier's answer (accepted, or its problem-report: code and reason).
* **notification 1.0** (:func:`register_notifications`): a ``deletion-receipt`` is kept with
  its consent (:func:`wallet.consent.record_receipt`); :func:`withdraw_consent` sends the
  ``consent-withdrawn`` notice.

Attachment formats of present-proof defined here (decision 0005: the wallet answers DCQL):

========================================  ====================================================
``health-mydata/dcql-request@v1.0``       request-presentation, JSON: ``{"dcql_query": <DCQL>,
                                          "nonce": str, "audience": str, "purpose": str,
                                          "verifier_name"?: str, "retention"?: ISO 8601
                                          duration (default ``P30D``), "legal_basis"?: str
                                          (default ``consent``)}``; other members are refused
``health-mydata/dcql-vp-token@v1.0``      presentation, JSON: ``{"vp_token": {<Credential
                                          Query id>: [SD-JWT+KB string | VP object]},
                                          "consent_id": <the consent record's id>}``; the
                                          consent id is what a later ``consent-withdrawn``
                                          notice names
========================================  ====================================================

The recipient of a consent is the peer DID of the connection the request came on (the party
that will send the deletion receipt); ``audience`` goes into the KB-JWT ``aud`` / VP
``domain``; the verifier's name is its own claim and is shown as such.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Final

from agent.clock import format_datetime
from agent.credentials.jcs import canonicalize
from agent.errors import (
    ErrorCode,
    HealthMyDataError,
    InvalidInputError,
    MessagingError,
    ProtocolStateError,
)
from agent.protocols import (
    FORMAT_SD_JWT_VC,
    FORMAT_SD_JWT_VC_OFFER,
    FORMAT_SD_JWT_VC_REQUEST,
    FORMAT_W3C_VC_DI,
    FORMAT_W3C_VC_DI_OFFER,
    FORMAT_W3C_VC_DI_REQUEST,
    ISSUE_CREDENTIAL,
    MEDIA_TYPE_JSON,
    NOTIFICATION,
    PRESENT_PROOF,
    PRESENTATION_REJECTED,
    CredentialMessage,
    Notice,
    NoticeKind,
    PresentationMessage,
    ProtocolRecord,
    attachment_bytes,
    attachment_json,
    attachment_json_data,
    attachments_with_format,
    build_notice,
    build_presentation,
    handle_issuance,
    handle_notification,
    handle_presentation,
    report_problem,
    request_credential,
)
from agent.runtime import DIDCommAgent
from agent.types import JSONObject
from wallet.consent import (
    ConsentRecord,
    ConsentStatus,
    get_consent,
    record_receipt,
    rollback_consent,
    withdraw,
)
from wallet.errors import ConsentError, DuplicateCredentialError, PresentationQueryError
from wallet.holder import StoredCredential, Wallet
from wallet.plan import PresentationPlan, Recipient
from wallet.present import plan_presentation, present
from wallet.trust import IssuerTrust, VerifierTrust, WalletTrust

__all__ = [
    "DECLINED",
    "FORMAT_DCQL_REQUEST",
    "FORMAT_DCQL_RESPONSE",
    "ISSUER_CATEGORY",
    "AnsweredRequest",
    "Approval",
    "OfferedCredential",
    "PendingOffer",
    "PendingRequest",
    "PresentationRequest",
    "accept_offer",
    "answered_requests",
    "approve_request",
    "dcql_request_attachment",
    "decline_offer",
    "decline_request",
    "parse_presentation_request",
    "pending_offers",
    "pending_request",
    "pending_requests",
    "plan_digest",
    "plan_to_json",
    "register_holder",
    "register_notifications",
    "register_prover",
    "register_wallet",
    "withdraw_consent",
]

log = logging.getLogger(__name__)

#: request-presentation attachment: a DCQL query with nonce, audience and purpose.
FORMAT_DCQL_REQUEST: Final = "health-mydata/dcql-request@v1.0"
#: presentation attachment: an OpenID4VP ``vp_token`` and the consent record's id.
FORMAT_DCQL_RESPONSE: Final = "health-mydata/dcql-vp-token@v1.0"
#: The problem code sent when the citizen declines an offer or a request.
DECLINED: Final = "e.p.req.declined"
_DECLINED_COMMENT: Final = "The holder declined."

_REQUEST_MEMBERS: Final = frozenset(
    {
        "dcql_query",
        "nonce",
        "audience",
        "purpose",
        "verifier_name",
        "retention",
        "legal_basis",
        "verifier_proof",
    }
)
_DURATION: Final = re.compile(
    r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$"
)
_HOLDER: Final = "holder"
_PROVER: Final = "prover"
_OFFER_RECEIVED: Final = "offer-received"
_REQUEST_RECEIVED: Final = "request-received"
_PRESENTATION_SENT: Final = "presentation-sent"
_DONE: Final = "done"
_ABANDONED: Final = "abandoned"
_MALFORMED: Final = "e.p.msg.malformed"
#: Agent store category: per connection, the issuer of the credentials last stored from it.
ISSUER_CATEGORY: Final = "wallet_connection_issuer"
#: How long an inbound ack waits for the approval that sent the presentation to record it.
_FLIGHT_WAIT: Final = 60.0
_approval_locks: weakref.WeakKeyDictionary[DIDCommAgent, asyncio.Lock] = weakref.WeakKeyDictionary()
#: Per agent, the threads whose presentation is being delivered (set when recorded or undone).
_in_flight: weakref.WeakKeyDictionary[DIDCommAgent, dict[str, asyncio.Event]] = (
    weakref.WeakKeyDictionary()
)


# --- issue-credential: holder ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OfferedCredential:
    """One credential an offer previews (types and a name only; never clinical values)."""

    format: str
    type: str
    name: str

    def to_json(self) -> JSONObject:
        return {"format": self.format, "type": self.type, "name": self.name}


@dataclass(frozen=True, slots=True)
class PendingOffer:
    """An offer waiting for the citizen: who offers what.

    :param peer: the connection's label (what the citizen typed), else the start of its DID.
    :param peer_did: the offering party's DID on this connection.
    :param issuer: the public DID of the issuer whose credentials came on this connection
        before (``None`` when none has: an offer itself proves no public DID).
    :param issuer_trust: with trusted operators, whether that issuer is an accredited hospital.
    """

    thread_id: str
    connection_id: str | None
    peer: str
    received: datetime
    goal_code: str | None
    comment: str | None
    credentials: tuple[OfferedCredential, ...]
    peer_did: str | None = None
    issuer: str | None = None
    issuer_trust: IssuerTrust | None = None

    def to_json(self) -> JSONObject:
        return {
            "thread_id": self.thread_id,
            "connection_id": self.connection_id,
            "peer": self.peer,
            "peer_did": self.peer_did,
            "issuer": self.issuer,
            "issuer_trust": None if self.issuer_trust is None else self.issuer_trust.to_json(),
            "received": format_datetime(self.received),
            "goal_code": self.goal_code,
            "comment": self.comment,
            "credentials": [c.to_json() for c in self.credentials],
        }


def _preview(attachment: Mapping[str, Any]) -> OfferedCredential | None:
    try:
        data = attachment_json_data(attachment)
    except InvalidInputError:
        return None
    if not isinstance(data, dict):
        return None
    name = str(data.get("name") or "")[:200]
    if attachment.get("format") == FORMAT_SD_JWT_VC_OFFER:
        return OfferedCredential("dc+sd-jwt", str(data.get("vct") or "")[:300], name)
    types = data.get("type")
    if isinstance(types, list):
        kinds = [str(t) for t in types if t != "VerifiableCredential"]
        kind = kinds[0] if kinds else "VerifiableCredential"
    else:
        kind = str(types or "VerifiableCredential")
    if not name and isinstance(data.get("credential"), dict):
        name = str(data["credential"].get("name") or "")[:200]
    return OfferedCredential("ldp_vc", kind[:300], name)


async def _peer(agent: DIDCommAgent, connection_id: str | None) -> tuple[str, str]:
    """(their DID, a name for people) of a connection."""
    if connection_id is None:
        return "", "unknown"
    connection = await agent.connection(connection_id)
    return connection.their_did, connection.label or connection.their_did[:48] + "..."


async def _known_issuer(agent: DIDCommAgent, connection_id: str | None) -> str | None:
    """The issuer of the credentials last stored from ``connection_id``, if any."""
    if connection_id is None:
        return None
    async with agent.store.session() as session:
        found = await session.fetch(ISSUER_CATEGORY, connection_id)
    value = None if found is None else found.json()
    issuer = value.get("issuer") if isinstance(value, dict) else None
    return issuer if isinstance(issuer, str) else None


async def _remember_issuer(
    agent: DIDCommAgent, connection_id: str | None, stored: list[StoredCredential]
) -> None:
    """Keep the issuer of credentials verified and stored from ``connection_id``."""
    issuers = [s.issuer for s in stored if s.issuer and s.issuer.startswith("did:")]
    if connection_id is None or not issuers:
        return
    value = {"issuer": issuers[-1], "time": format_datetime(agent.clock())}
    async with agent.store.transaction() as txn:
        if await txn.fetch(ISSUER_CATEGORY, connection_id, for_update=True) is None:
            await txn.insert(ISSUER_CATEGORY, connection_id, value)
        else:
            await txn.replace(ISSUER_CATEGORY, connection_id, value)
        await txn.commit()


async def _offer(
    agent: DIDCommAgent, record: ProtocolRecord, trust: WalletTrust | None = None
) -> PendingOffer:
    attachments = record.data.get("offer_attachments") or []
    previews = [
        p
        for p in (
            _preview(a)
            for a in attachments_with_format(
                attachments, FORMAT_W3C_VC_DI_OFFER, FORMAT_SD_JWT_VC_OFFER
            )
        )
        if p is not None
    ]
    body = record.data.get("offer_body") or {}
    their_did, peer = await _peer(agent, record.connection_id)
    issuer = await _known_issuer(agent, record.connection_id)
    issuer_trust = None
    if trust is not None:
        issuer_trust = await trust.assess_issuer(issuer, peer_did=their_did or None)
    return PendingOffer(
        thread_id=record.thread_id,
        connection_id=record.connection_id,
        peer=peer,
        received=record.created,
        goal_code=body.get("goal_code") if isinstance(body.get("goal_code"), str) else None,
        comment=body.get("comment") if isinstance(body.get("comment"), str) else None,
        credentials=tuple(previews),
        peer_did=their_did or None,
        issuer=issuer,
        issuer_trust=issuer_trust,
    )


async def _request_attachments(
    wallet: Wallet, offer_attachments: Iterable[Mapping[str, Any]]
) -> list[JSONObject]:
    holder = await wallet.holder_did()
    attachments = [
        attachment_json("request-vc", MEDIA_TYPE_JSON, FORMAT_W3C_VC_DI_REQUEST, {"holder": holder})
    ]
    if attachments_with_format(offer_attachments, FORMAT_SD_JWT_VC_OFFER):
        attachments.append(
            attachment_json(
                "request-sd-jwt",
                MEDIA_TYPE_JSON,
                FORMAT_SD_JWT_VC_REQUEST,
                {"holder": holder, "holderJwk": await wallet.holder_jwk()},
            )
        )
    return attachments


async def _store_issued(
    wallet: Wallet, message: CredentialMessage, agent: DIDCommAgent | None = None
) -> list[StoredCredential]:
    """Verify and keep every credential of an ``issue-credential``; a credential stored
    already (a redelivery after a crash) is skipped. A credential that does not verify is
    refused with a problem-report, after the others were kept. With ``agent``, the issuer of
    those stored is remembered for the connection."""
    stored: list[StoredCredential] = []
    rejected: list[dict[str, str]] = []
    for attachment in message.attachments:
        fmt = attachment.get("format")
        try:
            if fmt == FORMAT_W3C_VC_DI:
                data = attachment_json_data(attachment)
                credential = data.get("credential") if isinstance(data, dict) else None
                if not isinstance(credential, dict):
                    raise InvalidInputError("a W3C VC attachment holds no 'credential' object")
                stored.append(await wallet.add_credential(credential))
            elif fmt == FORMAT_SD_JWT_VC:
                text = attachment_bytes(attachment).decode("ascii", errors="strict")
                stored.append(await wallet.add_credential(text))
        except DuplicateCredentialError:
            continue
        except (HealthMyDataError, UnicodeDecodeError) as exc:
            code = str(exc.code) if isinstance(exc, HealthMyDataError) else "notAscii"
            rejected.append({"attachment": str(attachment.get("id")), "code": code})
    if agent is not None:
        await _remember_issuer(agent, message.connection_id, stored)
    if rejected:
        log.warning("refused %d issued credential(s) on %s", len(rejected), message.thread_id)
        raise InvalidInputError(
            "an issued credential does not verify; it was not stored",
            details={
                "reason": "credentialRejected",
                "problem_code": "e.p.trust.crypto",
                "rejected": rejected,
            },
        )
    return stored


def register_holder(agent: DIDCommAgent, wallet: Wallet, *, auto_accept: bool = False) -> None:
    """Receive offers (kept pending unless ``auto_accept``) and store issued credentials."""

    async def on_offer(
        message: CredentialMessage, record: ProtocolRecord
    ) -> list[JSONObject] | None:
        if not auto_accept:
            log.info("offer %s waits for the citizen", record.thread_id)
            return None
        return await _request_attachments(wallet, message.attachments)

    async def store(message: CredentialMessage, record: ProtocolRecord) -> None:
        await _store_issued(wallet, message, agent)

    agent.registry.register(
        ISSUE_CREDENTIAL,
        partial(
            handle_issuance,
            role=_HOLDER,
            repository=agent.repository,
            on_offer=on_offer,
            store=store,
        ),
        messages=("offer-credential", "issue-credential"),
    )


async def _record_in(
    agent: DIDCommAgent, protocol: str, thread_id: str, role: str, state: str
) -> ProtocolRecord:
    record = await agent.repository.get(protocol, thread_id)
    if record is None or record.role != role:
        raise ProtocolStateError(
            f"no {role} thread {thread_id!r} here",
            details={"reason": "unknownThread", "thread_id": thread_id},
        )
    if record.state != state:
        raise ProtocolStateError(
            f"thread {thread_id!r} is {record.state}, not waiting for the citizen ({state})",
            details={"reason": "unexpectedState", "thread_id": thread_id, "state": record.state},
        )
    return record


async def pending_offers(
    agent: DIDCommAgent, *, trust: WalletTrust | None = None
) -> list[PendingOffer]:
    """Offers waiting for the citizen, oldest first (and, with ``trust``, whether the issuer
    known for each connection is an accredited hospital: :meth:`WalletTrust.assess_issuer`)."""
    records = await agent.repository.find(ISSUE_CREDENTIAL, state=_OFFER_RECEIVED, role=_HOLDER)
    return [await _offer(agent, r, trust) for r in records]


async def accept_offer(agent: DIDCommAgent, wallet: Wallet, thread_id: str) -> PendingOffer:
    """Request the offered credentials (they arrive, are verified and stored, asynchronously).

    :raises ProtocolStateError: ``unknownThread``, or ``unexpectedState`` when the offer is not
        pending (accepted or declined already).
    :raises agent.errors.MessagingError: the request could not be delivered (the offer stays
        pending).
    """
    record = await _record_in(agent, ISSUE_CREDENTIAL, thread_id, _HOLDER, _OFFER_RECEIVED)
    offer = await _offer(agent, record)
    attachments = await _request_attachments(wallet, record.data.get("offer_attachments") or [])
    message = await request_credential(
        agent.repository, attachments, connection_id=record.connection_id, thread_id=thread_id
    )
    if record.connection_id is None:  # pragma: no cover - offers always come on a connection
        raise ProtocolStateError("the offer came on no connection", details={"reason": "noPeer"})
    try:
        await agent.send(record.connection_id, message)
    except HealthMyDataError:
        # Undelivered: the offer is pending again (request-sent -> offer-received is allowed).
        await agent.repository.transition(
            ISSUE_CREDENTIAL, thread_id, _OFFER_RECEIVED, expect_state="request-sent"
        )
        raise
    return offer


async def decline_offer(agent: DIDCommAgent, thread_id: str) -> None:
    """Tell the issuer no (problem-report :data:`DECLINED`); the offer is abandoned."""
    record = await _record_in(agent, ISSUE_CREDENTIAL, thread_id, _HOLDER, _OFFER_RECEIVED)
    message = await report_problem(
        agent.repository, ISSUE_CREDENTIAL, thread_id, DECLINED, comment=_DECLINED_COMMENT
    )
    if record.connection_id is not None:
        await agent.send(record.connection_id, message)


# --- present-proof: prover ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PresentationRequest:
    """A verifier's request: the DCQL query and what the presentation is bound to."""

    dcql_query: JSONObject
    nonce: str
    audience: str
    purpose: str
    verifier_name: str | None = None
    retention: str = "P30D"
    legal_basis: str = "consent"
    #: a JWS proving ``audience`` is the verifier's DID (:mod:`agent.requestproof`).
    verifier_proof: str | None = None

    def to_json(self) -> JSONObject:
        return {
            "dcql_query": self.dcql_query,
            "nonce": self.nonce,
            "audience": self.audience,
            "purpose": self.purpose,
            "verifier_name": self.verifier_name,
            "retention": self.retention,
            "legal_basis": self.legal_basis,
            "verifier_proof": self.verifier_proof,
        }


def _bad_request(message: str, **details: Any) -> PresentationQueryError:
    return PresentationQueryError(
        message,
        code=ErrorCode.PRESENTATION_QUERY_INVALID,
        details={"problem_code": "e.p.msg.malformed", **details},
    )


def parse_presentation_request(attachments: Iterable[Mapping[str, Any]]) -> PresentationRequest:
    """The :data:`FORMAT_DCQL_REQUEST` attachment of a request, checked strictly (the DCQL
    query itself is checked when planned).

    :raises PresentationQueryError: ``presentationQueryInvalid``: no such attachment, several,
        unknown members, missing or mistyped ``dcql_query``/``nonce``/``audience``/``purpose``,
        a ``retention`` that is not an ISO 8601 duration.
    """
    found = attachments_with_format(attachments, FORMAT_DCQL_REQUEST)
    if len(found) != 1:
        raise _bad_request(
            f"a request-presentation needs exactly one {FORMAT_DCQL_REQUEST} attachment",
            member="attachments",
        )
    try:
        data = attachment_json_data(found[0])
    except InvalidInputError as exc:
        raise _bad_request("the DCQL request attachment is not JSON") from exc
    if not isinstance(data, dict):
        raise _bad_request("the DCQL request must be a JSON object")
    unknown = sorted(set(data) - _REQUEST_MEMBERS)
    if unknown:
        raise _bad_request("unknown members in the DCQL request", members=unknown[:10])
    query = data.get("dcql_query")
    if not isinstance(query, dict):
        raise _bad_request("'dcql_query' must be a DCQL query object", member="dcql_query")
    strings: dict[str, str] = {}
    for key in ("nonce", "audience", "purpose"):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip() or len(value) > 1000:
            raise _bad_request(f"'{key}' must be a non-empty string", member=key)
        strings[key] = value
    optional: dict[str, str] = {}
    for key in ("verifier_name", "retention", "legal_basis"):
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            raise _bad_request(f"'{key}' must be a non-empty string", member=key)
        optional[key] = value
    proof = data.get("verifier_proof")
    if proof is not None and (not isinstance(proof, str) or not 0 < len(proof) <= 8000):
        raise _bad_request("'verifier_proof' must be a compact JWS", member="verifier_proof")
    retention = optional.get("retention", "P30D")
    if not _DURATION.match(retention):
        raise _bad_request(
            "'retention' must be an ISO 8601 duration such as P30D", member="retention"
        )
    return PresentationRequest(
        dcql_query=query,
        nonce=strings["nonce"],
        audience=strings["audience"],
        purpose=strings["purpose"],
        verifier_name=optional.get("verifier_name"),
        retention=retention,
        legal_basis=optional.get("legal_basis", "consent"),
        verifier_proof=proof,
    )


def dcql_request_attachment(
    dcql_query: Mapping[str, Any],
    *,
    nonce: str,
    audience: str,
    purpose: str,
    verifier_name: str | None = None,
    retention: str | None = None,
    legal_basis: str | None = None,
    verifier_proof: str | None = None,
) -> JSONObject:
    """The request-presentation attachment a verifier sends (for verifiers and tests);
    ``verifier_proof`` from :func:`agent.requestproof.sign_request_proof`."""
    data: JSONObject = {
        "dcql_query": dict(dcql_query),
        "nonce": nonce,
        "audience": audience,
        "purpose": purpose,
    }
    for key, value in (
        ("verifier_name", verifier_name),
        ("retention", retention),
        ("legal_basis", legal_basis),
        ("verifier_proof", verifier_proof),
    ):
        if value is not None:
            data[key] = value
    attachment = attachment_json("dcql-request", MEDIA_TYPE_JSON, FORMAT_DCQL_REQUEST, data)
    parse_presentation_request([attachment])
    return attachment


def plan_to_json(plan: PresentationPlan) -> JSONObject:
    """The plan as the citizen sees it: recipient, purpose, and per credential what goes."""
    return {
        "recipient": {"id": plan.recipient.id, "name": plan.recipient.name},
        "purpose": plan.purpose,
        "items": [
            {
                "queryId": item.query_id,
                "credential": item.credential.to_json(),
                "requested": list(item.requested),
                "disclosed": list(item.disclosed),
                "alwaysShown": list(item.always_shown),
                "wholeCredential": item.whole_credential,
                "shown": item.shown,
            }
            for item in plan.items
        ],
        "description": plan.describe(),
        "digest": plan_digest(plan),
    }


def plan_digest(plan: PresentationPlan) -> str:
    """``sha-256:<hex>`` of what the plan sends to whom for what (not of when it was made):
    approving with it guarantees the presentation is the plan the citizen saw."""
    content = {
        "recipient": [plan.recipient.id, plan.recipient.name],
        "purpose": plan.purpose,
        "items": [
            {
                "query": item.query_id,
                "credential": item.credential.id,
                "disclosed": list(item.disclosed),
                "always": list(item.always_shown),
                "whole": item.whole_credential,
                "paths": [list(p) for p in item.disclose_paths],
            }
            for item in plan.items
        ],
    }
    return "sha-256:" + hashlib.sha256(canonicalize(content)).hexdigest()


@dataclass(frozen=True, slots=True)
class PendingRequest:
    """A presentation request waiting for the citizen, with the plan that would answer it.

    :param plan: ``None`` when no stored credential answers the query (``problem`` says why);
        the citizen can only decline then.
    """

    thread_id: str
    connection_id: str | None
    received: datetime
    request: PresentationRequest
    plan: PresentationPlan | None
    problem: JSONObject | None
    #: who asks and whether it is accredited (``None`` when not assessed).
    verifier_trust: VerifierTrust | None = None

    def to_json(self) -> JSONObject:
        return {
            "thread_id": self.thread_id,
            "connection_id": self.connection_id,
            "received": format_datetime(self.received),
            "audience": self.request.audience,
            "purpose": self.request.purpose,
            "verifier_name": self.request.verifier_name,
            "retention": self.request.retention,
            "legal_basis": self.request.legal_basis,
            "plan": None if self.plan is None else plan_to_json(self.plan),
            "problem": self.problem,
            "verifier_trust": None
            if self.verifier_trust is None
            else self.verifier_trust.to_json(),
        }


async def _pending(
    agent: DIDCommAgent,
    wallet: Wallet,
    record: ProtocolRecord,
    trust: WalletTrust | None = None,
) -> PendingRequest:
    request = parse_presentation_request(record.data.get("request_attachments") or [])
    their_did, label = await _peer(agent, record.connection_id)
    verifier_trust = None
    if trust is not None:
        verifier_trust = await trust.assess(
            audience=request.audience,
            purpose=request.purpose,
            nonce=request.nonce,
            verifier_proof=request.verifier_proof,
            peer_did=their_did or None,
        )
    name = request.verifier_name or label
    plan: PresentationPlan | None = None
    problem: JSONObject | None = None
    try:
        plan = await plan_presentation(
            wallet,
            request.dcql_query,
            verifier=Recipient(their_did or request.audience, name),
            purpose=request.purpose,
        )
    except PresentationQueryError as exc:
        problem = {"code": str(exc.code), "message": exc.message}
    return PendingRequest(
        thread_id=record.thread_id,
        connection_id=record.connection_id,
        received=record.created,
        request=request,
        plan=plan,
        problem=problem,
        verifier_trust=verifier_trust,
    )


async def pending_request(
    agent: DIDCommAgent, wallet: Wallet, thread_id: str, *, trust: WalletTrust | None = None
) -> PendingRequest:
    """One pending request and its plan (and, with ``trust``, whether the verifier is
    accredited: :mod:`wallet.trust`).

    :raises ProtocolStateError: ``unknownThread``; ``unexpectedState`` when it is not pending:
        for a request answered already, the message says how (the verifier's reason when it
        refused the presentation) and ``details["outcome"]`` is its :class:`AnsweredRequest`.
    """
    record = await _prover_record(agent, thread_id)
    return await _pending(agent, wallet, record, trust)


async def _prover_record(agent: DIDCommAgent, thread_id: str) -> ProtocolRecord:
    """The pending request's record, or the refusal saying what became of it."""
    record = await agent.repository.get(PRESENT_PROOF, thread_id)
    if record is not None and record.role == _PROVER and record.state in _ANSWERED_STATES:
        answered = _answered(record)
        raise ProtocolStateError(
            f"request {thread_id!r} is not waiting for the citizen: {answered.sentence}",
            details={
                "reason": "unexpectedState",
                "thread_id": thread_id,
                "state": record.state,
                "outcome": answered.to_json(),
            },
        )
    return await _record_in(agent, PRESENT_PROOF, thread_id, _PROVER, _REQUEST_RECEIVED)


async def pending_requests(
    agent: DIDCommAgent, wallet: Wallet, *, trust: WalletTrust | None = None
) -> list[PendingRequest]:
    """Requests waiting for the citizen, oldest first, each with its plan (and, with
    ``trust``, whether the verifier is accredited)."""
    records = await agent.repository.find(PRESENT_PROOF, state=_REQUEST_RECEIVED, role=_PROVER)
    pending = []
    for record in records:
        try:
            pending.append(await _pending(agent, wallet, record, trust))
        except PresentationQueryError:
            continue  # malformed: refused on arrival
    return pending


_ANSWERED_STATES: Final = (_PRESENTATION_SENT, _DONE, _ABANDONED)
#: The longest problem-report text kept in an answer (it is the verifier's own words).
_MAX_REASON: Final = 500


@dataclass(frozen=True, slots=True)
class AnsweredRequest:
    """A presentation request no longer waiting for the citizen, and what became of it.

    :param outcome: ``sent`` (presented; the verifier's answer has not come, or it confirms
        nothing), ``accepted`` (the verifier acknowledged it), ``rejected`` (the verifier
        refused the presentation: ``problem`` says why), ``declined`` (by the citizen),
        ``refused`` (a malformed request the wallet refused), ``abandoned`` (another
        problem-report, by either side).
    :param problem: the problem-report that ended the thread: ``code``, ``reason`` (its text,
        the sender's words: never health data from this wallet) and ``by`` (``verifier`` or
        ``wallet``).
    :param consent_id: the consent the presentation was made under, when one was sent.
    """

    thread_id: str
    connection_id: str | None
    received: datetime
    updated: datetime
    state: str
    outcome: str
    request: PresentationRequest | None
    consent_id: str | None
    problem: JSONObject | None

    @property
    def sentence(self) -> str:
        """What happened, for a person."""
        problem = self.problem or {}
        said = f" ({problem.get('code')})" if problem.get("code") else ""
        reason = f": {problem['reason']}" if problem.get("reason") else ""
        return {
            "sent": "it was presented; the verifier's answer has not come",
            "accepted": "it was presented and the verifier accepted it",
            "rejected": f"the verifier rejected the presentation{reason}{said}",
            "declined": "it was declined",
            "refused": "it was malformed and refused when it arrived",
        }.get(self.outcome, f"it was abandoned{reason}{said}")

    def to_json(self) -> JSONObject:
        request = self.request
        return {
            "thread_id": self.thread_id,
            "connection_id": self.connection_id,
            "received": format_datetime(self.received),
            "updated": format_datetime(self.updated),
            "state": self.state,
            "outcome": self.outcome,
            "text": self.sentence,
            "problem": self.problem,
            "consent_id": self.consent_id,
            "audience": None if request is None else request.audience,
            "purpose": None if request is None else request.purpose,
            "verifier_name": None if request is None else request.verifier_name,
        }


def _answered(record: ProtocolRecord) -> AnsweredRequest:
    try:
        request: PresentationRequest | None = parse_presentation_request(
            record.data.get("request_attachments") or []
        )
    except PresentationQueryError:
        request = None
    stored = record.data.get("problem")
    problem: JSONObject | None = None
    outcome = "sent"
    if record.state == _ABANDONED:
        stored = stored if isinstance(stored, dict) else {}
        code = str(stored.get("code") or "")[:100] or None
        ours = bool(stored.get("sent"))
        comment = stored.get("comment")
        problem = {
            "code": code,
            "reason": comment[:_MAX_REASON] if isinstance(comment, str) and not ours else None,
            "by": "wallet" if ours else "verifier",
        }
        if ours:
            outcome = {DECLINED: "declined", _MALFORMED: "refused"}.get(code or "", "abandoned")
        else:
            outcome = "rejected" if code == PRESENTATION_REJECTED else "abandoned"
    elif record.state == _DONE and record.data.get("acked"):
        outcome = "accepted"
    consent_id = record.data.get("consent_id")
    return AnsweredRequest(
        thread_id=record.thread_id,
        connection_id=record.connection_id,
        received=record.created,
        updated=record.updated,
        state=record.state,
        outcome=outcome,
        request=request,
        consent_id=consent_id if isinstance(consent_id, str) else None,
        problem=problem,
    )


async def answered_requests(agent: DIDCommAgent, *, limit: int = 100) -> list[AnsweredRequest]:
    """Presentation requests answered (presented, declined, refused or ended by the verifier),
    the most recently changed first, at most ``limit``."""
    records: list[ProtocolRecord] = []
    for state in _ANSWERED_STATES:
        records += await agent.repository.find(PRESENT_PROOF, state=state, role=_PROVER)
    records.sort(key=lambda r: r.updated, reverse=True)
    return [_answered(r) for r in records[:limit]]


@dataclass(frozen=True, slots=True)
class Approval:
    """What was presented: the plan the citizen agreed to and the consent it made."""

    thread_id: str
    plan: PresentationPlan
    consent: ConsentRecord

    def to_json(self) -> JSONObject:
        return {
            "thread_id": self.thread_id,
            "plan": plan_to_json(self.plan),
            "consent": self.consent.document,
        }


async def approve_request(
    agent: DIDCommAgent, wallet: Wallet, thread_id: str, *, expected_digest: str | None = None
) -> Approval:
    """Present what the plan says, with a consent record, and send it to the verifier.

    The thread moves to ``presentation-sent`` once the verifier has taken the presentation.
    If it cannot be delivered, nothing changes but the consent, which is rolled back
    (:func:`wallet.consent.rollback_consent`): the request is pending again and can be
    approved again (a new presentation, a new consent) or declined.

    :param expected_digest: the :func:`plan_digest` of the plan the citizen saw; refused
        (``reason=planChanged``) when the plan is no longer the same.
    :raises PresentationQueryError: ``presentationNoMatch``; ``planChanged``.
    :raises ProtocolStateError: the request is unknown or not pending (``inFlight``: it is
        being presented right now).
    :raises agent.errors.MessagingError: not delivered (``didcommDeliveryFailed``, ...): the
        request is pending again and its consent rolled back (``details["consentId"]``).
    """
    lock = _approval_locks.setdefault(agent, asyncio.Lock())
    flights = _in_flight.setdefault(agent, {})
    async with lock:  # two approvals of one request would record two consents
        _refuse_in_flight(flights, thread_id)
        pending = await pending_request(agent, wallet, thread_id)
        if pending.plan is None:
            problem = pending.problem or {}
            raise PresentationQueryError(
                str(problem.get("message", "no stored credential answers the request")),
                code=ErrorCode.PRESENTATION_NO_MATCH,
                details={"thread_id": thread_id},
            )
        if expected_digest is not None and expected_digest != plan_digest(pending.plan):
            raise PresentationQueryError(
                "the plan changed since it was shown (credentials were added or removed); "
                "look at it again",
                code=ErrorCode.INVALID_INPUT,
                details={"reason": "planChanged", "thread_id": thread_id},
            )
        connection_id = pending.connection_id
        if connection_id is None:  # pragma: no cover - requests always come on a connection
            raise ProtocolStateError(
                "the request came on no connection", details={"reason": "noPeer"}
            )
        request = pending.request
        answer = await present(
            wallet,
            pending.plan,
            nonce=request.nonce,
            audience=request.audience,
            legal_basis=request.legal_basis,
            retention=request.retention,
        )
        attachment = attachment_json(
            "presentation",
            MEDIA_TYPE_JSON,
            FORMAT_DCQL_RESPONSE,
            {"vp_token": answer.vp_token, "consent_id": answer.consent.id},
        )
        message = build_presentation([attachment], clock=agent.repository.clock, thid=thread_id)
        flight = flights[thread_id] = asyncio.Event()
    try:
        try:
            await agent.send(connection_id, message)
        except Exception as exc:
            raise await _undelivered(wallet, thread_id, answer.consent.id, exc) from exc
        await _presented(agent, thread_id, message, answer.consent.id)
    finally:
        flights.pop(thread_id, None)
        flight.set()
    return Approval(thread_id, pending.plan, answer.consent)


def _refuse_in_flight(flights: Mapping[str, asyncio.Event], thread_id: str) -> None:
    if thread_id in flights:
        raise ProtocolStateError(
            f"request {thread_id!r} is being presented right now; look at it again in a moment",
            details={"reason": "inFlight", "thread_id": thread_id},
        )


async def _undelivered(
    wallet: Wallet, thread_id: str, consent_id: str, error: Exception
) -> MessagingError:
    """Roll the consent back after a presentation was not delivered; the error to raise."""
    code = str(error.code) if isinstance(error, HealthMyDataError) else type(error).__name__
    try:
        await rollback_consent(wallet, consent_id, reason=code)
    except HealthMyDataError as failed:  # pragma: no cover - withdrawn in between
        log.warning("consent %s of undelivered %s kept: %s", consent_id, thread_id, failed.code)
    log.warning("presentation %s not delivered (%s); consent rolled back", thread_id, code)
    why = error.message.rstrip(".") if isinstance(error, HealthMyDataError) else code
    details = error.details if isinstance(error, HealthMyDataError) else {}
    return MessagingError(
        f"the presentation was not delivered ({why}). Nothing was recorded as shared: the "
        "consent given for it was rolled back and the request is pending again; approve it "
        "again once the verifier can be reached, or decline it",
        code=ErrorCode.DIDCOMM_DELIVERY_FAILED,
        details={
            **{k: v for k, v in details.items() if k != "reason"},
            "cause": code,
            "thread_id": thread_id,
            "consentId": consent_id,
        },
    )


async def _presented(
    agent: DIDCommAgent, thread_id: str, message: JSONObject, consent_id: str
) -> None:
    """Record the delivered presentation: ``presentation-sent`` (then ``done`` when the
    verifier will not confirm), as :func:`agent.protocols.send_presentation` would have."""
    summary = {
        "id": message["id"],
        "attachments": [
            {"id": a.get("id"), "format": a.get("format")} for a in message.get("attachments", ())
        ],
    }
    try:
        record = await agent.repository.transition(
            PRESENT_PROOF,
            thread_id,
            _PRESENTATION_SENT,
            expect_state=_REQUEST_RECEIVED,
            update_data={"presentation": summary, "consent_id": consent_id},
            message_id=str(message["id"]),
        )
    except ProtocolStateError:
        # The verifier's problem-report came first (an ack waits for this, see
        # register_prover): it was delivered, and the thread has ended already.
        current = await agent.repository.get(PRESENT_PROOF, thread_id)
        if current is not None and current.state == _ABANDONED:
            log.info("the verifier answered %s before it was recorded as sent", thread_id)
            return
        raise
    if not record.data.get("will_confirm", False):
        await agent.repository.transition(
            PRESENT_PROOF, thread_id, _DONE, expect_state=_PRESENTATION_SENT
        )


async def decline_request(agent: DIDCommAgent, thread_id: str) -> None:
    """Tell the verifier no (problem-report :data:`DECLINED`); nothing is presented.

    :raises ProtocolStateError: unknown, not pending, or ``inFlight`` (being presented).
    """
    lock = _approval_locks.setdefault(agent, asyncio.Lock())
    async with lock:
        _refuse_in_flight(_in_flight.setdefault(agent, {}), thread_id)
        record = await _prover_record(agent, thread_id)
        message = await report_problem(
            agent.repository, PRESENT_PROOF, thread_id, DECLINED, comment=_DECLINED_COMMENT
        )
    if record.connection_id is None:
        return
    try:
        await agent.send(record.connection_id, message)
    except HealthMyDataError as exc:
        raise MessagingError(
            "declined here (the request is closed and nothing was presented), but the "
            f"verifier could not be told ({exc.code}); it will see no answer",
            code=ErrorCode.DIDCOMM_DELIVERY_FAILED,
            details={"thread_id": thread_id, "cause": str(exc.code)},
        ) from exc


async def _after_flight(agent: DIDCommAgent, message: Mapping[str, Any]) -> None:
    """Let a message on a thread whose presentation is being delivered wait until the
    approval has recorded it (the verifier may answer before our delivery returns)."""
    thid = message.get("thid")
    flight = _in_flight.get(agent, {}).get(thid) if isinstance(thid, str) else None
    if flight is None:
        return
    try:
        await asyncio.wait_for(flight.wait(), _FLIGHT_WAIT)
    except TimeoutError:  # pragma: no cover - a delivery never lasts this long
        log.warning("handling %s without waiting for its presentation to be recorded", thid)


def register_prover(agent: DIDCommAgent, wallet: Wallet) -> None:
    """Keep presentation requests for the citizen; refuse malformed ones at once."""
    del wallet  # requests are planned when the citizen looks at them

    async def on_request(
        message: PresentationMessage, record: ProtocolRecord
    ) -> list[JSONObject] | None:
        try:
            parse_presentation_request(message.attachments)
        except PresentationQueryError as exc:
            log.info("refusing a malformed presentation request %s: %s", record.thread_id, exc)
            report = await report_problem(
                agent.repository, PRESENT_PROOF, record.thread_id, _MALFORMED
            )
            if record.connection_id is not None:
                agent.send_later(record.connection_id, report)
            return None
        log.info("presentation request %s waits for the citizen", record.thread_id)
        return None

    async def handle(message: JSONObject, *, connection_id: str | None) -> list[JSONObject]:
        await _after_flight(agent, message)
        return await handle_presentation(
            message,
            role=_PROVER,
            repository=agent.repository,
            connection_id=connection_id,
            present=on_request,
        )

    agent.registry.register(PRESENT_PROOF, handle, messages=("request-presentation", "ack"))


# --- notifications and consent withdrawal ------------------------------------------------------


def register_notifications(agent: DIDCommAgent, wallet: Wallet) -> None:
    """Keep deletion receipts with their consents; log access notices."""

    async def on_notice(notice: Notice) -> JSONObject | None:
        if notice.kind is NoticeKind.DELETION_RECEIPT:
            try:
                await record_receipt(wallet, notice)
            except ConsentError as exc:
                log.warning("ignored a deletion receipt: %s", exc.code)
        elif notice.kind is NoticeKind.ACCESS_NOTICE:
            log.info("access notice from %s", str(notice.body.get("accessor"))[:60])
        return None

    agent.registry.register(
        NOTIFICATION,
        partial(handle_notification, repository=agent.repository, on_notice=on_notice),
        messages=("notice",),
    )


async def _connection_to(agent: DIDCommAgent, their_did: str) -> str:
    for connection in reversed(await agent.connections()):
        if connection.their_did == their_did:
            return connection.id
    raise ProtocolStateError(
        "no connection to this consent's recipient on this device",
        details={"reason": "unknownConnection"},
    )


async def withdraw_consent(
    agent: DIDCommAgent, wallet: Wallet, consent_id: str, connection_id: str | None = None
) -> ConsentRecord:
    """Withdraw a consent and send ``consent-withdrawn`` to its recipient; the recipient's
    ``deletion-receipt`` arrives later (:func:`register_notifications`).

    A consent withdrawn already whose receipt has not come is notified again.

    :param connection_id: the connection to the recipient; by default the newest connection
        whose peer DID is the consent's recipient.
    :raises ConsentError: ``consentNotFound``; ``consentNotActive`` when withdrawn and answered.
    :raises ProtocolStateError: ``unknownConnection``: nothing was changed.
    :raises agent.errors.MessagingError: the notice was not delivered (the consent is withdrawn
        here; withdraw again to resend).
    """
    consent = await get_consent(wallet, consent_id)
    if connection_id is None:
        connection_id = await _connection_to(agent, consent.recipient["id"])
    else:
        await agent.connection(connection_id)
    if consent.status is ConsentStatus.ACTIVE:
        body = await withdraw(wallet, consent_id)
    elif consent.receipt is None and consent.withdrawal is not None:
        body = {
            "kind": str(NoticeKind.CONSENT_WITHDRAWN),
            "occurred_at": str(consent.withdrawal["time"]),
            "consent_id": consent_id,
        }
    else:
        raise ConsentError(
            "this consent was withdrawn and its recipient confirmed the deletion",
            code=ErrorCode.CONSENT_NOT_ACTIVE,
            details={"consentId": consent_id},
        )
    await agent.send(connection_id, build_notice(body, clock=agent.clock))
    return await get_consent(wallet, consent_id)


def register_wallet(agent: DIDCommAgent, wallet: Wallet, *, auto_accept: bool = False) -> None:
    """:func:`register_holder`, :func:`register_prover` and :func:`register_notifications`."""
    register_holder(agent, wallet, auto_accept=auto_accept)
    register_prover(agent, wallet)
    register_notifications(agent, wallet)
