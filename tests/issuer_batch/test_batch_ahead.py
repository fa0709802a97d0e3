"""``BatchJobs.run(fhir_member=...)``: FHIR validation and claims computed one chunk ahead in a
worker process give the same credentials and the same typed errors per item as in process,
fall back to in-process work when the worker fails, and never outlive the run or its process."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeAlias

import pytest

from agent.credentials.proofs import verify_proofs
from agent.dids.resolver import DIDResolver
from agent.errors import ErrorCode, InvalidInputError, StorageError
from agent.storage import Store, open_store
from agent.types import JSONObject
from issuer import batch, fhir, templates
from issuer.batch import POOL_MIN_CHUNKS, BatchJobs, JobState
from issuer.fhir import (
    BundleIndex,
    Outcome,
    Precomputed,
    precomputed,
    using_precomputed,
    validate_resource,
)
from issuer.hospital import Hospital
from issuer.templates import claims_for_resource, map_record, record_digest
from tests.conftest import TickingClock
from tests.issuer_batch._fhir_issuing import (
    ItemError,
    fhir_patients,
    make_fhir_issuer,
    payload_kinds,
    run_fhir_job_in_process,
    sample_resources,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KINDS = len(payload_kinds())
#: Payload kinds (see ``payload_kinds``) whose FHIR member is not an object: never sent.
NOT_SENT = {9, 10}
#: The kind failing the subject check, before any FHIR work.
BAD_SUBJECT = 11
VALID = {0, 1, 2, 3}


Worker: TypeAlias = "subprocess.Popen[bytes]"


def _record_workers(monkeypatch: pytest.MonkeyPatch) -> list[Worker]:
    """The worker processes runs start from now on."""
    made: list[Worker] = []
    start = batch._Ahead.__init__

    def record(self: batch._Ahead, member: str) -> None:
        start(self, member)
        assert self._process is not None
        made.append(self._process)

    monkeypatch.setattr(batch._Ahead, "__init__", record)
    return made


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Worker]]:
    """Every worker process a run starts. Chunks are submitted only once the worker is up; the
    first submit here waits for it, so that every chunk after the first is computed there."""
    made = _record_workers(monkeypatch)
    submit = batch._Ahead.submit

    def submit_when_up(self: batch._Ahead, number: int, items: Any) -> None:
        self._started.result(timeout=120)
        submit(self, number, items)

    monkeypatch.setattr(batch._Ahead, "submit", submit_when_up)
    yield made
    for process in made:  # Only if a test failed half-way.
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture
def in_process_calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often this process validated a resource and digested one for its record key (so
    mapped it: the digest comes with the mapping; the worker's work is not counted: it runs in
    another process)."""
    calls: Counter[str] = Counter()
    check, digest = fhir._check, templates.record_digest

    def counting_check(*args: Any, **kwargs: Any) -> Any:
        calls["validate"] += 1
        return check(*args, **kwargs)

    def counting_digest(*args: Any, **kwargs: Any) -> Any:
        calls["digest"] += 1
        return digest(*args, **kwargs)

    monkeypatch.setattr(fhir, "_check", counting_check)
    monkeypatch.setattr(templates, "record_digest", counting_digest)
    return calls


def _modulo_varying(credential: dict[str, Any]) -> dict[str, Any]:
    """The credential without what differs between two issuances: its id and signature."""
    rest = {key: value for key, value in credential.items() if key != "id"}
    rest["proof"] = {k: v for k, v in credential["proof"].items() if k != "proofValue"}
    return rest


async def _run(
    store: Store,
    clock: TickingClock,
    hospital: Hospital | None,
    job_id: str,
    n: int,
    chunk_size: int,
    pool: bool | None,
) -> tuple[dict[str, ItemError], list[Any], dict[str, str]]:
    errors: dict[str, ItemError] = {}
    record_keys: dict[str, str] = {}
    jobs = BatchJobs(store, clock=clock)
    await jobs.create(job_id, fhir_patients(n), "vc+di", chunk_size=chunk_size)
    issue_one = make_fhir_issuer(hospital, errors, record_keys=record_keys)
    result = await jobs.run(job_id, issue_one, fhir_member="fhir", pool=pool)
    assert result.state is JobState.DONE
    assert await jobs.failures(job_id) == [(key, errors[key][1]) for key in sorted(errors)]
    return errors, await jobs.credentials(job_id, limit=n), record_keys


