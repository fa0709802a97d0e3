"""A raw store key's form is checked before askar sees it (QA): a base64 key from
``openssl rand -base64 32`` given for a new, empty PostgreSQL store was refused as
``storeWrongKey ... could not be decrypted``, although nothing existed yet. It is now
``storeKeyMalformed``, saying what a raw key is and that ``mydata store-key`` makes one; a
well-formed key that is not the store's is still ``storeWrongKey``."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

import base58
import pytest
from typer.testing import CliRunner

from agent.errors import ErrorCode, StorageError
from agent.storage import check_raw_key, generate_raw_key, open_store, remove_store
from agent.storeconfig import STORE_KEY_ENV, store_key
from mydata.cli import build_app
from tests.conftest import mydata

runner = CliRunner()

#: Keys askar cannot use, each with what the message says about it. None may be echoed.
MALFORMED = {
    "openssl-base64": (base64.b64encode(secrets.token_bytes(32)).decode(), "characters base58"),
    "openssl-hex": (secrets.token_hex(32), "characters base58"),
    "31-bytes": (base58.b58encode(secrets.token_bytes(31)).decode(), "31 bytes, not 32"),
    "33-bytes": ("1" * 33, "33 bytes, not 32"),  # base58 '1' is a zero byte
    "too-long": ("2" * 45, "longer than"),
    "short": ("3yZe7d", "decodes to 4 bytes"),
    "inner-space": (generate_raw_key()[:20] + " " + generate_raw_key()[:20], "a space"),
    "empty": ("", "it is empty"),
}


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != STORE_KEY_ENV}
    return {**env, "MYDATA_HOME": str(home), **extra}


def _said(result: object) -> str:
    """stdout and stderr of a finished command, its line wrapping undone."""
    return " ".join((getattr(result, "stdout", "") + getattr(result, "stderr", "")).split())


# --- the check itself ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(generate_raw_key(), id="generated"),
        pytest.param(generate_raw_key(b"a seed, for tests"), id="seeded"),
        # Leading zero bytes are base58 '1's: 32 bytes in 43 characters, as askar accepts.
        pytest.param(base58.b58encode(b"\0" + secrets.token_bytes(31)).decode(), id="43-chars"),
    ],
)
def test_a_raw_key_passes(key: str) -> None:
    check_raw_key(key)


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_a_malformed_key_is_refused_saying_what_a_raw_key_is(name: str) -> None:
    key, problem = MALFORMED[name]
    with pytest.raises(StorageError) as caught:
        check_raw_key(key, source=STORE_KEY_ENV)
    error = caught.value
    assert error.code is ErrorCode.STORE_KEY_MALFORMED
    assert error.message.startswith(f"{STORE_KEY_ENV} is not a raw store key")
    assert problem in error.message
    assert "32 random bytes in base58" in error.message
    assert "mydata store-key" in error.message
    if key:
        assert key not in str(error.to_dict())


# --- opening a store ----------------------------------------------------------------------------


async def test_a_malformed_key_creates_no_store(store_uri: str) -> None:
    """On a fresh SQLite file and a fresh PostgreSQL database alike: refused before askar
    provisions anything (askar used to create the PostgreSQL database, then say wrong key)."""
    for name in ("openssl-base64", "31-bytes"):
        with pytest.raises(StorageError) as caught:
            await open_store(store_uri, raw_key=MALFORMED[name][0])
        assert caught.value.code is ErrorCode.STORE_KEY_MALFORMED
    with pytest.raises(StorageError) as missing:
        await open_store(store_uri, raw_key=generate_raw_key(), create=False)
    assert missing.value.code is ErrorCode.STORE_NOT_FOUND


async def test_a_well_formed_wrong_key_is_still_a_wrong_key(store_uri: str, raw_key: str) -> None:
    await (await open_store(store_uri, raw_key=raw_key)).close()
    for create in (True, False):
        with pytest.raises(StorageError) as caught:
            await open_store(store_uri, raw_key=generate_raw_key(), create=create)
        assert caught.value.code is ErrorCode.STORE_WRONG_KEY
    with pytest.raises(StorageError) as malformed:
        await open_store(store_uri, raw_key=MALFORMED["openssl-base64"][0], create=False)
    assert malformed.value.code is ErrorCode.STORE_KEY_MALFORMED
    await (await open_store(store_uri, raw_key=raw_key, create=False)).close()


# --- where the key comes from -------------------------------------------------------------------


def test_the_environment_key_is_checked_and_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STORE_KEY_ENV, MALFORMED["openssl-base64"][0])
    with pytest.raises(StorageError) as caught:
        store_key("postgres://mydata@db.internal/hospital")
    assert caught.value.code is ErrorCode.STORE_KEY_MALFORMED
    assert caught.value.message.startswith(f"{STORE_KEY_ENV} is not a raw store key")
    key = generate_raw_key()
    # A secret file's last newline (a Kubernetes secret, say) is not part of the key.
    monkeypatch.setenv(STORE_KEY_ENV, f"{key}\n")
    assert store_key("postgres://mydata@db.internal/hospital") == key


def test_a_blank_environment_key_is_malformed_not_a_reason_to_write_a_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STORE_KEY_ENV, " \n")
    with pytest.raises(StorageError) as caught:
        store_key(f"sqlite://{tmp_path / 'hospital.sqlite'}", create=True)
    assert caught.value.code is ErrorCode.STORE_KEY_MALFORMED
    assert "it is empty" in caught.value.message
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "content",
    [b"not a key at all\n", "clé-ünicode".encode(), b"\xff\xfe\x00"],
    ids=["text", "non-ascii", "binary"],
)
def test_a_malformed_key_file_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes
) -> None:
    monkeypatch.delenv(STORE_KEY_ENV, raising=False)
    uri = f"sqlite://{tmp_path / 'hospital.sqlite'}"
    (tmp_path / "hospital.sqlite.key").write_bytes(content)
    with pytest.raises(StorageError) as caught:
        store_key(uri)
    assert caught.value.code is ErrorCode.STORE_KEY_MALFORMED
    assert f"the key file {tmp_path / 'hospital.sqlite.key'}" in caught.value.message


# --- the commands -------------------------------------------------------------------------------


def test_store_key_prints_a_new_raw_key_and_nothing_else(tmp_path: Path) -> None:
    first = runner.invoke(build_app(), ["store-key"])
    assert first.exit_code == 0, first.output
    key = first.stdout.strip()
    check_raw_key(key)
    assert first.stdout == key + "\n"
    # The console script, as `export MYDATA_STORE_KEY="$(mydata store-key)"` runs it.
    second = mydata("store-key", env=_env(tmp_path))
    assert second.stderr == ""
    check_raw_key(second.stdout.strip())
    assert second.stdout.strip() != key
    assert "store-key" in runner.invoke(build_app(), ["--help"]).stdout


@pytest.mark.postgres
async def test_hospital_init_on_a_fresh_postgres_database(
    postgres_url: str, tmp_path: Path
) -> None:
    """docs/operations.md's PostgreSQL set-up, as QA followed it: with `openssl rand -base64
    32` the command says the key is malformed (not wrong) and creates nothing; with
    `mydata store-key` it works; another well-formed key is then a wrong key."""
    store = ["--store", postgres_url]
    init = ["hospital", "init", *store, "--base-url", "https://hospital.example"]
    try:
        base64_key = MALFORMED["openssl-base64"][0]
        refused = mydata(*init, env=_env(tmp_path, **{STORE_KEY_ENV: base64_key}), check=False)
        assert refused.returncode == 1, _said(refused)
        said = _said(refused)
        assert f"error: [storeKeyMalformed] {STORE_KEY_ENV} is not a raw store key" in said
        assert "mydata store-key" in said
        assert "storeWrongKey" not in said
        assert base64_key not in said
        assert "Traceback" not in said
        with pytest.raises(StorageError) as nothing:
            await open_store(postgres_url, raw_key=generate_raw_key(), create=False)
        assert nothing.value.code is ErrorCode.STORE_NOT_FOUND

        key = mydata("store-key", env=_env(tmp_path)).stdout.strip()
        made = mydata(*init, env=_env(tmp_path, **{STORE_KEY_ENV: key}))
        assert "did:web:hospital.example" in made.stdout

        other = generate_raw_key()
        wrong = mydata(
            "hospital", "did-document", *store,
            env=_env(tmp_path, **{STORE_KEY_ENV: other}), check=False,
        )  # fmt: skip
        assert wrong.returncode == 1, _said(wrong)
        assert "[storeWrongKey]" in _said(wrong)
        assert other not in _said(wrong)
        shown = mydata(
            "hospital", "did-document", *store, env=_env(tmp_path, **{STORE_KEY_ENV: key})
        )
        assert "did:web:hospital.example" in shown.stdout
    finally:
        await remove_store(postgres_url)


def test_hospital_init_on_sqlite_refuses_a_malformed_key_and_leaves_no_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "hospital.sqlite"
    refused = mydata(
        "hospital", "init", "--store", f"sqlite://{path}", "--base-url", "https://h.example",
        env=_env(tmp_path, **{STORE_KEY_ENV: MALFORMED["openssl-hex"][0]}), check=False,
    )  # fmt: skip
    assert refused.returncode == 1, _said(refused)
    assert "[storeKeyMalformed]" in _said(refused)
    assert not list(tmp_path.glob("hospital.sqlite*"))
