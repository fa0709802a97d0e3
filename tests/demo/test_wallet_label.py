"""The wallet's label for an SD-JWT VC does not depend on the order of its Disclosures, and a
summary is labelled by its sections.

An SD-JWT's disclosed claims come back in the order of their salted digests, so two issuances
of the same EmergencySummary list them in different orders; the label (`mydata wallet list`,
the consent screen of `mydata wallet requests`) must be the same for both."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.credentials.sd_jwt import parse_sd_jwt
from agent.dids import did_key_from_public
from agent.keys import AskarKeyStore, KeyType, decode_multikey
from agent.storage import generate_raw_key, open_store
from issuer.issue import sd_jwt_credential
from issuer.templates import emergency_summary, records_from_bundle
from wallet import Wallet, open_wallet
from wallet.holder import _LABELS, _label_detail, _shc_label, _stored_label
from wallet.search import META_CATEGORY

BUNDLE = Path(__file__).resolve().parents[2] / "mydata" / "samples" / "ips-emergency-bundle.json"
HOLDER_JWK = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
STATUS = {"status_list": {"idx": 7, "uri": "https://hospital.example/status-lists/1/token"}}


@pytest.fixture
async def wallet(tmp_path: Path) -> AsyncIterator[Wallet]:
    opened = await open_wallet(str(tmp_path / "wallet.db"), raw_key=generate_raw_key())
    yield opened
    await opened.close()


async def test_an_emergency_summarys_label_is_the_same_for_every_issuance(
    wallet: Wallet, tmp_path: Path
) -> None:
    bundle = json.loads(BUNDLE.read_text(encoding="utf-8"))
    claims = emergency_summary([entry["resource"] for entry in bundle["entry"]])
    store = await open_store(tmp_path / "hospital.db", raw_key=generate_raw_key())
    try:
        keys = AskarKeyStore(store)
        multikey = await keys.create_key(KeyType.ED25519_PUB)
        did = did_key_from_public(KeyType.ED25519_PUB, decode_multikey(multikey)[1])
        await keys.bind(
            multikey,
            did=did,
            verification_method=f"{did}#{multikey}",
            relationships=["assertionMethod"],
        )
        signer = await keys.signer(multikey)
        now = datetime.now(UTC).replace(microsecond=0)
        orders: set[tuple[str, ...]] = set()
        labels: set[str] = set()
        for i in range(8):
            # With the holder's key (cnf) and a status reference, as the hospital issues it:
            # members of the credential, not sections of the summary.
            text = sd_jwt_credential(
                claims,
                signer=signer,
                issuer=did,
                holder_jwk=HOLDER_JWK,
                iat=now - timedelta(hours=i),
                status=STATUS,
            )
            stored = await wallet.add_credential(text)
            labels.add(stored.summary)
            orders.add(tuple(parse_sd_jwt(text).claims))
    finally:
        await store.close()
    # The Disclosures did come back in different orders (else this test proves nothing) ...
    assert len(orders) > 1, orders
    # ... and the label is one, naming the summary's sections, not one entry of one of them
    # (the advance directive's "Cardiopulmonary resuscitation" read as the whole summary, and
    # said the opposite of a directive refusing it).
    [label] = labels
    sections = sorted(claims.sd_claims)
    assert len(sections) > 4, sections
    assert label == f"EmergencySummary: {', '.join(sections[:4])}, +{len(sections) - 4} more"
    assert "Cardiopulmonary" not in label


def test_a_single_record_is_labelled_by_its_first_display() -> None:
    condition = {"condition": {"code": {"display": "Appendicitis (disorder)"}, "onset": "2024"}}
    assert _label_detail(condition, sort_keys=True) == "Appendicitis (disorder)"
    assert _label_detail({"id": "did:example:1", **condition}) == "Appendicitis (disorder)"
    summary = {"id": "did:example:1", "allergies": [], "bloodType": {"text": "A+"}}
    assert _label_detail(summary) == "allergies, bloodType"


ROOT = Path(__file__).resolve().parents[2]
BUNDLES = [
    ROOT / "tests" / "vectors" / "fhir-ips" / "bundle-minimal.json",
    ROOT / "mydata" / "samples" / "discharge-bundle.json",
    BUNDLE,
]


@pytest.mark.parametrize("path", BUNDLES, ids=lambda path: path.name)
def test_a_record_has_the_same_label_in_both_formats_named_by_its_code(path: Path) -> None:
    """The W3C credential's subject (the FHIR resource, and the resources it refers to in
    ``fhirIncluded``) and the SD-JWT VC's claims name the same thing: what the record is about,
    not the first display found in it (a condition's severity, "Moderate")."""
    bundle = json.loads(path.read_text(encoding="utf-8"))
    records = records_from_bundle([entry["resource"] for entry in bundle["entry"]])
    assert records
    for record in records:
        w3c = _label_detail(record.subject)
        assert w3c is not None
        assert w3c == _label_detail(record.sd_claims, sort_keys=True)
        assert w3c not in {"Moderate", "Severe", "Mild", "fhirIncluded, fhirResource"}


def test_the_ips_vector_records_are_named_by_their_codes() -> None:
    bundle = json.loads(BUNDLES[0].read_text(encoding="utf-8"))
    records = records_from_bundle([entry["resource"] for entry in bundle["entry"]])
    labels = {record.kind: _label_detail(record.subject) for record in records}
    assert labels["ConditionCredential"] == "Menopausal flushing (finding)"
    # The MedicationStatement names its Medication by reference: the label is the product's.
    assert labels["MedicationCredential"] == "Product containing anastrozole (medicinal product)"


async def test_labels_stored_by_an_earlier_version_are_made_again_on_open(
    tmp_path: Path,
) -> None:
    """A wallet whose credentials were labelled before this version (no labels version, the
    old label stored): opening it relabels them, search by the new label's words works, and
    later opens change nothing."""
    bundle = json.loads(BUNDLE.read_text(encoding="utf-8"))
    claims = emergency_summary([entry["resource"] for entry in bundle["entry"]])
    hospital = await open_store(tmp_path / "hospital.db", raw_key=generate_raw_key())
    key = generate_raw_key()
    path = str(tmp_path / "old-wallet.db")
    try:
        keys = AskarKeyStore(hospital)
        multikey = await keys.create_key(KeyType.ED25519_PUB)
        did = did_key_from_public(KeyType.ED25519_PUB, decode_multikey(multikey)[1])
        await keys.bind(
            multikey, did=did, verification_method=f"{did}#{multikey}",
            relationships=["assertionMethod"],
        )  # fmt: skip
        text = sd_jwt_credential(
            claims,
            signer=await keys.signer(multikey),
            issuer=did,
            holder_jwk=HOLDER_JWK,
            iat=datetime.now(UTC).replace(microsecond=0),
            status=STATUS,
        )
    finally:
        await hospital.close()
    wallet = await open_wallet(path, raw_key=key)
    try:
        stored = await wallet.add_credential(text)
        new_label = stored.summary
        # What an earlier version stored: its label, no labels version.
        async with wallet.store.transaction() as txn:
            meta = await txn.fetch(META_CATEGORY, stored.id)
            assert meta is not None
            old = {**meta.json(), "summary": "EmergencySummary: Cardiopulmonary resuscitation"}
            await txn.replace(META_CATEGORY, stored.id, old, meta.tags)
            if await txn.fetch(*_LABELS) is not None:
                await txn.remove(*_LABELS)
            await txn.commit()
        assert (await wallet.get(stored.id)).summary.endswith("Cardiopulmonary resuscitation")
    finally:
        await wallet.close()

    # Two processes opening it at once (a CLI command beside the service): both open; the
    # relabelling is done once, by one of them.
    first, second = await asyncio.gather(
        open_wallet(path, raw_key=key), open_wallet(path, raw_key=key)
    )
    await first.close()
    await second.close()
    reopened = await open_wallet(path, raw_key=key)
    try:
        assert (await reopened.get(stored.id)).summary == new_label
        assert "Cardiopulmonary" not in new_label
        assert [c.id for c in await reopened.search(text="advanceDirective")] == [stored.id]
        assert await reopened.relabel() == 0  # recorded: later opens only read the version
    finally:
        await reopened.close()


SHC_VECTORS = ROOT / "tests" / "vectors" / "smart-health-cards"


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("example-00-e-file.smart-health-card", "SMART Health Card: Immunization x3"),
        ("example-03-e-file.smart-health-card", "SMART Health Card: Immunization x2"),
        (
            "example-02-e-file.smart-health-card",
            "SMART Health Card: DiagnosticReport, Specimen x3, Observation x51",
        ),
    ],
)
def test_a_smart_health_card_is_labelled_by_what_it_holds(name: str, label: str) -> None:
    """Not by the first display in its bundle: that was the vaccination site ("ABC General
    Hospital") or the specimen's tube ("Lavender Top Tube"). Resources without a display are
    counted by type."""
    source = json.loads((SHC_VECTORS / name).read_text(encoding="utf-8"))
    labelled = _stored_label("smart-health-card", source)
    assert labelled is not None
    assert labelled[0] == label


def test_a_smart_health_card_resource_with_a_code_display_is_named_by_it() -> None:
    bundle = {
        "resourceType": "Bundle",
        "entry": [
            {"resource": {"resourceType": "Patient", "name": [{"text": "Someone"}]}},
            {"resource": {"resourceType": "Immunization", "vaccineCode": {"text": "MMR"}}},
            {"resource": {"resourceType": "Immunization", "vaccineCode": {"text": "MMR"}}},
        ],
    }
    assert _shc_label(("https://smarthealth.cards#health-card",), [bundle]) == (
        "SMART Health Card: MMR"
    )
