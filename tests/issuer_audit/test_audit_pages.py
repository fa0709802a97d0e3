"""issuer.audit: the entries of one call stored as one record (a page), read and verified as
if each were a record of its own."""

from __future__ import annotations

import io
import itertools
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.storage import Record, Store, generate_raw_key, open_store
from issuer.audit import (
    ENTRY_CATEGORY,
    GENESIS_HASH,
    MAX_PAGE_ENTRIES,
    AuditEntry,
    AuditEvent,
    AuditLog,
    NewEntry,
)
from tests.conftest import TickingClock


def _issued(i: int) -> NewEntry:
    return (AuditEvent.CREDENTIAL_ISSUED, {"credential_id": f"urn:uuid:{i}", "key": "z6Mk1"})


def _name(seq: int) -> str:
    return f"{seq:012d}"


async def _records(store: Store) -> list[Record]:
    async with store.session() as session:
        records = await session.fetch_all(ENTRY_CATEGORY)
    return sorted(records, key=lambda record: record.name)


async def _build(log: AuditLog, sizes: list[int]) -> list[AuditEntry]:
    """One ``append_many`` per size (``append`` for 1), in order: singles and pages mixed."""
    chain: list[AuditEntry] = []
    for size in sizes:
        if size == 1:
            chain.append(await log.append(AuditEvent.KEY_ROTATED, key=f"z6Mk{len(chain)}"))
        else:
            chain += await log.append_many([_issued(len(chain) + i) for i in range(size)])
    return chain


async def _export(log: AuditLog, since_seq: int = 0) -> list[AuditEntry]:
    out = io.StringIO()
    written = await log.export_jsonl(out.write, since_seq=since_seq)
    lines = [AuditEntry.from_json(json.loads(line)) for line in out.getvalue().splitlines()]
    assert written == len(lines)
    return lines


async def test_one_call_writes_one_record(store: Store, clock: TickingClock) -> None:
    log = AuditLog(store, clock=clock)
    appended = await log.append_many([_issued(i) for i in range(5)])
    (page,) = await _records(store)
    assert page.name == _name(1)
    assert page.tags == {"~seq": _name(1), "~last": _name(5)}
    assert page.json() == {"entries": [entry.to_json() for entry in appended]}
    single = await log.append(AuditEvent.KEY_ROTATED, key="z6Mk2")
    records = await _records(store)
    assert [record.name for record in records] == [_name(1), _name(6)]
    # A page of one entry is stored as a single entry always was.
    assert records[1].json() == single.to_json()
    assert records[1].tags == {"~seq": _name(6)}
    assert await log.entries() == [*appended, single]
    result = await log.verify()
    assert (result.ok, result.entries) == (True, 6)


async def test_more_than_a_page_is_written_as_several_pages(
    store: Store, clock: TickingClock
) -> None:
    log = AuditLog(store, clock=clock)
    first = await log.append_many([_issued(i) for i in range(MAX_PAGE_ENTRIES + 1)])
    async with store.transaction() as txn:
        inside = await log.append_in(txn, [_issued(i) for i in range(2 * MAX_PAGE_ENTRIES + 3)])
        await txn.commit()
    records = await _records(store)
    after = MAX_PAGE_ENTRIES + 1
    starts = [1, after, after + 1, after + 1 + MAX_PAGE_ENTRIES, after + 1 + 2 * MAX_PAGE_ENTRIES]
    assert [record.name for record in records] == [_name(seq) for seq in starts]
    sizes = [_size(record) for record in records]
    assert sizes == [MAX_PAGE_ENTRIES, 1, MAX_PAGE_ENTRIES, MAX_PAGE_ENTRIES, 3]
    for record, size in zip(records, sizes, strict=True):
        if size > 1:
            assert record.tags["~last"] == _name(int(record.name) + size - 1)
    chain = [*first, *inside]
    assert await log.entries(limit=1_000) == chain
    result = await log.verify()
    assert (result.ok, result.entries) == (True, len(chain))


def _size(record: Record) -> int:
    """How many entries ``record`` holds."""
    value = record.json()
    assert isinstance(value, dict)
    return len(value["entries"]) if "entries" in value else 1


async def test_a_paged_chain_is_the_chain_of_one_by_one_appends(
    store: Store, tmp_path: Path
) -> None:
    def fixed() -> datetime:
        return datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

    events = [_issued(i) for i in range(MAX_PAGE_ENTRIES + 7)]
    paged = await AuditLog(store, clock=fixed).append_many(events)
    async with await open_store(
        f"sqlite://{tmp_path / 'one-by-one.db'}", raw_key=generate_raw_key()
    ) as other:
        single_log = AuditLog(other, clock=fixed)
        singles = [await single_log.append(event, **fields) for event, fields in events]
        assert len(await _records(other)) == len(events)
        assert paged == singles
        assert await _export(AuditLog(store, clock=fixed)) == await _export(single_log)
        assert await AuditLog(store, clock=fixed).head() == await single_log.head()
    assert paged[0].prev_hash == GENESIS_HASH
    for previous, entry in itertools.pairwise(paged):
        assert (entry.seq, entry.prev_hash) == (previous.seq + 1, previous.hash)
        assert entry.hash == entry.compute_hash()
    assert len(await _records(store)) == 2
    assert (await AuditLog(store, clock=fixed).verify()).ok


