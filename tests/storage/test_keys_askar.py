"""agent.keys.askar: keys named by Multikey, bound to DIDs by records, signing inside askar."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.errors import (
    ErrorCode,
    InvalidInputError,
    KeyMaterialError,
    SignatureError,
    StorageError,
)
from agent.keys import (
    AskarKeyStore,
    AskarSigner,
    Ed25519PublicKey,
    KeyType,
    Signer,
    decode_multikey,
    encode_multikey,
)
from agent.storage import Store, open_store
from tests.conftest import load_vector

DID = "did:example:alice"
VM1 = f"{DID}#key-1"


def load_storage_vector(*parts: str) -> Any:
    """A JSON vector file under tests/vectors/ (sources in each folder's SOURCE.md)."""
    return load_vector(*parts)


def read_store_files(directory: Path, stem: str) -> bytes:
    """The bytes of a SQLite store: the database and its -wal/-shm companions."""
    return b"".join(p.read_bytes() for p in sorted(directory.glob(f"{stem}*")))


async def test_ed25519_key_signs_and_persists_across_reopen(store_uri: str, raw_key: str) -> None:
    async with await open_store(store_uri, raw_key=raw_key) as store:
        keys = AskarKeyStore(store)
        multikey = await keys.create_key(KeyType.ED25519_PUB)
        assert multikey.startswith("z6Mk")
        key_type, public = decode_multikey(multikey)
        assert key_type is KeyType.ED25519_PUB
        assert await keys.public_key(multikey) == public
        await keys.bind(
            multikey, did=DID, verification_method=VM1, relationships=["assertionMethod"]
        )
        signer = await keys.signer(VM1)
        signature = signer.sign(b"health record")

    verifier = Ed25519PublicKey(public)
    verifier.verify(b"health record", signature)
    with pytest.raises(SignatureError):
        verifier.verify(b"health record!", signature)
    assert isinstance(signer, Signer)
    assert (signer.verification_method, signer.algorithm) == (VM1, "EdDSA")

    async with await open_store(store_uri, raw_key=raw_key, create=False) as store:
        signer = await AskarKeyStore(store).signer(multikey)
        assert signer.verification_method == VM1
        verifier.verify(b"again", signer.sign(b"again"))


async def test_import_secret_with_the_vc_di_eddsa_key_yields_its_public_multikey(
    store: Store,
) -> None:
    pair = load_storage_vector("vc-di-eddsa", "keyPair.json")
    private_type, secret = decode_multikey(pair["privateKeyMultibase"])
    assert private_type is KeyType.ED25519_PRIV
    keys = AskarKeyStore(store)
    assert await keys.import_secret(private_type, secret) == pair["publicKeyMultibase"]

    signer = await keys.signer(pair["publicKeyMultibase"], verification_method=f"{DID}#spec")
    _, public = decode_multikey(pair["publicKeyMultibase"])
    Ed25519PublicKey(public).verify(b"data", signer.sign(b"data"))

    with pytest.raises(StorageError) as caught:
        await keys.import_secret(KeyType.ED25519_PUB, secret)
    assert caught.value.code is ErrorCode.STORE_DUPLICATE


@pytest.mark.parametrize(
    ("did", "case"),
    list(load_storage_vector("did-key", "ed25519-x25519.json").items()),
    ids=lambda value: value[:20] if isinstance(value, str) else "",
)
async def test_seeded_key_matches_the_did_key_vector(store: Store, did: str, case: dict) -> None:  # type: ignore[type-arg]
    multikey = await AskarKeyStore(store).create_key(
        KeyType.ED25519_PUB, seed=bytes.fromhex(case["seed"])
    )
    assert f"did:key:{multikey}" == did


async def test_bad_secrets_and_types_are_refused(store: Store) -> None:
    keys = AskarKeyStore(store)
    with pytest.raises(KeyMaterialError) as caught:
        await keys.create_key(KeyType.ED25519_PUB, seed=b"short")
    assert caught.value.code is ErrorCode.INVALID_MULTIKEY
    with pytest.raises(KeyMaterialError) as caught:
        await keys.import_secret(KeyType.X25519_PUB, bytes(31))
    assert caught.value.code is ErrorCode.INVALID_MULTIKEY
    with pytest.raises(InvalidInputError):
        await keys.create_key(KeyType.ED25519_PUB, tags={"retired": "no"})


async def test_x25519_key_agrees_but_does_not_sign(store: Store) -> None:
    keys = AskarKeyStore(store)
    multikey = await keys.create_key(KeyType.X25519_PUB)
    assert multikey.startswith("z6LS")
    agreement = await keys.agreement_key(multikey)
    assert agreement.get_public_bytes() == decode_multikey(multikey)[1]

    with pytest.raises(KeyMaterialError) as caught:
        await keys.signer(multikey, verification_method=f"{DID}#x")
    assert caught.value.code is ErrorCode.UNSUPPORTED_KEY_TYPE

    ed = await keys.create_key(KeyType.ED25519_PUB)
    with pytest.raises(KeyMaterialError) as caught:
        await keys.agreement_key(ed)
    assert caught.value.code is ErrorCode.UNSUPPORTED_KEY_TYPE


async def test_p256_key_signs_es256(store: Store) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    keys = AskarKeyStore(store)
    multikey = await keys.create_key(KeyType.P256_PUB)
    assert multikey.startswith("zDn")
    signer = await keys.signer(multikey, verification_method=f"{DID}#p256")
    assert signer.algorithm == "ES256"
    signature = signer.sign(b"data")
    public = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), decode_multikey(multikey)[1]
    )
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    public.verify(der, b"data", ec.ECDSA(hashes.SHA256()))


