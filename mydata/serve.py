"""``mydata serve ROLE``: run a party's HTTP service on uvicorn.

This is one of the few places that knows every party (DESIGN.md section 4). The admin token
comes from ``MYDATA_ADMIN_TOKEN``; ``--admin-insecure-mode`` runs without one, for local testing
only, and says so loudly.
"""

from __future__ import annotations

import logging
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from agent.console import error_console, print_error
from agent.errors import HealthMyDataError
from agent.service import ADMIN_TOKEN_ENV, AgentServiceConfig
from agent.storeconfig import resolve_store, store_key
from issuer.api import create_hospital_app
from verifier.api import VerifierSettings, create_verifier_app
from wallet.api import WalletOpenArgs, create_wallet_app
from wallet.cli import PASSPHRASE_ENV, agent_store_uri
from wallet.vault import DEFAULT_MAX_BLOB_BYTES, create_vault_app

__all__ = ["register"]


class Role(StrEnum):
    HOSPITAL = "hospital"
    WALLET = "wallet"
    VERIFIER = "verifier"
    VAULT = "vault"


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        role: Annotated[Role, typer.Argument(help="Which party's service to run.")],
        host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
        store: Annotated[str | None, typer.Option(help="The party's store (see init).")] = None,
        public_url: Annotated[
            str | None,
            typer.Option(
                help="The URL peers use to reach this service (default http://HOST:PORT)."
            ),
        ] = None,
        admin_insecure_mode: Annotated[
            bool,
            typer.Option(help=f"No admin auth (local testing only; else set {ADMIN_TOKEN_ENV})."),
        ] = False,
        insecure_http_host: Annotated[
            list[str] | None,
            typer.Option(help="A host whose did:web may be fetched over http (testing only)."),
        ] = None,
        log_level: Annotated[str, typer.Option(help="Logging level.")] = "info",
        agent_store: Annotated[
            str | None,
            typer.Option(help="wallet: the DIDComm agent's store (default beside --store)."),
        ] = None,
        profile: Annotated[
            str | None, typer.Option(help="wallet: the wallet store's profile.")
        ] = None,
        auto_accept: Annotated[
            bool, typer.Option(help="wallet: accept every credential offer (demo only).")
        ] = False,
        operator: Annotated[
            list[str] | None,
            typer.Option(
                help="verifier: a trusted operator DID (repeat); enables the trust check."
            ),
        ] = None,
        trust_cache: Annotated[
            Path | None, typer.Option(help="verifier: a saved trust cache (JSON) to load.")
        ] = None,
        policy: Annotated[
            str, typer.Option(help="verifier: generic, emergency or insurer.")
        ] = "generic",
        purpose: Annotated[
            str | None, typer.Option(help="verifier: the purpose this verifier acts for.")
        ] = None,
        vault_max_bytes: Annotated[
            int, typer.Option(min=1, help="vault: the largest backup accepted, in bytes.")
        ] = DEFAULT_MAX_BLOB_BYTES,
        ssl_certfile: Annotated[
            Path | None, typer.Option(help="Serve HTTPS with this certificate (PEM).")
        ] = None,
        ssl_keyfile: Annotated[
            Path | None, typer.Option(help="The certificate's private key (PEM).")
        ] = None,
    ) -> None:
        """Run a party's HTTP service (VC-API, DIDComm, status lists, did:web; the wallet's
        API on 127.0.0.1, its passphrase from MYDATA_PASSPHRASE or asked for; the backup vault,
        which keeps only ciphertext)."""
        logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s %(message)s")
        uri = resolve_store(store, role.value)
        insecure_hosts = frozenset(insecure_http_host or ())
        try:
            # The wallet's own store is the citizen's (passphrase); its agent has a store beside.
            agent_uri = agent_store_uri(uri, agent_store) if role is Role.WALLET else uri
            if (ssl_certfile is None) != (ssl_keyfile is None):
                raise ValueError("give both --ssl-certfile and --ssl-keyfile, or neither")
            scheme = "https" if ssl_certfile else "http"
            config = AgentServiceConfig(
                store_uri=agent_uri,
                store_key=store_key(agent_uri, create=role in (Role.VERIFIER, Role.VAULT)),
                public_url=public_url or f"{scheme}://{host}:{port}",
                title=f"health-mydata {role.value}",
                insecure_admin=admin_insecure_mode,
            )
            if role is Role.WALLET:
                passphrase = os.environ.get(PASSPHRASE_ENV) or typer.prompt(
                    "Wallet passphrase", hide_input=True
                )
                service = create_wallet_app(
                    config,
                    WalletOpenArgs(
                        uri=uri,
                        passphrase=passphrase,
                        profile=profile,
                        insecure_http_hosts=insecure_hosts,
                        auto_accept=auto_accept,
                    ),
                )
            elif role is Role.VERIFIER:
                service = create_verifier_app(
                    config,
                    VerifierSettings(
                        operator_dids=frozenset(operator or ()),
                        trust_cache=trust_cache,
                        insecure_http_hosts=insecure_hosts,
                        default_role=policy,
                        purpose=purpose,
                    ),
                )
            elif role is Role.VAULT:
                service = create_vault_app(config, max_blob_bytes=vault_max_bytes)
            else:
                service = create_hospital_app(config, insecure_http_hosts=insecure_hosts)
        except HealthMyDataError as exc:
            print_error(error_console(), exc)
            raise typer.Exit(1) from None
        except ValueError as exc:  # no admin token and no insecure mode
            error_console().print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
        uvicorn.run(
            service,
            host=host,
            port=port,
            log_level=log_level,
            ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
            ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
        )
