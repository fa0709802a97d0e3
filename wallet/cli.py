"""``mydata wallet ...``: the citizen's wallet from the command line.

Two kinds of command:

* **local** ones open the wallet store directly (``--store``, default
  ``$MYDATA_HOME/wallet.sqlite``; encrypted with a key from the passphrase in
  ``MYDATA_PASSPHRASE`` or asked for): ``init``, ``import``, ``list``, ``search``, ``show``,
  ``remove``, ``consents``, ``backup``, ``restore``, ``emergency-card``;
* **DIDComm** ones ask the running wallet service (``mydata serve wallet``), since only a
  running agent can receive the answers: ``connect``, ``offers``, ``accept``, ``receive``,
  ``requests``, ``present``, ``decline`` (a presentation request or a credential offer),
  ``withdraw``. They call its admin API at
  ``--service`` (default ``$MYDATA_WALLET_URL`` or ``http://127.0.0.1:8000``) with the token in
  ``MYDATA_ADMIN_TOKEN``.

``backup`` and ``restore`` also take ``--vault URL``: a backup vault (``mydata serve vault``,
:mod:`wallet.vault`) that keeps only the ciphertext, in a slot the recovery phrase alone opens.

The service's DIDComm agent keeps its relationships in a store of its own beside the wallet
(:func:`agent_store_uri`: ``wallet.sqlite`` -> ``wallet.agent.sqlite``, raw key in
``wallet.agent.sqlite.key``), which ``init`` and ``restore`` create.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import httpx
import typer
from rich.table import Table

from agent.cli import loopback_hint
from agent.cliutil import (
    looks_like_inline_text,
    refuse,
    run_command,
    shown_argument,
    write_private,
)
from agent.console import error_console, escape, print_error, stdout_console
from agent.dids import DIDResolver
from agent.errors import (
    ErrorCode,
    HealthMyDataError,
    InvalidInputError,
    ProtocolStateError,
    StorageError,
)
from agent.jsonio import DEFAULT_MAX_BYTES
from agent.servenames import NO_PASSPHRASE
from agent.service import ADMIN_TOKEN_ENV
from agent.storage import Store, open_store, settle_pending_calls
from agent.storeconfig import key_file_for, resolve_store, store_key
from agent.trustsync import OperatorSource, checked_url, sources_from
from wallet.api import (
    PASSPHRASE_ENV,
    agent_store_uri,
    consent_to_json,
    make_emergency_card,
    parse_lifetime,
)
from wallet.backup import (
    backup,
    generate_recovery_phrase,
    normalise_recovery_phrase,
    profile_is_empty,
    restore,
    write_backup_file,
)
from wallet.consent import list_consents
from wallet.emergency import EmergencyCard
from wallet.errors import (
    BackupError,
    CredentialImportError,
    CredentialNotFoundError,
    CredentialStatusError,
)
from wallet.holder import CredentialFormat, StoredCredential, Wallet, holder_claims, open_wallet
from wallet.trust import add_operator, list_operators, remove_operator
from wallet.vault import (
    VaultReceipt,
    VaultSlot,
    fetch_backup,
    remember_etag,
    remembered_etag,
    upload_backup,
    vault_slot,
)

#: PASSPHRASE_ENV and agent_store_uri are the service's (wallet.api), re-exported: ``mydata
#: serve wallet`` takes them from there without loading this module (rich, the commands).
__all__ = ["PASSPHRASE_ENV", "SERVICE_ENV", "agent_store_uri", "register"]

_log = logging.getLogger(__name__)


_T = TypeVar("_T")

#: The running wallet service's URL.
SERVICE_ENV = "MYDATA_WALLET_URL"
_DEFAULT_SERVICE = "http://127.0.0.1:8000"

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="A path, sqlite://PATH or postgres://... (default $MYDATA_HOME/wallet.sqlite).",
    ),
]
ProfileOption = Annotated[
    str | None, typer.Option("--profile", help="A profile of the store (e.g. a child's records).")
]
ServiceOption = Annotated[
    str | None,
    typer.Option(
        "--service",
        help=f"The wallet service's URL (default ${SERVICE_ENV} or {_DEFAULT_SERVICE}).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
AgentStoreOption = Annotated[
    str | None,
    typer.Option("--agent-store", help="The service's DIDComm store (default beside --store)."),
]
InsecureHosts = Annotated[
    list[str] | None,
    typer.Option(
        "--insecure-http-host",
        help="A host whose did:web is served over plain http (local testing only).",
    ),
]


OperatorInsecureHosts = Annotated[
    list[str] | None,
    typer.Option(
        "--insecure-http-host",
        help="A host whose did:web or operator service is served over plain http (local "
        "testing only; start 'mydata serve wallet' with the same).",
    ),
]


def _passphrase(new: bool) -> str:
    """``MYDATA_PASSPHRASE``, else asked for on the terminal; with no terminal (a pipe, cron)
    nothing can be asked, so the command stops saying what to set (exit 2)."""
    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return value
    if not os.isatty(0):
        error_console().print(f"[red]error:[/] {NO_PASSPHRASE}", soft_wrap=True)
        raise typer.Exit(2)
    prompt = "New wallet passphrase" if new else "Wallet passphrase"
    text: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=new)
    return text


@asynccontextmanager
async def _local(
    store: str | None,
    profile: str | None,
    *,
    create: bool = False,
    insecure_hosts: list[str] | None = None,
) -> AsyncIterator[Wallet]:
    uri = resolve_store(store, "wallet")
    passphrase = _passphrase(create)
    async with httpx.AsyncClient(timeout=10.0, follow_redirects=False) as http:
        resolver = DIDResolver(
            http_client=http, insecure_http_hosts=frozenset(insecure_hosts or ())
        )
        try:
            wallet = await open_wallet(
                uri,
                passphrase=passphrase,
                profile=profile,
                create=create,
                resolver=resolver,
                http_client=http,
            )
        except StorageError as exc:
            if exc.code is ErrorCode.STORE_NOT_FOUND:
                raise StorageError(
                    f"no wallet at {uri} (or no such profile): run 'mydata wallet init' first",
                    code=ErrorCode.STORE_NOT_FOUND,
                ) from exc
            raise
        try:
            yield wallet
        finally:
            await wallet.close()


async def _ensure_agent_store(uri: str) -> None:
    opened = await open_store(uri, raw_key=store_key(uri, create=True))
    await opened.close()


def _check_operator_sources(
    sources: list[OperatorSource], insecure_hosts: list[str] | None, command: str
) -> list[str]:
    """Refuse (exit 2, nothing stored) what the wallet service would never fetch, as it
    would refuse it (:func:`agent.trustsync.checked_url`, :class:`agent.trustsync.TrustSync`):

    * an operator without a URL: the service fetches the trust list and accreditations from
      the operator's service and keeps no trust cache, so the operator would never be used;
    * a URL over plain http to a host that ``--insecure-http-host`` does not name: the service
      allows plain http only to the hosts named by its own ``--insecure-http-host``, with no
      default (not even loopback), so the CLI applies the same rule.

    :returns: the hosts reached over plain http (the service must be started allowing them).
    """
    allowed = frozenset(insecure_hosts or ())
    plain: list[str] = []
    for source in sources:
        if not source.url:
            refuse(
                f"{command}: --operator {source.did} has no --operator-url: the wallet service "
                "fetches the operator's trust list and accreditations from its service URL and "
                "keeps no trust cache, so an operator without one would never be used; give "
                "--operator DID --operator-url URL (in pairs)"
            )
        try:
            checked_url(source.url, allowed)  # the service's own rule
        except InvalidInputError:
            parts = urlsplit(source.url)
            host = parts.hostname
            if parts.scheme.lower() != "http" or not host:
                refuse(f"{command}: --operator-url {source.url} is not an http(s) URL")
            refuse(
                f"{command}: --operator-url {source.url} uses plain http, which the wallet "
                "service refuses to fetch from (it allows plain http only to the hosts named "
                "by its --insecure-http-host); use https, or, for an operator on this machine "
                f"(local testing only), add --insecure-http-host {host} here and start the "
                f"service with it too: mydata serve wallet --insecure-http-host {host}"
            )
        parsed = httpx.URL(source.url)
        if parsed.scheme == "http" and parsed.host not in plain:
            plain.append(parsed.host)
    return plain


async def _add_operators(
    agent_uri: str, sources: list[OperatorSource], insecure_hosts: list[str] | None
) -> None:
    """Store the operators (checked first by :func:`_check_operator_sources`)."""
    if not sources:
        return
    allowed = frozenset(insecure_hosts or ())
    opened = await open_store(agent_uri, raw_key=store_key(agent_uri, create=True))
    try:
        for source in sources:
            await add_operator(opened, source.did, source.url, insecure_http_hosts=allowed)
    finally:
        await opened.close()


def _plain_http_note(hosts: list[str]) -> str | None:
    """What ``init`` and ``trust add`` say after storing an operator URL over plain http."""
    if not hosts:
        return None
    flags = " ".join(f"--insecure-http-host {host}" for host in hosts)
    return (
        f"plain http to {', '.join(hosts)}: the wallet service fetches from it only when "
        f"started with {flags} (mydata serve wallet {flags})"
    )


# --- the service's admin API -------------------------------------------------------------------


def _service_request(
    service: str | None, method: str, path: str, body: Any = None
) -> httpx.Response:
    """The wallet service's answer, whatever its status; one that cannot be reached ends the
    command (exit 1)."""
    url = (service or os.environ.get(SERVICE_ENV) or _DEFAULT_SERVICE).rstrip("/")
    token = os.environ.get(ADMIN_TOKEN_ENV, "")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        return httpx.request(method, url + path, json=body, headers=headers, timeout=60.0)
    except httpx.HTTPError as exc:
        error_console().print(
            f"[red]error:[/] cannot reach the wallet service at {escape(url)} "
            f"({escape(type(exc).__name__)}); is 'mydata serve wallet' running?"
        )
        raise typer.Exit(1) from None


def _service_error(response: httpx.Response) -> dict[str, Any]:
    """The service's error body (``{"code", "message", "details"?}``), or ``{}``."""
    try:
        error = response.json()
    except ValueError:
        return {}
    return error if isinstance(error, dict) else {}


