"""DIDComm Messaging v2 Appendix C: every signed and encrypted vector unpacks to the plaintext.

Vectors and their discrepancies: tests/vectors/didcomm/SOURCE.md.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent.dids import DIDResolver
from agent.errors import DIDResolutionError, ErrorCode, MessagingError
from agent.messaging import (
    ContentEncryption,
    InMemorySecrets,
    Layer,
    Message,
    parse_message,
    unpack,
)
from tests.messaging.didcomm_helpers import AppendixResolver, bob_secrets, didcomm_vector

INDEX: dict[str, Any] = didcomm_vector("index.json")
ALICE = "did:example:alice"
BOB = "did:example:bob"
P521_REASON = (
    "aries-askar 0.5.0 has no P-521 (KeyAlg lacks it) and the project does not hand-roll "
    "curve arithmetic; the vector is refused with didcommUnsupportedAlg instead"
)


def expected_plaintext() -> dict[str, Any]:
    """C.1 as the envelopes carry it: ``type`` with ``http`` (not C.1's ``https``) and ``typ``."""
    plain: dict[str, Any] = dict(didcomm_vector("plaintext.json"))
    assert plain["type"].startswith("https://example.com/")
    plain["type"] = "http://" + plain["type"].removeprefix("https://")
    return {"typ": "application/didcomm-plain+json", **plain}


def test_index_names_every_vector_file() -> None:
    assert set(INDEX) == {
        "sender-secrets",
        "recipient-secrets",
        "sender-did-docs",
        "recipient-did-docs",
        "plaintext",
        *SIGNED,
        *ENCRYPTED,
    }


def test_project_resolver_refuses_did_example_so_the_tests_bring_their_own() -> None:
    with pytest.raises(DIDResolutionError) as info:
        DIDResolver().add_document(didcomm_vector("sender-did-docs.json"))
    assert info.value.code is ErrorCode.METHOD_NOT_SUPPORTED


def test_plaintext_vector_parses_and_round_trips() -> None:
    vector = didcomm_vector("plaintext.json")
    message = parse_message(vector)
    assert message.id == "1234567890"
    assert message.from_ == ALICE
    assert message.to == (BOB,)
    assert message.created_time == 1516269022
    assert message.expires_time == 1516385931
    assert message.thread_id == "1234567890"
    assert message.to_json() == {"typ": "application/didcomm-plain+json", **vector}


def test_plaintext_type_discrepancy_between_c1_and_the_envelopes() -> None:
    """index.json's note: C.1 says https, every signed/encrypted payload says http. The tests
    compare the envelopes with C.1 on every header but ``type``, and pin what they carry."""
    assert "https://example.com" in INDEX["plaintext"]["note"]
    c1 = didcomm_vector("plaintext.json")
    carried = expected_plaintext()
    assert {k: v for k, v in carried.items() if k not in {"type", "typ"}} == {
        k: v for k, v in c1.items() if k != "type"
    }
    assert c1["type"] != carried["type"]


SIGNED = {
    "signed-eddsa": ("did:example:alice#key-1", "EdDSA"),
    "signed-es256": ("did:example:alice#key-2", "ES256"),
    "signed-es256k": ("did:example:alice#key-3", "ES256K"),
}


@pytest.mark.parametrize("name", sorted(SIGNED))
async def test_signed_vector_unpacks_to_the_plaintext(
    name: str, appendix_resolver: AppendixResolver
) -> None:
    kid, _alg = SIGNED[name]
    envelope = json.dumps(didcomm_vector(f"{name}.json"))
    result = await unpack(envelope, resolver=appendix_resolver)
    assert result.message.to_json() == expected_plaintext()
    assert result.layers == (Layer.SIGNED,)
    assert result.signer_kid == kid
    assert result.non_repudiation
    assert result.authenticated
    assert not result.encrypted
    assert not result.anonymous_sender
    assert result.sender_kid is None
    assert result.recipient_kid is None


@pytest.mark.parametrize("name", sorted(SIGNED))
async def test_signed_vector_needs_an_authentication_key(name: str) -> None:
    """The spec's "Verification": the key must be in ``authentication`` of the ``from`` DID."""
    sender = dict(didcomm_vector("sender-did-docs.json"))
    sender["assertionMethod"] = sender.pop("authentication")
    resolver = AppendixResolver(sender, didcomm_vector("recipient-did-docs.json"))
    with pytest.raises(MessagingError) as info:
        await unpack(json.dumps(didcomm_vector(f"{name}.json")), resolver=resolver)
    assert info.value.code is ErrorCode.DIDCOMM_KEY_NOT_AUTHORIZED


@pytest.mark.parametrize("name", sorted(SIGNED))
async def test_signed_vector_by_a_signer_other_than_from_is_refused(
    name: str, appendix_resolver: AppendixResolver
) -> None:
    """Same signature and key, but a resolver that files Alice's key under Mallory's DID."""
    vector = didcomm_vector(f"{name}.json")
    mallory = json.loads(
        json.dumps(didcomm_vector("sender-did-docs.json")).replace(ALICE, "did:example:mallory")
    )
    resolver = AppendixResolver(mallory)
    vector["signatures"][0]["header"]["kid"] = SIGNED[name][0].replace(ALICE, "did:example:mallory")
    with pytest.raises(MessagingError) as info:
        await unpack(json.dumps(vector), resolver=resolver)
    assert info.value.code is ErrorCode.DIDCOMM_SENDER_MISMATCH


class Expect:
    """What unpacking an encrypted vector must report."""

    def __init__(
        self,
        layers: tuple[Layer, ...],
        enc: ContentEncryption,
        *,
        sender: str | None = None,
        signer: str | None = None,
        p521: bool = False,
    ) -> None:
        self.layers = layers
        self.enc = enc
        self.sender = sender
        self.signer = signer
        self.p521 = p521


ENCRYPTED: dict[str, Expect] = {
    "anoncrypt-x25519-xc20p": Expect((Layer.ANONCRYPT,), ContentEncryption.XC20P),
    "anoncrypt-p384-a256cbchs512": Expect((Layer.ANONCRYPT,), ContentEncryption.A256CBC_HS512),
    "anoncrypt-p521-a256gcm": Expect((Layer.ANONCRYPT,), ContentEncryption.A256GCM, p521=True),
    "authcrypt-x25519-a256cbchs512": Expect(
        (Layer.AUTHCRYPT,),
        ContentEncryption.A256CBC_HS512,
        sender="did:example:alice#key-x25519-1",
    ),
    "signed-then-authcrypt-p256-a256cbchs512": Expect(
        (Layer.AUTHCRYPT, Layer.SIGNED),
        ContentEncryption.A256CBC_HS512,
        sender="did:example:alice#key-p256-1",
        signer="did:example:alice#key-1",
    ),
    "signed-then-authcrypt-p521-then-anoncrypt-p521-xc20p": Expect(
        (Layer.ANONCRYPT, Layer.AUTHCRYPT, Layer.SIGNED),
        ContentEncryption.A256CBC_HS512,
        sender="did:example:alice#key-p521-1",
        signer="did:example:alice#key-1",
        p521=True,
    ),
}


def _recipient_kids(name: str) -> list[str]:
    return [r["header"]["kid"] for r in didcomm_vector(f"{name}.json")["recipients"]]


ENCRYPTED_CASES = [
    pytest.param(
        name,
        kid,
        id=f"{name}-{kid.partition('#')[2]}",
        marks=[pytest.mark.xfail(strict=True, reason=P521_REASON, raises=MessagingError)]
        if expect.p521
        else [],
    )
    for name, expect in sorted(ENCRYPTED.items())
    for kid in _recipient_kids(name)
]


@pytest.mark.parametrize(("name", "kid"), ENCRYPTED_CASES)
async def test_encrypted_vector_unpacks_to_the_plaintext_for_each_recipient(
    name: str, kid: str, appendix_resolver: AppendixResolver
) -> None:
    expect = ENCRYPTED[name]
    secrets = bob_secrets(kid)
    result = await unpack(
        json.dumps(didcomm_vector(f"{name}.json")),
        resolver=appendix_resolver,
        recipient_keys=secrets,
    )
    assert result.message.to_json() == expected_plaintext()
    assert result.layers == expect.layers
    assert result.enc is expect.enc
    assert result.recipient_kid == kid
    assert result.encrypted
    assert result.sender_kid == expect.sender
    assert result.signer_kid == expect.signer
    assert result.authenticated is (expect.sender is not None or expect.signer is not None)
    assert result.non_repudiation is (expect.signer is not None)
    assert result.anonymous_sender is (expect.layers[0] is Layer.ANONCRYPT)


@pytest.mark.parametrize("name", sorted(n for n, e in ENCRYPTED.items() if e.p521))
async def test_p521_vectors_are_refused_as_unsupported(
    name: str, appendix_resolver: AppendixResolver
) -> None:
    secrets = bob_secrets()
    assert secrets.skipped == {"did:example:bob#key-p521-1", "did:example:bob#key-p521-2"}
    with pytest.raises(MessagingError) as info:
        await unpack(
            json.dumps(didcomm_vector(f"{name}.json")),
            resolver=appendix_resolver,
            recipient_keys=secrets,
        )
    assert info.value.code is ErrorCode.DIDCOMM_UNSUPPORTED_ALG


def test_p521_secrets_are_refused_unless_skipped() -> None:
    jwk = {**didcomm_vector("sender-secrets.json")[-1]}
    assert jwk["crv"] == "P-521"
    with pytest.raises(MessagingError) as info:
        InMemorySecrets.from_jwks([jwk])
    assert info.value.code is ErrorCode.DIDCOMM_UNSUPPORTED_ALG


@pytest.mark.parametrize("name", sorted(n for n, e in ENCRYPTED.items() if not e.p521))
async def test_encrypted_vector_for_someone_else_is_refused(
    name: str, appendix_resolver: AppendixResolver
) -> None:
    """Alice's own secrets are not recipients of anything she sent."""
    from tests.messaging.didcomm_helpers import alice_secrets

    with pytest.raises(MessagingError) as info:
        await unpack(
            json.dumps(didcomm_vector(f"{name}.json")),
            resolver=appendix_resolver,
            recipient_keys=alice_secrets(),
        )
    assert info.value.code is ErrorCode.DIDCOMM_RECIPIENT_NOT_FOUND


def test_expected_plaintext_is_a_message() -> None:
    assert isinstance(parse_message(expected_plaintext()), Message)
