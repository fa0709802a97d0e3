"""agent.credentials.status_list: the codec, the spec and test-suite vectors, validation rules."""

from __future__ import annotations

import base64
import copy
import gzip
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.credentials.model import validate_credential
from agent.credentials.status_list import (
    MIN_ENTRIES,
    Bitstring,
    StatusEntry,
    check_status,
    decode_list,
    encode_list,
    parse_status_entries,
    parse_status_entry,
    status_entry,
    status_list_credential,
)
from agent.errors import ErrorCode, InvalidInputError, StatusError
from tests.conftest import load_vector

NOW = datetime(2026, 3, 1, tzinfo=UTC)
SUITE = "test-suite-pr38"
FIXTURE_ISSUER = "did:example:issuer"


def _spec_example(title: str) -> dict[str, Any]:
    for example in load_vector("status-list", "spec-examples.json")["examples"]:
        if example["title"] == title:
            return copy.deepcopy(example["json"])
    raise KeyError(title)


def _suite_list(name: str) -> dict[str, Any]:
    """A test-suite list credential; the fixtures have no issuer, so one is added."""
    document: dict[str, Any] = load_vector("status-list", SUITE, "status-credentials", name)
    document["issuer"] = FIXTURE_ISSUER
    return document


def _suite_entry(name: str) -> dict[str, Any]:
    credential: dict[str, Any] = load_vector("status-list", SUITE, name)
    return dict(credential["credentialStatus"])


# --- spec examples ------------------------------------------------------------------------


def test_spec_list_decodes_to_131072_zero_bits() -> None:
    list_credential = _spec_example("Example BitstringStatusListCredential")
    bits = decode_list(list_credential["credentialSubject"]["encodedList"])
    assert len(bits) == MIN_ENTRIES
    assert bits.count() == 0


@pytest.mark.parametrize(
    "title",
    ["A Revocable Verifiable Credential", "Example StatusListCredential using simple entries"],
)
def test_spec_credential_index_94567_is_not_revoked(title: str) -> None:
    credential = _spec_example(title)
    list_credential = _spec_example("Example BitstringStatusListCredential")
    (entry, *_) = parse_status_entries(credential)
    assert entry == StatusEntry(
        list_url="https://example.com/credentials/status/3",
        index=94567,
        purpose="revocation",
        id="https://example.com/credentials/status/3#94567",
    )
    result = check_status(entry, list_credential, issuer=credential["issuer"], now=NOW)
    assert (result.purpose, result.index, result.status, result.set) == (
        "revocation",
        94567,
        0,
        False,
    )
    assert result.valid
    assert result.list_issuer == "did:example:12345"


def test_spec_entry_of_another_list_is_refused_by_list_id() -> None:
    credential = _spec_example("Example StatusListCredential using simple entries")
    suspension = credential["credentialStatus"][1]  # Names list 4; the example list is 3.
    list_credential = _spec_example("Example BitstringStatusListCredential")
    with pytest.raises(StatusError) as caught:
        check_status(suspension, list_credential, issuer="did:example:12345", now=NOW)
    assert caught.value.code is ErrorCode.STATUS_VERIFICATION_ERROR
    assert caught.value.details["reason"] == "listIdMismatch"


def test_our_encoding_of_an_empty_list_matches_the_spec_bits() -> None:
    # GZIP output differs between compressors, so compare what both decode to.
    spec = _spec_example("Example BitstringStatusListCredential")["credentialSubject"]
    assert decode_list(encode_list(Bitstring())) == decode_list(spec["encodedList"])
    assert encode_list(Bitstring()).startswith("uH4sI")


# --- W3C test-suite fixtures (PR 38: no multibase prefix) ------------------------------------


def test_suite_list_has_bits_201_57444_94023_set() -> None:
    document = _suite_list("single-purpose-ok.jsonld")
    bits = decode_list(document["credentialSubject"]["encodedList"])
    assert list(bits.set_indexes()) == [201, 57444, 94023]
    assert len(bits) == 200_000


