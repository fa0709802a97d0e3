"""The agent runtime in-process: connect, ping, replay, unknown senders, problem reports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from agent.errors import ErrorCode, HealthMyDataError, MessagingError, ProtocolStateError
from agent.messaging import ENCRYPTED_MEDIA_TYPE, Invitation
from agent.runtime import DIDCommAgent
from agent.storage import generate_raw_key, open_store


class Network:
    """Routes each agent's outbound POSTs to the receiving agent, recording the envelopes."""

    def __init__(self) -> None:
        self.agents: dict[str, DIDCommAgent] = {}
        self.sent: list[tuple[str, bytes]] = []

    async def handle(self, request: httpx.Request) -> httpx.Response:
        agent = self.agents[request.url.host]
        body = await request.aread()
        self.sent.append((request.url.host, body))
        try:
            await agent.receive(body, request.headers["content-type"])
        except HealthMyDataError as exc:
            return httpx.Response(400, json=exc.to_dict())
        return httpx.Response(202)


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[tuple[DIDCommAgent, DIDCommAgent, Network]]:
    network = Network()
    client = httpx.AsyncClient(transport=httpx.MockTransport(network.handle))
    stores = []
    agents = []
    for name in ("hospital", "wallet"):
        store = await open_store(tmp_path / f"{name}.sqlite", raw_key=generate_raw_key())
        stores.append(store)
        agent = DIDCommAgent(store, endpoint=f"http://{name}.test/didcomm", http=client)
        network.agents[f"{name}.test"] = agent
        agents.append(agent)
    yield agents[0], agents[1], network
    for agent in agents:
        await agent.drain()
    for store in stores:
        await store.close()
    await client.aclose()


async def _connect(hospital: DIDCommAgent, wallet: DIDCommAgent) -> tuple[str, str]:
    invitation = await hospital.create_invitation()
    connection = await wallet.accept_invitation(invitation)
    await hospital.drain()
    await wallet.drain()
    (hospital_side,) = await hospital.connections()
    return hospital_side.id, connection.id


async def test_invitation_connects_with_fresh_dids_and_a_ping(
    pair: tuple[DIDCommAgent, DIDCommAgent, Network],
) -> None:
    hospital, wallet, _ = pair
    hospital_id, wallet_id = await _connect(hospital, wallet)
    mine = await wallet.connection(wallet_id)
    theirs = await hospital.connection(hospital_id)
    assert mine.my_did == theirs.their_did
    assert mine.their_did == theirs.my_did
    assert mine.last_ping_response is not None
    # A second relationship uses another DID: two verifiers cannot correlate the citizen.
    second = await wallet.accept_invitation(await hospital.create_invitation())
    assert second.my_did != mine.my_did


async def test_replayed_envelope_has_no_second_effect(
    pair: tuple[DIDCommAgent, DIDCommAgent, Network],
) -> None:
    hospital, wallet, network = pair
    hospital_id, _ = await _connect(hospital, wallet)
    before = len(network.sent)
    await hospital.ping(hospital_id)
    await wallet.drain()
    await hospital.drain()
    ping_envelope = network.sent[before][1]
    replies = len(network.sent)
    await wallet.receive(ping_envelope, ENCRYPTED_MEDIA_TYPE)  # the same ping again
    await wallet.drain()
    assert len(network.sent) == replies  # no second ping-response


async def test_tampered_envelope_is_refused_and_changes_nothing(
    pair: tuple[DIDCommAgent, DIDCommAgent, Network],
) -> None:
    hospital, wallet, network = pair
    hospital_id, _ = await _connect(hospital, wallet)
    before = len(network.sent)
    await hospital.ping(hospital_id)
    await hospital.drain()
    envelope = bytearray(network.sent[before][1])
    index = envelope.index(b'"ciphertext":"') + 20
    envelope[index] = ord("A") if envelope[index] != ord("A") else ord("B")
    with pytest.raises(MessagingError):
        await wallet.receive(bytes(envelope), ENCRYPTED_MEDIA_TYPE)


async def test_unknown_sender_is_refused(
    pair: tuple[DIDCommAgent, DIDCommAgent, Network], tmp_path: Path
) -> None:
    hospital, wallet, network = pair
    hospital_id, _ = await _connect(hospital, wallet)
    # A stranger who learnt the hospital's relationship DID but never connected.
    store = await open_store(tmp_path / "stranger.sqlite", raw_key=generate_raw_key())
    try:
        stranger = DIDCommAgent(store, endpoint="http://stranger.test/didcomm", http=wallet.http)
        network.agents["stranger.test"] = stranger
        hospital_did = (await hospital.connection(hospital_id)).my_did
        invitation = Invitation(sender=hospital_did)  # not an invitation the hospital made
        with pytest.raises(MessagingError) as info:
            await stranger.accept_invitation(invitation)
        assert info.value.code is ErrorCode.DIDCOMM_DELIVERY_FAILED
        assert len(await hospital.connections()) == 1
        await stranger.drain()
    finally:
        await store.close()


async def test_unsupported_message_type_gets_a_problem_report(
    pair: tuple[DIDCommAgent, DIDCommAgent, Network],
) -> None:
    hospital, wallet, network = pair
    _, wallet_id = await _connect(hospital, wallet)
    with pytest.raises(MessagingError) as info:
        await wallet.send(
            wallet_id,
            {
                "id": "m-unsupported",
                "type": "https://didcomm.org/unknown-protocol/1.0/hello",
                "body": {},
            },
        )
    assert info.value.details["status"] == 400
    await hospital.drain()
    await wallet.drain()
    reports = [body for host, body in network.sent if host == "wallet.test"]
    assert reports  # the hospital answered with a problem-report, authcrypted to the wallet


async def test_unknown_connection_id_is_a_typed_error(
    pair: tuple[DIDCommAgent, DIDCommAgent, Network],
) -> None:
    hospital, _, _ = pair
    with pytest.raises(ProtocolStateError) as info:
        await hospital.ping("no-such-connection")
    assert info.value.details["reason"] == "unknownConnection"
