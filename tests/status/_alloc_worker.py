"""A process that allocates status list indexes; run by the two-process tests with ``spawn``."""

from __future__ import annotations

import asyncio
from typing import Any

from agent.status import ReservedIndexes
from agent.storage import open_store
from tests.status.conftest import make_allocator


def allocate_in_process(
    uri: str, raw_key: str, count: int, list_size: int, barrier: Any, results: Any
) -> None:
    """Allocate ``count`` indexes (singly and in small batches) and put them on ``results``."""
    results.put(asyncio.run(_allocate(uri, raw_key, count, list_size, barrier)))


async def _allocate(
    uri: str, raw_key: str, count: int, list_size: int, barrier: Any
) -> list[tuple[str, int]]:
    store = await open_store(uri, raw_key=raw_key, create=False)
    try:
        allocator = make_allocator(store, list_size)
        barrier.wait(timeout=60)  # Start together, so that the transactions interleave.
        found: list[tuple[str, int]] = []
        while len(found) < count:
            if len(found) % 50 == 0:
                found.extend(await allocator.allocate_many("revocation", 5))
            else:
                found.append(await allocator.allocate("revocation"))
        return found
    finally:
        await store.close()


def reserve_then_hang(uri: str, raw_key: str, list_size: int, block: int, taken: Any) -> None:
    """Reserve a block, hand out three of its indexes, report them, then wait to be killed."""
    asyncio.run(_reserve_then_hang(uri, raw_key, list_size, block, taken))


async def _reserve_then_hang(
    uri: str, raw_key: str, list_size: int, block: int, taken: Any
) -> None:
    store = await open_store(uri, raw_key=raw_key, create=False)
    allocator = make_allocator(store, list_size)
    reserved = ReservedIndexes(allocator, block=block, first_block=block)
    taken.put(await reserved.take("revocation", 3))
    await asyncio.sleep(3600)  # The test kills the process here (SIGKILL), store still open.
