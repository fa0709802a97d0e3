"""Issuance one request at a time, committed in groups: records, status and audit stay exact.

``Hospital.issue`` takes status indexes from reserved blocks and commits each issuance record
with its audit entry in a transaction shared by concurrent requests
(:mod:`issuer.group_commit`). These tests run many requests at once on each backend.
"""

from __future__ import annotations

import asyncio
import copy
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

from agent.errors import ErrorCode, InvalidInputError, StorageError
from agent.storage import Store
from issuer.audit import AuditEvent
from issuer.group_commit import GroupCommit
from issuer.hospital import Hospital
from tests.conftest import UNSIGNED_ALLERGY, TickingClock


async def _hospital(store: Store) -> Hospital:
    return await Hospital.init(
        store, base_url="https://hospital.example", did_method="key", clock=TickingClock()
    )


async def test_concurrent_issues_are_recorded_audited_and_never_share_an_index(
    store: Store,
) -> None:
    hospital = await _hospital(store)
    issued = await asyncio.gather(
        *(hospital.issue(copy.deepcopy(UNSIGNED_ALLERGY)) for _ in range(60))
    )
    assert len({credential["id"] for credential in issued}) == 60
    entries = [
        (entry["statusPurpose"], entry["statusListCredential"], entry["statusListIndex"])
        for credential in issued
        for entry in credential["credentialStatus"]
    ]
    assert len(set(entries)) == len(entries) == 120
    for credential in issued:
        record = await hospital.issued(credential["id"])
        assert list(record.status) == credential["credentialStatus"]
        assert record.key == credential["proof"]["verificationMethod"]
    log = await hospital.audit.entries(limit=100)
    issued_events = [e for e in log if e.event == AuditEvent.CREDENTIAL_ISSUED]
    assert sorted(str(e.fields["credential_id"]) for e in issued_events) == sorted(
        credential["id"] for credential in issued
    )
    # Entries committed together share their time (the TickingClock moves once per read):
    # concurrent requests were written in fewer transactions than there were requests.
    assert len({e.time for e in issued_events}) < len(issued_events)
    verification = await hospital.audit.verify()
    assert (verification.ok, verification.entries) == (True, 61)  # key.created + 60
    # Revocation works on a credential issued in a group.
    await hospital.update_status(issued[7]["id"], "revoked")
    (revocation,) = [e for e in issued[7]["credentialStatus"] if e["statusPurpose"] == "revocation"]
    list_id = revocation["statusListCredential"].rsplit("/", 1)[1]
    index = int(revocation["statusListIndex"])
    assert await hospital.status.status(list_id, index, "revocation")


async def test_a_duplicate_id_fails_alone_and_the_rest_of_its_group_is_written(
    store: Store,
) -> None:
    hospital = await _hospital(store)
    taken = await hospital.issue(
        {**copy.deepcopy(UNSIGNED_ALLERGY), "id": "https://hospital.example/credentials/taken"}
    )
    assert taken["id"] == "https://hospital.example/credentials/taken"
    requests = [copy.deepcopy(UNSIGNED_ALLERGY) for _ in range(12)]
    requests[5]["id"] = "https://hospital.example/credentials/taken"
    outcomes = await asyncio.gather(
        *(hospital.issue(request) for request in requests), return_exceptions=True
    )
    failed = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert len(failed) == 1
    assert outcomes[5] is failed[0]
    assert isinstance(failed[0], StorageError)
    assert failed[0].code is ErrorCode.STORE_DUPLICATE
    for outcome in outcomes:
        if isinstance(outcome, dict):
            assert (await hospital.issued(outcome["id"])).credential_id == outcome["id"]
    events = Counter(entry.event for entry in await hospital.audit.entries(limit=100))
    assert events[AuditEvent.CREDENTIAL_ISSUED] == 12  # the first "taken" and 11 others
    assert (await hospital.audit.verify()).ok


async def test_records_survive_a_restart_and_fresh_blocks_skip_the_old_ones(
    store_uri: str, raw_key: str
) -> None:
    from agent.storage import open_store

    async with await open_store(store_uri, raw_key=raw_key) as store:
        hospital = await _hospital(store)
        before = await asyncio.gather(
            *(hospital.issue(copy.deepcopy(UNSIGNED_ALLERGY)) for _ in range(5))
        )
    async with await open_store(store_uri, raw_key=raw_key, create=False) as store:
        hospital = await Hospital.load(store)
        assert hospital is not None
        after = [await hospital.issue(copy.deepcopy(UNSIGNED_ALLERGY)) for _ in range(5)]
        for credential in before:
            assert (await hospital.issued(credential["id"])).credential_id == credential["id"]
        assert (await hospital.audit.verify()).entries == 11
    indexes = [
        (e["statusListCredential"], e["statusListIndex"])
        for credential in before + after
        for e in credential["credentialStatus"]
    ]
    assert len(set(indexes)) == len(indexes)


