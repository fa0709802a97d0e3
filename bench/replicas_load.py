"""Replicas under load: two ``mydata serve hospital`` and two ``mydata serve verifier`` on one
PostgreSQL each, with concurrent load on 127.0.0.1, and the invariants checked afterwards.

::

    python -m bench.replicas_load --postgres postgres://postgres@127.0.0.1:5432/test
    python -m bench.replicas_load --postgres URL --credentials 2000 --nonces 500 --workers 16

Invariants (an ``AssertionError`` names the one broken):

* hospital: every credential id and every (purpose, list, index) status entry is unique across
  both replicas (no status index given twice); every revocation made through either replica,
  concurrently with the others on the same lists, is in the published list of both replicas
  (no lost update), and no other bit is set;
* verifier: each nonce is accepted once however many times, and on whichever replica, its
  presentation is submitted (no nonce used twice); one claim evidence presented for several
  claims at once on both replicas is accepted for one claim only (no duplicate claim).

tests/replicas/test_replicas_load.py runs this with small numbers in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx

from agent.clock import utcnow
from agent.credentials.proofs import add_proof
from agent.credentials.sd_jwt import issue_sd_jwt, present
from agent.credentials.status_list import decode_list
from agent.dids import DIDResolver, did_key_from_public
from agent.keys import AskarKeyStore, AskarSigner, KeyType, decode_multikey
from agent.keys.convert import public_key_to_jwk
from agent.storage import generate_raw_key, open_store, remove_store
from tests.conftest import MYDATA, UNSIGNED_ALLERGY, free_port, stop_process, wait_healthy
from tests.verifier.world import CLAIM
from verifier.policy import CLAIM_FIELDS as INSURER_CLAIM_FIELDS
from verifier.trust import TrustRegistry

TOKEN = "replicas-load-admin-token"
HEALTH_V1 = "https://w3id.org/health-mydata/v1"
VCT_CLAIM_EVIDENCE = "https://w3id.org/health-mydata/vct/ClaimEvidence/v1"
#: What an institutional claim needs disclosed (the insurer's policy decides; claimType included).
CLAIM_FIELDS = INSURER_CLAIM_FIELDS["institutional"]

T = TypeVar("T")


def database(base_url: str, name: str) -> str:
    """A database of its own next to ``base_url``'s (askar creates it on first open)."""
    return f"{base_url.rpartition('/')[0]}/{name}_{uuid.uuid4().hex[:10]}"


