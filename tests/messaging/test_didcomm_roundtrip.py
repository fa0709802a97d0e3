"""pack -> unpack for every allowed layering, with keys held by AskarKeyStore on did:peer:2 DIDs;
and the sender, recipient and nesting rules that unpack enforces."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.dids import DIDResolver
from agent.errors import ErrorCode, HealthMyDataError, MessagingError
from agent.keys import AskarKeyStore, AskarSigner, KeyType
from agent.messaging import (
    ContentEncryption,
    InMemorySecrets,
    Layer,
    Message,
    pack_encrypted,
    pack_plaintext,
    pack_signed,
    unpack,
)
from agent.messaging._askar import JoseKey
from agent.messaging._common import dumps
from agent.messaging.jwe import encrypt_jwe
from agent.messaging.jws import sign_jws
from agent.storage import Store, generate_raw_key, open_store
from tests.messaging.didcomm_helpers import (
    AppendixResolver,
    Party,
    alice_secrets,
    bob_secrets,
    didcomm_vector,
    make_party,
    run,
)

ENCS = list(ContentEncryption)


def message_between(sender: Party, *recipients: Party, **extra: Any) -> Message:
    return Message(
        id="msg-1",
        type="https://didcomm.org/basicmessage/2.0/message",
        body={"content": "Allergy: penicillin"},
        from_=sender.did,
        to=tuple(r.did for r in recipients),
        created_time=1_700_000_000,
        **extra,
    )


# (sign, authcrypt, protect_sender, enc, expected layers), DIDComm v2 "IANA Media Types".
COMBINATIONS = [
    *[(False, False, False, enc, (Layer.ANONCRYPT,)) for enc in ENCS],
    *[(True, False, False, enc, (Layer.ANONCRYPT, Layer.SIGNED)) for enc in ENCS],
    (False, True, False, ContentEncryption.A256CBC_HS512, (Layer.AUTHCRYPT,)),
    (True, True, False, ContentEncryption.A256CBC_HS512, (Layer.AUTHCRYPT, Layer.SIGNED)),
    *[(False, True, True, enc, (Layer.ANONCRYPT, Layer.AUTHCRYPT)) for enc in ENCS],
    *[(True, True, True, enc, (Layer.ANONCRYPT, Layer.AUTHCRYPT, Layer.SIGNED)) for enc in ENCS],
]


def _combination_id(case: tuple[bool, bool, bool, ContentEncryption, tuple[Layer, ...]]) -> str:
    return "(".join(layer.value for layer in case[4]) + f"-{case[3].value}"


@pytest.mark.parametrize("case", COMBINATIONS, ids=_combination_id)
async def test_every_allowed_combination_round_trips(
    case: tuple[bool, bool, bool, ContentEncryption, tuple[Layer, ...]],
    parties: dict[str, Party],
    resolver: DIDResolver,
) -> None:
    sign, authcrypt, protect_sender, enc, layers = case
    alice, bob = parties["alice"], parties["bob"]
    message = message_between(alice, bob, thid="thread-9")
    packed = await pack_encrypted(
        message,
        to=[bob.agreement_kid],
        resolver=resolver,
        frm=alice.agreement_kid if authcrypt else None,
        sender_keys=alice.recipient_keys if authcrypt else None,
        sign_with=alice.signer if sign else None,
        enc=enc,
        protect_sender=protect_sender,
    )
    result = await unpack(packed, resolver=resolver, recipient_keys=bob.recipient_keys)
    assert result.message == message
    assert result.layers == layers
    assert result.encrypted
    assert result.authenticated is (sign or authcrypt)
    assert result.non_repudiation is sign
    assert result.anonymous_sender is (layers[0] is Layer.ANONCRYPT)
    assert result.sender_kid == (alice.agreement_kid if authcrypt else None)
    assert result.signer_kid == (alice.signing_kid if sign else None)
    assert result.recipient_kid == bob.agreement_kid
    expected_enc = ContentEncryption.A256CBC_HS512 if authcrypt else enc
    assert result.enc is expected_enc
    outer = json.loads(packed)
    header = json.loads(_b64(outer["protected"]))
    assert header["typ"] == "application/didcomm-encrypted+json"
    assert header["enc"] == enc.value
    assert ("skid" in header) is (authcrypt and not protect_sender)


def _b64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


async def test_plaintext_and_signed_round_trip(
    parties: dict[str, Party], resolver: DIDResolver
) -> None:
    alice, bob = parties["alice"], parties["bob"]
    message = message_between(alice, bob, extra_headers={"lang": "en"})
    plain = await unpack(pack_plaintext(message), resolver=resolver)
    assert plain.message == message
    assert plain.layers == ()
    assert not plain.encrypted
    assert not plain.authenticated
    assert not plain.non_repudiation
    assert plain.message.extra_headers == {"lang": "en"}

    signed = await unpack(pack_signed(message, alice.signer), resolver=resolver)
    assert signed.message == message
    assert signed.layers == (Layer.SIGNED,)
    assert signed.signer_kid == alice.signing_kid
    assert signed.non_repudiation
    assert signed.authenticated
    assert not signed.encrypted


async def test_es256_signer_round_trips(stores: dict[str, Store], resolver: DIDResolver) -> None:
    dora = await make_party(stores["alice"], p256_signer=True)
    message = Message(id="1", type="https://didcomm.org/x/1.0/y", body={}, from_=dora.did)
    packed = pack_signed(message, dora.signer)
    header = json.loads(_b64(json.loads(packed)["signatures"][0]["protected"]))
    assert header == {"typ": "application/didcomm-signed+json", "alg": "ES256"}
    result = await unpack(packed, resolver=resolver)
    assert result.signer_kid == dora.signing_kid


async def test_multiple_recipients_each_unpack(
    parties: dict[str, Party], resolver: DIDResolver
) -> None:
    alice, bob, carol = parties["alice"], parties["bob"], parties["carol"]
    message = message_between(alice, bob, carol)
    packed = await pack_encrypted(
        message,
        to=[carol.agreement_kid, bob.agreement_kid],
        resolver=resolver,
        frm=alice.agreement_kid,
        sender_keys=alice.recipient_keys,
    )
    recipients = json.loads(packed)["recipients"]
    assert [r["header"]["kid"] for r in recipients] == [carol.agreement_kid, bob.agreement_kid]
    for party in (bob, carol):
        result = await unpack(packed, resolver=resolver, recipient_keys=party.recipient_keys)
        assert result.message == message
        assert result.recipient_kid == party.agreement_kid


@pytest.mark.parametrize(
    ("sender_kid", "recipient_kids"),
    [
        (
            "did:example:alice#key-p256-1",
            ["did:example:bob#key-p256-1", "did:example:bob#key-p256-2"],
        ),
        ("did:example:alice#key-x25519-1", ["did:example:bob#key-x25519-2"]),
    ],
)
async def test_authcrypt_with_appendix_keys_on_each_curve(
    sender_kid: str, recipient_kids: list[str], appendix_resolver: AppendixResolver
) -> None:
    message = Message(
        id="1", type="https://didcomm.org/x/1.0/y", body={"a": 1}, from_="did:example:alice"
    )
    packed = await pack_encrypted(
        message,
        to=recipient_kids,
        resolver=appendix_resolver,
        frm=sender_kid,
        sender_keys=alice_secrets(),
    )
    result = await unpack(packed, resolver=appendix_resolver, recipient_keys=bob_secrets())
    assert result.message == message
    assert result.sender_kid == sender_kid


@pytest.mark.parametrize("enc", ENCS)
async def test_anoncrypt_p384_round_trips(
    enc: ContentEncryption, appendix_resolver: AppendixResolver
) -> None:
    message = Message(id="1", type="https://didcomm.org/x/1.0/y", body={})
    packed = await pack_encrypted(
        message,
        to=["did:example:bob#key-p384-1", "did:example:bob#key-p384-2"],
        resolver=appendix_resolver,
        enc=enc,
    )
    epk = json.loads(_b64(json.loads(packed)["protected"]))["epk"]
    assert epk["crv"] == "P-384"
    result = await unpack(packed, resolver=appendix_resolver, recipient_keys=bob_secrets())
    assert result.message == message
    assert result.anonymous_sender
    assert not result.authenticated


# --- refusals at pack time --------------------------------------------------------------------


@pytest.mark.parametrize("enc", [ContentEncryption.XC20P, ContentEncryption.A256GCM])
async def test_authcrypt_with_another_enc_is_refused(
    enc: ContentEncryption, parties: dict[str, Party], resolver: DIDResolver
) -> None:
    alice, bob = parties["alice"], parties["bob"]
    with pytest.raises(MessagingError) as info:
        await pack_encrypted(
            message_between(alice, bob),
            to=[bob.agreement_kid],
            resolver=resolver,
            frm=alice.agreement_kid,
            sender_keys=alice.recipient_keys,
            enc=enc,
        )
    assert info.value.code is ErrorCode.DIDCOMM_UNSUPPORTED_ALG
    with pytest.raises(MessagingError) as info:
        encrypt_jwe(
            b"{}",
            [(bob.agreement_kid, JoseKey.ephemeral("X25519"))],
            enc=enc,
            sender=(alice.agreement_kid, JoseKey.ephemeral("X25519")),
        )
    assert info.value.code is ErrorCode.DIDCOMM_UNSUPPORTED_ALG


async def test_unknown_enc_is_refused(parties: dict[str, Party], resolver: DIDResolver) -> None:
    alice, bob = parties["alice"], parties["bob"]
    with pytest.raises(MessagingError) as info:
        await pack_encrypted(
            message_between(alice, bob), to=[bob.agreement_kid], resolver=resolver, enc="A128GCM"
        )
    assert info.value.code is ErrorCode.DIDCOMM_UNSUPPORTED_ALG


async def test_pack_refuses_a_sender_other_than_from(
    parties: dict[str, Party], resolver: DIDResolver
) -> None:
    alice, bob, carol = parties["alice"], parties["bob"], parties["carol"]
    message = message_between(alice, bob)
    with pytest.raises(MessagingError) as info:
        pack_signed(message, carol.signer)
    assert info.value.code is ErrorCode.DIDCOMM_SENDER_MISMATCH
    with pytest.raises(MessagingError) as info:
        await pack_encrypted(
            message,
            to=[bob.agreement_kid],
            resolver=resolver,
            frm=carol.agreement_kid,
            sender_keys=carol.recipient_keys,
        )
    assert info.value.code is ErrorCode.DIDCOMM_SENDER_MISMATCH


async def test_pack_refuses_recipients_not_in_to(
    parties: dict[str, Party], resolver: DIDResolver
) -> None:
    alice, bob, carol = parties["alice"], parties["bob"], parties["carol"]
    with pytest.raises(MessagingError) as info:
        await pack_encrypted(
            message_between(alice, bob), to=[carol.agreement_kid], resolver=resolver
        )
    assert info.value.code is ErrorCode.DIDCOMM_RECIPIENTS_MISMATCH


async def test_pack_refuses_a_signing_key_as_recipient(
    parties: dict[str, Party], resolver: DIDResolver
) -> None:
    alice, bob = parties["alice"], parties["bob"]
    with pytest.raises(MessagingError) as info:
        await pack_encrypted(message_between(alice, bob), to=[bob.signing_kid], resolver=resolver)
    assert info.value.code is ErrorCode.DIDCOMM_KEY_NOT_AUTHORIZED


async def test_pack_refuses_mixed_curves(appendix_resolver: AppendixResolver) -> None:
    message = Message(id="1", type="https://didcomm.org/x/1.0/y", body={})
    with pytest.raises(MessagingError) as info:
        await pack_encrypted(
            message,
            to=["did:example:bob#key-x25519-1", "did:example:bob#key-p256-1"],
            resolver=appendix_resolver,
        )
    assert info.value.code is ErrorCode.DIDCOMM_UNSUPPORTED_ALG


# --- refusals at unpack time ------------------------------------------------------------------


async def test_authcrypt_skid_of_another_did_than_from_is_refused(
    parties: dict[str, Party], resolver: DIDResolver
) -> None:
    """Mallory (carol) authcrypts with her own key a message whose from says alice."""
    alice, bob, carol = parties["alice"], parties["bob"], parties["carol"]
    forged = message_between(alice, bob)
    carol_key = JoseKey.from_handle(await carol.recipient_keys.agreement_key(carol.agreement_kid))
    bob_key = JoseKey.from_jwk(
        JoseKey.from_handle(await bob.recipient_keys.agreement_key(bob.agreement_kid)).public_jwk()
    )
    jwe = encrypt_jwe(
        forged.to_bytes(),
        [(bob.agreement_kid, bob_key)],
        enc=ContentEncryption.A256CBC_HS512,
        sender=(carol.agreement_kid, carol_key),
    )
    with pytest.raises(MessagingError) as info:
        await unpack(dumps(jwe), resolver=resolver, recipient_keys=bob.recipient_keys)
    assert info.value.code is ErrorCode.DIDCOMM_SENDER_MISMATCH


async def test_signer_of_another_did_than_from_is_refused(
    parties: dict[str, Party], resolver: DIDResolver
) -> None:
    alice, bob, carol = parties["alice"], parties["bob"], parties["carol"]
    forged = message_between(alice, bob)
    jws = sign_jws(forged.to_bytes(), carol.signer)
    with pytest.raises(MessagingError) as info:
        await unpack(dumps(jws), resolver=resolver)
    assert info.value.code is ErrorCode.DIDCOMM_SENDER_MISMATCH


async def test_signed_message_without_from_is_refused(
    parties: dict[str, Party], resolver: DIDResolver
) -> None:
    anonymous = Message(id="1", type="https://didcomm.org/x/1.0/y", body={})
    jws = sign_jws(anonymous.to_bytes(), parties["alice"].signer)
    with pytest.raises(MessagingError) as info:
        await unpack(dumps(jws), resolver=resolver)
    assert info.value.code is ErrorCode.DIDCOMM_SENDER_MISMATCH


async def test_wrong_recipient_is_refused(parties: dict[str, Party], resolver: DIDResolver) -> None:
    alice, bob, carol = parties["alice"], parties["bob"], parties["carol"]
    packed = await pack_encrypted(
        message_between(alice, bob), to=[bob.agreement_kid], resolver=resolver
    )
    with pytest.raises(MessagingError) as info:
        await unpack(packed, resolver=resolver, recipient_keys=carol.recipient_keys)
    assert info.value.code is ErrorCode.DIDCOMM_RECIPIENT_NOT_FOUND
    with pytest.raises(MessagingError) as info:
        await unpack(packed, resolver=resolver)
    assert info.value.code is ErrorCode.DIDCOMM_RECIPIENT_NOT_FOUND


async def test_surreptitious_forwarding_is_refused(
    parties: dict[str, Party], resolver: DIDResolver
) -> None:
    """Bob re-encrypts Alice's signed message to Carol: the signature still verifies, but the
    message's ``to`` says Bob, so Carol refuses it."""
    alice, bob, carol = parties["alice"], parties["bob"], parties["carol"]
    signed = pack_signed(message_between(alice, bob), alice.signer)
    carol_key = await _public(carol)
    jwe = encrypt_jwe(signed, [(carol.agreement_kid, carol_key)], enc=ContentEncryption.XC20P)
    with pytest.raises(MessagingError) as info:
        await unpack(dumps(jwe), resolver=resolver, recipient_keys=carol.recipient_keys)
    assert info.value.code is ErrorCode.DIDCOMM_RECIPIENTS_MISMATCH


