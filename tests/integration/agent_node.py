"""A party's agent as its own process, for the DIDComm integration tests.

    python -m tests.integration.agent_node --role hospital|wallet --port P --store PATH

The store key and admin token come from the environment (``NODE_STORE_KEY``,
``MYDATA_ADMIN_TOKEN``). The hospital issues an AllergyIntolerance credential over
issue-credential 3.0 and verifies presentations over present-proof 3.0; the wallet requests
offered credentials, stores them, and presents them. Real parts throughout: askar stores,
did:peer relationships, authcrypt envelopes, uvicorn on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import APIRouter, Request

from agent.credentials import add_proof
from agent.dids import did_key_from_public
from agent.keys import KeyType, decode_multikey
from agent.protocols import (
    FORMAT_PEX_DEFINITION,
    FORMAT_PEX_SUBMISSION,
    FORMAT_W3C_VC_DI,
    FORMAT_W3C_VC_DI_OFFER,
    FORMAT_W3C_VC_DI_REQUEST,
    MEDIA_TYPE_JSON,
    attachment_json,
    attachment_json_data,
    attachments_with_format,
    handle_issuance,
    handle_presentation,
    offer_credential,
    request_presentation,
)
from agent.runtime import DIDCommAgent
from agent.service import AgentServiceConfig, create_agent_app
from issuer.issue import issue_credential, record_credential
from verifier.verify import verify_presentation

SAMPLE = Path(__file__).resolve().parents[2] / "mydata" / "samples" / "allergy-intolerance.json"
ISSUE = "https://didcomm.org/issue-credential/3.0"
PRESENT = "https://didcomm.org/present-proof/3.0"


async def _own_did_key(agent: DIDCommAgent) -> tuple[str, str]:
    """This party's long-lived did:key (issuer or holder binding), created on first start."""
    async with agent.store.session() as session:
        record = await session.fetch("node", "did")
    if record is not None:
        data = record.json()
        return str(data["did"]), str(data["vm"])
    multikey = await agent.keys.create_key(KeyType.ED25519_PUB)
    did = did_key_from_public(KeyType.ED25519_PUB, decode_multikey(multikey)[1])
    vm = f"{did}#{multikey}"
    await agent.keys.bind(
        multikey,
        did=did,
        verification_method=vm,
        relationships=["assertionMethod", "authentication"],
    )
    async with agent.store.transaction() as txn:
        await txn.insert("node", "did", {"did": did, "vm": vm})
        await txn.commit()
    return did, vm


def hospital_app(config: AgentServiceConfig) -> Any:
    async def configure(app: Any, agent: DIDCommAgent) -> None:
        did, vm = await _own_did_key(agent)
        signer = await agent.keys.signer(vm)

        async def issue(message: Any, record: Any) -> list[dict[str, Any]]:
            request = attachment_json_data(
                attachments_with_format(message.attachments, FORMAT_W3C_VC_DI_REQUEST)[0]
            )
            subject = str(request["holder"])
            resource = json.loads(SAMPLE.read_text())
            credential = issue_credential(
                record_credential(resource, issuer=did, subject=subject), signer
            )
            return [
                attachment_json(
                    "credential-0", MEDIA_TYPE_JSON, FORMAT_W3C_VC_DI, {"credential": credential}
                )
            ]

        async def verify(message: Any, record: Any) -> bool:
            challenge = record.data["request_attachments"][0]["data"]["json"]["challenge"]
            submission = attachments_with_format(message.attachments, FORMAT_PEX_SUBMISSION)[0]
            presentation = attachment_json_data(submission)
            report = await verify_presentation(
                presentation, resolver=agent.resolver, challenge=challenge, domain=did
            )
            async with agent.store.transaction() as txn:
                await txn.insert(
                    "verification",
                    message.thread_id,
                    report.to_dict(),
                    tags={"ok": str(report.verified)},
                )
                await txn.commit()
            return report.verified

        agent.registry.register(
            ISSUE,
            partial(handle_issuance, role="issuer", repository=agent.repository, issue=issue),
            messages=("propose-credential", "request-credential", "ack"),
        )
        agent.registry.register(
            PRESENT,
            partial(
                handle_presentation, role="verifier", repository=agent.repository, verify=verify
            ),
            messages=("propose-presentation", "presentation"),
        )

    router = APIRouter(prefix="/admin")

    @router.post("/connections/{connection_id}/offer", status_code=202)
    async def offer(request: Request, connection_id: str) -> dict[str, str]:
        agent: DIDCommAgent = request.app.state.agent
        await agent.connection(connection_id)
        message = await offer_credential(
            agent.repository,
            [
                attachment_json(
                    "offer-0",
                    MEDIA_TYPE_JSON,
                    FORMAT_W3C_VC_DI_OFFER,
                    {"type": "AllergyIntoleranceCredential"},
                )
            ],
            connection_id=connection_id,
        )
        await agent.send(connection_id, message)
        return {"thread_id": str(message["id"])}

    @router.post("/connections/{connection_id}/request-presentation", status_code=202)
    async def request_proof(request: Request, connection_id: str) -> dict[str, str]:
        agent: DIDCommAgent = request.app.state.agent
        did, _ = await _own_did_key(agent)
        definition = {"id": "allergy", "challenge": secrets.token_urlsafe(16), "domain": did}
        message = await request_presentation(
            agent.repository,
            [attachment_json("request-0", MEDIA_TYPE_JSON, FORMAT_PEX_DEFINITION, definition)],
            connection_id=connection_id,
            will_confirm=True,
        )
        await agent.send(connection_id, message)
        return {"thread_id": str(message["id"])}

    @router.get("/verifications/{thread_id}")
    async def verification(request: Request, thread_id: str) -> Any:
        agent: DIDCommAgent = request.app.state.agent
        async with agent.store.session() as session:
            record = await session.get("verification", thread_id)
        return record.json()

    return create_agent_app(config, configure=configure, admin_routers=[router])


