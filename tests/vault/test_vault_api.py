"""The vault's HTTP API against a real `mydata serve vault`: who may read, replace and delete a
slot, versions, limits, garbage, and what its store file shows."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator

import httpx
import pytest

from agent.errors import ErrorCode, InvalidInputError
from tests.vault.conftest import MARKER, MAX_BYTES, TOKEN, Citizen, VaultService
from wallet import BackupError, generate_recovery_phrase
from wallet.vault import (
    VaultSlot,
    delete_backup,
    download_backup,
    fetch_backup,
    slot_for_secret,
    upload_backup,
    vault_slot,
)


@pytest.fixture(scope="module")
def alice() -> VaultSlot:
    return vault_slot(generate_recovery_phrase())


@pytest.fixture(scope="module")
def mallory() -> VaultSlot:
    return vault_slot(generate_recovery_phrase())


def _auth(slot: VaultSlot, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {slot.secret}", **extra}


@pytest.fixture
def stored(vault: VaultService, alice: VaultSlot) -> Iterator[tuple[bytes, str]]:
    """Alice's slot holds a blob; emptied again afterwards."""
    blob = os.urandom(2048)
    put = vault.http.put(
        f"/vault/{alice.slot_id}", content=blob, headers=_auth(alice, **{"If-None-Match": "*"})
    )
    assert put.status_code == 201, put.text
    yield blob, put.headers["etag"]
    vault.http.delete(f"/vault/{alice.slot_id}", headers=_auth(alice))


def test_slot_and_secret_from_the_phrase() -> None:
    phrase = generate_recovery_phrase()
    slot = vault_slot(phrase)
    assert vault_slot(phrase.lower().replace("-", " ")) == slot  # as typed, same slot
    assert len(slot.slot_id) == len(slot.secret) == 43
    assert slot_for_secret(slot.secret) == slot.slot_id
    assert slot.secret not in repr(slot)
    other = vault_slot(generate_recovery_phrase())
    assert other.slot_id != slot.slot_id
    assert other.secret != slot.secret
    assert slot_for_secret(slot.secret + "A") is None
    assert slot_for_secret(slot.secret[:-1] + "_") != slot.slot_id
    with pytest.raises(BackupError) as caught:
        vault_slot("not-a-phrase")
    assert caught.value.code is ErrorCode.BACKUP_WRONG_PHRASE


def test_owner_reads_and_deletes(
    vault: VaultService, alice: VaultSlot, stored: tuple[bytes, str]
) -> None:
    blob, etag = stored
    got = vault.http.get(f"/vault/{alice.slot_id}", headers=_auth(alice))
    assert got.status_code == 200
    assert got.content == blob
    assert got.headers["etag"] == etag
    assert got.headers["cache-control"] == "no-store"
    head = vault.http.head(f"/vault/{alice.slot_id}", headers=_auth(alice))
    assert head.status_code == 200
    assert head.headers["etag"] == etag
    assert head.headers["content-length"] == str(len(blob))
    assert vault.http.delete(f"/vault/{alice.slot_id}", headers=_auth(alice)).status_code == 204
    gone = vault.http.get(f"/vault/{alice.slot_id}", headers=_auth(alice))
    assert gone.status_code == 404
    assert gone.json()["code"] == "notFound"


def test_nobody_else_reads_replaces_or_deletes(
    vault: VaultService, alice: VaultSlot, mallory: VaultSlot, stored: tuple[bytes, str]
) -> None:
    blob, etag = stored
    url = f"/vault/{alice.slot_id}"
    # Mallory's own (valid) secret, a random token, no token, another scheme, Alice's slot id.
    tokens: list[dict[str, str]] = [
        _auth(mallory),
        {"Authorization": "Bearer " + base64.urlsafe_b64encode(os.urandom(32)).decode()[:43]},
        {},
        {"Authorization": f"Basic {alice.secret}"},
        {"Authorization": f"Bearer {alice.slot_id}"},
        {"Authorization": f"Bearer {alice.secret} "[:-2]},
    ]
    answers = []
    for headers in tokens:
        answers.append(vault.http.get(url, headers=headers))
        answers.append(vault.http.head(url, headers=headers))
        answers.append(vault.http.delete(url, headers={**headers, "If-Match": etag}))
        answers.append(vault.http.put(url, content=b"evil", headers={**headers, "If-Match": etag}))
        answers.append(vault.http.put(url, content=b"evil", headers=headers))
    assert {a.status_code for a in answers} == {401}
    assert all(a.headers["www-authenticate"] == "Bearer" for a in answers)
    # No existence oracle: an unknown slot answers the same, byte for byte.
    unknown = vault.http.get(f"/vault/{mallory.slot_id}x", headers=_auth(mallory))
    existing = vault.http.get(url, headers=_auth(mallory))
    assert (unknown.status_code, unknown.content) == (existing.status_code, existing.content)
    assert existing.json() == {
        "code": "unauthorized",
        "message": "this access secret does not open this slot",
    }
    # Untouched.
    got = vault.http.get(url, headers=_auth(alice))
    assert (got.content, got.headers["etag"]) == (blob, etag)


