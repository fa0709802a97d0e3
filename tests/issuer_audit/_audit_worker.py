"""A process that appends audit entries; run by the two-process test with ``spawn``."""

from __future__ import annotations

import asyncio
from typing import Any

from agent.clock import utcnow
from agent.storage import open_store
from issuer.audit import AuditLog


def append_in_process(uri: str, raw_key: str, count: int, actor: str, barrier: Any) -> None:
    """Append ``count`` ``credential.issued`` entries as ``actor``."""
    asyncio.run(_append(uri, raw_key, count, actor, barrier))


async def _append(uri: str, raw_key: str, count: int, actor: str, barrier: Any) -> None:
    store = await open_store(uri, raw_key=raw_key, create=False)
    try:
        log = AuditLog(store, clock=utcnow)
        barrier.wait(timeout=60)  # Start together, so that the transactions interleave.
        for number in range(count):
            await log.append(
                "credential.issued", credential_id=f"urn:uuid:{actor}-{number}", actor=actor
            )
            await asyncio.sleep(0.001)  # As a replica serving requests would: let others in.
    finally:
        await store.close()
