"""A DIDComm verifier that proves its public DID in its requests, as its own process.

    python -m tests.trust.verifier_node --port P --store PATH

``GET /admin/identity`` gives its public did:key; ``POST /admin/connections/{id}/request``
with ``{"purpose": str, "prove": bool}`` sends a DCQL ``request-presentation`` whose
``verifier_proof`` (:func:`agent.requestproof.sign_request_proof`) binds that DID to the
connection's peer DID and the request's nonce (``prove: false`` sends none). The real verifier
service builds its requests in verifier/didcomm.py; this is the other end of the wallet.
"""

from __future__ import annotations

import argparse
import os
import secrets
from typing import Any

import uvicorn
from fastapi import APIRouter, Request

from agent.clock import utcnow
from agent.jsonio import parse_json_object
from agent.protocols import request_presentation
from agent.requestproof import sign_request_proof
from agent.runtime import DIDCommAgent
from agent.service import AgentServiceConfig, create_agent_app
from verifier.api import load_identity
from wallet.didcomm import dcql_request_attachment

QUERY = {"credentials": [{"id": "allergies", "format": "dc+sd-jwt"}]}


def node_app(config: AgentServiceConfig) -> Any:
    async def configure(app: Any, agent: DIDCommAgent) -> None:
        app.state.identity = await load_identity(agent.store)

    router = APIRouter(prefix="/admin")

    @router.get("/identity")
    async def identity(request: Request) -> dict[str, str]:
        return {"did": request.app.state.identity[0]}

    @router.post("/connections/{connection_id}/request", status_code=202)
    async def send(request: Request, connection_id: str) -> dict[str, str]:
        agent: DIDCommAgent = request.app.state.agent
        did, signer = request.app.state.identity
        body = parse_json_object(await request.body())
        nonce = secrets.token_urlsafe(16)
        proof = None
        if body.get("prove", True):
            connection = await agent.connection(connection_id)
            proof = sign_request_proof(
                signer, verifier_did=did, peer_did=connection.my_did, nonce=nonce, now=utcnow()
            )
        attachment = dcql_request_attachment(
            QUERY,
            nonce=nonce,
            audience=did,
            purpose=str(body.get("purpose", "research")),
            verifier_proof=proof,
        )
        message = await request_presentation(
            agent.repository, [attachment], connection_id=connection_id, will_confirm=True
        )
        await agent.send(connection_id, message)
        return {"thread_id": str(message["id"])}

    return create_agent_app(config, configure=configure, admin_routers=[router])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--store", required=True)
    args = parser.parse_args()
    config = AgentServiceConfig(
        store_uri=f"sqlite://{args.store}",
        store_key=os.environ["NODE_STORE_KEY"],
        public_url=f"http://127.0.0.1:{args.port}",
        title="test verifier",
    )
    uvicorn.run(node_app(config), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
