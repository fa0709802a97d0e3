"""The verifier's fast paths give the answers of the slow ones.

* JOSE headers are cached by their exact base64url bytes (``agent.credentials.jose``): a
  tampered header after a cached success is still refused, and a caller changing the header it
  got back does not change the next result.
* ``b64url_json`` (base64url and strict JSON in one step) refuses what ``b64url_decode`` and
  ``loads_json`` refuse, with the same reasons.
* A Disclosure whose JSON holds no ``_sd``, ``...`` or backslash is used without walking it;
  one that spells ``_sd`` or ``...`` with a JSON escape is still processed.
* ``_sd`` arrays are checked in one pass: a digest twice, in one array or in two, is refused.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent.credentials import jose
from agent.credentials.jose import b64url_decode, b64url_encode, b64url_json, loads_json, sign_jws
from agent.credentials.sd_jwt import issue_sd_jwt, parse_sd_jwt, present, verify_sd_jwt
from agent.errors import CryptosuiteError, ErrorCode, HealthMyDataError, SignatureError
from tests.sd_jwt.helpers import JwkCallback, KeySigner

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
ISS = "did:web:issuer.example"
AUD = "did:web:verifier.example"
NONCE = "n-0S6_WzA2Mj"
VCT = "https://health.example/vct/summary"
HEADER = {"alg": "EdDSA", "typ": "dc+sd-jwt", "kid": ISS + "#key-1"}


def _b64_json(value: Any, **dumps: Any) -> str:
    return b64url_encode(json.dumps(value, **dumps).encode("utf-8"))


def _digest(encoded: str) -> str:
    import hashlib

    return b64url_encode(hashlib.sha256(encoded.encode("ascii")).digest())


@pytest.fixture
def issuer() -> KeySigner:
    return KeySigner.generate("EdDSA", HEADER["kid"])


@pytest.fixture
def holder() -> KeySigner:
    return KeySigner.generate("ES256")


def _presentation(issuer: KeySigner, holder: KeySigner) -> str:
    issued = issue_sd_jwt(
        {"blood_type": "A+", "allergy": {"code": "373270004", "text": "Penicillin"}},
        issuer,
        iss=ISS,
        iat=NOW - timedelta(days=1),
        vct=VCT,
        disclosable=[("blood_type",), ("allergy",)],
        holder_jwk=holder.public_jwk,
    )
    return present(
        issued,
        disclose=[("allergy",), ("blood_type",)],
        holder_signer=holder,
        nonce=NONCE,
        aud=AUD,
        iat=NOW,
    )


async def _verify(text: str, issuer: KeySigner, **options: Any) -> Any:
    return await verify_sd_jwt(
        text,
        issuer_key_resolver=JwkCallback(ISS, issuer.public_jwk),
        now=NOW,
        expected_aud=AUD,
        expected_nonce=NONCE,
        **options,
    )


# --- the header cache ------------------------------------------------------------------------


async def test_tampered_header_after_a_cached_success_is_refused(
    issuer: KeySigner, holder: KeySigner
) -> None:
    text = _presentation(issuer, holder)
    await _verify(text, issuer)  # The issuer's and the KB-JWT's headers are cached now.
    await _verify(text, issuer)
    head, rest = text.split(".", 1)
    for header, code in (
        ({**HEADER, "typ": "example+sd-jwt"}, ErrorCode.MALFORMED_PROOF_ERROR),
        ({**HEADER, "alg": "none"}, ErrorCode.UNSUPPORTED_CRYPTOSUITE),
        ({**HEADER, "kid": ISS + "#key-2"}, ErrorCode.PROOF_VERIFICATION_ERROR),
    ):
        with pytest.raises(HealthMyDataError) as caught:
            await _verify(f"{_b64_json(header, separators=(',', ':'))}.{rest}", issuer)
        assert caught.value.code == code
    # Same header bytes, tampered payload: the cached header does not carry a verdict.
    jws_head, payload, signature = text.split("~")[0].split(".")
    claims = json.loads(b64url_decode(payload, "payload"))
    claims["vct"] = VCT + "/other"
    forged = f"{jws_head}.{_b64_json(claims)}.{signature}"
    with pytest.raises(SignatureError):
        await _verify(text.replace(text.split("~")[0], forged, 1), issuer)
    assert head == jws_head
    # And the untouched presentation still verifies.
    assert (await _verify(text, issuer)).payload["blood_type"] == "A+"


async def test_changing_the_returned_header_does_not_change_the_next_result(
    issuer: KeySigner, holder: KeySigner
) -> None:
    text = _presentation(issuer, holder)
    first = await _verify(text, issuer)
    first.header["alg"] = "none"
    first.header["typ"] = "changed"
    second = await _verify(text, issuer)
    assert second.header == HEADER
    assert second.header is not first.header


def test_decode_jws_hands_out_copies_and_keeps_nested_headers_uncached() -> None:
    signer = KeySigner.generate("EdDSA")
    flat = sign_jws({"alg": "EdDSA", "typ": "t+jwt"}, {"a": 1}, signer)
    nested = sign_jws({"alg": "EdDSA", "jwk": signer.public_jwk}, {"a": 1}, signer)
    one, _, _, _ = jose.decode_jws(flat, "jws")
    one["typ"] = "changed"
    two, _, _, _ = jose.decode_jws(flat, "jws")
    assert two == {"alg": "EdDSA", "typ": "t+jwt"}
    three, _, _, _ = jose.decode_jws(nested, "jws")
    three["jwk"]["x"] = "changed"
    four, _, _, _ = jose.decode_jws(nested, "jws")
    assert four["jwk"] == signer.public_jwk


def test_the_header_cache_is_bounded() -> None:
    signer = KeySigner.generate("EdDSA")
    for index in range(jose._MAX_HEADERS + 10):
        jose.decode_jws(sign_jws({"alg": "EdDSA", "kid": f"k-{index}"}, {}, signer), "jws")
        assert len(jose._HEADERS) <= jose._MAX_HEADERS


def test_a_duplicate_member_in_a_header_is_refused_even_when_a_twin_was_cached() -> None:
    signer = KeySigner.generate("EdDSA")
    good = sign_jws({"alg": "EdDSA", "typ": "t+jwt"}, {}, signer)
    jose.decode_jws(good, "jws")
    twice = b64url_encode(b'{"alg":"EdDSA","typ":"t+jwt","alg":"none"}')
    with pytest.raises(CryptosuiteError) as caught:
        jose.decode_jws(twice + good[good.index(".") :], "jws")
    assert caught.value.details["reason"] == "duplicateMember"


# --- b64url_json -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (b64url_encode(b'["s","n",1]') + "=", "notBase64url"),
        (b64url_encode(b'["s","n",1]').replace("W", "+"), "notBase64url"),
        ("WyJzIiwibiIsMV0 ", "notBase64url"),
        ("WyJzIiwibiIsMV0\u00e9", "notBase64url"),
        ("A", "notBase64url"),
        ("", "notJson"),
        (b64url_encode(b'{"a":1,"a":2}'), "duplicateMember"),
        (b64url_encode(b'["s","n",NaN]'), "notJson"),
        (b64url_encode(b'["s","n",1]x'), "notJson"),
        (b64url_encode(b'["s","n",\xff]'), "notJson"),
        (b64url_encode(b"[" * 100_000), "tooDeep"),
    ],
)
def test_b64url_json_refuses_what_the_two_steps_refuse(text: str, reason: str) -> None:
    with pytest.raises(CryptosuiteError) as fused:
        b64url_json(text, "disclosure")
    with pytest.raises(CryptosuiteError) as stepwise:
        loads_json(b64url_decode(text, "disclosure"), "disclosure")
    assert (
        fused.value.details
        == stepwise.value.details
        == {
            "part": "disclosure",
            "reason": reason,
        }
    )


def test_b64url_json_accepts_what_the_two_steps_accept() -> None:
    for raw in (b'["s", "n", {"a": [1, 2.5, null, true]}]', b' ["s", 1] ', b'"\\u00e9"'):
        text = b64url_encode(raw)
        value, json_text = b64url_json(text, "disclosure")
        assert value == loads_json(b64url_decode(text, "disclosure"), "disclosure")
        assert json_text == raw.decode("utf-8")


# --- Disclosures used without walking them ---------------------------------------------------


def _unsigned(payload: dict[str, Any], disclosures: list[str]) -> str:
    """An SD-JWT for parse_sd_jwt, which checks structure but not the signature."""
    jwt = f"{_b64_json(HEADER)}.{_b64_json(payload)}.{b64url_encode(bytes(64))}"
    return "~".join((jwt, *disclosures, ""))


@pytest.mark.parametrize(
    "spelling",
    ['"_sd"', '"\\u005fsd"', '"\\u005f\\u0073\\u0064"'],
    ids=["literal", "escaped-underscore", "all-escaped"],
)
def test_a_nested_sd_is_processed_however_it_is_spelled(spelling: str) -> None:
    child = _b64_json(["c2FsdC1jaGlsZC0xMjM0NQ", "street", "Storgata 1"])
    parent_json = f'["c2FsdC1wYXJlbnQtMTIzNA", "address", {{{spelling}: ["{_digest(child)}"]}}]'
    parent = b64url_encode(parent_json.encode("ascii"))
    parsed = parse_sd_jwt(_unsigned({"_sd": [_digest(parent)], "vct": VCT}, [parent, child]))
    assert parsed.claims["address"] == {"street": "Storgata 1"}
    assert set(parsed.paths.values()) == {("address",), ("address", "street")}


@pytest.mark.parametrize(
    "spelling", ['"..."', '"\\u002e.."', '"\\u002e\\u002e\\u002e"'], ids=["literal", "e1", "e3"]
)
def test_a_nested_array_digest_is_processed_however_it_is_spelled(spelling: str) -> None:
    element = _b64_json(["c2FsdC1lbGVtZW50LTEyMzQ", "penicillin"])
    parent_json = (
        f'["c2FsdC1wYXJlbnQtMTIzNA", "allergies", [{{{spelling}: "{_digest(element)}"}}, "x"]]'
    )
    parent = b64url_encode(parent_json.encode("ascii"))
    parsed = parse_sd_jwt(_unsigned({"_sd": [_digest(parent)]}, [parent, element]))
    assert parsed.claims["allergies"] == ["penicillin", "x"]


def test_an_escaped_sd_repeating_a_digest_is_refused() -> None:
    child = _b64_json(["c2FsdC1jaGlsZC0xMjM0NQ", "street", "Storgata 1"])
    parent_json = f'["c2FsdC1wYXJlbnQtMTIzNA", "address", {{"\\u005fsd": ["{_digest(child)}"]}}]'
    parent = b64url_encode(parent_json.encode("ascii"))
    payload = {"_sd": [_digest(parent), _digest(child)]}
    with pytest.raises(CryptosuiteError) as caught:
        parse_sd_jwt(_unsigned(payload, [parent, child]))
    assert caught.value.details["reason"] == "duplicateDigest"


def test_an_escaped_ellipsis_as_a_member_name_is_refused() -> None:
    parent_json = '["c2FsdC1wYXJlbnQtMTIzNA", "address", {"\\u002e..": "x", "b": 1}]'
    parent = b64url_encode(parent_json.encode("ascii"))
    with pytest.raises(CryptosuiteError) as caught:
        parse_sd_jwt(_unsigned({"_sd": [_digest(parent)]}, [parent]))
    assert caught.value.details["reason"] == "misplacedEllipsis"


def test_a_plain_disclosed_value_is_not_shared_between_parses() -> None:
    plain = _b64_json(["c2FsdC1wbGFpbi0xMjM0NTY", "allergy", {"code": "373270004"}])
    text = _unsigned({"_sd": [_digest(plain)]}, [plain])
    first = parse_sd_jwt(text)
    first.claims["allergy"]["code"] = "changed"
    assert parse_sd_jwt(text).claims["allergy"] == {"code": "373270004"}


# --- _sd arrays checked in one pass ----------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"_sd": ["QUFBQQ", "QUFBQQ"]}, "duplicateDigest"),
        ({"_sd": ["QUFBQQ"], "nested": {"_sd": ["QUFBQQ"]}}, "duplicateDigest"),
        ({"_sd": ["QUFBQQ"], "list": [{"...": "QUFBQQ"}]}, "duplicateDigest"),
        ({"_sd": ["QUFBQQ", 7]}, "invalidSd"),
        ({"_sd": ["QUFBQQ", ["QkJCQg"]]}, "invalidSd"),
        ({"_sd": "QUFBQQ"}, "invalidSd"),
    ],
)
def test_sd_arrays_are_checked(payload: dict[str, Any], reason: str) -> None:
    with pytest.raises(CryptosuiteError) as caught:
        parse_sd_jwt(_unsigned(payload, []))
    assert caught.value.details["reason"] == reason
