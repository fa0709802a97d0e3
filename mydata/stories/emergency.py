"""Story 3, the emergency card: the wallet derives an SD-JWT presentation of only the emergency
sections, small enough for one QR code; the emergency department reads it with no network at
all, from what it synced earlier (the hospital's DID document, its status list, the operator's
trust list), and says how old that data is."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from rich.markup import escape

from agent.credentials.sd_jwt import parse_sd_jwt
from agent.encoding import b64url_decode, b64url_encode
from agent.errors import HealthMyDataError
from mydata.stories.narrate import Narrator, Shared
from mydata.stories.sync import fetch_trust, offline_cache
from mydata.stories.world import LOOPBACK, World
from verifier.cli import decode_card, emergency_lines, render_report, scan_emergency_card
from verifier.policy import Decision
from verifier.report import VerificationReport

__all__ = ["SECTIONS", "ages_text", "run", "scan", "status_uri", "sync_er_cache"]

SECTIONS = ["allergies", "problems", "medications", "bloodType", "emergencyContact"]


def status_uri(sd_jwt: str) -> str:
    """The Status List Token URI an SD-JWT VC names (``status.status_list.uri``)."""
    payload = parse_sd_jwt(sd_jwt).payload
    return str(payload["status"]["status_list"]["uri"])


def ages_text(decision: Decision) -> str:
    """``status data 2 s old, trust data 3 s old`` from a decision's ages."""
    parts = [f"{kind} data {seconds} s old" for kind, seconds in sorted(decision.ages.items())]
    return ", ".join(parts) or "no cached data used"


async def sync_er_cache(world: World, shared: Shared, path: Path) -> dict[str, Any]:
    """What the emergency department syncs while online (``mydata er sync --out``): the
    hospital's DID document, its Status List Token and the operator's trust list; written to
    ``path``."""
    operator, hospital = world["operator"], world["hospital"]
    trust = await fetch_trust(
        world.http,
        operator.url,
        shared.operator_did,
        accreditations=False,
        insecure_http_hosts=LOOPBACK,
    )
    cache = await offline_cache(
        world.http,
        trust=trust,
        issuers=[hospital.url],
        status_lists=[shared.status_uri],
        insecure_http_hosts=LOOPBACK,
    )
    await asyncio.to_thread(path.write_text, json.dumps(cache), encoding="utf-8")
    return cache


async def scan(
    out: Narrator, shared: Shared, text: str
) -> tuple[VerificationReport | None, Decision | None]:
    """The ER scans ``text`` with its offline cache only, as ``mydata er scan --cache``."""
    if shared.er_cache is None:
        raise RuntimeError("the ER has not synced its offline cache")
    try:
        return await scan_emergency_card(
            text, offline_cache=shared.er_cache, operator_dids=frozenset({shared.operator_did})
        )
    except HealthMyDataError as exc:
        out.says("ER", escape(f"cannot read the card: [{exc.code}] {exc.message}"))
        return None, None


async def run(world: World, out: Narrator, shared: Shared) -> None:
    out.begin(3, "Emergency card: one QR code, verified offline")
    wallet = world["wallet"]
    summary = shared.held[("EmergencySummary", "dc+sd-jwt")]
    stored = await wallet.call("GET", f"/wallet/credentials/{summary['id']}")
    shared.status_uri = status_uri(stored["credential"])
    cache_path = world.workdir / "er-cache.json"
    shared.er_cache = await sync_er_cache(world, shared, cache_path)
    out.says(
        "ER",
        "synced at the start of the shift: the hospital's DID document, its status list, "
        "the operator's trust list",
    )
    out.detail(f"status list {shared.status_uri}")

    card = await wallet.call(
        "POST", "/wallet/emergency-card", json={"sections": SECTIONS, "lifetime": "365d"}
    )
    shared.card = card["payload"]
    out.says(
        "wallet",
        f"makes the card: {len(card['payload'])} characters in one QR code, "
        f"valid until {card['expires'][:10]}, sections {', '.join(card['sections'])}",
    )
    out.detail(card["payload"][:72] + "...")
    out.says("ER", "the patient is unconscious; no network in the ambulance; scans the card")
    report, decision = await scan(out, shared, shared.card)
    assert decision is not None
    assert report is not None
    for label, items in emergency_lines(decision.show):
        out.says("ER sees", f"[bold]{escape(label)}[/]: {escape('; '.join(items))}")
    out.says("ER", f"issued by {decision.show.get('issuer')}; {ages_text(decision)}")
    for warning in decision.warnings:
        out.detail(f"warning: {warning}")
    out.expect(decision.accepted, "the ER accepts the card offline")
    out.expect(set(decision.ages) == {"status", "trust"}, "the ER states its data's ages")
    out.decision(
        "ER",
        "ACCEPTED" if decision.accepted else "REJECTED",
        "the emergency card, offline: " + "; ".join(decision.reasons),
    )

    # Someone changes the blood type on the card: the Disclosure no longer matches its digest.
    altered = _altered_blood_type(decode_card(shared.card))
    report, tampered = await scan(out, shared, altered)
    assert report is not None
    assert tampered is not None
    out.says("ER", "scans a card whose blood type was changed to O Rh(D) negative")
    render_report(out.console, report, title="the altered card")
    out.expect(not tampered.accepted, "an altered card is refused")
    out.decision(
        "ER",
        "REJECTED" if not tampered.accepted else "ACCEPTED",
        f"the altered card ({', '.join(str(r.check) for r in report.failed)})",
    )


def _altered_blood_type(sd_jwt: str) -> str:
    """``sd_jwt`` with its bloodType Disclosure's value replaced (salt and name kept)."""
    parts = sd_jwt.split("~")
    for index, part in enumerate(parts[1:-1], start=1):
        salt, name, value = json.loads(b64url_decode(part))
        if name == "bloodType":
            value = (
                {**value, "text": "Blood group O Rh(D) negative"}
                if isinstance(value, dict)
                else "O-"
            )
            parts[index] = b64url_encode(json.dumps([salt, name, value]).encode())
    return "~".join(parts)