async def test_entries_and_export_cut_pages_at_any_seq(store: Store, clock: TickingClock) -> None:
    log = AuditLog(store, clock=clock)
    chain = await _build(log, [1, 1, 1, 5, 1, MAX_PAGE_ENTRIES + 2, 2, 1])
    assert len(await _records(store)) == 9
    n = len(chain)
    for since in range(n + 1):
        for limit in (1, 2, 3, 7):
            assert await log.entries(since, limit) == chain[since : since + limit], (since, limit)
    # Walking the log a few entries at a time visits each entry once, in order.
    walked: list[AuditEntry] = []
    while batch := await log.entries(walked[-1].seq if walked else 0, 3):
        walked += batch
    assert walked == chain
    for since in (0, 4, 6, 9, 10, 70, n - 1, n):
        assert await _export(log, since) == chain[since:]


async def test_a_log_over_a_thousand_entries_of_pages_verifies_and_exports(
    store: Store, clock: TickingClock
) -> None:
    log = AuditLog(store, clock=clock)
    sizes = [1, 5, MAX_PAGE_ENTRIES, MAX_PAGE_ENTRIES + 2, 2, 1, 37] * 7
    chain = await _build(log, sizes)
    n = len(chain)
    assert n > 2_000
    records = await _records(store)
    assert len(records) < n // 10
    # Pages straddle the 1,000-entry windows that verify and export read.
    for boundary in (1_000, 2_000):
        assert any(
            int(r.name) <= boundary < int(str(r.tags.get("~last", r.name))) for r in records
        ), boundary
    result = await log.verify()
    assert (result.ok, result.entries) == (True, n)
    assert result.head is not None
    assert result.head.seq == n
    assert await _export(log) == chain
    assert await _export(log, 999) == chain[999:]
    assert await log.entries(995, 10) == chain[995:1_005]
    assert await log.entries(0, 5_000) == chain


# Tampering: a chain of 3 singles, pages 4..8 and 9..11, a single 12 and a page 13..15.
_SIZES = [1, 1, 1, 5, 3, 1, 3]


async def _tamper(
    store: Store, name: str, value: object, tags: dict[str, str] | None = None
) -> Record:
    async with store.session() as session:
        record = await session.get(ENTRY_CATEGORY, name)
        await session.replace(
            ENTRY_CATEGORY, name, value, tags=record.tags if tags is None else tags
        )
    return record


async def _verdict(log: AuditLog) -> tuple[bool, int | None, str | None, int]:
    result = await log.verify()
    return result.ok, result.first_bad_seq, result.reason, result.entries


async def test_an_altered_entry_inside_a_page_names_its_seq(
    store: Store, clock: TickingClock
) -> None:
    log = AuditLog(store, clock=clock)
    await _build(log, _SIZES)
    async with store.session() as session:
        page = await session.get(ENTRY_CATEGORY, _name(4))
    value = page.json()
    assert isinstance(value, dict)
    value["entries"][2]["fields"]["credential_id"] = "urn:uuid:someone-else"
    await _tamper(store, _name(4), value)
    assert await _verdict(log) == (False, 6, "hashMismatch", 5)


@pytest.mark.parametrize(("page", "index", "next_bad"), [(4, 1, 6), (4, 4, 9), (9, 2, 12)])
async def test_an_altered_and_rehashed_entry_inside_a_page_breaks_the_chain(
    store: Store, clock: TickingClock, page: int, index: int, next_bad: int
) -> None:
    log = AuditLog(store, clock=clock)
    await _build(log, _SIZES)
    async with store.session() as session:
        record = await session.get(ENTRY_CATEGORY, _name(page))
    value = record.json()
    assert isinstance(value, dict)
    entry = AuditEntry.from_json(value["entries"][index])
    forged = AuditEntry(entry.seq, entry.time, "credential.revoked", entry.fields, entry.prev_hash)
    value["entries"][index] = AuditEntry(
        **{**forged.unhashed(), "hash": forged.compute_hash()}
    ).to_json()
    await _tamper(store, _name(page), value)
    assert await _verdict(log) == (False, next_bad, "chainBroken", next_bad - 1)


async def test_a_removed_page_is_missing_at_its_first_seq(
    store: Store, clock: TickingClock
) -> None:
    log = AuditLog(store, clock=clock)
    await _build(log, _SIZES)
    async with store.session() as session:
        await session.remove(ENTRY_CATEGORY, _name(9))
    assert await _verdict(log) == (False, 9, "missingEntry", 8)