def test_versions_a_stale_writer_is_refused(
    vault: VaultService, alice: VaultSlot, stored: tuple[bytes, str]
) -> None:
    _, first = stored
    url = f"/vault/{alice.slot_id}"
    newer = os.urandom(1000)
    put = vault.http.put(url, content=newer, headers=_auth(alice, **{"If-Match": first}))
    assert put.status_code == 200
    second = put.headers["etag"]
    assert second != first
    stale = vault.http.put(url, content=b"old", headers=_auth(alice, **{"If-Match": first}))
    assert stale.status_code == 412
    assert stale.json()["code"] == "preconditionFailed"
    blind = vault.http.put(url, content=b"old", headers=_auth(alice))
    assert blind.status_code == 428
    create_only = vault.http.put(
        url, content=b"old", headers=_auth(alice, **{"If-None-Match": "*"})
    )
    assert create_only.status_code == 412
    weak = vault.http.put(url, content=b"old", headers=_auth(alice, **{"If-Match": "W/" + second}))
    assert weak.status_code == 412
    stale_delete = vault.http.delete(url, headers=_auth(alice, **{"If-Match": first}))
    assert stale_delete.status_code == 412
    got = vault.http.get(url, headers=_auth(alice))
    assert (got.content, got.headers["etag"]) == (newer, second)


