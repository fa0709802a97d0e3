"""DIDResolver: dispatch, cache, offline documents, and dereferencing keys for a relationship."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from nacl.public import PrivateKey
from nacl.signing import SigningKey

import agent.dids
from agent.dids import (
    DIDResolver,
    build_did_web_document,
    create_did_peer_2,
    create_did_peer_4,
    did_key_from_public,
    did_peer_2_to_3,
    did_peer_4_to_short,
    didcomm_service,
)
from agent.dids.document import key_from_method
from agent.errors import DIDDocumentError, DIDResolutionError, ErrorCode, InvalidInputError
from agent.keys.convert import ed25519_to_x25519_public, public_key_to_jwk
from agent.keys.multikey import KeyType, decode_multikey, encode_multikey
from agent.keys.signer import KeyResolver, ResolvedKey
from tests.conftest import load_vector

WEB_DID = "did:web:hospital.example"
PEER4 = load_vector("did-peer", "spec-examples.json")["numalgo4"]
DID_KEY_VECTORS: dict[str, Any] = load_vector("did-key", "ed25519-x25519.json")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingServer:
    """A MockTransport handler serving documents by URL and counting requests."""

    def __init__(self, documents: dict[str, dict[str, Any]]) -> None:
        self.documents = documents
        self.requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        for did, document in self.documents.items():
            host = did.removeprefix("did:web:")
            if request.url.host == host:
                return httpx.Response(
                    200, content=json.dumps(document), headers={"content-type": "application/json"}
                )
        return httpx.Response(404)


def _ed25519() -> bytes:
    return bytes(SigningKey.generate().verify_key)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def hospital_key() -> bytes:
    return _ed25519()


@pytest.fixture
def server(hospital_key: bytes) -> CountingServer:
    return CountingServer(
        {WEB_DID: build_did_web_document(WEB_DID, [(KeyType.ED25519_PUB, hospital_key)])}
    )


@pytest.fixture
async def resolver(server: CountingServer, clock: FakeClock) -> Any:
    async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as client:
        yield DIDResolver(http_client=client, cache_ttl=60.0, clock=clock)


def test_resolver_is_a_key_resolver() -> None:
    key_resolver: KeyResolver = DIDResolver()
    assert callable(key_resolver.resolve_key)


def test_public_names_are_sorted_and_complete() -> None:
    names = agent.dids.__all__
    assert names == sorted(names)
    for name in names:
        assert hasattr(agent.dids, name), name
    for module in ("key", "peer", "web", "resolver"):
        exported = getattr(agent.dids, module).__all__
        missing = {n for n in exported if not n.isupper()} - set(names)
        assert not missing, f"agent.dids.{module} exports {missing} that agent.dids does not"


# --- resolve ----------------------------------------------------------------------------------


async def test_dispatches_on_method(resolver: DIDResolver, hospital_key: bytes) -> None:
    key_did = did_key_from_public(KeyType.ED25519_PUB, _ed25519())
    peer_did = create_did_peer_2(_ed25519(), bytes(PrivateKey.generate().public_key))
    for did in (key_did, peer_did, WEB_DID):
        assert str((await resolver.resolve(did)).id) == did


@pytest.mark.parametrize(
    ("did", "code"),
    [
        pytest.param("did:example:123", ErrorCode.METHOD_NOT_SUPPORTED, id="example"),
        pytest.param("did:ion:EiAbc", ErrorCode.METHOD_NOT_SUPPORTED, id="ion"),
        pytest.param("not-a-did", ErrorCode.INVALID_DID, id="not-a-did"),
        pytest.param("did:key", ErrorCode.INVALID_DID, id="no-id"),
        pytest.param("", ErrorCode.INVALID_DID, id="empty"),
        pytest.param("did:key:z6Mk#frag", ErrorCode.INVALID_DID, id="did-url"),
        pytest.param("did:key:z6MkBAD", ErrorCode.INVALID_DID, id="bad-did-key"),
        pytest.param("did:web:unknown.example", ErrorCode.NOT_FOUND, id="web-404"),
    ],
)
async def test_resolve_errors(resolver: DIDResolver, did: str, code: ErrorCode) -> None:
    with pytest.raises(DIDResolutionError) as info:
        await resolver.resolve(did)
    assert info.value.code is code


async def test_did_web_needs_client_or_seeded_document(hospital_key: bytes) -> None:
    offline = DIDResolver()
    with pytest.raises(DIDResolutionError) as info:
        await offline.resolve(WEB_DID)
    assert info.value.code is ErrorCode.METHOD_NOT_SUPPORTED
    offline.add_document(build_did_web_document(WEB_DID, [(KeyType.ED25519_PUB, hospital_key)]))
    key = await offline.resolve_key(
        f"{WEB_DID}#{encode_multikey(KeyType.ED25519_PUB, hospital_key)}", "assertionMethod"
    )
    assert key.raw == hospital_key
    assert str(offline.resolve_sync(WEB_DID).id) == WEB_DID


async def test_did_web_cached_for_ttl(
    resolver: DIDResolver, server: CountingServer, clock: FakeClock
) -> None:
    await resolver.resolve(WEB_DID)
    clock.now += 59
    await resolver.resolve(WEB_DID)
    assert server.requests == 1
    clock.now += 1
    await resolver.resolve(WEB_DID)
    assert server.requests == 2
    resolver.forget(WEB_DID)
    await resolver.resolve(WEB_DID)
    assert server.requests == 3


async def test_rotation_is_seen_after_ttl(
    resolver: DIDResolver, server: CountingServer, clock: FakeClock, hospital_key: bytes
) -> None:
    old_url = f"{WEB_DID}#{encode_multikey(KeyType.ED25519_PUB, hospital_key)}"
    await resolver.resolve_key(old_url, "assertionMethod")
    new_key = _ed25519()
    server.documents[WEB_DID] = build_did_web_document(WEB_DID, [(KeyType.ED25519_PUB, new_key)])
    await resolver.resolve_key(old_url, "assertionMethod")  # still cached
    clock.now += 61
    with pytest.raises(DIDDocumentError) as info:
        await resolver.resolve_key(old_url, "assertionMethod")
    assert info.value.code is ErrorCode.KEY_NOT_FOUND


async def test_did_key_cached_forever(resolver: DIDResolver, clock: FakeClock) -> None:
    did = did_key_from_public(KeyType.ED25519_PUB, _ed25519())
    first = await resolver.resolve(did)
    clock.now += 10**9
    assert await resolver.resolve(did) is first
    assert resolver.resolve_sync(did) is first


async def test_cache_is_bounded(server: CountingServer, clock: FakeClock) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as client:
        small = DIDResolver(http_client=client, clock=clock, max_entries=1)
        await small.resolve(WEB_DID)
        small.resolve_sync(did_key_from_public(KeyType.X25519_PUB, b"\x05" * 32))
        await small.resolve(WEB_DID)
    assert server.requests == 2


def test_resolve_sync_refuses_network() -> None:
    with pytest.raises(DIDResolutionError) as info:
        DIDResolver().resolve_sync(WEB_DID)
    assert info.value.code is ErrorCode.METHOD_NOT_SUPPORTED


def test_rejects_bad_configuration() -> None:
    with pytest.raises(InvalidInputError):
        DIDResolver(cache_ttl=-1)
    with pytest.raises(InvalidInputError):
        DIDResolver(max_entries=0)


# --- resolve_key ------------------------------------------------------------------------------


@pytest.mark.parametrize("did", list(DID_KEY_VECTORS), ids=[d[-8:] for d in DID_KEY_VECTORS])
async def test_did_key_urls_dereference(resolver: DIDResolver, did: str) -> None:
    methods = DID_KEY_VECTORS[did]["didDocument"]["verificationMethod"]
    vm_ids = [vm["id"] for vm in methods]
    signing = await resolver.resolve_key(vm_ids[0], "assertionMethod")
    agreement = await resolver.resolve_key(vm_ids[1], "keyAgreement")
    expected_signing = key_from_method(methods[0])
    assert signing == ResolvedKey(vm_ids[0], did, *expected_signing)
    assert agreement == ResolvedKey(vm_ids[1], did, *key_from_method(methods[1]))
    assert agreement.raw == ed25519_to_x25519_public(signing.raw)
    assert resolver.resolve_key_sync(vm_ids[0], "authentication") == signing


async def test_key_not_authorised_for_relationship(resolver: DIDResolver) -> None:
    did = did_key_from_public(KeyType.ED25519_PUB, _ed25519())
    with pytest.raises(DIDDocumentError) as info:
        await resolver.resolve_key(f"{did}#{did[8:]}", "keyAgreement")
    assert info.value.code is ErrorCode.MISMATCHED_PROOF_PURPOSE_ERROR


_K = "did:key:z6MkpTHR8VNsBxYAAWHut2Geadd9jSwuBV8xRoAnwWsdvktH"
_URL_ERRORS = [
    ("no-fragment", _K, DIDResolutionError, ErrorCode.INVALID_DID_URL),
    ("relative", "#key-1", DIDResolutionError, ErrorCode.INVALID_DID_URL),
    ("no-did", "nonsense#key-1", DIDResolutionError, ErrorCode.INVALID_DID_URL),
    ("path", f"{_K}/path#x", DIDResolutionError, ErrorCode.INVALID_DID_URL),
    ("method", "did:example:123#key-1", DIDResolutionError, ErrorCode.METHOD_NOT_SUPPORTED),
    ("unknown-fragment", f"{_K}#key-1", DIDDocumentError, ErrorCode.KEY_NOT_FOUND),
]


@pytest.mark.parametrize(
    ("url", "error", "code"), [c[1:] for c in _URL_ERRORS], ids=[c[0] for c in _URL_ERRORS]
)
async def test_resolve_key_errors(
    resolver: DIDResolver, url: str, error: type[Exception], code: ErrorCode
) -> None:
    with pytest.raises(error) as info:
        await resolver.resolve_key(url, "authentication")
    assert getattr(info.value, "code", None) is code


async def test_unknown_relationship(resolver: DIDResolver) -> None:
    did = did_key_from_public(KeyType.ED25519_PUB, _ed25519())
    with pytest.raises(InvalidInputError):
        await resolver.resolve_key(f"{did}#{did[8:]}", "signing")


def _web_document(methods: list[dict[str, Any]], **relationships: Any) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": WEB_DID,
        "verificationMethod": methods,
        **relationships,
    }


async def test_jwk_methods() -> None:
    ed = _ed25519()
    x = bytes(PrivateKey.generate().public_key)
    p256 = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    )
    methods = [
        {"id": f"#{name}", "type": "JsonWebKey", "controller": WEB_DID, "publicKeyJwk": jwk}
        for name, jwk in (
            ("ed", public_key_to_jwk(KeyType.ED25519_PUB, ed)),
            ("x", public_key_to_jwk(KeyType.X25519_PUB, x)),
            ("p256", public_key_to_jwk(KeyType.P256_PUB, p256)),
        )
    ]
    resolver = DIDResolver()
    resolver.add_document(
        _web_document(methods, assertionMethod=["#ed", "#p256"], keyAgreement=["#x"])
    )
    assert (await resolver.resolve_key(f"{WEB_DID}#ed", "assertionMethod")).raw == ed
    assert (await resolver.resolve_key(f"{WEB_DID}#x", "keyAgreement")).raw == x
    p256_key = await resolver.resolve_key(f"{WEB_DID}#p256", "assertionMethod")
    assert (p256_key.key_type, p256_key.raw) == (KeyType.P256_PUB, p256)


async def test_jwk_vector_method() -> None:
    # The last did:key vector gives its document with JsonWebKey2020 methods.
    vector = DID_KEY_VECTORS["did:key:z6MkwYMhwTvsq376YBAcJHy3vyRWzBgn5vKfVqqDCgm7XVKU"]
    text = json.dumps(vector["didDocument"]).replace(vector["didDocument"]["id"], WEB_DID)
    resolver = DIDResolver()
    resolver.add_document(json.loads(text))
    document = json.loads(text)
    key = await resolver.resolve_key(document["keyAgreement"][0], "keyAgreement")
    assert key.raw == ed25519_to_x25519_public(
        (await resolver.resolve_key(document["assertionMethod"][0], "assertionMethod")).raw
    )


async def test_legacy_2018_base58_method() -> None:
    vector = DID_KEY_VECTORS["did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"]
    text = json.dumps(vector["didDocument"]).replace(vector["didDocument"]["id"], WEB_DID)
    resolver = DIDResolver()
    resolver.add_document(json.loads(text))
    key = await resolver.resolve_key(json.loads(text)["authentication"][0], "authentication")
    assert key.raw == bytes(SigningKey(bytes(32)).verify_key)


async def test_jwk_with_private_key_is_rejected() -> None:
    jwk = {**public_key_to_jwk(KeyType.ED25519_PUB, _ed25519()), "d": "AAAA"}
    resolver = DIDResolver()
    resolver.add_document(
        _web_document(
            [{"id": "#k", "type": "JsonWebKey", "controller": WEB_DID, "publicKeyJwk": jwk}],
            assertionMethod=["#k"],
        )
    )
    with pytest.raises(DIDDocumentError) as info:
        await resolver.resolve_key(f"{WEB_DID}#k", "assertionMethod")
    assert info.value.code is ErrorCode.INVALID_DID_DOCUMENT


async def test_embedded_method() -> None:
    ed = _ed25519()
    embedded = {
        "id": "#embedded",
        "type": "Multikey",
        "controller": WEB_DID,
        "publicKeyMultibase": encode_multikey(KeyType.ED25519_PUB, ed),
    }
    resolver = DIDResolver()
    resolver.add_document(_web_document([], assertionMethod=[embedded]))
    assert (await resolver.resolve_key(f"{WEB_DID}#embedded", "assertionMethod")).raw == ed
    with pytest.raises(DIDDocumentError) as info:
        await resolver.resolve_key(f"{WEB_DID}#embedded", "authentication")
    assert info.value.code is ErrorCode.MISMATCHED_PROOF_PURPOSE_ERROR


async def test_method_controlled_by_another_did() -> None:
    method = {
        "id": "#k",
        "type": "Multikey",
        "controller": "did:web:attacker.example",
        "publicKeyMultibase": encode_multikey(KeyType.ED25519_PUB, _ed25519()),
    }
    resolver = DIDResolver()
    resolver.add_document(_web_document([method], assertionMethod=["#k"]))
    with pytest.raises(DIDDocumentError) as info:
        await resolver.resolve_key(f"{WEB_DID}#k", "assertionMethod")
    assert info.value.code is ErrorCode.INVALID_DID_DOCUMENT


def test_add_document_rejects_invalid() -> None:
    with pytest.raises(DIDDocumentError):
        DIDResolver().add_document({"id": WEB_DID, "verificationMethod": [{"id": "#k"}]})
    with pytest.raises(DIDDocumentError):
        DIDResolver().add_document({"verificationMethod": []})


# --- short forms ---------------------------------------------------------------------------------


async def test_did_peer_3_resolves_after_did_peer_2(resolver: DIDResolver) -> None:
    signing, agreement = _ed25519(), bytes(PrivateKey.generate().public_key)
    did2 = create_did_peer_2(signing, agreement, [didcomm_service("https://w.example")])
    did3 = did_peer_2_to_3(did2)
    with pytest.raises(DIDResolutionError) as info:
        await resolver.resolve(did3)
    assert info.value.code is ErrorCode.NOT_FOUND
    await resolver.resolve(did2)
    document = (await resolver.resolve(did3)).serialize()
    assert document["id"] == did3
    assert document["alsoKnownAs"] == [did2]
    key = await resolver.resolve_key(f"{did3}#key-2", "keyAgreement")
    assert (key.controller, key.raw) == (did3, agreement)


async def test_did_peer_4_short_form_after_long_form(resolver: DIDResolver) -> None:
    long_form = PEER4["long_form_did"]
    short = PEER4["short_form_did"]
    with pytest.raises(DIDResolutionError) as info:
        await resolver.resolve(short)
    assert info.value.code is ErrorCode.NOT_FOUND
    await resolver.resolve(long_form)
    assert str((await resolver.resolve(short)).id) == short
    # The spec example uses the legacy Ed25519VerificationKey2020 type.
    key = await resolver.resolve_key(f"{short}#6MkrCD1c", "authentication")
    assert (key.key_type, key.raw) == decode_multikey(
        PEER4["input_document"]["verificationMethod"][1]["publicKeyMultibase"]
    )


async def test_created_did_peer_4_keys(resolver: DIDResolver) -> None:
    signing, agreement = _ed25519(), bytes(PrivateKey.generate().public_key)
    long_form = create_did_peer_4(signing, agreement)
    assert (await resolver.resolve_key(f"{long_form}#key-1", "authentication")).raw == signing
    short = did_peer_4_to_short(long_form)
    assert (await resolver.resolve_key(f"{short}#key-2", "keyAgreement")).raw == agreement
