"""The processes the crash tests kill with SIGKILL (``multiprocessing`` spawn children).

Each does real work on a real store and appends one line to a progress file after each
committed step, so the parent knows what was durable before the kill. ``crash_at`` makes the
child kill itself with SIGKILL at one named point (a deterministic crash window); without it
the parent kills it at a time of its choosing.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

from agent.clock import utcnow
from agent.keys import AskarKeyStore
from agent.storage import open_store
from issuer.audit import AuditLog
from issuer.hospital import Hospital
from wallet import open_wallet, restore


def _progress(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def receive(uri: str, raw_key: str, credentials_file: str, progress: str) -> None:
    """A wallet receiving credentials one by one (as from a hospital's offers)."""

    items: list[Any] = json.loads(Path(credentials_file).read_text("utf-8"))

    async def main() -> None:
        wallet = await open_wallet(uri, raw_key=raw_key)
        for item in items:
            stored = await wallet.add_credential(item)
            _progress(Path(progress), stored.id)
        await wallet.close()

    asyncio.run(main())


def revoke_many(uri: str, raw_key: str, ids_file: str, progress: str, crash_at: str) -> None:
    """The hospital revoking many credentials (a status list update per credential).

    ``crash_at="after-bit"``: SIGKILL right after the first revocation's status bit is
    committed, before anything else happens.
    """

    ids: list[str] = json.loads(Path(ids_file).read_text("utf-8"))

    async def main() -> None:
        store = await open_store(uri, raw_key=raw_key, create=False)
        hospital = await Hospital.load(store)
        assert hospital is not None
        if crash_at == "after-bit":
            original = hospital.status.set_status

            async def set_then_die(
                list_id: str, index: int, purpose: str, value: bool, **kwargs: Any
            ) -> bool:
                changed = await original(list_id, index, purpose, value, **kwargs)
                _die()
                return changed

            hospital.status.set_status = set_then_die  # type: ignore[method-assign]
        for credential_id in ids:
            await hospital.update_status(credential_id, "revoked")
            _progress(Path(progress), credential_id)
        await store.close()

    asyncio.run(main())


def restore_backup(
    uri: str, raw_key: str, backup_file: str, phrase: str, progress: str, crash_at: str
) -> None:
    """A restore into an empty store. ``crash_at="after-first-key"``: SIGKILL once the
    backup's keys have been written (keys are written before the records)."""

    data = Path(backup_file).read_bytes()

    async def main() -> None:
        store = await open_store(uri, raw_key=raw_key)
        if crash_at == "after-first-key":
            original = AskarKeyStore.import_secrets_in

            async def import_then_die(self: AskarKeyStore, *args: Any, **kwargs: Any) -> list[str]:
                multikeys = await original(self, *args, **kwargs)
                _die()
                return multikeys

            AskarKeyStore.import_secrets_in = import_then_die  # type: ignore[method-assign]
        summary = await restore(data, phrase, into=store)
        _progress(Path(progress), str(summary.credentials))
        await store.close()

    asyncio.run(main())


async def audit_revocations(store_uri: str, raw_key: str) -> set[str]:
    """The credential ids the hospital's audit log says were revoked."""
    store = await open_store(store_uri, raw_key=raw_key, create=False)
    try:
        log = AuditLog(store, clock=utcnow)
        found: set[str] = set()
        since = 0
        while True:
            page = await log.entries(since, 500)
            if not page:
                return found
            for entry in page:
                if entry.event == "credential.revoked":
                    found.add(str(entry.fields["credential_id"]))
            since = page[-1].seq
    finally:
        await store.close()
