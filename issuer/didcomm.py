"""The hospital over DIDComm: offer a patient's records to their wallet, issue on request.

Story 2 (DESIGN.md): the citizen scans the hospital's invitation, a did:peer connection is made,
the hospital offers credentials, the wallet accepts them. Here:

1. ``POST /admin/connections/{id}/offer`` with a FHIR record: the hospital builds the credential
   claims (:mod:`issuer.templates`), keeps them as a pending offer in its store, and sends an
   ``offer-credential`` whose attachments preview only credential *types* (never clinical
   values: the offer may be declined);
2. the wallet's ``request-credential`` carries the holder's DID (W3C VC subject) and, for
   SD-JWT VC, its public JWK (``cnf``); attachment formats per docs/messaging.md;
3. the hospital issues every offered credential in every offered format, sends
   ``issue-credential``, and deletes the pending offer.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Final

from fastapi import APIRouter, Request

from agent.errors import ErrorCode, InvalidInputError
from agent.openapi import json_body, object_schema
from agent.protocols import (
    FORMAT_SD_JWT_VC,
    FORMAT_SD_JWT_VC_OFFER,
    FORMAT_SD_JWT_VC_REQUEST,
    FORMAT_W3C_VC_DI,
    FORMAT_W3C_VC_DI_OFFER,
    FORMAT_W3C_VC_DI_REQUEST,
    ISSUE_CREDENTIAL,
    MEDIA_TYPE_JSON,
    MEDIA_TYPE_SD_JWT_VC,
    attachment_base64,
    attachment_json,
    attachment_json_data,
    attachments_with_format,
    handle_issuance,
    offer_credential,
)
from agent.runtime import DIDCommAgent
from agent.service import read_json_body
from issuer.fhir import read_fhir_input
from issuer.hospital import FORMATS, Hospital
from issuer.requests import flag, record_formats
from issuer.templates import (
    CredentialKind,
    RecordClaims,
    claim_evidence,
    emergency_summary,
    records_from_bundle,
)

__all__ = ["offer_router", "register_issuance"]

_PENDING = "pending-offer"


def _claims_to_json(claims: RecordClaims) -> dict[str, Any]:
    return {
        "kind": str(claims.kind),
        "name": claims.name,
        "subject": claims.subject,
        "sd_claims": claims.sd_claims,
        "disclosable": [list(path) for path in claims.disclosable],
        "vct": claims.vct,
        "source_ids": list(claims.source_ids),
        "record_key": claims.record_key,
    }


def _claims_from_json(data: dict[str, Any]) -> RecordClaims:
    return RecordClaims(
        kind=CredentialKind(data["kind"]),
        name=data["name"],
        subject=data["subject"],
        sd_claims=data["sd_claims"],
        disclosable=tuple(tuple(path) for path in data["disclosable"]),
        vct=data["vct"],
        source_ids=tuple(data["source_ids"]),
        record_key=data["record_key"],
    )


def register_issuance(agent: DIDCommAgent, hospital: Hospital) -> None:
    """Answer ``request-credential`` on threads this hospital offered."""

    async def issue(message: Any, record: Any) -> list[dict[str, Any]]:
        async with agent.store.session() as session:
            pending = await session.fetch(_PENDING, record.thread_id)
        if pending is None:
            raise InvalidInputError(
                "no pending offer on this thread", details={"reason": "unknownOffer"}
            )
        offer = pending.json()
        holder_did: str | None = None
        holder_jwk: dict[str, Any] | None = None
        for item in attachments_with_format(message.attachments, FORMAT_W3C_VC_DI_REQUEST):
            holder_did = str(attachment_json_data(item).get("holder", "")) or None
        for item in attachments_with_format(message.attachments, FORMAT_SD_JWT_VC_REQUEST):
            jwk = attachment_json_data(item).get("holderJwk")
            holder_jwk = jwk if isinstance(jwk, dict) else None
            holder_did = holder_did or str(attachment_json_data(item).get("holder", "")) or None
        if holder_did is None or not holder_did.startswith("did:"):
            raise InvalidInputError(
                "the request names no holder DID", details={"reason": "noHolder"}
            )
        attachments: list[dict[str, Any]] = []
        for index, claims_json in enumerate(offer["claims"]):
            claims = _claims_from_json(claims_json)
            for fmt in offer["formats"]:
                if fmt == "sd-jwt" and holder_jwk is None:
                    continue  # the wallet did not ask for SD-JWT VC
                issued = await hospital.issue_record(
                    claims, subject_did=holder_did, credential_format=fmt, holder_jwk=holder_jwk
                )
                if isinstance(issued.credential, dict):
                    attachments.append(
                        attachment_json(
                            f"credential-{index}-vc",
                            MEDIA_TYPE_JSON,
                            FORMAT_W3C_VC_DI,
                            {"credential": issued.credential},
                        )
                    )
                else:
                    attachments.append(
                        attachment_base64(
                            f"credential-{index}-sd-jwt",
                            MEDIA_TYPE_SD_JWT_VC,
                            FORMAT_SD_JWT_VC,
                            issued.credential.encode("ascii"),
                        )
                    )
        async with agent.store.transaction() as txn:
            await txn.remove(_PENDING, record.thread_id)
            await txn.commit()
        return attachments

    agent.registry.register(
        ISSUE_CREDENTIAL,
        partial(handle_issuance, role="issuer", repository=agent.repository, issue=issue),
        messages=("propose-credential", "request-credential", "ack"),
    )


#: The members choosing what a FHIR input becomes (``POST /fhir/import``, the offer route).
RECORD_SELECTION: Final[dict[str, Any]] = {
    "fhir": {"type": "object", "description": "a FHIR R4 Bundle or resource"},
    "formats": {
        "type": "array",
        "minItems": 1,
        "items": {"type": "string", "enum": sorted(FORMATS)},
        "default": ["vc"],
    },
    "topics": {"type": "boolean", "default": True},
    "emergencySummary": {"type": "boolean", "default": False},
    "claimEvidence": {"type": "boolean", "default": False},
}


def offer_router() -> APIRouter:
    """``POST /admin/connections/{id}/offer``: offer a patient's record as credentials."""
    router = APIRouter(prefix="/admin", tags=["admin"])

    @router.post(
        "/connections/{connection_id}/offer",
        status_code=202,
        openapi_extra=json_body(object_schema(RECORD_SELECTION, required=["fhir"])),
    )
    async def offer(request: Request, connection_id: str) -> dict[str, Any]:
        """Body: ``{"fhir": Bundle|resource, "formats": ["vc","sd-jwt"], "topics": true,
        "emergencySummary": false, "claimEvidence": false}``."""
        agent: DIDCommAgent = request.app.state.agent
        body = await read_json_body(request)
        formats = record_formats(body)
        topics = flag(body, "topics", True)
        with_summary = flag(body, "emergencySummary", False)
        with_evidence = flag(body, "claimEvidence", False)
        await agent.connection(connection_id)
        parsed = read_fhir_input(body.get("fhir"))
        records: list[RecordClaims] = []
        if topics:
            records.extend(records_from_bundle(parsed.resources, parsed.index))
        if with_summary:
            records.append(emergency_summary(parsed.resources, index=parsed.index))
        if with_evidence:
            records.append(claim_evidence(parsed.resources, index=parsed.index))
        if not records:
            raise InvalidInputError(
                "the FHIR input holds no resource that becomes a credential",
                code=ErrorCode.INVALID_FHIR,
            )
        previews = []
        for index, claims in enumerate(records):
            if "vc" in formats:
                previews.append(
                    attachment_json(
                        f"offer-{index}-vc",
                        MEDIA_TYPE_JSON,
                        FORMAT_W3C_VC_DI_OFFER,
                        {"type": ["VerifiableCredential", str(claims.kind)], "name": claims.name},
                    )
                )
            if "sd-jwt" in formats:
                previews.append(
                    attachment_json(
                        f"offer-{index}-sd-jwt",
                        MEDIA_TYPE_JSON,
                        FORMAT_SD_JWT_VC_OFFER,
                        {"vct": claims.vct, "name": claims.name},
                    )
                )
        message = await offer_credential(
            agent.repository, previews, connection_id=connection_id, goal_code="issue-vc"
        )
        async with agent.store.transaction() as txn:
            await txn.insert(
                _PENDING,
                str(message["id"]),
                {"formats": formats, "claims": [_claims_to_json(c) for c in records]},
            )
            await txn.commit()
        await agent.send(connection_id, message)
        return {"thread_id": str(message["id"]), "offered": len(records) * len(formats)}

    return router
