"""The verifier over DIDComm: ask a wallet with DCQL, verify its SD-JWT answer, honour withdrawal.

Two protocols on the verifier service's :class:`agent.runtime.DIDCommAgent`
(:func:`register_verifier` registers both):

* **present-proof 3.0, verifier.** :func:`send_dcql_request` issues a single-use nonce from the
  :class:`verifier.nonces.NonceStore` (audience = the verifier's DID) and sends a
  ``request-presentation`` with one ``health-mydata/dcql-request@v1.0`` attachment (the
  wallet's format, ``wallet/didcomm.py``). The ``presentation``'s
  ``health-mydata/dcql-vp-token@v1.0`` attachment (``{"vp_token", "consent_id"}``) is checked:
  the nonce is consumed once (a second presentation for the same request is a replay), every
  SD-JWT+KB in the ``vp_token`` goes through :func:`verifier.sdjwt.verify_sd_jwt_presentation`
  (KB-JWT ``aud`` = the verifier's DID, ``nonce`` = the request's; requested fields = the DCQL
  claim paths of that Credential Query), and the role's policy decides, with the claim the
  request was made for (``claim_id``, ``claim_type``: the insurer's policy needs both, to tell
  one claim from another and flag evidence presented twice). The outcome is stored
  (:data:`PRESENTATION_CATEGORY`, keyed by thread id, tagged with the consent id) and answered
  with an ``ack`` when accepted, else a problem-report ``e.p.msg.presentation-rejected``.
* **notification 1.0, recipient.** A ``consent-withdrawn`` notice deletes what was stored for
  that consent (only for the connection that sent it) and is answered with a
  ``deletion-receipt`` on the withdrawal's thread, naming what was deleted.

Logs carry thread ids, counts and outcomes, never claim values.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, Final

from agent.clock import format_datetime, utcnow
from agent.credentials.sd_jwt import parse_sd_jwt
from agent.errors import ErrorCode, HealthMyDataError, InvalidInputError, ProofError
from agent.observability import record_verification
from agent.protocols import (
    MEDIA_TYPE_JSON,
    NOTIFICATION,
    PRESENT_PROOF,
    Notice,
    NoticeKind,
    PresentationMessage,
    ProtocolRecord,
    attachment_json,
    attachment_json_data,
    attachments_with_format,
    handle_notification,
    handle_presentation,
    request_presentation,
)
from agent.requestproof import sign_request_proof
from agent.runtime import DIDCommAgent
from agent.types import JSONObject
from verifier.policy import MAX_CLAIM_ID_LENGTH, claim_context, evidence_key, with_claim_check
from verifier.sdjwt import verify_sd_jwt_presentation

if TYPE_CHECKING:
    from verifier.api import VerifierState

__all__ = [
    "FORMAT_DCQL_REQUEST",
    "FORMAT_DCQL_RESPONSE",
    "MAX_CLAIM_ID_LENGTH",
    "PRESENTATION_CATEGORY",
    "claim_context",
    "dcql_definitions",
    "get_presentation",
    "register_verifier",
    "send_dcql_request",
]

log = logging.getLogger(__name__)

#: request-presentation attachment (the wallet's format): DCQL query, nonce, audience, purpose.
FORMAT_DCQL_REQUEST: Final = "health-mydata/dcql-request@v1.0"
#: presentation attachment: ``{"vp_token": {<query id>: [SD-JWT+KB]}, "consent_id"}``.
FORMAT_DCQL_RESPONSE: Final = "health-mydata/dcql-vp-token@v1.0"
#: Where a verified (or refused) presentation's report and decision are kept.
PRESENTATION_CATEGORY: Final = "verifier_didcomm_presentation"
_SD_JWT: Final = "dc+sd-jwt"


def _invalid(message: str, **details: Any) -> InvalidInputError:
    return InvalidInputError(message, code=ErrorCode.REQUEST_INVALID, details=details)


def _json_path(path: list[Any]) -> str:
    steps = ["$"]
    for step in path:
        if step is None:
            steps.append("[*]")
        elif isinstance(step, int):
            steps.append(f"[{step}]")
        else:
            escaped = step.replace("\\", "\\\\").replace("'", "\\'")
            steps.append(f"['{escaped}']")
    return "".join(steps)


def _pointer(path: list[Any] | tuple[Any, ...]) -> str:
    return "/" + "/".join(
        "*" if p is None else str(p).replace("~", "~0").replace("/", "~1") for p in path
    )


def dcql_definitions(query: object) -> dict[str, dict[str, Any]]:
    """Per Credential Query id, a PE 2.0 definition of its claim paths (what
    :func:`verifier.sdjwt.verify_sd_jwt_presentation` checks as requested fields).

    Only ``dc+sd-jwt`` queries are accepted: this verifier checks SD-JWT VC presentations.

    :raises InvalidInputError: ``presentationRequestInvalid`` for a malformed query.
    """
    if not isinstance(query, dict):
        raise _invalid("dcql_query must be a JSON object")
    credentials = query.get("credentials")
    if not isinstance(credentials, list) or not credentials:
        raise _invalid("dcql_query.credentials must be a non-empty list")
    definitions: dict[str, dict[str, Any]] = {}
    for index, credential in enumerate(credentials):
        where = f"credentials[{index}]"
        if not isinstance(credential, dict):
            raise _invalid(f"{where} must be an object", path=where)
        query_id = credential.get("id")
        if not isinstance(query_id, str) or not query_id or query_id in definitions:
            raise _invalid(f"{where}.id must be a unique non-empty string", path=where)
        if credential.get("format") != _SD_JWT:
            raise _invalid(f"{where}.format must be {_SD_JWT!r}", path=where)
        fields: list[dict[str, Any]] = []
        meta = credential.get("meta") or {}
        vct_values = meta.get("vct_values") if isinstance(meta, dict) else None
        if isinstance(vct_values, list) and vct_values:
            fields.append({"path": ["$.vct"], "filter": {"enum": vct_values}})
        claims = credential.get("claims", [])
        if not isinstance(claims, list):
            raise _invalid(f"{where}.claims must be a list", path=where)
        for claim in claims:
            path = claim.get("path") if isinstance(claim, dict) else None
            if (
                not isinstance(path, list)
                or not path
                or not all(p is None or isinstance(p, str | int) for p in path)
            ):
                raise _invalid(f"{where}.claims[].path must be a non-empty claims path", path=where)
            fields.append({"path": [_json_path(path)]})
        definitions[query_id] = {
            "id": query_id,
            "input_descriptors": [
                {
                    "id": query_id,
                    "constraints": {"limit_disclosure": "required", "fields": fields},
                }
            ],
        }
    return definitions


def _requested(query: Mapping[str, Any]) -> dict[str, list[str]]:
    return {
        str(c["id"]): [_pointer(claim["path"]) for claim in c.get("claims", [])]
        for c in query["credentials"]
    }


async def send_dcql_request(
    agent: DIDCommAgent,
    state: VerifierState,
    connection_id: str,
    dcql_query: object,
    *,
    purpose: str,
    role: str,
    verifier_name: str | None = None,
    retention: str | None = None,
    claim_id: object = None,
    claim_type: object = None,
) -> dict[str, Any]:
    """Issue a nonce and send a DCQL ``request-presentation`` on ``connection_id``.

    The role and the claim (:func:`claim_context`) are kept with the nonce, not sent: the
    policy decides the answer with them.

    :returns: ``{"thread_id", "nonce", "audience", "expires"}``.
    :raises InvalidInputError: a malformed query, purpose or claim (before a nonce is spent).
    """
    dcql_definitions(dcql_query)  # refuse before a nonce is spent
    assert isinstance(dcql_query, dict)
    if not isinstance(purpose, str) or not purpose:
        raise _invalid("purpose must be a non-empty string")
    if role not in state.policies:
        raise _invalid(f"role must be one of {', '.join(sorted(state.policies))}", field="role")
    context: dict[str, str] = {
        "role": role,
        **claim_context(state.policies[role], claim_id, claim_type),
    }
    record = await state.nonces.issue(
        audience=state.did,
        purpose=purpose,
        request={"dcql_query": dcql_query, "context": context},
    )
    data: JSONObject = {
        "dcql_query": dcql_query,
        "nonce": record.nonce,
        "audience": state.did,
        "purpose": purpose,
    }
    if verifier_name is not None:
        data["verifier_name"] = verifier_name
    if retention is not None:
        data["retention"] = retention
    # Proof that this relationship's peer DID speaks for the verifier's public DID, so the
    # wallet can check the verifier's accreditation (agent.requestproof).
    connection = await agent.connection(connection_id)
    data["verifier_proof"] = sign_request_proof(
        state.signer,
        verifier_did=state.did,
        peer_did=connection.my_did,
        nonce=record.nonce,
        now=utcnow(),
    )
    attachment = attachment_json("dcql-request", MEDIA_TYPE_JSON, FORMAT_DCQL_REQUEST, data)
    message = await request_presentation(
        agent.repository, [attachment], connection_id=connection_id, will_confirm=True
    )
    await agent.send(connection_id, message)
    log.info("DCQL request %s sent on connection %s", message["id"], connection_id)
    return {
        "thread_id": str(message["id"]),
        "nonce": record.nonce,
        "audience": state.did,
        "expires": format_datetime(record.expires),
    }


async def get_presentation(agent: DIDCommAgent, thread_id: str) -> dict[str, Any] | None:
    """The stored report and decision for ``thread_id``, or ``None``."""
    async with agent.store.session() as session:
        record = await session.fetch(PRESENTATION_CATEGORY, thread_id)
    if record is None:
        return None
    value = record.json()
    assert isinstance(value, dict)
    return value


def _request_of(record: ProtocolRecord) -> dict[str, Any]:
    for attachment in record.data.get("request_attachments") or []:
        if isinstance(attachment, dict) and attachment.get("format") == FORMAT_DCQL_REQUEST:
            data = attachment_json_data(attachment)
            if isinstance(data, dict):
                return data
    raise _invalid("this thread's request was not a DCQL request of this verifier")


async def _verify(
    agent: DIDCommAgent, state: VerifierState, message: PresentationMessage, record: ProtocolRecord
) -> bool:
    request = _request_of(record)
    entry: dict[str, Any] = {
        "thread_id": message.thread_id,
        "connection_id": record.connection_id,
        "received": format_datetime(utcnow()),
        "purpose": request.get("purpose"),
        "audience": state.did,
        "requested": _requested(request["dcql_query"]),
        "consent_id": None,
        "role": state.default_role,
        "claim_id": None,
        "verified": False,
        "accepted": False,
        "presentations": [],
        "errors": [],
    }
    try:
        found = attachments_with_format(message.attachments, FORMAT_DCQL_RESPONSE)
        answer = attachment_json_data(found[0]) if found else None
        if not isinstance(answer, dict) or not isinstance(answer.get("vp_token"), dict):
            raise _invalid(f"the presentation carries no {FORMAT_DCQL_RESPONSE} vp_token")
        consent_id = answer.get("consent_id")
        entry["consent_id"] = consent_id if isinstance(consent_id, str) else None
        nonce = await state.nonces.consume(request.get("nonce"), audience=state.did)
        context = dict(nonce.request.get("context") or {})
        role = str(context.get("role") or state.default_role)
        entry["role"] = role
        entry["claim_id"] = context.get("claim_id")
        claim = {k: context[k] for k in ("claim_id", "claim_type") if k in context}
        definitions = dcql_definitions(request["dcql_query"])
        vp_token: dict[str, Any] = answer["vp_token"]
        unknown = sorted(set(vp_token) - set(definitions))
        missing = sorted(set(definitions) - set(vp_token))
        if unknown or missing:
            raise ProofError(
                "the vp_token does not answer the Credential Queries asked",
                code=ErrorCode.FIELD_MISSING,
                details={"unknown": unknown, "missing": missing},
            )
        for query_id, presentations in vp_token.items():
            if not isinstance(presentations, list) or not presentations:
                raise _invalid("each vp_token entry is a non-empty list", query=query_id)
            for presentation in presentations:
                entry["presentations"].append(
                    await _check_one(
                        state,
                        query_id,
                        presentation,
                        definitions[query_id],
                        role,
                        nonce.nonce,
                        claim,
                    )
                )
    except HealthMyDataError as error:
        entry["errors"].append(error.to_dict())
    shown = entry["presentations"]
    entry["verified"] = (
        bool(shown) and not entry["errors"] and all(p["report"]["verified"] for p in shown)
    )
    entry["accepted"] = (
        bool(shown) and not entry["errors"] and all(p["decision"]["accepted"] for p in shown)
    )
    tags = {"connection_id": record.connection_id or ""}
    if entry["consent_id"]:
        tags["consent_id"] = entry["consent_id"]
    async with agent.store.transaction() as txn:
        await txn.insert(PRESENTATION_CATEGORY, message.thread_id, entry, tags=tags)
        await txn.commit()
    log.info(
        "presentation %s: %d credential(s), verified=%s accepted=%s",
        message.thread_id,
        len(shown),
        entry["verified"],
        entry["accepted"],
    )
    return bool(entry["accepted"])


async def _check_one(
    state: VerifierState,
    query_id: str,
    presentation: object,
    definition: dict[str, Any],
    role: str,
    nonce: str,
    claim: Mapping[str, str],
) -> dict[str, Any]:
    if not isinstance(presentation, str):
        raise _invalid("only SD-JWT VC presentations (strings) are accepted", query=query_id)
    report = await verify_sd_jwt_presentation(
        presentation,
        resolver=state.resolver,
        audience=state.did,
        expected_nonce=nonce,
        definition=definition,
        status=state.token_status,
        trust=state.trust,
    )
    # As POST /presentations/submit: the request's claim (its type checked against the
    # evidence's) and the evidence's key.
    report = with_claim_check(state.policies[role], report, claim.get("claim_type"))
    record_verification(report)
    decision = await state.policies[role].decide(
        report,
        claim_id=claim.get("claim_id"),
        claim_type=claim.get("claim_type"),
        evidence_key=evidence_key(presentation),
    )
    disclosed: list[str] = []
    if report.claims is not None:
        disclosed = sorted(_pointer(p) for p in parse_sd_jwt(presentation).paths.values())
    return {
        "query_id": query_id,
        "vct": (report.claims or {}).get("vct"),
        "issuer": report.issuer,
        "disclosed": disclosed,
        "report": report.to_dict(),
        "decision": decision.to_dict(),
    }


async def _on_withdrawal(
    agent: DIDCommAgent, connection_id: str | None, notice: Notice
) -> JSONObject | None:
    if notice.kind is not NoticeKind.CONSENT_WITHDRAWN:
        return None
    consent_id = str(notice.body["consent_id"])
    deleted: list[str] = []
    async with agent.store.transaction() as txn:
        rows = await txn.fetch_all(
            PRESENTATION_CATEGORY,
            {"consent_id": consent_id, "connection_id": connection_id or ""},
        )
        for row in rows:
            await txn.remove(PRESENTATION_CATEGORY, row.name)
            deleted.append(f"presentation:{row.name}")
        await txn.commit()
    log.info("consent %s withdrawn: %d presentation(s) deleted", consent_id, len(deleted))
    return {
        "kind": NoticeKind.DELETION_RECEIPT.value,
        "occurred_at": format_datetime(utcnow()),
        "consent_id": consent_id,
        "deleted": deleted,
    }


def register_verifier(agent: DIDCommAgent, state: VerifierState) -> None:
    """Register present-proof 3.0 (verifier) and notification 1.0 (recipient) handlers."""

    async def verify(message: PresentationMessage, record: ProtocolRecord) -> bool:
        return await _verify(agent, state, message, record)

    async def notification(message: Any, *, connection_id: str | None) -> list[JSONObject]:
        return await handle_notification(
            message,
            repository=agent.repository,
            connection_id=connection_id,
            on_notice=partial(_on_withdrawal, agent, connection_id),
        )

    agent.registry.register(
        PRESENT_PROOF,
        partial(handle_presentation, role="verifier", repository=agent.repository, verify=verify),
        messages=("propose-presentation", "presentation"),
    )
    agent.registry.register(NOTIFICATION, notification, messages=("notice",))
