"""issuer.batch on SQLite and PostgreSQL: chunked, idempotent, crash-safe batch issuance."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections import Counter
from typing import Any

import pytest

from agent.credentials.proofs import verify_proofs
from agent.dids.resolver import DIDResolver
from agent.errors import ErrorCode, InvalidInputError, ProtocolStateError, StorageError
from agent.storage import Store, open_store
from agent.types import JSONObject
from issuer.audit import AuditLog
from issuer.batch import (
    ISSUED_CATEGORY,
    ITEMS_CATEGORY,
    BatchJob,
    BatchJobs,
    JobState,
    _advance,
)
from tests.conftest import TickingClock
from tests.issuer_batch._issuing import (
    ISSUED_AT,
    create_issuer_key,
    make_issuer,
    patients,
    run_job_in_process,
)


async def test_two_thousand_patients_with_progress(store: Store, clock: TickingClock) -> None:
    vm = await create_issuer_key(store)
    issue_one, before_chunk = await make_issuer(store, vm)
    audit = AuditLog(store, clock=clock)
    jobs = BatchJobs(store, clock=clock, audit=audit)
    job = await jobs.create("job-2000", patients(2_000), "vc+di")
    assert (job.state, job.total, len(job.chunk_issued)) == (JobState.PENDING, 2_000, 4)
    assert await jobs.status("job-2000") == (JobState.PENDING, 0, 2_000)
    seen: list[tuple[int, int]] = []
    result = await jobs.run(
        "job-2000",
        issue_one,
        progress=lambda done, total: seen.append((done, total)),
        before_chunk=before_chunk,
        actor="did:web:hospital.example",
    )
    assert seen == [(500, 2_000), (1_000, 2_000), (1_500, 2_000), (2_000, 2_000)]
    assert (result.state, result.issued, result.issued_now, result.failed) == (
        JobState.DONE,
        2_000,
        2_000,
        0,
    )
    assert await jobs.status("job-2000") == (JobState.DONE, 2_000, 2_000)
    issued = await jobs.credentials("job-2000", limit=5_000)
    assert len(issued) == 2_000
    assert len({c.patient_key for c in issued}) == 2_000
    assert len({c.credential_id for c in issued}) == 2_000
    statuses = [c.credential["credentialStatus"] for c in issued]  # type: ignore[index]
    indexes = {(s["statusListCredential"], s["statusListIndex"]) for s in statuses}
    assert len(indexes) == 2_000
    # A sample verifies as a signed credential.
    sample = issued[1234].credential
    assert isinstance(sample, dict)
    results = await verify_proofs(
        sample, DIDResolver(), expected_purpose="assertionMethod", now=ISSUED_AT
    )
    assert [r.suite for r in results] == ["eddsa-jcs-2022"]  # It raises when it fails.
    # Paging, and the per-patient lookup, agree with the listing.
    assert await jobs.credentials("job-2000", limit=3, offset=499) == issued[499:502]
    found = await jobs.credential_for("job-2000", issued[777].patient_key)
    assert found == issued[777]
    assert await jobs.credential_for("job-2000", "nobody") is None
    # The items (health data) are gone once issued.
    async with store.session() as session:
        assert await session.count(ITEMS_CATEGORY) == 0
        assert await session.count(ISSUED_CATEGORY) == 4
    entries = await audit.entries()
    assert [e.event for e in entries] == ["batch.started", "batch.finished"]
    assert entries[1].fields["count"] == 2_000
    assert (await audit.verify()).ok


async def test_rerunning_a_done_job_issues_nothing(store: Store, clock: TickingClock) -> None:
    calls = 0

    async def issue_one(patient_key: str, payload: JSONObject) -> tuple[str, str]:
        nonlocal calls
        calls += 1
        return f"urn:x:{patient_key}", "eyJ..." + patient_key

    jobs = BatchJobs(store, clock=clock)
    await jobs.create("again", patients(120), "dc+sd-jwt", chunk_size=50)
    first = await jobs.run("again", issue_one)
    assert (first.issued_now, calls) == (120, 120)
    second = await jobs.run("again", issue_one)
    assert (second.state, second.issued_now, second.skipped_chunks, calls) == (
        JobState.DONE,
        0,
        3,
        120,
    )
    assert len(await jobs.credentials("again", limit=1_000)) == 120


async def test_create_is_idempotent_and_refuses_conflicts(
    store: Store, clock: TickingClock
) -> None:
    jobs = BatchJobs(store, clock=clock)
    created = await jobs.create("same", patients(30), "vc+di", chunk_size=7)
    assert await jobs.create("same", iter(patients(30)), "vc+di") == created
    with pytest.raises(StorageError) as caught:
        await jobs.create("same", patients(31), "vc+di")
    assert caught.value.code is ErrorCode.BATCH_JOB_CONFLICT
    random_id = await jobs.create(None, patients(3), "vc+di")
    assert len(random_id.job_id) == 32


@pytest.mark.parametrize(
    "items",
    [
        pytest.param([("p1", {}), ("p1", {})], id="duplicate-patient"),
        pytest.param([("", {})], id="empty-key"),
        pytest.param([("p1", ["not", "object"])], id="payload-not-object"),
        pytest.param([("p1",)], id="not-a-pair"),
    ],
)
async def test_bad_items_are_refused(store: Store, clock: TickingClock, items: list[Any]) -> None:
    jobs = BatchJobs(store, clock=clock)
    with pytest.raises(InvalidInputError) as caught:
        await jobs.create("bad", items, "vc+di")
    assert caught.value.code is ErrorCode.BATCH_ITEM_INVALID
    with pytest.raises(StorageError) as missing:
        await jobs.status("bad")
    assert missing.value.code is ErrorCode.BATCH_JOB_NOT_FOUND


async def test_typed_item_errors_fail_the_item_only(store: Store, clock: TickingClock) -> None:
    async def issue_one(patient_key: str, payload: JSONObject) -> tuple[str, bytes]:
        if payload["n"] % 10 == 3:
            raise InvalidInputError("not valid FHIR", code=ErrorCode.INVALID_FHIR)
        return f"urn:x:{patient_key}", b"\x00cbor" + patient_key.encode()

    jobs = BatchJobs(store, clock=clock)
    await jobs.create("partial", patients(40), "mdoc", chunk_size=16)
    result = await jobs.run("partial", issue_one)
    assert (result.state, result.issued, result.failed) == (JobState.DONE, 36, 4)
    assert await jobs.failures("partial") == [(f"p{i:06d}", "invalidFhir") for i in (3, 13, 23, 33)]
    first = (await jobs.credentials("partial", limit=1))[0]
    assert first.credential == b"\x00cborp000000"


async def test_an_untyped_error_fails_the_job_and_a_rerun_resumes(
    store: Store, clock: TickingClock
) -> None:
    broken = True
    calls: Counter[str] = Counter()

    async def issue_one(patient_key: str, payload: JSONObject) -> tuple[str, str]:
        calls[patient_key] += 1
        if broken and payload["n"] == 25:
            raise RuntimeError("the HSM went away")
        return f"urn:x:{patient_key}", "token"

    jobs = BatchJobs(store, clock=clock)
    await jobs.create("flaky", patients(50), "dc+sd-jwt", chunk_size=10)
    with pytest.raises(RuntimeError):
        await jobs.run("flaky", issue_one)
    job = await jobs.job("flaky")
    assert (job.state, job.issued, job.error) == (JobState.FAILED, 20, "RuntimeError")
    broken = False
    result = await jobs.run("flaky", issue_one)
    assert (result.state, result.issued, result.issued_now, result.skipped_chunks) == (
        JobState.DONE,
        50,
        30,
        2,
    )
    # Only the chunk that failed was issued twice (its first credentials were never stored).
    assert {key for key, n in calls.items() if n > 1} == {f"p{i:06d}" for i in range(20, 26)}


def test_states_follow_the_transition_table() -> None:
    job = BatchJob("j", JobState.DONE, "vc+di", 0, 1, [], 0, 0, 1, "", "", "")
    with pytest.raises(ProtocolStateError) as caught:
        _advance(job, JobState.RUNNING)
    assert caught.value.details["state"] == "done"


async def test_an_empty_job_is_done_at_once(store: Store, clock: TickingClock) -> None:
    async def issue_one(patient_key: str, payload: JSONObject) -> tuple[str, str]:
        raise AssertionError("nothing to issue")

    jobs = BatchJobs(store, clock=clock)
    await jobs.create("empty", [], "vc+di")
    result = await jobs.run("empty", issue_one)
    assert (result.state, result.total, result.issued) == (JobState.DONE, 0, 0)


@pytest.mark.slow
async def test_sigkill_mid_batch_then_rerun_gives_one_credential_each(
    store_uri: str, raw_key: str, clock: TickingClock
) -> None:
    """Kill the issuing process with SIGKILL after some chunks; a new process finishes."""
    total, chunk = 2_000, 100
    async with await open_store(store_uri, raw_key=raw_key) as store:
        vm = await create_issuer_key(store)
        await BatchJobs(store, clock=clock).create(
            "crash", patients(total), "vc+di", chunk_size=chunk
        )
    context = multiprocessing.get_context("spawn")
    child = context.Process(
        target=run_job_in_process, args=(store_uri, raw_key, "crash", vm, 0.002)
    )
    child.start()
    async with await open_store(store_uri, raw_key=raw_key, create=False) as store:
        jobs = BatchJobs(store, clock=clock)
        for _ in range(1_200):
            _, done, _ = await jobs.status("crash")
            if done >= 5 * chunk:
                break
            await asyncio.sleep(0.05)
        child.kill()  # SIGKILL: no cleanup, no rollback handlers.
        await asyncio.to_thread(child.join, 30)
        assert child.exitcode == -9
        state, done_at_kill, _ = await jobs.status("crash")
        assert state is JobState.RUNNING
        assert 5 * chunk <= done_at_kill < total, "the child finished before it was killed"
    rerun = context.Process(target=run_job_in_process, args=(store_uri, raw_key, "crash", vm, 0.0))
    rerun.start()
    await asyncio.to_thread(rerun.join, 300)
    assert rerun.exitcode == 0
    async with await open_store(store_uri, raw_key=raw_key, create=False) as store:
        jobs = BatchJobs(store, clock=clock)
        assert await jobs.status("crash") == (JobState.DONE, total, total)
        issued = await jobs.credentials("crash", limit=10 * total)
        assert len(issued) == total
        keys = Counter(c.patient_key for c in issued)
        assert set(keys) == {key for key, _ in patients(total)}
        assert max(keys.values()) == 1
        assert len({c.credential_id for c in issued}) == total
        async with store.session() as session:
            assert await session.count(ISSUED_CATEGORY) == total // chunk
            assert await session.count(ITEMS_CATEGORY) == 0
