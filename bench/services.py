"""Service-level figures (issue 8): start-up, idle memory, and throughput over HTTP.

Every service is a real ``mydata serve ROLE`` process; the load comes from this process (a
separate one), over HTTP/1.1 keep-alive connections on 127.0.0.1.

(a) **Start-up and idle RSS** of each role: from process start to the first ``GET /healthz``
    answered 200, and ``VmRSS`` from ``/proc`` a second later. The floor is an interpreter
    that imports only FastAPI and uvicorn (the least a FastAPI service can load).
(b) **Verifier throughput**: ``POST /credentials/verify`` of a 3 KB hospital credential
    (eddsa-jcs-2022, did:web issuer, revocation and suspension status entries: every check
    runs, the DID document and the status list from the live hospital service, cached by the
    verifier within their lifetimes) from 8 concurrent clients for a fixed time. The ratio is
    to the same verification in process (``verifier.verify.verify_credential``, same caches).
(c) **Scale-out**: the verifier and the hospital's ``POST /credentials/issue`` with 1, 2 and 4
    uvicorn workers (``mydata serve --workers N``) on one PostgreSQL database (on SQLite when
    no PostgreSQL URL is set: ``MYDATA_BENCH_POSTGRES_URL`` or ``MYDATA_TEST_POSTGRES_URL``).

The load generator writes pre-built requests and reads ``Content-Length`` bodies on raw
asyncio streams: an HTTP client library would cost more CPU than the service under test, and
client and server share the same two cores. Besides rates and latencies it records the CPU
seconds per request of the server's processes, of itself and of the machine's ``postgres``
processes (``/proc``): on a shared machine these stay comparable when wall-clock rates do not.
The issue-8 targets (start-up < 1 s, idle RSS < 100 MB, >= 1,500 verifications/s with p99 <
20 ms) are judged with :meth:`bench.harness.Results.target`. ``python -m bench.services``
prints the status-list size simulation of ``docs/scale.md``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from agent.dids import DIDResolver
from agent.status import StatusChecker
from agent.storage import generate_raw_key, remove_store
from bench.harness import Figure, Results, Target
from bench.proofs import credential_3kb
from verifier.verify import verify_credential

__all__ = ["Load", "load", "run", "start_service"]

ROOT = Path(__file__).resolve().parent.parent
MYDATA = str(Path(sys.executable).with_name("mydata"))
TOKEN = "bench-token"
CLIENTS = 8
#: A request not answered in this many seconds stops the run (a hung service, not a figure).
REQUEST_TIMEOUT = 60.0
_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Load:
    """What :func:`load` measured: completed requests per second and their latencies."""

    rate: float
    latencies: list[float]  # seconds, sorted
    statuses: dict[int, int]
    #: CPU seconds per request the server (all its processes) and this load generator used:
    #: what a request costs whatever else the machine runs.
    server_cpu: float = float("nan")
    client_cpu: float = float("nan")
    #: CPU seconds per request of every ``postgres`` process on this machine (other users of
    #: the server included: an upper bound).
    database_cpu: float = float("nan")

    #: Percentiles the generator reported itself (wrk keeps no per-request list), in seconds.
    reported: dict[float, float] | None = None
    #: Which load generator measured this: ``wrk`` or ``asyncio``.
    generator: str = "asyncio"

    def percentile(self, p: float) -> float:
        if self.reported is not None:
            return self.reported[p]
        index = min(len(self.latencies) - 1, max(0, int(len(self.latencies) * p / 100) - 1))
        return self.latencies[index]

    #: Requests counted when there is no per-request list (wrk).
    count: int = 0

    @property
    def requests(self) -> int:
        return len(self.latencies) if self.reported is None else self.count


def _request(port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _client(port: int, request: bytes, until: float, seen: list[tuple[float, int]]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while (start := time.perf_counter()) < until:
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT)
            match = _LENGTH.search(head)
            await reader.readexactly(int(match.group(1)) if match else 0)
            seen.append((time.perf_counter() - start, int(head[9:12])))
    finally:
        writer.close()
        await writer.wait_closed()


_WRK_SCRIPT = """
wrk.method = "POST"
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.body = f:read("*a")
f:close()
for name, value in string.gmatch(os.getenv("BENCH_HEADERS"), "([^\\n:]+): ([^\\n]+)") do
  wrk.headers[name] = value
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\\"requests\\": %d, \\"duration_us\\": %d, \\"p50_us\\": %d, \\"p99_us\\": %d, "
    .. "\\"non_2xx\\": %d, \\"socket_errors\\": %d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def load_generator() -> str:
    """``wrk`` when it is on PATH (a C load generator: about a tenth of the CPU per request
    of the asyncio one, which matters when client and server share two cores), else
    ``asyncio``. ``MYDATA_BENCH_LOAD=asyncio`` forces the latter."""
    if os.environ.get("MYDATA_BENCH_LOAD") == "asyncio" or shutil.which("wrk") is None:
        return "asyncio"
    return "wrk"


