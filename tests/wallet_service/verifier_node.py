"""A minimal emergency verifier as its own process, for the wallet service tests.

    python -m tests.wallet_service.verifier_node --port P --store PATH [--insecure-http-host H]

It sends present-proof 3.0 requests carrying a DCQL query (``health-mydata/dcql-request@v1.0``),
checks the SD-JWT presentations it receives with :func:`agent.credentials.sd_jwt.verify_sd_jwt`
(issuer signature, Disclosures, KB-JWT nonce and audience), keeps a small report per thread,
and answers a ``consent-withdrawn`` notice with a ``deletion-receipt``. The real verifier
service is built elsewhere; this is only the other end of the wallet's DIDComm.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
from functools import partial
from typing import Any

import uvicorn
from fastapi import APIRouter, Request

from agent.clock import format_datetime, utcnow
from agent.credentials.sd_jwt import verify_sd_jwt
from agent.dids import DIDResolver
from agent.errors import HealthMyDataError
from agent.jsonio import parse_json_object
from agent.protocols import (
    MEDIA_TYPE_JSON,
    NOTIFICATION,
    PRESENT_PROOF,
    Notice,
    NoticeKind,
    attachment_json,
    attachment_json_data,
    attachments_with_format,
    handle_notification,
    handle_presentation,
    request_presentation,
)
from agent.runtime import DIDCommAgent
from agent.service import AgentServiceConfig, create_agent_app
from wallet.didcomm import FORMAT_DCQL_RESPONSE, dcql_request_attachment

AUDIENCE = "https://er.example/verifier"


def verifier_app(config: AgentServiceConfig, insecure_hosts: frozenset[str]) -> Any:
    async def configure(app: Any, agent: DIDCommAgent) -> None:
        resolver = DIDResolver(http_client=agent.http, insecure_http_hosts=insecure_hosts)

        async def save(category: str, name: str, value: dict[str, Any]) -> None:
            async with agent.store.transaction() as txn:
                await txn.insert(category, name, value)
                await txn.commit()

        async def verify(message: Any, record: Any) -> bool:
            nonce = record.data["request_attachments"][0]["data"]["json"]["nonce"]
            report: dict[str, Any] = {"verified": False}
            try:
                found = attachments_with_format(message.attachments, FORMAT_DCQL_RESPONSE)
                answer = attachment_json_data(found[0])
                assert isinstance(answer, dict)
                report["consent_id"] = answer["consent_id"]
                report["queries"] = sorted(answer["vp_token"])
                results = []
                for presentations in answer["vp_token"].values():
                    for presentation in presentations:
                        verified = await verify_sd_jwt(
                            presentation,
                            issuer_key_resolver=resolver,
                            now=utcnow(),
                            expected_aud=AUDIENCE,
                            expected_nonce=nonce,
                        )
                        results.append(
                            {
                                "vct": verified.payload.get("vct"),
                                "disclosed": [list(p) for p in verified.disclosed_paths],
                                "payload": verified.payload,
                            }
                        )
                report["presentations"] = results
                report["verified"] = bool(results)
            except (HealthMyDataError, KeyError, AssertionError, IndexError, TypeError) as exc:
                report["error"] = f"{type(exc).__name__}: {getattr(exc, 'code', exc)}"
            await save("verification", message.thread_id, report)
            return bool(report["verified"])

        async def on_notice(notice: Notice) -> dict[str, Any] | None:
            if notice.kind is not NoticeKind.CONSENT_WITHDRAWN:
                return None
            consent_id = str(notice.body["consent_id"])
            await save("withdrawal", consent_id, dict(notice.body))
            return {
                "kind": "deletion-receipt",
                "occurred_at": format_datetime(utcnow()),
                "consent_id": consent_id,
                "deleted": ["presentation"],
            }

        agent.registry.register(
            PRESENT_PROOF,
            partial(
                handle_presentation, role="verifier", repository=agent.repository, verify=verify
            ),
            messages=("propose-presentation", "presentation"),
        )
        agent.registry.register(
            NOTIFICATION,
            partial(handle_notification, repository=agent.repository, on_notice=on_notice),
            messages=("notice",),
        )

    router = APIRouter(prefix="/admin")

    @router.post("/connections/{connection_id}/request-presentation", status_code=202)
    async def request_proof(request: Request, connection_id: str) -> dict[str, str]:
        """Body: ``{"dcql_query": ..., "purpose": ...}`` or ``{"raw": <attachment data>}``."""
        agent: DIDCommAgent = request.app.state.agent
        body = parse_json_object(await request.body())
        nonce = secrets.token_urlsafe(16)
        if "raw" in body:
            attachment = attachment_json(
                "dcql-request", MEDIA_TYPE_JSON, "health-mydata/dcql-request@v1.0", body["raw"]
            )
        else:
            attachment = dcql_request_attachment(
                body["dcql_query"],
                nonce=nonce,
                audience=AUDIENCE,
                purpose=body.get("purpose", "emergency care"),
                verifier_name="City ER",
                retention="P7D",
            )
        message = await request_presentation(
            agent.repository, [attachment], connection_id=connection_id, will_confirm=True
        )
        await agent.send(connection_id, message)
        return {"thread_id": str(message["id"]), "nonce": nonce}

    @router.get("/verifications/{thread_id}")
    async def verification(request: Request, thread_id: str) -> Any:
        agent: DIDCommAgent = request.app.state.agent
        async with agent.store.session() as session:
            record = await session.fetch("verification", thread_id)
        return None if record is None else record.json()

    @router.get("/withdrawals")
    async def withdrawals(request: Request) -> Any:
        agent: DIDCommAgent = request.app.state.agent
        async with agent.store.session() as session:
            return [r.json() for r in await session.fetch_all("withdrawal")]

    return create_agent_app(config, configure=configure, admin_routers=[router])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--insecure-http-host", action="append", default=[])
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="verifier %(levelname)s %(name)s %(message)s")
    config = AgentServiceConfig(
        store_uri=f"sqlite://{args.store}",
        store_key=os.environ["NODE_STORE_KEY"],
        public_url=f"http://127.0.0.1:{args.port}",
        title="test verifier",
    )
    app = verifier_app(config, frozenset(args.insecure_http_host))
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
