"""``mydata verify FILE``: verify a credential or presentation and print the report.

Exit codes: 0 verified, 1 rejected (a check failed), 2 unusable input (not readable, not JSON,
not a credential or presentation at all, or an unknown check name).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agent.console import error_console, print_error, stdout_console
from agent.credentials.model import type_values
from agent.dids import DIDResolver
from agent.errors import ErrorCode, HealthMyDataError, InvalidInputError
from agent.jsonio import parse_json_object
from agent.status import StatusChecker
from verifier.report import CheckStatus, VerificationReport
from verifier.verify import verify_credential, verify_presentation

__all__ = ["register", "render_report", "verify_document"]

EXIT_VERIFIED, EXIT_REJECTED, EXIT_UNUSABLE = 0, 1, 2
_STYLE = {CheckStatus.PASSED: "green", CheckStatus.FAILED: "bold red", CheckStatus.SKIPPED: "dim"}
#: Seconds for one DID document fetch (did:web), for both the HTTP client and the resolver.
RESOLVE_TIMEOUT = 5.0

_log = logging.getLogger(__name__)


#: Hosts whose did:web documents and status lists may be fetched over plain http: loopback
#: only, where traffic never leaves the machine (local services, tests, the demo).
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def _unwrap(document: dict[str, Any]) -> dict[str, Any]:
    """A VC-API response (``{"verifiableCredential": ...}``) stands for the credential in it."""
    if "type" not in document and len(document) == 1:
        ((key, value),) = document.items()
        if key in {"verifiableCredential", "verifiablePresentation"} and isinstance(value, dict):
            return value
    return document


async def verify_document(
    document: dict[str, Any],
    *,
    checks: list[str] | None = None,
    challenge: str | None = None,
    domain: str | None = None,
    check_status: bool = True,
    insecure_http_hosts: frozenset[str] = LOOPBACK_HOSTS,
) -> VerificationReport:
    """Verify a parsed credential or presentation, telling them apart by ``type``.

    DID documents (did:web) and status lists are fetched over HTTPS, or plain HTTP on
    ``insecure_http_hosts``; ``check_status=False`` skips status lists (reported as such).

    :raises InvalidInputError: when the document is neither.
    """
    document = _unwrap(document)
    kinds = type_values(document)
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(RESOLVE_TIMEOUT), follow_redirects=False
    ) as http:
        resolver = DIDResolver(
            http_client=http, timeout=RESOLVE_TIMEOUT, insecure_http_hosts=insecure_http_hosts
        )
        status = (
            StatusChecker(http, resolver, insecure_http_hosts=insecure_http_hosts)
            if check_status
            else None
        )
        if "VerifiablePresentation" in kinds:
            return await verify_presentation(
                document,
                resolver=resolver,
                challenge=challenge,
                domain=domain,
                checks=checks,
                status_checker=status,
            )
        if "VerifiableCredential" in kinds:
            return await verify_credential(
                document, resolver=resolver, checks=checks, status_checker=status
            )
    raise InvalidInputError(
        "the document is neither a VerifiableCredential nor a VerifiablePresentation "
        "(its 'type' names neither)",
        code=ErrorCode.PARSING_ERROR,
    )


def render_report(console: Console, report: VerificationReport, *, title: str = "") -> None:
    """Print a report as a table of named checks, then the verdict."""
    table = Table(title=escape(title or f"{report.kind} verification"), title_justify="left")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for result in report.results:
        detail = escape(f"[{result.code}] {result.message}" if result.code else result.message)
        table.add_row(str(result.check), f"[{_STYLE[result.status]}]{result.status}", detail)
    console.print(table)
    for index, nested in enumerate(report.credentials):
        render_report(console, nested, title=f"credential {index} in the presentation")
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}")
    if report.verified:
        console.print("[bold green]VERIFIED[/]")
    else:
        failed = ", ".join(str(r.check) for r in report.failed) or "no check ran"
        console.print(f"[bold red]REJECTED[/] (failed: {failed})")


def _split_checks(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def register(app: typer.Typer) -> None:
    @app.command("verify")
    def verify(
        file: Annotated[
            str, typer.Argument(help="A credential or presentation file, or - for stdin.")
        ],
        checks: Annotated[
            list[str] | None,
            typer.Option(
                "--checks",
                help="Run only these checks (repeat or comma-separate), as VC-API options.checks."
                " Credentials: format, proof, issuer, validity, status. Presentations: format,"
                " challenge, proof, holder, credentials. Without issuer (holder) a valid"
                " signature is not shown to be the issuer's (holder's).",
            ),
        ] = None,
        challenge: Annotated[
            str | None, typer.Option(help="Expected presentation challenge.")
        ] = None,
        domain: Annotated[str | None, typer.Option(help="Expected presentation domain.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
        offline: Annotated[
            bool, typer.Option(help="Do not fetch status lists (the status check is skipped).")
        ] = False,
    ) -> None:
        """Verify a credential or presentation; exit 0 verified, 1 rejected, 2 unusable input."""
        console = stdout_console()
        err = error_console()
        try:
            data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
        except OSError as exc:
            err.print(f"[red]error:[/] cannot read {escape(file)}: {exc.strerror}")
            raise typer.Exit(EXIT_UNUSABLE) from None
        try:
            document = parse_json_object(data)
            report = asyncio.run(
                verify_document(
                    document,
                    checks=_split_checks(checks),
                    challenge=challenge,
                    domain=domain,
                    check_status=not offline,
                )
            )
            body = json.dumps(report.to_dict()) if as_json else ""
        except HealthMyDataError as exc:
            if as_json:
                console.print_json(json.dumps({"verified": False, "error": exc.to_dict()}))
            else:
                print_error(err, exc)
            raise typer.Exit(EXIT_UNUSABLE) from None
        except Exception:
            # A bug, not a verdict: never a traceback (it could quote the document) and never
            # exit 0 or 1. The traceback is for whoever turns on debug logging.
            _log.debug("unexpected error while verifying", exc_info=True)
            internal = HealthMyDataError(
                "the document could not be verified because of an internal error; "
                "run with debug logging to see it, and report it",
                code=ErrorCode.INVALID_INPUT,
                details={"internal": True},
            )
            if as_json:
                console.print_json(json.dumps({"verified": False, "error": internal.to_dict()}))
            else:
                print_error(err, internal)
            raise typer.Exit(EXIT_UNUSABLE) from None
        if as_json:
            console.print_json(body)
        else:
            render_report(console, report, title=f"{report.kind} {file}")
        raise typer.Exit(EXIT_VERIFIED if report.verified else EXIT_REJECTED)