def load_wrk(
    port: int,
    path: str,
    payload: dict[str, Any],
    *,
    seconds: float,
    warmup: float = 1.0,
    clients: int = CLIENTS,
    headers: dict[str, str] | None = None,
    server_pid: int | None = None,
) -> Load:
    """As :func:`load`, with ``wrk`` (one thread, ``clients`` keep-alive connections); its
    CPU time is read from this process's children times."""
    with tempfile.TemporaryDirectory() as tmp:
        body = Path(tmp) / "body.json"
        body.write_bytes(json.dumps(payload).encode())
        script = Path(tmp) / "post.lua"
        script.write_text(_WRK_SCRIPT)
        sent = {"Content-Type": "application/json", **(headers or {})}
        env = {
            **os.environ,
            "BENCH_BODY": str(body),
            "BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in sent.items()),
        }
        command = ["wrk", "-t1", f"-c{clients}", "-s", str(script)]
        url = f"http://127.0.0.1:{port}{path}"

        def wrk(duration: float) -> dict[str, Any]:
            done = subprocess.run(
                [*command, f"-d{max(1, round(duration))}s", url],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            line = next(x for x in done.stdout.splitlines() if x.startswith("WRKJSON "))
            stats: dict[str, Any] = json.loads(line.removeprefix("WRKJSON "))
            return stats

        def children_cpu() -> float:
            times = os.times()
            return times.children_user + times.children_system

        wrk(warmup)
        server_before = cpu_seconds(server_pid) if server_pid else float("nan")
        database_before = _postgres_cpu()
        client_before = children_cpu()
        stats = wrk(seconds)
        client = children_cpu() - client_before
        server = cpu_seconds(server_pid) - server_before if server_pid else float("nan")
        database = _postgres_cpu() - database_before
    if stats["non_2xx"] or stats["socket_errors"]:
        raise RuntimeError(f"wrk saw errors: {stats}")
    done = max(1, int(stats["requests"]))
    return Load(
        done / (stats["duration_us"] / 1e6),
        [],
        {200: done},
        server / done,
        client / done,
        database / done,
        reported={50: stats["p50_us"] / 1e6, 99: stats["p99_us"] / 1e6},
        generator="wrk",
        count=done,
    )


def load(
    port: int,
    path: str,
    payload: dict[str, Any],
    *,
    seconds: float,
    warmup: float = 1.0,
    clients: int = CLIENTS,
    headers: dict[str, str] | None = None,
    server_pid: int | None = None,
) -> Load:
    """``clients`` connections each sending ``payload`` back to back for ``seconds`` (after
    ``warmup`` seconds whose requests are not counted); with ``server_pid`` the CPU time of
    that process and its children is measured too."""
    request = _request(port, path, json.dumps(payload).encode(), headers or {})

    async def main() -> Load:
        warm: list[tuple[float, int]] = []
        until = time.perf_counter() + warmup
        await asyncio.gather(*(_client(port, request, until, warm) for _ in range(clients)))
        seen: list[tuple[float, int]] = []
        server_before = cpu_seconds(server_pid) if server_pid else float("nan")
        database_before = _postgres_cpu()
        client_before = time.process_time()
        start = time.perf_counter()
        await asyncio.gather(
            *(_client(port, request, start + seconds, seen) for _ in range(clients))
        )
        elapsed = time.perf_counter() - start
        client = time.process_time() - client_before
        server = cpu_seconds(server_pid) - server_before if server_pid else float("nan")
        database = _postgres_cpu() - database_before
        done = max(1, len(seen))
        return Load(
            len(seen) / elapsed,
            sorted(latency for latency, _ in seen),
            dict(Counter(status for _, status in seen)),
            server / done,
            client / done,
            database / done,
        )

    return asyncio.run(main())


#: The load generators by :func:`load_generator`'s name.
LOADERS = {"wrk": load_wrk, "asyncio": load}


def _wait_healthy(port: int, process: subprocess.Popen[bytes], timeout: float = 60.0) -> float:
    """The ``time.perf_counter()`` instant at which ``GET /healthz`` first answered 200."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the service exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return time.perf_counter()
        except httpx.HTTPError:
            time.sleep(0.005)
    raise RuntimeError(f"the service on port {port} did not become healthy")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its live children (``/proc``)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for each in (pid, *_children(pid)):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def _postgres_cpu() -> float:
    """CPU seconds of every process named ``postgres`` (0 when there is none)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        name, _, rest = text.partition(" (")[2].partition(")")
        if name == "postgres":
            fields = rest.split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = task / "children"
        if children.exists():
            found.extend(int(p) for p in children.read_text().split())
    return found


@contextmanager
def start_service(
    role: str, args: list[str], env: dict[str, str], *, port: int | None = None
) -> Iterator[tuple[int, float, subprocess.Popen[bytes]]]:
    """``mydata serve ROLE ARGS`` on a free port: yields (port, start-up seconds, process)."""
    port = port or free_port()
    command = [MYDATA, "serve", role, "--port", str(port), "--log-level", "warning", *args]
    # The log goes to a file: a pipe nobody reads would block the service once it is full.
    log = Path(tempfile.mkstemp(prefix=f"bench-{role}-", suffix=".log")[1])
    with log.open("wb") as out:
        start = time.perf_counter()
        process = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=out
        )
    try:
        try:
            healthy = _wait_healthy(port, process)
        except RuntimeError:
            process.kill()
            process.wait(timeout=10)
            text = log.read_text(errors="replace")[-800:]
            raise RuntimeError(f"mydata serve {role} did not start: {text}") from None
        yield port, healthy - start, process
    finally:
        log.unlink(missing_ok=True)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _mydata(args: list[str], env: dict[str, str]) -> None:
    subprocess.run([MYDATA, *args], env=env, cwd=ROOT, check=True, capture_output=True)


