"""Tampering: changing any single field of a spec vector is refused with a specific error.

The walk changes, one at a time, each member of the protected header (and adds one), each
recipient's ``kid`` and ``encrypted_key``, the ``iv``, ``ciphertext`` and ``tag``; for JWS, the
payload, the signature, the protected header and the ``kid``. Binary fields are changed by
flipping one bit of the decoded bytes and re-encoding canonically, so the refusal comes from
the cryptography, not from base64 parsing. A hypothesis test then replaces arbitrary characters
of the serialized envelopes: the result is always a typed error or the unchanged message.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.errors import DIDResolutionError, ErrorCode, MessagingError
from agent.messaging import unpack
from tests.messaging.didcomm_helpers import (
    AppendixResolver,
    bob_secrets,
    didcomm_vector,
    run,
)

Envelope = dict[str, Any]


def b64d(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def flip(value: str) -> str:
    """Flip one bit in the middle of a base64url value's bytes."""
    data = bytearray(b64d(value))
    data[len(data) // 2] ^= 0x01
    return b64e(bytes(data))


def edit_protected(
    envelope: Envelope, edit: Callable[[dict[str, Any]], None], where: str = "protected"
) -> None:
    header = json.loads(b64d(envelope[where]))
    edit(header)
    envelope[where] = b64e(json.dumps(header).encode())


def _set(member: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(header: dict[str, Any]) -> None:
        header[member] = value

    return edit


def _flip_member(member: str) -> Callable[[dict[str, Any]], None]:
    def edit(header: dict[str, Any]) -> None:
        header[member] = flip(header[member])

    return edit


def _flip_epk(header: dict[str, Any]) -> None:
    header["epk"] = {**header["epk"], "x": flip(header["epk"]["x"])}


OTHER_ENC = {"XC20P": "A256GCM", "A256GCM": "XC20P", "A256CBC-HS512": "A256GCM"}
OTHER_ALG = {"ECDH-ES+A256KW": "ECDH-1PU+A256KW", "ECDH-1PU+A256KW": "ECDH-ES+A256KW"}

# Vectors the walk runs on (the P-521 ones cannot be opened at all; see test_didcomm_vectors).
JWE_VECTORS = [
    "anoncrypt-x25519-xc20p",
    "anoncrypt-p384-a256cbchs512",
    "authcrypt-x25519-a256cbchs512",
    "signed-then-authcrypt-p256-a256cbchs512",
]
JWS_VECTORS = ["signed-eddsa", "signed-es256", "signed-es256k"]


def _jwe_expectations(name: str) -> Iterator[tuple[str, Callable[[Envelope], None], ErrorCode]]:
    vector = didcomm_vector(f"{name}.json")
    header = json.loads(b64d(vector["protected"]))
    authcrypt = header["alg"].startswith("ECDH-1PU")
    ec_curve = header["epk"]["kty"] == "EC"
    yield (
        "protected.typ",
        lambda e: edit_protected(e, _set("typ", "application/didcomm-plain+json")),
        ErrorCode.DIDCOMM_MALFORMED,
    )
    yield (
        "protected.alg",
        lambda e: edit_protected(e, _set("alg", OTHER_ALG[header["alg"]])),
        # ES with an skid is malformed; 1PU with XC20P is not an allowed pairing; 1PU with
        # A256CBC-HS512 but no apu/skid is malformed.
        ErrorCode.DIDCOMM_UNSUPPORTED_ALG
        if header["enc"] != "A256CBC-HS512"
        else ErrorCode.DIDCOMM_MALFORMED,
    )
    yield (
        "protected.enc",
        lambda e: edit_protected(e, _set("enc", OTHER_ENC[header["enc"]])),
        # Authcrypt allows A256CBC-HS512 only; for anoncrypt the iv length no longer fits.
        ErrorCode.DIDCOMM_UNSUPPORTED_ALG if authcrypt else ErrorCode.DIDCOMM_MALFORMED,
    )
    yield (
        "protected.epk",
        lambda e: edit_protected(e, _flip_epk),
        # An EC point with a changed x is off the curve; any X25519 x is a valid key.
        ErrorCode.DIDCOMM_MALFORMED if ec_curve else ErrorCode.DIDCOMM_DECRYPT_FAILED,
    )
    yield (
        "protected.apv",
        lambda e: edit_protected(e, _flip_member("apv")),
        ErrorCode.DIDCOMM_RECIPIENTS_MISMATCH,
    )
    yield (
        "protected.+cty",
        lambda e: edit_protected(e, _set("cty", "application/didcomm-plain+json")),
        ErrorCode.DIDCOMM_DECRYPT_FAILED,
    )
    if authcrypt:
        yield (
            "protected.apu",
            lambda e: edit_protected(e, _flip_member("apu")),
            ErrorCode.DIDCOMM_SENDER_MISMATCH,
        )
        yield (
            "protected.skid",
            lambda e: edit_protected(e, _set("skid", "did:example:alice#key-p521-1")),
            ErrorCode.DIDCOMM_SENDER_MISMATCH,
        )
    else:
        yield (
            "protected.+skid",
            lambda e: edit_protected(e, _set("skid", "did:example:alice#key-x25519-1")),
            ErrorCode.DIDCOMM_MALFORMED,
        )
    for index, recipient in enumerate(vector["recipients"]):
        kid = recipient["header"]["kid"]

        def rename(e: Envelope, index: int = index, kid: str = kid) -> None:
            e["recipients"][index]["header"]["kid"] = kid + "0"

        def rewrap(e: Envelope, index: int = index) -> None:
            e["recipients"][index]["encrypted_key"] = flip(e["recipients"][index]["encrypted_key"])

        yield f"recipients[{index}].header.kid", rename, ErrorCode.DIDCOMM_RECIPIENTS_MISMATCH
        yield f"recipients[{index}].encrypted_key", rewrap, ErrorCode.DIDCOMM_DECRYPT_FAILED
    for member in ("iv", "ciphertext", "tag"):

        def change(e: Envelope, member: str = member) -> None:
            e[member] = flip(e[member])

        yield member, change, ErrorCode.DIDCOMM_DECRYPT_FAILED


def _jws_expectations(name: str) -> Iterator[tuple[str, Callable[[Envelope], None], ErrorCode]]:
    vector = didcomm_vector(f"{name}.json")
    alg = json.loads(b64d(vector["signatures"][0]["protected"]))["alg"]

    def signature(e: Envelope) -> None:
        e["signatures"][0]["signature"] = flip(e["signatures"][0]["signature"])

    def payload(e: Envelope) -> None:
        e["payload"] = flip(e["payload"])

    def protected(edit: Callable[[dict[str, Any]], None]) -> Callable[[Envelope], None]:
        return lambda e: edit_protected(e["signatures"][0], edit)

    def kid(e: Envelope) -> None:
        e["signatures"][0]["header"]["kid"] = "did:example:alice#key-x25519-1"

    yield "payload", payload, ErrorCode.DIDCOMM_BAD_SIGNATURE
    yield "signature", signature, ErrorCode.DIDCOMM_BAD_SIGNATURE
    yield (
        "protected.typ",
        protected(_set("typ", "application/didcomm-plain+json")),
        ErrorCode.DIDCOMM_MALFORMED,
    )
    yield (
        "protected.alg",
        protected(_set("alg", "ES256" if alg != "ES256" else "EdDSA")),
        ErrorCode.DIDCOMM_UNSUPPORTED_ALG,
    )
    yield "protected.+cty", protected(_set("cty", "x")), ErrorCode.DIDCOMM_BAD_SIGNATURE
    yield "header.kid", kid, ErrorCode.DIDCOMM_KEY_NOT_AUTHORIZED


CASES = [
    pytest.param(name, field, change, code, id=f"{name}:{field}")
    for name in JWE_VECTORS
    for field, change, code in _jwe_expectations(name)
] + [
    pytest.param(name, field, change, code, id=f"{name}:{field}")
    for name in JWS_VECTORS
    for field, change, code in _jws_expectations(name)
]


@pytest.mark.parametrize(("name", "field", "change", "code"), CASES)
async def test_changing_one_field_is_refused_with_a_specific_error(
    name: str,
    field: str,
    change: Callable[[Envelope], None],
    code: ErrorCode,
    appendix_resolver: AppendixResolver,
) -> None:
    envelope = copy.deepcopy(didcomm_vector(f"{name}.json"))
    change(envelope)
    assert envelope != didcomm_vector(f"{name}.json")
    # Hold only the key of the recipient the field belongs to, so that no other recipient
    # entry can open the message instead.
    kids = [r["header"]["kid"] for r in didcomm_vector(f"{name}.json").get("recipients", [])]
    index = int(field[len("recipients[")]) if field.startswith("recipients[") else 0
    secrets = bob_secrets(kids[index]) if kids else None
    with pytest.raises(MessagingError) as info:
        await unpack(json.dumps(envelope), resolver=appendix_resolver, recipient_keys=secrets)
    assert info.value.code is code, info.value


def test_the_walk_covers_every_field_of_every_vector() -> None:
    for name in JWE_VECTORS:
        vector = didcomm_vector(f"{name}.json")
        header = json.loads(b64d(vector["protected"]))
        walked = {field for field, _, _ in _jwe_expectations(name)}
        assert {f"protected.{m}" for m in header} <= walked
        assert {"iv", "ciphertext", "tag"} <= walked
        for index in range(len(vector["recipients"])):
            assert f"recipients[{index}].encrypted_key" in walked
            assert f"recipients[{index}].header.kid" in walked


ALL_VECTORS = JWE_VECTORS + JWS_VECTORS


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(ALL_VECTORS),
    position=st.floats(min_value=0, max_value=1, exclude_max=True),
    replacement=st.characters(min_codepoint=0x20, max_codepoint=0x7E),
)
def test_any_character_changed_is_a_typed_error_or_the_same_message(
    name: str, position: float, replacement: str
) -> None:
    text = json.dumps(didcomm_vector(f"{name}.json"), separators=(",", ":"))
    index = int(position * len(text))
    mutated = text[:index] + replacement + text[index + 1 :]
    original = run(unpack(text, resolver=AppendixResolver(), recipient_keys=bob_secrets())).message
    try:
        result = run(unpack(mutated, resolver=AppendixResolver(), recipient_keys=bob_secrets()))
    except (MessagingError, DIDResolutionError):
        return
    assert result.message == original