@pytest.mark.parametrize(
    ("credential", "status_list", "expected"),
    [
        ("should-be-revoked.jsonld", "single-purpose-ok.jsonld", True),
        ("should-be-suspended.jsonld", "multi-purpose-ok.jsonld", True),
        ("sl-purpose-single-ok.jsonld", "single-purpose-ok.jsonld", False),
        ("sl-purpose-multi-ok.jsonld", "multi-purpose-ok.jsonld", False),
    ],
)
def test_suite_fixture_status(credential: str, status_list: str, expected: bool) -> None:
    result = check_status(
        _suite_entry(credential), _suite_list(status_list), issuer=FIXTURE_ISSUER, now=NOW
    )
    assert result.set is expected


def test_suite_short_list_fails_with_length_error() -> None:
    with pytest.raises(StatusError) as caught:
        check_status(
            _suite_entry("sl-encoded-list-short-fail.jsonld"),
            _suite_list("short-encoded-list-fail.jsonld"),
            issuer=FIXTURE_ISSUER,
            now=NOW,
        )
    assert caught.value.code is ErrorCode.STATUS_LIST_LENGTH_ERROR
    assert caught.value.details == {"entries": 200, "minimum": MIN_ENTRIES}


@pytest.mark.parametrize("status_list", ["single-purpose-fail.jsonld", "multi-purpose-fail.jsonld"])
def test_suite_wrong_purpose_fails(status_list: str) -> None:
    with pytest.raises(StatusError) as caught:
        check_status(
            _suite_entry("should-be-revoked.jsonld"),
            _suite_list(status_list),
            issuer=FIXTURE_ISSUER,
            now=NOW,
        )
    assert caught.value.code is ErrorCode.STATUS_VERIFICATION_ERROR
    assert caught.value.details["reason"] == "purposeMismatch"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d.update(type=["VerifiableCredential"]), "notStatusList"),
        (
            lambda d: d.update(type=["VerifiableCredential", "StatusList2021Credential"]),
            "notStatusList",
        ),
        (lambda d: d.update(validUntil="2025-01-01T00:00:00Z"), "expired"),
        (lambda d: d.update(validFrom="2027-01-01T00:00:00Z"), "notYetValid"),
        (lambda d: d.update(issuer="did:example:someone-else"), "issuerMismatch"),
        (lambda d: d["credentialSubject"].update(type="StatusList2021"), "notStatusList"),
    ],
    ids=["vc-type-missing", "vc-type-wrong", "expired", "not-yet-valid", "issuer", "subject-type"],
)
def test_list_credential_rules(mutate: Any, reason: str) -> None:
    document = _suite_list("single-purpose-ok.jsonld")
    mutate(document)
    with pytest.raises(StatusError) as caught:
        check_status(
            _suite_entry("should-be-revoked.jsonld"), document, issuer=FIXTURE_ISSUER, now=NOW
        )
    assert caught.value.code is ErrorCode.STATUS_VERIFICATION_ERROR
    assert caught.value.details["reason"] == reason


def test_validity_period_allows_clock_skew() -> None:
    document = _suite_list("single-purpose-ok.jsonld")
    document["validUntil"] = "2026-02-28T23:58:00Z"
    result = check_status(
        _suite_entry("should-be-revoked.jsonld"), document, issuer=FIXTURE_ISSUER, now=NOW
    )
    assert result.set
    assert result.list_valid_until == datetime(2026, 2, 28, 23, 58, tzinfo=UTC)


def test_invalid_encoded_list_is_malformed() -> None:
    document = _suite_list("single-purpose-ok.jsonld")
    document["credentialSubject"]["encodedList"] = "uH4sInot-gzip"
    with pytest.raises(StatusError) as caught:
        check_status(
            _suite_entry("should-be-revoked.jsonld"), document, issuer=FIXTURE_ISSUER, now=NOW
        )
    assert caught.value.code is ErrorCode.MALFORMED_VALUE_ERROR


def test_index_beyond_the_list_is_a_range_error() -> None:
    entry = _suite_entry("should-be-revoked.jsonld") | {"statusListIndex": "200000"}
    with pytest.raises(StatusError) as caught:
        check_status(entry, _suite_list("single-purpose-ok.jsonld"), issuer=FIXTURE_ISSUER, now=NOW)
    assert caught.value.code is ErrorCode.RANGE_ERROR