class _Sink:
    """Writes that record what was written and in which groups; some items refuse."""

    def __init__(self, refused: frozenset[int] = frozenset()) -> None:
        self.groups: list[list[int]] = []
        self.written: list[int] = []
        self.refused = refused
        self.gate = asyncio.Event()

    async def write_group(self, items: Sequence[int]) -> None:
        await self.gate.wait()
        if self.refused & set(items):
            raise StorageError("a refused item spoils the group")
        self.groups.append(list(items))
        self.written.extend(items)

    async def write_one(self, item: int) -> None:
        if item in self.refused:
            raise StorageError(f"item {item} is refused", code=ErrorCode.STORE_DUPLICATE)
        self.written.append(item)


async def test_group_commit_gathers_while_a_group_is_written() -> None:
    sink = _Sink()
    commit = GroupCommit[int](sink.write_group, sink.write_one, max_group=4)
    first = asyncio.ensure_future(commit.submit(0))
    await asyncio.sleep(0)  # the first group (item 0) is now waiting on the gate
    rest = [asyncio.ensure_future(commit.submit(i)) for i in range(1, 10)]
    await asyncio.sleep(0)
    sink.gate.set()
    await asyncio.gather(first, *rest)
    assert sink.groups == [[0], [1, 2, 3, 4], [5, 6, 7, 8], [9]]
    assert sorted(sink.written) == list(range(10))


async def test_group_commit_gives_each_item_its_own_error() -> None:
    sink = _Sink(refused=frozenset({3}))
    sink.gate.set()
    commit = GroupCommit[int](sink.write_group, sink.write_one)
    outcomes = await asyncio.gather(*(commit.submit(i) for i in range(6)), return_exceptions=True)
    assert [isinstance(o, StorageError) for o in outcomes] == [False] * 3 + [True] + [False] * 2
    assert "item 3" in str(outcomes[3])
    assert sorted(sink.written) == [0, 1, 2, 4, 5]


async def test_a_cancelled_submitter_still_has_its_item_written() -> None:
    sink = _Sink()
    commit = GroupCommit[int](sink.write_group, sink.write_one)
    waiting = asyncio.ensure_future(commit.submit(1))
    await asyncio.sleep(0)
    waiting.cancel()
    sink.gate.set()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await commit.submit(2)
    assert sink.written == [1, 2]


def test_group_commit_needs_a_positive_group_size() -> None:
    sink = _Sink()
    with pytest.raises(ValueError, match="max_group"):
        GroupCommit[int](sink.write_group, sink.write_one, max_group=0)


async def _group_records(store: Store) -> list[list[str]]:
    """The credential ids of each issuance-group record, as stored."""
    async with store.session() as session:
        groups = await session.fetch_all("issued-credential-group")
    values: list[Any] = [group.json() for group in groups]
    return [[record["credential_id"] for record in value["records"]] for value in values]


async def test_a_group_of_issuances_is_one_record_found_by_each_id(store: Store) -> None:
    hospital = await _hospital(store)
    issued = await asyncio.gather(
        *(hospital.issue(copy.deepcopy(UNSIGNED_ALLERGY)) for _ in range(24))
    )
    groups = await _group_records(store)
    stored = [credential_id for group in groups for credential_id in group]
    assert sorted(stored) == sorted(credential["id"] for credential in issued)
    assert len(groups) < len(issued)  # concurrent requests shared records
    for credential in issued:
        record = await hospital.issued(credential["id"])
        assert (record.credential_id, list(record.status)) == (
            credential["id"],
            credential["credentialStatus"],
        )
    with pytest.raises(InvalidInputError) as caught:
        await hospital.issued("urn:uuid:never-issued")
    assert caught.value.code is ErrorCode.NOT_FOUND