def _fail(response: httpx.Response) -> None:
    """Print the service's error (``error: [code] message``) and end with exit 1."""
    error = _service_error(response)
    if "code" in error:
        text = f"[{error.get('code')}] {error.get('message')}"
    else:
        text = f"HTTP {response.status_code}"
    error_console().print(f"[red]error:[/] {escape(text)}")
    raise typer.Exit(1)


def _service_call(service: str | None, method: str, path: str, body: Any = None) -> Any:
    response = _service_request(service, method, path, body)
    if response.status_code >= 400:
        _fail(response)
    return response.json()


def _unknown_thread(response: httpx.Response) -> bool:
    """Whether the service answered that it has no such thread (404 ``unknownThread``)."""
    if response.status_code != 404:
        return False
    details = _service_error(response).get("details")
    return isinstance(details, dict) and details.get("reason") == "unknownThread"


# --- output ------------------------------------------------------------------------------------


def _credential_table(items: list[StoredCredential]) -> Table:
    table = Table(title=f"{len(items)} credential(s)")
    for column in ("id", "format", "summary", "issuer", "issued"):
        table.add_column(column, overflow="fold")
    for meta in items:
        table.add_row(
            escape(meta.id),
            str(meta.format),
            escape(meta.summary),
            escape(meta.issuer or ""),
            meta.issued.date().isoformat() if meta.issued else "",
        )
    return table


def _print_credentials(items: list[StoredCredential], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps([m.to_json() for m in items], indent=2))
    else:
        stdout_console().print(_credential_table(items))


def _print_plan(request: dict[str, Any]) -> None:
    out = stdout_console()
    plan = request.get("plan")
    out.print(f"request {escape(request['thread_id'])}")
    out.print(f"  audience  {escape(str(request['audience']))}")
    trust = request.get("verifier_trust")
    if isinstance(trust, dict):
        accredited = trust.get("accredited")
        colour = "green" if accredited is True else "bold red" if accredited is False else "yellow"
        out.print(f"  [{colour}]{escape(str(trust.get('text')))}[/]")
    out.print(f"  retention {escape(str(request['retention']))} ({escape(request['legal_basis'])})")
    if plan is None:
        problem = request.get("problem") or {}
        out.print(
            f"  [yellow]cannot be answered:[/] {escape(str(problem.get('message', '')))}; "
            "decline it"
        )
        return
    for line in plan["description"]:
        out.print("  " + escape(line))
    table = Table(title="what the verifier will see")
    table.add_column("credential", overflow="fold")
    table.add_column("claim", overflow="fold")
    table.add_column("value", overflow="fold")
    for item in plan["items"]:
        name = item["credential"]["summary"]
        if item["wholeCredential"]:
            table.add_row(escape(name), "(the whole credential)", "")
            continue
        shown = item["shown"]
        for pointer in item["disclosed"]:
            table.add_row(escape(name), escape(pointer), escape(_at(shown, pointer)))
    out.print(table)


