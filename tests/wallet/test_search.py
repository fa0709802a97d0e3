"""Search by each criterion; nothing searchable or clinical on disk in plaintext; profiles."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from agent.errors import InvalidInputError
from agent.storage import generate_raw_key
from tests.wallet.conftest import (
    Hospital,
    allergy_claims,
    condition_claims,
    shc_jwks,
    shc_text,
)
from wallet import CredentialFormat, Wallet, open_wallet
from wallet._extract import word_tag

ALLERGY_VCT = "https://w3id.org/health-mydata/vct/AllergyIntolerance/v1"
PENICILLIN = "http://snomed.info/sct|373270004"


async def _fill(wallet: Wallet, hospital: Hospital, now: datetime) -> dict[str, str]:
    holder = await wallet.holder_did()
    jwk = await wallet.holder_jwk()
    ids = {}
    ids["w3c-allergy"] = (
        await wallet.add_credential(
            hospital.w3c(allergy_claims(), holder, valid_from=now - timedelta(days=400))
        )
    ).id
    ids["sd-allergy"] = (
        await wallet.add_credential(hospital.sd_jwt(allergy_claims(), jwk, iat=now))
    ).id
    ids["sd-condition"] = (
        await wallet.add_credential(
            hospital.sd_jwt(condition_claims(), jwk, iat=now - timedelta(days=30))
        )
    ).id
    ids["shc"] = (await wallet.add_credential(shc_text("example-00-d-jws.txt"), jwks=shc_jwks())).id
    return ids


def _read_files(folder: Path, pattern: str) -> bytes:
    return b"".join(p.read_bytes() for p in folder.glob(pattern))


async def _ids(wallet: Wallet, **criteria: object) -> set[str]:
    return {c.id for c in await wallet.search(**criteria)}  # type: ignore[arg-type]


async def test_search_by_each_criterion(wallet: Wallet, hospital: Hospital, now: datetime) -> None:
    ids = await _fill(wallet, hospital, now)
    assert await _ids(wallet) == set(ids.values())
    assert await _ids(wallet, type="AllergyIntoleranceCredential") == {ids["w3c-allergy"]}
    assert await _ids(wallet, type=ALLERGY_VCT) == {ids["sd-allergy"]}
    assert await _ids(wallet, issuer=hospital.did) == {
        ids["w3c-allergy"],
        ids["sd-allergy"],
        ids["sd-condition"],
    }
    assert await _ids(wallet, issuer="https://spec.smarthealth.cards/examples/issuer") == {
        ids["shc"]
    }
    assert await _ids(wallet, format=CredentialFormat.SD_JWT_VC) == {
        ids["sd-allergy"],
        ids["sd-condition"],
    }
    assert await _ids(wallet, code=PENICILLIN) == {ids["w3c-allergy"], ids["sd-allergy"]}
    assert await _ids(wallet, code="373270004") == {ids["w3c-allergy"], ids["sd-allergy"]}
    assert await _ids(wallet, code="http://loinc.org|373270004") == set()
    # Free text: whole words, case-insensitive, every word must occur.
    assert await _ids(wallet, text="PENICILLIN") == {ids["w3c-allergy"], ids["sd-allergy"]}
    assert await _ids(wallet, text="penicillin substance") == {
        ids["w3c-allergy"],
        ids["sd-allergy"],
    }
    assert await _ids(wallet, text="penicillin moderna") == set()
    assert await _ids(wallet, text="anyperson general hospital") == {ids["shc"]}
    # Issuance day ranges (inclusive).
    assert await _ids(wallet, date_from=now.date()) == {ids["sd-allergy"]}
    assert await _ids(
        wallet, date_from=now - timedelta(days=31), date_to=now - timedelta(days=1)
    ) == {ids["sd-condition"]}
    assert await _ids(wallet, date_to=date(2024, 1, 1)) == {ids["shc"]}
    # Combined.
    assert await _ids(wallet, code=PENICILLIN, format="ldp_vc") == {ids["w3c-allergy"]}
    assert await _ids(wallet, text="penicillin", date_from=now.date()) == {ids["sd-allergy"]}


async def test_search_text_needs_a_word(wallet: Wallet) -> None:
    with pytest.raises(InvalidInputError):
        await wallet.search(text=" - ")


@pytest.mark.parametrize("format", ["bogus", "sd-jwt", "LDP_VC", ""])
async def test_an_unknown_format_is_refused_not_an_empty_result(
    wallet: Wallet, format: str
) -> None:
    """A wrong --format (or ?format=) matched nothing and looked like an empty wallet (QA)."""
    with pytest.raises(InvalidInputError) as caught:
        await wallet.search(format=format)
    assert "ldp_vc" in caught.value.message
    assert "dc+sd-jwt" in caught.value.message


async def test_removed_credentials_are_not_found(
    wallet: Wallet, hospital: Hospital, now: datetime
) -> None:
    ids = await _fill(wallet, hospital, now)
    await wallet.remove(ids["sd-allergy"])
    assert await _ids(wallet, code=PENICILLIN) == {ids["w3c-allergy"]}


async def test_nothing_readable_on_disk(tmp_path: Path, hospital: Hospital, now: datetime) -> None:
    """The SQLite file holds no claim, code, type, issuer or search word in plaintext."""
    path = tmp_path / "scan.db"
    opened = await open_wallet(str(path), raw_key=generate_raw_key())
    try:
        await _fill(opened, hospital, now)
        await opened.search(text="penicillin")
        word = word_tag(await opened._search_secret(), "penicillin")
    finally:
        await opened.close()
    data = _read_files(tmp_path, "scan.db*")
    for needle in [
        "penicillin",
        "Penicillin",
        "373270004",
        "snomed",
        "AllergyIntolerance",
        "criticality",
        "Anyperson",  # the SHC patient's family name
        "General Hospital",
        "smarthealth",
        hospital.did.removeprefix("did:key:"),
        "ldp_vc",
        "dc+sd-jwt",
        "t:AllergyIntoleranceCredential",
        "c:http",
        word,
    ]:
        assert needle.encode() not in data, needle
    # Dates are the documented plaintext tags.
    assert now.date().isoformat().encode() in data


async def test_profiles_isolate_a_childs_records(
    tmp_path: Path, hospital: Hospital, now: datetime
) -> None:
    key = generate_raw_key()
    parent = await open_wallet(str(tmp_path / "family.db"), raw_key=key)
    child = await open_wallet(str(tmp_path / "family.db"), raw_key=key, profile="child")
    try:
        await parent.add_credential(
            hospital.sd_jwt(allergy_claims(), await parent.holder_jwk(), iat=now)
        )
        stored = await child.add_credential(shc_text("example-00-d-jws.txt"), jwks=shc_jwks())
        assert await parent.holder_did() != await child.holder_did()
        assert [c.format for c in await parent.list()] == [CredentialFormat.SD_JWT_VC]
        assert [c.id for c in await child.list()] == [stored.id]
        assert await child.search(code=PENICILLIN) == []
        assert await parent.search(text="anyperson") == []
    finally:
        await child.close()
        await parent.close()