async def test_missing_key_is_key_not_found(store: Store) -> None:
    keys = AskarKeyStore(store)
    absent = encode_multikey(KeyType.ED25519_PUB, bytes(32))
    for operation in (
        keys.signer(absent, verification_method=f"{DID}#k"),
        keys.public_key(absent),
        keys.agreement_key(absent),
        keys.retire(absent),
        keys.bind(absent, did=DID, verification_method=VM1, relationships=["authentication"]),
        keys.signer(f"{DID}#unbound"),
    ):
        with pytest.raises(KeyMaterialError) as caught:
            await operation
        assert caught.value.code is ErrorCode.KEY_NOT_FOUND


async def test_a_did_has_many_keys_and_a_key_many_dids(store: Store) -> None:
    keys = AskarKeyStore(store)
    signing = await keys.create_key(KeyType.ED25519_PUB)
    agreement = await keys.create_key(KeyType.X25519_PUB)
    other = await keys.create_key(KeyType.ED25519_PUB)
    await keys.bind(signing, did=DID, verification_method=VM1, relationships=["authentication"])
    await keys.bind(
        agreement, did=DID, verification_method=f"{DID}#key-2", relationships=["keyAgreement"]
    )
    await keys.bind(
        signing,
        did=f"did:key:{signing}",
        verification_method=f"did:key:{signing}#{signing}",
        relationships=["assertionMethod", "authentication"],
    )
    await keys.bind(
        other,
        did="did:example:bob",
        verification_method="did:example:bob#k",
        relationships=["authentication"],
    )

    found = await keys.keys_for(DID)
    assert [(k.multikey, k.verification_method, k.relationships) for k in found] == [
        (signing, VM1, ("authentication",)),
        (agreement, f"{DID}#key-2", ("keyAgreement",)),
    ]
    assert [k.key_type for k in found] == [KeyType.ED25519_PUB, KeyType.X25519_PUB]
    assert [k.multikey for k in await keys.keys_for(DID, relationship="keyAgreement")] == [
        agreement
    ]
    assert await keys.keys_for("did:example:nobody") == []

    # Rebinding the same method to the same key updates its relationships.
    await keys.bind(
        signing,
        did=DID,
        verification_method=VM1,
        relationships=["authentication", "assertionMethod"],
    )
    assert (await keys.keys_for(DID))[0].relationships == ("assertionMethod", "authentication")

    # A key bound twice needs the caller to say which method a signature names.
    with pytest.raises(KeyMaterialError) as caught:
        await keys.signer(signing)
    assert caught.value.code is ErrorCode.KEY_NOT_FOUND
    assert (await keys.signer(other)).verification_method == "did:example:bob#k"