def test_oversize_is_refused(vault: VaultService, alice: VaultSlot) -> None:
    url = f"/vault/{alice.slot_id}"
    too_big = vault.http.put(url, content=os.urandom(MAX_BYTES + 1), headers=_auth(alice))
    assert too_big.status_code == 413
    assert too_big.json()["code"] == "inputTooLarge"

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked, counted as it arrives
        for _ in range(MAX_BYTES // 65536 + 2):
            yield os.urandom(65536)

    streamed = vault.http.put(url, content=chunks(), headers=_auth(alice))
    assert streamed.status_code == 413
    assert vault.http.get(url, headers=_auth(alice)).status_code == 404  # nothing stored
    exact = vault.http.put(url, content=os.urandom(MAX_BYTES), headers=_auth(alice))
    assert exact.status_code == 201
    assert vault.http.delete(url, headers=_auth(alice)).status_code == 204


def test_garbage_never_gives_a_server_error(vault: VaultService, alice: VaultSlot) -> None:
    url = f"/vault/{alice.slot_id}"
    requests: list[httpx.Request] = [
        vault.http.build_request("PUT", url, content=b"", headers=_auth(alice)),
        vault.http.build_request(
            "PUT",
            url,
            content=b"x",
            headers={
                b"Authorization": f"Bearer {alice.secret}".encode(),
                b"If-Match": '"\u00e9"'.encode(),
            },
        ),
        vault.http.build_request(
            "PUT", url, content=b"x", headers=_auth(alice, **{"If-Match": ",,,*"})
        ),
        vault.http.build_request(
            "PUT", url, content=b"x", headers=_auth(alice, **{"If-None-Match": "garbage"})
        ),
        vault.http.build_request("POST", url, content=b"x", headers=_auth(alice)),
        vault.http.build_request("PATCH", url, headers=_auth(alice)),
        vault.http.build_request("GET", "/vault/", headers=_auth(alice)),
        vault.http.build_request("GET", "/vault", headers=_auth(alice)),
        vault.http.build_request("GET", "/vault/%00%ff%fe", headers=_auth(alice)),
        vault.http.build_request("GET", "/vault/" + "A" * 10_000, headers=_auth(alice)),
        vault.http.build_request("GET", "/vault/\u00e9t\u00e9", headers=_auth(alice)),
        vault.http.build_request(
            "GET", url, headers={b"Authorization": ("Bearer " + "\u00e9" * 43).encode()}
        ),
        vault.http.build_request("GET", url, headers={"Authorization": "Bearer " + "=" * 43}),
        vault.http.build_request("GET", url, headers={"Authorization": "Bearer"}),
        vault.http.build_request("GET", url, headers={"Authorization": "B" * 8000}),
        vault.http.build_request("DELETE", url, headers=_auth(alice)),
        vault.http.build_request("GET", "/admin/stats"),
        vault.http.build_request("GET", "/admin/stats", headers={"Authorization": "Bearer x"}),
        vault.http.build_request("GET", "/docs"),
        vault.http.build_request("GET", "/../../etc/passwd"),
    ]
    bad_length = vault.http.build_request("PUT", url, content=b"x", headers=_auth(alice))
    bad_length.headers["Content-Length"] = "-1"
    requests.append(bad_length)
    for request in requests:
        try:
            response = vault.http.send(request)
        except httpx.HTTPError:
            continue  # refused at the HTTP layer (malformed framing): not a 500 either
        assert response.status_code < 500, (request.method, request.url, response.text)
        if response.status_code >= 400 and request.method != "HEAD":
            assert set(response.json()) == {"code", "message"}, response.text
    assert vault.http.get("/healthz").json() == {"status": "ok"}
    vault.http.delete(url, headers=_auth(alice))


def test_admin_stats_need_the_token(vault: VaultService, stored: tuple[bytes, str]) -> None:
    assert vault.http.get("/admin/stats").status_code == 401
    stats = vault.http.get("/admin/stats", headers={"Authorization": f"Bearer {TOKEN}"})
    assert stats.status_code == 200
    assert stats.json()["slots"] >= 1
    assert stats.json()["bytes"] >= len(stored[0])
    assert stats.json()["max_blob_bytes"] == MAX_BYTES


async def test_client_round_trip_and_refusals(vault: VaultService) -> None:
    phrase = generate_recovery_phrase()
    slot = vault_slot(phrase)
    async with httpx.AsyncClient(timeout=30) as client:
        with pytest.raises(BackupError) as caught:
            await download_backup(vault.url, slot, client=client)
        assert caught.value.code is ErrorCode.BACKUP_WRONG_PHRASE
        assert caught.value.details["reason"] == "notInVault"

        first = await upload_backup(vault.url, phrase, b"one", client=client)
        assert first.created
        assert await download_backup(vault.url, phrase, client=client) == b"one"
        with pytest.raises(BackupError) as caught:  # no If-Match: create only
            await upload_backup(vault.url, slot, b"two", client=client)
        assert caught.value.code is ErrorCode.BACKUP_TARGET_NOT_EMPTY
        second = await upload_backup(vault.url, slot, b"two", client=client, if_match=first.etag)
        assert not second.created
        with pytest.raises(BackupError):
            await upload_backup(vault.url, slot, b"old", client=client, if_match=first.etag)
        forced = await upload_backup(vault.url, slot, b"three", client=client, force=True)
        blob = await fetch_backup(vault.url, slot, client=client)
        assert (blob.data, blob.etag) == (b"three", forced.etag)
        with pytest.raises(InvalidInputError) as too_big:
            await upload_backup(
                vault.url, slot, os.urandom(MAX_BYTES + 1), client=client, force=True
            )
        assert too_big.value.code is ErrorCode.INPUT_TOO_LARGE
        with pytest.raises(BackupError):
            await delete_backup(vault.url, slot, client=client, if_match=first.etag)
        await delete_backup(vault.url, slot, client=client, if_match=forced.etag)
        with pytest.raises(BackupError):
            await delete_backup(vault.url, slot, client=client)

        # The access secret is a bearer token: never over plain http to another machine.
        with pytest.raises(InvalidInputError):
            await upload_backup("http://vault.example", slot, b"x", client=client)
        with pytest.raises(InvalidInputError):
            await download_backup("ftp://vault.example", slot, client=client)


def test_the_vault_store_holds_no_plaintext(vault: VaultService, citizen: Citizen) -> None:
    phrase = generate_recovery_phrase()
    citizen.wallet("backup", "--vault", vault.url, "--phrase", phrase)
    slot = vault_slot(phrase)
    blob = vault.http.get(f"/vault/{slot.slot_id}", headers=_auth(slot)).content
    assert blob.startswith(b"HMDWBAK\x00")
    on_disk = vault.store_bytes()
    assert len(on_disk) > len(blob)
    assert citizen.holder is not None
    for secret in (MARKER, citizen.holder, "penicillin", "did:key", slot.secret, slot.slot_id):
        assert secret.encode() not in on_disk
        assert base64.b64encode(secret.encode())[:16] not in on_disk
    # askar encrypts the (already encrypted) blob again: not even the ciphertext shows.
    for start in range(0, len(blob) - 32, max(1, len(blob) // 16)):
        assert blob[start : start + 32] not in on_disk
    # The marker is really in what was backed up: the wallet shows it.
    found = [c for c in citizen.listed() if c["format"] == "ldp_vc"]
    assert MARKER in citizen.wallet("show", found[0]["id"], "--json").stdout
