"""agent.status.allocator on SQLite and PostgreSQL: random, unique, durable indexes; status bits."""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
from collections import Counter
from datetime import UTC, datetime

import pytest

from agent.credentials.status_list import MIN_ENTRIES, check_status, decode_list
from agent.errors import ErrorCode, InvalidInputError, StorageError
from agent.status import HEAD_CATEGORY, StatusListAllocator
from agent.storage import Session, Store, open_store
from tests.status._alloc_worker import allocate_in_process
from tests.status.conftest import BASE_URL, ISSUER, make_allocator

NOW = datetime(2026, 3, 1, tzinfo=UTC)


async def test_indexes_are_random_and_distinct(store: Store) -> None:
    allocator = make_allocator(store)
    allocations = [await allocator.allocate("revocation") for _ in range(100)]
    allocations += await allocator.allocate_many("revocation", 100)
    list_ids = {list_id for list_id, _ in allocations}
    indexes = [index for _, index in allocations]
    assert len(list_ids) == 1
    assert len(set(indexes)) == 200
    # Sequential or clustered allocation would fail these; uniform picks pass them
    # except with negligible probability.
    assert indexes != sorted(indexes)
    assert max(indexes) - min(indexes) > MIN_ENTRIES // 2
    assert sum(1 for a, b in itertools.pairwise(indexes) if b == a + 1) < 5


async def test_full_list_rolls_over_to_a_new_one(store: Store) -> None:
    allocator = make_allocator(store, list_size=64)
    first = [await allocator.allocate("suspension") for _ in range(64)]
    (first_list,) = {list_id for list_id, _ in first}
    assert sorted(index for _, index in first) == list(range(64))
    assert [index for _, index in first] != list(range(64))
    list_id, index = await allocator.allocate("suspension")
    assert list_id != first_list
    assert 0 <= index < 64
    # A batch fills the rest of the current list, then opens as many lists as it needs.
    batch = await allocator.allocate_many("suspension", 150)
    counts = Counter(list_id for list_id, _ in batch)
    assert counts[list_id] == 63
    assert sorted(counts.values()) == [23, 63, 64]
    assert len(set(batch)) == 150
    assert (list_id, index) not in batch
    # Every published list is full length, whatever list_size is.
    encoded, version = await allocator.encoded(list_id, "suspension")
    assert len(decode_list(encoded)) == MIN_ENTRIES
    assert version == 0


async def test_purposes_have_separate_lists(store: Store) -> None:
    allocator = make_allocator(store)
    revocation, _ = await allocator.allocate("revocation")
    suspension, _ = await allocator.allocate("suspension")
    assert revocation != suspension
    with pytest.raises(InvalidInputError):
        await allocator.allocate("message")
    with pytest.raises(InvalidInputError):
        await allocator.encoded(revocation, "suspension")


async def test_small_lists_need_the_test_flag(store: Store) -> None:
    with pytest.raises(InvalidInputError, match="insecure_small_lists"):
        StatusListAllocator(store, issuer=ISSUER, base_url=BASE_URL, list_size=64)
    with pytest.raises(InvalidInputError):
        StatusListAllocator(store, issuer=ISSUER, base_url="ftp://x", list_size=MIN_ENTRIES)


async def test_revoke_suspend_and_reinstate(store: Store) -> None:
    allocator = make_allocator(store)
    (revocation_list, revoked), (_, kept) = await allocator.allocate_many("revocation", 2)
    before = await allocator.encoded(revocation_list, "revocation")

    assert await allocator.set_status(revocation_list, revoked, "revocation", True)
    after = await allocator.encoded(revocation_list, "revocation")
    bits = decode_list(after.encoded_list)
    assert bits.get(revoked)
    assert not bits.get(kept)
    assert list(bits.set_indexes()) == [revoked]
    assert after.version == before.version + 1
    assert after.etag != before.etag
    assert await allocator.status(revocation_list, revoked, "revocation")

    # Setting it again changes nothing; revocation is final.
    assert not await allocator.set_status(revocation_list, revoked, "revocation", True)
    assert (await allocator.encoded(revocation_list, "revocation")).version == after.version
    with pytest.raises(InvalidInputError) as caught:
        await allocator.set_status(revocation_list, revoked, "revocation", False)
    assert caught.value.details["reason"] == "statusIsFinal"

    # Suspension is reversible.
    suspension_list, suspended = await allocator.allocate("suspension")
    assert await allocator.set_status(suspension_list, suspended, "suspension", True)
    assert await allocator.set_status(suspension_list, suspended, "suspension", False)
    encoded = await allocator.encoded(suspension_list, "suspension")
    assert decode_list(encoded.encoded_list).count() == 0
    assert encoded.version == 2


async def test_status_of_unallocated_or_unknown_entries_is_refused(store: Store) -> None:
    allocator = make_allocator(store, list_size=64)
    list_id, index = await allocator.allocate("revocation")
    unallocated = (index + 1) % 64
    with pytest.raises(InvalidInputError, match="never allocated"):
        await allocator.set_status(list_id, unallocated, "revocation", True)
    with pytest.raises(InvalidInputError, match="outside"):
        await allocator.set_status(list_id, 64, "revocation", True)
    with pytest.raises(InvalidInputError):
        await allocator.set_status(list_id, index, "suspension", True)
    with pytest.raises(StorageError) as caught:
        await allocator.set_status("0000000000000000", 1, "revocation", True)
    assert caught.value.code is ErrorCode.STORE_RECORD_NOT_FOUND


