"""Issue, present and verify with askar-held keys and did:key issuers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent.credentials.sd_jwt import (
    SdJwt,
    issue_sd_jwt,
    parse_sd_jwt,
    present,
    verify_sd_jwt,
)
from agent.dids.resolver import DIDResolver
from agent.errors import CryptosuiteError, ErrorCode, InvalidInputError, ProofError
from tests.sd_jwt.conftest import Parties, Party

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
AUD = "did:web:er.hospital.example"
NONCE = "n-0S6_WzA2Mj"
VCT = "https://health.example/credentials/allergies"

CLAIMS: dict[str, Any] = {
    "sub": "did:example:citizen",
    "given_name": "Erika",
    "family_name": "Mustermann",
    "birthdate": "1963-08-12",
    "allergies": [
        {"substance": "penicillin", "criticality": "high"},
        {"substance": "peanut", "criticality": "low"},
    ],
    "blood_type": {"abo": "A", "rh": "+"},
}
DISCLOSABLE = [
    ("given_name",),
    ("family_name",),
    ("birthdate",),
    ("allergies", None),
    ("blood_type",),
    ("blood_type", "rh"),
]


def _issue(parties: Parties, holder: Party, **overrides: Any) -> str:
    arguments: dict[str, Any] = {
        "iss": parties.issuer.did,
        "iat": NOW - timedelta(days=1),
        "exp": NOW + timedelta(days=365),
        "disclosable": DISCLOSABLE,
        "holder_jwk": holder.jwk,
        "vct": VCT,
    }
    arguments.update(overrides)
    return issue_sd_jwt(CLAIMS, parties.issuer.signer, **arguments)


@pytest.mark.parametrize("holder_name", ["holder_ed25519", "holder_p256"])
async def test_round_trip_with_askar_keys(
    parties: Parties, resolver: DIDResolver, holder_name: str
) -> None:
    holder: Party = getattr(parties, holder_name)
    issued = _issue(parties, holder)
    presentation = present(
        issued,
        disclose=[("allergies", 0), ("blood_type", "abo")],
        holder_signer=holder.signer,
        nonce=NONCE,
        aud=AUD,
        iat=NOW,
    )
    verified = await verify_sd_jwt(
        presentation,
        issuer_key_resolver=resolver,
        now=NOW,
        expected_aud=AUD,
        expected_nonce=NONCE,
    )
    assert verified.header == {
        "alg": "EdDSA",
        "typ": "dc+sd-jwt",
        "kid": parties.issuer.signer.verification_method,
    }
    assert verified.issuer == parties.issuer.did
    assert verified.holder_jwk == holder.jwk
    assert verified.key_binding is not None
    assert verified.key_binding.algorithm == holder.signer.algorithm
    assert verified.payload == {
        "iss": parties.issuer.did,
        "iat": int((NOW - timedelta(days=1)).timestamp()),
        "exp": int((NOW + timedelta(days=365)).timestamp()),
        "vct": VCT,
        "cnf": {"jwk": holder.jwk},
        "sub": "did:example:citizen",
        "allergies": [{"substance": "penicillin", "criticality": "high"}],
        # blood_type is disclosed (it holds abo), its hidden member rh is not.
        "blood_type": {"abo": "A"},
    }
    assert verified.disclosed_paths == (("allergies", 0), ("blood_type",))


async def test_es256_issuer_with_an_askar_p256_key(parties: Parties, resolver: DIDResolver) -> None:
    # A did:key P-256 key may assert for its own DID; the Ed25519 holder binds the KB-JWT.
    issuer, holder = parties.holder_p256, parties.holder_ed25519
    issued = issue_sd_jwt(
        CLAIMS,
        issuer.signer,
        iss=issuer.did,
        iat=NOW,
        disclosable=DISCLOSABLE,
        holder_jwk=holder.jwk,
        vct=VCT,
    )
    presentation = present(
        issued,
        disclose=[("given_name",)],
        holder_signer=holder.signer,
        nonce=NONCE,
        aud=AUD,
        iat=NOW,
    )
    verified = await verify_sd_jwt(
        presentation,
        issuer_key_resolver=resolver,
        now=NOW,
        expected_aud=AUD,
        expected_nonce=NONCE,
    )
    assert verified.header["alg"] == "ES256"
    assert verified.payload["given_name"] == "Erika"
    assert verified.key_binding is not None
    assert verified.key_binding.algorithm == "EdDSA"


async def test_holder_sees_everything_and_paths_point_into_claims(parties: Parties) -> None:
    parsed = parse_sd_jwt(_issue(parties, parties.holder_ed25519))
    assert parsed.claims == {
        "iss": parties.issuer.did,
        "iat": parsed.payload["iat"],
        "exp": parsed.payload["exp"],
        "vct": VCT,
        "cnf": {"jwk": parties.holder_ed25519.jwk},
        **CLAIMS,
    }
    assert sorted(parsed.paths.values(), key=str) == sorted(
        [
            ("given_name",),
            ("family_name",),
            ("birthdate",),
            ("allergies", 0),
            ("allergies", 1),
            ("blood_type",),
            ("blood_type", "rh"),
        ],
        key=str,
    )
    assert "_sd_alg" not in parsed.claims
    assert parsed.payload["_sd_alg"] == "sha-256"


async def test_selecting_a_container_selects_what_it_holds(
    parties: Parties, resolver: DIDResolver
) -> None:
    issued = _issue(parties, parties.holder_ed25519)
    for disclose, expected in [
        ([("blood_type",)], {"abo": "A", "rh": "+"}),
        (["/blood_type/rh"], {"abo": "A", "rh": "+"}),
        ([("blood_type", "abo")], {"abo": "A"}),
    ]:
        presentation = present(issued, disclose=disclose)
        verified = await verify_sd_jwt(
            presentation, issuer_key_resolver=resolver, now=NOW, require_key_binding=False
        )
        assert verified.payload["blood_type"] == expected
        assert verified.key_binding is None


async def test_json_pointer_and_wildcard_paths(parties: Parties, resolver: DIDResolver) -> None:
    issued = issue_sd_jwt(
        CLAIMS,
        parties.issuer.signer,
        iss=parties.issuer.did,
        iat=NOW,
        vct=VCT,
        disclosable=["/allergies/1", "/given_name", ("allergies", 1, None)],
    )
    parsed = parse_sd_jwt(issued)
    assert sorted(parsed.paths.values(), key=str) == sorted(
        [
            ("allergies", 1),
            ("allergies", 1, "substance"),
            ("allergies", 1, "criticality"),
            ("given_name",),
        ],
        key=str,
    )
    presentation = present(issued, disclose=[("allergies", None, "substance")])
    verified = await verify_sd_jwt(
        presentation, issuer_key_resolver=resolver, now=NOW, require_key_binding=False
    )
    assert verified.payload["allergies"] == [
        {"substance": "penicillin", "criticality": "high"},
        {"substance": "peanut"},
    ]


async def test_nothing_disclosed_still_verifies(parties: Parties, resolver: DIDResolver) -> None:
    issued = _issue(parties, parties.holder_p256)
    presentation = present(
        issued, disclose=[], holder_signer=parties.holder_p256.signer, nonce=NONCE, aud=AUD, iat=NOW
    )
    assert presentation.count("~") == 1
    verified = await verify_sd_jwt(
        presentation, issuer_key_resolver=resolver, now=NOW, expected_aud=AUD, expected_nonce=NONCE
    )
    assert verified.payload["allergies"] == []
    assert "blood_type" not in verified.payload
    assert verified.disclosed_paths == ()


async def test_decoys_pad_every_sd_array(parties: Parties, resolver: DIDResolver) -> None:
    issued = _issue(parties, parties.holder_ed25519, decoys=3)
    parsed = parse_sd_jwt(issued)
    assert len(parsed.payload["_sd"]) == 4 + 3  # given, family, birthdate, blood_type + 3
    presentation = present(parsed, disclose=[("given_name",)])
    verified = await verify_sd_jwt(
        presentation, issuer_key_resolver=resolver, now=NOW, require_key_binding=False
    )
    assert verified.payload["given_name"] == "Erika"


@pytest.mark.parametrize("sd_alg", ["sha-384", "sha-512"])
async def test_other_digest_algorithms(
    parties: Parties, resolver: DIDResolver, sd_alg: str
) -> None:
    holder = parties.holder_ed25519
    issued = _issue(parties, holder, sd_alg=sd_alg)
    presentation = present(
        issued,
        disclose=[("birthdate",)],
        holder_signer=holder.signer,
        nonce=NONCE,
        aud=AUD,
        iat=NOW,
    )
    verified = await verify_sd_jwt(
        presentation, issuer_key_resolver=resolver, now=NOW, expected_aud=AUD, expected_nonce=NONCE
    )
    assert verified.payload["birthdate"] == "1963-08-12"


def test_salts_are_random_and_at_least_128_bits(parties: Parties) -> None:
    first = parse_sd_jwt(_issue(parties, parties.holder_ed25519))
    second = parse_sd_jwt(_issue(parties, parties.holder_ed25519))
    salts = [d.salt for d in (*first.disclosures, *second.disclosures)]
    assert len(set(salts)) == len(salts)
    assert all(len(salt) >= 22 for salt in salts)
    with pytest.raises(InvalidInputError):
        _issue(parties, parties.holder_ed25519, salt=lambda: b"short")


@pytest.mark.parametrize(
    ("claims", "overrides", "fragment"),
    [
        ({"iss": "x"}, {}, "set by keyword"),
        ({"a": {"_sd": []}}, {}, "reserved"),
        ({"a": [{"...": "x"}]}, {}, "reserved"),
        ({"a": 1}, {"disclosable": [("b",)]}, "names no claim"),
        ({"a": [1]}, {"disclosable": [("a", 1)]}, "names no claim"),
        ({"a": 1}, {"disclosable": ["a"]}, "JSON Pointer"),
        ({"a": 1}, {"disclosable": [()]}, "non-empty"),
        ({"status": {"idx": 1}}, {"disclosable": [("status",)]}, "forbids"),
        ({"a": 1}, {"vct": None}, "needs a vct"),
        ({"a": float("nan")}, {"disclosable": [("a",)]}, "not JSON"),
        ({"a": object()}, {"disclosable": [("a",)]}, "not JSON"),
        ({"a": 1}, {"decoys": -1}, "decoys"),
    ],
)
def test_issuer_refuses_bad_input(
    parties: Parties, claims: dict[str, Any], overrides: dict[str, Any], fragment: str
) -> None:
    arguments: dict[str, Any] = {"iss": parties.issuer.did, "iat": NOW, "vct": VCT}
    arguments.update(overrides)
    with pytest.raises(InvalidInputError) as caught:
        issue_sd_jwt(claims, parties.issuer.signer, **arguments)
    assert fragment in caught.value.message


def test_issuer_refuses_private_or_unusable_holder_keys(parties: Parties) -> None:
    for jwk, code in [
        ({**parties.holder_p256.jwk, "d": "AAAA"}, ErrorCode.MALFORMED_PROOF_ERROR),
        ({"kty": "OKP", "crv": "X25519", "x": "AAAA"}, ErrorCode.UNSUPPORTED_CRYPTOSUITE),
    ]:
        with pytest.raises(CryptosuiteError) as caught:
            issue_sd_jwt({}, parties.issuer.signer, iss="x", iat=NOW, vct=VCT, holder_jwk=jwk)
        assert caught.value.code is code
    with pytest.raises(CryptosuiteError) as caught:
        issue_sd_jwt({}, parties.issuer.signer, iss="x", iat=NOW, vct=VCT, sd_alg="md5")
    assert caught.value.code is ErrorCode.UNSUPPORTED_CRYPTOSUITE


def test_holder_refuses_kb_input_and_half_key_binding(parties: Parties) -> None:
    holder = parties.holder_ed25519
    issued = _issue(parties, holder)
    presentation = present(
        issued, disclose=[], holder_signer=holder.signer, nonce=NONCE, aud=AUD, iat=NOW
    )
    with pytest.raises(InvalidInputError, match="SD-JWT\\+KB"):
        present(presentation, disclose=[])
    with pytest.raises(InvalidInputError, match="holder_signer"):
        present(issued, disclose=[], nonce=NONCE)
    with pytest.raises(InvalidInputError, match="nonce"):
        present(issued, disclose=[], holder_signer=holder.signer, aud=AUD, iat=NOW)


async def test_kid_must_belong_to_iss_with_a_key_resolver(
    parties: Parties, resolver: DIDResolver
) -> None:
    issued = _issue(parties, parties.holder_ed25519, iss=parties.other_holder.did)
    with pytest.raises(ProofError) as caught:
        await verify_sd_jwt(
            issued, issuer_key_resolver=resolver, now=NOW, require_key_binding=False
        )
    assert caught.value.code is ErrorCode.PROOF_VERIFICATION_ERROR
    assert caught.value.details["reason"] == "issuerKeyMismatch"
    issued = _issue(parties, parties.holder_ed25519, kid="https://not-a-did.example/key")
    with pytest.raises(CryptosuiteError) as caught_kid:
        await verify_sd_jwt(
            issued, issuer_key_resolver=resolver, now=NOW, require_key_binding=False
        )
    assert caught_kid.value.details["reason"] == "kidNotDidUrl"


async def test_relative_kid_is_resolved_against_iss(
    parties: Parties, resolver: DIDResolver
) -> None:
    fragment = parties.issuer.signer.verification_method.partition("#")[2]
    issued = _issue(parties, parties.holder_ed25519, kid=f"#{fragment}")
    verified = await verify_sd_jwt(
        issued, issuer_key_resolver=resolver, now=NOW, require_key_binding=False
    )
    assert verified.header["kid"] == f"#{fragment}"


async def test_application_prefixed_typ_and_custom_types(
    parties: Parties, resolver: DIDResolver
) -> None:
    issued = _issue(parties, parties.holder_ed25519, typ="application/dc+sd-jwt")
    await verify_sd_jwt(issued, issuer_key_resolver=resolver, now=NOW, require_key_binding=False)
    issued = _issue(parties, parties.holder_ed25519, typ="example+sd-jwt", vct=None)
    with pytest.raises(CryptosuiteError) as caught:
        await verify_sd_jwt(
            issued, issuer_key_resolver=resolver, now=NOW, require_key_binding=False
        )
    assert caught.value.details["reason"] == "wrongType"
    await verify_sd_jwt(
        issued,
        issuer_key_resolver=resolver,
        now=NOW,
        require_key_binding=False,
        accepted_types={"example+sd-jwt"},
    )


async def test_verifier_refuses_bad_arguments(parties: Parties, resolver: DIDResolver) -> None:
    issued = _issue(parties, parties.holder_ed25519)
    for kwargs in [
        {"now": NOW.replace(tzinfo=None), "require_key_binding": False},
        {"now": NOW},  # Key Binding required without expected aud and nonce.
        {"now": NOW, "require_key_binding": False, "accepted_algorithms": {"none"}},
        {"now": NOW, "require_key_binding": False, "max_kb_age": timedelta(seconds=-1)},
    ]:
        with pytest.raises(InvalidInputError):
            await verify_sd_jwt(issued, issuer_key_resolver=resolver, **kwargs)
    with pytest.raises(InvalidInputError) as caught:
        await verify_sd_jwt(
            issued, issuer_key_resolver=resolver, now=NOW, require_key_binding=False, max_bytes=100
        )
    assert caught.value.code is ErrorCode.INPUT_TOO_LARGE


def test_parse_result_is_reusable_for_present(parties: Parties) -> None:
    parsed = parse_sd_jwt(_issue(parties, parties.holder_ed25519))
    assert isinstance(parsed, SdJwt)
    assert present(parsed, disclose=[("given_name",)]) == present(
        parsed.issuer_jwt + "~" + "".join(d.encoded + "~" for d in parsed.disclosures),
        disclose=[("given_name",)],
    )
