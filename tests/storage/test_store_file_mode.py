"""A new SQLite store's files are readable by their owner only: askar created them with the
process's umask (0644 as a rule), so every local user could read the encrypted records and the
plaintext tags (QA). A failed provisioning leaves no empty file behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from agent.errors import StorageError
from agent.storage import generate_raw_key, open_store


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def test_a_new_store_and_its_wal_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        store = await open_store(tmp_path / "w.sqlite", raw_key=generate_raw_key())
        try:
            async with store.transaction() as txn:
                await txn.insert("c", "n", {"v": 1})
                await txn.commit()
            made = _names(tmp_path)
            assert "w.sqlite" in made, made
            assert "w.sqlite-wal" in made, made
            for name in made:
                assert _mode(tmp_path / name) == 0o600, (name, oct(_mode(tmp_path / name)))
        finally:
            await store.close()
    finally:
        os.umask(old)


async def test_an_existing_store_keeps_its_mode_and_content(tmp_path: Path) -> None:
    key = generate_raw_key()
    path = tmp_path / "w.sqlite"
    store = await open_store(path, raw_key=key)
    async with store.transaction() as txn:
        await txn.insert("c", "n", {"v": 1})
        await txn.commit()
    await store.close()
    path.chmod(0o640)  # the operator's choice (a backup group, say) is left alone
    again = await open_store(path, raw_key=key)
    try:
        async with again.session() as session:
            assert (await session.fetch("c", "n")) is not None
    finally:
        await again.close()
    assert _mode(path) == 0o640


async def test_a_failed_provisioning_leaves_no_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "w.sqlite"
    with pytest.raises(StorageError):
        # askar refuses the query parameter's value before it writes anything
        await open_store(f"sqlite://{path}?journal_mode=nonsense", raw_key=generate_raw_key())
    assert not path.exists()


async def test_a_percent_encoded_path_is_the_file_askar_makes(tmp_path: Path) -> None:
    """askar decodes the URI's path: the private file must be that one, not a stray
    ``a%20b.sqlite`` beside a 0644 ``a b.sqlite`` (review)."""
    store = await open_store(f"sqlite://{tmp_path}/a%20b.sqlite", raw_key=generate_raw_key())
    await store.close()
    assert [n for n in _names(tmp_path) if not n.endswith(("-wal", "-shm"))] == ["a b.sqlite"]
    assert _mode(tmp_path / "a b.sqlite") == 0o600
