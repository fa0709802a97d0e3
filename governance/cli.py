"""``mydata operator ...``: run the public operator from the command line.

Every command opens the operator's store (``--store``, default
``$MYDATA_HOME/operator.sqlite``; its key from ``MYDATA_STORE_KEY`` or the key file ``init``
writes beside it), does one thing, and closes it. ``mydata serve operator`` runs the same
operator as an HTTP service, and ``mydata selftest URL`` checks a hospital deployment
(:mod:`governance.selftest`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from agent.cliutil import (
    check_output_file,
    print_store,
    refuse,
    report_audit_verification,
    run_command,
    with_new_store,
)
from agent.console import error_console, print_error, stdout_console
from agent.errors import ErrorCode, HealthMyDataError, InvalidInputError
from agent.storage import Store, open_store
from agent.storeconfig import resolve_store, store_key
from agent.storeowner import keyless_store_refusal
from governance.audit import AuditEntry, AuditVerification
from governance.operator import ROLES, Accreditation, Operator

__all__ = ["register"]

_T = TypeVar("_T")

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="A path, sqlite://PATH or postgres://... (default $MYDATA_HOME/operator.sqlite).",
    ),
]
ValidDays = Annotated[
    int, typer.Option(min=1, max=3650, help="How many days the accreditation is valid.")
]


async def _with_operator(store: str | None, action: Callable[[Operator], Awaitable[_T]]) -> _T:
    """Open the operator's store, run ``action`` on the operator in it, close the store.

    :raises InvalidInputError: ``storeNotFound`` when ``init`` never ran on this store.
    """
    uri = resolve_store(store, "operator")
    opened = await open_store(uri, raw_key=store_key(uri), create=False)
    try:
        operator = await Operator.load(opened)
        if operator is None:
            raise InvalidInputError(
                "this store holds no operator: run 'mydata operator init' first",
                code=ErrorCode.STORE_NOT_FOUND,
            )
        return await action(operator)
    finally:
        await opened.close()


def _ignored_init_options(
    operator: Operator, *, base_url: str, did_method: str | None, name: str, jurisdiction: str
) -> list[str]:
    """The ``init`` options that differ from the operator already in the store: ``init`` never
    changes an identity (the DID is derived from it and accreditations were issued under it)."""
    ignored = []
    if base_url.rstrip("/") != operator.base_url:
        ignored.append(f"--base-url {base_url} (it stays {operator.base_url})")
    if name and name != operator.name:
        ignored.append(f"--name {name!r} (it stays {operator.name!r})")
    if jurisdiction and jurisdiction != operator.jurisdiction:
        ignored.append(f"--jurisdiction {jurisdiction!r} (it stays {operator.jurisdiction!r})")
    if did_method is not None:
        method = "web" if operator.did.startswith("did:web:") else "key"
        if did_method != method:
            ignored.append(f"--did-method {did_method} (it stays {method})")
    return ignored


def _accreditation_table(accreditations: list[Accreditation]) -> Table:
    table = Table()
    for column in ("id", "subject", "role", "name", "state", "valid until"):
        table.add_column(column, overflow="fold")
    for item in accreditations:
        colour = {"active": "green", "revoked": "red"}.get(str(item.state), "yellow")
        table.add_row(
            item.id,
            item.subject,
            item.role,
            item.name,
            f"[{colour}]{item.state}[/]",
            item.valid_until,
        )
    return table


def register(app: typer.Typer) -> None:
    operator_app = typer.Typer(
        help="The public operator: root DID, accreditations, trust list, registrations.",
        no_args_is_help=True,
    )
    app.add_typer(operator_app, name="operator")

    @operator_app.command("init")
    def init(
        base_url: Annotated[
            str,
            typer.Option(
                help="The URL the operator's service is reached at (status lists, trust list)."
            ),
        ],
        store: StoreOption = None,
        did_method: Annotated[str | None, typer.Option(help="key (default) or web.")] = None,
        name: Annotated[str, typer.Option(help="The operator's name.")] = "",
        jurisdiction: Annotated[
            str, typer.Option(help="Written into accreditations (e.g. NO).")
        ] = "",
    ) -> None:
        """Create the operator's store, root key and DID (safe to run twice)."""
        uri = resolve_store(store, "operator")
        refusal = keyless_store_refusal(uri, party="the operator", command="mydata operator init")
        if refusal is not None:
            refuse(refusal)

        async def create(opened: Store) -> tuple[Operator, list[str]]:
            existing = await Operator.load(opened)
            if existing is not None:
                return existing, _ignored_init_options(
                    existing,
                    base_url=base_url,
                    did_method=did_method,
                    name=name,
                    jurisdiction=jurisdiction,
                )
            created = await Operator.init(
                opened,
                base_url=base_url,
                did_method=did_method or "key",
                name=name,
                jurisdiction=jurisdiction,
            )
            return created, []

        try:
            operator, ignored = asyncio.run(with_new_store(uri, create))
        except HealthMyDataError as exc:
            print_error(error_console(), exc)
            # Input init cannot use (a foreign store, a bad DID method) is exit 2, like a bad
            # option; a store that does not open is exit 1, as for every command.
            raise typer.Exit(2 if isinstance(exc, InvalidInputError) else 1) from None
        if ignored:
            error_console().print(
                f"[yellow]warning:[/] this store already holds the operator {operator.did}; "
                f"init keeps its identity and ignored {'; '.join(ignored)}. A different "
                "identity needs a new --store."
            )
        out = stdout_console()
        out.print(f"operator DID   {operator.did}")
        print_store(out, uri)
        out.print(f"trust list     {operator.trust_list_url()}")
        out.print(
            f"serve it with  MYDATA_ADMIN_TOKEN=... mydata serve operator --store {uri} --port PORT"
        )
        out.print(f"verifiers trust it with  --operator {operator.did}")

    @operator_app.command("accredit")
    def accredit(
        did: Annotated[str, typer.Argument(help="The DID to accredit.")],
        role: Annotated[str, typer.Option(help=" | ".join(sorted(ROLES)))],
        name: Annotated[str, typer.Option(help="The accredited party's name.")] = "",
        valid_days: ValidDays = 365,
        store: StoreOption = None,
        output: Annotated[
            Path | None, typer.Option("-o", help="Also write the credential (JSON) here.")
        ] = None,
    ) -> None:
        """Issue an accreditation credential (revocable through the operator's status list)."""
        if output is not None:
            check_output_file(output)

        async def action(operator: Operator) -> Accreditation:
            return await operator.accredit(
                did, role, name=name, valid_for=timedelta(days=valid_days)
            )

        accreditation = run_command(lambda: _with_operator(store, action))
        if output is not None:
            output.write_text(json.dumps(accreditation.credential, indent=2) + "\n", "utf-8")
        stdout_console().print(
            f"accredited {did} as {role}: {accreditation.id} (valid until "
            f"{accreditation.valid_until})"
        )

    def _status_command(action_name: str, verb: str, doc: str) -> None:
        @operator_app.command(verb, help=doc)
        def command(
            accreditation_id: Annotated[
                str, typer.Argument(help="The accreditation's id (urn:uuid:...).")
            ],
            store: StoreOption = None,
        ) -> None:
            async def action(operator: Operator) -> Accreditation:
                return await operator.update_status(accreditation_id, action_name)

            updated = run_command(lambda: _with_operator(store, action))
            stdout_console().print(f"{updated.id} ({updated.subject}): {updated.state}")

    _status_command("revoked", "revoke", "Revoke an accreditation (final).")
    _status_command("suspended", "suspend", "Suspend an accreditation (undo with reinstate).")
    _status_command("active", "reinstate", "Lift a suspension.")

    @operator_app.command("list")
    def list_accreditations(
        store: StoreOption = None,
        subject: Annotated[str | None, typer.Option(help="Only this DID's.")] = None,
    ) -> None:
        """Every accreditation issued and its state."""

        async def action(operator: Operator) -> list[Accreditation]:
            return await operator.accreditations(subject=subject)

        stdout_console().print(
            _accreditation_table(run_command(lambda: _with_operator(store, action)))
        )

    @operator_app.command("trust-list")
    def trust_list(
        store: StoreOption = None,
        out: Annotated[
            Path | None, typer.Option("--out", help="Write it here, not stdout.")
        ] = None,
    ) -> None:
        """Sign and print the trust list (the accreditations in force)."""

        async def action(operator: Operator) -> dict[str, Any]:
            return await operator.trust_list()

        document = run_command(lambda: _with_operator(store, action))
        text = json.dumps(document, indent=2)
        if out is None:
            typer.echo(text)
            return
        out.write_text(text + "\n", encoding="utf-8")
        entries = document["credentialSubject"]["trustListEntry"]
        error_console().print(
            f"trust list with {len(entries)} {'entry' if len(entries) == 1 else 'entries'}, "
            f"valid until {document['validUntil']}, "
            f"written to {out}"
        )

    @operator_app.command("registrations")
    def registrations(
        store: StoreOption = None,
        state: Annotated[
            str | None, typer.Option(help="pending, approved or rejected (default all).")
        ] = None,
    ) -> None:
        """Registrations: who applied, for which role, how their DID was checked."""

        async def action(operator: Operator) -> list[Any]:
            return await operator.registrations(state=state)

        table = Table()
        for column in ("id", "did", "role", "name", "state", "DID checked", "created"):
            table.add_column(column, overflow="fold")
        for item in run_command(lambda: _with_operator(store, action)):
            table.add_row(
                item.id,
                item.did,
                item.role,
                item.name,
                str(item.state),
                item.did_checked,
                item.created,
            )
        stdout_console().print(table)

    @operator_app.command("approve")
    def approve(
        registration_id: Annotated[str, typer.Argument(help="The registration's id.")],
        valid_days: ValidDays = 365,
        store: StoreOption = None,
    ) -> None:
        """Approve a pending registration: accredit the applicant in the role it asked for."""

        async def action(operator: Operator) -> Accreditation:
            return await operator.approve(registration_id, valid_for=timedelta(days=valid_days))

        accreditation = run_command(lambda: _with_operator(store, action))
        stdout_console().print(
            f"approved: accredited {accreditation.subject} as {accreditation.role}: "
            f"{accreditation.id}"
        )

    @operator_app.command("reject")
    def reject(
        registration_id: Annotated[str, typer.Argument(help="The registration's id.")],
        reason: Annotated[str, typer.Option(help="Why (shown to the applicant).")] = "",
        store: StoreOption = None,
    ) -> None:
        """Reject a pending registration."""

        async def action(operator: Operator) -> Any:
            return await operator.reject(registration_id, reason=reason)

        rejected = run_command(lambda: _with_operator(store, action))
        stdout_console().print(f"rejected {rejected.id} ({rejected.did})")

    audit_app = typer.Typer(help="The operator's hash-chained audit log.", no_args_is_help=True)
    operator_app.add_typer(audit_app, name="audit")

    @audit_app.command("verify")
    def audit_verify(store: StoreOption = None) -> None:
        """Check the whole chain; exit 1 and name the first bad entry when it was tampered with."""

        async def action(operator: Operator) -> AuditVerification:
            return await operator.audit.verify()

        result = run_command(lambda: _with_operator(store, action))
        report_audit_verification(stdout_console(), result)

    @audit_app.command("list")
    def audit_list(
        store: StoreOption = None,
        since: Annotated[int, typer.Option(min=0, help="Entries after this sequence number.")] = 0,
        limit: Annotated[int, typer.Option(min=1, help="How many.")] = 50,
    ) -> None:
        """Show audit entries: sequence, time, event and identifiers."""

        async def action(operator: Operator) -> list[AuditEntry]:
            return await operator.audit.entries(since_seq=since, limit=limit)

        table = Table("seq", "time", "event")
        table.add_column("fields", overflow="fold")
        for entry in run_command(lambda: _with_operator(store, action)):
            fields = ", ".join(f"{k}={v}" for k, v in sorted(entry.fields.items()))
            table.add_row(str(entry.seq), entry.time, entry.event, fields)
        stdout_console().print(table)
