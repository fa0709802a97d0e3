"""``mydata did create|resolve``: DIDs from the command line; ``mydata store-key``: a new raw
store key.

Keys are created in an encrypted askar store (``--store``, default
``$MYDATA_HOME/agent.sqlite``, with ``MYDATA_HOME`` defaulting to ``~/.local/share/mydata``). The
store's passphrase comes from ``MYDATA_PASSPHRASE`` or a prompt; it is never printed or logged.

``store-key`` prints a new random raw key (:func:`agent.storage.generate_raw_key`: 32 bytes from
the OS, base58) for ``MYDATA_STORE_KEY``, what a PostgreSQL store needs (a SQLite store's
``init`` writes its key file itself). It prints nothing else on stdout, for
``KEY=$(mydata store-key)`` or a redirection into a secret file.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.markup import escape

from agent.console import error_console, print_error
from agent.dids import (
    DIDResolver,
    check_did,
    create_did_peer_2,
    did_key_from_public,
    didcomm_service,
)
from agent.errors import HealthMyDataError
from agent.keys import AskarKeyStore, KeyType, decode_multikey
from agent.storage import generate_raw_key, open_store

__all__ = ["InsecureHosts", "default_store_path", "loopback_hint", "register"]


class DIDMethodChoice(StrEnum):
    KEY = "key"
    PEER = "peer"


def default_store_path() -> Path:
    """``$MYDATA_HOME/agent.sqlite``; ``MYDATA_HOME`` defaults to ``~/.local/share/mydata``."""
    home = os.environ.get("MYDATA_HOME") or str(Path.home() / ".local" / "share" / "mydata")
    return Path(home) / "agent.sqlite"


def _passphrase(new_store: bool) -> str:
    value = os.environ.get("MYDATA_PASSPHRASE")
    if value:
        return value
    prompt = "New store passphrase" if new_store else "Store passphrase"
    text: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=new_store)
    return text


async def _create(
    method: DIDMethodChoice, store_path: Path, endpoint: str | None, passphrase: str
) -> tuple[str, str]:
    store = await open_store(store_path, passphrase=passphrase)
    try:
        keys = AskarKeyStore(store)
        signing = await keys.create_key(KeyType.ED25519_PUB)
        if method is DIDMethodChoice.KEY:
            did = did_key_from_public(KeyType.ED25519_PUB, decode_multikey(signing)[1])
            vm = f"{did}#{signing}"
            await keys.bind(
                signing,
                did=did,
                verification_method=vm,
                relationships=["assertionMethod", "authentication"],
            )
            return did, vm
        agreement = await keys.create_key(KeyType.X25519_PUB)
        services = [didcomm_service(endpoint)] if endpoint else []
        did = create_did_peer_2(
            decode_multikey(signing)[1], decode_multikey(agreement)[1], services
        )
        await keys.bind(
            signing,
            did=did,
            verification_method=f"{did}#key-1",
            relationships=["authentication", "assertionMethod"],
        )
        await keys.bind(
            agreement, did=did, verification_method=f"{did}#key-2", relationships=["keyAgreement"]
        )
        return did, f"{did}#key-1"
    finally:
        await store.close()


#: A did:web fetch from this machine that could not connect (:func:`agent.dids.web`'s
#: message): ``could not fetch https://localhost[:port]/... for did:web:...: ConnectError``.
_LOOPBACK_HTTPS = re.compile(
    r"could not fetch (https://(localhost|127\.0\.0\.1|\[::1\])(?::\d+)?)/\S* "
    r"for did:web:\S+: (?:ConnectError|ConnectTimeout)\b"
)

InsecureHosts = Annotated[
    list[str] | None,
    typer.Option(
        "--insecure-http-host",
        help="A host whose did:web is served over plain http (local testing only; repeat)."
        " Default: https everywhere.",
    ),
]


def loopback_hint(texts: Iterable[str], insecure_hosts: Iterable[str] = ()) -> str | None:
    """What to do when a did:web on this machine could not be fetched over https: a local
    service usually serves plain http, which ``--insecure-http-host HOST`` allows (None
    otherwise, and when that host is already allowed).

    Shared by the commands that fetch did:web documents (``mydata did resolve``,
    ``mydata verify``, ``mydata er scan``, ``mydata insurer verify``), which all take that
    option.
    """
    allowed = set(insecure_hosts)
    for text in texts:
        match = _LOOPBACK_HTTPS.search(text)
        if match is not None and match.group(2).strip("[]") not in allowed:
            return (
                f"{match.group(1)} could not be reached; if the service there serves plain "
                f"http (local testing), add --insecure-http-host {match.group(2).strip('[]')}"
            )
    return None


async def _resolve(did: str, insecure_http_hosts: frozenset[str] = frozenset()) -> str:
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as http:
        document = await DIDResolver(
            http_client=http, insecure_http_hosts=insecure_http_hosts
        ).resolve(did)
    return json.dumps(document.serialize(), indent=2)


def register(app: typer.Typer) -> None:
    did_app = typer.Typer(help="Create and resolve DIDs.", no_args_is_help=True)
    app.add_typer(did_app, name="did")

    @app.command("store-key")
    def new_store_key() -> None:
        """Print a new random raw store key (32 bytes, base58) for MYDATA_STORE_KEY: a
        PostgreSQL store's key, to keep in a secret manager."""
        typer.echo(generate_raw_key())
        if sys.stdout.isatty():
            error_console().print(
                "keep it in a secret manager and give it as MYDATA_STORE_KEY: a store made "
                "with it opens only with it",
                soft_wrap=True,
            )

    @did_app.command("create")
    def create(
        method: Annotated[DIDMethodChoice, typer.Option(help="DID method.")] = DIDMethodChoice.KEY,
        store: Annotated[
            Path | None, typer.Option(help="Key store file (default $MYDATA_HOME/agent.sqlite).")
        ] = None,
        endpoint: Annotated[
            str | None, typer.Option(help="DIDComm endpoint URL (did:peer only).")
        ] = None,
    ) -> None:
        """Create a key in the encrypted key store and print its DID."""
        err = error_console()
        try:
            path = store or default_store_path()
            new_store = not path.exists()
            path.parent.mkdir(parents=True, exist_ok=True)
            did, vm = asyncio.run(_create(method, path, endpoint, _passphrase(new_store)))
        except HealthMyDataError as exc:
            print_error(err, exc)
            raise typer.Exit(2) from None
        typer.echo(did)
        err.print(f"verification method: {vm}", soft_wrap=True)

    @did_app.command("resolve")
    def resolve(
        did: Annotated[str, typer.Argument(help="The DID to resolve.")],
        insecure_http_host: InsecureHosts = None,
    ) -> None:
        """Resolve a DID (key, peer, web) and print its DID document."""
        insecure = frozenset(insecure_http_host or ())
        err = error_console()
        try:
            check_did(did)  # command-line advice before any fetch
            typer.echo(asyncio.run(_resolve(did, insecure)))
        except HealthMyDataError as exc:
            print_error(err, exc)
            hint = loopback_hint([exc.message], insecure)
            if hint:
                err.print(f"[yellow]hint:[/] {escape(hint)}")
            raise typer.Exit(2) from None
