"""A real ``issue_one`` for batch tests and the benchmark: eddsa-jcs-2022 over an askar key,
with a BSL status entry from :class:`agent.status.StatusListAllocator`, allocated per chunk.

Also the entry point of the crash test's child process (``run_job_in_process``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from agent.clock import format_datetime, utcnow
from agent.credentials.proofs import add_proof
from agent.keys import AskarKeyStore, KeyType
from agent.status import StatusListAllocator
from agent.storage import Store, open_store
from agent.types import JSONObject
from issuer.batch import BatchJobs

ISSUED_AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
V2 = "https://www.w3.org/ns/credentials/v2"


async def create_issuer_key(store: Store) -> str:
    """A new Ed25519 key bound to a did:key for assertionMethod; returns its method id."""
    keys = AskarKeyStore(store)
    multikey = await keys.create_key(KeyType.ED25519_PUB)
    did = f"did:key:{multikey}"
    vm = f"{did}#{multikey}"
    await keys.bind(multikey, did=did, verification_method=vm, relationships=["assertionMethod"])
    return vm


async def make_issuer(
    store: Store, vm: str, *, delay: float = 0.0, list_size: int = 131_072
) -> tuple[
    Callable[[str, JSONObject], Awaitable[tuple[str, JSONObject]]],
    Callable[[int], Awaitable[None]],
]:
    """``(issue_one, before_chunk)``: before_chunk allocates the chunk's status indexes in one
    transaction; issue_one takes one and signs a small credential."""
    signer = await AskarKeyStore(store).signer(vm)
    did = vm.partition("#")[0]
    allocator = StatusListAllocator(
        store,
        issuer=did,
        base_url="https://hospital.example/status",
        list_size=list_size,
        insecure_small_lists=list_size < 131_072,
    )
    pool: list[tuple[str, int]] = []
    valid_from = format_datetime(ISSUED_AT)

    async def before_chunk(size: int) -> None:
        pool.extend(await allocator.allocate_many("revocation", size))

    async def issue_one(patient_key: str, payload: JSONObject) -> tuple[str, JSONObject]:
        if delay:
            await asyncio.sleep(delay)
        list_id, index = pool.pop()
        credential_id = f"urn:uuid:{uuid.uuid4()}"
        credential: JSONObject = {
            "@context": [V2],
            "id": credential_id,
            "type": ["VerifiableCredential"],
            "issuer": did,
            "validFrom": valid_from,
            "credentialSubject": {"id": f"did:example:{patient_key}", "code": payload["code"]},
            "credentialStatus": allocator.entry(list_id, index, "revocation"),
        }
        return credential_id, add_proof(credential, signer, created=ISSUED_AT)

    return issue_one, before_chunk


def run_job_in_process(uri: str, raw_key: str, job_id: str, vm: str, delay: float) -> None:
    """Run ``job_id`` to the end in this process (the crash test kills it before that)."""
    asyncio.run(_run(uri, raw_key, job_id, vm, delay))


async def _run(uri: str, raw_key: str, job_id: str, vm: str, delay: float) -> None:
    store = await open_store(uri, raw_key=raw_key, create=False)
    try:
        issue_one, before_chunk = await make_issuer(store, vm, delay=delay)
        await BatchJobs(store, clock=utcnow).run(job_id, issue_one, before_chunk=before_chunk)
    finally:
        await store.close()


def patients(n: int, prefix: str = "p") -> list[tuple[str, dict[str, Any]]]:
    """``n`` patients with a small FHIR-like payload each."""
    return [(f"{prefix}{i:06d}", {"code": f"J{i % 100:02d}", "n": i}) for i in range(n)]
