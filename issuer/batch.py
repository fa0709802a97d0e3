"""Batch issuance jobs: issue a credential to each of many patients, crash-safe and idempotent.

Why a job and not a loop: a hospital issuing 100,000 credentials overnight must be able to lose
the process (a deploy, an OOM kill, ``kill -9``) and rerun it, and end with **exactly one**
credential per patient: none missing, none issued twice. And it must do so in about a minute,
so that storage may cost only a small share of the time signing takes.

Records (category / name), all in the hospital's askar store, encrypted at rest:

* ``batch_job / <job_id>``: state, format, totals, the input digest and, per chunk, how many
  credentials it issued (``null`` while not done).
* ``batch_items / <job_id>:<chunk>``: up to ``chunk_size`` (500) ``[patient_key, payload]``
  items, written by :meth:`BatchJobs.create` in one transaction with the job.
* ``batch_index / <job_id>:<shard>``: ``{patient_key: chunk}`` for one hash shard of the
  patients (about 5,000 per shard), so :meth:`BatchJobs.credential_for` reads two records.
* ``issued-credential / <job_id>:<chunk>``: the chunk's credentials
  ``[patient_key, credential_id, kind, value]`` (and a fifth member when ``issue_one`` gave
  one: what the issuer must remember of the credential that the credential does not show, see
  :data:`IssueOne`) and its failed items ``[patient_key, code, message]`` (records stored
  before messages were kept have ``[patient_key, code]``). Tagged ``job`` and
  :data:`ID_TAG`, the latter with every credential id of the chunk, so that
  :func:`find_issued` finds a credential by its id (to revoke it) with one query. Chunk records
  stored before that tag was written are tagged once by :meth:`BatchJobs.tag_credential_ids`
  (:meth:`issuer.hospital.Hospital.load` runs it).

Running a chunk (:meth:`BatchJobs.run`): read its items, call ``issue_one`` for each, then ONE
transaction locks the job record (``for_update``), inserts the chunk's ``issued-credential``
record (its name is the idempotency key ``<job_id>:<chunk>``), **removes** the chunk's items
(the health data is no longer needed once issued) and marks the chunk done in the job. A crash
before that commit leaves the chunk as it was, and a rerun issues it again; a crash after it
leaves it done, and a rerun skips it. Two runners of one job (which should not happen) cannot
both store a chunk: the second commit finds it done, or its insert is a duplicate, and its
credentials are dropped before anyone saw them.

Why one record per chunk rather than one per patient: askar has no batch insert, and each
record costs 0.3 to 0.6 ms of FFI and encryption (``reference/packages.md`` section 3): 100,000
per-patient records would take 30 to 60 s, the whole budget. Per chunk of 500 it is about six
record operations, some 200 x 6 = 1,200 for 100,000 patients, well under a second. The
:data:`ID_TAG` tag, which lets a batch credential be found by id (to revoke it), adds one
database row per credential: about 10 to 15 ms of CPU per chunk on SQLite (20 to 30 us per
credential, about 3.5 % of what signing costs). The price: the per-patient lookup goes through
the shard index (two fetches), and a chunk is the unit of retry, so a crash loses at most one
chunk's signing work.

Status list indexes: ``issue_one`` (wired by the caller to signing and to
:class:`agent.status.StatusListAllocator`) allocates them. Indexes allocated for a chunk that
crashed before its commit are simply lost: never reused, never published as set. That is
harmless: herd privacy depends on the list's size, not on every index being used, and unused
indexes look like valid credentials. To avoid one allocator transaction per credential (about
2 ms each, 200 s for 100,000), pass ``before_chunk``, which is awaited with the chunk's size
before its items are issued: allocate the chunk's indexes there with one
``allocate_many(purpose, n)`` (0.2 s for 100,000) and let ``issue_one`` take from them.

Failures: an ``issue_one`` raising :class:`agent.errors.HealthMyDataError` (invalid FHIR, say)
fails that item only; the chunk records the patient key, the error code and the message (cut to
:data:`FAILURE_MESSAGE_CHARS`), so that the operator learns which patient failed and why without
rerunning. A typed error's message names paths, codes and types, never a value of the input
(:mod:`issuer.fhir` reports pydantic errors by type for that reason). Any other exception stops
the run, marks the job ``failed`` and is re-raised; running the job again resumes at the chunk
that failed.

Job states (:class:`JobState`, guarded by :data:`TRANSITIONS`): ``pending -> running ->
done``; ``running -> failed -> running``; ``running -> running`` resumes after a crash;
``pending -> failed`` when a run fails before it starts (:meth:`BatchJobs.mark_failed`).
Running a ``done`` job issues nothing.

FHIR work one chunk ahead (``run(..., fhir_member=...)``): validating a FHIR resource
(fhir.resources, about a third of a credential's CPU time) and mapping it for its claims
(:func:`issuer.templates.map_record`, with the ``record_key`` digest) are pure functions of the
resource, so a worker process computes them for chunk k+1 while this process signs chunk k
(:func:`issuer.fhir.using_precomputed` hands the outcomes to the unchanged ``issue_one``). It
changes neither the results nor the crash-safety argument: the worker only computes, nothing
is stored before the chunk's commit, and a chunk whose outcomes are missing (the worker still
starting, or broken) is computed here as before. Memory stays bounded: one chunk is in the
worker at a time. The worker is a plain child process (:class:`_Ahead` says why not
:mod:`multiprocessing`); it ignores SIGINT (the parent stops it), ends when its parent dies
(``kill -9``: its stdin reaches end of file), and is stopped when the run ends, however it
ends. A batch of fewer than :data:`POOL_MIN_CHUNKS` chunks stays in this process: the worker
takes about a second to start, the time two or three chunks take here.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import pickle
import signal
import struct
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from typing import IO, Any, Final, TypeAlias

from agent.clock import Clock, format_datetime
from agent.errors import (
    ErrorCode,
    HealthMyDataError,
    InvalidInputError,
    ProtocolStateError,
    StorageError,
)
from agent.storage import Session, Store
from agent.types import JSONObject
from issuer.audit import AuditEvent, AuditLog
from issuer.fhir import Outcome, Precomputed, using_precomputed, validate_resource
from issuer.templates import map_record

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "FAILURE_MESSAGE_CHARS",
    "ID_TAG",
    "INDEX_CATEGORY",
    "ISSUED_CATEGORY",
    "ITEMS_CATEGORY",
    "JOB_CATEGORY",
    "POOL_MIN_CHUNKS",
    "TRANSITIONS",
    "BatchFailure",
    "BatchJob",
    "BatchJobs",
    "IssueOne",
    "IssuedCredential",
    "JobResult",
    "JobState",
    "find_issued",
]

JOB_CATEGORY: Final = "batch_job"
ITEMS_CATEGORY: Final = "batch_items"
INDEX_CATEGORY: Final = "batch_index"
ISSUED_CATEGORY: Final = "issued-credential"
#: The tag of a chunk's ``issued-credential`` record that holds every credential id of the
#: chunk (a list-valued tag: one row per id), by which :func:`find_issued` finds it.
ID_TAG: Final = "credential_id"
#: A failed item's message is kept up to this length (a path and what is wrong with it).
FAILURE_MESSAGE_CHARS: Final = 300
#: Items per chunk: per-chunk storage costs about 6 record operations; a crash loses at most
#: one chunk of signing work.
DEFAULT_CHUNK_SIZE: Final = 500
#: Patients per shard of the per-job patient index.
_SHARD_SIZE: Final = 5000
_MAX_KEY_LENGTH: Final = 200
_MAX_CHUNK_SIZE: Final = 10_000
#: The job record lists every chunk and is rewritten once per chunk, so its size must stay small.
_MAX_CHUNKS: Final = 10_000
#: Remaining chunks from which ``run(fhir_member=...)`` starts its worker process: it needs
#: about a second to start (spawn, imports), during which this process issues two chunks.
POOL_MIN_CHUNKS: Final = 4

log = logging.getLogger(__name__)

#: A credential as ``issue_one`` returns it: a JSON object (a W3C credential), a string (an
#: SD-JWT) or bytes.
Credential: TypeAlias = JSONObject | str | bytes
#: ``issue_one(patient_key, payload) -> (credential_id, credential)``, or ``(credential_id,
#: credential, extra)`` where ``extra`` is a JSON object stored beside the credential and read
#: back as :attr:`IssuedCredential.extra` (identifiers only: what the issuer must remember of
#: the credential that the credential itself does not show, e.g. an SD-JWT VC's suspension
#: entry).
IssueOne: TypeAlias = Callable[
    [str, JSONObject], Awaitable[tuple[str, Credential] | tuple[str, Credential, JSONObject]]
]
Progress: TypeAlias = Callable[[int, int], object]
BeforeChunk: TypeAlias = Callable[[int], Awaitable[object]]


class JobState(StrEnum):
    """The life of a batch job."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


