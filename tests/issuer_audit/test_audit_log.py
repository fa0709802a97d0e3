"""issuer.audit on SQLite and PostgreSQL: a gap-free hash chain that shows any tampering."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import multiprocessing
from collections import Counter

import pytest

from agent.credentials.jcs import canonicalize
from agent.errors import ErrorCode, InvalidInputError
from agent.storage import Store, open_store
from issuer.audit import (
    ENTRY_CATEGORY,
    GENESIS_HASH,
    HEAD_CATEGORY,
    AuditAnchor,
    AuditEntry,
    AuditEvent,
    AuditLog,
)
from tests.conftest import TickingClock
from tests.issuer_audit._audit_worker import append_in_process

LIST = "https://hospital.example/status/3f2a"


async def _fill(log: AuditLog, n: int) -> list[AuditEntry]:
    events = list(AuditEvent)
    return [
        await log.append(
            events[i % len(events)],
            credential_id=f"urn:uuid:0000-{i}",
            status_list_id=LIST,
            status_list_index=i * 7,
            actor="did:web:hospital.example",
        )
        for i in range(n)
    ]


def _name(seq: int) -> str:
    return f"{seq:012d}"


async def test_append_many_then_verify_ok(store: Store, clock: TickingClock) -> None:
    log = AuditLog(store, clock=clock)
    appended = await _fill(log, 120)
    assert [entry.seq for entry in appended] == list(range(1, 121))
    assert appended[0].prev_hash == GENESIS_HASH
    for previous, entry in itertools.pairwise(appended):
        assert entry.prev_hash == previous.hash
    first = appended[0]
    expected = canonicalize({k: v for k, v in first.to_json().items() if k != "hash"})
    import hashlib

    assert first.hash == hashlib.sha256(expected).hexdigest()
    result = await log.verify()
    assert result.ok, result
    assert result.entries == 120
    assert result.head == AuditAnchor(120, appended[-1].hash)
    assert await log.verify(anchor=AuditAnchor(50, appended[49].hash)) == result


async def test_verify_pages_beyond_one_thousand(store: Store, clock: TickingClock) -> None:
    log = AuditLog(store, clock=clock)
    for i in range(1_005):
        await log.append("credential.issued", credential_id=f"urn:uuid:{i}")
    result = await log.verify()
    assert (result.ok, result.entries) == (True, 1_005)


async def test_entries_and_export(store: Store, clock: TickingClock) -> None:
    log = AuditLog(store, clock=clock)
    appended = await _fill(log, 30)
    assert await log.entries(since_seq=10, limit=5) == appended[10:15]
    assert await log.entries(since_seq=30) == []
    out = io.StringIO()
    assert await log.export_jsonl(out.write, since_seq=25) == 5
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["seq"] for line in lines] == [26, 27, 28, 29, 30]
    assert lines[-1] == appended[-1].to_json()
    assert await AuditLog(store, clock=clock).head() == AuditAnchor(30, appended[-1].hash)


async def test_an_altered_field_names_its_seq(store: Store, clock: TickingClock) -> None:
    log = AuditLog(store, clock=clock)
    await _fill(log, 20)
    async with store.session() as session:
        record = await session.get(ENTRY_CATEGORY, _name(7))
        value = record.json()
        assert isinstance(value, dict)
        value["fields"]["credential_id"] = "urn:uuid:someone-else"
        await session.replace(ENTRY_CATEGORY, _name(7), value, tags=record.tags)
    result = await log.verify()
    assert (result.ok, result.first_bad_seq, result.reason) == (False, 7, "hashMismatch")
    assert result.entries == 6


async def test_an_altered_and_rehashed_entry_breaks_the_chain(
    store: Store, clock: TickingClock
) -> None:
    log = AuditLog(store, clock=clock)
    await _fill(log, 20)
    async with store.session() as session:
        record = await session.get(ENTRY_CATEGORY, _name(9))
        entry = AuditEntry.from_json(record.json())
        forged = AuditEntry(
            entry.seq, entry.time, "credential.reinstated", entry.fields, entry.prev_hash
        )
        forged = AuditEntry(**{**forged.unhashed(), "hash": forged.compute_hash()})
        await session.replace(ENTRY_CATEGORY, _name(9), forged.to_json(), tags=record.tags)
    result = await log.verify()
    assert (result.first_bad_seq, result.reason) == (10, "chainBroken")


async def test_a_removed_entry_is_detected(store: Store, clock: TickingClock) -> None:
    log = AuditLog(store, clock=clock)
    await _fill(log, 20)
    async with store.session() as session:
        await session.remove(ENTRY_CATEGORY, _name(12))
    result = await log.verify()
    assert (result.ok, result.first_bad_seq, result.reason) == (False, 12, "missingEntry")


async def test_reordered_entries_are_detected(store: Store, clock: TickingClock) -> None:
    log = AuditLog(store, clock=clock)
    await _fill(log, 20)
    async with store.session() as session:
        five = await session.get(ENTRY_CATEGORY, _name(5))
        six = await session.get(ENTRY_CATEGORY, _name(6))
        await session.replace(ENTRY_CATEGORY, _name(5), six.value, tags=five.tags)
        await session.replace(ENTRY_CATEGORY, _name(6), five.value, tags=six.tags)
    result = await log.verify()
    assert (result.first_bad_seq, result.reason) == (5, "seqMismatch")


async def test_a_truncated_tail_is_detected(store: Store, clock: TickingClock) -> None:
    log = AuditLog(store, clock=clock)
    appended = await _fill(log, 20)
    anchor = await log.head()
    async with store.session() as session:
        await session.remove(ENTRY_CATEGORY, _name(20))
    result = await log.verify()
    assert (result.ok, result.first_bad_seq, result.reason) == (False, 20, "truncated")
    # Rolling the head back as well hides the truncation from the store alone; an anchor kept
    # elsewhere still shows it.
    async with store.session() as session:
        await session.replace(HEAD_CATEGORY, "head", {"seq": 19, "hash": appended[18].hash})
    assert (await log.verify()).ok
    result = await log.verify(anchor=anchor)
    assert (result.ok, result.first_bad_seq, result.reason) == (False, 20, "anchorMismatch")


async def test_an_entry_appended_behind_the_heads_back_is_detected(
    store: Store, clock: TickingClock
) -> None:
    log = AuditLog(store, clock=clock)
    appended = await _fill(log, 5)
    async with store.session() as session:
        await session.replace(HEAD_CATEGORY, "head", {"seq": 4, "hash": appended[3].hash})
    result = await log.verify()
    assert (result.first_bad_seq, result.reason) == (5, "unexpectedEntry")


async def test_concurrent_tasks_give_a_gap_free_chain(store: Store, clock: TickingClock) -> None:
    logs = [AuditLog(store, clock=clock) for _ in range(4)]

    async def run(log: AuditLog, actor: str) -> list[AuditEntry]:
        return [
            await log.append("credential.revoked", credential_id=f"urn:x:{actor}{i}", actor=actor)
            for i in range(25)
        ]

    batches = await asyncio.gather(*(run(log, f"a{n}") for n, log in enumerate(logs)))
    seqs = sorted(entry.seq for batch in batches for entry in batch)
    assert seqs == list(range(1, 101))
    result = await logs[0].verify()
    assert (result.ok, result.entries) == (True, 100)


@pytest.mark.slow
async def test_two_processes_give_a_gap_free_chain(store_uri: str, raw_key: str) -> None:
    await (await open_store(store_uri, raw_key=raw_key)).close()
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    per_process = 150
    processes = [
        context.Process(
            target=append_in_process, args=(store_uri, raw_key, per_process, actor, barrier)
        )
        for actor in ("replica-a", "replica-b")
    ]
    for process in processes:
        process.start()
    for process in processes:
        await asyncio.to_thread(process.join, 120)
    assert [process.exitcode for process in processes] == [0, 0]
    async with await open_store(store_uri, raw_key=raw_key, create=False) as store:
        log = AuditLog(store, clock=TickingClock())
        result = await log.verify()
        assert (result.ok, result.entries) == (True, 2 * per_process)
        entries = await log.entries(limit=2 * per_process)
        assert [entry.seq for entry in entries] == list(range(1, 2 * per_process + 1))
        actors = [entry.fields["actor"] for entry in entries]
        assert Counter(actors) == {"replica-a": per_process, "replica-b": per_process}
        # The replicas really interleaved: the actor changes more than once along the chain.
        changes = sum(1 for a, b in itertools.pairwise(actors) if a != b)
        assert changes > 1


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        pytest.param({"credential_id": {"code": "J45"}}, "notIdentifier", id="dict"),
        pytest.param({"credential_id": ["J45", "asthma"]}, "notIdentifier", id="list"),
        pytest.param({"credential_id": "urn:" + "x" * 200}, "tooLong", id="too-long"),
        pytest.param({"actor": "Penicillin allergy, anaphylaxis"}, "notIdentifier", id="prose"),
        pytest.param(
            {"credential_id": '{"resourceType":"Condition"}'}, "notIdentifier", id="json-text"
        ),
        pytest.param({"credential_id": 1.5}, "notIdentifier", id="float"),
        pytest.param({"diagnosis": "J45"}, "unknownField", id="unknown-field"),
    ],
)
async def test_health_data_looking_values_are_refused(
    store: Store, clock: TickingClock, fields: dict[str, object], reason: str
) -> None:
    log = AuditLog(store, clock=clock)
    with pytest.raises(InvalidInputError) as caught:
        await log.append("credential.issued", **fields)  # type: ignore[arg-type]
    assert caught.value.code is ErrorCode.AUDIT_FIELD_REFUSED
    assert caught.value.details["reason"] == reason
    for value in fields.values():
        assert str(value)[:30] not in caught.value.message or reason == "unknownField"
    assert await log.head() is None


async def test_unknown_events_are_refused(store: Store, clock: TickingClock) -> None:
    log = AuditLog(store, clock=clock)
    with pytest.raises(InvalidInputError) as caught:
        await log.append("patient.diagnosed", credential_id="urn:x:1")
    assert caught.value.code is ErrorCode.AUDIT_EVENT_UNKNOWN


async def test_extra_fields_can_be_allowed(store: Store, clock: TickingClock) -> None:
    log = AuditLog(store, clock=clock, extra_fields=["ward_id"])
    entry = await log.append("key.rotated", ward_id="W-12", key="z6MkhaXgBZ")
    assert entry.fields == {"key": "z6MkhaXgBZ", "ward_id": "W-12"}