class _Site:
    """A throwaway MYDATA_HOME with a store per party, on SQLite or one PostgreSQL server."""

    def __init__(self, tmp: str, postgres: str | None) -> None:
        self.tmp = tmp
        self.postgres = postgres.rsplit("/", 1)[0] if postgres else None
        self.env = {
            **os.environ,
            "MYDATA_HOME": tmp,
            "MYDATA_ADMIN_TOKEN": TOKEN,
            "MYDATA_PASSPHRASE": "bench passphrase, not a secret",
        }
        self.databases: list[str] = []
        if self.postgres:
            self.env["MYDATA_STORE_KEY"] = generate_raw_key()

    def store(self, party: str) -> str:
        if self.postgres:
            uri = f"{self.postgres}/mydata_bench_{party}_{uuid.uuid4().hex[:8]}"
            self.databases.append(uri)
            return uri
        return f"sqlite://{self.tmp}/{party}-{uuid.uuid4().hex[:6]}.sqlite"

    def remove_databases(self) -> None:
        """Drop the PostgreSQL databases this site created (SQLite files go with ``tmp``)."""

        async def drop() -> None:
            for uri in self.databases:
                await remove_store(uri)

        asyncio.run(drop())


@contextmanager
def _site(tmp: str, postgres: str | None) -> Iterator[_Site]:
    site = _Site(tmp, postgres)
    try:
        yield site
    finally:
        site.remove_databases()


