"""Backup and restore: round trip to a new store, then present again; any damage refused with
nothing written."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from agent.credentials.sd_jwt import verify_sd_jwt
from agent.dids import DIDResolver
from agent.errors import ErrorCode
from agent.storage import Store, generate_raw_key, open_store
from tests.wallet.conftest import Hospital, allergy_claims, shc_jwks, shc_text
from tests.wallet.test_present import ER, TWO_FIELDS
from verifier.verify import verify_presentation
from wallet import (
    BACKUP_CATEGORIES,
    BackupError,
    KdfParams,
    Wallet,
    backup,
    consent_history,
    generate_recovery_phrase,
    list_consents,
    normalise_recovery_phrase,
    plan_presentation,
    present,
    restore,
    verify_history,
    withdraw,
)

FAST = KdfParams(memory_kib=8 * 1024, iterations=1, lanes=1)


async def _filled(wallet: Wallet, hospital: Hospital, now: datetime) -> None:
    await wallet.add_credential(
        hospital.sd_jwt(allergy_claims(), await wallet.holder_jwk(), iat=now)
    )
    await wallet.add_credential(
        hospital.w3c(
            allergy_claims(), await wallet.holder_did(), valid_from=now - timedelta(minutes=1)
        )
    )
    await wallet.add_credential(shc_text("example-00-d-jws.txt"), jwks=shc_jwks())
    plan = await plan_presentation(wallet, TWO_FIELDS, verifier=ER, purpose="emergency care")
    presentation = await present(wallet, plan, nonce="n", audience=ER.id)
    await withdraw(wallet, presentation.consent.id)


async def _empty(store: Store) -> bool:
    async with store.session() as session:
        for category in BACKUP_CATEGORIES:
            if await session.count(category):
                return False
        return not await session.fetch_all_keys()


def test_recovery_phrase_shape_and_typos() -> None:
    phrase = generate_recovery_phrase()
    groups = phrase.split("-")
    assert len(groups) == 8
    assert all(len(g) == 4 for g in groups)
    body = normalise_recovery_phrase(phrase)
    assert len(body) == 30  # 150 bits
    assert normalise_recovery_phrase(phrase.lower().replace("-", " ")) == body
    assert generate_recovery_phrase() != phrase
    wrong = ("1" if phrase[0] != "1" else "2") + phrase[1:]
    with pytest.raises(BackupError) as caught:
        normalise_recovery_phrase(wrong)
    assert caught.value.code is ErrorCode.BACKUP_WRONG_PHRASE


async def test_round_trip_then_present_again(
    tmp_path: Path, wallet: Wallet, hospital: Hospital, now: datetime
) -> None:
    await _filled(wallet, hospital, now)
    phrase = generate_recovery_phrase()
    data = await backup(wallet, phrase, kdf=FAST)
    assert data[:8] == b"HMDWBAK\x00"
    assert b"penicillin" not in data
    assert b"did:key" not in data

    new_store = await open_store(tmp_path / "new-phone.db", raw_key=generate_raw_key())
    try:
        summary = await restore(data, phrase, into=new_store)
        assert summary.credentials == 3
        assert summary.consents == 1
        assert summary.history_entries == 2
        assert summary.keys == 2
        assert summary.holder_did == await wallet.holder_did()
        restored = Wallet(new_store)
        assert await restored.holder_did() == await wallet.holder_did()
        assert await restored.holder_jwk() == await wallet.holder_jwk()
        assert [c.id for c in await restored.list()] == [c.id for c in await wallet.list()]
        assert len(await restored.search(text="penicillin")) == 2  # search secret restored
        assert await verify_history(restored) == 2
        assert [c.id for c in await list_consents(restored)] == [
            c.id for c in await list_consents(wallet)
        ]

        # Holder binding still works: SD-JWT with KB-JWT, and a W3C VP.
        plan = await plan_presentation(restored, TWO_FIELDS, verifier=ER, purpose="again")
        presentation = await present(restored, plan, nonce="n-2", audience=ER.id)
        verified = await verify_sd_jwt(
            str(presentation.vp_token["allergy"][0]),
            issuer_key_resolver=DIDResolver(),
            now=now + timedelta(seconds=1),
            expected_aud=ER.id,
            expected_nonce="n-2",
        )
        assert set(verified.payload["allergy"]) == {"code", "criticality"}
        w3c_query = {"credentials": [{"id": "vc", "format": "ldp_vc"}]}
        plan = await plan_presentation(restored, w3c_query, verifier=ER, purpose="again")
        vp = (await present(restored, plan, nonce="c", audience=ER.id)).vp_token["vc"][0]
        report = await verify_presentation(
            vp, resolver=DIDResolver(), challenge="c", domain=ER.id, now=now + timedelta(seconds=1)
        )
        assert report.verified, report
        assert [e.event for e in await consent_history(restored)] == [
            "given",
            "withdrawn",
            "given",
            "given",
        ]
    finally:
        await new_store.close()


async def test_restore_refuses_a_wallet_that_exists(
    tmp_path: Path, wallet: Wallet, hospital: Hospital, now: datetime
) -> None:
    await _filled(wallet, hospital, now)
    phrase = generate_recovery_phrase()
    data = await backup(wallet, phrase, kdf=FAST)
    with pytest.raises(BackupError) as caught:
        await restore(data, phrase, into=wallet.store)
    assert caught.value.code is ErrorCode.BACKUP_TARGET_NOT_EMPTY


async def test_damaged_backups_are_refused_and_nothing_is_written(
    tmp_path: Path, wallet: Wallet, hospital: Hospital, now: datetime
) -> None:
    await _filled(wallet, hospital, now)
    phrase = generate_recovery_phrase()
    data = await backup(wallet, phrase, kdf=FAST)
    target = await open_store(tmp_path / "target.db", raw_key=generate_raw_key())
    try:
        cases: list[tuple[str, bytes, str, ErrorCode]] = [
            ("wrong phrase", data, generate_recovery_phrase(), ErrorCode.BACKUP_WRONG_PHRASE),
            ("empty", b"", phrase, ErrorCode.BACKUP_CORRUPT),
            ("header only", data[:64], phrase, ErrorCode.BACKUP_CORRUPT),
            ("truncated", data[:-1], phrase, ErrorCode.BACKUP_CORRUPT),
            ("half", data[: len(data) // 2], phrase, ErrorCode.BACKUP_CORRUPT),
            ("extended", data + b"\x00", phrase, ErrorCode.BACKUP_CORRUPT),
        ]
        rng = random.Random(5)
        # Every header byte, then a sample of the ciphertext and the tag.
        positions = [
            *range(64),
            *rng.sample(range(64, len(data) - 16), 40),
            *range(len(data) - 16, len(data)),
        ]
        for position in positions:
            flipped = bytearray(data)
            flipped[position] ^= 1 << rng.randrange(8)
            cases.append((f"byte {position}", bytes(flipped), phrase, ErrorCode.BACKUP_CORRUPT))
        for name, blob, secret, code in cases:
            with pytest.raises(BackupError) as caught:
                await restore(blob, secret, into=target)
            assert caught.value.code is code, name
            assert await _empty(target), name
        # And the intact backup still restores into the same (untouched) store.
        summary = await restore(data, phrase, into=target)
        assert summary.credentials == 3
    finally:
        await target.close()
