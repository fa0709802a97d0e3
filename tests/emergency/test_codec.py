"""The HM1 codec: lossless round trips, and typed errors for whatever is not a card."""

from __future__ import annotations

import hashlib
import random
import zlib
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.credentials import emergency_qr
from agent.credentials.emergency_qr import (
    MAX_PACKED_BYTES,
    MAX_QR_DIGITS,
    PREFIX,
    ZDICT,
    decode_emergency_qr,
    encode_emergency_qr,
)
from agent.credentials.jose import b64url_encode
from agent.credentials.sd_jwt import present
from agent.errors import ErrorCode, InvalidInputError
from tests.emergency.helpers import BUNDLES, summary
from tests.emergency.helpers import credential as make_credential

CREDENTIAL = make_credential(BUNDLES[2])
PRESENTATION = present(CREDENTIAL, disclose=[(s,) for s in summary(BUNDLES[2]).sd_claims])


def _card(data: bytes) -> str:
    """Card text around arbitrary bytes, as if they were the compressed pack."""
    return PREFIX + emergency_qr._to_digits(data)


def _deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, ZDICT)
    return compressor.compress(data) + compressor.flush()


def _code(text: Any) -> tuple[ErrorCode, str | None]:
    with pytest.raises(InvalidInputError) as info:
        decode_emergency_qr(text)
    return info.value.code, info.value.details.get("reason")


# --- round trips -----------------------------------------------------------------------------


def test_round_trip_is_byte_exact_with_and_without_key_binding() -> None:
    for text in (CREDENTIAL, PRESENTATION, PRESENTATION + "eyJh.eyJi.c2ln"):
        card = encode_emergency_qr(text)
        assert card.startswith(PREFIX)
        assert card[len(PREFIX) :].isdigit()
        assert decode_emergency_qr(card) == text


def test_pack_is_standard_cbor_with_the_digests_cut_out() -> None:
    card = encode_emergency_qr(PRESENTATION)
    inflater = zlib.decompressobj(-15, ZDICT)
    pack = cbor2.loads(inflater.decompress(emergency_qr._from_digits(card[len(PREFIX) :])))
    issuer, disclosures, kb = pack
    assert kb is None
    assert len(disclosures) == 6
    header, payload, signature, positions = issuer
    assert header.startswith(b'{"alg":"EdDSA"')
    assert len(signature) == 64
    # Every _sd digest is recomputed from its Disclosure: none travels.
    assert b'"_sd":["","","","","",""]' in payload
    assert sorted(positions[1::2]) == list(range(6))