# --- entries ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"statusListIndex": 94567}, "statusListIndex"),
        ({"statusListIndex": "-1"}, "statusListIndex"),
        ({"statusListIndex": " 1"}, "statusListIndex"),
        ({"statusListIndex": "0x10"}, "statusListIndex"),
        ({"statusPurpose": ["revocation"]}, "statusPurpose"),
        ({"statusListCredential": "status/3"}, "statusListCredential"),
        ({"statusSize": 0}, "statusSize"),
        ({"statusSize": True}, "statusSize"),
        ({"statusSize": 2}, "statusMessage"),
        ({"id": "https://example.com/credentials/status/3"}, "id"),
    ],
)
def test_malformed_entries(change: dict[str, Any], path: str) -> None:
    entry = status_entry("https://example.com/credentials/status/3", 94567, "revocation") | change
    with pytest.raises(StatusError) as caught:
        parse_status_entry(entry)
    assert caught.value.code is ErrorCode.MALFORMED_VALUE_ERROR
    assert caught.value.details["path"] == path


def test_other_status_types_cannot_be_checked() -> None:
    with pytest.raises(StatusError) as caught:
        parse_status_entry({"type": "StatusList2021Entry", "statusListIndex": "1"})
    assert caught.value.code is ErrorCode.STATUS_VERIFICATION_ERROR


def test_entry_builder_matches_the_spec_example() -> None:
    credential = _spec_example("A Revocable Verifiable Credential")
    built = status_entry("https://example.com/credentials/status/3", 94567, "revocation")
    assert built == credential["credentialStatus"]


def test_status_messages_with_two_bit_entries() -> None:
    messages = [
        {"status": "0x0", "message": "pending_review"},
        {"status": "0x1", "message": "accepted"},
        {"status": "0x2", "message": "rejected"},
        {"status": "0x3", "message": "undefined"},
    ]
    url = "https://example.com/credentials/status/8"
    entry = status_entry(url, 70_000, "message", status_size=2, status_message=messages)
    bits = Bitstring(2 * MIN_ENTRIES)
    bits.set_status(70_000, 2, status_size=2)
    assert bits.get(140_000)
    assert not bits.get(140_001)
    document = status_list_credential(url, FIXTURE_ISSUER, "message", bits, NOW)
    result = check_status(entry, document, issuer=FIXTURE_ISSUER, now=NOW)
    assert (result.status, result.message, result.set) == (2, "rejected", True)
    # A 131,072-bit list holds only 65,536 two-bit entries: too few.
    short = status_list_credential(url, FIXTURE_ISSUER, "message", Bitstring(), NOW)
    with pytest.raises(StatusError) as caught:
        check_status(entry, short, issuer=FIXTURE_ISSUER, now=NOW)
    assert caught.value.code is ErrorCode.STATUS_LIST_LENGTH_ERROR
    with pytest.raises(InvalidInputError):
        status_entry(url, 1, "message", status_size=2, status_message=messages[:3])