#: The states each state may move to; :func:`_advance` refuses anything else.
TRANSITIONS: Final[dict[JobState, frozenset[JobState]]] = {
    JobState.PENDING: frozenset({JobState.RUNNING, JobState.FAILED}),
    JobState.RUNNING: frozenset({JobState.RUNNING, JobState.DONE, JobState.FAILED}),
    JobState.FAILED: frozenset({JobState.RUNNING}),
    JobState.DONE: frozenset(),
}


@dataclass(slots=True)
class BatchJob:
    """A batch job as stored.

    :param chunk_issued: per chunk, how many credentials it issued; ``None`` while not done.
    :param digest: SHA-256 over the job's items, so that creating the same job again is
        recognised and creating another under the same id is refused.
    """

    job_id: str
    state: JobState
    format: str
    total: int
    chunk_size: int
    chunk_issued: list[int | None]
    issued: int
    failed: int
    shards: int
    digest: str
    created: str
    updated: str
    error: str | None = None

    @property
    def done(self) -> int:
        """How many items are processed (issued or failed)."""
        return self.issued + self.failed

    def to_json(self) -> JSONObject:
        return {
            "state": str(self.state),
            "format": self.format,
            "total": self.total,
            "chunkSize": self.chunk_size,
            "chunkIssued": list(self.chunk_issued),
            "issued": self.issued,
            "failed": self.failed,
            "shards": self.shards,
            "digest": self.digest,
            "created": self.created,
            "updated": self.updated,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, job_id: str, value: Any) -> BatchJob:
        return cls(
            job_id=job_id,
            state=JobState(value["state"]),
            format=str(value["format"]),
            total=int(value["total"]),
            chunk_size=int(value["chunkSize"]),
            chunk_issued=list(value["chunkIssued"]),
            issued=int(value["issued"]),
            failed=int(value["failed"]),
            shards=int(value["shards"]),
            digest=str(value["digest"]),
            created=str(value["created"]),
            updated=str(value["updated"]),
            error=value.get("error"),
        )


@dataclass(frozen=True, slots=True)
class IssuedCredential:
    """One patient's credential from a job.

    :param extra: what ``issue_one`` gave beside the credential (:data:`IssueOne`), if anything.
    """

    patient_key: str
    credential_id: str
    credential: JSONObject | str | bytes
    extra: JSONObject | None = None


