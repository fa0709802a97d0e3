"""``mydata hospital ...``: run a hospital issuer from the command line.

Every command opens the hospital's store (``--store``, default ``$MYDATA_HOME/hospital.sqlite``;
its key from ``MYDATA_STORE_KEY`` or the key file ``init`` writes beside it), does one thing, and
closes it. ``mydata serve hospital`` runs the same hospital as an HTTP service.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

import httpx
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from agent.cliutil import (
    check_output_file,
    print_store,
    refuse,
    report_audit_verification,
    run_command,
    with_new_store,
    write_private,
)
from agent.console import error_console, escape, print_error, stdout_console
from agent.credentials import check_validity_period
from agent.dids import DIDResolver
from agent.errors import ErrorCode, HealthMyDataError, InvalidInputError
from agent.jsonio import parse_json, parse_json_object
from agent.servenames import is_loopback
from agent.status import StatusChecker
from agent.storage import Store, open_store
from agent.storeconfig import resolve_store, store_key
from agent.storeowner import keyless_store_refusal
from issuer.accreditation import (
    AccreditationLink,
    approve_at_operator,
    fetch_accreditation,
    load_link,
    register_with_operator,
)
from issuer.audit import AuditVerification
from issuer.batch import BatchFailure, BatchJobs, JobResult, JobState
from issuer.fhir import read_fhir_input
from issuer.hospital import FORMATS, Hospital, IssuedCredential, StatusAction
from issuer.templates import CredentialKind, RecordClaims, records_from_bundle
from issuer.templates import claim_evidence as claim_evidence_claims
from issuer.templates import emergency_summary as emergency_summary_claims

__all__ = ["open_hospital", "register"]

_T = TypeVar("_T")

#: How many failed patients ``mydata hospital batch`` lists (the rest: ``--failures``).
BATCH_FAILURES_SHOWN = 20

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="A path, sqlite://PATH or postgres://... (default $MYDATA_HOME/hospital.sqlite).",
    ),
]
InsecureHosts = Annotated[
    list[str] | None,
    typer.Option(
        "--insecure-http-host",
        help="A host whose did:web is served over plain http (local testing only, e.g. localhost).",
    ),
]


async def open_hospital(
    store: str | None, *, insecure_http_hosts: frozenset[str] = frozenset()
) -> tuple[Store, Hospital]:
    """Open the hospital's store and the hospital in it.

    :raises InvalidInputError: ``storeNotFound`` when ``init`` never ran on this store.
    """
    uri = resolve_store(store, "hospital")
    opened = await open_store(uri, raw_key=store_key(uri), create=False)
    hospital = await Hospital.load(opened, insecure_http_hosts=insecure_http_hosts)
    if hospital is None:
        await opened.close()
        raise InvalidInputError(
            "this store holds no hospital: run 'mydata hospital init' first",
            code=ErrorCode.STORE_NOT_FOUND,
        )
    return opened, hospital


def _run_input(work: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """:func:`run_command`, but input the command cannot use (an
    :class:`~agent.errors.InvalidInputError`) ends with exit status 2, as a bad option does."""
    try:
        return asyncio.run(work())
    except InvalidInputError as exc:
        print_error(error_console(), exc)
        raise typer.Exit(2) from None
    except HealthMyDataError as exc:
        print_error(error_console(), exc)
        raise typer.Exit(1) from None


def _read_input(file: str) -> Any:
    """The JSON in ``file`` (``-``: stdin; a FHIR Bundle may be large: 16 MiB); unparsable JSON
    ends the command with exit status 2 and names the file, before anything is issued."""
    data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    try:
        return parse_json(data, max_bytes=16 * 1024 * 1024)
    except HealthMyDataError as exc:
        where = "stdin" if file == "-" else file
        refuse(f"{where}: {exc.message}", code=exc.code)


def _read_object(file: str) -> dict[str, Any]:
    """The JSON object in ``file`` (one credential or key: the usual 1 MiB limit); exit status
    2 naming the file when it is not one."""
    data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    try:
        return parse_json_object(data)
    except HealthMyDataError as exc:
        where = "stdin" if file == "-" else file
        refuse(f"{where}: {exc.message}", code=exc.code)


def _prepare_output_folder(output: Path, names: list[str]) -> None:
    """Make sure the credentials can go into the folder ``output`` before any is issued: a
    credential issued and then not written is lost to its holder, yet it was audited and took
    status list indexes. The folder is created (0700) when missing; a file named ``output``,
    or a file in it a credential would overwrite, is refused."""
    if output.exists() and not output.is_dir():
        refuse(
            f"-o {output} is a file; -o names the folder to write the credentials into (it is "
            "created when missing); nothing was issued"
        )
    output.mkdir(mode=0o700, parents=True, exist_ok=True)
    taken = [name for name in names if (output / name).exists()]
    if taken:
        more = f" (and {len(taken) - 1} more)" if len(taken) > 1 else ""
        refuse(
            f"-o {output} already holds {taken[0]}{more}; give a new or empty folder (nothing "
            "was issued, nothing was overwritten)"
        )
    if not os.access(output, os.W_OK | os.X_OK):
        refuse(f"-o {output} is not writable (nothing was issued)")


def _ignored_init_options(
    identity: dict[str, Any], *, base_url: str, name: str, did_method: str | None
) -> list[str]:
    """The ``init`` options that differ from the identity already in the store: ``init`` never
    changes an identity (the DID is derived from it and credentials were issued under it)."""
    ignored = []
    existing_url = str(identity.get("base_url", ""))
    if base_url.rstrip("/") != existing_url:
        ignored.append(f"--base-url {base_url} (it stays {existing_url})")
    existing_name = str(identity.get("name", ""))
    if name and name != existing_name:
        ignored.append(f"--name {name!r} (it stays {existing_name!r})")
    existing_method = str(identity.get("method", ""))
    if did_method is not None and did_method != existing_method:
        ignored.append(f"--did-method {did_method} (it stays {existing_method})")
    return ignored


def register(app: typer.Typer) -> None:
    hospital_app = typer.Typer(
        help="A hospital issuer: identity, issuance, status, keys.", no_args_is_help=True
    )
    app.add_typer(hospital_app, name="hospital")

    @hospital_app.command("init")
    def init(
        base_url: Annotated[
            str,
            typer.Option(
                help="The URL the hospital's service is reached at (its did:web).",
                prompt="URL the hospital's service will be reached at (e.g. "
                "https://hospital.example)",
            ),
        ],
        store: StoreOption = None,
        did_method: Annotated[str | None, typer.Option(help="web (default) or key.")] = None,
        name: Annotated[str, typer.Option(help="The hospital's name.")] = "",
        insecure_http_host: InsecureHosts = None,
        operator: Annotated[
            str | None,
            typer.Option(
                help="The public operator's URL: register with it (DID-auth) for accreditation."
            ),
        ] = None,
        operator_token: Annotated[
            str | None,
            typer.Option(
                envvar="MYDATA_OPERATOR_TOKEN",
                help="The operator's admin token, to approve at once (one administration or a "
                "demo); otherwise the operator approves later.",
            ),
        ] = None,
    ) -> None:
        """Create the hospital's store, signing key and DID (safe to run twice); with
        --operator, also register with the public operator for accreditation."""
        uri = resolve_store(store, "hospital")
        insecure = frozenset(insecure_http_host or ())
        refusal = keyless_store_refusal(uri, party="a hospital", command="mydata hospital init")
        if refusal is not None:
            refuse(refusal)

        async def create(opened: Store) -> tuple[Hospital, list[str]]:
            existing = await Hospital.load(opened, insecure_http_hosts=insecure)
            if existing is not None:
                ignored = _ignored_init_options(
                    await existing.identity(), base_url=base_url, name=name, did_method=did_method
                )
                return existing, ignored
            created = await Hospital.init(
                opened,
                base_url=base_url,
                did_method=did_method or "web",
                name=name,
                insecure_http_hosts=insecure,
            )
            return created, []

        hospital, ignored = _run_input(lambda: with_new_store(uri, create))
        if ignored:
            error_console().print(
                f"[yellow]warning:[/] this store already holds the hospital {hospital.did}; "
                f"init keeps its identity and ignored {'; '.join(ignored)}. A different "
                "identity needs a new --store."
            )
        out = stdout_console()
        out.print(f"hospital DID   {hospital.did}")
        print_store(out, uri)
        if hospital.did.startswith("did:web:"):
            out.print(
                f"serve it with  mydata serve hospital --store {uri} (did.json at "
                f"{hospital.base_url}/.well-known/did.json)"
            )
        if operator is not None:
            registration = _onboard(uri, operator, operator_token, insecure)
            # A registration rejected, or an accreditation held but not in force: not on track.
            standing = registration.standing
            if registration.link.state == "rejected" or (
                standing is not None and not standing.in_force
            ):
                raise typer.Exit(1)
        else:
            out.print(
                "accreditation  to be accredited, run init again with --operator URL (the public "
                "operator's service); see docs/onboarding.md"
            )

    @hospital_app.command("issue")
    def issue(
        file: Annotated[str, typer.Argument(help="An unsigned credential (JSON), or - for stdin.")],
        store: StoreOption = None,
        cryptosuite: Annotated[str, typer.Option(help="eddsa-jcs-2022 or eddsa-rdfc-2022.")] = (
            "eddsa-jcs-2022"
        ),
        status: Annotated[bool, typer.Option(help="Add revocation and suspension entries.")] = True,
        output: Annotated[Path | None, typer.Option("-o", help="Write here, not stdout.")] = None,
    ) -> None:
        """Sign a credential as this hospital."""
        unsigned = _read_object(file)
        if output is not None:
            check_output_file(output)

        async def work() -> dict[str, Any]:
            opened, hospital = await open_hospital(store)
            try:
                return await hospital.issue(unsigned, cryptosuite=cryptosuite, with_status=status)
            finally:
                await opened.close()

        text = json.dumps(run_command(work), indent=2)
        if output is None:
            typer.echo(text)
        else:
            write_private(output, (text + "\n").encode("utf-8"))
            error_console().print(f"written to {output}")

    def _status_command(action: str, verb: str) -> None:
        @hospital_app.command(verb)
        def command(
            credential_id: Annotated[str, typer.Argument(help="The credential's id.")],
            store: StoreOption = None,
        ) -> None:
            async def work() -> dict[str, bool]:
                opened, hospital = await open_hospital(store)
                try:
                    return await hospital.update_status(credential_id, action)
                finally:
                    await opened.close()

            result = run_command(work)
            done = {"revoke": "revoked", "suspend": "suspended", "reinstate": "reinstated"}
            stdout_console().print(
                f"{credential_id}: {done.get(verb, verb)} ({json.dumps(result)})"
            )

        command.__doc__ = {
            "revoke": "Revoke a credential (final).",
            "suspend": "Suspend a credential (reversible with reinstate).",
            "reinstate": "Lift a suspension.",
        }[verb]

    _status_command(StatusAction.REVOKED, "revoke")
    _status_command(StatusAction.SUSPENDED, "suspend")
    _status_command(StatusAction.ACTIVE, "reinstate")

    @hospital_app.command("rotate-key")
    def rotate_key(store: StoreOption = None) -> None:
        """Add a new signing key; the old one keeps verifying what it signed until retired."""

        async def work() -> str:
            opened, hospital = await open_hospital(store)
            try:
                return await hospital.rotate_key()
            finally:
                await opened.close()

        stdout_console().print(f"new signing key {run_command(work)}")

    @hospital_app.command("retire-key")
    def retire_key(
        multikey: Annotated[str, typer.Argument(help="The key to retire (z6Mk...).")],
        store: StoreOption = None,
    ) -> None:
        """Remove a key from the DID document: what it signed no longer verifies."""

        async def work() -> None:
            opened, hospital = await open_hospital(store)
            try:
                await hospital.retire_key(multikey)
            finally:
                await opened.close()

        run_command(work)
        stdout_console().print(f"retired {multikey}")

    @hospital_app.command("did-document")
    def did_document(store: StoreOption = None) -> None:
        """Print the DID document the service serves at /.well-known/did.json."""

        async def work() -> dict[str, Any]:
            opened, hospital = await open_hospital(store)
            try:
                return await hospital.did_document()
            finally:
                await opened.close()

        typer.echo(json.dumps(run_command(work), indent=2))

    _register_audit(hospital_app)
    _register_records(hospital_app)
    _register_accreditation(hospital_app)


def _register_audit(hospital_app: typer.Typer) -> None:
    audit_app = typer.Typer(help="The hospital's hash-chained audit log.", no_args_is_help=True)
    hospital_app.add_typer(audit_app, name="audit")

    @audit_app.command("verify")
    def verify(store: StoreOption = None) -> None:
        """Check the whole chain; exit 1 and name the first bad entry when it was tampered with."""

        async def work() -> AuditVerification:
            opened, hospital = await open_hospital(store)
            try:
                return await hospital.audit.verify()
            finally:
                await opened.close()

        result = run_command(work)
        report_audit_verification(stdout_console(), result)

    @audit_app.command("list")
    def list_entries(
        store: StoreOption = None,
        since: Annotated[int, typer.Option(min=0, help="Entries after this sequence number.")] = 0,
        limit: Annotated[int, typer.Option(min=1, help="How many.")] = 50,
    ) -> None:
        """Show audit entries: sequence, time, event and identifiers (never health data)."""

        async def work() -> Any:
            opened, hospital = await open_hospital(store)
            try:
                return await hospital.audit.entries(since_seq=since, limit=limit)
            finally:
                await opened.close()

        table = Table("seq", "time", "event", "fields")
        for entry in run_command(work):
            fields = ", ".join(f"{k}={v}" for k, v in sorted(entry.fields.items()))
            table.add_row(str(entry.seq), entry.time, entry.event, fields)
        stdout_console().print(table)


def _register_records(hospital_app: typer.Typer) -> None:
    @hospital_app.command("import")
    def import_fhir(
        file: Annotated[str, typer.Argument(help="A FHIR R4 Bundle or resource (JSON), or -.")],
        subject: Annotated[str, typer.Option(help="The citizen's DID (the credential subject).")],
        store: StoreOption = None,
        credential_format: Annotated[
            list[str] | None, typer.Option("--format", help="vc (default) and/or sd-jwt.")
        ] = None,
        holder_jwk: Annotated[
            Path | None, typer.Option(help="The holder's public JWK (JSON file), for sd-jwt.")
        ] = None,
        emergency_summary: Annotated[
            bool, typer.Option(help="Also issue the EmergencySummary composite.")
        ] = False,
        claim_evidence: Annotated[
            bool, typer.Option(help="Also issue the ClaimEvidence composite.")
        ] = False,
        output: Annotated[
            Path | None, typer.Option("-o", help="Write each credential into this folder.")
        ] = None,
    ) -> None:
        """Issue credentials from a FHIR record: one per clinical topic, and composites."""
        formats = credential_format or ["vc"]
        unknown = [fmt for fmt in formats if fmt not in FORMATS]
        if unknown:
            refuse(f"unknown --format {unknown[0]!r}; use {' and/or '.join(sorted(FORMATS))}")
        fhir = _read_input(file)
        jwk = _read_object(str(holder_jwk)) if holder_jwk is not None else None

        async def plan() -> list[RecordClaims]:
            parsed = read_fhir_input(fhir)
            records = records_from_bundle(parsed.resources, parsed.index)
            if emergency_summary:
                records.append(emergency_summary_claims(parsed.resources, index=parsed.index))
            if claim_evidence:
                records.append(claim_evidence_claims(parsed.resources, index=parsed.index))
            return records

        records = run_command(plan)
        planned = [(claims, fmt) for claims in records for fmt in formats]
        if jwk is None and any(
            fmt == "sd-jwt" and claims.kind != CredentialKind.EMERGENCY_SUMMARY
            for claims, fmt in planned
        ):
            refuse(
                "--format sd-jwt needs --holder-jwk, the holder's public JWK (nothing was issued)"
            )
        names = [
            f"{index:02d}-{claims.kind}.{'json' if fmt == 'vc' else 'sd-jwt'}"
            for index, (claims, fmt) in enumerate(planned)
        ]
        if output is not None:
            _prepare_output_folder(output, names)

        async def work() -> list[tuple[IssuedCredential, str]]:
            opened, hospital = await open_hospital(store)
            issued: list[tuple[IssuedCredential, str]] = []
            try:
                for (claims, fmt), name in zip(planned, names, strict=True):
                    item = await hospital.issue_record(
                        claims, subject_did=subject, credential_format=fmt, holder_jwk=jwk
                    )
                    target = ""
                    if output is not None:
                        # Written as soon as issued: a later failure loses nothing issued.
                        path = output / name
                        text = (
                            json.dumps(item.credential, indent=2)
                            if isinstance(item.credential, dict)
                            else item.credential
                        )
                        write_private(path, (text + "\n").encode("utf-8"), replace=False)
                        target = str(path)
                    issued.append((item, target))
                return issued
            finally:
                await opened.close()

        issued = run_command(work)
        table = Table()
        for column in ("kind", "format", "id", "file"):
            table.add_column(column, overflow="fold")
        for item, target in issued:
            table.add_row(item.kind, item.format, item.id, target)
        stdout_console().print(table)

    @hospital_app.command("batch")
    def batch(
        file: Annotated[
            Path,
            typer.Argument(
                help='Patients, one JSON object a line: {"key", "subject", "fhir", "holderJwk"?}.'
            ),
        ],
        store: StoreOption = None,
        job_id: Annotated[
            str | None, typer.Option(help="Name the job to resume it after an interruption.")
        ] = None,
        credential_format: Annotated[str, typer.Option("--format", help="vc or sd-jwt.")] = "vc",
        chunk_size: Annotated[int, typer.Option(help="Credentials committed together.")] = 500,
        all_failures: Annotated[
            bool,
            typer.Option(
                help=f"List every patient that failed (default: the first {BATCH_FAILURES_SHOWN})."
            ),
        ] = False,
    ) -> None:
        """Issue one credential per patient with progress; rerun the same --job-id to resume."""
        patients: list[tuple[str, dict[str, Any]]] = []
        lines_of: dict[str, int] = {}
        with file.open("rb") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    item = parse_json_object(line)
                except HealthMyDataError as exc:
                    print_error(error_console(), exc)
                    error_console().print(f"in {file} line {number}")
                    raise typer.Exit(2) from None
                key = str(item.pop("key", number))
                lines_of.setdefault(key, number)
                patients.append((key, item))
        name = job_id or f"batch-{file.stem}"
        progress = Progress(
            TextColumn("[bold]issuing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=error_console(),
        )
        task = progress.add_task("issue", total=len(patients))

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        async def work() -> tuple[JobResult, bool, list[BatchFailure]]:
            opened, hospital = await open_hospital(store)
            try:
                jobs = BatchJobs(opened, clock=hospital.clock)
                complete_before = await _job_complete(jobs, name)
                if not complete_before:  # a finished job shows no empty progress bar
                    progress.start()
                result = await hospital.run_batch(
                    name,
                    patients,
                    credential_format=credential_format,
                    progress=report,
                    chunk_size=chunk_size,
                )
                failures = await jobs.failure_details(name) if result.failed else []
                return result, complete_before, failures
            finally:
                progress.stop()
                await opened.close()

        try:
            result, complete_before, failures = run_command(work)
        except KeyboardInterrupt:
            progress.stop()
            error_console().print(
                f"interrupted: job {name} keeps what it issued; resume it with "
                f"[bold]{_batch_command(file, name, store)}[/] (each patient still gets exactly "
                "one credential)"
            )
            raise typer.Exit(130) from None
        if complete_before:
            error_console().print(
                f"job {result.job_id} was already complete: nothing was issued (a new run of "
                "these patients needs another --job-id)"
            )
        stdout_console().print(
            f"job {result.job_id}: {result.state}, {result.issued} of {result.total} issued "
            f"({result.issued_now} now, {result.failed} failed)"
        )
        if result.failed:
            _report_failures(failures, lines_of, file, name, store, all_failures=all_failures)
            raise typer.Exit(1)


async def _job_complete(jobs: BatchJobs, job_id: str) -> bool:
    """Whether the batch job ``job_id`` exists and is done."""
    try:
        state, _, _ = await jobs.status(job_id)
    except HealthMyDataError as exc:
        if exc.code is ErrorCode.BATCH_JOB_NOT_FOUND:
            return False
        raise
    return state is JobState.DONE


def _batch_command(file: Path, job_id: str, store: str | None, *extra: str) -> str:
    """The ``mydata hospital batch`` command line that runs ``job_id`` again."""
    parts = ["mydata hospital batch", str(file), "--job-id", job_id]
    if store is not None:
        parts += ["--store", store]
    return " ".join([*parts, *extra])


def _report_failures(
    failures: list[BatchFailure],
    lines_of: dict[str, int],
    file: Path,
    job_id: str,
    store: str | None,
    *,
    all_failures: bool,
) -> None:
    """Which patients got no credential and why (their line and key, the error's code and
    message: never their data), the first :data:`BATCH_FAILURES_SHOWN` unless all are asked."""
    err = error_console()
    shown = failures if all_failures else failures[:BATCH_FAILURES_SHOWN]
    count = len(failures)
    err.print(f"[red]{count} patient{'s' if count != 1 else ''} got no credential:[/]")
    for failure in shown:
        line = lines_of.get(failure.patient_key)
        where = f"line {line} " if line is not None else ""
        reason = failure.message or "(no message recorded)"
        err.print(
            f"  {where}(patient {escape(failure.patient_key)}): "
            f"{escape(f'[{failure.code}]')} {escape(reason)}",
            soft_wrap=True,
        )
    if len(shown) < count:
        err.print(
            f"  ... and {count - len(shown)} more; list them all (nothing is issued again): "
            f"{_batch_command(file, job_id, store, '--all-failures')}",
            soft_wrap=True,
        )


def _serve_command(store_uri: str, base_url: str) -> str:
    """The ``mydata serve hospital`` line for a hospital reached at ``base_url``."""
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    insecure = (
        f" --insecure-http-host {parts.hostname}"
        if parts.scheme == "http" and parts.hostname
        else ""
    )
    return (
        f"MYDATA_ADMIN_TOKEN=<secret> mydata serve hospital --store {store_uri} --port {port} "
        f"--public-url {base_url}{insecure}"
    )


@dataclass(frozen=True)
class _Standing:
    """What a held accreditation is worth now, checked as ``mydata selftest`` checks it (its
    validity period, then its entries in the operator's status lists, fetched now).

    ``state`` is ``valid``, ``revoked``, ``suspended``, ``expired``, ``not yet valid`` or
    ``unknown`` (the status could not be read); ``detail`` says what was found.
    """

    state: str
    detail: str

    @property
    def in_force(self) -> bool:
        return self.state == "valid"


@dataclass(frozen=True)
class _Registration:
    """How the hospital's registration stands at the operator, with what its next steps need.

    :param standing: the held accreditation's, when there is one.
    :param reason: a rejected registration's reason as the operator gives it ("": none given;
        ``None``: it could not be read).
    """

    link: AccreditationLink
    base_url: str
    name: str
    standing: _Standing | None = None
    reason: str | None = None


def _http_host(url: str) -> str | None:
    """The host of ``url`` when it is a plain-http URL."""
    parts = urlsplit(url)
    return parts.hostname if parts.scheme == "http" and parts.hostname else None


def _status_hosts(link: AccreditationLink, given: frozenset[str]) -> frozenset[str]:
    """The hosts the accreditation's status lists may be read from over plain http: those
    given, and the operator's own host when the hospital reaches the operator over plain http
    already (as ``mydata selftest`` allows its URL's own host)."""
    host = _http_host(link.operator_url)
    return given | {host} if host else given


def _status_list_urls(credential: dict[str, Any]) -> list[str]:
    entries = credential.get("credentialStatus")
    entries = entries if isinstance(entries, list) else [entries]
    return [
        str(entry["statusListCredential"])
        for entry in entries
        if isinstance(entry, dict) and isinstance(entry.get("statusListCredential"), str)
    ]


async def _standing(
    credential: dict[str, Any], *, http: httpx.AsyncClient, now: datetime, hosts: frozenset[str]
) -> _Standing:
    """The accreditation's standing: its validity period, then its revocation and suspension
    entries in the operator's status lists (``mydata selftest``'s ``accreditation`` and
    ``accreditation-status`` rows, with the same words)."""
    try:
        check_validity_period(credential, now=now)
    except HealthMyDataError as exc:
        state = {"expired": "expired", "notYetValid": "not yet valid"}.get(
            str(exc.details.get("reason")), "unknown"
        )
        return _Standing(state, f"[{exc.code}] {exc.message}")
    resolver = DIDResolver(http_client=http, insecure_http_hosts=hosts, cache_ttl=0)
    checker = StatusChecker(http, resolver, insecure_http_hosts=hosts, ttl=0)
    try:
        results = await checker.check(credential, now=now)
    except HealthMyDataError as exc:
        return _Standing("unknown", f"not checked: [{exc.code}] {exc.message}")
    for purpose, state in (("revocation", "revoked"), ("suspension", "suspended")):
        for result in results:
            if result.purpose == purpose and result.set:
                return _Standing(
                    state, f"the operator has {state} this accreditation ({result.list_url})"
                )
    for result in results:
        if result.set:
            return _Standing(
                "unknown",
                f"the operator has set the {result.purpose} status of this accreditation "
                f"({result.list_url})",
            )
    if not results:
        return _Standing(
            "unknown", "the accreditation has no credentialStatus: it could not be revoked"
        )
    return _Standing(
        "valid",
        "neither revoked nor suspended (" + ", ".join(r.purpose for r in results) + " checked)",
    )


async def _rejection_reason(link: AccreditationLink, http: httpx.AsyncClient) -> str | None:
    """Why the operator rejected the registration ("" when it gave no reason; ``None`` when
    its answer cannot be read now)."""
    try:
        response = await http.get(f"{link.operator_url}/registrations/{link.registration_id}")
        if response.status_code != 200:
            return None
        reason = parse_json_object(response.content).get("reason", "")
    except (httpx.HTTPError, HealthMyDataError):
        return None
    return reason if isinstance(reason, str) else None


def _insecure_flags(hosts: Iterable[str]) -> str:
    return "".join(f" --insecure-http-host {host}" for host in sorted(set(hosts)))


def _selftest_command(registration: _Registration) -> str:
    """The ``mydata selftest`` line for this hospital. A plain-http operator on this machine
    (a local trial) serves the accreditation's status lists over plain http: their host (the
    accreditation's lists, else the operator URL's) is named with ``--insecure-http-host``
    unless it is the hospital's own (the self-test allows its URL's own host)."""
    link = registration.link
    own = _http_host(registration.base_url)
    urls = _status_list_urls(link.credential) if link.credential is not None else []
    hosts = {
        host
        for host in map(_http_host, urls or [link.operator_url])
        if host is not None and host != own and is_loopback(host)
    }
    return (
        f"mydata selftest {registration.base_url} --token <secret> --operator "
        f"{link.operator_did}{_insecure_flags(hosts)}"
    )


def _init_command(registration: _Registration, store_uri: str) -> str:
    """The ``mydata hospital init`` line that registers this hospital with its operator again."""
    parts = ["mydata hospital init", "--base-url", registration.base_url]
    if registration.name:
        parts += ["--name", shlex.quote(registration.name)]
    own = _http_host(registration.base_url)
    if own is not None:
        parts += ["--insecure-http-host", own]
    parts += ["--operator", registration.link.operator_url, "--store", store_uri]
    return " ".join(parts)


def _fetch_command(store_uri: str, hosts: Iterable[str] = ()) -> str:
    return f"mydata hospital accreditation fetch --store {store_uri}{_insecure_flags(hosts)}"


def _held_steps(registration: _Registration, standing: _Standing, store_uri: str) -> list[str]:
    """The next steps for a held accreditation that is not in force."""
    link = registration.link
    assert link.credential is not None
    accreditation_id = link.credential.get("id")
    if standing.state == "revoked":
        return [
            f"revocation is final: verifiers no longer accept this accreditation; ask the "
            f"operator ({link.operator_url}) why",
            "if the operator will accredit the hospital again, register again: "
            + _init_command(registration, store_uri),
        ]
    if standing.state == "suspended":
        return [
            f"ask the operator ({link.operator_url}) why: verifiers do not accept the "
            f"accreditation until the operator lifts the suspension (mydata operator reinstate "
            f"{accreditation_id})",
            f"then check again: {_fetch_command(store_uri)}",
        ]
    if standing.state == "expired":
        return [f"register again for a new accreditation: {_init_command(registration, store_uri)}"]
    # Not yet valid, or the status could not be read: name the plain-http hosts it needs.
    allowed = _status_hosts(link, frozenset())
    hosts = [
        host
        for host in map(_http_host, _status_list_urls(link.credential))
        if host is not None and host not in allowed
    ]
    return [f"see the status line above, then check again: {_fetch_command(store_uri, hosts)}"]


def _print_link(registration: _Registration, store_uri: str) -> None:
    """How the registration stands, and the next steps."""
    out = stdout_console()
    link = registration.link
    standing = registration.standing
    out.print(f"operator       {link.operator_url} ({link.operator_did})")
    out.print(f"registration   {link.registration_id}: {link.state}")
    if link.credential is not None and standing is not None:
        accreditation_id = escape(str(link.credential.get("id")))
        if standing.in_force:
            out.print(
                f"accreditation  [green]{accreditation_id}[/] "
                f"(valid until {escape(str(link.credential.get('validUntil')))})"
            )
            steps = [
                _serve_command(store_uri, registration.base_url),
                _selftest_command(registration),
            ]
        else:
            state = "status unknown" if standing.state == "unknown" else standing.state
            out.print(f"accreditation  [bold red]{accreditation_id}: {state}[/]")
            steps = _held_steps(registration, standing, store_uri)
        out.print(f"status         {escape(standing.detail)}")
    elif link.state == "rejected":
        reason = registration.reason
        shown = (
            escape(_printable(reason))
            if reason
            else "(none given)"
            if reason == ""
            else "(the operator's answer could not be read)"
        )
        out.print(f"reason         {shown}")
        steps = [
            f"a rejected registration cannot be approved any more: fix what the reason names, "
            f"or ask the operator ({link.operator_url}) what it needs",
            f"register again: {_init_command(registration, store_uri)}",
        ]
    else:
        steps = [
            f"the operator approves: mydata operator approve {link.registration_id}",
            _fetch_command(store_uri),
            _serve_command(store_uri, registration.base_url),
            _selftest_command(registration),
        ]
    out.print("next steps")
    for number, step in enumerate(steps, start=1):
        out.print(f"  {number}. {step}")


def _printable(text: str) -> str:
    """``text`` from another party, on one line and without control characters."""
    return "".join(c if c.isprintable() else " " for c in text)[:200]


async def _at_operator(
    store: str | None,
    insecure: frozenset[str],
    action: Callable[[Hospital, httpx.AsyncClient], Awaitable[AccreditationLink]],
) -> _Registration:
    """Run ``action`` on the hospital in ``store`` with a client for the operator's service;
    how the registration it returns stands (a held accreditation's standing, a rejection's
    reason)."""
    opened, hospital = await open_hospital(store, insecure_http_hosts=insecure)
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(15.0)) as http:
            link = await action(hospital, http)
            standing = reason = None
            if link.credential is not None:
                standing = await _standing(
                    link.credential,
                    http=http,
                    now=hospital.clock(),
                    hosts=_status_hosts(link, insecure),
                )
            elif link.state == "rejected":
                reason = await _rejection_reason(link, http)
            identity = await hospital.identity()
            return _Registration(
                link, hospital.base_url, str(identity.get("name", "")), standing, reason
            )
    finally:
        await opened.close()


