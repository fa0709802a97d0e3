"""Hospital issuance: batch jobs (credentials/s, peak memory) and the VC-API under load.

Each batch runs in a subprocess of its own, so its peak RSS is its own. The batch size is
``MYDATA_BENCH_BATCH`` (default 100,000; 2,000 with ``--quick``); PostgreSQL runs when
``MYDATA_BENCH_POSTGRES_URL`` or ``MYDATA_TEST_POSTGRES_URL`` is set. Besides the wall time,
each batch reports its CPU time, the batch process's and its FHIR worker's
(``issuer.batch``) apart, and the load average before and after: on the shared 2-core machine
the CPU time per credential is the figure to compare between runs, the wall time only on a
quiet machine.

The VC-API figure is ``POST /credentials/issue`` of the 3 KB FHIR-based credential of the
other figures (revocation and suspension entries, audit entry, issuance record; until the
fourth pass a 300-byte one, which made the figure about a fifth too good) from 8 keep-alive
clients for 10 s (2 s with ``--quick``) against
``mydata serve hospital --workers N``, N = 1 and 2, driven as ``bench/services.py`` drives
its figures (``wrk`` when it is installed, else the asyncio client), which also reports the
server's CPU time per request: on a shared machine that, not the rate, is the figure to
compare between runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey

from agent.storage import generate_raw_key, remove_store
from bench.harness import Figure, Results, measure
from bench.proofs import credential_3kb
from bench.services import LOADERS, Load, load_generator, start_service

__all__ = ["run"]

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "mydata" / "samples" / "ips-emergency-bundle.json"
HOLDER_JWK = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}

_WORKER = r"""
import asyncio, json, os, resource, sys, time
from agent.storage import configure_runtime, open_store, generate_raw_key, remove_store
from issuer.hospital import Hospital
configure_runtime()  # as the mydata command does
uri, fmt, n, sample = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
jwk = json.loads(sys.argv[5])
async def main():
    store = await open_store(uri, raw_key=generate_raw_key())
    hospital = await Hospital.init(store, base_url="https://hospital.example", did_method="web")
    bundle = json.load(open(sample))
    resources = [e["resource"] for e in bundle["entry"]]
    allergy = next(r for r in resources if r["resourceType"] == "AllergyIntolerance")
    subject = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
    item = {"subject": subject, "fhir": allergy, "holderJwk": jwk}
    patients = ((f"p{i}", item) for i in range(n))
    load_before = os.getloadavg()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time()
    start = time.perf_counter()
    result = await hospital.run_batch("bench", patients, credential_format=fmt)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    load_after = os.getloadavg()
    await store.close()
    if uri.startswith("postgres"):
        await remove_store(uri)
    # VmHWM is this process's own high-water mark; ru_maxrss would carry over the bench
    # process's (Linux keeps it across fork and exec), hundreds of MB after the wallet group.
    try:
        hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
        peak = int(hwm.split()[1]) / 1024
    except (OSError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({
        "seconds": seconds, "cpu_seconds": cpu, "worker_cpu_seconds": worker_cpu,
        "issued": result.issued, "peak_mb": peak, "worker_peak_mb": after.ru_maxrss / 1024,
        "load": [load_before, load_after],
    }))