async def test_a_removed_tail_page_is_detected(store: Store, clock: TickingClock) -> None:
    log = AuditLog(store, clock=clock)
    await _build(log, _SIZES)
    async with store.session() as session:
        await session.remove(ENTRY_CATEGORY, _name(13))
    # As for singles: several entries missing at the tail are "missingEntry" at the first (one
    # missing entry at the tail is "truncated").
    assert await _verdict(log) == (False, 13, "missingEntry", 12)


async def test_a_record_claiming_a_seq_of_a_page_is_detected(
    store: Store, clock: TickingClock
) -> None:
    log = AuditLog(store, clock=clock)
    chain = await _build(log, _SIZES)
    # A copy of entry 6, on its own: two records now hold seq 6.
    async with store.session() as session:
        await session.insert(ENTRY_CATEGORY, _name(6), chain[5].to_json(), tags={"~seq": _name(6)})
    assert await _verdict(log) == (False, 6, "seqMismatch", 5)
    # Reading without verifying gives both, and still no more than asked for.
    assert await log.entries(4, 3) == [chain[4], chain[5], chain[5]]


async def test_overlapping_pages_across_a_window_are_detected(
    store: Store, clock: TickingClock
) -> None:
    log = AuditLog(store, clock=clock)
    chain = await _build(log, [998 - 7 * MAX_PAGE_ENTRIES] + [MAX_PAGE_ENTRIES] * 9)
    assert (await log.verify()).ok
    # Page 999..1126 is read in the windows of 1..1000 and of 1001..2000; a copy of 1003 is
    # seen in the second.
    async with store.session() as session:
        assert (await session.get(ENTRY_CATEGORY, _name(999))).tags["~last"] == _name(1_126)
        await session.insert(
            ENTRY_CATEGORY, _name(1_003), chain[1_002].to_json(), tags={"~seq": _name(1_003)}
        )
    assert await _verdict(log) == (False, 1_003, "seqMismatch", 1_002)


async def test_entries_moved_inside_a_page_are_detected(store: Store, clock: TickingClock) -> None:
    log = AuditLog(store, clock=clock)
    await _build(log, _SIZES)
    async with store.session() as session:
        page = await session.get(ENTRY_CATEGORY, _name(4))
    value = page.json()
    assert isinstance(value, dict)
    value["entries"][1], value["entries"][2] = value["entries"][2], value["entries"][1]
    await _tamper(store, _name(4), value)
    assert await _verdict(log) == (False, 5, "seqMismatch", 4)


@pytest.mark.parametrize(
    "tags",
    [
        pytest.param({"~seq": _name(4), "~last": _name(7)}, id="last-short"),
        pytest.param({"~seq": _name(4), "~last": _name(9)}, id="last-long"),
        pytest.param({"~seq": _name(4)}, id="last-missing"),
        pytest.param({"~seq": _name(3), "~last": _name(8)}, id="seq-moved"),
    ],
)
async def test_page_tags_that_disagree_are_detected(
    store: Store, clock: TickingClock, tags: dict[str, str]
) -> None:
    log = AuditLog(store, clock=clock)
    await _build(log, _SIZES)
    async with store.session() as session:
        page = await session.get(ENTRY_CATEGORY, _name(4))
    await _tamper(store, _name(4), page.value, tags)
    assert await _verdict(log) == (False, 4, "seqMismatch", 3)


async def test_a_page_grown_by_an_entry_is_detected(store: Store, clock: TickingClock) -> None:
    log = AuditLog(store, clock=clock)
    chain = await _build(log, _SIZES)
    async with store.session() as session:
        page = await session.get(ENTRY_CATEGORY, _name(4))
    value = page.json()
    assert isinstance(value, dict)
    value["entries"].append(chain[8].to_json())  # Entry 9 now also in page 4..8.
    await _tamper(store, _name(4), value)
    assert await _verdict(log) == (False, 4, "seqMismatch", 3)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param({"entries": []}, id="no-entries"),
        pytest.param({"entries": "urn:uuid:1"}, id="not-a-list"),
        pytest.param({"entries": ["urn:uuid:1", "urn:uuid:2"]}, id="not-entries"),
        pytest.param({"entries": [], "note": "x"}, id="extra-member"),
        pytest.param({"pages": 1}, id="other-object"),
        pytest.param(b"\x00not json", id="bytes"),
    ],
)
async def test_a_page_that_holds_no_entries_is_a_hash_mismatch(
    store: Store, clock: TickingClock, value: object
) -> None:
    log = AuditLog(store, clock=clock)
    await _build(log, _SIZES)
    await _tamper(store, _name(4), value)
    assert await _verdict(log) == (False, 4, "hashMismatch", 3)
