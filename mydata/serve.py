"""``mydata serve ROLE``: run a party's HTTP service on uvicorn.

This is one of the few places that knows every party (DESIGN.md section 4). The admin token
comes from ``MYDATA_ADMIN_TOKEN``; ``--admin-insecure-mode`` runs without one, for local testing
only, and says so loudly. That mode is refused on an interface other than loopback (anyone on
the network could act as the party) and together with a token (a token that is set is never
switched off by a flag: give one or the other).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import typer

from agent.errors import HealthMyDataError
from agent.servenames import (
    ADMIN_TOKEN_ENV,
    NO_PASSPHRASE,
    WALLET_PASSPHRASE_ENV,
    LogFormat,
    LogLevel,
    is_loopback,
)
from agent.storeconfig import resolve_store, store_key

if TYPE_CHECKING:
    from agent.storage.opening import StoreOpening

__all__ = ["register"]

#: ``wallet.vault.DEFAULT_MAX_BLOB_BYTES``, the default of ``--vault-max-bytes``: written out
#: here because importing :mod:`wallet.vault` for it would load the wallet's modules into every
#: role's start-up (tests/startup checks that the two agree).
VAULT_MAX_BYTES_DEFAULT = 64 * 1024 * 1024


class Role(StrEnum):
    HOSPITAL = "hospital"
    WALLET = "wallet"
    VERIFIER = "verifier"
    VAULT = "vault"
    OPERATOR = "operator"


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        role: Annotated[Role, typer.Argument(help="Which party's service to run.")],
        host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
        store: Annotated[str | None, typer.Option(help="The party's store (see init).")] = None,
        public_url: Annotated[
            str | None,
            typer.Option(
                help="The URL peers use to reach this service (default http://HOST:PORT): "
                "https, or http on loopback or an --insecure-http-host."
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
        log_level: Annotated[
            LogLevel, typer.Option(help="Logging level.", case_sensitive=False)
        ] = LogLevel.INFO,
        log_format: Annotated[
            LogFormat,
            typer.Option(help="json: one JSON object per line (request ids); text: plain."),
        ] = LogFormat.JSON,
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
        operator_url: Annotated[
            list[str] | None,
            typer.Option(
                help="verifier: the service URL of the --operator of the same position "
                "(repeat): its trust list is fetched and refreshed before max-age runs out."
            ),
        ] = None,
        trust_refresh: Annotated[
            int | None,
            typer.Option(min=1, help="verifier: refresh the trust data at least every N seconds."),
        ] = None,
        policy: Annotated[
            str, typer.Option(help="verifier: generic, emergency or insurer.")
        ] = "generic",
        purpose: Annotated[
            str | None, typer.Option(help="verifier: the purpose this verifier acts for.")
        ] = None,
        status_max_age: Annotated[
            int,
            typer.Option(
                min=0,
                help="hospital: seconds verifiers may cache a status list (0: no-cache, "
                "revocation seen at once).",
            ),
        ] = 300,
        vault_max_bytes: Annotated[
            int, typer.Option(min=1, help="vault: the largest backup accepted, in bytes.")
        ] = VAULT_MAX_BYTES_DEFAULT,
        ssl_certfile: Annotated[
            Path | None, typer.Option(help="Serve HTTPS with this certificate (PEM).")
        ] = None,
        ssl_keyfile: Annotated[
            Path | None, typer.Option(help="The certificate's private key (PEM).")
        ] = None,
        workers: Annotated[
            int,
            typer.Option(
                min=1,
                help="Worker processes sharing the port (hospital, verifier, vault, operator; "
                "one store: PostgreSQL for more than one).",
            ),
        ] = 1,
    ) -> None:
        """Run a party's HTTP service (VC-API, DIDComm, status lists, did:web; the wallet's
        API on 127.0.0.1, its passphrase from MYDATA_PASSPHRASE or asked for; the backup vault,
        which keeps only ciphertext)."""
        # Command-line refusals first: before a passphrase prompt or the service's imports.
        _check_command_line(
            host=host,
            public_url=public_url,
            admin_insecure_mode=admin_insecure_mode,
            operator=operator or [],
            operator_url=operator_url or [],
            insecure_hosts=frozenset(insecure_http_host or ()),
        )
        for option, path in (("--ssl-certfile", ssl_certfile), ("--ssl-keyfile", ssl_keyfile)):
            if path is not None and not (path.is_file() and os.access(path, os.R_OK)):
                _refuse(f"{option} {path}: not a file this user can read")
        uri = resolve_store(store, role.value)
        opening: StoreOpening | None = None
        if role is Role.WALLET and workers == 1:
            # Begun before the service's modules load (FastAPI, uvicorn, the wallet's): the
            # passphrase's Argon2i (half a second) runs meanwhile (agent.storage.opening).
            from agent.storage.opening import StoreOpening

            passphrase = os.environ.get(WALLET_PASSPHRASE_ENV)
            if not passphrase and not os.isatty(0):
                # No terminal to ask on (a service manager, a pipe): say what to set, exit 2.
                from agent.console import error_console  # rich: only for an error

                error_console().print(f"[red]error:[/] {NO_PASSPHRASE}", soft_wrap=True)
                raise typer.Exit(2)
            passphrase = passphrase or typer.prompt("Wallet passphrase", hide_input=True)
            opening = StoreOpening(uri, passphrase=passphrase, profile=profile, create=False)
        from agent.observability import configure_logging, run_service
        from agent.service import AgentServiceConfig

        configure_logging(log_level, log_format)
        insecure_hosts = frozenset(insecure_http_host or ())
        try:
            if workers > 1 and role is Role.WALLET:
                raise ValueError("the wallet is one citizen's service: it runs one worker")
            # The wallet's own store is the citizen's (passphrase); its agent has a store beside.
            # Each role imports only its own party's modules (start-up time).
            if role is Role.WALLET:
                from wallet.api import agent_store_uri  # not wallet.cli (rich, the commands)

                agent_uri = agent_store_uri(uri, agent_store)
            else:
                agent_uri = uri
            if (ssl_certfile is None) != (ssl_keyfile is None):
                raise ValueError("give both --ssl-certfile and --ssl-keyfile, or neither")
            scheme = "https" if ssl_certfile else "http"
            config = AgentServiceConfig(
                store_uri=agent_uri,
                store_key=store_key(agent_uri, create=role in (Role.VERIFIER, Role.VAULT)),
                public_url=public_url or f"{scheme}://{host}:{port}",
                title=f"health-mydata {role.value}",
                insecure_admin=admin_insecure_mode,
                # A hospital's or operator's store is made by its 'init' (its keys, its DID):
                # a service started on a mistyped path must not leave an empty store behind.
                # The verifier, vault and wallet agent make theirs at first start.
                create_store=role not in (Role.HOSPITAL, Role.OPERATOR),
                missing_store_hint=(
                    f"run 'mydata {role.value} init' first, or check --store"
                    if role in (Role.HOSPITAL, Role.OPERATOR)
                    else None
                ),
            )
            if role is Role.WALLET:
                from wallet.api import WalletOpenArgs, create_wallet_app

                assert opening is not None  # one worker (checked above)
                wallet_args = WalletOpenArgs(
                    uri=uri,
                    passphrase=passphrase,
                    profile=profile,
                    insecure_http_hosts=insecure_hosts,
                    auto_accept=auto_accept,
                )
                service = create_wallet_app(config, wallet_args, opening=opening)
            elif role is Role.VERIFIER:
                from agent.trustsync import sources_from
                from verifier.api import VerifierSettings, create_verifier_app

                service = create_verifier_app(
                    config,
                    VerifierSettings(
                        operator_dids=frozenset(operator or ()),
                        trust_cache=trust_cache,
                        operator_urls=tuple(
                            (s.did, s.url)
                            for s in sources_from(operator or [], operator_url or [])
                            if s.url
                        ),
                        trust_refresh=timedelta(seconds=trust_refresh) if trust_refresh else None,
                        insecure_http_hosts=insecure_hosts,
                        default_role=policy,
                        purpose=purpose,
                    ),
                )
            elif role is Role.VAULT:
                from wallet.vault import create_vault_app

                service = create_vault_app(config, max_blob_bytes=vault_max_bytes)
            elif role is Role.OPERATOR:
                from governance.api import create_operator_app

                service = create_operator_app(config, insecure_http_hosts=insecure_hosts)
            else:
                from issuer.api import create_hospital_app

                service = create_hospital_app(
                    config, insecure_http_hosts=insecure_hosts, status_max_age=status_max_age
                )
        except HealthMyDataError as exc:
            from agent.console import error_console, print_error  # rich: only for an error

            print_error(error_console(), exc)
            raise typer.Exit(1) from None
        except ValueError as exc:  # no admin token and no insecure mode
            from agent.console import error_console

            error_console().print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
        if workers > 1:
            _serve_workers(
                service,
                workers,
                host=host,
                port=port,
                log_level=log_level,
                ssl_certfile=ssl_certfile,
                ssl_keyfile=ssl_keyfile,
            )
            return
        # Graceful: on SIGTERM readiness turns 503, requests in flight finish (operations.md).
        run_service(
            service,
            host=host,
            port=port,
            log_level=log_level,
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
        )


def _refuse(message: str) -> None:
    """Unusable command-line input: one ``error:`` line, exit 2 (docs/operations.md)."""
    from agent.console import error_console, escape  # rich: only for an error

    error_console().print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(2)


def _check_command_line(
    *,
    host: str,
    admin_insecure_mode: bool,
    operator: list[str],
    operator_url: list[str],
    insecure_hosts: frozenset[str],
    public_url: str | None = None,
) -> None:
    """Refuse option combinations that cannot work or are unsafe, before anything starts.

    - ``--admin-insecure-mode`` on a non-loopback ``--host``: an unauthenticated admin API on
      the network; with a token set: the flag would silently switch the token off.
    - a ``--public-url`` that is not an absolute http(s) URL with a host, has a query or
      fragment, or uses http to a host neither loopback nor an ``--insecure-http-host``
      (:func:`_check_public_url`): peers would be handed links that lead nowhere; none at all
      on a non-loopback ``--host`` (the default URL is made from the address it binds).
    - an ``--operator-url`` over plain http to a host not named by ``--insecure-http-host``:
      the trust sync would refuse it at every refresh and the verifier retry forever; an
      ``--operator-url`` with no ``--operator`` it belongs to.
    """
    if admin_insecure_mode:
        if not is_loopback(host):
            _refuse(
                f"--admin-insecure-mode serves an unauthenticated admin API: it is allowed on "
                f"a loopback --host only (127.0.0.1, ::1, localhost), not {host!r}"
            )
        if os.environ.get(ADMIN_TOKEN_ENV):
            _refuse(
                f"{ADMIN_TOKEN_ENV} is set and --admin-insecure-mode is given: give one or the "
                "other (the flag never switches off a token that is set)"
            )
    if public_url is not None:
        _check_public_url(public_url, insecure_hosts)
    elif not is_loopback(host):
        _refuse(
            f"--host {host} serves on the network: give --public-url, the https URL peers reach "
            f"this service at (the default, http://{host}:PORT, would be handed out in "
            "invitations and DIDComm endpoints that lead nowhere)"
        )
    if len(operator_url) > len(operator):
        _refuse(
            "each --operator-url belongs to an --operator DID (give them in pairs, in the same "
            "order)"
        )
    for url in operator_url:
        parts = urlsplit(url)
        if parts.scheme == "http" and (parts.hostname or "") not in insecure_hosts:
            _refuse(
                f"--operator-url {url} uses http; use https or add --insecure-http-host "
                f"{parts.hostname or 'HOST'} (testing only)"
            )
        if parts.scheme not in ("http", "https") or not parts.hostname:
            _refuse(f"--operator-url {url} is not an http(s) URL")


def _check_public_url(public_url: str, insecure_hosts: frozenset[str]) -> None:
    """Refuse a ``--public-url`` peers could not use: invitations (``URL/invite?_oob=``) and
    the DIDComm endpoint (``URL/didcomm``) are made from it, so ``notaurl`` would be handed out
    as ``notaurl/invite?...``. It must be what a party's base URL must be
    (:func:`agent.identity.check_base_url`: absolute http(s), a host, no query, fragment or
    user), and https unless its host is loopback or named by ``--insecure-http-host``, as
    for ``--operator-url``.
    """
    from agent.errors import InvalidInputError
    from agent.identity import check_base_url  # nothing more than the service loads anyway

    try:
        check_base_url(public_url, party="this service")
    except InvalidInputError:
        _refuse(
            f"--public-url {public_url[:200]!r} is not an absolute http(s) URL with a host "
            "(and no user, query or fragment): give the URL peers reach this service at, such "
            "as https://service.example"
        )
    parts = urlsplit(public_url)
    hostname = parts.hostname or ""
    if parts.scheme == "http" and not (is_loopback(hostname) or hostname in insecure_hosts):
        _refuse(
            f"--public-url {public_url} uses http; use https (TLS here with --ssl-certfile, or "
            f"at a proxy in front) or add --insecure-http-host {hostname} (testing only)"
        )


def _stop_when_orphaned() -> None:
    """In a worker: shut down gracefully (SIGTERM to itself) once the parent is gone, so that
    killing the parent with SIGKILL leaves no worker behind."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _serve_workers(
    service: Any,
    workers: int,
    *,
    host: str,
    port: int,
    log_level: str,
    ssl_certfile: Path | None,
    ssl_keyfile: Path | None,
) -> None:
    """Pre-fork: bind the port once, fork ``workers`` processes that each run ``service`` (its
    lifespan, so its own store connections) on the shared socket, and let the kernel spread
    connections among them. The parent forwards SIGTERM/SIGINT (each worker shuts down
    gracefully, as :func:`run_service`) and waits for all of them.

    Forking after the imports shares the interpreter's pages between workers (copy-on-write)
    and costs no second start-up; nothing has opened a store or a thread yet (the lifespan
    runs in each worker). Nothing before the fork may draw from askar's random generator
    either: it is per thread and fork copies it, so every worker would draw the same keys and
    nonces (a new store's key comes from :mod:`secrets`, see ``generate_raw_key``).
    """
    from agent.observability import GracefulServer, service_config

    config = service_config(
        service,
        host=host,
        port=port,
        log_level=log_level,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
    )
    sock = config.bind_socket()
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        # asyncio turns Nagle off only on sockets created with IPPROTO_TCP, which this one
        # (socket(AF_INET, SOCK_STREAM), proto 0) is not; accepted connections inherit the
        # option from the listener. Without it a response written in two parts (headers, then
        # body) waits for the client's delayed ACK: 40 ms per request.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    children: list[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # a worker: never returns into the parent's code
            _stop_when_orphaned()
            code = 0
            try:
                server = GracefulServer(config)
                server.worker = True
                server.run(sockets=[sock])
            except SystemExit as exc:  # uvicorn's start-up failure (3), already logged
                code = exc.code if isinstance(exc.code, int) else 1
            except KeyboardInterrupt:
                # Ctrl-C reaches every process of the terminal's group: uvicorn shut down
                # gracefully, then re-raised it. End as killed by SIGINT, as a worker told to
                # stop does (not a failure, no traceback).
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                os.kill(os.getpid(), signal.SIGINT)
                code = 130  # not reached
            except BaseException:
                logging.getLogger(__name__).exception("worker %d failed", os.getpid())
                code = 1
            os._exit(code)
        children.append(pid)
    sock.close()
    code = _supervise(children)
    if code:
        raise SystemExit(code)


