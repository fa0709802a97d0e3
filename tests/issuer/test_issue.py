"""W3C and SD-JWT VC credentials from every template; the emergency card fits one QR code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.credentials import check_terms, validate_credential
from agent.credentials.sd_jwt import parse_sd_jwt, present, verify_sd_jwt
from agent.keys.multikey import KeyType, encode_multikey
from issuer.fhir import read_fhir_input
from issuer.issue import issue_credential, record_credential, sd_jwt_credential, w3c_credential
from issuer.templates import (
    CredentialKind,
    RecordClaims,
    claim_evidence,
    emergency_summary,
    records_from_bundle,
)
from tests.issuer.conftest import IPS, IPS_BUNDLES, SAMPLES, SHC, load
from tests.sd_jwt.helpers import JwkCallback, KeySigner

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
HOSPITAL = "did:web:hospital.example"
CITIZEN = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
STATUS = {"status_list": {"idx": 123456, "uri": "https://hospital.example/status/1"}}
#: SMART Health Cards' single-QR limit (version 22 at error correction L, numeric mode).
QR_LIMIT = 1195


def _every_kind() -> list[RecordClaims]:
    found: dict[CredentialKind, RecordClaims] = {}
    for path in [IPS / "bundle-minimal.json", *IPS_BUNDLES, SHC / "example-02-a-fhirBundle.json"]:
        parsed = read_fhir_input(load(path))
        for claims in records_from_bundle(parsed.resources, parsed.index):
            found.setdefault(claims.kind, claims)
    emergency = read_fhir_input(load(SAMPLES / "ips-emergency-bundle.json"))
    found[CredentialKind.EMERGENCY_SUMMARY] = emergency_summary(
        emergency.resources, index=emergency.index
    )
    discharge = read_fhir_input(load(SAMPLES / "discharge-bundle.json"))
    found[CredentialKind.CLAIM_EVIDENCE] = claim_evidence(discharge.resources, discharge.index)
    assert set(found) == set(CredentialKind)
    return [found[kind] for kind in CredentialKind]


KINDS = _every_kind()


@pytest.mark.parametrize("claims", KINDS, ids=lambda c: str(c.kind))
def test_w3c_credential_validates_and_every_term_is_defined(claims: RecordClaims) -> None:
    credential = w3c_credential(
        claims,
        issuer=HOSPITAL,
        subject_did=CITIZEN,
        valid_from=NOW,
        valid_until=NOW + timedelta(days=365),
    )
    assert credential["type"] == ["VerifiableCredential", str(claims.kind)]
    assert credential["credentialSubject"]["id"] == CITIZEN
    assert credential["name"] == claims.name
    validate_credential(credential)
    check_terms(credential, strict=True)
    signer = KeySigner.generate()
    signed = issue_credential(credential, signer, created=NOW)
    assert signed["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    signed_rdfc = issue_credential(credential, signer, cryptosuite="eddsa-rdfc-2022", created=NOW)
    assert signed_rdfc["proof"]["cryptosuite"] == "eddsa-rdfc-2022"


def test_w3c_credential_with_status_and_id() -> None:
    status = [
        {
            "id": "https://hospital.example/status/1#94567",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": "94567",
            "statusListCredential": "https://hospital.example/status/1",
        }
    ]
    credential = w3c_credential(
        KINDS[0],
        issuer={"id": HOSPITAL, "name": "St. Example"},
        subject_did=CITIZEN,
        credential_id="urn:uuid:7f7e3f0a-4bd5-4c4c-9a0f-2a3c1f0b9e11",
        valid_from=NOW,
        status=status,
    )
    assert credential["credentialStatus"] == status
    assert credential["id"] == "urn:uuid:7f7e3f0a-4bd5-4c4c-9a0f-2a3c1f0b9e11"


def test_record_credential_still_works() -> None:
    allergy = load(IPS / "bundle-minimal.json")["entry"][7]["resource"]
    credential = record_credential(allergy, issuer=HOSPITAL, subject=CITIZEN, valid_from=NOW)
    assert credential["credentialSubject"]["fhirResource"] == allergy


def _signers() -> tuple[KeySigner, KeySigner]:
    issuer = KeySigner.generate(verification_method=f"{HOSPITAL}#key-1")
    return issuer, KeySigner.generate()


@pytest.mark.parametrize("claims", KINDS, ids=lambda c: str(c.kind))
async def test_sd_jwt_round_trip(claims: RecordClaims) -> None:
    issuer, holder = _signers()
    token = sd_jwt_credential(
        claims,
        signer=issuer,
        issuer=HOSPITAL,
        holder_jwk=holder.public_jwk,
        iat=NOW,
        exp=NOW + timedelta(days=365),
        status=STATUS,
        decoys=1,
    )
    parsed = parse_sd_jwt(token)
    assert parsed.header["typ"] == "dc+sd-jwt"
    assert parsed.payload["vct"] == claims.vct
    assert parsed.payload["status"] == STATUS
    assert parsed.claims == {
        "iss": HOSPITAL,
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + timedelta(days=365)).timestamp()),
        "vct": claims.vct,
        "cnf": {"jwk": holder.public_jwk},
        "status": STATUS,
        **claims.sd_claims,
    }
    # Nothing clinical is readable without its Disclosure.
    for name in {path[0] for path in claims.disclosable}:
        assert name not in parsed.payload or set(parsed.payload[name]) == {"_sd"}
    # Present one clinical field only, with Key Binding.
    chosen = claims.disclosable[1] if len(claims.disclosable) > 1 else claims.disclosable[0]
    presentation = present(
        token,
        disclose=[chosen],
        holder_signer=holder,
        nonce="n-42",
        aud="did:web:er.example",
        iat=NOW,
    )
    verified = await verify_sd_jwt(
        presentation,
        issuer_key_resolver=JwkCallback(HOSPITAL, issuer.public_jwk),
        now=NOW,
        expected_aud="did:web:er.example",
        expected_nonce="n-42",
    )
    value = verified.payload
    expected = claims.sd_claims
    for segment in chosen:
        value, expected = value[segment], expected[segment]  # type: ignore[index]
    assert value == expected
    assert verified.key_binding is not None
    # Only the chosen claim (and the containers it needs) were revealed.
    assert all(tuple(chosen[: len(p)]) == p for p in verified.disclosed_paths)


def _emergency_qr(path: Path, issuer_did: str, signer: KeySigner) -> str:
    parsed = read_fhir_input(load(path))
    claims = emergency_summary(parsed.resources, index=parsed.index)
    token = sd_jwt_credential(
        claims,
        signer=signer,
        issuer=issuer_did,
        holder_jwk=None,  # Shown offline without Key Binding: no holder key on the card.
        iat=NOW,
        status=STATUS,
    )
    # The wallet's presentation: every emergency field disclosed, no KB-JWT.
    return present(token, disclose=list(claims.disclosable))


@pytest.mark.parametrize("path", IPS_BUNDLES, ids=lambda p: p.name)
async def test_emergency_sd_jwt_fits_one_qr_code(path: Path) -> None:
    signer = KeySigner.generate(verification_method=f"{HOSPITAL}#key-1")
    qr = _emergency_qr(path, HOSPITAL, signer)
    print(f"emergency SD-JWT {path.name}: {len(qr)} characters")
    assert qr.endswith("~")
    assert len(qr) <= QR_LIMIT
    verified = await verify_sd_jwt(
        qr,
        issuer_key_resolver=JwkCallback(HOSPITAL, signer.public_jwk),
        now=NOW,
        require_key_binding=False,
    )
    parsed = read_fhir_input(load(path))
    expected = emergency_summary(parsed.resources, index=parsed.index).sd_claims
    assert {k: verified.payload[k] for k in expected} == expected


def test_emergency_sd_jwt_sizes_are_reported() -> None:
    """The budget, measured: a did:key issuer and a full six-section summary do not fit."""
    signer = KeySigner.generate()
    multikey = encode_multikey(KeyType.ED25519_PUB, bytes(signer.key.get_public_bytes()))
    did_key = f"did:key:{multikey}"
    signer.verification_method = f"{did_key}#{multikey}"
    full = _emergency_qr(SAMPLES / "ips-emergency-bundle.json", HOSPITAL, _signers()[0])
    minimal_did_key = _emergency_qr(IPS / "bundle-minimal.json", did_key, signer)
    print(f"six sections, did:web: {len(full)}; IPS minimal, did:key: {len(minimal_did_key)}")
    assert len(full) > QR_LIMIT
    assert len(minimal_did_key) > QR_LIMIT
