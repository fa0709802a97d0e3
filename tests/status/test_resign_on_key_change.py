"""A hospital's served status lists are always signed by a key its DID document lists.

QA found that after ``mydata hospital rotate-key`` and ``retire-key`` the running service kept
serving the status list signed by the retired key (its :class:`agent.status.publish.SignedCache`
re-signed only on a list change or after 12 h), so every credential's status check failed
until a restart. The rotation happens elsewhere: the CLI opens the store itself while the
service runs, or another replica serves. Here the hospital service runs in-process (two
replicas over one askar store, SQLite or PostgreSQL), the "CLI" is another
:class:`issuer.hospital.Hospital` on the same store, and the lists are checked as a verifier
checks them (:class:`agent.status.StatusChecker`, DID documents resolved from the service). The
last test runs ``mydata serve hospital`` and the CLI as processes, as QA did.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.clock import utcnow
from agent.credentials.proofs import verify_proofs
from agent.credentials.token_status_list import check_token_status, referenced_status_claim
from agent.dids import DIDResolver
from agent.errors import DIDDocumentError, ErrorCode
from agent.service import AgentServiceConfig
from agent.status import StatusChecker
from agent.storage import Store, generate_raw_key, open_store
from issuer.api import create_hospital_app
from issuer.hospital import Hospital
from tests.conftest import UNSIGNED_ALLERGY, free_port, mydata
from tests.hospital.conftest import HospitalService, hospital_env
from verifier.cli import verify_document

BASE_URL = "http://127.0.0.1:8766"
LOCAL = frozenset({"127.0.0.1"})
ADMIN = "resign-test-admin-token"


class Deployment:
    """Hospital replicas started in-process over one store, and the CLI's access to it."""

    def __init__(self, uri: str, key: str, stack: AsyncExitStack) -> None:
        self.uri = uri
        self.key = key
        self._stack = stack
        self.did = ""

    async def replica(self) -> httpx.AsyncClient:
        app = create_hospital_app(
            AgentServiceConfig(self.uri, self.key, BASE_URL, admin_token=ADMIN),
            insecure_http_hosts=LOCAL,
        )
        await self._stack.enter_async_context(app.router.lifespan_context(app))
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)
        return await self._stack.enter_async_context(client)

    async def cli(self, command: str, *args: str) -> str:
        """``mydata hospital <command>``: the store opened on its own, as the CLI does."""
        store = await open_store(self.uri, raw_key=self.key)
        try:
            hospital = await Hospital.load(store, insecure_http_hosts=LOCAL)
            assert hospital is not None
            if command == "rotate-key":
                return await hospital.rotate_key()
            assert command == "retire-key"
            await hospital.retire_key(*args)
            return ""
        finally:
            await store.close()


@pytest.fixture
async def deployment(store_uri: str) -> AsyncIterator[Deployment]:
    key = generate_raw_key()
    store: Store = await open_store(store_uri, raw_key=key)
    try:  # 'mydata hospital init'
        hospital = await Hospital.init(store, base_url=BASE_URL, insecure_http_hosts=LOCAL)
    finally:
        await store.close()
    async with AsyncExitStack() as stack:
        running = Deployment(store_uri, key, stack)
        running.did = hospital.did
        yield running


