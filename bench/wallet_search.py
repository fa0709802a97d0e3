"""Search latency of a wallet holding 10,000 credentials (not collected by pytest).

    .venv/bin/python -m bench.wallet_search [--count 10000] [--db /tmp/wallet-bench.db] [--index]

The store is filled once and reused (delete the file to refill). Records are written with the
wallet's own tag builder (:func:`wallet.search.credential_tags`) and metadata, as
:meth:`wallet.Wallet.add_credential` writes them, but without issuing and verifying 10,000
signatures, which is not what is measured. No ``ANALYZE`` is run: the wallet cannot run it.
Each credential has 1-2 types, an issuer (of 20), 2-4 FHIR codes (of 2,000), 30 words (of a
5,000-word vocabulary) and an issuance day within three years.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from agent.storage import Session, generate_raw_key, open_store
from wallet import CREDENTIAL_CATEGORY, META_CATEGORY, CredentialFormat, StoredCredential, Wallet
from wallet.search import WORDS_CATEGORY, credential_tags, word_tags

SEED = b"wallet-search-benchmark-seed-32b"
TYPES = [f"https://w3id.org/health-mydata/vct/T{i}/v1" for i in range(10)]
ISSUERS = [f"did:web:hospital{i}.example" for i in range(20)]
CODES = [f"http://snomed.info/sct|{100000 + i}" for i in range(2000)]
WORDS = [f"word{i}" for i in range(5000)]
START = datetime(2023, 1, 1, tzinfo=UTC)


def _credential(rng: random.Random, n: int) -> tuple[StoredCredential, list[str]]:
    types = tuple(rng.sample(TYPES, rng.randint(1, 2)))
    meta = StoredCredential(
        id=f"urn:uuid:bench-{n:06d}",
        format=rng.choice(list(CredentialFormat)),
        types=types,
        issuer=rng.choice(ISSUERS),
        issued=START + timedelta(days=rng.randrange(3 * 365)),
        valid_until=None,
        codes=tuple(rng.sample(CODES, rng.randint(2, 4))),
        summary=f"bench {n}",
        added=START,
    )
    return meta, rng.sample(WORDS, 30)


async def insert_record(
    txn: Session, meta: StoredCredential, words: list[str], secret: bytes, content_hash: str
) -> None:
    """Write ``meta`` as :meth:`wallet.Wallet.add_credential` writes a credential's records (its
    metadata with the search tags, its words index), with a placeholder for the credential.

    :param secret: the wallet's search secret (the words are stored as HMAC tags under it).
    """
    tags = credential_tags(
        credential_id=meta.id,
        types=meta.types,
        issuer=meta.issuer,
        format=str(meta.format),
        codes=meta.codes,
        issued=meta.issued,
        valid_until=None,
        content_hash=content_hash,
    )
    await txn.insert(CREDENTIAL_CATEGORY, meta.id, {"format": "x", "kept": "x"})
    await txn.insert(META_CATEGORY, meta.id, meta.to_json(), tags)
    await txn.insert(WORDS_CATEGORY, meta.id, b"", word_tags(words, secret))


async def fill(path: Path, count: int) -> Wallet:
    key = generate_raw_key(SEED)
    fresh = not await asyncio.to_thread(path.exists)
    store = await open_store(path, raw_key=key)
    wallet = Wallet(store, close_store=True)
    secret = await wallet._search_secret()
    async with store.session() as session:
        present = await session.count(META_CATEGORY)
    if fresh or present < count:
        rng = random.Random(7)
        started = time.perf_counter()
        for first in range(present, count, 1000):
            async with store.transaction() as txn:
                for n in range(first, min(first + 1000, count)):
                    meta, words = _credential(rng, n)
                    await insert_record(txn, meta, words, secret, f"{n:064x}")
                await txn.commit()
        print(f"filled {count - present} credentials in {time.perf_counter() - started:.1f} s")
    return wallet


async def measure(wallet: Wallet, name: str, runs: int, **criteria: Any) -> None:
    times = []
    found = 0
    for _ in range(runs):
        started = time.perf_counter()
        found = len(await wallet.search(**criteria))
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[int(len(times) * 0.95) - 1]
    print(f"{name:<34} {found:>6} hits  p50 {statistics.median(times):7.2f} ms  p95 {p95:7.2f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--db", type=Path, default=Path("/tmp/wallet-bench-10k.db"))
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--index", action="store_true", help="search the in-memory index")
    args = parser.parse_args()
    wallet = await fill(args.db, args.count)
    try:
        if args.index:
            started = time.perf_counter()
            await wallet.load_search_index()
            print(f"index loaded in {time.perf_counter() - started:.1f} s")
        runs = args.runs
        await measure(wallet, "code (system|code)", runs, code=CODES[17])
        await measure(wallet, "code (bare)", runs, code="100017")
        await measure(wallet, "text, one word", runs, text="word42")
        await measure(wallet, "text, two words", runs, text="word42 word43")
        await measure(wallet, "type + issuer", runs, type=TYPES[3], issuer=ISSUERS[5])
        await measure(
            wallet,
            "date range (one week)",
            runs,
            date_from=date(2024, 6, 1),
            date_to=date(2024, 6, 7),
        )
        await measure(wallet, "text + date range", runs, text="word42", date_from=date(2024, 1, 1))
        await measure(wallet, "type (~1,800 hits), limit 20", runs, type=TYPES[3], limit=20)
        await measure(wallet, "issuer (~500 hits)", max(5, runs // 5), issuer=ISSUERS[5])
        await measure(wallet, "type (~1,800 hits)", max(5, runs // 10), type=TYPES[3])
    finally:
        await wallet.close()


if __name__ == "__main__":
    asyncio.run(main())
