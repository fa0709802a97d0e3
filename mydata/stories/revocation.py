"""Story 9, revocation: the hospital suspends a credential, and a verifier sees it at its next
status fetch, and the lifted suspension too; it revokes the emergency summary, and the emergency
department, offline with the status it synced before, still accepts the card and says how old
its status data is, until it syncs again.

SD-JWT VCs reference only their revocation list (``issuer.hospital``), so the suspension is
shown on a W3C credential, which carries both entries."""

from __future__ import annotations

import hashlib
from typing import Any

from mydata.stories.emergency import ages_text, scan, sync_er_cache
from mydata.stories.narrate import Narrator, Shared
from mydata.stories.world import LOOPBACK, Party, World
from verifier.cli import verify_document

__all__ = ["run"]


async def _set_status(hospital: Party, credential_id: str, status: str) -> None:
    await hospital.call(
        "POST",
        "/credentials/status",
        json={
            "credentialId": credential_id,
            "credentialStatus": [{"type": "BitstringStatusListCredential", "status": status}],
        },
    )


def _credential_id(credential: Any) -> str:
    """The id the hospital recorded a credential under: a W3C VC's ``id``; for an SD-JWT VC
    (which has none), ``urn:sd-jwt:`` and the first 32 hex digits of the SHA-256 of the
    SD-JWT as issued (``issuer.hospital``), which the wallet keeps exactly as received."""
    if isinstance(credential, dict):
        return str(credential["id"])
    return f"urn:sd-jwt:{hashlib.sha256(str(credential).encode()).hexdigest()[:32]}"


async def _verify_online(er: Party, credential: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The ER service's VC-API verify; the status check's result."""
    answer = await er.admin.post("/credentials/verify", json={"verifiableCredential": credential})
    report = answer.json()
    status: dict[str, Any] = next(
        (r for r in report.get("results", []) if r["check"] == "status"), {}
    )
    return answer.status_code, status


async def run(world: World, out: Narrator, shared: Shared) -> None:
    out.begin(9, "Revocation: the hospital suspends and revokes; verifiers see it")
    hospital, phone, er = world["hospital"], world["new-phone"], world["er"]
    allergy_meta = shared.held[("AllergyIntolerance", "ldp_vc")]
    summary_meta = shared.held[("EmergencySummary", "dc+sd-jwt")]
    allergy = (await phone.call("GET", f"/wallet/credentials/{allergy_meta['id']}"))["credential"]
    summary = (await phone.call("GET", f"/wallet/credentials/{summary_meta['id']}"))["credential"]

    await _set_status(hospital, _credential_id(allergy), "suspended")
    out.says("hospital", "suspends the allergy credential (W3C VC, Bitstring Status List)")
    code, status = await _verify_online(er, allergy)
    out.says("ER", f"verifies it online, fetching the status list: status {status.get('status')}")
    out.detail(f"[{status.get('code')}] {status.get('message')}")
    suspended = code == 400 and status.get("code") == "credentialSuspended"
    out.expect(suspended, "the status check refuses the suspended credential")
    out.decision(
        "ER", "REJECTED" if suspended else "ACCEPTED", "the suspended allergy credential (status)"
    )
    await _set_status(hospital, _credential_id(allergy), "active")
    out.says("hospital", "lifts the suspension")
    report = await verify_document(allergy, insecure_http_hosts=LOOPBACK)
    out.says(
        "verifier",
        "fetching the list now (as mydata verify does) finds it valid again; the ER's service "
        "sees it at its next refresh (it keeps a list up to 5 minutes)",
    )
    out.expect(report.verified, "a fresh status fetch shows the suspension lifted")
    out.decision(
        "verifier",
        "ACCEPTED" if report.verified else "REJECTED",
        "the allergy credential after the suspension was lifted",
    )

    await _set_status(hospital, _credential_id(summary), "revoked")
    out.says("hospital", "revokes the emergency summary (SD-JWT VC, Token Status List)")
    out.says("ER", "in the ambulance, offline, with the status it synced before")
    _, stale = await scan(out, shared, shared.card)
    assert stale is not None
    out.says("ER", f"{'; '.join(stale.reasons)}; {ages_text(stale)}")
    out.expect(stale.accepted, "offline, the old status data still shows the card as valid")
    out.expect("status" in stale.ages, "the offline ER states how old its status data is")
    out.decision(
        "ER",
        "ACCEPTED" if stale.accepted else "REJECTED",
        f"the card offline, on status data {stale.ages.get('status', '?')} s old "
        "(synced before the revocation)",
    )

    shared.er_cache = await sync_er_cache(world, shared, world.workdir / "er-cache.json")
    out.says("ER", "back online: syncs again, then scans the card")
    report_now, fresh = await scan(out, shared, shared.card)
    assert fresh is not None
    assert report_now is not None
    for reason in fresh.reasons:
        out.detail(reason)
    revoked = not fresh.accepted and any(r.code == "credentialRevoked" for r in report_now.failed)
    out.expect(revoked, "after its sync the ER refuses the revoked summary")
    out.decision(
        "ER",
        "REJECTED" if not fresh.accepted else "ACCEPTED",
        f"the card after syncing: revoked ({ages_text(fresh)})",
    )
