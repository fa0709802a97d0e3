"""``mydata wallet import`` as its help says, run as the real command (QA): it takes the
credential itself (``shc:/`` QR text, in one or more chunks; a compact JWS or SD-JWT; JSON) as
well as a file or ``-``; a file that is not there is an ``error: [invalidInput]`` line (it was
``error: No such file or directory shc:/...`` without a code), a bad ``--jwks`` too; and an
issuer's did:web on this machine that could not be fetched over https ends with the
``--insecure-http-host`` hint that ``mydata verify`` and ``mydata did resolve`` give."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.keys import AskarKeyStore, KeyType
from agent.storage import generate_raw_key, open_store
from issuer.issue import sd_jwt_credential
from tests.conftest import MYDATA, free_port
from tests.wallet.conftest import SHC, Hospital, allergy_claims

JWKS = str(SHC / "jwks.json")
CITIZEN = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MYDATA_STORE_KEY"}
    return {**env, "MYDATA_HOME": str(home), "MYDATA_PASSPHRASE": "inline import test"}


def _wallet(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MYDATA, "wallet", *args],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _said(result: subprocess.CompletedProcess[str]) -> str:
    return " ".join((result.stdout + result.stderr).split())


@pytest.fixture
def home(tmp_path: Path) -> Path:
    made = _wallet(tmp_path, "init")
    assert made.returncode == 0, _said(made)
    return tmp_path


def test_shc_qr_text_jws_and_chunks_are_imported_as_text(home: Path) -> None:
    qr = (SHC / "example-00-f-qr-code-numeric-value-0.txt").read_text("utf-8").strip()
    stored = _wallet(home, "import", qr, "--jwks", JWKS)
    assert stored.returncode == 0, _said(stored)
    assert "stored urn:sha256:" in _said(stored)
    assert "SMART Health Card" in _said(stored)
    # The same card from its file is the very credential stored already.
    again = _wallet(
        home, "import", str(SHC / "example-00-e-file.smart-health-card"), "--jwks", JWKS
    )
    assert again.returncode == 1, _said(again)
    assert "[walletDuplicateCredential]" in _said(again)

    chunks = [
        (SHC / f"example-02-f-qr-code-numeric-value-{i}.txt").read_text("utf-8").strip()
        for i in range(3)
    ]
    chunked = _wallet(home, "import", "\n".join(chunks), "--jwks", JWKS)
    assert chunked.returncode == 0, _said(chunked)

    jws = (SHC / "example-01-d-jws.txt").read_text("utf-8").strip()
    compact = _wallet(home, "import", jws, "--jwks", JWKS)
    assert compact.returncode == 0, _said(compact)

    listed = json.loads(_wallet(home, "list", "--json").stdout)
    assert len(listed) == 3


async def test_json_text_is_imported_as_text(home: Path, hospital: Hospital) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    credential = hospital.w3c(allergy_claims(), CITIZEN, valid_from=now - timedelta(days=1))
    stored = _wallet(home, "import", json.dumps(credential))
    assert stored.returncode == 0, _said(stored)
    assert f"stored {credential['id']}" in _said(stored)


def test_text_too_long_for_a_file_name_is_taken_as_text(home: Path) -> None:
    """Not "File name too long" (an OSError without a code): the wallet says what it is not."""
    result = _wallet(home, "import", "x" * 5000)
    assert result.returncode == 1, _said(result)
    assert "error: [walletUnsupportedFormat]" in _said(result)


def test_garbled_shc_text_is_a_typed_error(home: Path) -> None:
    qr = (SHC / "example-00-f-qr-code-numeric-value-0.txt").read_text("utf-8").strip()
    result = _wallet(home, "import", qr[: len(qr) // 2], "--jwks", JWKS)  # cut short
    assert result.returncode == 1, _said(result)
    assert "error: [MALFORMED_PROOF_ERROR]" in _said(result)
    assert "No such file" not in _said(result)
    assert "Traceback" not in _said(result)


def test_a_file_or_jwks_that_cannot_be_read_is_a_typed_error(home: Path) -> None:
    missing = home / "nowhere" / "card.json"
    result = _wallet(home, "import", str(missing))
    assert result.returncode == 2, _said(result)
    assert f"error: [invalidInput] no file {missing}" in _said(result)
    assert "shc:/ QR text" in _said(result)
    folder = _wallet(home, "import", str(home))
    assert folder.returncode == 2, _said(folder)
    assert f"error: [invalidInput] {home} is a folder" in _said(folder)
    assert "Traceback" not in _said(result) + _said(folder)
    qr = (SHC / "example-00-f-qr-code-numeric-value-0.txt").read_text("utf-8").strip()
    no_jwks = _wallet(home, "import", qr, "--jwks", str(home / "jwks.json"))
    assert no_jwks.returncode == 2, _said(no_jwks)
    assert f"error: [invalidInput] --jwks {home / 'jwks.json'}: cannot read it" in _said(no_jwks)
    (home / "jwks.json").write_text("{not json")
    bad_jwks = _wallet(home, "import", qr, "--jwks", str(home / "jwks.json"))
    assert bad_jwks.returncode == 2, _said(bad_jwks)
    assert "is not a JWKS: not JSON text" in _said(bad_jwks)


# --- an issuer's did:web on this machine --------------------------------------------------------


async def _issue(directory: Path, did: str) -> tuple[str, str]:
    """An SD-JWT VC issued by ``did`` (key ``#key-1``) and that key's Multikey."""
    store = await open_store(directory / "issuer.sqlite", raw_key=generate_raw_key())
    try:
        keys = AskarKeyStore(store)
        multikey = await keys.create_key(KeyType.ED25519_PUB)
        await keys.bind(
            multikey,
            did=did,
            verification_method=f"{did}#key-1",
            relationships=["assertionMethod"],
        )
        card = sd_jwt_credential(
            allergy_claims(),
            signer=await keys.signer(f"{did}#key-1"),
            issuer=did,
            holder_jwk=None,
            iat=datetime.now(UTC).replace(microsecond=0) - timedelta(days=1),
        )
    finally:
        await store.close()
    return card, multikey


@pytest.fixture
async def did_web_card(tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """An SD-JWT VC issued by ``did:web:localhost%3APORT``, whose DID document a plain-http
    server on that port publishes (as a local hospital service does): the card and the DID."""
    port = free_port()
    did = f"did:web:localhost%3A{port}"
    card, multikey = await _issue(tmp_path, did)
    document = {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "verificationMethod": [
            {
                "id": f"{did}#key-1",
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": multikey,
            }
        ],
        "assertionMethod": [f"{did}#key-1"],
    }
    root = tmp_path / "www"
    (root / ".well-known").mkdir(parents=True)
    (root / ".well-known" / "did.json").write_text(json.dumps(document))

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield card, did
    finally:
        server.shutdown()
        server.server_close()


def test_did_web_on_this_machine_over_https_gives_the_hint(
    home: Path, did_web_card: tuple[str, str]
) -> None:
    card, did = did_web_card
    port = did.rsplit("%3A", 1)[1]
    refused = _wallet(home, "import", card)
    said = _said(refused)
    assert refused.returncode == 1, said
    assert f"could not fetch https://localhost:{port}/.well-known/did.json" in said
    assert f"hint: https://localhost:{port} could not be reached" in said
    assert "add --insecure-http-host localhost" in said

    stored = _wallet(home, "import", card, "--insecure-http-host", "localhost")
    assert stored.returncode == 0, _said(stored)
    assert "insecure-http-host" not in _said(stored)
    listed = json.loads(_wallet(home, "list", "--json").stdout)
    assert [item["issuer"] for item in listed] == [did]


async def test_no_hint_when_the_host_is_allowed_already(home: Path, tmp_path: Path) -> None:
    """Nothing listens there: the http fetch fails too, and the hint would not help."""
    port = free_port()
    card, _ = await _issue(tmp_path, f"did:web:localhost%3A{port}")
    card_file = tmp_path / "card.sd-jwt"
    card_file.write_text(card)
    result = _wallet(home, "import", str(card_file), "--insecure-http-host", "localhost")
    assert result.returncode == 1, _said(result)
    assert f"could not fetch http://localhost:{port}/" in _said(result)
    assert "hint:" not in _said(result)