@dataclass
class Replica:
    """One ``mydata serve`` process and an admin client for it."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(
            base_url=self.url, timeout=60, headers={"Authorization": f"Bearer {TOKEN}"}
        )

    def stop(self) -> None:
        self.client.close()
        stop_process(self.process)


def _serve(role: str, store: str, env: dict[str, str], home: Path, *extra: str) -> Replica:
    port = free_port()
    log = home / f"{role}-{port}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                *(MYDATA, "serve", role, "--port", str(port), "--store", store),
                *("--log-level", "warning", *extra),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    wait_healthy(port, process, log)
    return Replica(process, f"http://127.0.0.1:{port}", log)


@contextmanager
def replicas(
    role: str, store: str, home: Path, *extra: str, init: Sequence[str] = ()
) -> Iterator[list[Replica]]:
    """Two replicas of ``role`` on ``store`` (one PostgreSQL database); the database is
    dropped afterwards."""
    env = {
        **os.environ,
        "MYDATA_HOME": str(home),
        "MYDATA_ADMIN_TOKEN": TOKEN,
        "MYDATA_STORE_KEY": generate_raw_key(),
    }
    if init:
        subprocess.run([MYDATA, *init, "--store", store], env=env, check=True, capture_output=True)
    started: list[Replica] = []
    try:
        for _ in range(2):
            started.append(_serve(role, store, env, home, *extra))
        yield started
    finally:
        for replica in started:
            replica.stop()
        logs = "".join(r.log.read_text() for r in started)
        asyncio.run(remove_store(store))
        if "Traceback" in logs:
            raise AssertionError(f"a replica logged a traceback:\n{logs[-5000:]}")


def _parallel(workers: int, task: Callable[[int], T], count: int) -> list[T]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(task, range(count)))


# --- hospital --------------------------------------------------------------------------------


def hospital_load(postgres: str, home: Path, *, credentials: int, workers: int) -> dict[str, Any]:
    """Issue ``credentials`` on two replicas at once, revoke every other one (each revocation
    on the replica that did not issue it), then read each list from both replicas."""
    public = "https://hospital.example"
    store = database(postgres, "hospital_load")
    init = ["hospital", "init", "--base-url", public, "--name", "Load General"]
    with replicas("hospital", store, home, "--public-url", public, init=init) as pair:
        started = time.perf_counter()

        def issue(i: int) -> dict[str, Any]:
            response = pair[i % 2].client.post(
                "/credentials/issue", json={"credential": UNSIGNED_ALLERGY}
            )
            assert response.status_code == 201, response.text
            credential: dict[str, Any] = response.json()["verifiableCredential"]
            return credential

        issued = _parallel(workers, issue, credentials)
        issue_seconds = time.perf_counter() - started
        ids = [str(c["id"]) for c in issued]
        assert len(set(ids)) == len(ids), "a credential id was given twice"
        entries = [
            (e["statusPurpose"], e["statusListCredential"], int(e["statusListIndex"]))
            for c in issued
            for e in c["credentialStatus"]
        ]
        assert len(set(entries)) == len(entries) == 2 * credentials, (
            "a status index was given twice"
        )

        revoke = list(range(0, credentials, 2))

        def revoke_one(position: int) -> None:
            i = revoke[position]
            response = pair[(i + 1) % 2].client.post(
                "/credentials/status",
                json={
                    "credentialId": ids[i],
                    "credentialStatus": [
                        {"type": "BitstringStatusListCredential", "status": "revoked"}
                    ],
                },
            )
            assert response.status_code == 200, response.text

        started = time.perf_counter()
        _parallel(workers, revoke_one, len(revoke))
        revoke_seconds = time.perf_counter() - started
        revoked = {ids[i] for i in revoke}
        for replica in pair:
            lists: dict[str, Any] = {}
            for credential in issued:
                entry = next(
                    e for e in credential["credentialStatus"] if e["statusPurpose"] == "revocation"
                )
                url = str(entry["statusListCredential"])
                if url not in lists:
                    path = url.removeprefix(public)
                    response = replica.client.get(path, headers={"Cache-Control": "no-cache"})
                    assert response.status_code == 200, response.text
                    encoded = response.json()["credentialSubject"]["encodedList"]
                    lists[url] = decode_list(encoded)
                bit = lists[url].get(int(entry["statusListIndex"]))
                expected = credential["id"] in revoked
                assert bit == expected, (
                    f"{credential['id']}: revoked={expected} but the list of {replica.url} "
                    f"says {bit} (a lost update)"
                )
    return {
        "credentials": credentials,
        "revocations": len(revoke),
        "issue_per_second": round(credentials / issue_seconds, 1),
        "revoke_per_second": round(len(revoke) / revoke_seconds, 1),
    }


# --- verifier --------------------------------------------------------------------------------


@dataclass
class _Party:
    did: str
    signer: AskarSigner
    jwk: dict[str, str]


async def _parties(home: Path, count: int) -> list[_Party]:
    store = await open_store(home / "parties.sqlite", raw_key=generate_raw_key())
    keys = AskarKeyStore(store)
    made = []
    for _ in range(count):
        multikey = await keys.create_key(KeyType.ED25519_PUB)
        raw = decode_multikey(multikey)[1]
        did = did_key_from_public(KeyType.ED25519_PUB, raw)
        vm = f"{did}#{multikey}"
        await keys.bind(
            multikey, did=did, verification_method=vm, relationships=["assertionMethod"]
        )
        made.append(_Party(did, await keys.signer(vm), public_key_to_jwk(KeyType.ED25519_PUB, raw)))
    return made


async def _trust_cache(operator: _Party, hospital: _Party) -> dict[str, Any]:
    now = utcnow()
    accreditation = add_proof(
        {
            "@context": ["https://www.w3.org/ns/credentials/v2", HEALTH_V1],
            "id": f"urn:uuid:{uuid.uuid4()}",
            "type": ["VerifiableCredential", "AccreditedHealthcareProvider"],
            "issuer": operator.did,
            "validFrom": "2026-01-01T00:00:00Z",
            "credentialSubject": {
                "id": hospital.did,
                "accreditedRole": "AccreditedHealthcareProvider",
                "jurisdiction": "NO",
            },
        },
        operator.signer,
        created=now - timedelta(days=1),
    )
    registry = TrustRegistry({operator.did}, DIDResolver())
    await registry.add_accreditation(accreditation)
    return registry.export()


def verifier_load(
    postgres: str, home: Path, *, nonces: int, submissions: int, claims: int, workers: int
) -> dict[str, Any]:
    """``nonces`` requests, each answered ``submissions`` times at once across both replicas;
    then one evidence presented for ``claims`` claims at once."""
    operator, hospital, citizen = asyncio.run(_parties(home, 3))
    cache = home / "trust.json"
    cache.write_text(json.dumps(asyncio.run(_trust_cache(operator, hospital))))
    store = database(postgres, "verifier_load")
    extra = ("--operator", operator.did, "--trust-cache", str(cache), "--policy", "insurer")
    with replicas("verifier", store, home, *extra) as pair:
        audience = str(pair[0].client.get("/verifier").json()["did"])

        def issue_evidence() -> str:
            return issue_sd_jwt(
                dict(CLAIM),
                hospital.signer,
                iss=hospital.did,
                iat=utcnow() - timedelta(days=1),
                disclosable=[(name,) for name in CLAIM],
                holder_jwk=citizen.jwk,
                vct=VCT_CLAIM_EVIDENCE,
            )

        evidence = issue_evidence()

        def request(replica: Replica, claim_id: str) -> str:
            response = replica.client.post(
                "/presentation-requests",
                json={
                    "presentation_definition": {
                        "id": "claim",
                        "input_descriptors": [
                            {"id": "c", "constraints": {"fields": [{"path": ["$.chargeTotal"]}]}}
                        ],
                    },
                    "role": "insurer",
                    "claim_id": claim_id,
                    "claim_type": "institutional",
                },
            )
            assert response.status_code == 201, response.text
            return str(response.json()["nonce"])

        def presented(nonce: str) -> str:
            return present(
                evidence,
                disclose=[(name,) for name in CLAIM_FIELDS],
                holder_signer=citizen.signer,
                nonce=nonce,
                aud=audience,
                iat=utcnow(),
            )

        def submit(replica: Replica, text: str) -> tuple[int, dict[str, Any]]:
            response = replica.client.post("/presentations/submit", json={"presentation": text})
            assert response.status_code in (200, 422), response.text
            return response.status_code, response.json()

        # One claim id for every nonce: the same evidence for the same claim is idempotent,
        # so each nonce's single success is its own.
        texts = [presented(request(pair[i % 2], "claim-load")) for i in range(nonces)]
        started = time.perf_counter()
        outcomes = _parallel(
            workers,
            lambda k: (k // submissions, submit(pair[k % 2], texts[k // submissions])),
            nonces * submissions,
        )
        submit_seconds = time.perf_counter() - started
        accepted: dict[int, int] = {}
        for index, (status, body) in outcomes:
            if status == 200:
                accepted[index] = accepted.get(index, 0) + 1
            else:
                failed = {e.get("check"): e.get("code") for e in body["errors"]}
                assert failed == {"challenge": "nonceReplayed"}, body
        assert all(accepted.get(i) == 1 for i in range(nonces)), "a nonce was used twice"

        evidence = issue_evidence()
        racing = [presented(request(pair[i % 2], f"claim-{i}")) for i in range(claims)]
        raced = _parallel(workers, lambda i: submit(pair[i % 2], racing[i]), claims)
        winners = [body for status, body in raced if status == 200]
        assert len(winners) == 1, f"{len(winners)} claims accepted the same evidence"
        assert all(
            body["decision"]["flags"] == ["duplicateClaim"]
            for status, body in raced
            if status != 200
        ), raced
    return {
        "nonces": nonces,
        "submissions": nonces * submissions,
        "submit_per_second": round(nonces * submissions / submit_seconds, 1),
        "racing_claims": claims,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--postgres", default=os.environ.get("MYDATA_TEST_POSTGRES_URL", ""))
    parser.add_argument("--credentials", type=int, default=2000)
    parser.add_argument("--nonces", type=int, default=300)
    parser.add_argument("--submissions", type=int, default=4)
    parser.add_argument("--claims", type=int, default=16)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args(argv)
    if not args.postgres:
        parser.error("give --postgres URL (or set MYDATA_TEST_POSTGRES_URL)")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        results = {
            "hospital": hospital_load(
                args.postgres, home, credentials=args.credentials, workers=args.workers
            ),
            "verifier": verifier_load(
                args.postgres,
                home,
                nonces=args.nonces,
                submissions=args.submissions,
                claims=args.claims,
                workers=args.workers,
            ),
        }
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
