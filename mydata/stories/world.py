"""The demo's parties as real services on 127.0.0.1, each on its own SQLite store.

Every service is the party's FastAPI app (the same one ``mydata serve ROLE`` runs) on uvicorn in
a thread of this process: starting five of them takes well under a second, where five
``mydata serve`` processes would each spend about two seconds importing. :meth:`World.close`
stops every server and waits for its thread, also when a story failed or the demo was
interrupted.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
import uvicorn
from rich.console import Console

from agent.service import AgentServiceConfig
from agent.storage import generate_raw_key, open_store
from governance.api import create_operator_app
from governance.operator import Operator
from issuer.api import create_hospital_app
from issuer.hospital import Hospital
from verifier.api import VerifierSettings, create_verifier_app
from wallet.api import WalletOpenArgs, create_wallet_app
from wallet.vault import create_vault_app

__all__ = ["LOOPBACK", "Party", "World", "connect", "wait_for"]

#: Hosts whose did:web documents and status lists the parties fetch over plain http: the
#: demo's services all listen on loopback.
LOOPBACK: Final = frozenset({"localhost", "127.0.0.1"})
_START_TIMEOUT: Final = 20.0


class _Server:
    """One app on uvicorn, in a background thread."""

    def __init__(self, app: Any, port: int) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True, name=f"demo-{port}")

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self.server.started:
                return
            if not self.thread.is_alive():
                raise RuntimeError("the service stopped while starting")
            time.sleep(0.01)
        raise RuntimeError("the service did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout=10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Party:
    """A running service: its public URL, an admin client and its store."""

    name: str
    url: str
    admin: httpx.AsyncClient
    store: Path
    server: _Server
    info: dict[str, Any] = field(default_factory=dict)

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """An admin call that must succeed; the JSON answer."""
        response = await self.admin.request(method, path, **kwargs)
        if response.is_error:
            raise RuntimeError(
                f"{self.name}: {method} {path} answered {response.status_code}: {response.text}"
            )
        return response.json() if response.content else None


async def wait_for(what: str, condition: Callable[[], Any], within: float = 20) -> Any:
    """Poll the coroutine function ``condition`` until it returns something truthy, for at
    most ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = await condition()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