async def test_the_same_new_id_twice_in_one_group_is_issued_once(store: Store) -> None:
    hospital = await _hospital(store)
    requests = [copy.deepcopy(UNSIGNED_ALLERGY) for _ in range(6)]
    for request in requests[2:4]:
        request["id"] = "https://hospital.example/credentials/twin"
    outcomes = await asyncio.gather(
        *(hospital.issue(request) for request in requests), return_exceptions=True
    )
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(failed) == 1
    assert isinstance(failed[0], StorageError)
    assert failed[0].code is ErrorCode.STORE_DUPLICATE
    stored = [credential_id for group in await _group_records(store) for credential_id in group]
    assert stored.count("https://hospital.example/credentials/twin") == 1
    assert len(stored) == 5
    events = Counter(entry.event for entry in await hospital.audit.entries(limit=100))
    assert events[AuditEvent.CREDENTIAL_ISSUED] == 5  # the refused one left no entry
    assert (await hospital.audit.verify()).ok


async def test_a_record_written_one_per_credential_by_earlier_versions_is_still_found(
    store: Store,
) -> None:
    hospital = await _hospital(store)
    credential = await hospital.issue(copy.deepcopy(UNSIGNED_ALLERGY))
    record = await hospital.issued(credential["id"])
    async with store.transaction() as txn:  # the layout before issuance groups
        for group in await txn.fetch_all("issued-credential-group"):
            await txn.remove("issued-credential-group", group.name)
        await txn.insert(
            "issued-credential-record",
            credential["id"],
            {
                "credential_id": record.credential_id,
                "types": list(record.types),
                "issued": record.issued,
                "key": record.key,
                "status": list(record.status),
            },
            tags={"~issued": record.issued},
        )
        await txn.commit()
    assert await hospital.issued(credential["id"]) == record
    # Its id is still taken for a client that gives it again.
    again = {**copy.deepcopy(UNSIGNED_ALLERGY), "id": credential["id"]}
    with pytest.raises(StorageError) as caught:
        await hospital.issue(again)
    assert caught.value.code is ErrorCode.STORE_DUPLICATE
    assert caught.value.details["reason"] == "credentialIdTaken"
    assert await hospital.update_status(credential["id"], "revoked") == {"revocation": True}


async def test_an_altered_issuance_group_is_a_storage_error_not_a_crash(store: Store) -> None:
    hospital = await _hospital(store)
    credential = await hospital.issue(copy.deepcopy(UNSIGNED_ALLERGY))
    async with store.transaction() as txn:
        (group,) = await txn.fetch_all("issued-credential-group")
        await txn.replace(
            "issued-credential-group", group.name, {"records": [{"x": 1}, 7]}, tags=group.tags
        )
        await txn.commit()
    with pytest.raises(StorageError):
        await hospital.issued(credential["id"])
    async with store.transaction() as txn:
        await txn.replace(
            "issued-credential-group",
            group.name,
            {"records": [{"credential_id": credential["id"]}]},
            tags=group.tags,
        )
        await txn.commit()
    with pytest.raises(StorageError):
        await hospital.issued(credential["id"])


async def test_two_replicas_given_one_new_id_at_once_issue_it_once(
    store_uri: str, raw_key: str
) -> None:
    from agent.storage import open_store

    first_store = await open_store(store_uri, raw_key=raw_key)
    second_store = await open_store(store_uri, raw_key=raw_key, create=False)
    try:
        first = await _hospital(first_store)
        second = await Hospital.load(second_store)
        assert second is not None
        for round_number in range(5):
            same = f"https://hospital.example/credentials/raced-{round_number}"
            requests = [
                replica.issue({**copy.deepcopy(UNSIGNED_ALLERGY), "id": same})
                for replica in (first, second, first, second)
            ] + [replica.issue(copy.deepcopy(UNSIGNED_ALLERGY)) for replica in (first, second)]
            outcomes = await asyncio.gather(*requests, return_exceptions=True)
            issued = [o for o in outcomes[:4] if isinstance(o, dict)]
            refused = [o for o in outcomes[:4] if isinstance(o, StorageError)]
            assert len(issued) == 1, outcomes
            assert len(refused) == 3
            assert all(e.code is ErrorCode.STORE_DUPLICATE for e in refused)
            assert all(isinstance(o, dict) for o in outcomes[4:])
        stored = [c for group in await _group_records(first_store) for c in group]
        assert len(stored) == len(set(stored)) == 5 * 3
        assert (await first.audit.verify()).ok
    finally:
        await second_store.close()
        await first_store.close()