async def _public(party: Party) -> JoseKey:
    handle = await party.recipient_keys.agreement_key(party.agreement_kid)
    return JoseKey.from_jwk(JoseKey.from_handle(handle).public_jwk())


async def test_disallowed_nestings_are_refused(
    parties: dict[str, Party], resolver: DIDResolver
) -> None:
    alice, bob = parties["alice"], parties["bob"]
    message = message_between(alice, bob)
    bob_key = await _public(bob)
    alice_private = JoseKey.from_handle(
        await alice.recipient_keys.agreement_key(alice.agreement_kid)
    )
    to_bob = [(bob.agreement_kid, bob_key)]
    anon = dumps(encrypt_jwe(message.to_bytes(), to_bob, enc=ContentEncryption.XC20P))
    auth_of_anon = encrypt_jwe(
        anon,
        to_bob,
        enc=ContentEncryption.A256CBC_HS512,
        sender=(alice.agreement_kid, alice_private),
    )
    auth = dumps(
        encrypt_jwe(
            message.to_bytes(),
            to_bob,
            enc=ContentEncryption.A256CBC_HS512,
            sender=(alice.agreement_kid, alice_private),
        )
    )
    auth_of_auth = encrypt_jwe(
        auth,
        to_bob,
        enc=ContentEncryption.A256CBC_HS512,
        sender=(alice.agreement_kid, alice_private),
    )
    cases = {
        "anoncrypt(anoncrypt)": encrypt_jwe(anon, to_bob, enc=ContentEncryption.A256GCM),
        "authcrypt(anoncrypt)": auth_of_anon,
        "authcrypt(authcrypt)": auth_of_auth,
        "signed(anoncrypt)": sign_jws(anon, alice.signer),
        "signed(signed)": sign_jws(pack_signed(message, alice.signer), alice.signer),
    }
    for name, envelope in cases.items():
        with pytest.raises(MessagingError) as info:
            await unpack(dumps(envelope), resolver=resolver, recipient_keys=bob.recipient_keys)
        assert info.value.code is ErrorCode.DIDCOMM_BAD_NESTING, name