def test_list_credential_builder_is_a_valid_credential() -> None:
    url = "https://issuer.example/status/abc"
    bits = Bitstring()
    bits.set(7)
    document = status_list_credential(
        url,
        "did:example:issuer",
        "suspension",
        bits,
        NOW,
        NOW + timedelta(days=1),
        ttl=timedelta(minutes=5),
    )
    validate_credential(document)
    assert document["id"] == url
    assert document["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert document["validUntil"] == "2026-03-02T00:00:00Z"
    subject = document["credentialSubject"]
    assert subject["id"] == f"{url}#list"
    assert subject["type"] == "BitstringStatusList"
    assert subject["statusPurpose"] == "suspension"
    assert subject["ttl"] == 300_000
    assert decode_list(subject["encodedList"]) == bits


def test_list_credential_builder_refuses_short_lists() -> None:
    with pytest.raises(StatusError) as caught:
        status_list_credential(
            "https://issuer.example/status/1",
            "did:example:issuer",
            "revocation",
            Bitstring(1024, min_length=8),
            NOW,
        )
    assert caught.value.code is ErrorCode.STATUS_LIST_LENGTH_ERROR


# --- codec ----------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.sets(st.integers(min_value=0, max_value=MIN_ENTRIES - 1), max_size=300))
def test_encode_decode_round_trip(indexes: set[int]) -> None:
    bits = Bitstring()
    for index in indexes:
        bits.set(index)
    encoded = encode_list(bits)
    assert encoded.startswith("u")
    assert "=" not in encoded
    decoded = decode_list(encoded)
    assert decoded == bits
    assert set(decoded.set_indexes()) == indexes
    assert all(decoded.get(index) for index in indexes)


def test_bit_order_is_most_significant_first() -> None:
    bits = Bitstring()
    bits.set(0)
    bits.set(9)
    assert bits.to_bytes()[:2] == bytes([0b1000_0000, 0b0100_0000])
    bits.set(0, False)
    assert bits.to_bytes()[0] == 0


def test_encoding_is_deterministic() -> None:
    bits = Bitstring()
    bits.set(42)
    assert encode_list(bits) == encode_list(Bitstring.from_bytes(bits.to_bytes()))


def test_gzip_bomb_is_refused_before_it_inflates() -> None:
    bomb = gzip.compress(bytes(64 * 1024 * 1024), mtime=0)  # 64 MiB of zeros, ~64 KB packed.
    encoded = "u" + base64.urlsafe_b64encode(bomb).rstrip(b"=").decode()
    with pytest.raises(StatusError) as caught:
        decode_list(encoded)
    assert caught.value.code is ErrorCode.INPUT_TOO_LARGE
    assert caught.value.details == {"limit": 2 * 1024 * 1024}


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "zH4sI",  # base58btc prefix
        "uH4sI+/",  # standard alphabet under the url prefix
        "u" + base64.urlsafe_b64encode(b"not gzip").decode().rstrip("="),
        "u" + base64.urlsafe_b64encode(gzip.compress(bytes(16384))[:-8]).decode().rstrip("="),
        "u" + base64.urlsafe_b64encode(gzip.compress(bytes(16384)) * 2).decode().rstrip("="),
    ],
    ids=["empty", "base58", "alphabet", "not-gzip", "truncated", "two-members"],
)
def test_malformed_encoded_lists(encoded: str) -> None:
    with pytest.raises(StatusError) as caught:
        decode_list(encoded)
    assert caught.value.code is ErrorCode.MALFORMED_VALUE_ERROR


def test_short_lists_and_lower_bounds() -> None:
    short = encode_list(Bitstring(1024, min_length=8))
    with pytest.raises(StatusError) as caught:
        decode_list(short)
    assert caught.value.code is ErrorCode.STATUS_LIST_LENGTH_ERROR
    assert len(decode_list(short, min_entries=1024)) == 1024
    with pytest.raises(InvalidInputError):
        Bitstring(1024)
    with pytest.raises(InvalidInputError):
        Bitstring(MIN_ENTRIES + 1)


def test_index_outside_the_bitstring_is_a_range_error() -> None:
    bits = Bitstring()
    with pytest.raises(StatusError) as caught:
        bits.get(MIN_ENTRIES)
    assert caught.value.code is ErrorCode.RANGE_ERROR
    with pytest.raises(StatusError):
        bits.set(-1)


def test_a_bitstring_decoded_earlier_is_read_and_still_length_checked() -> None:
    url = "https://example.com/credentials/status/9"
    bits = Bitstring()
    bits.set(4_711)
    document = status_list_credential(url, FIXTURE_ISSUER, "revocation", bits, NOW)
    decoded = decode_list(document["credentialSubject"]["encodedList"], min_entries=0)
    entry = status_entry(url, 4_711, "revocation")
    given = check_status(entry, document, issuer=FIXTURE_ISSUER, now=NOW, bits=decoded)
    assert given == check_status(entry, document, issuer=FIXTURE_ISSUER, now=NOW)
    assert given.set
    # The checks before the bitstring still run, and a given bitstring is held to the same
    # length rule as a decoded one: 131,072 bits are only 65,536 two-bit entries.
    with pytest.raises(StatusError) as caught:
        check_status(entry, document, issuer="did:example:other", now=NOW, bits=decoded)
    assert caught.value.details["reason"] == "issuerMismatch"
    two_bit = status_entry(
        url,
        7,
        "revocation",
        status_size=2,
        status_message=[
            {"status": "0x0", "message": "a"},
            {"status": "0x1", "message": "b"},
            {"status": "0x2", "message": "c"},
            {"status": "0x3", "message": "d"},
        ],
    )
    with pytest.raises(StatusError) as caught:
        check_status(two_bit, document, issuer=FIXTURE_ISSUER, now=NOW, bits=decoded)
    assert caught.value.code is ErrorCode.STATUS_LIST_LENGTH_ERROR
