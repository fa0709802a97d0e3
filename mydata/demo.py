"""``mydata demo``: the stories end to end, on embedded SQLite stores in a temporary folder.

The demo grows with the project. Today:

1. the foundation: a hospital key in an encrypted askar store, a did:key, an eddsa-jcs-2022
   credential for a FHIR AllergyIntolerance, verified, then a one-character change caught by the
   named check that rejects it;
2. the hospital as a real service on 127.0.0.1 (did:web, VC-API, status lists): it turns a
   patient's IPS record into credentials in both formats for the citizen's encrypted wallet;
3. a data user verifies a credential online, status list included;
4. the citizen makes an emergency card (one QR code) that an emergency department verifies with
   no network at all;
5. the hospital revokes a credential and the verifier sees it on its next status check.
"""

from __future__ import annotations

import asyncio
import copy
import json
import secrets
import shutil
import socket
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from agent.console import error_console, print_error, stdout_console
from agent.credentials.emergency_qr import (
    EMERGENCY_AUDIENCE,
    EMERGENCY_NONCE,
    MAX_CARD_LIFETIME,
    decode_emergency_qr,
)
from agent.credentials.sd_jwt import verify_sd_jwt
from agent.dids import DIDResolver, did_key_from_public
from agent.errors import HealthMyDataError
from agent.keys import AskarKeyStore, KeyType, decode_multikey
from agent.service import AgentServiceConfig
from agent.storage import Store, generate_raw_key, open_store
from issuer.api import create_hospital_app
from issuer.hospital import Hospital
from issuer.issue import issue_credential, record_credential
from verifier.cli import render_report, verify_document
from verifier.verify import verify_credential
from wallet import open_wallet
from wallet.emergency import emergency_card

__all__ = ["register", "run_demo"]

LOOPBACK = frozenset({"localhost"})


