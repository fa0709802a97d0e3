"""agent.status.ReservedIndexes: blocks reserved per process keep every allocator guarantee."""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import os
import signal
from collections import Counter

import pytest

from agent.credentials.status_list import MIN_ENTRIES
from agent.errors import InvalidInputError
from agent.status import HEAD_CATEGORY, ReservedIndexes
from agent.storage import Store, open_store
from tests.status._alloc_worker import reserve_then_hang
from tests.status.conftest import make_allocator


async def _allocated(store: Store, purpose: str) -> int:
    async with store.session() as session:
        head = (await session.get(HEAD_CATEGORY, purpose)).json()
    return int(head["allocated"])


async def test_one_transaction_per_block_and_random_distinct_indexes(store: Store) -> None:
    reserved = ReservedIndexes(make_allocator(store), block=100, first_block=100)
    taken = [(await reserved.take("revocation"))[0] for _ in range(150)]
    # Two blocks were reserved: the bitmap counts 200, 50 of them still in memory.
    assert await _allocated(store, "revocation") == 200
    assert reserved.available("revocation") == 50
    indexes = [index for _, index in taken]
    assert len(set(taken)) == 150
    assert max(indexes) - min(indexes) > MIN_ENTRIES // 2
    assert sum(1 for a, b in itertools.pairwise(indexes) if abs(b - a) == 1) < 5
    # Purposes have blocks of their own.
    assert reserved.available("suspension") == 0
    (suspension,) = await reserved.take("suspension")
    assert reserved.available("suspension") == 99
    assert await _allocated(store, "suspension") == 100
    assert suspension[0] != taken[0][0]


async def test_a_request_larger_than_a_block_is_served_whole(store: Store) -> None:
    reserved = ReservedIndexes(make_allocator(store, list_size=64), block=10, first_block=10)
    first = await reserved.take("revocation", 4)
    more = await reserved.take("revocation", 30)  # 6 left in memory, 24 reserved now
    assert len(first) == 4
    assert len(more) == 30
    assert len(set(first) | set(more)) == 34
    assert reserved.available("revocation") == 0
    assert await reserved.take("revocation", 0) == []


async def test_blocks_grow_from_small_to_the_maximum(store: Store) -> None:
    """A process that issues once strands a few indexes; a busy one reserves big blocks."""
    reserved = ReservedIndexes(make_allocator(store), block=40, first_block=5)
    await reserved.take("revocation")
    assert await _allocated(store, "revocation") == 5
    for _ in range(4):
        await reserved.take("revocation")
    assert await _allocated(store, "revocation") == 5
    sizes = []
    for _ in range(4):
        before = await _allocated(store, "revocation")
        await reserved.take("revocation", reserved.available("revocation") + 1)
        sizes.append(await _allocated(store, "revocation") - before)
    assert sizes == [10, 20, 40, 40]


async def test_reserved_indexes_can_carry_a_status(store: Store) -> None:
    allocator = make_allocator(store)
    reserved = ReservedIndexes(allocator, block=16)
    (entry,) = await reserved.take("suspension")
    assert await allocator.set_status(*entry, "suspension", True)
    assert await allocator.status(*entry, "suspension")


async def test_bad_arguments_are_refused(store: Store) -> None:
    allocator = make_allocator(store)
    for block in (0, -1, True):
        with pytest.raises(InvalidInputError):
            ReservedIndexes(allocator, block=block)
        with pytest.raises(InvalidInputError):
            ReservedIndexes(allocator, first_block=block)
    reserved = ReservedIndexes(allocator, block=4)
    with pytest.raises(InvalidInputError):
        await reserved.take("message")
    with pytest.raises(InvalidInputError):
        await reserved.take("revocation", -1)


async def test_concurrent_tasks_share_no_index(store: Store) -> None:
    reserved = ReservedIndexes(make_allocator(store, list_size=64), block=7, first_block=2)

    async def run() -> list[tuple[str, int]]:
        return [(await reserved.take("revocation"))[0] for _ in range(30)]

    batches = await asyncio.gather(*(run() for _ in range(6)))
    everything = [item for batch in batches for item in batch]
    assert len(set(everything)) == len(everything) == 180


async def test_blocks_of_two_stores_never_overlap(store_uri: str, raw_key: str) -> None:
    """Two stores (on PostgreSQL: two connection pools, as two replicas) reserve blocks from
    one database at once; no index reaches both."""
    await (await open_store(store_uri, raw_key=raw_key)).close()
    stores = [await open_store(store_uri, raw_key=raw_key, create=False) for _ in range(2)]
    try:
        replicas = [
            ReservedIndexes(make_allocator(store, list_size=64), block=9, first_block=9)
            for store in stores
        ]

        async def run(reserved: ReservedIndexes, worker: int) -> list[tuple[str, int]]:
            found: list[tuple[str, int]] = []
            while len(found) < 100:
                found.extend(await reserved.take("revocation", 1 + (len(found) + worker) % 3))
            return found

        batches = await asyncio.gather(
            *(run(reserved, worker) for reserved in replicas for worker in range(3))
        )
    finally:
        for store in stores:
            await store.close()
    everything = [item for batch in batches for item in batch]
    assert len(set(everything)) == len(everything)
    per_list = Counter(list_id for list_id, _ in everything)
    assert max(per_list.values()) <= 64
    # Both stores drew from the same lists: the blocks really interleaved.
    first = {list_id for batch in batches[:3] for list_id, _ in batch}
    second = {list_id for batch in batches[3:] for list_id, _ in batch}
    assert first & second


@pytest.mark.slow
async def test_a_crash_after_reserving_loses_the_rest_of_the_block(
    store_uri: str, raw_key: str
) -> None:
    """A process reserves a block of 16, hands out 3 and is killed with SIGKILL: the 13 unused
    indexes are never handed out again, and neither are the 3."""
    await (await open_store(store_uri, raw_key=raw_key)).close()
    context = multiprocessing.get_context("spawn")
    taken = context.Queue()
    child = context.Process(target=reserve_then_hang, args=(store_uri, raw_key, 64, 16, taken))
    child.start()
    try:
        before: list[tuple[str, int]] = [
            tuple(item) for item in await asyncio.to_thread(taken.get, True, 120)
        ]
    finally:
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join(timeout=30)
    assert child.exitcode == -signal.SIGKILL
    assert len(before) == 3
    async with await open_store(store_uri, raw_key=raw_key, create=False) as store:
        reserved = ReservedIndexes(make_allocator(store, list_size=64), block=8)
        after = await reserved.take("revocation", 64)
    assert not set(before) & set(after)
    first_list = before[0][0]
    # The dead process's block took 16 of the first list's 64: the survivor gets only 48.
    assert Counter(list_id for list_id, _ in after)[first_list] == 48
