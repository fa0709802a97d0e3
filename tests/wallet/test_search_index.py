"""The in-memory search index (wallet/index.py): the same answers as the askar queries, kept in
step with adds, removes, other writers and restores, and nothing of it on disk."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.storage import generate_raw_key, open_store
from bench.wallet_search import insert_record
from tests.wallet.conftest import Hospital, allergy_claims, condition_claims, shc_jwks, shc_text
from tests.wallet.test_search import ALLERGY_VCT, PENICILLIN, _fill, _read_files
from wallet import (
    CredentialFormat,
    StoredCredential,
    Wallet,
    open_wallet,
)
from wallet._extract import word_tag
from wallet.backup import backup, generate_recovery_phrase, restore
from wallet.index import SearchIndex, index_query
from wallet.search import build_filter

START = datetime(2024, 1, 1, tzinfo=UTC)
TYPES = [f"https://w3id.org/health-mydata/vct/T{i}/v1" for i in range(4)]
ISSUERS = [f"did:web:hospital{i}.example" for i in range(3)]
CODES = [f"http://snomed.info/sct|{100 + i}" for i in range(12)] + ["http://loinc.org|101"]
WORDS = [f"word{i}" for i in range(25)]


async def _pair(path: Path) -> tuple[Wallet, Wallet]:
    """Two wallets on one store file: one answering from SQL, one from its index."""
    key = generate_raw_key()
    plain = await open_wallet(str(path), raw_key=key)
    indexed = await open_wallet(str(path), raw_key=key, search_index=True)
    return plain, indexed


async def _synthetic(wallet: Wallet, count: int) -> None:
    """Records as add_credential writes them (tags, words), without signing ``count`` VCs."""
    rng = random.Random(8)
    secret = await wallet._search_secret()
    async with wallet.store.transaction() as txn:
        for n in range(count):
            issued = None if n % 9 == 0 else START + timedelta(days=rng.randrange(60))
            meta = StoredCredential(
                id=f"urn:uuid:index-{n:04d}",
                format=rng.choice(list(CredentialFormat)),
                types=tuple(rng.sample(TYPES, rng.randint(1, 2))),
                issuer=None if n % 11 == 0 else rng.choice(ISSUERS),
                issued=issued,
                valid_until=None,
                codes=tuple(rng.sample(CODES, rng.randint(0, 3))),
                summary=f"synthetic {n}",
                added=START,
            )
            await insert_record(txn, meta, rng.sample(WORDS, 6), secret, f"{n:064x}")
        await txn.commit()


def _criteria(rng: random.Random) -> dict[str, Any]:
    criteria: dict[str, Any] = {}
    if rng.random() < 0.4:
        criteria["type"] = rng.choice(TYPES)
    if rng.random() < 0.3:
        criteria["issuer"] = rng.choice(ISSUERS)
    if rng.random() < 0.2:
        criteria["format"] = str(rng.choice(list(CredentialFormat)))
    if rng.random() < 0.4:
        code = rng.choice(CODES)
        criteria["code"] = code if rng.random() < 0.5 else code.rpartition("|")[2]
    if rng.random() < 0.4:
        criteria["text"] = " ".join(rng.sample(WORDS, rng.randint(1, 2)))
    if rng.random() < 0.3:
        criteria["date_from"] = (START + timedelta(days=rng.randrange(60))).date()
    if rng.random() < 0.3:
        criteria["date_to"] = (START + timedelta(days=rng.randrange(60))).date()
    if rng.random() < 0.2:
        criteria["limit"] = rng.randint(0, 5)
    return criteria


async def test_the_index_answers_as_the_store_does(tmp_path: Path) -> None:
    plain, indexed = await _pair(tmp_path / "w.db")
    try:
        await _synthetic(plain, 150)
        await indexed.load_search_index()  # written behind its back: load again
        rng = random.Random(3)
        nonempty = 0
        for _ in range(250):
            criteria = _criteria(rng)
            expected = [c.id for c in await plain.search(**criteria)]
            got = [c.id for c in await indexed.search(**criteria)]
            assert got == expected, criteria
            nonempty += bool(expected)
        assert nonempty > 50  # the comparison is not between empty answers
    finally:
        await indexed.close()
        await plain.close()


async def test_real_credentials_every_criterion(
    tmp_path: Path, hospital: Hospital, now: datetime
) -> None:
    plain, indexed = await _pair(tmp_path / "w.db")
    try:
        ids = await _fill(indexed, hospital, now)
        for criteria in [
            {},
            {"type": "AllergyIntoleranceCredential"},
            {"type": ALLERGY_VCT},
            {"issuer": hospital.did},
            {"format": CredentialFormat.SD_JWT_VC},
            {"code": PENICILLIN},
            {"code": "373270004"},
            {"code": "http://loinc.org|373270004"},
            {"text": "PENICILLIN"},
            {"text": "penicillin substance"},
            {"text": "anyperson general hospital"},
            {"date_from": now.date()},
            {"date_to": date(2024, 1, 1)},
            {"code": PENICILLIN, "format": "ldp_vc"},
            {"text": "penicillin", "date_from": now.date(), "limit": 1},
        ]:
            expected = [c.id for c in await plain.search(**criteria)]  # type: ignore[arg-type]
            assert [c.id for c in await indexed.search(**criteria)] == expected, criteria  # type: ignore[arg-type]
        assert {c.id for c in await indexed.search(code=PENICILLIN)} == {
            ids["w3c-allergy"],
            ids["sd-allergy"],
        }
    finally:
        await indexed.close()
        await plain.close()


async def test_own_adds_and_removes_update_the_index_in_place(
    wallet: Wallet, hospital: Hospital, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    await wallet.load_search_index()
    builds: list[int] = []
    real = Wallet._build_index

    async def counting(self: Wallet) -> SearchIndex[StoredCredential]:
        builds.append(1)
        return await real(self)

    monkeypatch.setattr(Wallet, "_build_index", counting)
    ids = await _fill(wallet, hospital, now)
    assert {c.id for c in await wallet.search(code=PENICILLIN)} == {
        ids["w3c-allergy"],
        ids["sd-allergy"],
    }
    await wallet.remove(ids["sd-allergy"])
    assert [c.id for c in await wallet.search(code=PENICILLIN)] == [ids["w3c-allergy"]]
    assert await wallet.search(text="penicillin", format="dc+sd-jwt") == []
    assert builds == []


async def test_another_writer_is_seen(tmp_path: Path, hospital: Hospital, now: datetime) -> None:
    """The service's index and ``mydata wallet add`` in another process, on one file."""
    other, indexed = await _pair(tmp_path / "w.db")
    try:
        assert await indexed.search(code=PENICILLIN) == []
        added = await other.add_credential(
            hospital.sd_jwt(allergy_claims(), await other.holder_jwk(), iat=now)
        )
        assert [c.id for c in await indexed.search(code=PENICILLIN)] == [added.id]
        # The indexed wallet's own write after the other's: still in step.
        mine = await indexed.add_credential(
            hospital.sd_jwt(condition_claims(), await indexed.holder_jwk(), iat=now)
        )
        assert {c.id for c in await indexed.search(issuer=hospital.did)} == {added.id, mine.id}
        await other.remove(added.id)
        assert await indexed.search(code=PENICILLIN) == []
        assert [c.id for c in await indexed.search()] == [mine.id]
    finally:
        await indexed.close()
        await other.close()


