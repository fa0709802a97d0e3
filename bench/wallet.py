"""The citizen's wallet: search latency at 10,000 credentials, backup and restore of 1,000.

Search is compared with the store's own cost of one tag query (``count`` with the same filter);
backup and restore with the Argon2id derivation they each run once (the recovery phrase's KDF),
measured in the same run.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from agent.storage import generate_raw_key, open_store
from bench.harness import Figure, Results
from bench.wallet_search import CODES, META_CATEGORY, fill
from wallet import Wallet
from wallet.backup import DEFAULT_KDF, backup, generate_recovery_phrase, restore

__all__ = ["run"]


async def _search(count: int, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        wallet = await fill(Path(tmp) / "search.db", count)
        try:
            figures: dict[str, Any] = {}
            for name, criteria in (
                ("by code", {"code": CODES[17]}),
                ("free text, two words", {"text": "word42 word43"}),
            ):
                times = []
                for _ in range(runs):
                    start = time.perf_counter()
                    await wallet.search(**criteria)
                    times.append(time.perf_counter() - start)
                figures[name] = statistics.median(times)
            store = wallet._store  # the raw tag query, for the ratio
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                async with store.session() as session:
                    await session.count(META_CATEGORY, {"code": CODES[17]})
                times.append(time.perf_counter() - start)
            figures["floor"] = statistics.median(times)
            return figures
        finally:
            await wallet.close()


async def _backup_restore(count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        wallet = await fill(Path(tmp) / "wallet.db", count)
        phrase = generate_recovery_phrase()
        start = time.perf_counter()
        data = await backup(wallet, phrase)
        backup_seconds = time.perf_counter() - start
        await wallet.close()
        target = await open_store(Path(tmp) / "restored.db", raw_key=generate_raw_key())
        start = time.perf_counter()
        await restore(data, phrase, into=target)
        restore_seconds = time.perf_counter() - start
        restored = Wallet(target, close_store=True)
        listed = len(await restored.list())
        await restored.close()
        if listed != count:
            raise AssertionError(f"restored {listed} of {count} credentials")
        return {"backup": backup_seconds, "restore": restore_seconds, "bytes": float(len(data))}


def _argon2id() -> float:
    params = DEFAULT_KDF
    start = time.perf_counter()
    Argon2id(
        salt=b"0" * 16,
        length=64,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    ).derive(b"a recovery phrase of 150 bits")
    return time.perf_counter() - start


def run(results: Results, *, repeats: int, min_time: float) -> None:
    quick = min_time < 0.1
    count = 1_000 if quick else 10_000
    runs = 10 if quick else 50
    search = asyncio.run(_search(count, runs))
    group = f"wallet search at {count:,} credentials (SQLite)"
    floor = results.add(
        Figure(
            "tag query floor: askar count, one code",
            search["floor"],
            [search["floor"]],
            group=group,
        )
    )
    for name in ("by code", "free text, two words"):
        results.add(
            Figure(
                f"search {name} (p50)",
                search[name],
                [search[name]],
                group=group,
                baseline=floor.name,
            )
        )
    kdf = results.add(
        Figure("argon2id, the backup KDF (once)", _argon2id(), [], group="primitives")
    )
    figures = asyncio.run(_backup_restore(1_000))
    group = f"wallet backup and restore of 1,000 credentials ({figures['bytes'] / 1024:,.0f} KiB)"
    for name in ("backup", "restore"):
        results.add(Figure(name, figures[name], [figures[name]], group=group, baseline=kdf.name))
