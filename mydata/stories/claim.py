"""Story 5, the insurer's claim: at discharge the hospital issues a ClaimEvidence credential
(encounter, diagnoses, procedures, itemised charges); the insurer asks for exactly the fields
its claim type needs, with a single-use nonce, in a signed request; the citizen sees what goes
to whom and agrees; the insurer verifies and decides, and flags the same evidence presented
for a second claim.

The request and the answer go over HTTP (``POST /presentation-requests``,
``POST /presentations/submit``), the verifier's path that carries the insurer's claim id into
its policy; the wallet's part (check the request's signature, plan, present, record consent)
is the wallet library on the citizen's own store. The verifier's DIDComm present-proof path
carries the claim id too (``claim_id``/``claim_type`` of :func:`verifier.didcomm.send_dcql_request`,
kept with the pending request for the policy); tests/verifier_didcomm/test_insurer_didcomm.py
runs the claim that way.
"""

from __future__ import annotations

from typing import Any

import httpx
from rich.markup import escape
from rich.table import Table

from agent.clock import utcnow
from agent.dids import DIDResolver
from mydata.stories.issuance import offer_and_accept, sample
from mydata.stories.narrate import Narrator, Shared
from mydata.stories.world import LOOPBACK, Party, World
from verifier.policy import CLAIM_FIELDS, VCT_CLAIM_EVIDENCE
from verifier.request import verify_presentation_request
from wallet import Recipient, open_wallet, plan_presentation, present

__all__ = ["claim_definition", "run"]

CLAIM_TYPE = "institutional"


def claim_definition(claim_type: str) -> dict[str, Any]:
    """The presentation definition (PE 2.0) of exactly the fields ``claim_type`` needs."""
    fields: list[dict[str, Any]] = [
        {"path": ["$.vct"], "filter": {"type": "string", "const": VCT_CLAIM_EVIDENCE}}
    ]
    fields.extend({"path": [f"$.{name}"]} for name in CLAIM_FIELDS[claim_type])
    return {
        "id": f"{claim_type}-claim",
        "input_descriptors": [
            {"id": "claim", "constraints": {"limit_disclosure": "required", "fields": fields}}
        ],
    }


def _dcql(definition: dict[str, Any]) -> dict[str, Any]:
    """The wallet's query for a definition's fields (top-level claim names only)."""
    names = [
        f["path"][0].removeprefix("$.")
        for f in definition["input_descriptors"][0]["constraints"]["fields"]
        if f["path"][0] != "$.vct"
    ]
    return {
        "credentials": [
            {
                "id": "claim",
                "format": "dc+sd-jwt",
                "meta": {"vct_values": [VCT_CLAIM_EVIDENCE]},
                "claims": [{"path": [name]} for name in names],
            }
        ]
    }


async def _claim(
    world: World, out: Narrator, insurer: Party, wallet: Any, claim_id: str
) -> dict[str, Any]:
    """One claim: the insurer's signed request, the citizen's consented answer, the decision."""
    made = await insurer.call(
        "POST",
        "/presentation-requests",
        json={
            "presentation_definition": claim_definition(CLAIM_TYPE),
            "purpose": "insurance claim",
            "role": "insurer",
            "claim_id": claim_id,
            "claim_type": CLAIM_TYPE,
        },
    )
    out.says(
        "insurer",
        f"claim {claim_id}: asks for the {CLAIM_TYPE} claim's fields, "
        f"nonce {made['nonce'][:10]}...",
    )
    request = await verify_presentation_request(
        made["request"], resolver=DIDResolver(), now=utcnow()
    )
    plan = await plan_presentation(
        wallet,
        _dcql(request["presentation_definition"]),
        verifier=Recipient(request["iss"], "Demo Insurance"),
        purpose=str(request.get("purpose") or "insurance claim"),
    )
    disclosed = sorted({p.split("/")[1] for item in plan.items for p in item.disclosed})
    out.says(
        "wallet",
        f"checked the request's signature; shows the citizen: to {plan.recipient.name}, for "
        f"'{plan.purpose}', the claim evidence's {', '.join(disclosed)}; the citizen agrees",
    )
    answer = await present(
        wallet, plan, nonce=request["nonce"], audience=request["client_id"], retention="P10Y"
    )
    (presentation,) = answer.vp_token["claim"]
    response = await insurer.admin.post(
        "/presentations/submit", json={"presentation": presentation}
    )
    result: dict[str, Any] = response.json()
    return result


async def run(world: World, out: Narrator, shared: Shared) -> None:
    out.begin(5, "Insurer claim: only the claim type's fields, a nonce, duplicates flagged")
    insurer = world["insurer"]
    new = await offer_and_accept(
        world,
        out,
        shared,
        {
            "fhir": sample("discharge-bundle"),
            "topics": False,
            "claimEvidence": True,
            "formats": ["sd-jwt"],
        },
    )
    out.expect(
        [m["types"] for m in new] == [[VCT_CLAIM_EVIDENCE]],
        "the discharge gives the citizen one ClaimEvidence SD-JWT VC",
    )
    out.decision("wallet", "STORED", "the ClaimEvidence credential from the discharge")

    wallet_party = world["wallet"]
    async with httpx.AsyncClient(timeout=10, follow_redirects=False) as http:
        wallet = await open_wallet(
            f"sqlite://{wallet_party.store}",
            raw_key=wallet_party.info["device_key"],
            resolver=DIDResolver(http_client=http, insecure_http_hosts=LOOPBACK),
            http_client=http,
        )
        try:
            first = await _claim(world, out, insurer, wallet, "C-2026-0042")
            _show(out, first)
            accepted = first["decision"]["accepted"]
            out.expect(accepted, "the insurer accepts the first claim")
            out.decision(
                "insurer",
                "ACCEPTED" if accepted else "REJECTED",
                f"claim C-2026-0042: {'; '.join(first['decision']['reasons'])}",
            )
            out.says("citizen", "presents the same evidence again, for another claim")
            second = await _claim(world, out, insurer, wallet, "C-2026-0057")
        finally:
            await wallet.close()
    flags = second["decision"].get("flags") or []
    out.expect(
        not second["decision"]["accepted"] and "duplicateClaim" in flags,
        "the insurer flags the second claim as a duplicate",
    )
    out.decision(
        "insurer",
        "FLAGGED" if "duplicateClaim" in flags else "ACCEPTED",
        f"claim C-2026-0057: {'; '.join(second['decision']['reasons'])}",
    )


def _show(out: Narrator, result: dict[str, Any]) -> None:
    table = Table("check", "result", title="the insurer's report")
    for item in result["results"]:
        table.add_row(item["check"], item["status"])
    out.table(table)
    shown = result["decision"].get("show") or {}
    for key, value in shown.items():
        out.says("insurer sees", f"[bold]{escape(key)}[/]: {escape(readable(value))}")


def readable(value: Any) -> str:
    """A FHIR-ish claim value in a few words: codings by their display, money as amount and
    currency, an encounter by its type and period."""
    if isinstance(value, list):
        return "; ".join(readable(item) for item in value)
    if not isinstance(value, dict):
        return str(value)
    if "display" in value:
        return str(value["display"])
    if "value" in value and "currency" in value:
        return f"{float(value['value']):.2f} {value['currency']}"
    if "start" in value and "end" in value:
        return f"{str(value['start'])[:10]} to {str(value['end'])[:10]}"
    parts = [readable(value[k]) for k in ("type", "code", "period", "net") if k in value]
    return ", ".join(parts) or ", ".join(f"{k} {readable(v)}" for k, v in value.items())