@dataclass(frozen=True, slots=True)
class JobResult:
    """What :meth:`BatchJobs.run` did.

    :param issued: credentials the job holds in total; ``issued_now`` of them by this run.
    :param failed: items that failed with a typed error (see :meth:`BatchJobs.failures`).
    :param skipped_chunks: chunks already done before this run (after a crash, or a rerun).
    """

    job_id: str
    state: JobState
    total: int
    issued: int
    failed: int
    issued_now: int
    skipped_chunks: int


@dataclass(frozen=True)
class BatchFailure:
    """A patient whose credential was not issued: their key, the error's code and message."""

    patient_key: str
    code: str
    message: str


class BatchJobs:
    """Creates, runs and reads batch issuance jobs in an askar store.

    :param store: an open store; not closed here.
    :param clock: the time written into job records.
    :param audit: when given, ``batch.started`` and ``batch.finished`` are appended to it (one
        entry each per job, not one per credential).
    :param profile: the store profile, when not the store's default.
    """

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock,
        audit: AuditLog | None = None,
        profile: str | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._audit = audit
        self._profile = profile

    def __repr__(self) -> str:
        return f"BatchJobs(profile={self._profile!r})"

    # --- creating ---------------------------------------------------------------------------

    async def create(
        self,
        job_id: str | None,
        patients: Iterable[tuple[str, Mapping[str, Any]]],
        format: str,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> BatchJob:
        """Store a new ``pending`` job for ``patients`` in one transaction, and return it.

        Idempotent: creating a job again under the same ``job_id`` with the same patients and
        payloads returns the stored job (whatever its state) and stores nothing; so a caller
        that crashed right after ``create`` can simply call it again.

        :param job_id: the job's id (letters, digits, ``-_.``), or ``None`` for a random one.
        :param patients: ``(patient_key, payload)`` pairs; keys unique, at most 200
            characters; payloads JSON objects (e.g. a FHIR resource), read once.
        :param format: the credential format, e.g. ``vc+di`` or ``dc+sd-jwt``, for the record.
        :raises InvalidInputError: ``batchItemInvalid`` for a malformed or duplicate item,
            a bad ``job_id`` or ``chunk_size``.
        :raises StorageError: ``batchJobConflict`` when ``job_id`` exists with other items.
        """
        job_id = job_id if job_id is not None else uuid.uuid4().hex
        _check_job_id(job_id)
        if isinstance(chunk_size, bool) or not 1 <= chunk_size <= _MAX_CHUNK_SIZE:
            raise InvalidInputError(f"chunk_size must be 1 to {_MAX_CHUNK_SIZE}, not {chunk_size}")
        async with self._store.session(self._profile) as session:
            existing = await session.fetch(JOB_CATEGORY, job_id)
        if existing is not None:
            job = BatchJob.from_json(job_id, existing.json())
            digest, _ = _digest(patients)
            return self._same_job(job, digest, format)
        try:
            return await self._create_once(job_id, patients, format, chunk_size)
        except StorageError as exc:
            if exc.code is not ErrorCode.STORE_DUPLICATE:
                raise
        # A concurrent create of the same id committed first; our transaction stored nothing.
        job = await self._load(job_id)
        raise StorageError(
            f"batch job {job_id} was created concurrently; check it with status()",
            code=ErrorCode.BATCH_JOB_CONFLICT,
            details={"jobId": job_id, "state": str(job.state)},
        )

    async def _create_once(
        self,
        job_id: str,
        patients: Iterable[tuple[str, Mapping[str, Any]]],
        format: str,
        chunk_size: int,
    ) -> BatchJob:
        hasher = hashlib.sha256()
        chunk_of: dict[str, int] = {}
        chunk: list[list[Any]] = []
        chunks = 0
        async with self._store.transaction(self._profile) as txn:
            for item in patients:
                patient_key, payload = _check_item(item, chunk_of)
                chunk_of[patient_key] = chunks
                hasher.update(_item_bytes(patient_key, payload))
                chunk.append([patient_key, payload])
                if len(chunk) == chunk_size:
                    if chunks == _MAX_CHUNKS:
                        raise InvalidInputError(
                            f"a job holds at most {_MAX_CHUNKS} chunks; raise chunk_size or "
                            "split the patients into several jobs",
                            code=ErrorCode.BATCH_ITEM_INVALID,
                        )
                    await _insert_items(txn, job_id, chunks, chunk)
                    chunks += 1
                    chunk = []
            if chunk:
                await _insert_items(txn, job_id, chunks, chunk)
                chunks += 1
            total = len(chunk_of)
            shards = max(1, -(-total // _SHARD_SIZE))
            index: list[dict[str, int]] = [{} for _ in range(shards)]
            for patient_key, number in chunk_of.items():
                index[_shard(patient_key, shards)][patient_key] = number
            for shard, mapping in enumerate(index):
                await txn.insert(INDEX_CATEGORY, _chunk_name(job_id, shard), mapping)
            now = format_datetime(self._clock(), "clock()")
            job = BatchJob(
                job_id=job_id,
                state=JobState.PENDING,
                format=format,
                total=total,
                chunk_size=chunk_size,
                chunk_issued=[None] * chunks,
                issued=0,
                failed=0,
                shards=shards,
                digest=hasher.hexdigest(),
                created=now,
                updated=now,
            )
            await txn.insert(JOB_CATEGORY, job_id, job.to_json())
            await txn.commit()
        return job

    def _same_job(self, job: BatchJob, digest: str, format: str) -> BatchJob:
        """``job``, when it is the job asked for again: the same patients, payloads and format
        (a job resumed in another format would hold both)."""
        if job.digest != digest:
            raise StorageError(
                f"batch job {job.job_id} exists with other patients or payloads; choose "
                "another job id",
                code=ErrorCode.BATCH_JOB_CONFLICT,
                details={"jobId": job.job_id},
            )
        if job.format != format:
            raise StorageError(
                f"batch job {job.job_id} was created for format {job.format[:20]!r}; run it "
                "again with that format, or choose another job id",
                code=ErrorCode.BATCH_JOB_CONFLICT,
                details={"jobId": job.job_id, "format": job.format[:20]},
            )
        return job

    # --- running ----------------------------------------------------------------------------

    async def run(
        self,
        job_id: str,
        issue_one: IssueOne,
        *,
        progress: Progress | None = None,
        before_chunk: BeforeChunk | None = None,
        actor: str | None = None,
        fhir_member: str | None = None,
        pool: bool | None = None,
    ) -> JobResult:
        """Issue the job's remaining chunks; see the module docstring for the guarantees.

        :param issue_one: signs one patient's credential; returns ``(credential_id,
            credential)`` or ``(credential_id, credential, extra)`` (:data:`IssueOne`). A
            :class:`agent.errors.HealthMyDataError` fails that item only.
        :param progress: called with ``(done, total)`` after each chunk commits.
        :param before_chunk: awaited with the number of items before each chunk is issued
            (allocate the chunk's status indexes there).
        :param actor: who runs the job, for the audit log.
        :param fhir_member: the payload member holding the FHIR resource that ``issue_one``
            passes, unchanged, to :func:`issuer.fhir.validate_resource` and then to
            :func:`issuer.templates.claims_for_resource`; when given, the validation and the
            mapping are computed one chunk ahead in a worker process.
        :param pool: with ``fhir_member``: ``None`` starts the worker when at least
            :data:`POOL_MIN_CHUNKS` chunks remain; ``True`` always, ``False`` never.
        :raises StorageError: ``batchJobNotFound`` for an unknown job; the store fails.
        :raises ProtocolStateError: the job cannot be run from its state (never, as stored
            states go; a guard against corrupted records).
        :raises Exception: whatever ``issue_one`` raised that is not a
            ``HealthMyDataError``; the job is then ``failed``.
        """
        try:
            return await self._run(
                job_id, issue_one, progress, before_chunk, actor, fhir_member, pool
            )
        except Exception as exc:
            # Whatever stopped the run (an item's unexpected error, the store failing as it
            # starts or ends, an audit append): the job says so, for every replica, until it is
            # run again. Cancellation and KeyboardInterrupt are BaseExceptions: they leave the
            # job running, to be resumed, as a crash would.
            with contextlib.suppress(StorageError):
                await self.mark_failed(job_id, type(exc).__name__)
            raise

    async def mark_failed(self, job_id: str, error: str) -> BatchJob:
        """Record that a run of ``job_id`` failed with ``error`` (an exception's type name,
        never its message); a job ``done`` or ``failed`` already is left as it is.

        :raises StorageError: ``batchJobNotFound``; the store fails.
        """
        job = await self._load(job_id)
        if job.state in (JobState.DONE, JobState.FAILED):
            return job
        return await self._set_state(job_id, JobState.FAILED, error=error)

    async def _run(
        self,
        job_id: str,
        issue_one: IssueOne,
        progress: Progress | None,
        before_chunk: BeforeChunk | None,
        actor: str | None,
        fhir_member: str | None,
        pool: bool | None,
    ) -> JobResult:
        job = await self._load(job_id)
        if job.state is JobState.DONE:
            return _result(job, 0, len(job.chunk_issued))
        first_start = job.state is JobState.PENDING
        job = await self._set_state(job_id, JobState.RUNNING)
        if first_start and self._audit is not None:
            await self._audit.append(
                AuditEvent.BATCH_STARTED,
                batch_id=job_id,
                total=job.total,
                credential_format=job.format,
                actor=actor,
            )
        issued_now = stored_chunks = 0
        skipped = sum(1 for count in job.chunk_issued if count is not None)
        remaining = [number for number, count in enumerate(job.chunk_issued) if count is None]
        use_pool = pool if pool is not None else len(remaining) >= POOL_MIN_CHUNKS
        ahead = _Ahead.start(fhir_member) if fhir_member is not None and use_pool else None
        try:
            items: list[Any] | None = None
            for position, number in enumerate(remaining):
                if position == 0 or ahead is None:
                    items = await self._items(job_id, number)
                precomputed = await ahead.take(number) if ahead is not None else []
                following = remaining[position + 1] if position + 1 < len(remaining) else None
                next_items: list[Any] | None = None
                if ahead is not None and following is not None:
                    # Read ahead only: nothing is stored before the chunk's commit.
                    next_items = await self._items(job_id, following)
                    if next_items is not None:
                        ahead.submit(following, next_items)
                stored = None
                if items is not None:  # None: done by another runner since we loaded it.
                    stored = await self._run_chunk(
                        job_id, number, items, issue_one, before_chunk, precomputed
                    )
                items = next_items
                if stored is None:
                    skipped += 1  # Another runner stored this chunk first.
                    continue
                stored_chunks += 1
                issued_now += stored.issued_in_chunk
                job = stored.job
                if progress is not None:
                    progress(job.done, job.total)
        finally:
            if ahead is not None:
                ahead.close()
        job = await self._load(job_id)
        if job.state is not JobState.DONE:
            job = await self._set_state(job_id, JobState.DONE)
            stored_chunks += 1
        if self._audit is not None and stored_chunks:
            await self._audit.append(
                AuditEvent.BATCH_FINISHED,
                batch_id=job_id,
                total=job.total,
                count=job.issued,
                failed=job.failed,
                actor=actor,
            )
        return _result(job, issued_now, skipped)

    async def _items(self, job_id: str, number: int) -> list[Any] | None:
        """The chunk's ``[patient_key, payload]`` items; ``None`` once the chunk is done."""
        async with self._store.session(self._profile) as session:
            record = await session.fetch(ITEMS_CATEGORY, _chunk_name(job_id, number))
        if record is None:
            return None
        items: list[Any] = _object(record.json())["items"]
        return items

    async def _run_chunk(
        self,
        job_id: str,
        number: int,
        items: list[Any],
        issue_one: IssueOne,
        before_chunk: BeforeChunk | None,
        precomputed: Sequence[Precomputed],
    ) -> _Stored | None:
        name = _chunk_name(job_id, number)
        if before_chunk is not None:
            await before_chunk(len(items))
        credentials: list[list[Any]] = []
        failures: list[list[str]] = []
        with using_precomputed(precomputed):
            for patient_key, payload in items:
                try:
                    credential_id, credential, *extra = await issue_one(patient_key, payload)
                except HealthMyDataError as exc:
                    failures.append(
                        [patient_key, str(exc.code), exc.message[:FAILURE_MESSAGE_CHARS]]
                    )
                    continue
                credentials.append(
                    [patient_key, str(credential_id), *_encode(credential), *extra[:1]]
                )
        async with self._store.transaction(self._profile) as txn:
            current = await txn.get(JOB_CATEGORY, job_id, for_update=True)
            job = BatchJob.from_json(job_id, current.json())
            if job.chunk_issued[number] is not None:
                return None  # Another runner committed this chunk: drop ours, unseen.
            await txn.insert(
                ISSUED_CATEGORY,
                name,
                {"credentials": credentials, "failed": failures},
                tags=_chunk_tags(job_id, credentials),
            )
            await txn.remove(ITEMS_CATEGORY, name)
            job.chunk_issued[number] = len(credentials)
            job.issued += len(credentials)
            job.failed += len(failures)
            if all(count is not None for count in job.chunk_issued):
                _advance(job, JobState.DONE)
            job.updated = format_datetime(self._clock(), "clock()")
            await txn.replace(JOB_CATEGORY, job_id, job.to_json())
            await txn.commit()
        return _Stored(job, len(credentials))

    async def _set_state(
        self, job_id: str, state: JobState, *, error: str | None = None
    ) -> BatchJob:
        async with self._store.transaction(self._profile) as txn:
            record = await txn.get(JOB_CATEGORY, job_id, for_update=True)
            job = BatchJob.from_json(job_id, record.json())
            if job.state is JobState.DONE and state is JobState.FAILED:
                return job  # A chunk failed after another runner finished: nothing to mark.
            _advance(job, state)
            job.error = error
            job.updated = format_datetime(self._clock(), "clock()")
            await txn.replace(JOB_CATEGORY, job_id, job.to_json())
            await txn.commit()
        return job

    # --- reading ----------------------------------------------------------------------------

    async def job(self, job_id: str) -> BatchJob:
        """The stored job.

        :raises StorageError: ``batchJobNotFound`` for an unknown job.
        """
        return await self._load(job_id)

    async def status(self, job_id: str) -> tuple[JobState, int, int]:
        """``(state, done, total)``: ``done`` counts issued and failed items.

        :raises StorageError: ``batchJobNotFound`` for an unknown job.
        """
        job = await self._load(job_id)
        return job.state, job.done, job.total

    async def credentials(
        self, job_id: str, limit: int = 100, offset: int = 0
    ) -> list[IssuedCredential]:
        """Up to ``limit`` of the job's credentials from ``offset``, in input order of chunks.

        Reads only the chunk records that hold the range.

        :raises StorageError: ``batchJobNotFound`` for an unknown job.
        :raises InvalidInputError: a negative ``offset`` or a ``limit`` below 1.
        """
        if offset < 0 or limit < 1:
            raise InvalidInputError("offset must be >= 0 and limit >= 1")
        job = await self._load(job_id)
        found: list[IssuedCredential] = []
        position = 0
        async with self._store.session(self._profile) as session:
            for number, count in enumerate(job.chunk_issued):
                if not count:
                    continue
                if position + count <= offset:
                    position += count
                    continue
                record = await session.get(ISSUED_CATEGORY, _chunk_name(job_id, number))
                rows = _object(record.json())["credentials"]
                start = max(0, offset - position)
                for row in rows[start:]:
                    found.append(_decode(row))
                    if len(found) == limit:
                        return found
                position += count
        return found

    async def credential_for(self, job_id: str, patient_key: str) -> IssuedCredential | None:
        """The credential the job issued to ``patient_key``; ``None`` when the patient is not
        in the job, or their chunk is not done, or their item failed. Two record reads.

        :raises StorageError: ``batchJobNotFound`` for an unknown job.
        """
        job = await self._load(job_id)
        async with self._store.session(self._profile) as session:
            shard = await session.get(
                INDEX_CATEGORY, _chunk_name(job_id, _shard(patient_key, job.shards))
            )
            number = _object(shard.json()).get(patient_key)
            if not isinstance(number, int) or job.chunk_issued[number] is None:
                return None
            record = await session.get(ISSUED_CATEGORY, _chunk_name(job_id, number))
        for row in _object(record.json())["credentials"]:
            if row[0] == patient_key:
                return _decode(row)
        return None

    async def failures(self, job_id: str) -> list[tuple[str, str]]:
        """``(patient_key, error code)`` of every item that failed, in chunk order.

        :raises StorageError: ``batchJobNotFound`` for an unknown job.
        """
        return [(item.patient_key, item.code) for item in await self.failure_details(job_id)]

    async def failure_details(
        self, job_id: str, *, offset: int = 0, limit: int | None = None
    ) -> list[BatchFailure]:
        """The items that failed, in chunk order, with their error's code and message: all of
        them, or ``limit`` from ``offset``.

        Only the chunk records that hold a failure are read (a chunk that issued as many
        credentials as it has items holds none), and reading stops once the page is full: a
        chunk record holds up to 500 credentials, so a page of a large job must not read them
        all.

        :raises StorageError: ``batchJobNotFound`` for an unknown job.
        """
        job = await self._load(job_id)
        found: list[BatchFailure] = []
        if not job.failed:
            return found
        wanted = None if limit is None else offset + limit
        async with self._store.session(self._profile) as session:
            for number, count in enumerate(job.chunk_issued):
                items = min(job.chunk_size, job.total - number * job.chunk_size)
                if count is None or count >= items:
                    continue
                record = await session.get(ISSUED_CATEGORY, _chunk_name(job_id, number))
                for row in _object(record.json())["failed"]:
                    message = str(row[2]) if len(row) > 2 else ""
                    found.append(BatchFailure(str(row[0]), str(row[1]), message))
                if wanted is not None and len(found) >= wanted:
                    break
        return found[offset:wanted]

    # --- upgrading --------------------------------------------------------------------------

    async def tag_credential_ids(self) -> int:
        """Tag with :data:`ID_TAG` every chunk record stored before chunks were so tagged, so
        that :func:`find_issued` finds their credentials; returns how many were tagged.

        One chunk record at a time, one transaction each (a chunk record holds up to 500
        credentials: the whole store is never in memory). Idempotent: a tagged record, or one
        without credentials, is left as it is; so a run that was interrupted, or that another
        process runs at the same moment, is simply run again.

        :raises StorageError: the store fails, or a chunk record is not one this module wrote.
        """
        async with self._store.session(self._profile) as session:
            jobs = [
                BatchJob.from_json(record.name, record.json())
                for record in await session.fetch_all(JOB_CATEGORY)
            ]
        tagged = 0
        for job in jobs:
            for number, count in enumerate(job.chunk_issued):
                if count:  # None: not stored yet (new chunks are tagged); 0: nothing to find
                    tagged += await self._tag_chunk(job.job_id, number)
        return tagged

    async def _tag_chunk(self, job_id: str, number: int) -> int:
        name = _chunk_name(job_id, number)
        async with self._store.transaction(self._profile) as txn:
            record = await txn.fetch(ISSUED_CATEGORY, name, for_update=True)
            if record is None or ID_TAG in record.tags:
                return 0
            value = _object(record.json())
            credentials = value.get("credentials")
            if not isinstance(credentials, list) or not all(
                isinstance(row, list) and len(row) >= 4 for row in credentials
            ):
                raise StorageError(
                    f"the batch record {ISSUED_CATEGORY}/{name} holds no credential rows; the "
                    "store was altered",
                    details={"category": ISSUED_CATEGORY, "name": name},
                )
            tags = {**record.tags, **_chunk_tags(job_id, credentials)}
            if ID_TAG not in tags:
                return 0
            await txn.replace(ISSUED_CATEGORY, name, value, tags=tags)
            await txn.commit()
        return 1

    async def _load(self, job_id: str) -> BatchJob:
        async with self._store.session(self._profile) as session:
            record = await session.fetch(JOB_CATEGORY, job_id)
        if record is None:
            raise StorageError(
                f"there is no batch job {job_id[:80]!r}; create it first",
                code=ErrorCode.BATCH_JOB_NOT_FOUND,
                details={"jobId": job_id[:80]},
            )
        return BatchJob.from_json(job_id, record.json())


class _Ahead:
    """One worker process computing a chunk's FHIR outcomes while the previous one is signed.

    The worker is ``python -c`` running :func:`_worker_main`, fed over its stdin and answering
    on its stdout (length-prefixed pickles), not a :mod:`multiprocessing` pool: ``spawn`` and
    ``forkserver`` import the parent's ``__main__`` again in the worker, so a hospital's script
    without an ``if __name__ == "__main__"`` guard would run its batch a second time there;
    ``fork`` copies askar's threads and locks. A plain child also ends by itself when its
    parent dies (``kill -9``): its stdin reaches end of file. One thread of this process does
    the pipe I/O (blocking, outside the GIL), so the worker is fed and read while this
    process's event loop is busy signing.

    At most one chunk is in the worker (:meth:`take` collects it before the next
    :meth:`submit`). Chunks are only submitted once the worker has started (its imports take
    about a second): until then, and for good once the worker fails (killed, say; logged
    once), :meth:`take` returns nothing and the chunk is computed in this process, as without a
    worker.
    """

    def __init__(self, member: str) -> None:
        self._member = member
        # This interpreter and a constant program: nothing from input reaches the command.
        self._process: subprocess.Popen[bytes] | None = subprocess.Popen(  # noqa: S603
            [sys.executable, "-c", _WORKER_CODE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-fhir-worker")
        self._started: Future[None] = self._io.submit(self._start, self._process, list(sys.path))
        self._pending: tuple[int, list[dict[str, Any]], Future[list[_Outcomes]]] | None = None

    @classmethod
    def start(cls, member: str) -> _Ahead | None:
        """A new worker; ``None`` (logged) when no process can be started here."""
        try:
            return cls(member)
        except OSError as exc:
            log.warning("no batch FHIR worker (%s); validating in process", type(exc).__name__)
            return None

    def submit(self, number: int, items: Sequence[Any]) -> None:
        """Send chunk ``number``'s resources to the worker, if it has started."""
        if self._process is None or not self._started.done():
            return
        if self._started.exception() is not None:
            self._fail(self._started.exception())
            return
        resources = [
            payload[self._member]
            for _, payload in items
            if isinstance(payload, dict) and isinstance(payload.get(self._member), dict)
        ]
        future = self._io.submit(self._exchange, self._process, resources)
        self._pending = (number, resources, future)

    async def take(self, number: int) -> list[Precomputed]:
        """The outcomes of chunk ``number``, waiting for the worker; ``[]`` when it was not
        submitted or the worker failed."""
        pending, self._pending = self._pending, None
        if pending is None or pending[0] != number:
            return []
        _, resources, future = pending
        try:
            outcomes = await asyncio.wrap_future(future)
            if len(outcomes) != len(resources):
                raise ValueError("the worker answered for another number of resources")
        except Exception as exc:
            self._fail(exc)
            return []
        return [
            Precomputed(resource, validation, claims)
            for resource, (validation, claims) in zip(resources, outcomes, strict=True)
        ]

    def close(self) -> None:
        """Stop the worker: end of file on its stdin ends it once its chunk, if any, is read
        back; killed if it has not ended within a few seconds."""
        process, self._process = self._process, None
        self._pending = None
        if process is None:
            return
        assert process.stdin is not None
        if not self._started.done():
            process.kill()  # Still importing: it has nothing to finish.
        with contextlib.suppress(OSError):  # It died: the broken pipe says nothing more.
            process.stdin.close()
        self._io.shutdown(wait=True, cancel_futures=True)
        try:
            process.wait(timeout=_WORKER_EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def _fail(self, exc: BaseException | None) -> None:
        log.warning(
            "batch FHIR worker failed (%s); the remaining chunks are validated in process",
            type(exc).__name__,
        )
        process = self._process
        if process is not None:
            process.kill()
        self.close()

    @staticmethod
    def _start(process: subprocess.Popen[bytes], path: list[str]) -> None:
        """In the I/O thread: give the worker this process's import path, wait until ready."""
        assert process.stdin is not None
        assert process.stdout is not None
        _write_frame(process.stdin, path)
        if _read_frame(process.stdout) != _READY:
            raise RuntimeError("the batch FHIR worker did not start")

    @staticmethod
    def _exchange(
        process: subprocess.Popen[bytes], resources: list[dict[str, Any]]
    ) -> list[_Outcomes]:
        """In the I/O thread: one chunk's resources out, their outcomes back."""
        assert process.stdin is not None
        assert process.stdout is not None
        _write_frame(process.stdin, resources)
        outcomes: list[_Outcomes] = _read_frame(process.stdout)
        return outcomes


#: Per resource: ``validate_resource``'s verdict and ``map_record``'s outcome.
_Outcomes: TypeAlias = tuple[Outcome | None, Outcome | None]
_READY: Final = "ready"
_WORKER_EXIT_SECONDS: Final = 5.0
_WORKER_CODE: Final = "from issuer.batch import _worker_main; _worker_main()"
_FRAME_HEADER: Final = struct.Struct(">Q")


def _write_frame(stream: IO[bytes], value: object) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_FRAME_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def _read_frame(stream: IO[bytes]) -> Any:
    """The next value; :class:`EOFError` at end of file (the other side is gone).

    Only ever reads what this module's other process wrote (parent and worker): pickle is safe
    here because nothing else writes to these pipes."""
    header = stream.read(_FRAME_HEADER.size)
    if len(header) < _FRAME_HEADER.size:
        raise EOFError("the batch FHIR pipe closed")
    (size,) = _FRAME_HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the batch FHIR pipe closed")
    return pickle.loads(data)  # noqa: S301 (our own child or parent wrote it)


def _worker_main() -> None:
    """The worker: read the import path, then chunks of resources until end of file (the
    parent closed the pipe, or died), answering each with :func:`_precompute`.

    Ctrl-C is left to the parent (which closes the pipe); anything else printed goes to
    stderr, so that only frames travel on the answer pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests = sys.stdin.buffer
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # Native code's prints too.
    sys.stdout = sys.stderr
    try:
        sys.path[:] = _read_frame(requests)
        _worker_ready()
        _write_frame(answers, _READY)
        while True:
            resources = _read_frame(requests)
            _write_frame(answers, _precompute(resources))
    except (EOFError, BrokenPipeError):
        # Done (or the parent is gone). Every answer is flushed and nothing else is held:
        # skip the interpreter's teardown of the FHIR models, a few tenths of a second the
        # parent would wait for.
        os._exit(0)


def _worker_ready() -> None:
    """Import the FHIR models the templates map, so the first chunk does not pay for it."""
    from fhir.resources.R4B import get_fhir_model_class

    for kind in (
        "AllergyIntolerance",
        "Condition",
        "Immunization",
        "MedicationRequest",
        "MedicationStatement",
        "Observation",
    ):
        get_fhir_model_class(kind)


def _precompute(resources: list[dict[str, Any]]) -> list[_Outcomes]:
    """In the worker: validate each resource and, if valid, map it (:func:`map_record`).

    Not the whole :class:`issuer.templates.RecordClaims`: they hold a copy of the resource,
    which this process has already; unpickling it costs about what the mapping does."""
    outcomes: list[_Outcomes] = []
    for resource in resources:
        validation = Outcome.of(validate_resource, resource)
        claims = None
        if validation is not None and validation.error is None:
            claims = Outcome.of(map_record, resource)
        outcomes.append(
            (Outcome(error=validation.error) if validation is not None else None, claims)
        )
    return outcomes


@dataclass(frozen=True, slots=True)
class _Stored:
    job: BatchJob
    issued_in_chunk: int


def _object(value: object) -> dict[str, Any]:
    """A record's JSON value, which this module always stores as an object."""
    if not isinstance(value, dict):
        raise StorageError("a batch record does not hold a JSON object; the store was altered")
    return value


def _advance(job: BatchJob, to: JobState) -> None:
    """Move ``job`` to ``to``, or refuse naming the allowed states (STYLE.md item 8)."""
    allowed = TRANSITIONS[job.state]
    if to not in allowed:
        raise ProtocolStateError(
            f"batch job {job.job_id} is {job.state}; it can move to "
            f"{', '.join(sorted(allowed)) or 'nothing'}, not {to}",
            details={"jobId": job.job_id, "state": str(job.state), "to": str(to)},
        )
    job.state = to


def _result(job: BatchJob, issued_now: int, skipped: int) -> JobResult:
    return JobResult(
        job_id=job.job_id,
        state=job.state,
        total=job.total,
        issued=job.issued,
        failed=job.failed,
        issued_now=issued_now,
        skipped_chunks=skipped,
    )


def _check_job_id(job_id: object) -> None:
    if (
        not isinstance(job_id, str)
        or not 1 <= len(job_id) <= 100
        or not all(c.isascii() and (c.isalnum() or c in "-_.") for c in job_id)
    ):
        raise InvalidInputError(
            "a batch job id is 1 to 100 letters, digits, '-', '_' or '.'",
            code=ErrorCode.BATCH_ITEM_INVALID,
        )


def _check_item(item: object, seen: Mapping[str, int]) -> tuple[str, Mapping[str, Any]]:
    """The item's key and payload; the message names the position, never the payload."""
    position = len(seen)
    if not isinstance(item, tuple | list) or len(item) != 2:
        raise _bad_item(position, "is not a (patient_key, payload) pair")
    patient_key, payload = item
    if not isinstance(patient_key, str) or not 1 <= len(patient_key) <= _MAX_KEY_LENGTH:
        raise _bad_item(position, f"has a patient key that is not 1 to {_MAX_KEY_LENGTH} chars")
    if not isinstance(payload, Mapping):
        raise _bad_item(position, "has a payload that is not a JSON object")
    if patient_key in seen:
        raise _bad_item(position, "repeats a patient key: one credential per patient per job")
    return patient_key, payload


def _bad_item(position: int, what: str) -> InvalidInputError:
    return InvalidInputError(
        f"batch item {position} {what}",
        code=ErrorCode.BATCH_ITEM_INVALID,
        details={"item": position},
    )


def _item_bytes(patient_key: str, payload: Mapping[str, Any]) -> bytes:
    return json.dumps(
        [patient_key, payload], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def _digest(patients: Iterable[tuple[str, Mapping[str, Any]]]) -> tuple[str, int]:
    hasher = hashlib.sha256()
    seen: dict[str, int] = {}
    for item in patients:
        patient_key, payload = _check_item(item, seen)
        seen[patient_key] = 0
        hasher.update(_item_bytes(patient_key, payload))
    return hasher.hexdigest(), len(seen)


async def _insert_items(txn: Session, job_id: str, number: int, chunk: list[list[Any]]) -> None:
    await txn.insert(ITEMS_CATEGORY, _chunk_name(job_id, number), {"items": chunk})


def _chunk_name(job_id: str, number: int) -> str:
    return f"{job_id}:{number:06d}"


def _shard(patient_key: str, shards: int) -> int:
    digest = hashlib.sha256(patient_key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % shards


def _encode(credential: JSONObject | str | bytes) -> list[Any]:
    if isinstance(credential, bytes | bytearray):
        return ["bytes", bytes(credential).hex()]
    if isinstance(credential, str):
        return ["text", credential]
    return ["json", credential]


def _decode(row: list[Any]) -> IssuedCredential:
    patient_key, credential_id, kind, value, *extra = row
    credential: JSONObject | str | bytes = bytes.fromhex(value) if kind == "bytes" else value
    found = extra[0] if extra and isinstance(extra[0], dict) else None
    return IssuedCredential(str(patient_key), str(credential_id), credential, found)


def _chunk_tags(job_id: str, credentials: Sequence[Sequence[Any]]) -> dict[str, str | list[str]]:
    """A chunk record's tags: its job, and every credential id it holds (none: no such tag;
    askar would store no row for an empty list anyway)."""
    tags: dict[str, str | list[str]] = {"job": job_id}
    ids = [str(row[1]) for row in credentials]
    if ids:
        tags[ID_TAG] = ids
    return tags


async def find_issued(session: Session, credential_id: str) -> IssuedCredential | None:
    """The credential a batch issued under ``credential_id``, or ``None``: one tag query (on
    :data:`ID_TAG`) and the chunk record it finds, read whole (about 1 MB for 500 W3C
    credentials).

    :raises StorageError: the store fails, or a chunk record is not one this module wrote.
    """
    for record in await session.fetch_all(ISSUED_CATEGORY, {ID_TAG: credential_id}, limit=1):
        rows = _object(record.json()).get("credentials")
        if not isinstance(rows, list):
            raise StorageError(
                f"the batch record {ISSUED_CATEGORY}/{record.name} holds no credential rows; "
                "the store was altered",
                details={"category": ISSUED_CATEGORY, "name": record.name},
            )
        for row in rows:
            if isinstance(row, list) and len(row) >= 4 and row[1] == credential_id:
                return _decode(row)
    return None
