"""agent.credentials.token_status_list: the draft's vectors, round trips, BSL conversion, tokens."""

from __future__ import annotations

import base64
import json
import random
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.credentials.jose import b64url_encode, decode_jws, sign_jws
from agent.credentials.status_list import MIN_ENTRIES, Bitstring
from agent.credentials.token_status_list import (
    STATUS_LIST_JWT_TYPE,
    TokenStatus,
    TokenStatusList,
    check_token_status,
    decode_token_status_list,
    encode_token_status_list,
    from_bitstring,
    referenced_status_claim,
    status_list_token,
)
from agent.dids.resolver import DIDResolver
from agent.errors import ErrorCode, InvalidInputError, StatusError
from agent.keys import decode_multikey
from agent.keys.convert import public_key_to_jwk
from tests.token_status.conftest import Issuer

VECTORS = json.loads(
    (Path(__file__).parent / "vectors" / "draft-ietf-oauth-status-list.json").read_text()
)["cases"]
URI = "https://hospital.example/statuslists/1"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


# --- the draft's examples --------------------------------------------------------------------


@pytest.mark.parametrize("case", VECTORS, ids=[case["name"] for case in VECTORS])
def test_draft_example_encodes_to_its_lst(case: dict[str, Any]) -> None:
    statuses = TokenStatusList(len(case["statuses"]), case["bits"])
    for index, status in enumerate(case["statuses"]):
        statuses.set(index, status)
    assert statuses.to_bytes().hex() == case["byte_array"]
    assert encode_token_status_list(statuses) == case["status_list"]
    assert encode_token_status_list(case["statuses"], case["bits"]) == case["status_list"]
    assert (
        encode_token_status_list(bytes.fromhex(case["byte_array"]), case["bits"])
        == (case["status_list"])
    )


@pytest.mark.parametrize("case", VECTORS, ids=[case["name"] for case in VECTORS])
def test_draft_example_decodes_to_its_statuses(case: dict[str, Any]) -> None:
    decoded = decode_token_status_list(case["status_list"])
    assert decoded.bits == case["bits"]
    assert decoded.to_bytes().hex() == case["byte_array"]
    assert [decoded.get(i) for i in range(len(case["statuses"]))] == case["statuses"]


# --- round trips -----------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    bits=st.sampled_from([1, 2, 4, 8]),
    data=st.data(),
)
def test_round_trip(bits: int, data: st.DataObject) -> None:
    statuses = data.draw(st.lists(st.integers(0, (1 << bits) - 1), max_size=300))
    claim = encode_token_status_list(statuses, bits)
    decoded = decode_token_status_list(claim)
    assert decoded.bits == bits
    assert [decoded.get(i) for i in range(len(statuses))] == statuses
    # Padding statuses of the last byte read as VALID.
    assert all(decoded.get(i) == 0 for i in range(len(statuses), len(decoded)))


@settings(max_examples=50, deadline=None)
@given(indexes=st.sets(st.integers(0, MIN_ENTRIES - 1), max_size=200))
def test_bitstring_conversion_keeps_every_index(indexes: set[int]) -> None:
    bitstring = Bitstring()
    for index in indexes:
        bitstring.set(index)
    revocation = decode_token_status_list(encode_token_status_list(from_bitstring(bitstring)))
    assert revocation.bits == 1
    assert len(revocation) == MIN_ENTRIES
    suspension = from_bitstring(bitstring, "suspension")
    assert suspension.bits == 2
    probes = indexes | {random.randrange(MIN_ENTRIES) for _ in range(50)}
    for index in probes:
        expected = index in indexes
        assert revocation.get(index) == (TokenStatus.INVALID if expected else TokenStatus.VALID)
        assert suspension.get(index) == (TokenStatus.SUSPENDED if expected else TokenStatus.VALID)
    assert sum(revocation.get(i) for i in range(MIN_ENTRIES)) == len(indexes)


def test_bitstring_conversion_of_the_draft_example() -> None:
    bitstring = Bitstring(16, min_length=8)
    for index in (0, 3, 4, 5, 7, 8, 9, 13, 15):  # the INVALID entries of the 1-bit example
        bitstring.set(index)
    assert encode_token_status_list(from_bitstring(bitstring)) == VECTORS[0]["status_list"]


