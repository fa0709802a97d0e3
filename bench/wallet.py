"""The citizen's wallet: search latency at 10,000 credentials, backup and restore of 1,000.

Search is timed twice, through askar's SQL (a wallet without its index: a one-shot CLI) and
from the in-memory index (:meth:`wallet.Wallet.load_search_index`, the wallet service), and
compared with the store's own cost of one tag query (``count`` with the same filter);
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
from bench.wallet_search import CODES, ISSUERS, TYPES, fill
from wallet import META_CATEGORY, Wallet
from wallet.backup import DEFAULT_KDF, backup, generate_recovery_phrase, restore

__all__ = ["run"]


#: The queries timed, as ``bench/wallet_search.py`` names them (hits at 10,000 in docs/wallet.md).
QUERIES: dict[str, dict[str, Any]] = {
    "by code": {"code": CODES[17]},
    "free text, two words": {"text": "word42 word43"},
    "free text, one word": {"text": "word42"},
    "type + issuer": {"type": TYPES[3], "issuer": ISSUERS[5]},
}


async def _p50(wallet: Wallet, runs: int, criteria: dict[str, Any]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await wallet.search(**criteria)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def _search(count: int, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        wallet = await fill(Path(tmp) / "search.db", count)
        try:
            figures: dict[str, Any] = {}
            for name, criteria in QUERIES.items():  # askar's SQL and decryption of the hits
                figures[f"sql {name}"] = await _p50(wallet, runs, criteria)
            store = wallet._store  # the raw tag query, for the ratio
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                async with store.session() as session:
                    await session.count(META_CATEGORY, {"code": CODES[17]})
                times.append(time.perf_counter() - start)
            figures["floor"] = statistics.median(times)
            start = time.perf_counter()
            await wallet.load_search_index()
            figures["index build"] = time.perf_counter() - start
            for name, criteria in QUERIES.items():
                expected = [c.id for c in await wallet.search(**criteria)]
                figures[f"index {name}"] = await _p50(wallet, runs, criteria)
                figures[f"hits {name}"] = len(expected)
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
    count = 300 if quick else 10_000
    kept = 100 if quick else 1_000
    runs = 10 if quick else 50
    search = asyncio.run(_search(count, runs))
    group = f"wallet search at {count:,} credentials (SQLite), p50 of {runs}"
    floor = results.add(
        Figure(
            "tag query floor: askar count, one code",
            search["floor"],
            [search["floor"]],
            group=group,
        )
    )
    for name in QUERIES:
        results.info[f"wallet.search_hits.{name}"] = search[f"hits {name}"]
        for how, label in (("sql", "askar query"), ("index", "in-memory index")):
            results.add(
                Figure(
                    f"search {name} ({search[f'hits {name}']} hits), {label}",
                    search[f"{how} {name}"],
                    [search[f"{how} {name}"]],
                    group=group,
                    baseline=floor.name,
                )
            )
        results.under(
            f"wallet search at {count:,}, {name}, p50 under 5 ms",
            f"search {name} ({search[f'hits {name}']} hits), in-memory index",
            5.0,
        )
    results.add(
        Figure(
            "load_search_index (once per open, opt-in)",
            search["index build"],
            [search["index build"]],
            group=group,
        )
    )
    kdf = results.add(
        Figure("argon2id, the backup KDF (once)", _argon2id(), [], group="primitives")
    )
    figures = asyncio.run(_backup_restore(kept))
    group = (
        f"wallet backup and restore of {kept:,} credentials ({figures['bytes'] / 1024:,.0f} KiB)"
    )
    for name in ("backup", "restore"):
        results.add(Figure(name, figures[name], [figures[name]], group=group, baseline=kdf.name))
