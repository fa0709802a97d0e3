"""No private key, passphrase, store key, token or health datum reaches a log, an error body or
an exception message over typical failure paths; stores hold no plaintext health data.

Complements, without repeating: tests/operations/test_ops_logs.py (hospital and verifier
request logs), tests/wallet/test_search.py (the wallet SQLite file after imports, library),
tests/wallet/test_backup.py (backup bytes), tests/vault/test_vault_api.py (the vault's store).
Here: secrets in exception messages and ``caplog`` (wrong passphrase, wrong store key, wrong
recovery phrase, bad key material, invalid FHIR values); and a real ``mydata serve wallet``
and ``mydata serve hospital`` whose captured stdout/stderr, error bodies and store files are
scanned after failure paths.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.errors import HealthMyDataError
from agent.keys import AskarKeyStore, KeyType
from agent.storage import generate_raw_key, open_store
from issuer.issue import issue_credential, record_credential
from tests.fuzz.services import MYDATA, PASSPHRASE, TOKEN, PartyService
from tests.verifier.conftest import _party
from tests.verifier.test_verify import NOW, SAMPLE
from tests.wallet.test_backup import FAST
from wallet import backup, generate_recovery_phrase, open_wallet, restore

#: A health datum no code or fixture contains by chance.
MARKER = "Qzxallergen-47113"


def _allergy(marker: str = MARKER) -> dict[str, Any]:
    resource: dict[str, Any] = json.loads(SAMPLE.read_text())
    resource["note"] = [{"text": f"reacts to {marker}"}]
    return resource


def _store_bytes(path: Path) -> bytes:
    return b"".join(
        Path(f"{path}{suffix}").read_bytes()
        for suffix in ("", "-wal", "-shm", "-journal")
        if Path(f"{path}{suffix}").exists()
    )


def _no_secret(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text, f"a secret ({secret[:6]}...) appears in: {text[:400]}"


# --- exception messages and caplog -----------------------------------------------------------


async def test_wrong_store_secrets_are_not_echoed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    right, wrong = "correct-store-pass-5521", "wrong-store-pass-8834"
    uri = f"sqlite://{tmp_path / 'w.sqlite'}"
    await (await open_store(uri, passphrase=right)).close()
    raw_uri, raw = f"sqlite://{tmp_path / 'r.sqlite'}", generate_raw_key()
    await (await open_store(raw_uri, raw_key=raw)).close()
    other = generate_raw_key()
    messages = []
    for attempt in (
        open_store(uri, passphrase=wrong, create=False),
        open_store(uri, raw_key=other, create=False),
        open_store(raw_uri, raw_key=other, create=False),
        open_store(raw_uri, passphrase=wrong, create=False),
    ):
        with pytest.raises(HealthMyDataError) as caught:
            await attempt
        messages.append(f"{caught.value} {json.dumps(caught.value.to_dict())}")
    _no_secret(" ".join(messages) + caplog.text, right, wrong, raw, other)


async def test_a_wrong_recovery_phrase_is_not_echoed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with await open_wallet(
        f"sqlite://{tmp_path / 'w.sqlite'}", raw_key=generate_raw_key()
    ) as wallet:
        phrase = generate_recovery_phrase()
        data = await backup(wallet, phrase, kdf=FAST)
    wrong = generate_recovery_phrase()
    target = await open_store(f"sqlite://{tmp_path / 'n.sqlite'}", raw_key=generate_raw_key())
    try:
        with pytest.raises(HealthMyDataError) as caught:
            await restore(data, wrong, into=target)
    finally:
        await target.close()
    text = f"{caught.value} {json.dumps(caught.value.to_dict())} {caplog.text}"
    for word in {*phrase.split(), *wrong.split()} - {"-"}:
        if len(word) >= 5:  # whole phrase words; short groups could occur by chance
            assert word not in text, text
    _no_secret(text, phrase, wrong)


async def test_bad_key_material_is_not_echoed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = await open_store(f"sqlite://{tmp_path / 'k.sqlite'}", raw_key=generate_raw_key())
    try:
        keys = AskarKeyStore(store)
        secret = bytes(range(7, 7 + 31))  # one byte short of an Ed25519 secret
        with pytest.raises(HealthMyDataError) as caught:
            await keys.import_secret(KeyType.ED25519_PUB, secret)
        multikey = await keys.import_secret(KeyType.ED25519_PUB, bytes(range(1, 33)))
        with pytest.raises(HealthMyDataError) as again:
            await keys.import_secret(KeyType.ED25519_PUB, bytes(range(1, 33)))
    finally:
        await store.close()
    assert multikey.startswith("z6Mk")
    text = f"{caught.value} {caught.value.to_dict()} {again.value} {again.value.to_dict()}"
    text += caplog.text
    for form in (secret, bytes(range(1, 33))):
        _no_secret(text, form.hex(), repr(form)[2:30])


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("code", {"text": MARKER, "coding": MARKER}),
        ("recordedDate", MARKER),
        ("onsetDateTime", f"{MARKER}T00"),
        ("reaction", [{"manifestation": MARKER}]),
    ],
)
def test_invalid_fhir_values_are_not_echoed(
    member: str, value: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    resource = _allergy("ok")
    resource[member] = value
    with pytest.raises(HealthMyDataError) as caught:
        record_credential(resource, issuer="did:key:z6Mkissuer", subject="did:key:z6Mksubject")
    _no_secret(f"{caught.value} {json.dumps(caught.value.to_dict())} {caplog.text}", MARKER)


# --- real services ---------------------------------------------------------------------------


@pytest.fixture
def wallet_service(tmp_path: Path) -> Iterator[PartyService]:
    service = PartyService("wallet", tmp_path / "wallet")
    yield service
    service.stop()


async def _signed_allergy(tmp_path: Path, holder: str) -> dict[str, Any]:
    store = await open_store(tmp_path / "issuer.sqlite", raw_key=generate_raw_key())
    try:
        hospital = await _party(store)
        unsigned = record_credential(
            _allergy(),
            issuer=hospital.did,
            subject=holder,
            valid_from=NOW - timedelta(days=400),
        )
        return issue_credential(unsigned, hospital.signer, created=NOW - timedelta(days=400))
    finally:
        await store.close()


async def test_wallet_service_failure_paths_leak_nothing(
    wallet_service: PartyService, tmp_path: Path
) -> None:
    service = wallet_service
    holder = service.admin.get("/wallet/identity").json()["holder"]
    credential = await _signed_allergy(tmp_path, holder)
    stolen_token = f"Bearer-guess-{MARKER}"
    bodies: list[str] = []

    # A wrong token, and one that carries a health datum.
    for headers in ({"Authorization": "Bearer nope"}, {"Authorization": f"Bearer {stolen_token}"}):
        response = service.client.get("/wallet/credentials", headers=headers)
        assert response.status_code == 401
        bodies.append(response.text)
    # A tampered credential (its proof no longer verifies) and garbage that carries the datum.
    tampered = copy.deepcopy(credential)
    tampered["credentialSubject"]["fhirResource"]["note"][0]["text"] += " (changed)"
    for payload in (json.dumps(tampered), f'{{"note": "{MARKER}"', f"{MARKER}~{MARKER}~"):
        response = service.admin.post("/wallet/import", content=payload.encode())
        assert response.status_code in (400, 413, 422), response.text
        bodies.append(response.text)
    # The real credential, then a search for the datum and a lookup of an unknown id.
    imported = service.admin.post("/wallet/import", content=json.dumps(credential).encode())
    assert imported.status_code == 201, imported.text
    found = service.admin.get("/wallet/credentials", params={"text": "Qzxallergen"})
    assert found.status_code == 200
    missing = service.admin.get("/wallet/credentials/urn:uuid:0000-unknown")
    assert missing.status_code == 404
    bodies.append(missing.text)

    service.stop()  # flush and close the store before scanning it
    log = service.log()
    assert "/wallet/import" in log or "wallet" in log  # the service did log
    _no_secret("\n".join(bodies), MARKER, PASSPHRASE, TOKEN, service.env["MYDATA_STORE_KEY"])
    _no_secret(log, MARKER, PASSPHRASE, TOKEN, service.env["MYDATA_STORE_KEY"], "Qzxallergen")
    for path in service.home.glob("*.sqlite"):
        data = _store_bytes(path)
        assert data, path
        assert MARKER.encode() not in data, f"{path.name} holds the health datum in plaintext"
        assert b"AllergyIntolerance" not in data, f"{path.name} holds a FHIR type in plaintext"
    # The backup the citizen makes of that store with the CLI.
    target = tmp_path / "wallet.backup"
    made = await asyncio.to_thread(
        subprocess.run,
        [MYDATA, "wallet", "backup", str(target), "--store", service.store],
        env=service.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    _no_secret(made.stdout + made.stderr, MARKER, PASSPHRASE, service.env["MYDATA_STORE_KEY"])
    data = target.read_bytes()
    assert MARKER.encode() not in data
    assert b"AllergyIntolerance" not in data
    assert holder.encode() not in data


def test_hospital_service_store_and_errors_leak_nothing(tmp_path: Path) -> None:
    service = PartyService("hospital", tmp_path / "hospital")
    try:
        body = {"fhir": _allergy(), "subject": "did:example:citizen", "formats": ["vc"]}
        issued = service.admin.post("/fhir/import", json=body)
        assert issued.status_code == 201, issued.text
        bad_date = _allergy()
        bad_date["recordedDate"] = MARKER
        refused = [
            service.admin.post("/fhir/import", json={**body, "fhir": bad_date}),
            service.admin.post(
                "/credentials/issue", json={"credential": {"credentialSubject": MARKER}}
            ),
            service.admin.post("/credentials/status", json={"credentialId": MARKER}),
        ]
        for response in refused:
            assert 400 <= response.status_code < 500, response.text
    finally:
        service.stop()
    _no_secret(
        "\n".join(r.text for r in refused) + service.log(),
        MARKER,
        TOKEN,
        service.env["MYDATA_STORE_KEY"],
    )
    for path in service.home.glob("*.sqlite"):
        assert MARKER.encode() not in _store_bytes(path), f"{path.name} holds it in plaintext"