def test_digits_use_17_per_7_bytes_and_refuse_other_lengths() -> None:
    for size in range(30):
        data = bytes(range(size))
        digits = emergency_qr._to_digits(data)
        assert len(digits) == 17 * (size // 7) + (0, 3, 5, 8, 10, 13, 15)[size % 7]
        assert emergency_qr._from_digits(digits) == data
    assert emergency_qr._to_digits(b"\xff" * 7) == str(2**56 - 1)


# --- decoding errors -------------------------------------------------------------------------


def test_wrong_prefix_and_version_are_unsupported() -> None:
    card = encode_emergency_qr(PRESENTATION)
    digits = card[len(PREFIX) :]
    assert _code("shc:/" + digits) == (ErrorCode.EMERGENCY_QR_UNSUPPORTED, "prefix")
    assert _code(PRESENTATION) == (ErrorCode.EMERGENCY_QR_UNSUPPORTED, "prefix")
    assert _code("hm1:" + digits) == (ErrorCode.EMERGENCY_QR_UNSUPPORTED, "prefix")
    assert _code("") == (ErrorCode.EMERGENCY_QR_UNSUPPORTED, "prefix")
    assert _code("HM2:" + digits) == (ErrorCode.EMERGENCY_QR_UNSUPPORTED, "version")


@pytest.mark.parametrize(
    "text",
    [PREFIX, PREFIX + "12a4", PREFIX + "١٢٣", PREFIX + " 123", PREFIX + "123\n", PREFIX + "9" * 17],
)
def test_garbage_is_malformed(text: str) -> None:
    code, _ = _code(text)
    assert code is ErrorCode.EMERGENCY_QR_MALFORMED


def test_not_text_is_malformed() -> None:
    assert _code(b"HM1:123") == (ErrorCode.EMERGENCY_QR_MALFORMED, "notText")


def test_every_truncation_is_a_typed_error() -> None:
    card = encode_emergency_qr(PRESENTATION)
    for end in range(len(PREFIX), len(card)):
        code, _ = _code(card[:end])
        assert code is ErrorCode.EMERGENCY_QR_MALFORMED, end


def test_appended_digits_are_refused() -> None:
    card = encode_emergency_qr(PRESENTATION)
    for extra in ("0", "000", "0" * 17, card[len(PREFIX) :]):
        code, _ = _code(card + extra)
        assert code is ErrorCode.EMERGENCY_QR_MALFORMED


def test_trailing_data_after_the_deflate_stream_is_refused() -> None:
    compressed = emergency_qr._from_digits(encode_emergency_qr(PRESENTATION)[len(PREFIX) :])
    assert _code(_card(compressed + b"\x00")) == (
        ErrorCode.EMERGENCY_QR_MALFORMED,
        "trailingData",
    )


def test_decompression_bomb_is_refused_without_inflating_it() -> None:
    bomb = _deflate(b"\x00" * (50 * 1024 * 1024))
    assert len(bomb) < 60_000
    # Too many digits for any QR code: refused before inflating.
    assert _code(_card(bomb)) == (ErrorCode.INPUT_TOO_LARGE, "textTooLong")
    small_bomb = _deflate(b"\x00" * (MAX_PACKED_BYTES + 1))
    assert len(emergency_qr._to_digits(small_bomb)) <= MAX_QR_DIGITS
    assert _code(_card(small_bomb)) == (ErrorCode.INPUT_TOO_LARGE, "inflatesTooLarge")
    assert _code(PREFIX + "1" * (MAX_QR_DIGITS + 1)) == (ErrorCode.INPUT_TOO_LARGE, "textTooLong")


@pytest.mark.parametrize(
    ("pack", "reason"),
    [
        (b"", "cbor"),
        (b"\xa0", "cbor"),  # a map
        (cbor2.dumps([1, 2]), "structure"),
        (cbor2.dumps([[b"", b"", b"", []], [], None, 7]), "structure"),
        (cbor2.dumps([[b"", b"", b""], [], None]), "structure"),
        (cbor2.dumps([[b"", b"", b"", [1]], [], None]), "structure"),
        (cbor2.dumps([[b"", b"", b"", [0, 0]], [], None]), "digestPosition"),
        (cbor2.dumps([[b"x", b"", b"", [2, 0]], [b"d"], None]), "digestPosition"),
        (cbor2.dumps([[b"", b"", b"", []], ["text"], None]), "cbor"),
        (cbor2.dumps([[b"", b"", b"", [-1, 0]], [], None]), "cbor"),
        (cbor2.dumps([[b"", b"", b"", []], [], None]) + b"\x00", "trailingData"),
        (cbor2.dumps([[b"", b"", b"", []], [], [b"", b""]]), "structure"),
        (b"\x83\x9b" + b"\xff" * 8, "cbor"),  # an array claiming 2^64 - 1 elements
        (b"\x83\x1c", "cbor"),  # reserved additional information
        (b"\x83\x84\x5a\xff\xff\xff\xff", "cbor"),  # a byte string longer than the data
    ],
)
def test_malformed_packs_are_refused(pack: bytes, reason: str) -> None:
    assert _code(_card(_deflate(pack))) == (ErrorCode.EMERGENCY_QR_MALFORMED, reason)


def test_corrupt_deflate_data_is_refused() -> None:
    assert _code(_card(b"\xff\xff\xff\xff")) == (ErrorCode.EMERGENCY_QR_MALFORMED, "deflate")


def test_an_out_of_range_digit_group_is_refused() -> None:
    assert _code(PREFIX + "999") == (ErrorCode.EMERGENCY_QR_MALFORMED, "digitGroup")
    assert _code(PREFIX + "99999999999999999") == (ErrorCode.EMERGENCY_QR_MALFORMED, "digitGroup")


# --- encoding errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "notSdJwt"),
        ("eyJh.eyJi.c2ln", "notSdJwt"),
        ("~", "notSdJwt"),
        ("eyJh.eyJi~", "notJws"),
        ("eyJh.eyJi.c2ln~~", "empty"),
        ("eyJh.eyJi.c2ln~W~", "notBase64url"),
        ("eyJh.eyJi.AB~", "notCanonical"),  # "AB" decodes to one byte that encodes as "AA"
        ("eyJh.eyJi=.c2ln~", "notBase64url"),
        ("eyJh.eyJi.c2ln~eyJh.eyJi", "notJws"),
        ("eyJh.eyJi.c2ln~ä~", "notAscii"),
    ],
)
def test_encoder_refuses_what_would_not_round_trip(text: str, reason: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        encode_emergency_qr(text)
    assert info.value.code is ErrorCode.EMERGENCY_CARD_UNENCODABLE
    assert info.value.details["reason"] == reason


def test_encoder_refuses_what_no_qr_code_holds() -> None:
    huge = "eyJh." + b64url_encode(b"x" * (MAX_PACKED_BYTES + 1)) + ".c2ln~"
    with pytest.raises(InvalidInputError) as info:
        encode_emergency_qr(huge)
    assert info.value.code is ErrorCode.INPUT_TOO_LARGE


# --- property: any SD-JWT-shaped input round-trips -------------------------------------------

_PART = st.binary(max_size=120)
_DISCLOSURE = st.binary(min_size=1, max_size=80)


def _jws(header: bytes, payload: bytes, signature: bytes) -> str:
    return ".".join(b64url_encode(piece) for piece in (header, payload, signature))


@st.composite
def sd_jwt_like(draw: st.DrawFn) -> str:
    """Random parts, with digests of the Disclosures and the sd_hash spliced into the payloads,
    some of them twice or overlapping, so that the digest cuts are exercised too."""
    disclosures = [b64url_encode(d) for d in draw(st.lists(_DISCLOSURE, max_size=8))]
    digests = [
        b64url_encode(hashlib.sha256(d.encode("ascii")).digest()).encode() for d in disclosures
    ]
    payload = bytearray(draw(_PART))
    if digests:
        spliced: list[bytes] = draw(st.lists(st.sampled_from(digests), max_size=10))
        for digest in spliced:
            at = draw(st.integers(0, len(payload)))
            payload[at:at] = digest
        overlap: bool = draw(st.booleans())
        if overlap:  # One digest inside another.
            payload += digests[0] + digests[-1][:10]
            payload[-30:-30] = digests[-1]
    text = "~".join((_jws(draw(_PART), bytes(payload), draw(_PART)), *disclosures, ""))
    if draw(st.booleans()):
        sd_hash = b64url_encode(hashlib.sha256(text.encode("ascii")).digest()).encode()
        kb_payload = bytearray(draw(_PART))
        kb_payload[draw(st.integers(0, len(kb_payload))) :] = sd_hash
        text += _jws(draw(_PART), bytes(kb_payload), draw(_PART))
    return text


@settings(max_examples=300, deadline=None)
@given(sd_jwt_like())
def test_codec_round_trips_sd_jwt_like_inputs(text: str) -> None:
    card = encode_emergency_qr(text)
    assert decode_emergency_qr(card) == text


def _decoded_or_typed_error(candidate: str) -> object:
    """The decoded SD-JWT string, or the code of the typed error the decoder raised; any other
    exception escapes and fails the test."""
    try:
        return decode_emergency_qr(candidate)
    except InvalidInputError as exc:
        return exc.code


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_decoder_never_fails_untyped(text: str) -> None:
    for candidate in (text, PREFIX + text, PREFIX + "".join(c for c in text if c.isdigit())):
        assert isinstance(_decoded_or_typed_error(candidate), str | ErrorCode)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_inflated_garbage_never_fails_untyped(data: bytes) -> None:
    for candidate in (_card(data), _card(_deflate(data))):
        assert isinstance(_decoded_or_typed_error(candidate), str | ErrorCode)


def test_encoder_packs_beyond_one_qr_code_and_the_decoder_refuses_it() -> None:
    noise = random.Random(3).randbytes(4000)  # Incompressible: over 9,600 digits.
    text = "eyJh." + b64url_encode(noise) + ".c2ln~"
    card = encode_emergency_qr(text)  # The size limit is the wallet's to apply.
    assert len(card) - len(PREFIX) > MAX_QR_DIGITS
    assert _code(card) == (ErrorCode.INPUT_TOO_LARGE, "textTooLong")


# --- the format is frozen ----------------------------------------------------------------------

#: A small SD-JWT (fixed salt and signature bytes) and its HM1 card, made when HM1 was defined.
GOLDEN_SD_JWT = (
    "eyJhbGciOiJFZERTQSIsInR5cCI6ImRjK3NkLWp3dCIsImtpZCI6ImRpZDp3ZWI6aG9zcGl0YWwuZXhhbXBsZSNrZXkt"
    "MSJ9.eyJpc3MiOiJkaWQ6d2ViOmhvc3BpdGFsLmV4YW1wbGUiLCJpYXQiOjE3NzIzNTU2MDAsInZjdCI6Imh0dHBzOi8v"
    "dzNpZC5vcmcvaGVhbHRoLW15ZGF0YS92Y3QvRW1lcmdlbmN5U3VtbWFyeS92MSIsIl9zZCI6WyJoTkxZb3hvMEYwb2ot"
    "Sk01NFpITWRkWXhLYkRGNG1mNFVmVG5xc2xDQ1BBIl0sIl9zZF9hbGciOiJzaGEtMjU2In0.AAECAwQFBgcICQoLDA0O"
    "DxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0-Pw~WyJjMkZzZEhOaGJIUnpZV3gwY"
    "zJGc2RBIiwgImJsb29kVHlwZSIsIHsiY29kZSI6ICJzY3R8Mjc4MTQ5MDAzIiwgInRleHQiOiAiQmxvb2QgZ3JvdXAgQ"
    "SBSaChEKSBwb3NpdGl2ZSJ9XQ~"
)
GOLDEN_CARD = (
    "HM1:302393612262658715764242390892792901470776299071893525020010916791854588521930532730839842"
    "235361856524114152729451151513997827295596707806287241396506158309956375623765130939540123598"
    "464920593204673460601014834017955566613294719740091529317307426544116499234189922707157550770"
    "013754599249037935937189619044100538058119412601029101938441831400898159559512416282688623132"
    "2864027105445624679680"
)


def test_dictionary_and_golden_card_never_change() -> None:
    assert hashlib.sha256(ZDICT).hexdigest() == (
        "e962b07e7b77a9e377e6a8328ccd75fd8342a8d65d40b7fa98d0453b9172bd8c"
    )
    assert decode_emergency_qr(GOLDEN_CARD) == GOLDEN_SD_JWT