asyncio.run(main())
"""


def _batch(uri: str, fmt: str, n: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", _WORKER, uri, fmt, str(n), str(SAMPLE), json.dumps(HOLDER_JWK)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _credential() -> dict[str, Any]:
    """The issue-8 credential: the 3 KB FHIR-based one the verifier figures use
    (``bench.proofs.credential_3kb``), unsigned, without issuer or id (the service sets them)."""
    unsigned = credential_3kb("")
    del unsigned["issuer"], unsigned["id"]
    return unsigned


def _vc_api(workers: int, seconds: float, postgres: str | None) -> Load:
    """``POST /credentials/issue`` from 8 keep-alive clients against ``mydata serve hospital
    --workers N`` on a new store (SQLite, or a new PostgreSQL database)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "MYDATA_HOME": tmp,
            "MYDATA_ADMIN_TOKEN": "bench-token",
            "MYDATA_STORE_KEY": generate_raw_key(),
        }
        if postgres:
            store = f"{postgres.rsplit('/', 1)[0]}/mydata_bench_{uuid.uuid4().hex[:8]}"
        else:
            store = f"sqlite://{tmp}/hospital.sqlite"
        mydata = str(Path(sys.executable).with_name("mydata"))
        subprocess.run(
            [
                mydata,
                "hospital",
                "init",
                "--base-url",
                "https://hospital.example",
                "--store",
                store,
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        try:
            args = ["--store", store, "--workers", str(workers)]
            with start_service("hospital", args, env) as (port, _, process):
                return LOADERS[load_generator()](
                    port,
                    "/credentials/issue",
                    {"credential": _credential()},
                    seconds=seconds,
                    headers={"Authorization": "Bearer bench-token"},
                    server_pid=process.pid,
                )
        finally:
            if postgres:
                asyncio.run(remove_store(store))


def run(results: Results, *, repeats: int, min_time: float) -> None:
    quick = min_time < 0.1
    n = int(os.environ.get("MYDATA_BENCH_BATCH", "2000" if quick else "100000"))
    key = SigningKey.generate()
    sign = results.add(
        measure(
            "ed25519 sign (pynacl), issuer floor",
            lambda: key.sign(b"x" * 64),
            repeats=repeats,
            min_time=min_time,
            group="primitives",
        )
    )
    backends: dict[str, Callable[[], str]] = {
        "sqlite": lambda: f"sqlite://{tempfile.mkdtemp()}/bench.sqlite"
    }
    postgres = os.environ.get("MYDATA_BENCH_POSTGRES_URL") or os.environ.get(
        "MYDATA_TEST_POSTGRES_URL"
    )
    if postgres:
        base = postgres.rsplit("/", 1)[0]
        backends["postgres"] = lambda: f"{base}/mydata_bench_{uuid.uuid4().hex[:8]}"
    for backend, uri in backends.items():
        for fmt in ("vc", "sd-jwt"):
            print(f"  batch of {n:,} {fmt} on {backend} ...", flush=True)
            outcome = _batch(uri(), fmt, n)
            per = outcome["seconds"] / n
            cpu_ms = outcome["cpu_seconds"] / n * 1000
            worker_ms = outcome["worker_cpu_seconds"] / n * 1000
            worker_mb = outcome["worker_peak_mb"]
            load = outcome["load"][1][0]
            results.add(
                Figure(
                    f"batch {fmt} on {backend}: {n:,} in {outcome['seconds']:.1f} s, "
                    f"CPU {cpu_ms:.2f} ms + worker {worker_ms:.2f} ms per credential, "
                    f"peak {outcome['peak_mb']:.0f} MB (worker {worker_mb:.0f} MB), "
                    f"load {load:.1f}",
                    per,
                    [per],
                    group=f"hospital batch issuance ({n:,} credentials with status)",
                    baseline=sign.name,
                )
            )
            results.info[f"issuer.batch.{backend}.{fmt}"] = outcome
    seconds = 2.0 if quick else 10.0
    stores = {"sqlite": None, **({"postgres": postgres} if postgres else {})}
    for backend, url in stores.items():
        for workers in (1, 2):
            print(f"  VC-API issue, {workers} worker(s) on {backend}, 8 clients ...", flush=True)
            api = _vc_api(workers, seconds, url)
            p99 = api.percentile(99)
            results.add(
                Figure(
                    f"VC-API POST /credentials/issue, {workers} worker(s), {backend}: "
                    f"{api.rate:,.0f}/s, p99 {p99 * 1000:.1f} ms, server CPU "
                    f"{api.server_cpu * 1000:.2f} ms/request",
                    1 / api.rate,
                    [1 / api.rate],
                    group="hospital VC-API (8 concurrent clients)",
                    baseline=sign.name,
                )
            )
            figures = {
                "requests_per_second": api.rate,
                "p99_ms": p99 * 1000,
                "server_cpu_ms": api.server_cpu * 1000,
                "client_cpu_ms": api.client_cpu * 1000,
                "statuses": api.statuses,
            }
            results.info[f"issuer.vcapi.{backend}.workers{workers}"] = figures
            if backend == "sqlite" and workers == 1:
                results.info["issuer.vcapi"] = figures
    results.info["issuer.load"] = os.getloadavg()