def wallet_app(config: AgentServiceConfig) -> Any:
    async def configure(app: Any, agent: DIDCommAgent) -> None:
        did, vm = await _own_did_key(agent)
        signer = await agent.keys.signer(vm)

        async def on_offer(message: Any, record: Any) -> list[dict[str, Any]]:
            return [
                attachment_json(
                    "request-0", MEDIA_TYPE_JSON, FORMAT_W3C_VC_DI_REQUEST, {"holder": did}
                )
            ]

        async def store(message: Any, record: Any) -> None:
            for attachment in attachments_with_format(message.attachments, FORMAT_W3C_VC_DI):
                credential = attachment_json_data(attachment)["credential"]
                async with agent.store.transaction() as txn:
                    await txn.insert("credential", str(credential["id"]), credential)
                    await txn.commit()

        async def present(message: Any, record: Any) -> list[dict[str, Any]]:
            request = attachment_json_data(
                attachments_with_format(message.attachments, FORMAT_PEX_DEFINITION)[0]
            )
            async with agent.store.session() as session:
                credentials = [r.json() for r in await session.fetch_all("credential")]
            presentation = add_proof(
                {
                    "@context": ["https://www.w3.org/ns/credentials/v2"],
                    "type": ["VerifiablePresentation"],
                    "holder": did,
                    "verifiableCredential": credentials,
                },
                signer,
                created=datetime.now(UTC),
                proof_purpose="authentication",
                challenge=str(request["challenge"]),
                domain=str(request["domain"]),
            )
            return [
                attachment_json(
                    "presentation-0", MEDIA_TYPE_JSON, FORMAT_PEX_SUBMISSION, presentation
                )
            ]

        agent.registry.register(
            ISSUE,
            partial(
                handle_issuance,
                role="holder",
                repository=agent.repository,
                on_offer=on_offer,
                store=store,
            ),
            messages=("offer-credential", "issue-credential"),
        )
        agent.registry.register(
            PRESENT,
            partial(
                handle_presentation, role="prover", repository=agent.repository, present=present
            ),
            messages=("request-presentation", "ack"),
        )

    router = APIRouter(prefix="/admin")

    @router.get("/credentials")
    async def credentials(request: Request) -> list[Any]:
        agent: DIDCommAgent = request.app.state.agent
        async with agent.store.session() as session:
            return [r.json() for r in await session.fetch_all("credential")]

    return create_agent_app(config, configure=configure, admin_routers=[router])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=["hospital", "wallet"], required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--store", required=True)
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO, format=f"{args.role} %(levelname)s %(name)s %(message)s"
    )
    config = AgentServiceConfig(
        store_uri=f"sqlite://{args.store}",
        store_key=os.environ["NODE_STORE_KEY"],
        public_url=f"http://127.0.0.1:{args.port}",
        title=f"test {args.role}",
    )
    app = hospital_app(config) if args.role == "hospital" else wallet_app(config)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
