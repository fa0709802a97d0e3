"""agent.dids.check_did: a DID named (to accredit, to trust, on a command line) is checked for
syntax and, for did:key, did:web and did:peer, for an identifier its method can use, without
any I/O. A new-user walk found a malformed did:key accredited and put on the trust list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.dids import check_did
from agent.errors import ErrorCode, InvalidInputError

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
#: From the did:key and did:peer test vectors (tests/vectors/did-key, tests/vectors/did-peer).
DID_KEY = "did:key:z6MkpTHR8VNsBxYAAWHut2Geadd9jSwuBV8xRoAnwWsdvktH"
DID_PEER_2 = json.loads((VECTORS / "did-peer" / "spec-examples.json").read_text())["numalgo2"][
    "did"
]


@pytest.mark.parametrize(
    "did",
    [
        DID_KEY,
        DID_PEER_2,
        "did:web:example.org",
        "did:web:hospital.example.org:units:er",
        "did:web:localhost%3A8200",
        "did:example:123456789abcdefghi",  # another method: syntax only
    ],
)
def test_usable_dids_pass(did: str) -> None:
    assert check_did(did) == did


@pytest.mark.parametrize(
    ("did", "says"),
    [
        ("did:key:abc", "not a usable key DID"),
        ("did:key:z6MkpTHR8VNsBxYAAWHut2Geadd9jSwuBV8xRoAnwWsdvkt", "not a usable key DID"),
        ("did:web:10.1.2.3", "not a usable web DID"),
        ("did:peer:2.Vgarbage", "not a usable peer DID"),
        (DID_KEY + "#" + DID_KEY.removeprefix("did:key:"), "is a DID URL; give the DID alone"),
        ("notadid", "is not a DID"),
        ("did:KEY:abc", "is not a DID"),
        ("did:key:", "is not a DID"),
    ],
)
def test_malformed_dids_are_refused_with_the_reason(did: str, says: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        check_did(did)
    assert caught.value.code is ErrorCode.INVALID_DID
    assert says in caught.value.message


@pytest.mark.parametrize("value", [5, None, "did:web:" + "a" * 3000])
def test_what_is_not_a_short_string_is_refused(value: object) -> None:
    with pytest.raises(InvalidInputError) as caught:
        check_did(value)
    assert caught.value.code is ErrorCode.INVALID_DID