class World:
    """The parties of the demo, started on demand, all in ``workdir``."""

    def __init__(self, console: Console, workdir: Path) -> None:
        self.console = console
        self.workdir = workdir
        self.token = secrets.token_urlsafe(24)
        self.parties: dict[str, Party] = {}
        #: for fetching public documents (did.json, status lists), as any verifier would
        self.http = httpx.AsyncClient(timeout=10, follow_redirects=False)

    def __getitem__(self, name: str) -> Party:
        return self.parties[name]

    async def _serve(
        self,
        name: str,
        make_app: Callable[[AgentServiceConfig], Any],
        *,
        agent_store: Path | None = None,
    ) -> Party:
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        store = agent_store or self.workdir / f"{name}.sqlite"
        config = AgentServiceConfig(
            store_uri=f"sqlite://{store}",
            store_key=generate_raw_key(),
            public_url=url,
            title=f"demo {name}",
            admin_token=self.token,
        )
        server = _Server(make_app(config), port)
        await asyncio.to_thread(server.start)
        party = Party(name, url, self._admin(port), store, server)
        self.parties[name] = party
        return party

    async def start_operator(self, *, title: str, jurisdiction: str) -> Party:
        """The public operator: its root did:key made on its store first (as ``mydata
        operator init`` does), then its service (trust list, accreditations, registrations)."""
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        store = self.workdir / "operator.sqlite"
        key = generate_raw_key()
        opened = await open_store(f"sqlite://{store}", raw_key=key)
        try:
            operator = await Operator.init(
                opened, base_url=url, name=title, jurisdiction=jurisdiction
            )
        finally:
            await opened.close()
        config = AgentServiceConfig(
            store_uri=f"sqlite://{store}",
            store_key=key,
            public_url=url,
            title=title,
            admin_token=self.token,
        )
        server = _Server(create_operator_app(config, insecure_http_hosts=LOOPBACK), port)
        await asyncio.to_thread(server.start)
        party = Party("operator", url, self._admin(port), store, server, {"did": operator.did})
        self.parties["operator"] = party
        return party

    def _admin(self, port: int) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )

    async def start_hospital(
        self,
        name: str = "hospital",
        *,
        title: str,
        onboard: Callable[[Hospital], Awaitable[None]] | None = None,
    ) -> Party:
        """A hospital issuer with a did:web on ``localhost`` (its DID document is served by
        the service itself): keys and DID made on its store first, then ``onboard`` (the
        registration with the operator), as ``mydata hospital init --operator`` does; then
        its service."""
        port = _free_port()
        base_url = f"http://localhost:{port}"
        store = self.workdir / f"{name}.sqlite"
        key = generate_raw_key()
        opened = await open_store(f"sqlite://{store}", raw_key=key)
        try:
            hospital = await Hospital.init(
                opened, base_url=base_url, name=title, insecure_http_hosts=LOOPBACK
            )
            if onboard is not None:
                await onboard(hospital)
        finally:
            await opened.close()
        config = AgentServiceConfig(
            store_uri=f"sqlite://{store}",
            store_key=key,
            public_url=base_url,
            title=title,
            admin_token=self.token,
        )
        server = _Server(create_hospital_app(config, insecure_http_hosts=LOOPBACK), port)
        await asyncio.to_thread(server.start)
        party = Party(
            name,
            base_url,
            self._admin(port),
            store,
            server,
            {"did": hospital.did, "title": title, "store_key": key},
        )
        self.parties[name] = party
        return party

    async def start_wallet(
        self, name: str = "wallet", *, store: Path | None = None, device_key: str | None = None
    ) -> Party:
        """The citizen's wallet service: the wallet store and its DIDComm agent's store.

        The wallet store is encrypted with a device key (``device_key``, a new one by default;
        the store is created on first use unless ``store`` holds a restored one): a phone
        keeps it in its keystore. ``mydata wallet init`` derives it from a passphrase instead
        (Argon2i), which costs a second or two at every open that the demo does without.
        """
        wallet_store = store or self.workdir / f"{name}.sqlite"
        key = device_key or generate_raw_key()

        def make(config: AgentServiceConfig) -> Any:
            return create_wallet_app(
                config,
                WalletOpenArgs(
                    uri=f"sqlite://{wallet_store}",
                    raw_key=key,
                    create=store is None,
                    insecure_http_hosts=LOOPBACK,
                ),
            )

        party = await self._serve(name, make, agent_store=wallet_store.with_suffix(".agent.sqlite"))
        party.store = wallet_store
        party.info["device_key"] = key
        party.info.update(await party.call("GET", "/wallet/identity"))
        return party

    async def start_verifier(
        self,
        name: str,
        *,
        label: str,
        role: str,
        purpose: str,
        operator_dids: frozenset[str] = frozenset(),
        trust_cache: Path | None = None,
    ) -> Party:
        """A verifier service (emergency department, insurer) trusting ``operator_dids``."""
        settings = VerifierSettings(
            operator_dids=operator_dids,
            trust_cache=trust_cache,
            insecure_http_hosts=LOOPBACK,
            default_role=role,
            purpose=purpose,
        )
        party = await self._serve(name, lambda config: create_verifier_app(config, settings))
        party.info.update(await party.call("GET", "/verifier"), label=label)
        return party

    async def start_vault(self) -> Party:
        """The operator's backup vault (ciphertext only)."""
        return await self._serve("vault", create_vault_app)

    async def stop(self, name: str) -> None:
        """Stop one party's service (its store stays, as a phone's does when it is lost)."""
        party = self.parties.pop(name)
        try:
            await party.admin.aclose()
        finally:
            party.server.stop()

    async def close(self) -> None:
        """Stop every service (in reverse order of start) and close the clients."""
        for party in reversed(list(self.parties.values())):
            try:
                await party.admin.aclose()
            finally:
                party.server.stop()
        self.parties.clear()
        await self.http.aclose()


async def connect(inviter: Party, wallet: Party, label: str) -> tuple[str, str, str]:
    """The wallet accepts ``inviter``'s out-of-band invitation (as if scanned from its QR code).

    :returns: the wallet's connection id, the inviter's, and the invitation URL.
    """
    invitation = await inviter.call("POST", "/admin/invitations", json={"goal": label})
    mine = await wallet.call(
        "POST",
        "/admin/connections",
        json={"invitation_url": invitation["invitation_url"], "label": label},
    )

    async def theirs() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = [
            c
            for c in await inviter.call("GET", "/admin/connections")
            if c["invitation_id"] == invitation["invitation_id"]
        ]
        return found

    (connection, *_) = await wait_for(f"{inviter.name} to see the connection", theirs)
    return str(mine["id"]), str(connection["id"]), str(invitation["invitation_url"])
