"""The DIDComm agent runtime every party runs: relationships, inbound and outbound messages.

One :class:`DIDCommAgent` per party service. It owns:

- **relationships**: a fresh did:peer:2 per relationship (its own Ed25519 and X25519 keys in
  the party's askar store, and a DIDComm service pointing at the party's endpoint), so that two
  verifiers cannot correlate a citizen by DID (DESIGN.md section 2);
- **out-of-band invitations** (:meth:`create_invitation`, :meth:`accept_invitation`);
- **outbound** messages: authcrypt (ECDH-1PU+A256KW, A256CBC-HS512) from our relationship DID
  to every keyAgreement key of the peer's, POSTed with retries (:func:`deliver`);
- **inbound** messages (:meth:`receive`, mounted at ``POST /didcomm``): unpacked, required to be
  authenticated, de-duplicated by message id (a redelivered message has no second effect),
  routed to a connection, dispatched to the protocol handler for its type, and answered;
  a refused message from an authenticated sender gets a problem-report.

Parties add their protocol handlers to :attr:`registry` with their own callbacks (the issuer
issues, the wallet stores, the verifier verifies); the runtime knows none of them.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import httpx

from agent.clock import Clock, utcnow
from agent.dids import DIDResolver, create_did_peer_2, didcomm_service
from agent.errors import (
    ErrorCode,
    HealthMyDataError,
    MessagingError,
    ProtocolStateError,
    StorageError,
)
from agent.keys import AskarKeyStore, KeyType, decode_multikey
from agent.messaging import (
    Invitation,
    KeyStoreRecipientKeys,
    SeenMessages,
    deliver,
    parse_message,
)
from agent.protocols import (
    ProtocolRegistry,
    RecordRepository,
    build_ping,
    handle_problem_report,
    handle_trust_ping,
    problem_report_for,
)
from agent.storage import Store
from agent.types import JSONObject

if TYPE_CHECKING:
    from agent.messaging import Message

__all__ = ["Connection", "DIDCommAgent"]

log = logging.getLogger(__name__)

_CONNECTIONS = "didcomm-connection"
_INVITATIONS = "didcomm-invitation"
_TRUST_PING = "https://didcomm.org/trust-ping/2.0"
_PROBLEM_REPORT = "https://didcomm.org/report-problem/2.0"


@dataclass(frozen=True)
class Connection:
    """A relationship: our DID for it, the peer's DID, and how it began.

    :param invitation_id: the out-of-band invitation it came from (ours or theirs).
    :param last_ping_response: when the peer last answered a trust ping (epoch seconds).
    """

    id: str
    my_did: str
    their_did: str
    invitation_id: str | None = None
    label: str = ""
    created: int = 0
    last_ping_response: int | None = None


class DIDCommAgent:
    """A party's DIDComm agent over its askar store.

    :param endpoint: the URL peers POST to (the party's ``/didcomm`` route); it goes into every
        relationship DID's service.
    :param http: the client outbound messages (and did:web resolution) use.
    """

    def __init__(
        self,
        store: Store,
        *,
        endpoint: str,
        http: httpx.AsyncClient,
        resolver: DIDResolver | None = None,
        clock: Clock = utcnow,
        delivery_attempts: int = 5,
    ) -> None:
        self.store = store
        self.endpoint = endpoint
        self.http = http
        self.clock = clock
        self.keys = AskarKeyStore(store)
        self.resolver = resolver or DIDResolver(http_client=http)
        self.repository = RecordRepository(store, clock=clock)
        self.registry = ProtocolRegistry()
        self.seen = SeenMessages(store)
        self._recipient_keys = KeyStoreRecipientKeys(self.keys)
        self._attempts = delivery_attempts
        self._tasks: set[asyncio.Task[None]] = set()
        self.registry.register(
            _TRUST_PING,
            partial(handle_trust_ping, clock=clock, on_response=self._on_ping_response),
            messages=("ping", "ping-response"),
        )
        self.registry.register(
            _PROBLEM_REPORT,
            partial(handle_problem_report, repository=self.repository),
            messages=("problem-report",),
        )

    # Relationships.

    async def new_did(self) -> str:
        """A fresh did:peer:2 for one relationship, its keys bound in our store."""
        signing = await self.keys.create_key(KeyType.ED25519_PUB)
        agreement = await self.keys.create_key(KeyType.X25519_PUB)
        did = create_did_peer_2(
            decode_multikey(signing)[1],
            decode_multikey(agreement)[1],
            [didcomm_service(self.endpoint)],
        )
        await self.keys.bind(
            signing,
            did=did,
            verification_method=f"{did}#key-1",
            relationships=["authentication", "assertionMethod"],
        )
        await self.keys.bind(
            agreement, did=did, verification_method=f"{did}#key-2", relationships=["keyAgreement"]
        )
        return did

    async def create_invitation(self, *, goal_code: str = "connect", goal: str = "") -> Invitation:
        """An out-of-band invitation from a new relationship DID; any number may accept it."""
        did = await self.new_did()
        invitation = Invitation(sender=did, goal_code=goal_code, goal=goal)
        async with self.store.transaction() as txn:
            await txn.insert(
                _INVITATIONS,
                invitation.id,
                {"id": invitation.id, "did": did, "goal_code": goal_code, "goal": goal},
                tags={"did": did},
            )
            await txn.commit()
        return invitation

    async def accept_invitation(self, invitation: Invitation, *, label: str = "") -> Connection:
        """Connect to the inviter: a fresh DID of ours, then a trust ping that names the invitation.

        :raises agent.errors.DIDResolutionError: the inviter's DID does not resolve.
        :raises MessagingError: ``didcommNoEndpoint`` or ``didcommDeliveryFailed``.
        """
        await self._endpoint_of(invitation.sender)  # fail before creating anything
        my_did = await self.new_did()
        connection = await self._save_connection(
            my_did, invitation.sender, invitation_id=invitation.id, label=label
        )
        ping = build_ping(clock=self.clock, response_requested=True)
        ping["pthid"] = invitation.id
        await self.send(connection.id, ping)
        return connection

    async def connections(self) -> list[Connection]:
        async with self.store.session() as session:
            records = await session.fetch_all(_CONNECTIONS)
        return sorted((_connection(r.json()) for r in records), key=lambda c: c.created)

    async def connection(self, connection_id: str) -> Connection:
        """:raises ProtocolStateError: ``unknownConnection`` when there is none with that id."""
        async with self.store.session() as session:
            record = await session.fetch(_CONNECTIONS, connection_id)
        if record is None:
            raise ProtocolStateError(
                f"no connection {connection_id!r}", details={"reason": "unknownConnection"}
            )
        return _connection(record.json())

    async def ping(self, connection_id: str) -> str:
        """Send a trust ping that asks for a response; returns the ping's id."""
        ping = build_ping(clock=self.clock, response_requested=True)
        await self.send(connection_id, ping)
        return str(ping["id"])

    # Outbound.

    async def send(self, connection_id: str, message: Mapping[str, Any]) -> None:
        """Authcrypt ``message`` from our DID of the connection to the peer and deliver it.

        ``from`` and ``to`` are set from the connection, whatever the message said.

        :raises MessagingError: no DIDComm endpoint, or delivery failed after retries.
        """
        connection = await self.connection(connection_id)
        body = dict(message)
        body["from"] = connection.my_did
        body["to"] = [connection.their_did]
        plaintext = parse_message(body)
        their_keys = await self._agreement_kids(connection.their_did)
        # The envelope cryptography is imported with the first message, not at start-up.
        from agent.messaging.envelope import pack_encrypted

        envelope = await pack_encrypted(
            plaintext,
            to=their_keys,
            resolver=self.resolver,
            frm=f"{connection.my_did}#key-2",
            sender_keys=self._recipient_keys,
        )
        endpoint = await self._endpoint_of(connection.their_did)
        await deliver(envelope, endpoint, client=self.http, attempts=self._attempts)
        log.info("sent %s on connection %s", plaintext.type, connection_id)

    def send_later(self, connection_id: str, message: Mapping[str, Any]) -> None:
        """Send in the background (replies to inbound messages), logging a failure."""

        async def run() -> None:
            try:
                await self.send(connection_id, message)
            except HealthMyDataError as exc:
                log.warning("could not send a reply on %s: %s", connection_id, exc.code)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for background sends (tests, graceful shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # Inbound.

    async def receive(self, envelope: bytes, media_type: str = "") -> None:
        """Process one inbound envelope (the ``POST /didcomm`` handler).

        :raises MessagingError: the envelope does not unpack, or the sender is not
            authenticated (anoncrypt alone is refused: every protocol here needs to know who
            speaks).
        :raises ProtocolStateError: unknown connection, unsupported type, out of order; the
            authenticated sender also receives a problem-report.
        """
        del media_type  # unpack detects the envelope kind itself
        from agent.messaging.envelope import unpack  # with the first message (start-up time)

        result = await unpack(envelope, resolver=self.resolver, recipient_keys=self._recipient_keys)
        message = result.message
        if not result.authenticated or message.from_ is None:
            raise MessagingError(
                "refusing a message whose sender is not authenticated (use authcrypt)",
                code=ErrorCode.DIDCOMM_SENDER_MISMATCH,
            )
        sender = message.from_
        my_did = (result.recipient_kid or "").split("#", 1)[0]
        if not await self.seen.first_time(message.id, sender):
            log.info("ignored redelivered message %s", message.id)
            return
        try:
            connection = await self._route(my_did, sender, message)
            replies = await self.registry.dispatch(message.to_json(), connection_id=connection.id)
        except HealthMyDataError as exc:
            report = problem_report_for(exc, message.to_json(), clock=self.clock)
            if report is not None:
                connection_id = await self._connection_id(my_did, sender)
                if connection_id is not None:
                    self.send_later(connection_id, report)
            raise
        except BaseException:
            await self.seen.forget(message.id, sender)  # let a retry run it again
            raise
        for reply in replies:
            self.send_later(connection.id, reply)

    async def _route(self, my_did: str, sender: str, message: Message) -> Connection:
        connection_id = await self._connection_id(my_did, sender)
        if connection_id is not None:
            return await self.connection(connection_id)
        # A first message on one of our invitations makes the connection.
        if message.pthid is not None:
            async with self.store.session() as session:
                invitation = await session.fetch(_INVITATIONS, message.pthid)
            if invitation is not None and invitation.json().get("did") == my_did:
                return await self._save_connection(my_did, sender, invitation_id=message.pthid)
        raise ProtocolStateError(
            "a message from a DID with no connection here, not answering one of our invitations",
            details={"reason": "unknownConnection", "problem_code": "e.p.msg.unknown-connection"},
        )

    async def _connection_id(self, my_did: str, their_did: str) -> str | None:
        async with self.store.session() as session:
            records = await session.fetch_all(
                _CONNECTIONS, {"my_did": my_did, "their_did": their_did}, limit=1
            )
        return records[0].name if records else None

    async def _save_connection(
        self, my_did: str, their_did: str, *, invitation_id: str | None, label: str = ""
    ) -> Connection:
        connection = Connection(
            id=str(uuid.uuid4()),
            my_did=my_did,
            their_did=their_did,
            invitation_id=invitation_id,
            label=label,
            created=int(self.clock().timestamp()),
        )
        async with self.store.transaction() as txn:
            await txn.insert(
                _CONNECTIONS,
                connection.id,
                asdict(connection),
                tags={"my_did": my_did, "their_did": their_did},
            )
            await txn.commit()
        return connection

    async def _on_ping_response(self, message: JSONObject) -> None:
        sender = message.get("from")
        recipients = message.get("to") or []
        if not isinstance(sender, str) or not recipients:
            return
        connection_id = await self._connection_id(str(recipients[0]), sender)
        if connection_id is None:
            return
        async with self.store.transaction() as txn:
            record = await txn.fetch(_CONNECTIONS, connection_id, for_update=True)
            if record is None:
                return
            data = record.json()
            data["last_ping_response"] = int(self.clock().timestamp())
            await txn.replace(_CONNECTIONS, connection_id, data, tags=record.tags)
            await txn.commit()

    # DID documents.

    async def _document(self, did: str) -> JSONObject:
        document = await self.resolver.resolve(did)
        serialized: JSONObject = document.serialize()
        return serialized

    async def _agreement_kids(self, did: str) -> list[str]:
        document = await self._document(did)
        kids = [
            item if isinstance(item, str) else str(item.get("id"))
            for item in document.get("keyAgreement", [])
        ]
        if not kids:
            raise MessagingError(
                f"{did[:40]}... has no keyAgreement key to encrypt to",
                code=ErrorCode.DIDCOMM_NO_ENDPOINT,
            )
        return [kid if kid.startswith("did:") else f"{did}{kid}" for kid in kids]

    async def _endpoint_of(self, did: str) -> str:
        document = await self._document(did)
        for service in document.get("service", []):
            if not isinstance(service, dict) or service.get("type") != "DIDCommMessaging":
                continue
            endpoint = service.get("serviceEndpoint")
            uri = endpoint.get("uri") if isinstance(endpoint, dict) else endpoint
            if isinstance(uri, str) and uri.startswith(("https://", "http://")):
                return uri
        raise MessagingError(
            "the peer's DID document has no DIDComm HTTP endpoint",
            code=ErrorCode.DIDCOMM_NO_ENDPOINT,
        )


def _connection(data: Any) -> Connection:
    try:
        return Connection(**data)
    except TypeError as exc:  # a record written by another version
        raise StorageError(
            "a stored connection record has an unexpected shape",
            code=ErrorCode.STORE_BACKEND_ERROR,
        ) from exc