def _floor_startup() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import fastapi, uvicorn"], check=True)
    return time.perf_counter() - start


def _startup(results: Results, repeats: int) -> None:
    runs = [_floor_startup() for _ in range(repeats)]
    floor = results.add(
        Figure(
            "python -c 'import fastapi, uvicorn' (start-up floor)",
            statistics.median(runs),
            runs,
            group="service start-up to /healthz 200, idle RSS (target < 1 s, < 100 MB)",
        )
    )
    with tempfile.TemporaryDirectory() as tmp:
        site = _Site(tmp, None)
        prepare: dict[str, list[str]] = {}
        stores = {role: site.store(role) for role in ROLES}
        prepare["hospital"] = [
            "hospital",
            "init",
            "--base-url",
            "http://127.0.0.1:1",
            "--insecure-http-host",
            "127.0.0.1",
        ]
        prepare["wallet"] = ["wallet", "init"]
        prepare["operator"] = ["operator", "init", "--base-url", "http://127.0.0.1:1"]
        for role in ROLES:
            if role in prepare:
                try:
                    _mydata([*prepare[role], "--store", stores[role]], site.env)
                except subprocess.CalledProcessError as exc:
                    print(f"  {role}: init failed ({exc.stderr.decode()[-200:]})", flush=True)
                    continue
            times: list[float] = []
            rss: list[float] = []
            try:
                for _ in range(repeats):
                    with start_service(role, ["--store", stores[role]], site.env) as (_, s, p):
                        time.sleep(1.0)
                        times.append(s)
                        rss.append(_rss_mb(p.pid))
            except RuntimeError as exc:
                print(f"  {role}: {exc}", flush=True)
                continue
            figure = results.add(
                Figure(
                    f"serve {role}: start {statistics.median(times):.2f} s, "
                    f"idle RSS {statistics.median(rss):.0f} MB",
                    statistics.median(times),
                    times,
                    group=floor.group,
                    baseline=floor.name,
                )
            )
            results.target(Target(f"serve {role} start-up", figure.name, figure.seconds, 1.0, "s"))
            results.target(
                Target(f"serve {role} idle RSS", figure.name, statistics.median(rss), 100, "MB")
            )
            results.info[f"services.startup.{role}"] = {"seconds": times, "rss_mb": rss}


ROLES = ("hospital", "verifier", "wallet", "vault", "operator")


@contextmanager
def _hospital(site: _Site, workers: int = 1) -> Iterator[tuple[int, int]]:
    """A hospital service whose did:web is its own http://127.0.0.1:PORT address: yields its
    port and process id."""
    port = free_port()
    store = site.store("hospital")
    _mydata(
        [
            "hospital",
            "init",
            "--base-url",
            f"http://127.0.0.1:{port}",
            "--store",
            store,
            "--insecure-http-host",
            "127.0.0.1",
        ],
        site.env,
    )
    args = ["--store", store, "--insecure-http-host", "127.0.0.1", "--workers", str(workers)]
    with start_service("hospital", args, site.env, port=port) as (_, _, process):
        yield port, process.pid


def _issue(port: int) -> dict[str, Any]:
    unsigned = credential_3kb("")
    del unsigned["issuer"], unsigned["id"]
    response = httpx.post(
        f"http://127.0.0.1:{port}/credentials/issue",
        json={"credential": unsigned},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    )
    response.raise_for_status()
    credential: dict[str, Any] = response.json()["verifiableCredential"]
    return credential


def _in_process(
    results: Results, credential: dict[str, Any], repeats: int, min_time: float
) -> Figure:
    hosts = frozenset({"127.0.0.1"})

    async def main() -> list[float]:
        async with httpx.AsyncClient() as client:
            resolver = DIDResolver(http_client=client, insecure_http_hosts=hosts)
            checker = StatusChecker(client, resolver, insecure_http_hosts=hosts)

            async def once() -> None:
                report = await verify_credential(
                    credential, resolver=resolver, status_checker=checker
                )
                if not report.verified:
                    raise RuntimeError(f"the bench credential did not verify: {report.to_dict()}")

            async def cpu_per_op(loops: int) -> float:
                start = time.process_time()
                for _ in range(loops):
                    await once()
                return (time.process_time() - start) / loops

            await once()  # fetches and caches the DID document and the status list
            loops = max(20, int(min_time / 0.001))
            return [await cpu_per_op(loops) for _ in range(repeats)]

    runs = asyncio.run(main())
    return results.add(
        Figure(
            "verify_credential in process, CPU per verification",
            statistics.median(runs),
            runs,
            group="verifier service, POST /credentials/verify, 8 clients (CPU per request)",
        )
    )


