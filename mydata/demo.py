"""``mydata demo``: the stories end to end, on embedded SQLite stores in a temporary folder.

The demo grows with the project. Today it shows the foundation: a hospital creates its keys
(in an encrypted askar store) and its DID, issues an eddsa-jcs-2022 credential for a FHIR
AllergyIntolerance, a data user verifies it, and a one-character change is caught by the named
check that rejects it.
"""

from __future__ import annotations

import asyncio
import copy
import json
import shutil
import tempfile
import time
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from agent.console import stdout_console
from agent.dids import DIDResolver, did_key_from_public
from agent.keys import AskarKeyStore, KeyType, decode_multikey
from agent.storage import Store, generate_raw_key, open_store
from issuer.issue import issue_credential, record_credential
from verifier.cli import render_report
from verifier.verify import verify_credential

__all__ = ["register", "run_demo"]


def sample(name: str) -> dict[str, Any]:
    """A sample FHIR resource shipped with the package (mydata/samples/NAME.json)."""
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


async def run_demo(console: Console, workdir: Path) -> bool:
    """Run the demo in ``workdir``; returns True when every party decided as expected."""
    started = time.perf_counter()
    ok = True

    _step(console, 1, "The hospital creates its signing key and its DID")
    hospital_store, hospital_keys, hospital_did, hospital_vm = await _new_did_key(
        workdir / "hospital.sqlite"
    )
    console.print(f"  key store  [cyan]{workdir / 'hospital.sqlite'}[/] (askar, encrypted)")
    console.print(f"  DID        [cyan]{hospital_did}[/]")

    _step(console, 2, "The citizen's wallet creates the citizen's holder DID")
    wallet_store, _, citizen_did, _ = await _new_did_key(workdir / "wallet.sqlite")
    console.print(f"  DID        [cyan]{citizen_did}[/]")

    _step(console, 3, "The hospital issues a credential for a FHIR AllergyIntolerance")
    resource = sample("allergy-intolerance")
    unsigned = record_credential(resource, issuer=hospital_did, subject=citizen_did)
    signer = await hospital_keys.signer(hospital_vm)
    credential = issue_credential(unsigned, signer, cryptosuite="eddsa-jcs-2022")
    size = len(json.dumps(credential).encode())
    console.print(f"  type       {', '.join(credential['type'])}")
    console.print(f"  id         {credential['id']}  ({size:,} bytes)")
    console.print(
        f"  proof      {credential['proof']['cryptosuite']}, "
        f"proofValue {credential['proof']['proofValue'][:24]}..."
    )
    (workdir / "allergy-credential.json").write_text(json.dumps(credential, indent=2))

    resolver = DIDResolver()
    _step(console, 4, "A data user verifies it")
    report = await verify_credential(credential, resolver=resolver)
    render_report(console, report, title="verification of the credential as issued")
    ok &= report.verified

    _step(console, 5, "One character of a claim is changed: criticality 'high' -> 'higH'")
    tampered = copy.deepcopy(credential)
    tampered["credentialSubject"]["fhirResource"]["criticality"] = "higH"
    report = await verify_credential(tampered, resolver=resolver)
    render_report(console, report, title="verification of the altered credential")
    ok &= not report.verified and [str(r.check) for r in report.failed] == ["proof"]

    await hospital_store.close()
    await wallet_store.close()
    elapsed = time.perf_counter() - started
    verdict = "[bold green]demo finished[/]" if ok else "[bold red]demo FAILED[/]"
    console.print()
    console.print(f"{verdict} in {elapsed:.1f} s")
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
        finally:
            if keep:
                console.print(f"kept {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)
        raise typer.Exit(0 if ok else 1)
