"""What a failed restore may remove: only the files of a store it created itself. The -wal and
-shm of an existing store come and go while another process has it open; removing them lost
that process's committed writes (found in review)."""

from __future__ import annotations

from pathlib import Path

from wallet.cli import _new_files


def test_an_existing_store_is_never_removed_in_part(tmp_path: Path) -> None:
    database = tmp_path / "wallet.sqlite"
    database.write_bytes(b"an existing wallet")
    # Its -wal and -shm do not exist now (nothing has it open), but another process may
    # create them during the restore: they are not the restore's to remove.
    assert _new_files(f"sqlite://{database}") == []


def test_a_new_store_is_removed_whole_but_a_key_file_that_was_there_stays(tmp_path: Path) -> None:
    database = tmp_path / "new.sqlite"
    created = _new_files(f"sqlite://{database}")
    assert set(created) >= {database, tmp_path / "new.sqlite-wal", tmp_path / "new.sqlite-shm"}
    key_files = [path for path in created if path.name.endswith(".key")]
    assert len(key_files) == 1
    key_files[0].write_text("kept")
    assert key_files[0] not in _new_files(f"sqlite://{database}")


def test_postgres_and_memory_stores_have_no_files_to_remove() -> None:
    assert _new_files("postgres://postgres@127.0.0.1:5432/wallet") == []
    assert _new_files("sqlite://:memory:") == []