def test_message_lists_are_not_converted() -> None:
    with pytest.raises(InvalidInputError):
        from_bitstring(Bitstring(), "message")


# --- malformed and hostile claims ------------------------------------------------------------


@pytest.mark.parametrize(
    "claim",
    [
        pytest.param([], id="not-object"),
        pytest.param({"bits": 3, "lst": "eNrbuRgAAhcBXQ"}, id="bits-3"),
        pytest.param({"bits": True, "lst": "eNrbuRgAAhcBXQ"}, id="bits-bool"),
        pytest.param({"bits": 1}, id="no-lst"),
        pytest.param({"bits": 1, "lst": "eNrbuRgAAhcBXQ=="}, id="padded"),
        pytest.param({"bits": 1, "lst": "not base64!"}, id="not-base64"),
        pytest.param({"bits": 1, "lst": "eNrbuRgAAhcB"}, id="truncated"),
        pytest.param(
            {"bits": 1, "lst": b64url_encode(base64.b64decode("H4sIAAAAAAAA/0sEAAAAAAA="))},
            id="gzip-not-zlib",
        ),
        pytest.param(
            {"bits": 1, "lst": b64url_encode(zlib.compress(b"\x01") + b"junk")}, id="trailing"
        ),
    ],
)
def test_malformed_claims_are_refused(claim: object) -> None:
    with pytest.raises(StatusError) as caught:
        decode_token_status_list(claim)
    assert caught.value.code is ErrorCode.MALFORMED_VALUE_ERROR


def test_a_zlib_bomb_is_refused_before_inflating() -> None:
    bomb = {"bits": 1, "lst": b64url_encode(zlib.compress(bytes(50 * 1024 * 1024), 9))}
    assert len(bomb["lst"]) < 100_000
    with pytest.raises(StatusError) as caught:
        decode_token_status_list(bomb, max_bytes=1024 * 1024)
    assert caught.value.code is ErrorCode.INPUT_TOO_LARGE


def test_referenced_status_claim_shape() -> None:
    assert referenced_status_claim(URI, 7) == {"status_list": {"idx": 7, "uri": URI}}
    with pytest.raises(InvalidInputError):
        referenced_status_claim(URI, -1)
    with pytest.raises(InvalidInputError):
        referenced_status_claim("not a uri", 1)


# --- the Status List Token -------------------------------------------------------------------


def _statuses() -> TokenStatusList:
    bitstring = Bitstring()
    bitstring.set(7)
    return from_bitstring(bitstring)


def _token(party: Issuer, **overrides: Any) -> str:
    arguments: dict[str, Any] = {
        "iat": NOW - timedelta(minutes=5),
        "exp": NOW + timedelta(hours=1),
        "ttl": timedelta(minutes=10),
    }
    arguments.update(overrides)
    return status_list_token(URI, _statuses(), party.signer, **arguments)


async def test_token_has_the_drafts_shape(issuers: tuple[Issuer, Issuer]) -> None:
    hospital, _ = issuers
    header, payload, _, _ = decode_jws(_token(hospital, issuer=hospital.did), "token")
    assert header == {
        "alg": "EdDSA",
        "kid": hospital.signer.verification_method,
        "typ": STATUS_LIST_JWT_TYPE,
    }
    assert payload["sub"] == URI
    assert payload["iss"] == hospital.did
    assert payload["exp"] - payload["iat"] == 3900
    assert payload["ttl"] == 600
    assert payload["status_list"]["bits"] == 1


async def test_check_reads_the_status(
    issuers: tuple[Issuer, Issuer], resolver: DIDResolver
) -> None:
    hospital, _ = issuers
    token = _token(hospital)
    revoked = await check_token_status(
        referenced_status_claim(URI, 7),
        token,
        issuer_key_resolver=resolver,
        now=NOW,
        expected_issuer=hospital.did,
    )
    assert (revoked.idx, revoked.status, revoked.valid) == (7, TokenStatus.INVALID, False)
    assert (revoked.ttl, revoked.uri) == (600, URI)
    valid = await check_token_status(
        {"status_list": {"idx": 8, "uri": URI}}, token, issuer_key_resolver=resolver, now=NOW
    )
    assert (valid.status, valid.valid) == (0, True)


