"""Throughput of issuer.batch for 100,000 patients (not a test; run it by hand).

    .venv/bin/python -m tests.issuer_batch.bench_batch [--postgres URL] [-n 100000] [--signed]

``--signed`` uses the real issue_one of ``_issuing`` (eddsa-jcs-2022 over an askar key, a
status index per credential allocated per chunk); otherwise issue_one returns a fixed string,
which measures storage alone.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from agent.clock import utcnow
from agent.storage import generate_raw_key, open_store, remove_store
from agent.types import JSONObject
from issuer.batch import BatchJobs
from tests.issuer_batch._issuing import create_issuer_key, make_issuer, patients


async def _trivial(patient_key: str, payload: JSONObject) -> tuple[str, str]:
    return f"urn:x:{patient_key}", "eyJhbGciOiJFZERTQSJ9.e30.c2lnbmF0dXJl~" + patient_key


async def bench(uri: str, n: int, signed: bool) -> None:
    store = await open_store(uri, raw_key=generate_raw_key())
    try:
        jobs = BatchJobs(store, clock=utcnow)
        items = patients(n)
        started = time.perf_counter()
        await jobs.create("bench", items, "vc+di")
        created = time.perf_counter() - started
        before_chunk = None
        issue_one = _trivial
        if signed:
            vm = await create_issuer_key(store)
            issue_one, before_chunk = await make_issuer(store, vm)  # type: ignore[assignment]
        started = time.perf_counter()
        result = await jobs.run("bench", issue_one, before_chunk=before_chunk)
        ran = time.perf_counter() - started
        started = time.perf_counter()
        listed = await jobs.credentials("bench", limit=n)
        read = time.perf_counter() - started
        assert result.issued == n == len(listed)
        kind = "signed+status" if signed else "trivial"
        print(
            f"{uri.split(':')[0]:8} {kind:13} n={n}: create {created:.2f} s, run {ran:.2f} s "
            f"({n / ran:,.0f}/s), read all {read:.2f} s"
        )
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", default="")
    parser.add_argument("-n", type=int, default=100_000)
    parser.add_argument("--signed", action="store_true")
    args = parser.parse_args()
    if args.postgres:
        base = args.postgres.rpartition("/")[0]
        uri = f"{base}/mydata_bench_{uuid.uuid4().hex[:8]}"
        try:
            asyncio.run(bench(uri, args.n, args.signed))
        finally:
            asyncio.run(remove_store(uri))
    else:
        with tempfile.TemporaryDirectory() as directory:
            asyncio.run(bench(f"sqlite://{Path(directory) / 'bench.db'}", args.n, args.signed))


if __name__ == "__main__":
    main()