def sample(name: str) -> dict[str, Any]:
    """A sample shipped with the package (mydata/samples/NAME.json)."""
    text = files("mydata").joinpath("samples", f"{name}.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _step(console: Console, number: int, title: str) -> None:
    console.print()
    console.rule(f"[bold]{number}. {title}", align="left")


async def _new_did_key(path: Path) -> tuple[Store, AskarKeyStore, str, str]:
    store = await open_store(f"sqlite://{path}", raw_key=generate_raw_key())
    keys = AskarKeyStore(store)
    multikey = await keys.create_key(KeyType.ED25519_PUB)
    did = did_key_from_public(KeyType.ED25519_PUB, decode_multikey(multikey)[1])
    vm = f"{did}#{multikey}"
    await keys.bind(
        multikey,
        did=did,
        verification_method=vm,
        relationships=["assertionMethod", "authentication"],
    )
    return store, keys, did, vm


class _Service:
    """A party's FastAPI app on uvicorn, on 127.0.0.1 in a background thread."""

    def __init__(self, app: Any, port: int) -> None:
        self.port = port
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.server.started:
                return
            time.sleep(0.02)
        raise RuntimeError("the service did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _foundation(console: Console, workdir: Path) -> bool:
    _step(console, 1, "Foundation: a hospital key, a did:key, a signed FHIR AllergyIntolerance")
    store, keys, did, vm = await _new_did_key(workdir / "foundation.sqlite")
    citizen_key = await keys.create_key(KeyType.ED25519_PUB)
    citizen = did_key_from_public(KeyType.ED25519_PUB, decode_multikey(citizen_key)[1])
    console.print(f"  hospital DID  [cyan]{did}[/] (key in an encrypted askar store)")
    unsigned = record_credential(sample("allergy-intolerance"), issuer=did, subject=citizen)
    credential = issue_credential(unsigned, await keys.signer(vm), cryptosuite="eddsa-jcs-2022")
    resolver = DIDResolver()
    report = await verify_credential(credential, resolver=resolver)
    render_report(console, report, title="the credential as issued")
    tampered = copy.deepcopy(credential)
    tampered["credentialSubject"]["fhirResource"]["criticality"] = "higH"
    console.print("  one character of a claim is changed: criticality 'high' -> 'higH'")
    rejected = await verify_credential(tampered, resolver=resolver)
    render_report(console, rejected, title="the altered credential")
    await store.close()
    return report.verified and [str(r.check) for r in rejected.failed] == ["proof"]


async def run_demo(console: Console, workdir: Path) -> bool:
    """Run the demo in ``workdir``; returns True when every party decided as expected."""
    started = time.perf_counter()
    ok = await _foundation(console, workdir)

    _step(console, 2, "The hospital runs its issuer service on 127.0.0.1")
    port = _free_port()
    base_url = f"http://localhost:{port}"
    token = secrets.token_urlsafe(24)
    key = generate_raw_key()
    hospital_store = await open_store(workdir / "hospital.sqlite", raw_key=key)
    hospital = await Hospital.init(
        hospital_store, base_url=base_url, name="Demo General", insecure_http_hosts=LOOPBACK
    )
    await hospital_store.close()
    config = AgentServiceConfig(
        store_uri=f"sqlite://{workdir / 'hospital.sqlite'}",
        store_key=key,
        public_url=base_url,
        title="demo hospital",
        admin_token=token,
    )
    service = _Service(create_hospital_app(config, insecure_http_hosts=LOOPBACK), port)
    service.start()
    console.print(f"  hospital DID  [cyan]{hospital.did}[/]")
    console.print(f"  did.json      {base_url}/.well-known/did.json (served by the service)")
    admin = httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
    )
    http = httpx.AsyncClient(timeout=10)
    wallet = await open_wallet(
        f"sqlite://{workdir / 'wallet.sqlite'}",
        passphrase="demo passphrase",  # noqa: S106 - a demo wallet in a temporary folder
        resolver=DIDResolver(http_client=http, insecure_http_hosts=LOOPBACK),
        http_client=http,
    )
    try:
        ok &= await _stories(console, admin, wallet)
    finally:
        await admin.aclose()
        await wallet.close()
        await http.aclose()
        service.stop()

    elapsed = time.perf_counter() - started
    verdict = "[bold green]demo finished[/]" if ok else "[bold red]demo FAILED[/]"
    console.print()
    console.print(f"{verdict} in {elapsed:.1f} s")
    return ok


async def _stories(console: Console, admin: httpx.AsyncClient, wallet: Any) -> bool:
    ok = True
    citizen = await wallet.holder_did()
    console.print(f"  citizen DID   [cyan]{citizen}[/] (wallet store encrypted with a passphrase)")

    _step(console, 3, "The hospital turns the citizen's IPS record into credentials")
    bundle = sample("ips-emergency-bundle")
    response = await admin.post(
        "/fhir/import",
        json={
            "fhir": bundle,
            "subject": citizen,
            "formats": ["vc", "sd-jwt"],
            "holderJwk": await wallet.holder_jwk(),
            "emergencySummary": True,
        },
    )
    response.raise_for_status()
    issued = response.json()["credentials"]
    table = Table("kind", "format", "stored in the wallet as")
    for item in issued:
        stored = await wallet.add_credential(item["credential"])
        table.add_row(item["kind"], item["format"], stored.format)
    console.print(table)
    console.print(f"  {len(issued)} credentials verified on import and stored encrypted")

    _step(console, 4, "A data user verifies the allergy credential (status list fetched)")
    allergy = next(
        i["credential"]
        for i in issued
        if i["kind"] == "AllergyIntoleranceCredential" and i["format"] == "vc"
    )
    report = await verify_document(allergy, insecure_http_hosts=LOOPBACK | {"127.0.0.1"})
    render_report(console, report, title="allergy credential, online")
    ok &= report.verified

    _step(console, 5, "The citizen makes an emergency card; the ER verifies it offline")
    summary = next(
        i["credential"]
        for i in issued
        if i["kind"] == "EmergencySummaryCredential" and i["format"] == "sd-jwt"
    )
    now = datetime.now(UTC)
    card = emergency_card(
        summary,
        sections=["allergies", "problems", "medications", "bloodType", "emergencyContact"],
        holder_signer=await wallet.jwk_signer(),
        lifetime=timedelta(days=365),
        now=now,
    )
    console.print(
        f"  one QR code: version {card.qr_version}, {len(card.payload_text)} characters, "
        f"expires {card.expires:%Y-%m-%d}"
        if card.expires
        else ""
    )
    # The ER cached the hospital's DID document earlier; now it has no network at all.
    async with httpx.AsyncClient(follow_redirects=False) as online:
        did = (await online.get(str(admin.base_url) + "/.well-known/did.json")).json()
    offline = DIDResolver(http_client=None)
    offline.add_document(did)
    sd_jwt = decode_emergency_qr(card.payload_text)
    verified = await verify_sd_jwt(
        sd_jwt,
        issuer_key_resolver=offline,
        now=now,
        expected_aud=EMERGENCY_AUDIENCE,
        expected_nonce=EMERGENCY_NONCE,
        max_kb_age=MAX_CARD_LIFETIME,
    )
    facts = Table("emergency fact", "value", title="what the emergency doctor sees")
    for section in ("allergies", "problems", "medications", "bloodType", "emergencyContact"):
        value = verified.payload.get(section)
        items = value if isinstance(value, list) else [value] if value else []
        text = "; ".join(
            str(v.get("text") or v.get("name") or v) if isinstance(v, dict) else str(v)
            for v in items
        )
        facts.add_row(section, text or "-")
    console.print(facts)
    console.print(f"  [green]verified offline[/]: signed by {verified.issuer}, bound to the holder")
    ok &= "allergies" in verified.payload

    _step(console, 6, "The hospital revokes the allergy credential")
    revoked = await admin.post(
        "/credentials/status",
        json={
            "credentialId": allergy["id"],
            "credentialStatus": [{"type": "BitstringStatusListCredential", "status": "revoked"}],
        },
    )
    revoked.raise_for_status()
    report = await verify_document(allergy, insecure_http_hosts=LOOPBACK | {"127.0.0.1"})
    render_report(console, report, title="allergy credential after revocation")
    ok &= [str(r.check) for r in report.failed] == ["status"]
    return ok


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        keep: Annotated[
            bool, typer.Option(help="Keep the temporary folder with the stores and files.")
        ] = False,
    ) -> None:
        """Run the end-to-end demo on embedded SQLite stores in a temporary folder."""
        console = stdout_console()
        workdir = Path(tempfile.mkdtemp(prefix="mydata-demo-"))
        console.print(f"[bold]health-mydata demo[/] working in {workdir}")
        try:
            ok = asyncio.run(run_demo(console, workdir))
        except HealthMyDataError as exc:
            print_error(error_console(), exc)
            ok = False
        finally:
            if keep:
                console.print(f"kept {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)
        raise typer.Exit(0 if ok else 1)