def _onboard(
    store_uri: str,
    operator_url: str,
    operator_token: str | None,
    insecure: frozenset[str],
) -> _Registration:
    """Register the hospital in ``store_uri`` with the operator (and approve with its token).

    A rejected registration, or an accreditation revoked or expired, is followed by a new
    registration (the operator decides on it as on any other)."""

    async def onboard(hospital: Hospital, http: httpx.AsyncClient) -> AccreditationLink:
        link = await load_link(hospital)
        if link is not None and link.operator_url != operator_url.rstrip("/"):
            link = None
        if link is not None and link.credential is not None:
            standing = await _standing(
                link.credential,
                http=http,
                now=hospital.clock(),
                hosts=_status_hosts(link, insecure),
            )
            if standing.state in {"revoked", "expired"}:
                link = None
        if link is None or link.state == "rejected":
            # The name in the store: init keeps an identity, whatever --name says.
            name = str((await hospital.identity()).get("name", ""))
            link = await register_with_operator(hospital, operator_url, http=http, name=name)
        if link.credential is None and operator_token:
            await approve_at_operator(link, http=http, token=operator_token)
        if link.credential is None:
            link = await fetch_accreditation(hospital, http=http, insecure_http_hosts=insecure)
        return link

    registration = run_command(lambda: _at_operator(store_uri, insecure, onboard))
    _print_link(registration, store_uri)
    return registration