async def test_a_restart_loses_nothing(store_uri: str, raw_key: str) -> None:
    async with await open_store(store_uri, raw_key=raw_key) as store:
        allocator = make_allocator(store, list_size=64)
        before = await allocator.allocate_many("revocation", 40)
        await allocator.set_status(*before[0], "revocation", True)
    async with await open_store(store_uri, raw_key=raw_key, create=False) as store:
        allocator = make_allocator(store, list_size=64)
        after = await allocator.allocate_many("revocation", 40)
        assert not set(before) & set(after)
        assert Counter(list_id for list_id, _ in after)[before[0][0]] == 24
        assert await allocator.status(*before[0], "revocation")


async def test_concurrent_tasks_share_no_index(store: Store) -> None:
    allocators = [make_allocator(store, list_size=64) for _ in range(4)]

    async def run(allocator: StatusListAllocator) -> list[tuple[str, int]]:
        return [await allocator.allocate("revocation") for _ in range(40)]

    batches = await asyncio.gather(*(run(allocator) for allocator in allocators))
    everything = [item for batch in batches for item in batch]
    assert len(set(everything)) == 160
    assert max(Counter(list_id for list_id, _ in everything).values()) == 64


@pytest.mark.slow
async def test_two_processes_share_no_index(store_uri: str, raw_key: str) -> None:
    """Two OS processes allocate from one database at once; no index is handed out twice."""
    await (await open_store(store_uri, raw_key=raw_key)).close()
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    per_process = 300
    processes = [
        context.Process(
            target=allocate_in_process,
            args=(store_uri, raw_key, per_process, 64, barrier, results),
        )
        for _ in range(2)
    ]
    for process in processes:
        process.start()
    try:
        found = [await asyncio.to_thread(results.get, True, 120) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=30)
    assert [process.exitcode for process in processes] == [0, 0]
    union = [item for batch in found for item in batch]
    assert all(len(batch) == per_process for batch in found)
    assert len(set(union)) == len(union) == 2 * per_process
    per_list = Counter(list_id for list_id, _ in union)
    assert max(per_list.values()) == 64
    # Lists fill completely before the next opens: at most one list is partly used.
    assert sum(1 for count in per_list.values() if count < 64) <= 1
    # The processes really interleaved: some list holds indexes from both.
    first, second = ({list_id for list_id, _ in batch} for batch in found)
    assert first & second
    async with await open_store(store_uri, raw_key=raw_key, create=False) as store:
        async with store.session() as session:
            head = (await session.get(HEAD_CATEGORY, "revocation")).json()
        assert head["lists"] == len(per_list)


async def test_allocate_many_100k(store: Store) -> None:
    """The batch path: 100k distinct indexes in one transaction (its speed: bench/issuer.py)."""
    allocator = make_allocator(store)
    allocations = await allocator.allocate_many("revocation", 100_000)
    assert len(set(allocations)) == 100_000


async def test_list_credential_reads_back_with_check_status(store: Store) -> None:
    allocator = make_allocator(store)
    list_id, index = await allocator.allocate("revocation")
    await allocator.set_status(list_id, index, "revocation", True)
    document = await allocator.list_credential(list_id, "revocation", valid_from=NOW)
    assert document["id"] == allocator.list_url(list_id) == f"{BASE_URL}/{list_id}"
    entry = allocator.entry(list_id, index, "revocation")
    result = check_status(entry, document, issuer=ISSUER, now=NOW)
    assert result.set
    assert result.index == index


async def test_a_lost_race_is_retried(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A duplicate insert (two replicas creating the first head) or BUSY makes it try again."""
    allocator = make_allocator(store)
    real = allocator._allocate_once
    failures = [
        StorageError("lost the race", code=ErrorCode.STORE_DUPLICATE),
        StorageError("busy", code=ErrorCode.STORE_BACKEND_ERROR, details={"askarCode": "BUSY"}),
    ]

    async def flaky(purpose: str, n: int) -> list[tuple[str, int]]:
        if failures:
            raise failures.pop(0)
        return await real(purpose, n)

    monkeypatch.setattr(allocator, "_allocate_once", flaky)
    assert len(await allocator.allocate_many("revocation", 3)) == 3
    assert failures == []

    async def broken(purpose: str, n: int) -> list[tuple[str, int]]:
        raise StorageError("disk full", code=ErrorCode.STORE_BACKEND_ERROR)

    monkeypatch.setattr(allocator, "_allocate_once", broken)
    with pytest.raises(StorageError, match="disk full"):
        await allocator.allocate("revocation")


async def test_before_commit_shares_the_status_transaction(store: Store) -> None:
    """What ``before_commit`` writes commits with the bit; when it fails, neither commits."""
    allocator = make_allocator(store)
    first, second = await allocator.allocate_many("suspension", 2)

    async def note(txn: Session) -> None:
        await txn.insert("note", f"{first[1]}", {"suspended": True})

    assert await allocator.set_status(*first, "suspension", True, before_commit=note)
    async with store.session() as session:
        assert (await session.get("note", f"{first[1]}")).json() == {"suspended": True}

    async def refuse(txn: Session) -> None:
        await txn.insert("note", "other", {})
        raise InvalidInputError("refused after the bit was set in the transaction")

    with pytest.raises(InvalidInputError):
        await allocator.set_status(*second, "suspension", True, before_commit=refuse)
    assert not await allocator.status(*second, "suspension")
    async with store.session() as session:
        assert await session.fetch("note", "other") is None

    # A bit already set: nothing changes, but the hook still runs and commits (the audit
    # entry of a repeated request).
    async def again(txn: Session) -> None:
        await txn.insert("note", "again", {})

    assert not await allocator.set_status(*first, "suspension", True, before_commit=again)
    async with store.session() as session:
        assert await session.fetch("note", "again") is not None