def _loaded_figure(
    results: Results, name: str, outcome: Load, *, group: str, baseline: str | None, key: str
) -> Figure:
    """A load run as a figure: seconds of server CPU per request (what stays comparable on a
    busy machine), the measured rate and latencies in its name and in ``results.info``."""
    bad = {s: n for s, n in outcome.statuses.items() if s >= 300}
    if bad:
        raise RuntimeError(f"{name}: unexpected statuses {bad}")
    p50, p99 = outcome.percentile(50) * 1000, outcome.percentile(99) * 1000
    results.info[key] = {
        "per_second": outcome.rate,
        "p50_ms": p50,
        "p99_ms": p99,
        "requests": outcome.requests,
        "load_generator": outcome.generator,
        "server_cpu_ms": outcome.server_cpu * 1000,
        "client_cpu_ms": outcome.client_cpu * 1000,
        "postgres_cpu_ms": outcome.database_cpu * 1000,
        "capacity_per_cpu_second": 1 / outcome.server_cpu,
        "load_average": os.getloadavg()[0],
    }
    return results.add(
        Figure(
            f"{name}: {outcome.rate:,.0f}/s, p50 {p50:.0f} ms, p99 {p99:.0f} ms; server CPU",
            outcome.server_cpu,
            [outcome.server_cpu],
            group=group,
            baseline=baseline,
        )
    )