async def test_check_with_a_key_callback(issuers: tuple[Issuer, Issuer]) -> None:
    hospital, _ = issuers
    multikey = hospital.signer.multikey
    jwk = public_key_to_jwk(*decode_multikey(multikey))

    async def key(header: Mapping[str, Any], payload: Mapping[str, Any]) -> Mapping[str, Any]:
        assert payload["sub"] == URI
        return jwk

    result = await check_token_status(
        referenced_status_claim(URI, 7), _token(hospital), issuer_key_resolver=key, now=NOW
    )
    assert result.status == TokenStatus.INVALID


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["status_list"] = encode_token_status_list(TokenStatusList(MIN_ENTRIES))
    body = b64url_encode(json.dumps(claims).encode())
    return f"{header}.{body}.{signature}"


async def _reason(token: str, resolver: Any, *, uri: str = URI, **kwargs: Any) -> str:
    with pytest.raises(StatusError) as caught:
        await check_token_status(
            referenced_status_claim(uri, 7), token, issuer_key_resolver=resolver, **kwargs
        )
    assert caught.value.code is ErrorCode.STATUS_VERIFICATION_ERROR, caught.value
    return str(caught.value.details["reason"])


async def test_a_tampered_token_is_rejected(
    issuers: tuple[Issuer, Issuer], resolver: DIDResolver
) -> None:
    hospital, _ = issuers
    reason = await _reason(_tamper(_token(hospital)), resolver, now=NOW)
    assert reason == "badSignature"


async def test_a_wrong_sub_is_rejected(
    issuers: tuple[Issuer, Issuer], resolver: DIDResolver
) -> None:
    hospital, _ = issuers
    other = "https://hospital.example/statuslists/2"
    assert await _reason(_token(hospital), resolver, uri=other, now=NOW) == "subMismatch"


async def test_an_expired_token_is_rejected(
    issuers: tuple[Issuer, Issuer], resolver: DIDResolver
) -> None:
    hospital, _ = issuers
    later = NOW + timedelta(hours=2)
    assert await _reason(_token(hospital), resolver, now=later) == "expired"
    # Within the clock skew it still verifies.
    await check_token_status(
        referenced_status_claim(URI, 7),
        _token(hospital),
        issuer_key_resolver=resolver,
        now=NOW + timedelta(hours=1, minutes=4),
    )


async def test_another_issuers_token_is_rejected(
    issuers: tuple[Issuer, Issuer], resolver: DIDResolver
) -> None:
    hospital, other = issuers
    reason = await _reason(_token(other), resolver, now=NOW, expected_issuer=hospital.did)
    assert reason == "issuerKeyMismatch"


async def test_wrong_typ_and_mac_are_rejected(
    issuers: tuple[Issuer, Issuer], resolver: DIDResolver
) -> None:
    hospital, _ = issuers
    payload = {"sub": URI, "iat": int(NOW.timestamp()), "status_list": {"bits": 1, "lst": "x"}}
    vm = hospital.signer.verification_method
    untyped = sign_jws({"alg": "EdDSA", "kid": vm, "typ": "JWT"}, payload, hospital.signer)
    assert await _reason(untyped, resolver, now=NOW) == "wrongType"
    header = b64url_encode(json.dumps({"alg": "HS256", "typ": STATUS_LIST_JWT_TYPE}).encode())
    mac = f"{header}.{untyped.split('.')[1]}.{b64url_encode(bytes(32))}"
    assert await _reason(mac, resolver, now=NOW) == "algorithmNotAccepted"


async def test_an_index_outside_the_list_is_a_range_error(
    issuers: tuple[Issuer, Issuer], resolver: DIDResolver
) -> None:
    hospital, _ = issuers
    with pytest.raises(StatusError) as caught:
        await check_token_status(
            referenced_status_claim(URI, MIN_ENTRIES),
            _token(hospital),
            issuer_key_resolver=resolver,
            now=NOW,
        )
    assert caught.value.code is ErrorCode.RANGE_ERROR


def test_token_arguments_are_checked(issuers: tuple[Issuer, Issuer]) -> None:
    hospital, _ = issuers
    with pytest.raises(InvalidInputError):
        _token(hospital, exp=NOW - timedelta(hours=1))
    with pytest.raises(InvalidInputError):
        _token(hospital, ttl=timedelta(0))
    with pytest.raises(InvalidInputError):
        _token(hospital, iat=datetime(2026, 3, 1))  # A naive datetime.