def _supervise(children: list[int]) -> int:
    """Forward SIGTERM/SIGINT to the workers (as SIGTERM) and wait for all of them; returns the
    exit code of the service: 0, or the first failed worker's (1 for one killed by another
    signal).

    A worker that ends stops the others. One that fails (its start-up refused, a crash, the
    OOM killer) makes the service exit non-zero, so that its supervisor (systemd, Kubernetes)
    restarts it whole, rather than it serving on with fewer workers than configured and no
    sign of it but a log line. A worker ending by SIGTERM or SIGINT after the parent forwarded
    a stop was told to stop (uvicorn re-raises the signal after its graceful shutdown): not a
    failure; killed so by anyone else, it is one (the supervisor restarts the service).
    """
    log = logging.getLogger(__name__)
    stopping = False

    failed = 0
    waiting = set(children)

    def forward(_signum: int, _frame: object) -> None:
        # Always as SIGTERM: the workers take SIGINT from the terminal's process group as
        # nobody's (GracefulServer.worker); a second stop makes them stop at once.
        nonlocal stopping
        stopping = True
        for pid in list(waiting):  # never a reaped pid: the kernel may have reused it
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    while waiting:
        pid, status = os.wait()
        if pid not in waiting:
            continue
        waiting.discard(pid)
        code = os.waitstatus_to_exitcode(status)
        told_to_stop = stopping and code in (-signal.SIGTERM, -signal.SIGINT)
        if code != 0 and not told_to_stop and not failed:
            failed = code if code > 0 else 1
            log.error(
                "worker %d exited with %s; stopping the other workers (exit code %d)",
                pid,
                code if code > 0 else f"signal {-code}",
                failed,
            )
        if not stopping:
            forward(signal.SIGTERM, None)
    return failed