def verifier_throughput(
    results: Results,
    *,
    repeats: int,
    min_time: float,
    seconds: float,
    worker_counts: tuple[int, ...],
    postgres: str | None,
) -> None:
    """(b) and the verifier half of (c)."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        _site(tmp, postgres) as site,
        _hospital(site) as (hospital_port, _),
    ):
        credential = _issue(hospital_port)
        floor = _in_process(results, credential, repeats, min_time)
        payload = {"verifiableCredential": credential}
        for workers in worker_counts:
            args = ["--store", site.store("verifier"), "--workers", str(workers)]
            args += ["--insecure-http-host", "127.0.0.1"]
            with start_service("verifier", args, site.env) as (port, _, process):
                outcome = LOADERS[load_generator()](
                    port,
                    "/credentials/verify",
                    payload,
                    seconds=seconds,
                    server_pid=process.pid,
                )
            figure = _loaded_figure(
                results,
                f"verifier, {workers} worker(s)"
                + (", PostgreSQL" if site.postgres else ", SQLite"),
                outcome,
                group=floor.group,
                baseline=floor.name,
                key=f"services.verifier.workers{workers}",
            )
            results.target(
                Target(
                    f"verifier VC-API verify, {workers} worker(s), 8 clients",
                    figure.name,
                    outcome.rate,
                    1500,
                    "/s",
                    at_least=True,
                )
            )
            results.target(
                Target(
                    f"verifier VC-API verify p99, {workers} worker(s)",
                    figure.name,
                    outcome.percentile(99) * 1000,
                    20,
                    "ms",
                )
            )


def issuer_scale_out(
    results: Results, *, seconds: float, worker_counts: tuple[int, ...], postgres: str | None
) -> None:
    """The hospital half of (c): VC-API issuance with status entries, by worker count."""
    group = "hospital service, POST /credentials/issue, 8 clients (CPU per request)"
    unsigned = credential_3kb("")
    del unsigned["issuer"], unsigned["id"]
    payload = {"credential": unsigned}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    first: Figure | None = None
    with tempfile.TemporaryDirectory() as tmp, _site(tmp, postgres) as site:
        for workers in worker_counts:
            with _hospital(site, workers) as (port, pid):
                outcome = LOADERS[load_generator()](
                    port,
                    "/credentials/issue",
                    payload,
                    seconds=seconds,
                    headers=headers,
                    server_pid=pid,
                )
            figure = _loaded_figure(
                results,
                f"hospital issue, {workers} worker(s)"
                + (", PostgreSQL" if site.postgres else ", SQLite"),
                outcome,
                group=group,
                baseline=first.name if first else None,
                key=f"services.hospital.workers{workers}",
            )
            first = first or figure


def run(results: Results, *, repeats: int, min_time: float) -> None:
    quick = min_time < 0.1
    postgres = os.environ.get("MYDATA_BENCH_POSTGRES_URL") or os.environ.get(
        "MYDATA_TEST_POSTGRES_URL"
    )
    seconds = 1.0 if quick else 5.0
    counts = (1, 2) if quick else (1, 2, 4)
    print("  start-up and idle RSS of each role ...", flush=True)
    _startup(results, 1 if quick else 3)
    print(f"  verifier throughput, {CLIENTS} clients, {seconds:.0f} s per point ...", flush=True)
    verifier_throughput(
        results,
        repeats=repeats,
        min_time=min_time,
        seconds=seconds,
        worker_counts=counts,
        postgres=postgres,
    )
    print("  hospital issuance by worker count ...", flush=True)
    issuer_scale_out(results, seconds=seconds, worker_counts=counts, postgres=postgres)
    results.info["services.load"] = os.getloadavg()


def status_list_sizes(
    fractions: tuple[float, ...] = (0.0, 0.001, 0.01, 0.05), entries: int = 131_072, seed: int = 8
) -> dict[float, int]:
    """Bytes of a status list's ``encodedList`` (GZIP, then base64url) when ``fraction`` of its
    ``entries`` are set at random indexes, as the allocator hands them out (herd privacy): the
    simulation behind the bandwidth figures of ``docs/scale.md``."""
    import base64
    import gzip
    import random

    rng = random.Random(seed)
    sizes: dict[float, int] = {}
    for fraction in fractions:
        bits = bytearray(entries // 8)
        for index in rng.sample(range(entries), int(entries * fraction)):
            bits[index // 8] |= 0x80 >> (index % 8)
        encoded = base64.urlsafe_b64encode(gzip.compress(bytes(bits), mtime=0))
        sizes[fraction] = len(encoded.rstrip(b"=")) + 1  # the multibase "u"
    return sizes


def _main(argv: list[str]) -> None:
    """``python -m bench.services``: the status-list simulation; ``python -m bench.services
    verifier|hospital [SECONDS [WORKERS,...]]``: the verifier's throughput (b, c) or the
    hospital's issuance by worker count alone, printed."""
    if not argv or argv[0] not in ("verifier", "hospital"):
        for share, size in status_list_sizes().items():
            print(f"{share:6.1%} of 131,072 entries set: encodedList {size:,} bytes")
        return
    seconds = float(argv[1]) if len(argv) > 1 else 5.0
    counts = tuple(int(n) for n in argv[2].split(",")) if len(argv) > 2 else (1, 2)
    results = Results()
    postgres = os.environ.get("MYDATA_BENCH_POSTGRES_URL") or os.environ.get(
        "MYDATA_TEST_POSTGRES_URL"
    )
    print(f"load generator: {load_generator()}")
    if argv[0] == "hospital":
        issuer_scale_out(results, seconds=seconds, worker_counts=counts, postgres=postgres)
    else:
        verifier_throughput(
            results,
            repeats=3,
            min_time=0.2,
            seconds=seconds,
            worker_counts=counts,
            postgres=postgres,
        )
        floor = results.get("verify_credential in process, CPU per verification")
        print(f"in process: {floor.seconds * 1000:.3f} ms CPU per verification")
    for key, value in results.info.items():
        shown = {k: round(v, 3) if isinstance(v, float) else v for k, v in value.items()}
        print(key, json.dumps(shown))


if __name__ == "__main__":
    _main(sys.argv[1:])
