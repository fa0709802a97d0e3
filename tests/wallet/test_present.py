"""DCQL planning picks the minimum; the verifier side accepts what the wallet presents."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from agent.credentials.sd_jwt import verify_sd_jwt
from agent.dids import DIDResolver
from agent.errors import ErrorCode
from tests.wallet.conftest import Hospital, allergy_claims, condition_claims
from verifier.verify import verify_presentation
from wallet import (
    PresentationQueryError,
    Recipient,
    Wallet,
    parse_dcql,
    plan_presentation,
    present,
)

ALLERGY_VCT = "https://w3id.org/health-mydata/vct/AllergyIntolerance/v1"
ER = Recipient("did:web:er.example", "City Hospital Emergency Department")
TWO_FIELDS = {
    "credentials": [
        {
            "id": "allergy",
            "format": "dc+sd-jwt",
            "meta": {"vct_values": [ALLERGY_VCT]},
            "claims": [
                {"path": ["allergy", "code"]},
                {"path": ["allergy", "criticality"]},
            ],
        }
    ]
}


async def _sd_allergy(wallet: Wallet, hospital: Hospital, now: datetime) -> str:
    token = hospital.sd_jwt(allergy_claims(), await wallet.holder_jwk(), iat=now)
    return (await wallet.add_credential(token)).id


async def test_sd_jwt_two_of_n_fields(wallet: Wallet, hospital: Hospital, now: datetime) -> None:
    credential_id = await _sd_allergy(wallet, hospital, now)
    await wallet.add_credential(
        hospital.sd_jwt(condition_claims(), await wallet.holder_jwk(), iat=now)
    )
    plan = await plan_presentation(wallet, TWO_FIELDS, verifier=ER, purpose="emergency care")
    assert [item.credential.id for item in plan.items] == [credential_id]
    item = plan.items[0]
    assert item.requested == ("/allergy/code", "/allergy/criticality")
    assert item.disclosed == ("/allergy/code", "/allergy/criticality")
    assert set(item.shown["allergy"]) == {"code", "criticality"}
    assert "/cnf" in item.always_shown
    assert "/allergy" not in item.always_shown
    text = "\n".join(plan.describe())
    assert "City Hospital Emergency Department" in text
    assert "emergency care" in text

    presentation = await present(wallet, plan, nonce="n-123", audience=ER.id)
    [sd_jwt] = presentation.vp_token["allergy"]
    assert isinstance(sd_jwt, str)
    verified = await verify_sd_jwt(
        sd_jwt,
        issuer_key_resolver=DIDResolver(),
        now=now + timedelta(seconds=1),
        expected_aud=ER.id,
        expected_nonce="n-123",
    )
    assert verified.key_binding is not None
    assert verified.disclosed_paths == (("allergy", "code"), ("allergy", "criticality"))
    assert verified.payload["allergy"] == {
        "code": allergy_claims().sd_claims["allergy"]["code"],
        "criticality": "high",
    }
    for wrong in ({"expected_nonce": "other"}, {"expected_aud": "did:web:other.example"}):
        arguments: dict[str, Any] = {"expected_aud": ER.id, "expected_nonce": "n-123", **wrong}
        with pytest.raises(Exception, match=r"nonce|aud|domain|challenge"):
            await verify_sd_jwt(sd_jwt, issuer_key_resolver=DIDResolver(), now=now, **arguments)


async def test_claim_sets_choose_the_smallest(
    wallet: Wallet, hospital: Hospital, now: datetime
) -> None:
    await _sd_allergy(wallet, hospital, now)
    query = {
        "credentials": [
            {
                "id": "a",
                "format": "dc+sd-jwt",
                "claims": [
                    {"id": "code", "path": ["allergy", "code"]},
                    {"id": "crit", "path": ["allergy", "criticality"]},
                    {"id": "status", "path": ["allergy", "clinicalStatus"]},
                    {"id": "missing", "path": ["allergy", "reactions"]},
                ],
                "claim_sets": [["code", "crit", "status"], ["missing"], ["code", "crit"]],
            }
        ]
    }
    plan = await plan_presentation(wallet, query, verifier=ER, purpose="p")
    assert plan.items[0].disclosed == ("/allergy/code", "/allergy/criticality")


async def test_values_filter_and_wildcards(
    wallet: Wallet, hospital: Hospital, now: datetime
) -> None:
    await _sd_allergy(wallet, hospital, now)

    def query(values: list[Any]) -> dict[str, Any]:
        return {
            "credentials": [
                {
                    "id": "a",
                    "format": "dc+sd-jwt",
                    "claims": [{"path": ["allergy", "criticality"], "values": values}],
                }
            ]
        }

    assert (await plan_presentation(wallet, query(["high"]), verifier=ER, purpose="p")).items
    with pytest.raises(PresentationQueryError) as caught:
        await plan_presentation(wallet, query(["low"]), verifier=ER, purpose="p")
    assert caught.value.code is ErrorCode.PRESENTATION_NO_MATCH
    wildcard = {
        "credentials": [
            {"id": "a", "format": "dc+sd-jwt", "claims": [{"path": ["allergy", "category", None]}]}
        ]
    }
    plan = await plan_presentation(wallet, wildcard, verifier=ER, purpose="p")
    assert plan.items[0].disclosed == ("/allergy/category", "/allergy/category/0")


async def test_credential_not_bound_to_this_wallet_does_not_match(
    wallet: Wallet, hospital: Hospital, now: datetime
) -> None:
    other = Wallet(wallet.store, profile=await wallet.store.create_profile("other"))
    await wallet.add_credential(hospital.sd_jwt(allergy_claims(), None, iat=now))  # no cnf
    await wallet.add_credential(
        hospital.sd_jwt(allergy_claims(), await other.holder_jwk(), iat=now)  # another key
    )
    with pytest.raises(PresentationQueryError):
        await plan_presentation(wallet, TWO_FIELDS, verifier=ER, purpose="p")


async def test_w3c_presentation_verifies_with_holder_binding(
    wallet: Wallet, hospital: Hospital, now: datetime
) -> None:
    holder = await wallet.holder_did()
    credential = hospital.w3c(allergy_claims(), holder, valid_from=now - timedelta(minutes=1))
    await wallet.add_credential(credential)
    query = {
        "credentials": [
            {
                "id": "allergy",
                "format": "ldp_vc",
                "meta": {"type_values": [["VerifiableCredential", "AllergyIntoleranceCredential"]]},
                "claims": [{"path": ["credentialSubject", "fhirResource", "criticality"]}],
            }
        ]
    }
    plan = await plan_presentation(wallet, query, verifier=ER, purpose="emergency care")
    assert plan.items[0].whole_credential
    assert "the whole credential" in "\n".join(plan.describe())
    presentation = await present(wallet, plan, nonce="c-1", audience=ER.id)
    [vp] = presentation.vp_token["allergy"]
    assert isinstance(vp, dict)
    assert vp["holder"] == holder
    report = await verify_presentation(
        vp, resolver=DIDResolver(), challenge="c-1", domain=ER.id, now=now + timedelta(seconds=1)
    )
    assert report.verified, report
    assert {r.check.value for r in report.results} >= {"holder", "challenge", "proof"}
    wrong = await verify_presentation(
        vp, resolver=DIDResolver(), challenge="c-2", domain=ER.id, now=now
    )
    assert not wrong.verified


async def test_w3c_about_someone_else_does_not_match(
    wallet: Wallet, hospital: Hospital, now: datetime
) -> None:
    credential = hospital.w3c(allergy_claims(), hospital.did, valid_from=now)
    await wallet.add_credential(credential)
    query = {"credentials": [{"id": "a", "format": "ldp_vc"}]}
    with pytest.raises(PresentationQueryError):
        await plan_presentation(wallet, query, verifier=ER, purpose="p")


async def test_credential_sets(wallet: Wallet, hospital: Hospital, now: datetime) -> None:
    await _sd_allergy(wallet, hospital, now)
    query = {
        "credentials": [
            {"id": "allergy", "format": "dc+sd-jwt", "meta": {"vct_values": [ALLERGY_VCT]}},
            {"id": "w3c", "format": "ldp_vc"},
        ],
        "credential_sets": [
            {"options": [["w3c"], ["allergy"]]},
            {"options": [["w3c"]], "required": False},
        ],
    }
    plan = await plan_presentation(wallet, query, verifier=ER, purpose="p")
    assert [i.query_id for i in plan.items] == ["allergy"]
    assert plan.items[0].disclosed == ()  # no claim asked: only what is always shown


@pytest.mark.parametrize(
    "query",
    [
        None,
        {},
        {"credentials": []},
        {"credentials": [{"id": "a", "format": "mso_mdoc"}]},
        {"credentials": [{"id": "a b", "format": "dc+sd-jwt"}]},
        {"credentials": [{"id": "a", "format": "dc+sd-jwt", "claims": [{"path": []}]}]},
        {"credentials": [{"id": "a", "format": "dc+sd-jwt", "claims": [{"path": [-1]}]}]},
        {"credentials": [{"id": "a", "format": "dc+sd-jwt", "trusted_authorities": []}]},
        {"credentials": [{"id": "a", "format": "dc+sd-jwt"}, {"id": "a", "format": "ldp_vc"}]},
        {
            "credentials": [
                {
                    "id": "a",
                    "format": "dc+sd-jwt",
                    "claims": [{"path": ["x"]}],
                    "claim_sets": [["x"]],
                }
            ]
        },
        {
            "credentials": [{"id": "a", "format": "dc+sd-jwt"}],
            "credential_sets": [{"options": [["b"]]}],
        },
        {"presentation_definition": {}},
    ],
)
def test_malformed_queries_are_refused(query: Any) -> None:
    with pytest.raises(PresentationQueryError) as caught:
        parse_dcql(query)
    assert caught.value.code is ErrorCode.PRESENTATION_QUERY_INVALID
