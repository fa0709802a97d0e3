"""The SD-JWT draft's own examples (tests/vectors/sd-jwt): digests, verification, issuance."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from agent.credentials.jose import b64url_encode
from agent.credentials.sd_jwt import (
    _decode_disclosures,
    _sha256,
    issue_sd_jwt,
    parse_sd_jwt,
    present,
    verify_sd_jwt,
)
from agent.errors import ErrorCode, ProofError
from tests.sd_jwt.helpers import (
    EXAMPLE_AUD,
    EXAMPLE_KB_IAT,
    EXAMPLE_NONCE,
    EXAMPLES,
    SETTINGS,
    JwkCallback,
    KeySigner,
    all_disclosures,
    b64url_decode,
    section_items,
)

ISSUER_JWK = EXAMPLES["issuer_public_jwk"]
HOLDER_PRIVATE_JWK = SETTINGS["key_settings"]["holder_key"]
NOW = datetime.fromtimestamp(EXAMPLE_KB_IAT + 30, UTC)
PRESENTED = ["5.", "A.1.", "A.2.", "A.3.", "A.4."]


def _issuer(section: str) -> str | None:
    token = section_items(section, "token")[-1]["value"]
    return parse_sd_jwt(token).payload.get("iss")


def _expected_processed(section: str) -> dict[str, Any]:
    items = [i for i in section_items(section, "json") if "Processed" in i["context"]]
    return items[-1]["value"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("section", "item"),
    list(all_disclosures()),
    ids=[f"{section}line{item['txt_line']}" for section, item in all_disclosures()],
)
def test_our_digest_of_every_example_disclosure_matches(section: str, item: dict[str, Any]) -> None:
    by_digest = _decode_disclosures([item["disclosure"]], _sha256)
    assert list(by_digest) == [item["sha256"]]


@pytest.mark.parametrize("section", ["5.", "A.3.", "A.4."])
def test_parser_maps_issued_disclosures_to_the_example_digests(section: str) -> None:
    issued = next(t["value"] for t in section_items(section, "token") if t["value"].endswith("~"))
    expected = {i["disclosure"]: i["sha256"] for i in section_items(section, "disclosure")}
    parsed = parse_sd_jwt(issued)
    assert parsed.key_binding_jwt is None
    assert {d.encoded: d.digest for d in parsed.disclosures} == expected


@pytest.mark.parametrize("section", PRESENTED)
async def test_example_presentation_verifies_to_the_expected_payload(section: str) -> None:
    presentation = section_items(section, "token")[-1]["value"]
    has_kb = not presentation.endswith("~")
    callback = JwkCallback(_issuer(section), ISSUER_JWK)
    typ = parse_sd_jwt(presentation).header["typ"]
    verified = await verify_sd_jwt(
        presentation,
        issuer_key_resolver=callback,
        now=NOW,
        expected_aud=EXAMPLE_AUD,
        expected_nonce=EXAMPLE_NONCE,
        require_key_binding=has_kb,
        accepted_types={typ},
    )
    assert verified.payload == _expected_processed(section)
    assert callback.calls == [(callback.iss, {"alg": "ES256", "typ": typ})]
    if has_kb:
        # A.4 shows no KB-JWT payload; its KB-JWT uses the same values as the others.
        kb_payload = next(
            (i["value"] for i in section_items(section, "json") if "sd_hash" in i["value"]),
            {"aud": EXAMPLE_AUD, "nonce": EXAMPLE_NONCE, "iat": EXAMPLE_KB_IAT},
        )
        assert verified.key_binding is not None
        assert (verified.key_binding.aud, verified.key_binding.nonce, verified.key_binding.iat) == (
            kb_payload["aud"],
            kb_payload["nonce"],
            kb_payload["iat"],
        )
        assert verified.holder_jwk == {
            name: HOLDER_PRIVATE_JWK[name] for name in ("kty", "crv", "x", "y")
        }


async def test_a3_sd_jwt_vc_presentation_reveals_only_nationality_and_age() -> None:
    presentation = section_items("A.3.", "token")[-1]["value"]
    verified = await verify_sd_jwt(
        presentation,
        issuer_key_resolver=JwkCallback("https://pid-issuer.bund.de.example", ISSUER_JWK),
        now=NOW,
        expected_aud=EXAMPLE_AUD,
        expected_nonce=EXAMPLE_NONCE,
    )
    assert verified.header["typ"] == "dc+sd-jwt"
    assert verified.payload["vct"] == "urn:eudi:pid:de:1"
    assert set(verified.disclosed_paths) == {
        ("nationalities",),
        ("age_equal_or_over",),
        ("age_equal_or_over", "18"),
    }


@pytest.mark.parametrize("section", ["5.", "A.3.", "A.4."])
async def test_example_issued_sd_jwt_verifies_with_every_disclosure(section: str) -> None:
    issued = next(t["value"] for t in section_items(section, "token") if t["value"].endswith("~"))
    parsed = parse_sd_jwt(issued)
    verified = await verify_sd_jwt(
        issued,
        issuer_key_resolver=JwkCallback(parsed.payload.get("iss"), ISSUER_JWK),
        now=NOW,
        require_key_binding=False,
        accepted_types={parsed.header["typ"]},
    )
    assert verified.payload == parsed.claims
    assert len(verified.disclosed_paths) == len(parsed.disclosures)


async def test_example_kb_jwt_is_bound_to_its_nonce() -> None:
    presentation = section_items("5.", "token")[-1]["value"]
    with pytest.raises(ProofError) as caught:
        await verify_sd_jwt(
            presentation,
            issuer_key_resolver=JwkCallback("https://issuer.example.com", ISSUER_JWK),
            now=NOW,
            expected_aud=EXAMPLE_AUD,
            expected_nonce="another nonce",
            accepted_types={"example+sd-jwt"},
        )
    assert caught.value.code is ErrorCode.INVALID_CHALLENGE_ERROR


def _salts(section: str) -> list[bytes]:
    salts = []
    for item in section_items(section, "disclosure"):
        content = b64url_decode(item["disclosure"]).decode()
        salt = content.split('"')[1]
        assert b64url_encode(b64url_decode(salt)) == salt
        salts.append(b64url_decode(salt))
    return salts


# Section 5: every claim but sub is hidden, address as a whole, nationalities per element.
SECTION_5_HIDDEN = [
    ("given_name",),
    ("family_name",),
    ("email",),
    ("phone_number",),
    ("phone_number_verified",),
    ("address",),
    ("birthdate",),
    ("updated_at",),
    ("nationalities", None),
]
# A.3: everything but the SD-JWT VC claims, with address, place_of_birth and
# age_equal_or_over hidden member by member as well (recursive disclosures).
A3_HIDDEN = [
    ("given_name",),
    ("family_name",),
    ("birthdate",),
    ("address", None),
    ("address",),
    ("nationalities",),
    ("sex",),
    ("birth_family_name",),
    ("place_of_birth", None),
    ("place_of_birth",),
    ("age_equal_or_over", None),
    ("age_equal_or_over",),
    ("age_in_years",),
    ("age_birth_year",),
    ("issuance_date",),
    ("expiry_date",),
    ("issuing_authority",),
    ("issuing_country",),
]


@pytest.mark.parametrize(
    ("section", "hidden", "typ", "vct"),
    [
        ("5.", SECTION_5_HIDDEN, "example+sd-jwt", None),
        ("A.3.", A3_HIDDEN, "dc+sd-jwt", "urn:eudi:pid:de:1"),
    ],
    ids=["section5", "A.3"],
)
async def test_issuer_reproduces_the_example_byte_for_byte(
    section: str, hidden: list[Any], typ: str, vct: str | None
) -> None:
    """With the example's salts our Disclosures and payload equal the draft's."""
    claims = dict(section_items(section, "json")[0]["value"])
    iss = claims.pop("iss", SETTINGS["identifiers"]["issuer"])
    claims.pop("vct", None)
    salts = iter(_salts(section))
    issuer = KeySigner.from_private_jwk(SETTINGS["key_settings"]["issuer_keys"][0])
    holder = KeySigner.from_private_jwk(HOLDER_PRIVATE_JWK)
    issued = issue_sd_jwt(
        claims,
        issuer,
        iss=iss,
        iat=datetime.fromtimestamp(SETTINGS["iat"], UTC),
        exp=datetime.fromtimestamp(SETTINGS["exp"], UTC),
        disclosable=[tuple(path) for path in hidden],
        holder_jwk=holder.public_jwk,
        vct=vct,
        typ=typ,
        salt=lambda: next(salts),
    )
    parsed = parse_sd_jwt(issued)
    assert [d.encoded for d in parsed.disclosures] == [
        i["disclosure"] for i in section_items(section, "disclosure")
    ]
    expected_payload = next(
        i["value"] for i in section_items(section, "json") if "_sd" in i["value"]
    )
    assert parsed.payload == expected_payload
    assert parsed.header == {"alg": "ES256", "typ": typ, "kid": issuer.verification_method}

    # And the holder's presentation of it verifies with the example keys.
    presentation = present(
        issued,
        disclose=[("family_name",), ("nationalities",)],
        holder_signer=holder,
        nonce=EXAMPLE_NONCE,
        aud=EXAMPLE_AUD,
        iat=NOW,
    )
    verified = await verify_sd_jwt(
        presentation,
        issuer_key_resolver=JwkCallback(iss, ISSUER_JWK),
        now=NOW,
        expected_aud=EXAMPLE_AUD,
        expected_nonce=EXAMPLE_NONCE,
        accepted_types={typ},
    )
    assert verified.payload["family_name"] == claims["family_name"]
    assert verified.payload["nationalities"] == claims["nationalities"]
    assert "given_name" not in verified.payload