def _at(document: Any, pointer: str) -> str:
    node = document
    for part in pointer.strip("/").split("/") if pointer.strip("/") else []:
        key = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return ""
    text = node if isinstance(node, str) else json.dumps(node, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "..."


def _consent_table(consents: list[dict[str, Any]]) -> Table:
    table = Table(title=f"{len(consents)} consent(s)")
    for column in ("id", "status", "recipient", "purpose", "given", "fields", "receipt"):
        table.add_column(column, overflow="fold")
    for consent in consents:
        fields = sum(len(f.get("fields", [])) for f in consent.get("fields") or [])
        receipt = consent.get("receipt")
        table.add_row(
            escape(consent["id"]),
            consent["status"],
            escape(consent["recipient"].get("name", "")),
            escape(consent["purpose"]),
            escape(str(consent.get("time"))),
            str(fields),
            "deleted" if receipt else "",
        )
    return table


def _parse_day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{option} takes a day, YYYY-MM-DD") from None


# --- commands ----------------------------------------------------------------------------------


def register(app: typer.Typer) -> None:
    wallet_app = typer.Typer(
        help="The citizen's wallet: receive, keep, find, present with consent, back up.",
        no_args_is_help=True,
    )
    app.add_typer(wallet_app, name="wallet")
    _register_local(wallet_app)
    _register_service(wallet_app)
    _register_backup(wallet_app)
    _register_trust(wallet_app)


def _register_trust(wallet_app: typer.Typer) -> None:
    trust_app = typer.Typer(
        help="The trust operators whose accreditations show which verifiers are accredited.",
        no_args_is_help=True,
    )
    wallet_app.add_typer(trust_app, name="trust")

    def _agent_uri(store: str | None, agent_store: str | None) -> str:
        return agent_store_uri(resolve_store(store, "wallet"), agent_store)

    @trust_app.command("add")
    def add(
        operator: Annotated[str, typer.Option(help="The operator's DID (only it is trusted).")],
        operator_url: Annotated[
            str | None,
            typer.Option(help="Its service URL (trust list, accreditations); needed."),
        ] = None,
        store: StoreOption = None,
        agent_store: AgentStoreOption = None,
        insecure_http_host: OperatorInsecureHosts = None,
    ) -> None:
        """Trust an operator; a running wallet service uses it after a restart.

        --operator-url is https, or plain http to a host named by --insecure-http-host (local
        testing only), which 'mydata serve wallet' must then be started with too.
        """
        sources = [OperatorSource(operator, operator_url)]
        plain = _check_operator_sources(sources, insecure_http_host, "trust add")
        uri = _agent_uri(store, agent_store)
        run_command(lambda: _add_operators(uri, sources, insecure_http_host))
        out = stdout_console()
        out.print(
            f"trusting operator {escape(operator)} (fetched from {escape(operator_url or '')})"
        )
        note = _plain_http_note(plain)
        if note:
            out.print(f"[yellow]note:[/] {escape(note)}", soft_wrap=True)
        out.print(_RESTART_NOTE)

    @trust_app.command("list")
    def list_trusted(
        store: StoreOption = None, agent_store: AgentStoreOption = None, as_json: JsonOption = False
    ) -> None:
        """The operators this wallet trusts."""
        uri = _agent_uri(store, agent_store)

        async def work() -> list[OperatorSource]:
            opened = await open_store(uri, raw_key=store_key(uri))
            try:
                return await list_operators(opened)
            finally:
                await opened.close()

        found = run_command(work)
        if as_json:
            typer.echo(json.dumps([{"did": s.did, "url": s.url} for s in found], indent=2))
            return
        if not found:
            stdout_console().print("no operator is trusted: mydata wallet trust add")
        for source in found:
            stdout_console().print(f"{escape(source.did)}  {escape(source.url or '(no URL)')}")

    @trust_app.command("remove")
    def remove(
        operator: Annotated[str, typer.Option(help="The operator's DID.")],
        store: StoreOption = None,
        agent_store: AgentStoreOption = None,
    ) -> None:
        """Stop trusting an operator."""
        uri = _agent_uri(store, agent_store)

        async def work() -> bool:
            opened = await open_store(uri, raw_key=store_key(uri))
            try:
                return await remove_operator(opened, operator)
            finally:
                await opened.close()

        if not run_command(work):
            error_console().print(f"[red]error:[/] {escape(operator)} was not trusted")
            raise typer.Exit(1)
        stdout_console().print(f"no longer trusting {escape(operator)}")
        stdout_console().print(_RESTART_NOTE)

    @trust_app.command("status")
    def status(
        service: ServiceOption = None,
        as_json: JsonOption = False,
        store: StoreOption = None,
        agent_store: AgentStoreOption = None,
    ) -> None:
        """The running service's trust data: operators, when fetched, how old, last error; and
        whether the service must be restarted to use the operators trusted since it started."""
        found = _service_call(service, "GET", "/wallet/trust")
        # The service reads the trusted operators at start-up; 'trust add' changes the store.
        configured = _configured_operators(_agent_uri(store, agent_store))
        running = set(found.get("operators") or [])
        stale = configured is not None and configured != running
        if as_json:
            typer.echo(json.dumps({**found, "restartNeeded": stale}, indent=2))
            return
        out = stdout_console()
        if stale and configured is not None:
            out.print(
                "[yellow]restart needed:[/] the wallet now trusts "
                f"{escape(', '.join(sorted(configured)) or 'no operator')}, but the running "
                "service still uses what it read at start-up; restart 'mydata serve wallet'",
                soft_wrap=True,
            )
        if not found.get("operators"):
            if not stale:
                out.print("no operator is trusted: mydata wallet trust add")
            return
        age = found.get("age")
        fetched = f"trust data {escape(str(age))} old" if age else "trust data never fetched"
        out.print(f"operators  {escape(', '.join(found['operators']))}")
        out.print(f"entries    {found.get('entries')} ({fetched})")
        if found.get("lastError"):
            out.print(f"[yellow]last refresh failed:[/] {escape(str(found['lastError']))}")


#: After ``trust add`` and ``trust remove``: the service reads the operators at start-up only.
_RESTART_NOTE = (
    "a running wallet service (mydata serve wallet) uses this after it is restarted; "
    "'mydata wallet trust status' says when a restart is needed"
)


def _configured_operators(agent_uri: str) -> set[str] | None:
    """The operators trusted in the agent store, or ``None`` when it cannot be read here (the
    service's store on another machine, no key): then nothing is said about a restart."""

    async def read() -> set[str]:
        opened = await open_store(agent_uri, raw_key=store_key(agent_uri), create=False)
        try:
            return {source.did for source in await list_operators(opened)}
        finally:
            await opened.close()

    try:
        return asyncio.run(read())
    except (HealthMyDataError, OSError):
        return None


def _credential_argument(argument: str) -> bytes | str:
    """What ``wallet import`` was given: stdin for ``-``, the credential itself when the
    argument is one (``shc:/`` QR text, in chunks separated by spaces or line breaks too; a
    compact JWS or SD-JWT; JSON) or too long to be a file's name, else the content of the file
    it names. A file that cannot be read ends the command with ``error: [invalidInput] ...``
    and exit 2, before the wallet opens.
    """
    if argument == "-":
        data = sys.stdin.buffer.read(DEFAULT_MAX_BYTES + 1)
        if len(data) > DEFAULT_MAX_BYTES:
            refuse(f"standard input is over the limit of {DEFAULT_MAX_BYTES} bytes")
        return data
    text = argument.strip()
    if looks_like_inline_text(text):  # the rule of every "file or text" command
        return text
    shown = shown_argument(argument)
    try:
        with Path(argument).open("rb") as handle:
            data = handle.read(DEFAULT_MAX_BYTES + 1)
        if len(data) > DEFAULT_MAX_BYTES:
            refuse(f"{shown} is over the limit of {DEFAULT_MAX_BYTES} bytes for a credential")
        return data
    except FileNotFoundError:
        refuse(
            f"no file {shown}: give a credential file, - for stdin, or the credential itself "
            "(shc:/ QR text, a compact JWS or SD-JWT, JSON)"
        )
    except IsADirectoryError:
        refuse(f"{shown} is a folder: give a credential file")
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:  # no file's name: text (the wallet says what not)
            return text
        refuse(f"cannot read {shown}: {exc.strerror or type(exc).__name__}")


def _read_jwks(path: Path) -> Any:
    """``--jwks``: a JSON file, else ``error: [invalidInput] ...`` and exit 2."""
    try:
        return json.loads(path.read_text("utf-8"))
    except OSError as exc:
        refuse(f"--jwks {path}: cannot read it: {exc.strerror or type(exc).__name__}")
    except ValueError:  # not UTF-8, not JSON
        refuse(f"--jwks {path} is not a JWKS: not JSON text")


def _error_texts(exc: BaseException) -> list[str]:
    """The messages of an error and of the errors it was raised from (a did:web fetch that
    failed may be the cause of the verification error reported)."""
    texts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(texts) < 10:
        texts.append(seen.message if isinstance(seen, HealthMyDataError) else str(seen))
        seen = seen.__cause__ or seen.__context__
    return texts


def _register_local(wallet_app: typer.Typer) -> None:
    @wallet_app.command("init")
    def init(
        store: StoreOption = None,
        profile: ProfileOption = None,
        agent_store: Annotated[
            str | None, typer.Option(help="The service's DIDComm store (default beside --store).")
        ] = None,
        operator: Annotated[
            list[str] | None,
            typer.Option(help="A trust operator DID whose accreditations you rely on (repeat)."),
        ] = None,
        operator_url: Annotated[
            list[str] | None,
            typer.Option(help="The service URL of the --operator of the same position."),
        ] = None,
        insecure_http_host: OperatorInsecureHosts = None,
    ) -> None:
        """Create the wallet (passphrase-encrypted), its holder keys and the agent's store."""
        uri = resolve_store(store, "wallet")
        agent_uri = agent_store_uri(uri, agent_store)
        try:
            sources = sources_from(operator or [], operator_url or [])
        except InvalidInputError as exc:
            refuse(f"init: {exc.message}")
        # Before anything is created: an operator the service would never fetch is refused.
        plain = _check_operator_sources(sources, insecure_http_host, "init")

        async def work() -> tuple[str, dict[str, str]]:
            async with _local(store, profile, create=True) as wallet:
                holder, jwk = await wallet.holder_did(), await wallet.holder_jwk()
            await _ensure_agent_store(agent_uri)
            await _add_operators(agent_uri, sources, insecure_http_host)
            return holder, jwk

        holder, jwk = run_command(work)
        out = stdout_console()
        out.print(f"holder DID     {holder}")
        out.print(f"holder JWK     {json.dumps(jwk)}")
        out.print(f"wallet store   {uri} (encrypted with your passphrase)")
        out.print(f"agent store    {agent_uri}")
        out.print("serve it with  mydata serve wallet (MYDATA_PASSPHRASE, MYDATA_ADMIN_TOKEN)")
        note = _plain_http_note(plain)
        if note:
            out.print(f"[yellow]note:[/] {escape(note)}", soft_wrap=True)

    @wallet_app.command("import")
    def import_(
        file: Annotated[
            str,
            typer.Argument(
                help="A credential file, - for stdin, or the credential itself: shc:/ QR text, "
                "a compact JWS or SD-JWT, JSON."
            ),
        ],
        store: StoreOption = None,
        profile: ProfileOption = None,
        jwks: Annotated[
            Path | None, typer.Option(help="A SMART Health Card issuer's JWKS (else fetched).")
        ] = None,
        insecure_http_host: InsecureHosts = None,
    ) -> None:
        """Verify and keep a W3C VC, SD-JWT VC or SMART Health Card (a file, or its text:
        shc:/ QR text, a JWS or SD-JWT, JSON)."""
        data = _credential_argument(file)
        keys = _read_jwks(jwks) if jwks is not None else None

        async def work() -> StoredCredential:
            async with _local(store, profile, insecure_hosts=insecure_http_host) as wallet:
                return await wallet.add_credential(data, jwks=keys)

        try:
            meta = asyncio.run(work())
        except HealthMyDataError as exc:
            err = error_console()
            print_error(err, exc)
            # An issuer's did:web on this machine, fetched over https: say how to allow http.
            hint = loopback_hint(_error_texts(exc), insecure_http_host or ())
            if hint:
                err.print(f"[yellow]hint:[/] {escape(hint)}")
            raise typer.Exit(1) from None
        stdout_console().print(f"stored {escape(meta.id)}: {escape(meta.summary)}")

    @wallet_app.command("list")
    def list_(
        store: StoreOption = None, profile: ProfileOption = None, as_json: JsonOption = False
    ) -> None:
        """Every stored credential."""

        async def work() -> list[StoredCredential]:
            async with _local(store, profile) as wallet:
                return await wallet.list()

        _print_credentials(run_command(work), as_json)

    @wallet_app.command("search")
    def search(
        type: Annotated[str | None, typer.Option("--type", help="W3C type or vct.")] = None,
        issuer: Annotated[str | None, typer.Option(help="The issuer's DID or URL.")] = None,
        code: Annotated[str | None, typer.Option(help="system|code, or a bare code.")] = None,
        text: Annotated[str | None, typer.Option(help="Words that must all occur.")] = None,
        date_from: Annotated[str | None, typer.Option("--from", help="Issued on or after.")] = None,
        date_to: Annotated[str | None, typer.Option("--to", help="Issued on or before.")] = None,
        format: Annotated[str | None, typer.Option(help="ldp_vc, dc+sd-jwt, ...")] = None,
        store: StoreOption = None,
        profile: ProfileOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Credentials matching every criterion given."""
        start, end = _parse_day(date_from, "--from"), _parse_day(date_to, "--to")

        async def work() -> list[StoredCredential]:
            async with _local(store, profile) as wallet:
                return await wallet.search(
                    type=type,
                    issuer=issuer,
                    code=code,
                    text=text,
                    date_from=start,
                    date_to=end,
                    format=format,
                )

        _print_credentials(run_command(work), as_json)

    @wallet_app.command("show")
    def show(
        credential_id: Annotated[str, typer.Argument(help="The credential's id.")],
        raw: Annotated[
            bool,
            typer.Option(
                "--raw",
                help="Also print the credential as received (an SD-JWT or SMART Health Card "
                "encoded as issued).",
            ),
        ] = False,
        store: StoreOption = None,
        profile: ProfileOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """One credential: its metadata and the claims it holds (--raw: as received too).

        The claims as you hold them: an SD-JWT VC's with every disclosure applied, a SMART
        Health Card's decoded. --json gives the credential as received and its claims.
        """

        async def work() -> tuple[StoredCredential, Any]:
            async with _local(store, profile) as wallet:
                try:
                    meta = await wallet.get(credential_id)
                except CredentialNotFoundError:
                    raise _no_credential(credential_id) from None
                return meta, await wallet.content(credential_id)

        meta, content = run_command(work)
        try:
            claims = holder_claims(str(meta.format), content)
        except CredentialImportError as exc:  # a damaged record: show what there is
            print_error(error_console(), exc)
            claims = None
        if as_json:
            # "credential" as received, as GET /wallet/credentials/{id} answers (scripts read
            # it); "claims" what it says.
            shown = {"metadata": meta.to_json(), "credential": content, "claims": claims}
            typer.echo(json.dumps(shown, indent=2))
            if claims is None:
                raise typer.Exit(1)
            return
        table = Table(show_header=False)
        table.add_column("", style="bold")
        table.add_column("", overflow="fold")
        for key, value in meta.to_json().items():
            shown_value = ", ".join(value) if isinstance(value, list) else str(value or "")
            table.add_row(key, escape(shown_value))
        out = stdout_console()
        out.print(table)
        encoded = meta.format is not CredentialFormat.W3C_VC  # a W3C VC reads as it is
        if claims is None:
            out.print("[bold]as received[/]")
            text = content if isinstance(content, str) else json.dumps(content, indent=2)
            out.print(escape(text), soft_wrap=True)
            raise typer.Exit(1)
        if encoded:
            out.print(
                "[bold]claims[/] (every disclosure applied)"
                if meta.format is CredentialFormat.SD_JWT_VC
                else "[bold]claims[/] (the card's JWS payloads, decoded)"
            )
        out.print(escape(json.dumps(claims, indent=2, ensure_ascii=False)), soft_wrap=True)
        if raw and encoded:
            out.print("[bold]as received[/]")
            text = content if isinstance(content, str) else json.dumps(content, indent=2)
            out.print(escape(text), soft_wrap=True)

    @wallet_app.command("remove")
    def remove(
        credential_id: Annotated[str, typer.Argument(help="The credential's id.")],
        yes: Annotated[bool, typer.Option("--yes", help="Do not ask; remove it.")] = False,
        store: StoreOption = None,
        profile: ProfileOption = None,
    ) -> None:
        """Delete a stored credential from this wallet, after asking (--yes: without).

        Without a terminal to ask on it is refused unless --yes is given. What was presented
        stays with its recipients and its consent records stay; an earlier backup still holds
        it.
        """
        if not yes and not os.isatty(0):
            refuse(
                f"{credential_id} was not removed: there is no terminal to ask on; give --yes "
                "to remove it without asking"
            )

        async def work() -> StoredCredential | None:
            async with _local(store, profile) as wallet:
                try:
                    meta = await wallet.get(credential_id)
                except CredentialNotFoundError:
                    raise _no_credential(credential_id) from None
                if not yes:
                    out = stdout_console()
                    out.print(escape(f"{meta.id}: {meta.summary} [{meta.format}]"))
                    if meta.issuer:
                        out.print(f"  issued by {escape(meta.issuer)}")
                    if not _confirm("Remove this credential from the wallet?"):
                        return None
                try:
                    await wallet.remove(credential_id)
                except CredentialNotFoundError:  # removed by another process meanwhile
                    raise _no_credential(credential_id) from None
                return meta

        removed = run_command(work)
        if removed is None:
            stdout_console().print("nothing was removed")
            raise typer.Exit(1)
        stdout_console().print(f"removed {escape(removed.id)}: {escape(removed.summary)}")

    @wallet_app.command("consents")
    def consents(
        store: StoreOption = None, profile: ProfileOption = None, as_json: JsonOption = False
    ) -> None:
        """Consent records: to whom, for what, and whether withdrawn and deleted."""

        async def work() -> list[dict[str, Any]]:
            async with _local(store, profile) as wallet:
                return [consent_to_json(c) for c in await list_consents(wallet)]

        found = run_command(work)
        if as_json:
            typer.echo(json.dumps(found, indent=2))
        else:
            stdout_console().print(_consent_table(found))

    @wallet_app.command("emergency-card")
    def emergency(
        output: Annotated[
            Path,
            typer.Option(
                "-o", help="card.png, card.svg, or card.txt (the QR code's text, for er scan)."
            ),
        ],
        sections: Annotated[
            str | None, typer.Option(help="Comma-separated sections (default: all it has).")
        ] = None,
        lifetime: Annotated[str, typer.Option(help="How long the card is valid: 365d, 12w.")] = (
            "365d"
        ),
        credential: Annotated[str | None, typer.Option(help="The EmergencySummary's id.")] = None,
        store: StoreOption = None,
        profile: ProfileOption = None,
        insecure_http_host: InsecureHosts = None,
    ) -> None:
        """Your EmergencySummary's chosen sections in ONE QR code, verifiable offline.

        Refused when the hospital revoked the summary; only you can read the file (health data).
        """
        suffix = output.suffix.lower()
        if suffix not in (".png", ".svg", ".txt"):
            raise typer.BadParameter("-o must end in .png, .svg or .txt")
        chosen = [s.strip() for s in sections.split(",") if s.strip()] if sections else None

        async def work() -> EmergencyCard | CredentialStatusError:
            async with _local(store, profile, insecure_hosts=insecure_http_host) as wallet:
                try:
                    return await make_emergency_card(
                        wallet,
                        sections=chosen,
                        lifetime=parse_lifetime(lifetime),
                        credential_id=credential,
                        insecure_http_hosts=frozenset(insecure_http_host or ()),
                    )
                except CredentialStatusError as exc:
                    return exc

        card = run_command(work)
        if isinstance(card, CredentialStatusError):
            # Not a failure to run but a summary that must not be used: bad input (exit 2).
            print_error(error_console(), card)
            raise typer.Exit(2)
        if suffix == ".png":
            write_private(output, card.png_bytes)
        elif suffix == ".svg":
            write_private(output, card.svg_text.encode("utf-8"))
        else:
            write_private(output, card.payload_text.encode("ascii") + b"\n")
        if card.status_warning is not None:
            error_console().print(f"[yellow]warning:[/] {escape(card.status_warning)}")
        stdout_console().print(
            f"written {output}: QR version {card.qr_version} (level {card.error_level}), "
            f"{len(card.payload_text)} characters, sections {', '.join(card.sections)}, "
            f"expires {card.expires.isoformat() if card.expires else 'never'}"
        )


def _no_credential(credential_id: str) -> CredentialNotFoundError:
    return CredentialNotFoundError(
        f"no credential {credential_id} in this wallet (profile): 'mydata wallet list' shows "
        "the ids",
        details={"id": credential_id},
    )


def _confirm(question: str) -> bool:
    """``typer.confirm``, with Ctrl-D (end of input) a "no" on a line of its own: click
    would print 'Aborted.' on the prompt's line and exit 1 without saying nothing was sent."""
    try:
        return bool(typer.confirm(question, default=False))
    except typer.Abort:
        typer.echo()  # end the prompt's line
        return False


def _register_service(wallet_app: typer.Typer) -> None:
    @wallet_app.command("connect")
    def connect(
        url: Annotated[str, typer.Argument(help="The invitation URL (as scanned).")],
        label: Annotated[str, typer.Option(help="A name for this relationship.")] = "",
        service: ServiceOption = None,
    ) -> None:
        """Accept an out-of-band invitation (a hospital's, a verifier's)."""
        connection = _service_call(
            service, "POST", "/admin/connections", {"invitation_url": url, "label": label}
        )
        stdout_console().print(f"connected: {escape(connection['id'])} ({escape(label or '-')})")

    def _offers(service: str | None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = _service_call(service, "GET", "/wallet/offers")
        return found

    def _print_offers(offers: list[dict[str, Any]]) -> None:
        table = Table(title=f"{len(offers)} offer(s) waiting")
        for column in ("thread", "from", "received", "credentials"):
            table.add_column(column, overflow="fold")
        for offer in offers:
            listed = "\n".join(
                f"{c['name'] or c['type']} [{c['format']}]" for c in offer["credentials"]
            )
            table.add_row(
                escape(offer["thread_id"]),
                escape(offer["peer"]),
                escape(offer["received"]),
                escape(listed),
            )
        stdout_console().print(table)

    @wallet_app.command("offers")
    def offers(service: ServiceOption = None, as_json: JsonOption = False) -> None:
        """Credential offers waiting for you."""
        found = _offers(service)
        if as_json:
            typer.echo(json.dumps(found, indent=2))
        else:
            _print_offers(found)

    @wallet_app.command("accept")
    def accept(
        thread: Annotated[str, typer.Argument(help="The offer's thread id.")],
        service: ServiceOption = None,
    ) -> None:
        """Accept an offer: the credentials are requested, verified and stored."""
        _service_call(service, "POST", f"/wallet/offers/{thread}/accept")
        stdout_console().print(f"accepted {escape(thread)}")

    @wallet_app.command("receive")
    def receive(
        service: ServiceOption = None,
        wait: Annotated[float, typer.Option(help="Seconds to wait for the credentials.")] = 20.0,
    ) -> None:
        """List the offers waiting and accept them all, then wait until they arrive."""
        found = _offers(service)
        _print_offers(found)
        threads = [o["thread_id"] for o in found]
        for thread in threads:
            _service_call(service, "POST", f"/wallet/offers/{thread}/accept")
        deadline = time.monotonic() + wait
        states: dict[str, str] = {}
        while threads and time.monotonic() < deadline:
            records = _service_call(
                service,
                "GET",
                "/admin/records?protocol=https://didcomm.org/issue-credential/3.0",
            )
            states = {r["thread_id"]: r["state"] for r in records if r["thread_id"] in threads}
            if all(states.get(t) in ("done", "abandoned") for t in threads):
                break
            time.sleep(0.2)
        done = sum(1 for t in threads if states.get(t) == "done")
        stdout_console().print(f"accepted {len(threads)} offer(s); {done} received and stored")
        if done < len(threads):
            raise typer.Exit(1)

    @wallet_app.command("requests")
    def requests(service: ServiceOption = None, as_json: JsonOption = False) -> None:
        """Presentation requests waiting for you, with what each would send to whom."""
        found = _service_call(service, "GET", "/wallet/requests")
        if as_json:
            typer.echo(json.dumps(found, indent=2))
            return
        if not found:
            stdout_console().print("no presentation request is waiting")
        for request in found:
            _print_plan(request)

    @wallet_app.command("present")
    def present(
        thread: Annotated[str, typer.Argument(help="The request's thread id.")],
        yes: Annotated[bool, typer.Option("--yes", help="Do not ask (you saw the plan).")] = False,
        service: ServiceOption = None,
    ) -> None:
        """Show what a request would send to whom for what, and present if you agree."""
        request = _service_call(service, "GET", f"/wallet/requests/{thread}")
        _print_plan(request)
        if request.get("plan") is None:
            raise typer.Exit(1)
        if not yes and not _confirm("Send this?"):
            stdout_console().print("nothing was sent (decline it with 'mydata wallet decline')")
            raise typer.Exit(1)
        approval = _service_call(
            service,
            "POST",
            f"/wallet/requests/{thread}/approve",
            {"digest": request["plan"]["digest"]},
        )
        stdout_console().print(f"presented; consent {escape(approval['consent']['id'])}")

    @wallet_app.command("decline")
    def decline(
        thread: Annotated[
            str, typer.Argument(help="The thread id of a presentation request or an offer.")
        ],
        service: ServiceOption = None,
    ) -> None:
        """Refuse a presentation request or a credential offer; the other party is told.

        For a request nothing is sent, for an offer nothing is requested.
        """
        answer = _service_request(service, "POST", f"/wallet/requests/{thread}/decline")
        if _unknown_thread(answer):  # not a presentation request: an offer?
            offer = _service_request(service, "POST", f"/wallet/offers/{thread}/decline")
            if _unknown_thread(offer):
                unknown = ProtocolStateError(
                    f"no presentation request or credential offer with thread {thread} here: "
                    "'mydata wallet requests' and 'mydata wallet offers' list those waiting",
                    details={"reason": "unknownThread", "thread_id": thread},
                )
                print_error(error_console(), unknown)
                raise typer.Exit(1)
            if offer.status_code >= 400:
                _fail(offer)
            stdout_console().print(
                f"declined the credential offer {escape(thread)}; nothing was requested"
            )
            return
        if answer.status_code >= 400:
            _fail(answer)
        stdout_console().print(
            f"declined the presentation request {escape(thread)}; nothing was sent"
        )

    @wallet_app.command("withdraw")
    def withdraw(
        consent_id: Annotated[str, typer.Argument(help="The consent's id.")],
        service: ServiceOption = None,
    ) -> None:
        """Withdraw a consent; the recipient is told to delete, and its receipt is kept."""
        consent = _service_call(service, "POST", f"/wallet/consents/{consent_id}/withdraw")
        stdout_console().print(
            f"withdrawn {escape(consent['id'])}; "
            f"{escape(consent['recipient'].get('name', ''))} was notified"
        )


VaultOption = Annotated[
    str | None,
    typer.Option(
        "--vault",
        help="A backup vault's URL (mydata serve vault; https, or http to this machine).",
    ),
]


def _check_phrase(phrase: str) -> None:
    """A phrase that is not a recovery phrase is refused before the wallet or the vault is
    opened (and before the passphrase is asked for): saying the phrase "does not open" a
    backup would be untrue when none has been read. Exit 1, as for the other phrase errors."""
    try:
        normalise_recovery_phrase(phrase)
    except BackupError as exc:
        print_error(error_console(), exc)
        raise typer.Exit(1) from None


def _new_files(uri: str) -> list[Path]:
    """The files a restore into the SQLite store at ``uri`` would create: all of them (the
    database, its ``-wal`` and ``-shm``, its key file) when the database file does not exist
    yet, and none when it does. A store that exists is never removed in part: its ``-wal`` and
    ``-shm`` come and go while another process has it open, and removing them would lose that
    process's writes. A PostgreSQL store has none this command could remove."""
    if not uri.startswith("sqlite://") or uri == "sqlite://:memory:":
        return []
    base = uri.removeprefix("sqlite://")
    if Path(base).exists():
        return []
    created = [Path(f"{base}{suffix}") for suffix in ("", "-wal", "-shm")]
    key_file = key_file_for(uri)
    if key_file is not None and not Path(key_file).exists():
        created.append(Path(key_file))
    return created


async def _drop_empty_profile(store: Store) -> None:
    """Remove the profile that opening ``store`` created for a restore that then failed, if it
    is still empty (the restore writes all or nothing). Nothing else is ever removed: not a
    profile that was there before, nor the store's default one (made with the store, never by
    that open)."""
    profile = store.profile
    if profile is None or not store.profile_created:
        return
    # A commit the interruption abandoned may still be running in askar's threads.
    await settle_pending_calls(seconds=5.0)
    try:
        if await profile_is_empty(store, profile):
            await store.remove_profile(profile)
    except StorageError as exc:  # the restore's own error is the one to report
        _log.warning("an empty profile left by the failed restore stays: %s", exc.code)


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _run_interruptible(work: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """:func:`agent.cliutil.run_command` for a command that Ctrl-C may stop in the middle of
    askar work (``restore``): on ``KeyboardInterrupt`` the event loop is kept running until
    the askar calls the interruption abandoned have called back (at most a few seconds), so
    that none calls back into a closed loop ("Exception ignored on calling ctypes callback
    ... Event loop is closed") and the stores are closed before their files are removed."""
    with asyncio.Runner() as runner:
        try:
            return runner.run(work())
        except HealthMyDataError as exc:
            print_error(error_console(), exc)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            runner.run(settle_pending_calls(seconds=5.0))
            raise


def _check_backup_file(file: Path, force: bool) -> None:
    """Refuse a backup FILE that cannot or must not be written, before the wallet is opened
    and a phrase made (exit 2, nothing done): a folder, a missing folder, and an existing file
    without ``--force`` (an earlier backup is useless without its own phrase, which a new
    backup does not know)."""
    if file.is_dir():
        refuse(f"{file} is a folder: give the backup file to write (nothing was backed up)")
    if not file.parent.is_dir():
        refuse(f"{file}: the folder {file.parent} does not exist (nothing was backed up)")
    if (file.exists() or file.is_symlink()) and not force:
        refuse(
            f"{file} exists: it may be an earlier backup, which only its own recovery phrase "
            "opens, and this backup would replace it; give another file, or --force to "
            "replace it (nothing was backed up)"
        )


def _backup_file_failed(file: Path | None, exc: OSError) -> NoReturn:
    """The backup file could not be written (it was not, nor any part of it): exit 1."""
    error: HealthMyDataError
    if isinstance(exc, FileExistsError):  # the user's choice of file: theirs to change
        error = InvalidInputError(
            f"the backup was not written to {file}: it exists now (created meanwhile); give "
            "another file, or --force"
        )
    else:  # the disk, not the input: a full disk, a permission
        error = StorageError(
            f"the backup was not written to {file}: {exc.strerror or type(exc).__name__}",
            code=ErrorCode.STORE_BACKEND_ERROR,
        )
    print_error(error_console(), error)
    raise typer.Exit(1)


def _vault_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=httpx.Timeout(120.0, connect=10.0), follow_redirects=False)


def _register_backup(wallet_app: typer.Typer) -> None:
    @wallet_app.command("backup")
    def backup_(
        file: Annotated[
            Path | None, typer.Argument(help="Where to write the encrypted backup.")
        ] = None,
        vault: VaultOption = None,
        phrase: Annotated[
            str | None, typer.Option(help="A recovery phrase (default: a new one, shown once).")
        ] = None,
        force: Annotated[
            bool,
            typer.Option(
                "--force",
                help="Replace an existing FILE; with --vault, replace the vault's backup even "
                "if it is not the one this wallet last wrote or read.",
            ),
        ] = False,
        store: StoreOption = None,
        profile: ProfileOption = None,
    ) -> None:
        """An encrypted backup of credentials, keys and consent history, to a file and/or a
        vault (which stores only ciphertext, under a slot only the phrase opens).

        An existing FILE is not replaced without --force: it may be an earlier backup, which
        only its own phrase opens. The file is written whole or not at all, readable by you
        only (0600).
        """
        if file is None and vault is None:
            raise typer.BadParameter("give a FILE, --vault URL, or both")
        if file is not None:
            _check_backup_file(file, force)
        if phrase is not None:
            _check_phrase(phrase)
        recovery = phrase or generate_recovery_phrase()

        async def work() -> tuple[bytes, VaultReceipt | None]:
            async with _local(store, profile) as wallet:
                data = await backup(wallet, recovery)
                if vault is None:
                    return data, None
                slot = vault_slot(recovery)
                etag = None if force else await remembered_etag(wallet, vault, slot)
                async with _vault_client() as http:
                    receipt = await upload_backup(
                        vault, slot, data, client=http, if_match=etag, force=force
                    )
                await remember_etag(wallet, vault, slot, receipt.etag)
                return data, receipt

        data, receipt = run_command(work)
        out = stdout_console()
        if receipt is not None and vault is not None:
            verb = "stored in" if receipt.created else "replaced in"
            out.print(f"{verb} the vault {escape(vault)} ({receipt.size} bytes, {receipt.etag})")
        failure: OSError | None = None
        if file is not None:
            try:
                write_backup_file(file, data, replace=force)
            except OSError as exc:
                failure = exc
            else:
                out.print(f"written {escape(str(file))} ({len(data)} bytes)")
        # Shown whenever a backup under it was stored (in the vault, even if FILE failed).
        if phrase is None and (failure is None or receipt is not None):
            out.print("recovery phrase (write it down; it is shown only this once):")
            out.print(f"  {recovery}")
        if failure is not None:
            _backup_file_failed(file, failure)

    @wallet_app.command("restore")
    def restore_(
        phrase: Annotated[str, typer.Option(help="The recovery phrase.", prompt=True)],
        file: Annotated[Path | None, typer.Argument(help="The backup file.")] = None,
        vault: VaultOption = None,
        store: StoreOption = None,
        profile: ProfileOption = None,
        agent_store: Annotated[
            str | None, typer.Option(help="The service's DIDComm store (default beside --store).")
        ] = None,
    ) -> None:
        """Restore a backup (a file, or from a vault with only the phrase) into a new (empty)
        wallet store; nothing is written on error."""
        if (file is None) == (vault is None):
            raise typer.BadParameter("give a FILE or --vault URL (one of them)")
        if file is not None:
            data = file.read_bytes()  # a missing file is said first, before the phrase's form
        _check_phrase(phrase)
        uri = resolve_store(store, "wallet")
        agent_uri = agent_store_uri(uri, agent_store)
        # What this restore creates, removed again if it does not finish (docs/wallet.md).
        created = _new_files(uri) + _new_files(agent_uri)

        async def fetch(url: str) -> tuple[bytes, VaultSlot, str]:
            slot = vault_slot(phrase)
            async with _vault_client() as http:
                blob = await fetch_backup(url, slot, client=http)
            return blob.data, slot, blob.etag

        slot: VaultSlot | None = None
        etag: str | None = None

        async def work() -> Any:
            nonlocal data, slot, etag
            if vault is not None:
                # Read first: a wrong phrase or an empty vault slot leaves nothing behind locally.
                data, slot, etag = await fetch(vault)
            async with _local(store, profile, create=True) as wallet:
                try:
                    summary = await restore(data, phrase, into=wallet.store, profile=wallet.profile)
                except BaseException:
                    # Opening made the named profile; a restore that wrote nothing into it
                    # (it writes all or nothing) leaves no empty profile behind.
                    await _drop_empty_profile(wallet.store)
                    raise
                if vault is not None and slot is not None and etag is not None:
                    await remember_etag(wallet, vault, slot, etag)
            await _ensure_agent_store(agent_uri)
            return summary

        try:
            summary = _run_interruptible(work)
        except KeyboardInterrupt:
            _remove(created)
            left = "no wallet file was left" if created else "the existing store was kept"
            error_console().print(f"interrupted: nothing was restored ({left})")
            raise typer.Exit(130) from None
        except BaseException:
            _remove(created)  # leave no empty or half-restored wallet behind
            raise
        stdout_console().print(
            f"restored {summary.credentials} credential(s), {summary.consents} consent(s), "
            f"{summary.keys} key(s); holder DID {summary.holder_did}"
        )
