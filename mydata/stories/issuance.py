"""Story 2, issuance: the citizen scans the hospital's invitation, a DIDComm connection is
made (did:peer:2 on both sides), the hospital offers the patient's records as credentials, the
citizen accepts, and the wallet verifies and stores them encrypted. Then the hospital issues
credentials for a whole patient list as a batch job, with progress."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mydata.stories.narrate import Narrator, Shared
from mydata.stories.world import World, connect, wait_for

__all__ = ["kind_of", "offer_and_accept", "patient_list", "run", "sample"]

EMERGENCY_KIND = "EmergencySummary"


def sample(name: str) -> dict[str, Any]:
    """A sample shipped with the package (``mydata/samples/NAME.json``)."""
    text = files("mydata").joinpath("samples", f"{name}.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def patient_list() -> list[dict[str, Any]]:
    """The sample patient list (``mydata/samples/patients.jsonl``), one patient a line."""
    text = files("mydata").joinpath("samples", "patients.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def kind_of(meta: dict[str, Any]) -> str:
    """A stored credential's kind without the format's spelling: ``AllergyIntolerance`` for
    the W3C type ``AllergyIntoleranceCredential`` and the SD-JWT VC type
    ``https://w3id.org/health-mydata/vct/AllergyIntolerance/v1`` alike."""
    for value in meta.get("types") or []:
        if value == "VerifiableCredential":
            continue
        if value.startswith("https://w3id.org/health-mydata/vct/"):
            return str(value.rstrip("/").split("/")[-2])
        return str(value.removesuffix("Credential"))
    return "?"


async def offer_and_accept(
    world: World, out: Narrator, shared: Shared, body: dict[str, Any]
) -> list[dict[str, Any]]:
    """The hospital offers ``body``'s record over its connection to the wallet; the citizen
    looks at the offer and accepts; returns the newly stored credentials' metadata."""
    hospital, wallet = world["hospital"], world["wallet"]
    before = {c["id"] for c in await wallet.call("GET", "/wallet/credentials")}
    offered = await hospital.call(
        "POST", f"/admin/connections/{shared.peer_connections['hospital']}/offer", json=body
    )
    out.says("hospital", f"offers {offered['offered']} credential(s) (issue-credential 3.0)")

    async def waiting() -> list[dict[str, Any]]:
        offers: list[dict[str, Any]] = await wallet.call("GET", "/wallet/offers")
        return [o for o in offers if o["thread_id"] == offered["thread_id"]]

    (offer,) = await wait_for("the offer to reach the wallet", waiting)
    names = sorted({c["name"] or c["type"] for c in offer["credentials"]})
    out.says("wallet", f"shows the citizen: {', '.join(names)}")
    out.says("citizen", "accepts")
    await wallet.call("POST", f"/wallet/offers/{offer['thread_id']}/accept")

    async def stored() -> list[dict[str, Any]]:
        now: list[dict[str, Any]] = await wallet.call("GET", "/wallet/credentials")
        new = [c for c in now if c["id"] not in before]
        return new if len(new) >= offered["offered"] else []

    new: list[dict[str, Any]] = await wait_for("the credentials to be stored", stored)
    for meta in new:
        shared.held[(kind_of(meta), meta["format"])] = meta
    return new


async def run(world: World, out: Narrator, shared: Shared) -> None:
    out.begin(2, "Issuance: invitation, DIDComm connection, offer, encrypted wallet; a batch")
    hospital, wallet = world["hospital"], world["wallet"]
    title = hospital.info["title"]
    out.says("wallet", f"holder DID [cyan]{wallet.info['holder']}[/] (store encrypted)")
    mine, theirs, url = await connect(hospital, wallet, title)
    shared.wallet_connections["hospital"] = mine
    shared.peer_connections["hospital"] = theirs
    out.says("hospital", "shows an out-of-band invitation as a QR code")
    out.detail(url[:96] + "...")
    connection = await wallet.call("GET", f"/admin/connections/{mine}")
    out.says("wallet", f"scans it and connects as {connection['my_did'][:40]}...")
    out.says("hospital", f"sees the citizen as {connection['their_did'][:40]}...")
    out.expect(
        connection["my_did"].startswith("did:peer:2")
        and connection["their_did"].startswith("did:peer:2"),
        "both sides of the connection use did:peer:2",
    )

    new = await offer_and_accept(
        world,
        out,
        shared,
        {"fhir": sample("ips-emergency-bundle"), "emergencySummary": True,
         "formats": ["vc", "sd-jwt"]},
    )  # fmt: skip
    table = Table("kind", "format", "issuer", title="the wallet verified and stored")
    for meta in sorted(new, key=lambda m: (kind_of(m), m["format"])):
        table.add_row(kind_of(meta), meta["format"], meta["issuer"])
    out.table(table)
    issuers = {m["issuer"] for m in new}
    out.expect(issuers == {hospital.info["did"]}, "every credential is the hospital's")
    out.expect(len(new) == 10, "five records, each as a W3C VC and an SD-JWT VC")
    out.decision(
        "wallet", "STORED", f"{len(new)} credentials from {title}, each verified, encrypted"
    )

    patients = patient_list()
    job = await hospital.call(
        "POST", "/batches", json={"jobId": "demo-allergies", "format": "vc", "patients": patients}
    )
    out.says("hospital", f"starts batch job {job['jobId']} for a list of {job['total']} patients")
    columns = (
        TextColumn("              issuing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=out.console, transient=False) as progress:
        task = progress.add_task("batch", total=job["total"])

        async def finished() -> dict[str, Any] | None:
            state: dict[str, Any] = await hospital.call("GET", f"/batches/{job['jobId']}")
            progress.update(task, completed=state["done"])
            return state if state["state"] in {"done", "failed"} else None

        state = await wait_for("the batch job", finished, within=60)
    page = await hospital.call("GET", f"/batches/{job['jobId']}/credentials", params={"limit": 1})
    out.expect(state["state"] == "done", "the batch job finished")
    out.expect(len(page["credentials"]) == 1, "the batch's credentials can be collected")
    out.decision(
        "hospital", "PASSED" if state["done"] == state["total"] else "FAILED",
        f"batch {job['jobId']}: {state['done']} of {state['total']} patients issued",
    )  # fmt: skip
