"""``mydata sync``: a hidden alias of ``mydata er sync`` (its old option names), and the
fetching helpers the stories use. The implementation is :mod:`verifier.trustsync`.

* :func:`fetch_trust`: the operator's trust list (and the accreditations it names), verified,
  as a :class:`TrustRegistry` (:func:`verifier.trustsync.fetch_registry` for one operator);
* :func:`offline_cache`: :func:`verifier.trustsync.offline_cache` (issuers' DID documents and
  accreditations, Status List Tokens, the trust list, the accreditations' Bitstring Status
  Lists).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.markup import escape
from rich.table import Table

from agent.console import error_console, print_error, stdout_console
from agent.errors import HealthMyDataError
from agent.trustsync import LOOPBACK_HOSTS, OperatorSource
from verifier.trust import TrustRegistry
from verifier.trustsync import fetch_registry, offline_cache, write_caches

__all__ = ["LOOPBACK_HOSTS", "fetch_trust", "offline_cache", "register"]


async def fetch_trust(
    http: httpx.AsyncClient,
    operator_url: str,
    operator_did: str,
    *,
    accreditations: bool = True,
    insecure_http_hosts: frozenset[str] = LOOPBACK_HOSTS,
) -> TrustRegistry:
    """The trust list at ``operator_url`` (and the accreditations it names), verified: only
    what ``operator_did`` signed loads (the URL only says where to fetch).

    :raises agent.errors.InvalidInputError: the operator cannot be reached; a non-https URL.
    :raises agent.errors.CredentialError: ``issuerNotTrusted`` when the list is not signed by
        ``operator_did``; ``trustListInvalid`` when it does not verify.
    """
    return await fetch_registry(
        http,
        [OperatorSource(operator_did, operator_url)],
        accreditations=accreditations,
        insecure_http_hosts=insecure_http_hosts,
    )


def register(app: typer.Typer) -> None:
    @app.command("sync", hidden=True)
    def sync(
        operator: Annotated[str, typer.Option(help="The operator's service URL.")],
        operator_did: Annotated[
            str, typer.Option(help="The operator DID this verifier trusts (nothing else is).")
        ],
        issuer: Annotated[
            list[str] | None,
            typer.Option(help="An issuer's service URL: its DID document (repeat)."),
        ] = None,
        status_list: Annotated[
            list[str] | None,
            typer.Option(help="A Status List Token URL (.../status-lists/ID/token; repeat)."),
        ] = None,
        out: Annotated[
            Path | None,
            typer.Option(help="Write the offline cache here (er scan / insurer verify --cache)."),
        ] = None,
        trust_out: Annotated[
            Path | None,
            typer.Option(help="Write the trust cache here (serve verifier --trust-cache)."),
        ] = None,
        insecure_http_host: Annotated[
            list[str] | None,
            typer.Option(help="A host that may be fetched over plain http (default loopback)."),
        ] = None,
    ) -> None:
        """Alias of ``mydata er sync --operator DID --operator-url URL`` (use that)."""
        if out is None and trust_out is None:
            error_console().print("[red]error:[/] give --out, --trust-out or both")
            raise typer.Exit(2)
        try:
            done = asyncio.run(
                write_caches(
                    [OperatorSource(operator_did, operator)],
                    out=out,
                    trust_out=trust_out,
                    issuers=issuer or [],
                    status_lists=status_list or [],
                    insecure_http_hosts=frozenset(insecure_http_host or ()) or LOOPBACK_HOSTS,
                )
            )
        except HealthMyDataError as exc:
            print_error(error_console(), exc)
            raise typer.Exit(1) from None
        table = Table("file", "holds")
        for path, what in done:
            table.add_row(escape(path), escape(what))
        stdout_console().print(table)
