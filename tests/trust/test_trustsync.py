"""agent.trustsync against the operator's real HTTP app (in-process, with its lifespan), and
agent.requestproof: what loads, what a refresh replaces, what an outage keeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from agent.clock import utcnow
from agent.dids import DIDResolver
from agent.errors import HealthMyDataError, ProofError
from agent.requestproof import sign_request_proof, verify_request_proof
from agent.status import StatusChecker
from agent.storage import generate_raw_key, open_store
from agent.trust import TrustRegistry
from agent.trustsync import OperatorSource, TrustSync, max_age_of
from tests.governance.test_operator_api import ADMIN, BASE, _app
from tests.verifier.conftest import Party, _party

DATA_USER = "AccreditedDataUser"


class Switchable(httpx.AsyncBaseTransport):
    """The operator's app, or a refused connection while ``down``."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.down = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Switchable, str]]:
    app, did = await _app(tmp_path)
    async with app.router.lifespan_context(app):
        transport = Switchable(httpx.ASGITransport(app=app))
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            yield http, transport, did


@pytest.fixture
async def parties(tmp_path: Path) -> AsyncIterator[tuple[Party, Party]]:
    store = await open_store(tmp_path / "parties.sqlite", raw_key=generate_raw_key())
    yield await _party(store), await _party(store)
    await store.close()


def _sync(http: httpx.AsyncClient, *operators: str, **kwargs: object) -> TrustSync:
    resolver = DIDResolver(http_client=http)
    checker = StatusChecker(http, resolver)
    registry = TrustRegistry(set(operators), resolver, checker)
    return TrustSync(
        registry,
        [OperatorSource(operators[0], BASE)],
        http,
        resolver,
        checker,
        insecure_http_hosts=frozenset(),
        **kwargs,  # type: ignore[arg-type]
    )


async def _accredit(http: httpx.AsyncClient, did: str) -> str:
    created = await http.post(
        "/admin/accreditations", json={"subject": did, "role": DATA_USER}, headers=ADMIN
    )
    assert created.status_code == 201, created.text
    return str(created.json()["accreditation"]["id"])


def test_max_age_of() -> None:
    assert max_age_of("public, max-age=300") == timedelta(seconds=300)
    assert max_age_of("max-age=60, must-revalidate") == timedelta(seconds=60)
    assert max_age_of("no-store, max-age=60") is None
    assert max_age_of("s-maxage=60") is None
    assert max_age_of(None) is None


async def test_refresh_loads_what_the_operator_signed_and_honours_max_age(
    served: tuple[httpx.AsyncClient, Switchable, str], parties: tuple[Party, Party]
) -> None:
    http, _, operator = served
    accredited, other = parties
    await _accredit(http, accredited.did)
    sync = _sync(http, operator)
    assert await sync.refresh() is True
    assert sync.max_age == timedelta(seconds=300)
    assert sync.next_delay() == timedelta(seconds=240)  # refreshed before max-age runs out
    assert (await sync.registry.check_issuer(accredited.did, DATA_USER)).trusted
    assert not (await sync.registry.check_issuer(other.did, DATA_USER)).trusted
    assert sync.status()["entries"] == 1


async def test_a_list_signed_by_another_operator_loads_nothing(
    served: tuple[httpx.AsyncClient, Switchable, str], parties: tuple[Party, Party]
) -> None:
    http, _, _ = served
    accredited, stranger = parties
    await _accredit(http, accredited.did)
    sync = _sync(http, stranger.did)  # configured with a DID that is not this operator's
    assert await sync.refresh() is False
    assert sync.last_error is not None
    assert sync.last_error.startswith("issuerNotTrusted")
    assert sync.registry.entries() == []
    assert not (await sync.registry.check_issuer(accredited.did, DATA_USER)).trusted


async def test_outage_keeps_the_last_good_data_and_backs_off(
    served: tuple[httpx.AsyncClient, Switchable, str], parties: tuple[Party, Party]
) -> None:
    http, transport, operator = served
    accredited, _ = parties
    await _accredit(http, accredited.did)
    sync = _sync(http, operator)
    assert await sync.refresh()
    fetched = sync.status()["fetchedAt"]
    transport.down = True
    assert await sync.refresh() is False
    assert await sync.refresh() is False
    status = sync.status()
    assert status["stale"] is True
    assert "STATUS_RETRIEVAL_ERROR" in status["lastError"]
    assert status["fetchedAt"] == fetched
    assert sync.next_delay() == timedelta(seconds=4)  # 2 s, 4 s, ... after failures
    # The accreditation's status list cannot be fetched either: the signed trust list, still
    # in force, decides, and the decision says so and how old the list is.
    decision = await sync.registry.check_issuer(accredited.did, DATA_USER)
    assert decision.trusted, decision
    assert "status list could not be fetched" in decision.reason
    assert decision.age is not None