def _register_accreditation(hospital_app: typer.Typer) -> None:
    accreditation_app = typer.Typer(
        help="The hospital's accreditation by the public operator.", no_args_is_help=True
    )
    hospital_app.add_typer(accreditation_app, name="accreditation")

    @accreditation_app.command("fetch")
    def fetch(store: StoreOption = None, insecure_http_host: InsecureHosts = None) -> None:
        """Ask the operator how the registration stands; keep the accreditation once approved,
        and check it is in force (its status lists at the operator; a plain-http operator's
        own host is allowed). Exits 0 only when it is."""
        insecure = frozenset(insecure_http_host or ())

        async def fetch_link(hospital: Hospital, http: httpx.AsyncClient) -> AccreditationLink:
            return await fetch_accreditation(hospital, http=http, insecure_http_hosts=insecure)

        registration = run_command(lambda: _at_operator(store, insecure, fetch_link))
        _print_link(registration, resolve_store(store, "hospital"))
        if registration.standing is None or not registration.standing.in_force:
            raise typer.Exit(1)

    @accreditation_app.command("show")
    def show(store: StoreOption = None) -> None:
        """Print the accreditation credential the service publishes at /accreditation."""

        async def work() -> AccreditationLink | None:
            opened, hospital = await open_hospital(store)
            try:
                return await load_link(hospital)
            finally:
                await opened.close()

        link = run_command(work)
        if link is None or link.credential is None:
            error_console().print(
                "[red]error:[/] no accreditation yet (mydata hospital init --operator URL, then "
                "mydata hospital accreditation fetch)"
            )
            raise typer.Exit(1)
        typer.echo(json.dumps(link.credential, indent=2))