async def test_a_restore_is_seen(tmp_path: Path, hospital: Hospital, now: datetime) -> None:
    source = await open_wallet(str(tmp_path / "source.db"), raw_key=generate_raw_key())
    try:
        ids = await _fill(source, hospital, now)
        phrase = generate_recovery_phrase()
        data = await backup(source, phrase)
    finally:
        await source.close()
    store = await open_store(tmp_path / "target.db", raw_key=generate_raw_key())
    target = Wallet(store, close_store=True)
    try:
        await target.load_search_index()  # empty (a search would create the identity first)
        assert target._index is not None
        assert len(target._index) == 0
        await restore(data, phrase, into=store)
        assert {c.id for c in await target.search(code=PENICILLIN)} == {
            ids["w3c-allergy"],
            ids["sd-allergy"],
        }
        assert [c.id for c in await target.search(text="anyperson")] == [ids["shc"]]
    finally:
        await target.close()


async def test_nothing_readable_on_disk_with_the_index(
    tmp_path: Path, hospital: Hospital, now: datetime
) -> None:
    """The index lives in memory only: the file holds no more than without it."""
    path = tmp_path / "scan.db"
    opened = await open_wallet(str(path), raw_key=generate_raw_key(), search_index=True)
    try:
        ids = await _fill(opened, hospital, now)
        await opened.remove(ids["w3c-allergy"])
        assert await opened.search(text="penicillin")
        word = word_tag(await opened._search_secret(), "penicillin")
        await opened.add_credential(shc_text("example-01-d-jws.txt"), jwks=shc_jwks())
    finally:
        await opened.close()
    data = _read_files(tmp_path, "scan.db*")
    for needle in [
        "penicillin",
        "373270004",
        "snomed",
        "AllergyIntolerance",
        "Anyperson",
        hospital.did.removeprefix("did:key:"),
        "dc+sd-jwt",
        "t:AllergyIntoleranceCredential",
        "c:http",
        "wallet-index",
        "generation",
        word,
    ]:
        assert needle.encode() not in data, needle


def test_index_query_refuses_what_it_cannot_run() -> None:
    secret = b"s" * 32
    filters = build_filter(secret=secret, type="X", code="1|2", text="word1", date_from=START)
    query = index_query(filters.meta, filters.words)
    assert set(query.keys) == {"t:X", "c:1|2", word_tag(secret, "word1")}
    assert query.day_from == "2024-01-01"
    with pytest.raises(ValueError, match="cannot run id"):
        index_query({"id": {"$in": ["a"]}})
    with pytest.raises(ValueError, match=r"cannot run \$like"):
        index_query({"~issued": {"$like": "2024%"}})