async def test_background_refresh_sees_a_revocation(
    served: tuple[httpx.AsyncClient, Switchable, str], parties: tuple[Party, Party]
) -> None:
    http, _, operator = served
    accredited, _ = parties
    accreditation = await _accredit(http, accredited.did)
    sync = _sync(http, operator, refresh_interval=timedelta(seconds=1))
    assert await sync.refresh()
    assert (await sync.registry.check_issuer(accredited.did, DATA_USER)).trusted
    revoked = await http.post(
        "/admin/accreditations/status",
        json={"id": accreditation, "status": "revoked"},
        headers=ADMIN,
    )
    assert revoked.status_code == 200, revoked.text
    sync.start()
    try:
        for _ in range(300):
            if not sync.registry.entries():
                break
            await asyncio.sleep(0.05)
        decision = await sync.registry.check_issuer(accredited.did, DATA_USER)
        assert not decision.trusted
        assert decision.code == "issuerNotTrusted"
    finally:
        await sync.stop()


async def test_request_proof_binds_did_connection_and_nonce(parties: tuple[Party, Party]) -> None:
    verifier, impostor = parties
    now = utcnow()
    resolver = DIDResolver()
    proof = sign_request_proof(
        verifier.signer, verifier_did=verifier.did, peer_did="did:peer:2.A", nonce="n1", now=now
    )
    proven = await verify_request_proof(
        proof, resolver=resolver, peer_did="did:peer:2.A", nonce="n1", now=now
    )
    assert proven == verifier.did
    for peer, nonce, reason in (
        ("did:peer:2.B", "n1", "otherConnection"),
        ("did:peer:2.A", "n2", "otherRequest"),
    ):
        with pytest.raises(ProofError) as caught:
            await verify_request_proof(
                proof, resolver=resolver, peer_did=peer, nonce=nonce, now=now
            )
        assert caught.value.details["reason"] == reason
    with pytest.raises(ProofError) as caught:
        await verify_request_proof(
            proof,
            resolver=resolver,
            peer_did="did:peer:2.A",
            nonce="n1",
            now=now + timedelta(days=2),
        )
    assert caught.value.details["reason"] == "expired"
    # Someone else's key cannot claim the verifier's DID.
    forged = sign_request_proof(
        impostor.signer, verifier_did=verifier.did, peer_did="did:peer:2.A", nonce="n1", now=now
    )
    with pytest.raises(HealthMyDataError) as refused:
        await verify_request_proof(
            forged, resolver=resolver, peer_did="did:peer:2.A", nonce="n1", now=now
        )
    assert refused.value.details["reason"] == "issuerKeyMismatch"


async def test_a_wallet_without_operators_still_checks_the_verifiers_did(
    parties: tuple[Party, Party],
) -> None:
    """A wallet that trusts no operator cannot check an accreditation, but it can check that
    the request proves the verifier's DID: a proven DID is shown as such, a forged one is not
    (before, every DID was "claimed, not proven" in such a wallet)."""
    from wallet.trust import WalletTrust

    verifier, impostor = parties
    now = utcnow()
    trust = WalletTrust(None, DIDResolver(), clock=lambda: now)
    request = {
        "audience": verifier.did,
        "purpose": "care",
        "nonce": "n1",
        "peer_did": "did:peer:2.A",
    }

    def proof(signer: Party) -> str:
        return sign_request_proof(
            signer.signer, verifier_did=verifier.did, peer_did="did:peer:2.A", nonce="n1", now=now
        )

    proven = await trust.assess(**request, verifier_proof=proof(verifier))
    assert proven.verifier == verifier.did
    assert proven.accredited is None
    assert "(claimed, not proven)" not in proven.text
    assert "trusts no operator" in proven.text

    forged = await trust.assess(**request, verifier_proof=proof(impostor))
    assert forged.verifier is None
    assert forged.accredited is None
    assert "(claimed, not proven)" in forged.text
    assert "proof of its DID fails" in forged.text
    assert "trusts no operator" in forged.text

    bare = await trust.assess(**request, verifier_proof=None)
    assert bare.verifier is None
    assert "(claimed, not proven)" in bare.text