async def test_worker_outcomes_equal_in_process_ones(
    store: Store,
    clock: TickingClock,
    workers: list[Worker],
    in_process_calls: Counter[str],
) -> None:
    hospital = await Hospital.init(store, base_url="https://hospital.example", clock=lambda: NOW)
    n, chunk = 10 * KINDS, 2 * KINDS
    alone_errors, alone, alone_keys = await _run(
        store, clock, hospital, "alone", n, chunk, pool=False
    )
    assert not workers
    alone_calls = Counter(in_process_calls)
    in_process_calls.clear()
    ahead_errors, ahead, ahead_keys = await _run(
        store, clock, hospital, "ahead", n, chunk, pool=True
    )

    # The same typed error per item: class, code, message and details (the element's path).
    assert ahead_errors == alone_errors
    assert len(alone_errors) == n - 4 * n // KINDS
    codes = Counter(code for _, code, _, _ in alone_errors.values())
    assert codes == {"invalidFhir": 7 * n // KINDS, "batchItemInvalid": n // KINDS}
    paths = {details.get("path") for _, _, _, details in alone_errors.values()}
    assert "AllergyIntolerance.reaction[0].severity" in paths
    # The same record keys (their digest came from the worker after the first chunk).
    assert ahead_keys == alone_keys
    assert len(alone_keys) == 4 * n // KINDS
    # The same credentials, apart from id and signature; and they verify.
    assert [c.patient_key for c in ahead] == [c.patient_key for c in alone]
    assert [_modulo_varying(c.credential) for c in ahead] == [  # type: ignore[arg-type]
        _modulo_varying(c.credential)  # type: ignore[arg-type]
        for c in alone
    ]
    resolver = DIDResolver()
    resolver.add_document(await hospital.did_document())
    for found in ahead[:4]:
        assert isinstance(found.credential, dict)
        await verify_proofs(found.credential, resolver, now=NOW)

    # The worker did the work of every chunk but the first (it was starting then).
    assert alone_calls == {"validate": n - n // KINDS, "digest": 4 * n // KINDS}
    first_chunk = [i % KINDS for i in range(chunk)]
    later = [i % KINDS for i in range(chunk, n)]
    assert in_process_calls == {
        "validate": sum(kind != BAD_SUBJECT for kind in first_chunk)
        + sum(kind in NOT_SENT for kind in later),
        "digest": sum(kind in VALID for kind in first_chunk),
    }
    assert [process.poll() for process in workers] == [0]  # Ended by end of file.


async def test_small_batches_stay_in_process_and_larger_ones_start_the_worker(
    store: Store, clock: TickingClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[str] = []

    def start(member: str) -> None:
        started.append(member)  # No worker: the run goes on in process.

    monkeypatch.setattr(batch._Ahead, "start", staticmethod(start))
    jobs = BatchJobs(store, clock=clock)
    issue_one = make_fhir_issuer(None)
    cases = [
        (POOL_MIN_CHUNKS - 1, None, []),
        (POOL_MIN_CHUNKS, None, ["fhir"]),
        (1, True, ["fhir"]),
        (POOL_MIN_CHUNKS * 2, False, []),
    ]
    for number, (chunks, pool, expected) in enumerate(cases):
        started.clear()
        job_id = f"size-{number}"
        await jobs.create(job_id, fhir_patients(chunks * 3), "vc+di", chunk_size=3)
        result = await jobs.run(job_id, issue_one, fhir_member="fhir", pool=pool)
        assert (result.state, result.issued + result.failed) == (JobState.DONE, chunks * 3)
        assert started == expected, (chunks, pool)
    # Without fhir_member there is nothing to compute ahead.
    started.clear()
    await jobs.create("no-fhir", fhir_patients(POOL_MIN_CHUNKS * 3), "vc+di", chunk_size=3)
    await jobs.run("no-fhir", issue_one)
    assert started == []


async def test_a_one_chunk_run_stops_the_worker_it_started(
    store: Store, clock: TickingClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = _record_workers(monkeypatch)
    jobs = BatchJobs(store, clock=clock)
    await jobs.create("one", fhir_patients(KINDS), "vc+di")
    began = time.monotonic()
    await jobs.run("one", make_fhir_issuer(None), fhir_member="fhir", pool=True)
    # Still importing when the chunk was done: killed, not waited for.
    assert time.monotonic() - began < 5
    assert [process.poll() for process in made] == [-signal.SIGKILL]


async def test_a_killed_worker_leaves_the_rest_to_this_process(
    store: Store,
    clock: TickingClock,
    workers: list[Worker],
    in_process_calls: Counter[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    exchanges = 0
    exchange = batch._Ahead._exchange

    def kill_on_second(process: Any, resources: list[dict[str, Any]]) -> Any:
        nonlocal exchanges
        exchanges += 1
        if exchanges == 2:
            process.kill()
            process.wait()
        return exchange(process, resources)

    monkeypatch.setattr(batch._Ahead, "_exchange", staticmethod(kill_on_second))
    n, chunk = 6 * KINDS, KINDS
    expected_errors, expected, _ = await _run(store, clock, None, "alone", n, chunk, pool=False)
    in_process_calls.clear()
    with caplog.at_level(logging.WARNING, logger="issuer.batch"):
        errors, found, _ = await _run(store, clock, None, "killed", n, chunk, pool=True)
    assert errors == expected_errors
    assert [(c.patient_key, c.credential) for c in found] == [
        (c.patient_key, c.credential) for c in expected
    ]
    assert exchanges == 2  # No chunk was sent to the dead worker after it failed.
    # Chunk 1 came from the worker; chunks 0 and 2 to 5 were computed here.
    assert in_process_calls["digest"] == 5 * len(VALID)
    warnings = [r.getMessage() for r in caplog.records if r.name == "issuer.batch"]
    assert len(warnings) == 1
    assert warnings[0].startswith("batch FHIR worker failed (")
    assert [process.poll() for process in workers] == [-signal.SIGKILL]


async def test_an_untyped_error_fails_the_job_and_stops_the_worker(
    store: Store, clock: TickingClock, workers: list[Worker]
) -> None:
    issue = make_fhir_issuer(None)

    async def issue_one(patient_key: str, payload: JSONObject) -> tuple[str, Any]:
        if patient_key == f"p{3 * KINDS + 1:06d}":
            raise RuntimeError("the HSM went away")
        return await issue(patient_key, payload)

    jobs = BatchJobs(store, clock=clock)
    await jobs.create("broken", fhir_patients(6 * KINDS), "vc+di", chunk_size=KINDS)
    with pytest.raises(RuntimeError):
        await jobs.run("broken", issue_one, fhir_member="fhir", pool=True)
    job = await jobs.job("broken")
    assert (job.state, job.error, job.issued + job.failed) == (
        JobState.FAILED,
        "RuntimeError",
        3 * KINDS,
    )
    assert [process.poll() for process in workers] == [0]  # Stopped, and waited for.
    result = await jobs.run("broken", issue, fhir_member="fhir", pool=True)
    assert (result.state, result.issued + result.failed) == (JobState.DONE, 6 * KINDS)
    assert [process.poll() for process in workers] == [0, 0]


async def test_a_cancelled_run_stops_the_worker_and_resumes(
    store: Store, clock: TickingClock, workers: list[Worker]
) -> None:
    """Ctrl-C under ``asyncio.run`` cancels the task: the worker is stopped, the job stays
    running (as after a crash) and a rerun issues the rest, one credential each."""
    n, chunk = 8 * KINDS, KINDS
    jobs = BatchJobs(store, clock=clock)
    await jobs.create("cancelled", fhir_patients(n), "vc+di", chunk_size=chunk)
    issued = asyncio.Event()
    issue = make_fhir_issuer(None, delay=0.002)

    def progress(done: int, total: int) -> None:
        if done >= 3 * chunk:
            issued.set()

    task = asyncio.create_task(
        jobs.run("cancelled", issue, fhir_member="fhir", pool=True, progress=progress)
    )
    await asyncio.wait_for(issued.wait(), 120)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [process.poll() for process in workers] == [0]
    state, done, _ = await jobs.status("cancelled")
    assert state is JobState.RUNNING
    assert 3 * chunk <= done < n
    result = await jobs.run("cancelled", issue, fhir_member="fhir", pool=True)
    assert (result.state, result.issued + result.failed) == (JobState.DONE, n)
    assert [process.poll() for process in workers] == [0, 0]
    keys = Counter(c.patient_key for c in await jobs.credentials("cancelled", limit=n))
    assert max(keys.values()) == 1
    assert len(keys) == result.issued


def test_an_outcome_raises_the_same_error_again() -> None:
    resource = dict(sample_resources()["AllergyIntolerance"])
    resource["reaction"] = [{"severity": 7, "manifestation": []}]
    with pytest.raises(InvalidInputError) as direct:
        validate_resource(resource)
    outcome = Outcome.of(validate_resource, resource)
    assert outcome is not None
    assert outcome.error is not None
    with pytest.raises(InvalidInputError) as again:
        outcome.result()
    assert type(again.value) is InvalidInputError
    assert (again.value.code, again.value.message, again.value.details) == (
        direct.value.code,
        direct.value.message,
        direct.value.details,
    )
    assert again.value.code is ErrorCode.INVALID_FHIR

    def storage() -> None:
        raise StorageError("a subclass of HealthMyDataError, not InvalidInputError")

    def bug() -> None:
        raise KeyError("a bug")

    # Anything else is not captured: the main process meets it by computing it again.
    assert Outcome.of(storage) is None
    assert Outcome.of(bug) is None
    assert Outcome.of(len, [1, 2]) == Outcome(value=2)


def test_precomputed_outcomes_match_the_same_object_only() -> None:
    resource = sample_resources()["AllergyIntolerance"]
    equal = dict(resource)
    wrong = InvalidInputError("precomputed", code=ErrorCode.INVALID_FHIR, details={"path": "x"})
    claims = claims_for_resource(resource)
    assert claims.record_key == f"AllergyIntolerance/{resource['id']}#{record_digest(resource)}"
    entry = Precomputed(
        resource, Outcome(error=(wrong.message, str(wrong.code), wrong.details)), None
    )
    assert precomputed(resource) is None
    with using_precomputed([entry]):
        assert precomputed(resource) is entry
        assert precomputed(equal) is None
        with pytest.raises(InvalidInputError) as caught:
            validate_resource(resource)
        assert caught.value.details == {"path": "x"}
        assert validate_resource(equal) is equal  # Checked here, and valid.
        # With an expected type, the check runs here.
        assert validate_resource(resource, expected_type="AllergyIntolerance") is resource
    assert precomputed(resource) is None
    assert validate_resource(resource) is resource
    mapped = map_record(resource)
    assert mapped.digest == record_digest(resource)
    marked = replace(mapped, name="from the worker", digest="0" * 32)
    with using_precomputed([Precomputed(resource, Outcome(), Outcome(value=marked))]):
        assert validate_resource(resource) is resource
        from_worker = claims_for_resource(resource)
        assert from_worker.record_key.endswith("#" + "0" * 32)
        assert from_worker.name == "from the worker"
        assert replace(from_worker, name=claims.name, record_key=claims.record_key) == claims
        assert claims_for_resource(equal) == claims  # Mapped here.
        index = BundleIndex.of([resource])
        assert claims_for_resource(resource, index) == claims  # With an index: mapped here.
    unsupported = Outcome.of(map_record, sample_resources()["Patient"])
    assert unsupported is not None
    assert unsupported.error is not None
    with using_precomputed([Precomputed(resource, Outcome(), unsupported)]):
        with pytest.raises(InvalidInputError) as caught:
            claims_for_resource(resource)
        assert caught.value.details["reason"] == "unsupportedResourceType"


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, exited but not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
async def test_killing_the_batch_process_ends_its_worker_and_a_rerun_finishes(
    store_uri: str, raw_key: str, clock: TickingClock, tmp_path: Path, how: signal.Signals
) -> None:
    total, chunk = 40 * KINDS, KINDS
    async with await open_store(store_uri, raw_key=raw_key) as store:
        await BatchJobs(store, clock=clock).create(
            "crash", fhir_patients(total), "vc+di", chunk_size=chunk
        )
    pid_file = tmp_path / "worker.pid"
    context = multiprocessing.get_context("spawn")
    child = context.Process(
        target=run_fhir_job_in_process,
        args=(store_uri, raw_key, "crash", 0.01, str(pid_file)),
    )
    child.start()
    async with await open_store(store_uri, raw_key=raw_key, create=False) as store:
        jobs = BatchJobs(store, clock=clock)
        for _ in range(1_200):
            _, done, _ = await jobs.status("crash")
            if done >= 5 * chunk and pid_file.exists():
                break
            await asyncio.sleep(0.05)
        worker = int(pid_file.read_text())
        assert _alive(worker)
        assert child.pid is not None
        os.kill(child.pid, how)  # SIGTERM's default action: no cleanup either.
        await asyncio.to_thread(child.join, 30)
        assert child.exitcode == -how
        for _ in range(200):
            if not _alive(worker):
                break
            await asyncio.sleep(0.05)
        assert not _alive(worker), "the worker outlived the batch process"
        state, done_at_kill, _ = await jobs.status("crash")
        assert state is JobState.RUNNING
        assert 5 * chunk <= done_at_kill < total, "the child finished before it was killed"
        result = await jobs.run("crash", make_fhir_issuer(None), fhir_member="fhir", pool=True)
        assert (result.state, result.issued + result.failed) == (JobState.DONE, total)
        issued = await jobs.credentials("crash", limit=10 * total)
        keys = Counter(c.patient_key for c in issued)
        assert max(keys.values()) == 1
        failed = {key for key, _ in await jobs.failures("crash")}
        assert set(keys) | failed == {key for key, _ in fhir_patients(total)}
        assert not set(keys) & failed
