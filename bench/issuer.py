"""Hospital issuance: batch jobs (credentials/s, peak memory) and the VC-API under load.

Each batch runs in a subprocess of its own, so its peak RSS is its own. The batch size is
``MYDATA_BENCH_BATCH`` (default 100,000; 2,000 with ``--quick``); PostgreSQL runs when
``MYDATA_BENCH_POSTGRES_URL`` or ``MYDATA_TEST_POSTGRES_URL`` is set.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from nacl.signing import SigningKey

from bench.harness import Figure, Results, measure

__all__ = ["run"]

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "mydata" / "samples" / "ips-emergency-bundle.json"
HOLDER_JWK = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}

_WORKER = r"""
import asyncio, json, resource, sys, time
from agent.storage import open_store, generate_raw_key, remove_store
from issuer.hospital import Hospital
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
    start = time.perf_counter()
    result = await hospital.run_batch("bench", patients, credential_format=fmt)
    seconds = time.perf_counter() - start
    await store.close()
    if uri.startswith("postgres"):
        await remove_store(uri)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "issued": result.issued, "peak_mb": peak}))
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _vc_api(n: int, concurrency: int = 8) -> tuple[float, list[float]]:
    """Requests/s and latencies of ``POST /credentials/issue`` on a real service."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MYDATA_HOME": tmp, "MYDATA_ADMIN_TOKEN": "bench-token"}
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
        port = _free_port()
        server = subprocess.Popen(
            [
                mydata,
                "serve",
                "hospital",
                "--port",
                str(port),
                "--store",
                store,
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            credential = {
                "@context": [
                    "https://www.w3.org/ns/credentials/v2",
                    "https://w3id.org/health-mydata/v1",
                ],
                "type": ["VerifiableCredential", "AllergyIntoleranceCredential"],
                "credentialSubject": {
                    "id": "did:example:123",
                    "fhirVersion": "4.0.1",
                    "fhirResource": {"resourceType": "AllergyIntolerance"},
                },
            }
            return asyncio.run(_load(port, credential, n, concurrency))
        finally:
            server.terminate()
            server.wait(timeout=10)


async def _load(
    port: int, credential: dict[str, Any], n: int, concurrency: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    headers = {"Authorization": "Bearer bench-token"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
        queue = list(range(n))

        async def worker() -> None:
            while queue:
                queue.pop()
                start = time.perf_counter()
                response = await client.post("/credentials/issue", json={"credential": credential})
                latencies.append(time.perf_counter() - start)
                response.raise_for_status()

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return n / elapsed, sorted(latencies)


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
    backends = {"sqlite": lambda: f"sqlite://{tempfile.mkdtemp()}/bench.sqlite"}
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
            results.add(
                Figure(
                    f"batch {fmt} on {backend}: {n:,} in {outcome['seconds']:.1f} s, "
                    f"peak {outcome['peak_mb']:.0f} MB",
                    per,
                    [per],
                    group=f"hospital batch issuance ({n:,} credentials with status)",
                    baseline=sign.name,
                )
            )
            results.info[f"issuer.batch.{backend}.{fmt}"] = outcome
    requests = 300 if quick else 3000
    print(f"  VC-API issue, {requests} requests, 8 clients ...", flush=True)
    rate, latencies = _vc_api(requests)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    results.add(
        Figure(
            f"VC-API POST /credentials/issue: {rate:,.0f}/s, p99 {p99 * 1000:.1f} ms",
            1 / rate,
            [1 / rate],
            group="hospital VC-API (8 concurrent clients)",
            baseline=sign.name,
        )
    )
    results.info["issuer.vcapi"] = {"requests_per_second": rate, "p99_ms": p99 * 1000}