async def test_size_limit_and_strict_json(resolver: DIDResolver) -> None:
    message = Message(id="1", type="https://didcomm.org/x/1.0/y", body={"pad": "x" * 200})
    with pytest.raises(MessagingError) as info:
        await unpack(pack_plaintext(message), resolver=resolver, max_bytes=100)
    assert info.value.code is ErrorCode.INPUT_TOO_LARGE
    for bad in (b"not json", b"[]", b'{"id":"1","id":"2","type":"t","body":{}}', b"\xff"):
        with pytest.raises(MessagingError) as info:
            await unpack(bad, resolver=resolver)
        assert info.value.code is ErrorCode.DIDCOMM_MALFORMED


async def test_in_memory_secrets_hold_only_what_they_were_given() -> None:
    secrets = bob_secrets("did:example:bob#key-x25519-1")
    assert await secrets.agreement_key("did:example:bob#key-x25519-1") is not None
    assert await secrets.agreement_key("did:example:bob#key-x25519-2") is None
    with pytest.raises(MessagingError):
        InMemorySecrets({"not-a-did-url": {"kty": "OKP"}})


# --- hypothesis round trip --------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=5),
    msg_id=st.text(min_size=1, max_size=30),
    enc=st.sampled_from(ENCS),
    authcrypt=st.booleans(),
    sign=st.booleans(),
)
def test_hypothesis_pack_unpack_round_trip(
    body: dict[str, Any], msg_id: str, enc: ContentEncryption, authcrypt: bool, sign: bool
) -> None:
    """Any body survives every layering (appendix X25519 keys, in memory)."""
    resolver = AppendixResolver()
    message = Message(
        id=msg_id,
        type="https://didcomm.org/x/1.0/y",
        body=body,
        from_="did:example:alice",
        to=("did:example:bob",),
    )

    async def go() -> None:
        signer = await _appendix_ed25519_signer() if sign else None
        packed = await pack_encrypted(
            message,
            to=["did:example:bob#key-x25519-1", "did:example:bob#key-x25519-3"],
            resolver=resolver,
            frm="did:example:alice#key-x25519-1" if authcrypt else None,
            sender_keys=alice_secrets(),
            sign_with=signer,
            enc=enc,
            protect_sender=authcrypt and enc is not ContentEncryption.A256CBC_HS512,
        )
        result = await unpack(packed, resolver=resolver, recipient_keys=bob_secrets())
        assert result.message == message
        assert result.non_repudiation is sign

    run(go())


async def _appendix_ed25519_signer() -> AskarSigner:
    """An AskarSigner over Appendix A.1's Ed25519 key (alice#key-1), in a memory store."""
    jwk = next(
        s for s in didcomm_vector("sender-secrets.json") if s["kid"] == "did:example:alice#key-1"
    )
    seed = base64.urlsafe_b64decode(jwk["d"] + "=")
    store = await open_store("sqlite://:memory:", raw_key=generate_raw_key())
    try:
        keys = AskarKeyStore(store)
        multikey = await keys.import_secret(KeyType.ED25519_PUB, seed)
        await keys.bind(
            multikey,
            did="did:example:alice",
            verification_method="did:example:alice#key-1",
            relationships=["authentication"],
        )
        return await keys.signer("did:example:alice#key-1")
    finally:
        await store.close()


def test_every_refusal_is_a_health_mydata_error() -> None:
    assert issubclass(MessagingError, HealthMyDataError)
