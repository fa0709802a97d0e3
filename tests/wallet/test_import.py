"""Import of the three formats, verified on the way in and kept exactly as received."""

from __future__ import annotations

import json
from datetime import datetime

import httpx
import pytest

from agent.errors import ErrorCode, SignatureError
from agent.storage import generate_raw_key
from tests.wallet.conftest import SHC, Hospital, allergy_claims, shc_jwks, shc_text
from wallet import (
    CredentialFormat,
    CredentialImportError,
    CredentialNotFoundError,
    DuplicateCredentialError,
    Wallet,
    open_wallet,
)
from wallet.shc import decode_numeric, decode_shc_jws

EXAMPLES = ["00", "01", "02", "03"]


def _qr(example: str) -> list[str]:
    return [p.read_text("utf-8").strip() for p in sorted(SHC.glob(f"example-{example}-f-*.txt"))]


@pytest.mark.parametrize("example", EXAMPLES)
def test_shc_forms_decode_to_the_same_jws(example: str) -> None:
    jws = shc_text(f"example-{example}-d-jws.txt")
    file = json.loads(shc_text(f"example-{example}-e-file.smart-health-card"))
    assert file["verifiableCredential"] == [jws]
    assert decode_numeric(list(reversed(_qr(example)))) == jws  # chunk order does not matter
    card = decode_shc_jws(jws)
    assert card.payload["iss"] == "https://spec.smarthealth.cards/examples/issuer"


@pytest.mark.parametrize("form", ["jws", "file", "file-text", "qr"])
@pytest.mark.parametrize("example", EXAMPLES)
async def test_shc_import_verifies_against_the_issuer_jwks(
    wallet: Wallet, example: str, form: str
) -> None:
    if form == "jws":
        item: object = shc_text(f"example-{example}-d-jws.txt")
    elif form == "file":
        item = json.loads(shc_text(f"example-{example}-e-file.smart-health-card"))
    elif form == "file-text":
        item = shc_text(f"example-{example}-e-file.smart-health-card").encode()
    else:
        chunks = _qr(example)
        item = chunks if len(chunks) > 1 else chunks[0]
    stored = await wallet.add_credential(item, jwks=shc_jwks())  # type: ignore[arg-type]
    assert stored.format is CredentialFormat.SMART_HEALTH_CARD
    assert stored.issuer == "https://spec.smarthealth.cards/examples/issuer"
    assert "https://smarthealth.cards#health-card" in stored.types
    assert stored.issued is not None
    assert stored.issued.year == 2023
    assert stored.codes  # FHIR codings of the bundle (CVX, LOINC, ...)
    kept = await wallet.content(stored.id)
    if isinstance(item, bytes):
        assert kept == json.loads(item)
    elif isinstance(item, list):
        assert kept == "\n".join(item)
    else:
        assert kept == item


async def test_shc_kept_exactly_as_received(wallet: Wallet) -> None:
    text = shc_text("example-00-f-qr-code-numeric-value-0.txt")
    stored = await wallet.add_credential(text, jwks=shc_jwks())
    assert await wallet.content(stored.id) == text


def _tamper_payload(jws: str) -> str:
    header, payload, signature = jws.split(".")
    index = len(payload) // 2
    swapped = "A" if payload[index] != "A" else "B"
    return f"{header}.{payload[:index]}{swapped}{payload[index + 1 :]}.{signature}"


async def test_tampered_shc_is_refused(wallet: Wallet) -> None:
    jws = shc_text("example-00-d-jws.txt")
    with pytest.raises((SignatureError, CredentialImportError)):
        await wallet.add_credential(_tamper_payload(jws), jwks=shc_jwks())
    header, payload, signature = jws.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    with pytest.raises(SignatureError) as caught:
        await wallet.add_credential(f"{header}.{payload}.{flipped}", jwks=shc_jwks())
    assert caught.value.code is ErrorCode.PROOF_VERIFICATION_ERROR
    assert await wallet.list() == []


async def test_shc_with_unknown_kid_is_refused(wallet: Wallet) -> None:
    jwks = shc_jwks()
    jwks["keys"] = [k for k in jwks["keys"] if k["kid"].startswith("EBK")]
    with pytest.raises(CredentialImportError) as caught:
        await wallet.add_credential(shc_text("example-00-d-jws.txt"), jwks=jwks)
    assert caught.value.code is ErrorCode.WALLET_ISSUER_KEY_NOT_FOUND


async def test_shc_jwks_fetched_from_the_issuer(tmp_path: object) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json=shc_jwks())

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        opened = await open_wallet(
            f"{tmp_path}/w.db", raw_key=generate_raw_key(), http_client=client
        )
        try:
            await opened.add_credential(shc_text("example-01-d-jws.txt"))
        finally:
            await opened.close()
    assert seen == ["https://spec.smarthealth.cards/examples/issuer/.well-known/jwks.json"]


