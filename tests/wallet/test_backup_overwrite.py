"""`mydata wallet backup FILE` never replaces an existing file without `--force` (QA: it
overwrote an earlier backup with one under a new phrase, and the earlier backup and what its
phrase restores were lost), and writes the file whole or not at all (a temporary file beside it,
renamed), readable by its owner only (0600). Real `mydata` processes and stores; the writer
(`wallet.backup.write_backup_file`) also on its own."""

from __future__ import annotations

import errno
import importlib
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from tests.conftest import MYDATA
from tests.vault.conftest import VaultService
from wallet.backup import write_backup_file

#: The module (``wallet.backup`` the attribute is the function ``backup``).
BACKUP_MODULE = importlib.import_module("wallet.backup")

PHRASE = re.compile(r"\b[0-9A-Z]{4}(?:-[0-9A-Z]{4}){7}\b")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MYDATA_STORE_KEY"}
    return {**env, "MYDATA_HOME": str(home), "MYDATA_PASSPHRASE": "backup overwrite test"}


def _wallet(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MYDATA, "wallet", *args],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _said(result: subprocess.CompletedProcess[str]) -> str:
    return " ".join((result.stdout + result.stderr).split())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    made = _wallet(tmp_path, "init")
    assert made.returncode == 0, _said(made)
    return tmp_path


@pytest.mark.slow
def test_an_existing_backup_is_kept_unless_force(home: Path) -> None:
    target = home / "wallet.backup"
    first = _wallet(home, "backup", str(target))
    assert first.returncode == 0, _said(first)
    [first_phrase] = PHRASE.findall(first.stdout)
    assert _mode(target) == 0o600
    kept = target.read_bytes()

    again = _wallet(home, "backup", str(target))
    said = _said(again)
    assert again.returncode == 2, said
    assert f"error: [invalidInput] {target} exists" in said
    assert "--force to replace it" in said
    assert "nothing was backed up" in said
    assert not PHRASE.search(again.stdout)  # no phrase for a backup that was not made
    assert target.read_bytes() == kept
    # ... and the earlier backup still opens with its own phrase.
    restored = _wallet(
        home, "restore", str(target), "--phrase", first_phrase, "--store", str(home / "a.sqlite")
    )
    assert restored.returncode == 0, _said(restored)

    target.chmod(0o644)
    forced = _wallet(home, "backup", str(target), "--force")
    assert forced.returncode == 0, _said(forced)
    [second_phrase] = PHRASE.findall(forced.stdout)
    assert target.read_bytes() != kept
    assert _mode(target) == 0o600  # a new file, not the old one's mode
    assert _leftovers(home) == []
    wrong = _wallet(
        home, "restore", str(target), "--phrase", first_phrase, "--store", str(home / "b.sqlite")
    )
    assert wrong.returncode == 1
    assert "backupWrongPhrase" in _said(wrong)
    right = _wallet(
        home, "restore", str(target), "--phrase", second_phrase, "--store", str(home / "c.sqlite")
    )
    assert right.returncode == 0, _said(right)


def test_a_folder_or_a_missing_folder_is_refused_before_anything(home: Path) -> None:
    folder = _wallet(home, "backup", str(home))
    assert folder.returncode == 2, _said(folder)
    assert f"{home} is a folder" in _said(folder)
    missing = home / "nowhere" / "wallet.backup"
    nowhere = _wallet(home, "backup", str(missing))
    assert nowhere.returncode == 2, _said(nowhere)
    assert f"the folder {missing.parent} does not exist" in _said(nowhere)
    for result in (folder, nowhere):
        assert not PHRASE.search(result.stdout)
        assert "Traceback" not in _said(result)


def test_a_symlink_is_an_existing_file(home: Path) -> None:
    link = home / "link.backup"
    link.symlink_to(home / "elsewhere.backup")  # dangling: still never written through
    refused = _wallet(home, "backup", str(link))
    assert refused.returncode == 2, _said(refused)
    assert not (home / "elsewhere.backup").exists()


# --- the writer ----------------------------------------------------------------------------------


def test_write_backup_file_is_0600_whatever_the_umask(tmp_path: Path) -> None:
    target = tmp_path / "new.backup"
    previous = os.umask(0)
    try:
        write_backup_file(target, b"ciphertext")
    finally:
        os.umask(previous)
    assert target.read_bytes() == b"ciphertext"
    assert _mode(target) == 0o600
    assert _leftovers(tmp_path) == []


def test_write_backup_file_never_replaces_without_replace(tmp_path: Path) -> None:
    """Also when the file appears after the command checked (the link fails, EEXIST)."""
    target = tmp_path / "old.backup"
    target.write_bytes(b"the earlier backup")
    with pytest.raises(FileExistsError):
        write_backup_file(target, b"a new one")
    assert target.read_bytes() == b"the earlier backup"
    assert _leftovers(tmp_path) == []
    write_backup_file(target, b"a new one", replace=True)
    assert target.read_bytes() == b"a new one"
    assert _mode(target) == 0o600


def test_without_hard_links_it_still_never_replaces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(source: object, target: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(BACKUP_MODULE.os, "link", no_links)
    fresh = tmp_path / "fresh.backup"
    write_backup_file(fresh, b"data")
    assert fresh.read_bytes() == b"data"
    with pytest.raises(FileExistsError):
        write_backup_file(fresh, b"other")
    assert fresh.read_bytes() == b"data"
    assert _leftovers(tmp_path) == []


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "old.backup"
    target.write_bytes(b"the earlier backup")

    def disk_full(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(BACKUP_MODULE.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_backup_file(target, b"a new one", replace=True)
    assert target.read_bytes() == b"the earlier backup"
    assert _leftovers(tmp_path) == []


@pytest.mark.slow
def test_the_phrase_is_shown_when_the_vault_has_the_backup_but_the_file_failed(
    home: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """`backup FILE --vault URL`: the vault stored it, then FILE could not be written (here a
    folder nothing can be created in, even by root): the phrase that opens the vault's backup
    is still shown, then the error (exit 1)."""
    vault = VaultService(tmp_path_factory.mktemp("vault"))
    try:
        result = _wallet(home, "backup", "/proc/wallet.backup", "--vault", vault.url)
    finally:
        vault.stop()
    said = _said(result)
    assert result.returncode == 1, said
    assert f"stored in the vault {vault.url}" in said
    assert PHRASE.search(result.stdout), said
    assert "error: [storeBackendError] the backup was not written to /proc/wallet.backup" in said
    assert "Traceback" not in said
