"""Story 8, phone change: the citizen backs the wallet up, encrypted under a recovery phrase, to
the operator's vault (which keeps only ciphertext); the phone is lost; a new phone restores the
backup into a new store with the phrase, connects to the emergency department afresh (new
did:peer relationship) and presents again: the holder binding still proves, because the holder
keys came back with the backup."""

from __future__ import annotations

from typing import Any

import httpx

from agent.storage import generate_raw_key, open_store
from mydata.stories.narrate import Narrator, Shared
from mydata.stories.world import Party, World, connect, wait_for
from verifier.policy import VCT_EMERGENCY_SUMMARY
from wallet import backup, generate_recovery_phrase, open_wallet, restore
from wallet.vault import download_backup, upload_backup, vault_slot

__all__ = ["EMERGENCY_QUERY", "present_over_didcomm", "run"]

#: What the ER asks a conscious patient's wallet for: the allergies of the emergency summary.
EMERGENCY_QUERY: dict[str, Any] = {
    "credentials": [
        {
            "id": "summary",
            "format": "dc+sd-jwt",
            "meta": {"vct_values": [VCT_EMERGENCY_SUMMARY]},
            "claims": [{"path": ["allergies"]}, {"path": ["bloodType"]}],
        }
    ]
}


async def present_over_didcomm(
    out: Narrator, verifier: Party, wallet: Party, connection: str, query: dict[str, Any]
) -> dict[str, Any]:
    """The verifier asks over DIDComm (present-proof 3.0, DCQL, a fresh nonce); the citizen
    approves the plan the wallet shows; returns what the verifier stored and decided."""
    sent = await verifier.call(
        "POST",
        f"/admin/connections/{connection}/request-presentation",
        json={"dcql_query": query, "purpose": "emergency care"},
    )
    thread = sent["thread_id"]

    async def pending() -> dict[str, Any] | None:
        requests: list[dict[str, Any]] = await wallet.call("GET", "/wallet/requests")
        return next((r for r in requests if r["thread_id"] == thread), None)

    request = await wait_for("the request to reach the wallet", pending)
    plan = request["plan"]
    fields = sorted({f for item in plan["items"] for f in item["disclosed"]})
    out.says(
        "wallet",
        f"{verifier.info.get('label', verifier.name)} asks for {', '.join(fields)} "
        f"for '{plan['purpose']}'; the citizen approves",
    )
    await wallet.call("POST", f"/wallet/requests/{thread}/approve", json={"digest": plan["digest"]})

    async def outcome() -> dict[str, Any] | None:
        response = await verifier.admin.get(f"/admin/presentations/{thread}")
        return response.json() if response.status_code == 200 else None

    found: dict[str, Any] = await wait_for(f"{verifier.name} to decide", outcome)
    return found


async def run(world: World, out: Narrator, shared: Shared) -> None:
    out.begin(8, "Phone change: encrypted backup, restore on a new phone, present again")
    wallet, vault, er = world["wallet"], world["vault"], world["er"]
    holder = wallet.info["holder"]
    phrase = generate_recovery_phrase()
    async with httpx.AsyncClient(timeout=30, follow_redirects=False) as http:
        opened = await open_wallet(
            f"sqlite://{wallet.store}", raw_key=wallet.info["device_key"], http_client=http
        )
        try:
            data = await backup(opened, phrase)
            count = len(await opened.list())
        finally:
            await opened.close()
        out.says(
            "wallet",
            f"backs up {count} credentials, keys and consents: {len(data)} bytes, encrypted "
            "under a new recovery phrase",
        )
        out.says("citizen", f"writes the phrase down: {phrase}")
        slot = vault_slot(phrase)  # one Argon2id for the upload and the download
        receipt = await upload_backup(vault.url, slot, data, client=http)
        out.says(
            "vault",
            f"keeps {receipt.size} bytes of ciphertext in a slot only the phrase finds "
            f"(ETag {receipt.etag})",
        )

        await world.stop("wallet")
        out.says("citizen", "loses the phone (the old wallet service is gone)")

        new_store = world.workdir / "new-phone.sqlite"
        device_key = generate_raw_key()
        downloaded = await download_backup(vault.url, slot, client=http)
    store = await open_store(f"sqlite://{new_store}", raw_key=device_key, create=True)
    try:
        summary = await restore(downloaded, phrase, into=store)
    finally:
        await store.close()
    out.says(
        "new phone",
        f"restores {summary.credentials} credentials, {summary.consents} consents and "
        f"{summary.keys} keys with the phrase",
    )
    phone = await world.start_wallet("new-phone", store=new_store, device_key=device_key)
    same = phone.info["holder"] == holder
    out.expect(same, "the holder DID is the same after restore")
    out.expect(summary.credentials == count, "nothing was lost")
    out.decision(
        "new phone",
        "ACCEPTED" if same and summary.credentials == count else "REJECTED",
        f"the backup: {summary.credentials} of {count} credentials, holder {holder[:24]}...",
    )

    _mine, theirs, _ = await connect(er, phone, "City ER")
    out.says("new phone", "connects to the ER afresh (a new did:peer relationship)")
    stored = await present_over_didcomm(out, er, phone, theirs, EMERGENCY_QUERY)
    (shown,) = stored["presentations"]
    results = {r["check"]: r["status"] for r in shown["report"]["results"]}
    out.says(
        "ER",
        "checks: " + ", ".join(f"{check} {status}" for check, status in results.items()),
    )
    out.expect(results.get("holder") == "passed", "holder binding proves after restore")
    out.expect(bool(stored["accepted"]), "the ER accepts the presentation from the new phone")
    out.decision(
        "ER",
        "ACCEPTED" if stored["accepted"] else "REJECTED",
        f"the new phone's presentation: holder binding {results.get('holder')}",
    )