async def test_binding_is_checked(store: Store) -> None:
    keys = AskarKeyStore(store)
    signing = await keys.create_key(KeyType.ED25519_PUB)
    agreement = await keys.create_key(KeyType.X25519_PUB)
    await keys.bind(signing, did=DID, verification_method=VM1, relationships=["authentication"])

    with pytest.raises(StorageError) as caught:
        await keys.bind(
            await keys.create_key(KeyType.ED25519_PUB),
            did=DID,
            verification_method=VM1,
            relationships=["authentication"],
        )
    assert caught.value.code is ErrorCode.STORE_DUPLICATE

    for kwargs in (
        {
            "did": DID,
            "verification_method": "did:example:bob#k",
            "relationships": ["authentication"],
        },
        {"did": DID, "verification_method": "#key-1", "relationships": ["authentication"]},
        {"did": DID, "verification_method": f"{DID}#k9", "relationships": []},
        {"did": DID, "verification_method": f"{DID}#k9", "relationships": ["signing"]},
    ):
        with pytest.raises(InvalidInputError):
            await keys.bind(signing, **kwargs)  # type: ignore[arg-type]

    for key, relationship in ((agreement, "assertionMethod"), (signing, "keyAgreement")):
        with pytest.raises(KeyMaterialError) as wrong_type:
            await keys.bind(
                key, did=DID, verification_method=f"{DID}#k9", relationships=[relationship]
            )
        assert wrong_type.value.code is ErrorCode.UNSUPPORTED_KEY_TYPE


async def test_retired_keys_stay_listed_but_do_not_sign(store: Store) -> None:
    keys = AskarKeyStore(store)
    old = await keys.create_key(KeyType.ED25519_PUB, tags={"purpose": "issuer"})
    new = await keys.create_key(KeyType.ED25519_PUB)
    await keys.bind(old, did=DID, verification_method=VM1, relationships=["assertionMethod"])
    await keys.bind(
        new, did=DID, verification_method=f"{DID}#key-2", relationships=["assertionMethod"]
    )
    await keys.retire(old)

    with pytest.raises(KeyMaterialError) as caught:
        await keys.signer(VM1)
    assert caught.value.code is ErrorCode.KEY_NOT_FOUND
    assert caught.value.details["reason"] == "retired"
    assert [(k.multikey, k.retired) for k in await keys.keys_for(DID)] == [
        (old, True),
        (new, False),
    ]
    assert (await keys.signer(f"{DID}#key-2")).multikey == new


async def test_keys_live_in_their_profile(store: Store) -> None:
    await store.create_profile("child")
    child_keys = AskarKeyStore(store, profile="child")
    multikey = await child_keys.create_key(KeyType.ED25519_PUB)
    assert await child_keys.public_key(multikey)
    with pytest.raises(KeyMaterialError):
        await AskarKeyStore(store).public_key(multikey)


async def test_signer_hides_the_private_key(store: Store) -> None:
    keys = AskarKeyStore(store)
    secret = bytes(range(32))
    multikey = await keys.import_secret(KeyType.ED25519_PUB, secret)
    signer = await keys.signer(multikey, verification_method=f"{DID}#k")
    assert isinstance(signer, AskarSigner)
    assert not hasattr(signer, "__dict__")
    assert secret.hex() not in repr(signer)
    assert [name for name in dir(signer) if "secret" in name or "jwk" in name] == []


async def test_signatures_verify_for_any_message(store: Store) -> None:
    keys = AskarKeyStore(store)
    multikey = await keys.create_key(KeyType.ED25519_PUB)
    signer = await keys.signer(multikey, verification_method=f"{DID}#k")
    verifier = Ed25519PublicKey(decode_multikey(multikey)[1])

    @settings(max_examples=50, deadline=None)
    @given(st.binary(max_size=2048))
    def round_trip(message: bytes) -> None:
        signature = signer.sign(message)
        assert len(signature) == 64
        verifier.verify(message, signature)  # raises SignatureError when it does not verify

    round_trip()


async def test_sqlite_file_holds_no_plaintext_or_secret(tmp_path: Path) -> None:
    from agent.storage import generate_raw_key

    path = tmp_path / "wallet.db"
    secret = bytes.fromhex("9b3f1c0de2a4b6c8d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7")
    value = "allergy: penicillin (severe) 7f3a9c"
    async with await open_store(path, raw_key=generate_raw_key()) as store:
        await AskarKeyStore(store).import_secret(KeyType.ED25519_PUB, secret)
        async with store.session() as session:
            await session.insert(
                "fhir", "allergy-7f3a9c", {"text": value}, {"code": "penicillin-7f3a9c"}
            )

    data = read_store_files(tmp_path, "wallet.db")
    assert len(data) > 0
    for needle in (secret, value.encode(), b"penicillin", b"allergy-7f3a9c"):
        assert needle not in data
