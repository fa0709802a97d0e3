"""issuer.audit: entries appended several to a transaction chain exactly as one by one."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from agent.errors import ErrorCode, InvalidInputError
from agent.storage import Store
from issuer.audit import GENESIS_HASH, AuditEntry, AuditEvent, AuditLog
from tests.conftest import TickingClock


def _issued(i: int) -> tuple[str, dict[str, str | int | bool | None]]:
    return (AuditEvent.CREDENTIAL_ISSUED, {"credential_id": f"urn:uuid:{i}", "key": "z6Mk1"})


async def test_batches_and_singles_form_one_verified_chain(
    store: Store, clock: TickingClock
) -> None:
    log = AuditLog(store, clock=clock)
    first = await log.append_many([_issued(i) for i in range(3)])
    single = await log.append(AuditEvent.KEY_ROTATED, key="z6Mk2", previous_key="z6Mk1")
    async with store.transaction() as txn:
        inside = await log.append_in(txn, [_issued(i) for i in range(3, 250)])
        await txn.commit()
    last = await log.append_many([_issued(250)])
    chain: list[AuditEntry] = [*first, single, *inside, last[0]]
    assert [entry.seq for entry in chain] == list(range(1, 253))
    assert chain[0].prev_hash == GENESIS_HASH
    for previous, entry in itertools.pairwise(chain):
        assert entry.prev_hash == previous.hash
        assert entry.hash == entry.compute_hash()
    assert await log.entries(since_seq=5, limit=3) == chain[5:8]
    result = await log.verify()
    assert (result.ok, result.entries) == (True, 252)
    assert await log.append_many([]) == []


async def test_entries_of_a_rolled_back_transaction_do_not_exist(
    store: Store, clock: TickingClock
) -> None:
    log = AuditLog(store, clock=clock)
    await log.append_many([_issued(0)])
    async with store.transaction() as txn:
        await log.append_in(txn, [_issued(1), _issued(2)])
        await txn.rollback()
    (entry,) = await log.append_many([_issued(3)])
    assert entry.seq == 2
    result = await log.verify()
    assert (result.ok, result.entries) == (True, 2)


async def test_one_refused_entry_refuses_the_batch(store: Store, clock: TickingClock) -> None:
    log = AuditLog(store, clock=clock)
    with pytest.raises(InvalidInputError) as refused:
        await log.append_many([_issued(0), (AuditEvent.CREDENTIAL_ISSUED, {"diagnosis": "J45"})])
    assert refused.value.code is ErrorCode.AUDIT_FIELD_REFUSED
    with pytest.raises(InvalidInputError) as unknown:
        await log.append_many([_issued(0), ("credential.forged", {})])
    assert unknown.value.code is ErrorCode.AUDIT_EVENT_UNKNOWN
    assert await log.head() is None
    async with store.session() as session:
        with pytest.raises(InvalidInputError):
            await log.append_in(session, [_issued(0)])


async def test_concurrent_batches_give_a_gap_free_chain(store: Store, clock: TickingClock) -> None:
    logs = [AuditLog(store, clock=clock) for _ in range(3)]

    async def run(log: AuditLog, worker: int) -> None:
        for round_ in range(6):
            await log.append_many([_issued(worker * 1000 + round_ * 10 + i) for i in range(5)])

    await asyncio.gather(*(run(log, n) for n, log in enumerate(logs)))
    entries = await logs[0].entries(limit=200)
    assert [entry.seq for entry in entries] == list(range(1, 91))
    # Each batch of five stays contiguous in the chain.
    ids = [int(str(entry.fields["credential_id"]).rsplit(":", 1)[1]) for entry in entries]
    for start in range(0, 90, 5):
        group = ids[start : start + 5]
        assert group == list(range(group[0], group[0] + 5))
    result = await logs[0].verify()
    assert (result.ok, result.entries) == (True, 90)