async def issue(service: httpx.AsyncClient) -> dict[str, Any]:
    response = await service.post(
        "/credentials/issue",
        json={"credential": copy.deepcopy(UNSIGNED_ALLERGY)},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert response.status_code == 201, response.text
    credential: dict[str, Any] = response.json()["verifiableCredential"]
    return credential


def verifier(service: httpx.AsyncClient) -> tuple[DIDResolver, StatusChecker]:
    """A verifier that has cached nothing yet: it sees the DID document as it is now."""
    resolver = DIDResolver(http_client=service, insecure_http_hosts=LOCAL)
    return resolver, StatusChecker(service, resolver, insecure_http_hosts=LOCAL)


async def check_status(service: httpx.AsyncClient, credential: dict[str, Any]) -> None:
    """The credential's status entries check (lists fetched and verified), none set."""
    _, checker = verifier(service)
    results = await checker.check(credential, now=utcnow())
    assert [r.purpose for r in results] == ["revocation", "suspension"]
    assert not any(r.set for r in results)


def list_path(credential: dict[str, Any]) -> str:
    url = str(credential["credentialStatus"][0]["statusListCredential"])
    assert url.startswith(BASE_URL)
    return url.removeprefix(BASE_URL)


async def served_list(service: httpx.AsyncClient, path: str) -> dict[str, Any]:
    """The list the service serves now, after checking its proof against the DID document."""
    response = await service.get(path)
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    resolver, _ = verifier(service)
    await verify_proofs(document, resolver, now=utcnow())
    return document


def signed_by(document: dict[str, Any]) -> str:
    return str(document["proof"]["verificationMethod"]).partition("#")[2]


async def test_rotation_and_retire_elsewhere_are_served_by_every_replica(
    deployment: Deployment,
) -> None:
    first, second = await deployment.replica(), await deployment.replica()
    old_credential = await issue(first)
    old_key = signed_by(old_credential)
    path = list_path(old_credential)
    for replica in (first, second):  # both cache the list signed by the old key
        assert signed_by(await served_list(replica, path)) == old_key
    await check_status(first, old_credential)

    new_key = await deployment.cli("rotate-key")
    # The next request is served signed by the new key, by each replica, and verifies.
    assert signed_by(await served_list(first, path)) == new_key
    new_credential = await issue(second)
    assert signed_by(new_credential) == new_key
    assert list_path(new_credential) == path  # the same list, re-signed
    await check_status(first, new_credential)
    await check_status(first, old_credential)

    await deployment.cli("retire-key", old_key)
    # The second replica never served the list since the rotation: its cached signature by
    # the now retired key must not be served.
    assert signed_by(await served_list(second, path)) == new_key
    for replica in (first, second):
        await check_status(replica, old_credential)
        await check_status(replica, new_credential)
    # The retired key's credential itself no longer verifies; its status still checks.
    resolver, _ = verifier(first)
    with pytest.raises(DIDDocumentError) as retired:
        await verify_proofs(old_credential, resolver, now=utcnow())
    assert retired.value.code is ErrorCode.KEY_NOT_FOUND
    await verify_proofs(new_credential, resolver, now=utcnow())


async def test_rotate_then_retire_with_no_request_between(deployment: Deployment) -> None:
    service = await deployment.replica()
    credential = await issue(service)
    old_key = signed_by(credential)
    path = list_path(credential)
    await served_list(service, path)  # cached, signed by the old key
    new_key = await deployment.cli("rotate-key")
    await deployment.cli("retire-key", old_key)
    assert signed_by(await served_list(service, path)) == new_key
    await check_status(service, credential)


async def test_the_list_is_signed_once_per_key(deployment: Deployment) -> None:
    service = await deployment.replica()
    path = list_path(await issue(service))
    first = await service.get(path)
    # Many requests at once, and again: one signature, one body, 304 for its ETag.
    bodies = await asyncio.gather(*(service.get(path) for _ in range(20)))
    assert {b.content for b in bodies} == {first.content}
    etag = first.headers["etag"]
    assert (await service.get(path, headers={"If-None-Match": etag})).status_code == 304

    await deployment.cli("rotate-key")
    rotated = await service.get(path, headers={"If-None-Match": etag})
    assert rotated.status_code == 200
    assert rotated.headers["etag"] != etag
    again = await asyncio.gather(*(service.get(path) for _ in range(20)))
    assert {b.content for b in again} == {rotated.content}


async def test_the_token_status_list_is_signed_by_the_active_key(deployment: Deployment) -> None:
    service = await deployment.replica()
    credential = await issue(service)
    old_key = signed_by(credential)
    entry = credential["credentialStatus"][0]
    token_url = f"{entry['statusListCredential']}/token"
    new_key = await deployment.cli("rotate-key")
    await deployment.cli("retire-key", old_key)

    token = (await service.get(token_url.removeprefix(BASE_URL))).text
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["kid"] == f"{deployment.did}#{new_key}"
    resolver, _ = verifier(service)
    result = await check_token_status(
        referenced_status_claim(token_url, int(entry["statusListIndex"])),
        token,
        issuer_key_resolver=resolver,
        now=utcnow(),
        expected_issuer=deployment.did,
    )
    assert result.valid


# --- as QA ran it: `mydata serve hospital`, and the CLI while it runs -------------------------


@pytest.fixture
def service(tmp_path: Path) -> Iterator[HospitalService]:
    port = free_port()
    public_url = f"http://localhost:{port}"
    env = hospital_env(tmp_path)
    store = f"sqlite://{tmp_path / 'hospital.sqlite'}"
    mydata(
        "hospital",
        "init",
        "--base-url",
        public_url,
        "--store",
        store,
        "--insecure-http-host",
        "localhost",
        env=env,
    )
    running = HospitalService(env, store, port, public_url)
    yield running
    running.stop()


def list_url_path(credential: dict[str, Any], running: HospitalService) -> str:
    url = str(credential["credentialStatus"][0]["statusListCredential"])
    return url.removeprefix(running.url)


def checks(credential: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    report = asyncio.run(verify_document(credential))
    return {str(r.check): (str(r.status), r.code) for r in report.results}


def test_status_checks_pass_after_rotate_and_retire_without_a_restart(
    service: HospitalService,
) -> None:
    def issued() -> dict[str, Any]:
        response = service.admin.post(
            "/credentials/issue", json={"credential": copy.deepcopy(UNSIGNED_ALLERGY)}
        )
        assert response.status_code == 201, response.text
        credential: dict[str, Any] = response.json()["verifiableCredential"]
        return credential

    old = issued()
    old_key = signed_by(old)
    assert checks(old)["status"][0] == "passed"  # the service caches the list, old key
    rotated = mydata("hospital", "rotate-key", "--store", service.store, env=service.env)
    new_key = rotated.stdout.split()[-1]
    new = issued()
    assert signed_by(new) == new_key
    mydata("hospital", "retire-key", old_key, "--store", service.store, env=service.env)

    served = httpx.get(f"http://127.0.0.1:{service.port}{list_url_path(old, service)}").json()
    assert signed_by(served) == new_key
    assert all(status == "passed" for status, _ in checks(new).values()), checks(new)
    old_checks = checks(old)
    assert old_checks["status"][0] == "passed", old_checks
    assert old_checks["proof"] == ("failed", ErrorCode.KEY_NOT_FOUND.value)
