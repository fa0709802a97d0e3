"""SIGKILL (kill -9) a real process in the middle of a wallet's receive, a status list update
and a restore; then a new process opens every store and nothing committed is lost,
nothing is duplicated, and status lists agree with their records.

Batch issuance under SIGKILL is tests/issuer_batch/test_batch_jobs.py::
test_sigkill_mid_batch_then_rerun_gives_one_credential_each (not repeated here).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import time
from collections import Counter
from pathlib import Path
from typing import Any

from agent.credentials.status_list import Bitstring, decode_list
from agent.storage import generate_raw_key, open_store
from issuer.hospital import Hospital
from tests.conftest import UNSIGNED_ALLERGY
from tests.crash import _children
from tests.verifier.conftest import _party
from tests.verifier.test_verify import allergy_credential
from tests.wallet.test_backup import FAST
from wallet import backup, generate_recovery_phrase, open_wallet
from wallet.backup import CREDENTIAL_CATEGORY
from wallet.errors import DuplicateCredentialError

SPAWN = multiprocessing.get_context("spawn")


def _lines(path: Path) -> list[str]:
    return path.read_text("utf-8").split() if path.exists() else []


def _kill_after(child: Any, progress: Path, steps: int, timeout: float = 60) -> list[str]:
    """SIGKILL ``child`` once ``steps`` lines of progress are durable; the lines then."""
    deadline = time.monotonic() + timeout
    while len(_lines(progress)) < steps:
        assert child.is_alive(), f"the child ended early (exit {child.exitcode})"
        assert time.monotonic() < deadline, "the child made no progress"
        time.sleep(0.01)
    child.kill()
    child.join(30)
    assert child.exitcode == -9
    return _lines(progress)


async def _credentials(tmp_path: Path, count: int) -> list[dict[str, Any]]:
    store = await open_store(tmp_path / "issuer.sqlite", raw_key=generate_raw_key())
    try:
        hospital, citizen = await _party(store), await _party(store)
        return [allergy_credential(hospital, citizen) for _ in range(count)]
    finally:
        await store.close()


async def test_sigkill_during_receive_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    total = 30
    credentials = await _credentials(tmp_path, total)
    source = tmp_path / "incoming.json"
    source.write_text(json.dumps(credentials))
    uri, key, progress = (
        f"sqlite://{tmp_path / 'wallet.sqlite'}",
        generate_raw_key(),
        tmp_path / "p",
    )
    child = SPAWN.Process(target=_children.receive, args=(uri, key, str(source), str(progress)))
    child.start()
    durable = await asyncio.to_thread(_kill_after, child, progress, total // 3)
    assert len(durable) < total, "the child finished before it was killed"

    wallet = await open_wallet(uri, raw_key=key, create=False)
    try:
        held = [c.id for c in await wallet.list()]
        assert set(durable) <= set(held), "a credential reported stored was lost"
        assert len(held) == len(set(held))
        assert set(held) <= {c["id"] for c in credentials}
        # Receiving everything again (the offers are retried) completes the wallet, once each.
        duplicates = 0
        for credential in credentials:
            try:
                await wallet.add_credential(credential)
            except DuplicateCredentialError:
                duplicates += 1
        assert duplicates == len(held)
        final = Counter(c.id for c in await wallet.list())
        assert set(final) == {c["id"] for c in credentials}
        assert max(final.values()) == 1
    finally:
        await wallet.close()


async def _hospital_with_credentials(uri: str, key: str, count: int) -> list[str]:
    store = await open_store(uri, raw_key=key)
    try:
        hospital = await Hospital.init(store, base_url="https://hospital.example", did_method="key")
        return [str((await hospital.issue(UNSIGNED_ALLERGY))["id"]) for _ in range(count)]
    finally:
        await store.close()


async def _status_consistency(uri: str, key: str, ids: list[str]) -> set[str]:
    """The revoked ids, after checking that each list credential's bits are the records'."""
    store = await open_store(uri, raw_key=key, create=False)
    try:
        hospital = await Hospital.load(store)
        assert hospital is not None
        revoked: set[str] = set()
        lists: dict[str, Bitstring] = {}
        for credential_id in ids:
            record = await hospital.issued(credential_id)
            entry = next(e for e in record.status if e["statusPurpose"] == "revocation")
            list_id, index = hospital._list_of(entry)
            if list_id not in lists:
                signed = await hospital.status_list_credential(list_id, "revocation")
                lists[list_id] = decode_list(signed["credentialSubject"]["encodedList"])
            bit = lists[list_id].get(index)
            assert bit == await hospital.status.status(list_id, index, "revocation"), (
                "the published list and the stored status disagree"
            )
            if bit:
                revoked.add(credential_id)
        return revoked
    finally:
        await store.close()


async def test_sigkill_during_revoke_many_keeps_lists_consistent(tmp_path: Path) -> None:
    total = 60
    uri, key, progress = (
        f"sqlite://{tmp_path / 'hospital.sqlite'}",
        generate_raw_key(),
        tmp_path / "p",
    )
    ids = await _hospital_with_credentials(uri, key, total)
    ids_file = tmp_path / "ids.json"
    ids_file.write_text(json.dumps(ids))
    child = SPAWN.Process(
        target=_children.revoke_many, args=(uri, key, str(ids_file), str(progress), "")
    )
    child.start()
    durable = await asyncio.to_thread(_kill_after, child, progress, total // 3)
    assert len(durable) < total, "the child finished before it was killed"

    revoked = await _status_consistency(uri, key, ids)
    assert set(durable) <= revoked, "a revocation reported done was lost"
    assert revoked <= set(ids[: len(durable) + 1]), "a credential never revoked is revoked"
    # Revoking everything again converges: every bit set, each list still consistent.
    rerun = SPAWN.Process(
        target=_children.revoke_many, args=(uri, key, str(ids_file), str(tmp_path / "p2"), "")
    )
    rerun.start()
    await asyncio.to_thread(rerun.join, 120)
    assert rerun.exitcode == 0
    assert await _status_consistency(uri, key, ids) == set(ids)


async def test_sigkill_between_status_bit_and_audit_entry(tmp_path: Path) -> None:
    """A revocation is a status bit and an audit entry; a crash between the two must not
    leave a revoked credential the audit log does not know about."""
    uri, key, progress = (
        f"sqlite://{tmp_path / 'hospital.sqlite'}",
        generate_raw_key(),
        tmp_path / "p",
    )
    ids = await _hospital_with_credentials(uri, key, 3)
    ids_file = tmp_path / "ids.json"
    ids_file.write_text(json.dumps(ids))
    child = SPAWN.Process(
        target=_children.revoke_many, args=(uri, key, str(ids_file), str(progress), "after-bit")
    )
    child.start()
    await asyncio.to_thread(child.join, 60)
    assert child.exitcode == -9
    revoked = await _status_consistency(uri, key, ids)
    audited = await _children.audit_revocations(uri, key)
    assert revoked == audited, (
        f"status bits say revoked {sorted(revoked)}, the audit log {sorted(audited)}"
    )


async def _wallet_backup(tmp_path: Path, count: int) -> tuple[bytes, str, set[str]]:
    credentials = await _credentials(tmp_path, count)
    wallet = await open_wallet(f"sqlite://{tmp_path / 'old.sqlite'}", raw_key=generate_raw_key())
    try:
        for credential in credentials:
            await wallet.add_credential(credential)
        phrase = generate_recovery_phrase()
        return await backup(wallet, phrase, kdf=FAST), phrase, {c["id"] for c in credentials}
    finally:
        await wallet.close()


async def _restore_in_child(
    tmp_path: Path, uri: str, key: str, data: bytes, phrase: str, crash_at: str
) -> int | None:
    backup_file, progress = tmp_path / "wallet.backup", tmp_path / f"restore-{crash_at}"
    backup_file.write_bytes(data)
    child = SPAWN.Process(
        target=_children.restore_backup,
        args=(uri, key, str(backup_file), phrase, str(progress), crash_at),
    )
    child.start()
    await asyncio.to_thread(child.join, 120)
    return child.exitcode


async def test_sigkill_during_restore_then_restore_again(tmp_path: Path) -> None:
    """Killed after the first key was imported, before the records: the store opens, and a
    second restore into it completes (the first one wrote nothing that blocks it)."""
    data, phrase, expected = await _wallet_backup(tmp_path, 5)
    uri, key = f"sqlite://{tmp_path / 'new.sqlite'}", generate_raw_key()
    assert await _restore_in_child(tmp_path, uri, key, data, phrase, "after-first-key") == -9
    store = await open_store(uri, raw_key=key, create=False)  # the store opens
    try:
        async with store.session() as session:  # no half-restored credential
            assert await session.count(CREDENTIAL_CATEGORY) == 0
    finally:
        await store.close()
    exitcode = await _restore_in_child(tmp_path, uri, key, data, phrase, "")
    assert exitcode == 0, "a second restore into the store the killed one left fails"
    wallet = await open_wallet(uri, raw_key=key, create=False)
    try:
        assert {c.id for c in await wallet.list()} == expected
    finally:
        await wallet.close()
