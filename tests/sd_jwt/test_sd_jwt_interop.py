"""Interop with the reference implementation, sd-jwt 0.10.4 (the ``sd_jwt`` package), both ways.

The reference verifier checks the KB-JWT with ES256 only (reference/packages.md section 7), so
the holder is P-256 when it verifies ours; our verifier takes its EdDSA and ES256 holders.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer
from sd_jwt.verifier import SDJWTVerifier

from agent.credentials.sd_jwt import issue_sd_jwt, present, verify_sd_jwt
from agent.dids.resolver import DIDResolver
from tests.sd_jwt.conftest import Parties
from tests.sd_jwt.helpers import JwkCallback

AUD = "https://verifier.example.org"
NONCE = "interop-nonce-1"
VCT = "https://health.example/credentials/immunization"
NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


async def test_reference_verifies_what_we_issue_and_present(
    parties: Parties, resolver: DIDResolver
) -> None:
    holder = parties.holder_p256
    issued = issue_sd_jwt(
        {
            "given_name": "Erika",
            "vaccinations": [{"code": "J07BX03", "date": "2021-05-01"}, {"code": "J07BB02"}],
            "address": {"locality": "Köln", "country": "DE"},
        },
        parties.issuer.signer,
        iss=parties.issuer.did,
        iat=NOW,
        exp=NOW + timedelta(days=30),
        disclosable=[
            ("given_name",),
            ("vaccinations", None),
            ("address",),
            ("address", "locality"),
        ],
        holder_jwk=holder.jwk,
        vct=VCT,
        decoys=2,
    )
    presentation = present(
        issued,
        disclose=[("vaccinations", 1), ("address", "locality")],
        holder_signer=holder.signer,
        nonce=NONCE,
        aud=AUD,
        iat=NOW,
    )
    ours = await verify_sd_jwt(
        presentation,
        issuer_key_resolver=resolver,
        now=NOW,
        expected_aud=AUD,
        expected_nonce=NONCE,
    )
    issuer_jwk = JWK.from_json(json.dumps(parties.issuer.jwk))

    def issuer_key(iss: str, header: dict[str, Any]) -> JWK:
        assert iss == parties.issuer.did
        return issuer_jwk

    theirs = SDJWTVerifier(
        presentation, issuer_key, expected_aud=AUD, expected_nonce=NONCE
    ).get_verified_payload()
    assert theirs == ours.payload
    assert theirs["vaccinations"] == [{"code": "J07BB02"}]
    assert theirs["address"] == {"locality": "Köln", "country": "DE"}


@pytest.mark.parametrize("holder_alg", ["ES256", "EdDSA"])
@pytest.mark.parametrize("issuer_alg", ["ES256", "EdDSA"])
async def test_we_verify_what_the_reference_issues_and_presents(
    issuer_alg: str, holder_alg: str
) -> None:
    issuer_key = (
        JWK.generate(kty="EC", crv="P-256")
        if issuer_alg == "ES256"
        else JWK.generate(kty="OKP", crv="Ed25519")
    )
    holder_key = (
        JWK.generate(kty="EC", crv="P-256")
        if holder_alg == "ES256"
        else JWK.generate(kty="OKP", crv="Ed25519")
    )
    now = datetime.now(UTC)  # The reference lib reads the clock for the KB-JWT's iat.
    claims = {
        "iss": "https://hospital.example",
        "iat": int(now.timestamp()) - 60,
        "exp": int(now.timestamp()) + 3600,
        "vct": VCT,
        SDObj("given_name"): "Erika",
        SDObj("allergies"): [SDObj("penicillin"), SDObj("peanut"), "latex"],
        SDObj("blood"): {SDObj("abo"): "A", "rh": "+"},
    }
    issuance = SDJWTIssuer(
        claims,
        issuer_key,
        holder_key=holder_key,
        sign_alg=issuer_alg,
        add_decoy_claims=True,
        extra_header_parameters={"typ": "dc+sd-jwt"},
    ).sd_jwt_issuance
    holder = SDJWTHolder(issuance)
    holder.create_presentation(
        {"allergies": [False, True], "blood": {"abo": True}},
        nonce=NONCE,
        aud=AUD,
        holder_key=holder_key,
        sign_alg=holder_alg,
    )
    verified = await verify_sd_jwt(
        holder.sd_jwt_presentation,
        issuer_key_resolver=JwkCallback(
            "https://hospital.example", issuer_key.export_public(as_dict=True)
        ),
        now=now,
        expected_aud=AUD,
        expected_nonce=NONCE,
    )
    assert verified.payload["allergies"] == ["peanut", "latex"]
    assert verified.payload["blood"] == {"abo": "A", "rh": "+"}
    assert "given_name" not in verified.payload
    assert verified.key_binding is not None
    assert verified.key_binding.algorithm == holder_alg