async def test_shc_without_keys_or_client_is_refused(wallet: Wallet) -> None:
    with pytest.raises(CredentialImportError) as caught:
        await wallet.add_credential(shc_text("example-00-d-jws.txt"))
    assert caught.value.code is ErrorCode.WALLET_ISSUER_KEY_NOT_FOUND


async def test_w3c_and_sd_jwt_import(wallet: Wallet, hospital: Hospital, now: datetime) -> None:
    holder = await wallet.holder_did()
    w3c = hospital.w3c(allergy_claims(), holder, valid_from=now)
    stored = await wallet.add_credential(w3c)
    assert stored.format is CredentialFormat.W3C_VC
    assert stored.id == w3c["id"]
    assert "AllergyIntoleranceCredential" in stored.types
    assert stored.issuer == hospital.did
    assert "http://snomed.info/sct|373270004" in stored.codes
    assert stored.summary.startswith("Allergy or intolerance")
    assert await wallet.content(stored.id) == w3c

    token = hospital.sd_jwt(allergy_claims(), await wallet.holder_jwk(), iat=now)
    sd = await wallet.add_credential(token)
    assert sd.format is CredentialFormat.SD_JWT_VC
    assert sd.types == ("https://w3id.org/health-mydata/vct/AllergyIntolerance/v1",)
    assert sd.id.startswith("urn:sha256:")
    assert "http://snomed.info/sct|373270004" in sd.codes  # found inside a Disclosure
    assert sd.issued == now
    assert await wallet.content(sd.id) == token  # every Disclosure kept
    assert [c.id for c in await wallet.list()] == [stored.id, sd.id]


async def test_tampered_w3c_is_refused(wallet: Wallet, hospital: Hospital, now: datetime) -> None:
    w3c = hospital.w3c(allergy_claims(), await wallet.holder_did(), valid_from=now)
    w3c["credentialSubject"]["fhirResource"]["criticality"] = "low"
    with pytest.raises(SignatureError):
        await wallet.add_credential(w3c)
    assert await wallet.list() == []


async def test_sd_jwt_presentation_is_not_a_credential(
    wallet: Wallet, hospital: Hospital, now: datetime
) -> None:
    from agent.credentials.sd_jwt import present

    token = hospital.sd_jwt(allergy_claims(), await wallet.holder_jwk(), iat=now)
    with_kb = present(
        token, disclose=[], holder_signer=await wallet.jwk_signer(), nonce="n", aud="a", iat=now
    )
    with pytest.raises(CredentialImportError):
        await wallet.add_credential(with_kb)


async def test_duplicates_are_refused(wallet: Wallet, hospital: Hospital, now: datetime) -> None:
    w3c = hospital.w3c(allergy_claims(), await wallet.holder_did(), valid_from=now)
    await wallet.add_credential(w3c)
    with pytest.raises(DuplicateCredentialError) as same:
        await wallet.add_credential(w3c)
    assert same.value.details["reason"] == "sameId"

    token = hospital.sd_jwt(allergy_claims(), await wallet.holder_jwk(), iat=now)
    await wallet.add_credential(token)
    # The same credential with its Disclosures in another order is the same credential.
    jwt, *disclosures, _ = token.split("~")
    reordered = "~".join([jwt, *reversed(disclosures), ""])
    with pytest.raises(DuplicateCredentialError):
        await wallet.add_credential(reordered)

    jws = shc_text("example-00-d-jws.txt")
    await wallet.add_credential(jws, jwks=shc_jwks())
    with pytest.raises(DuplicateCredentialError):
        await wallet.add_credential(
            json.loads(shc_text("example-00-e-file.smart-health-card")), jwks=shc_jwks()
        )
    assert len(await wallet.list()) == 3


async def test_get_remove_and_not_found(wallet: Wallet) -> None:
    stored = await wallet.add_credential(shc_text("example-00-d-jws.txt"), jwks=shc_jwks())
    assert await wallet.get(stored.id) == stored
    await wallet.remove(stored.id)
    for call in (wallet.get, wallet.content, wallet.remove):
        with pytest.raises(CredentialNotFoundError):
            await call(stored.id)


@pytest.mark.parametrize(
    "item",
    ["", "hello", {"foo": 1}, "{not json", b"\xff\xfe", "shc:/12"],
    ids=["empty", "text", "object", "bad-json", "not-utf8", "odd-digits"],
)
async def test_unsupported_input_is_refused(wallet: Wallet, item: object) -> None:
    with pytest.raises(CredentialImportError):
        await wallet.add_credential(item, jwks=shc_jwks())  # type: ignore[arg-type]


async def test_holder_keys_are_stable(wallet: Wallet) -> None:
    did = await wallet.holder_did()
    jwk = await wallet.holder_jwk()
    assert did.startswith("did:key:z6Mk")
    assert jwk["kty"] == "EC"
    assert jwk["crv"] == "P-256"
    again = Wallet(wallet.store)
    assert await again.holder_did() == did
    assert await again.holder_jwk() == jwk
