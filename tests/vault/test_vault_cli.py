"""End to end: `mydata wallet backup --vault` to a real `mydata serve vault`, then `mydata wallet
restore --vault` on a new device with only the recovery phrase."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

from agent.storage import open_store
from tests.vault.conftest import MARKER, PASSPHRASE, Citizen, VaultService
from wallet import generate_recovery_phrase


def _phrase(output: str) -> str:
    found = re.search(r"\b([0-9A-Z]{4}(?:-[0-9A-Z]{4}){7})\b", output)
    assert found, output
    return found.group(1)


def test_backup_to_the_vault_and_restore_with_only_the_phrase(
    tmp_path: Path, vault: VaultService, citizen: Citizen
) -> None:
    done = citizen.wallet("backup", "--vault", vault.url)
    assert "stored in the vault" in done.stdout
    phrase = _phrase(done.stdout)

    new_phone = Citizen(tmp_path / "new-phone", filled=False)
    restored = new_phone.wallet("restore", "--vault", vault.url, "--phrase", phrase.lower())
    assert "restored 3 credential(s), 1 consent(s), 2 key(s)" in restored.stdout
    assert citizen.holder is not None
    assert citizen.holder in restored.stdout

    before, after = citizen.listed(), new_phone.listed()
    assert len(after) == 3
    assert [c["id"] for c in after] == [c["id"] for c in before]
    assert after == before
    assert new_phone.consents() == citizen.consents()
    w3c = next(c for c in after if c["format"] == "ldp_vc")
    assert MARKER in new_phone.wallet("show", w3c["id"], "--json").stdout


def test_a_file_and_the_vault_at_once(
    tmp_path: Path, vault: VaultService, citizen: Citizen
) -> None:
    phrase = generate_recovery_phrase()
    file = tmp_path / "wallet.backup"
    done = citizen.wallet("backup", str(file), "--vault", vault.url, "--phrase", phrase)
    assert "recovery phrase" not in done.stdout  # a phrase given is not shown again
    assert file.stat().st_mode & 0o077 == 0
    from_file = Citizen(tmp_path / "from-file", filled=False)
    from_file.wallet("restore", str(file), "--phrase", phrase)
    assert from_file.listed() == citizen.listed()


def test_wrong_phrase_restores_nothing_and_writes_nothing(
    tmp_path: Path, vault: VaultService, citizen: Citizen
) -> None:
    citizen.wallet("backup", "--vault", vault.url, "--phrase", generate_recovery_phrase())
    new_phone = Citizen(tmp_path / "new-phone", filled=False)
    wrong = new_phone.wallet(
        "restore", "--vault", vault.url, "--phrase", generate_recovery_phrase(), check=False
    )
    assert wrong.returncode == 1
    assert "backupWrongPhrase" in wrong.stderr
    assert "no backup for this recovery phrase" in wrong.stderr
    assert not any(new_phone.home.iterdir())  # no wallet file, no key file, nothing

    mistyped = new_phone.wallet(
        "restore", "--vault", vault.url, "--phrase", "0000-0000-0000", check=False
    )
    assert mistyped.returncode == 1
    assert "backupWrongPhrase" in mistyped.stderr
    assert not any(new_phone.home.iterdir())


def test_a_stale_device_cannot_overwrite_a_newer_backup(
    tmp_path: Path, vault: VaultService, citizen: Citizen
) -> None:
    phrase = generate_recovery_phrase()
    first = citizen.wallet("backup", "--vault", vault.url, "--phrase", phrase)
    assert "stored in the vault" in first.stdout
    again = citizen.wallet("backup", "--vault", vault.url, "--phrase", phrase)
    assert "replaced in the vault" in again.stdout  # this device wrote the current one

    # A second device restores from the vault, and backs up over it (it read the current one).
    tablet = Citizen(tmp_path / "tablet", filled=False)
    tablet.wallet("restore", "--vault", vault.url, "--phrase", phrase)
    assert (
        "replaced in the vault"
        in tablet.wallet("backup", "--vault", vault.url, "--phrase", phrase).stdout
    )

    # The first device's idea of the vault is now stale: refused, nothing replaced.
    stale = citizen.wallet("backup", "--vault", vault.url, "--phrase", phrase, check=False)
    assert stale.returncode == 1
    assert "backupTargetNotEmpty" in stale.stderr
    assert "--force" in stale.stderr

    # A wallet that never saw this slot cannot overwrite it either.
    stranger = Citizen(tmp_path / "stranger", filled=True)
    refused = stranger.wallet("backup", "--vault", vault.url, "--phrase", phrase, check=False)
    assert refused.returncode == 1
    assert "backupTargetNotEmpty" in refused.stderr

    forced = citizen.wallet("backup", "--vault", vault.url, "--phrase", phrase, "--force")
    assert "replaced in the vault" in forced.stdout


def test_restore_needs_a_file_or_a_vault(tmp_path: Path, vault: VaultService) -> None:
    phone = Citizen(tmp_path / "phone", filled=False)
    neither = phone.wallet("restore", "--phrase", generate_recovery_phrase(), check=False)
    assert neither.returncode == 2
    both = phone.wallet("restore", "x.backup", "--vault", vault.url, "--phrase", "p", check=False)
    assert both.returncode == 2
    assert phone.wallet("backup", check=False).returncode == 2


async def _profiles(citizen: Citizen) -> list[str]:
    store = await open_store(f"sqlite://{citizen.store}", passphrase=PASSPHRASE, create=False)
    try:
        return await store.list_profiles()
    finally:
        await store.close()


async def _add_profile(citizen: Citizen, name: str) -> None:
    store = await open_store(f"sqlite://{citizen.store}", passphrase=PASSPHRASE, create=False)
    try:
        await store.create_profile(name)
    finally:
        await store.close()


def test_a_failed_restore_into_a_new_profile_leaves_no_profile(
    tmp_path: Path, citizen: Citizen
) -> None:
    """Restoring into a new profile of an existing wallet store: a wrong phrase writes nothing,
    and the profile that opening made is removed again; the store's own profile, and a
    profile that was there before, are kept."""
    phrase = generate_recovery_phrase()
    file = tmp_path / "wallet.backup"
    citizen.wallet("backup", str(file), "--phrase", phrase)
    before = citizen.listed()
    profiles = asyncio.run(_profiles(citizen))
    assert "tablet" not in profiles

    wrong = citizen.wallet(
        "restore", str(file), "--phrase", generate_recovery_phrase(), "--profile", "tablet",
        check=False,
    )  # fmt: skip
    assert wrong.returncode == 1
    assert "backupWrongPhrase" in wrong.stderr
    assert asyncio.run(_profiles(citizen)) == profiles
    assert citizen.listed() == before

    # A profile that was there before the restore stays, empty or not.
    asyncio.run(_add_profile(citizen, "spare"))
    spare = citizen.wallet(
        "restore", str(file), "--phrase", generate_recovery_phrase(), "--profile", "spare",
        check=False,
    )  # fmt: skip
    assert spare.returncode == 1
    assert asyncio.run(_profiles(citizen)) == sorted([*profiles, "spare"])
    profiles = sorted([*profiles, "spare"])

    right = citizen.wallet("restore", str(file), "--phrase", phrase, "--profile", "tablet")
    assert "restored" in right.stdout
    assert asyncio.run(_profiles(citizen)) == sorted([*profiles, "tablet"])
    tablet = json.loads(citizen.wallet("list", "--json", "--profile", "tablet").stdout)
    assert [c["id"] for c in tablet] == [c["id"] for c in before]
