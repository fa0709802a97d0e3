"""agent.cliutil: command errors become exit 1 with the code; init stores get a key file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from rich.console import Console

from agent.cliutil import print_store, report_audit_verification, run_command, with_new_store
from agent.errors import ErrorCode, InvalidInputError, StorageError
from agent.storage import Store
from agent.storeconfig import STORE_KEY_ENV


def test_run_command_returns_the_result() -> None:
    async def work() -> int:
        return 42

    assert run_command(work) == 42


def test_run_command_prints_the_error_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    async def work() -> None:
        raise InvalidInputError("no [such] thing", code=ErrorCode.NOT_FOUND)

    with pytest.raises(typer.Exit) as exited:
        run_command(work)
    assert exited.value.exit_code == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == f"error: [{ErrorCode.NOT_FOUND}] no [such] thing"


def test_run_command_lets_other_exceptions_through() -> None:
    async def work() -> None:
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError):
        run_command(work)


async def test_with_new_store_creates_the_key_file_and_reopens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(STORE_KEY_ENV, raising=False)
    uri = f"sqlite://{tmp_path / 'party.sqlite'}"
    seen: list[Store] = []

    async def write(store: Store) -> str:
        seen.append(store)
        async with store.session() as session:
            await session.insert("thing", "one", {"n": 1})
        return "written"

    async def read(store: Store) -> object:
        async with store.session() as session:
            return (await session.get("thing", "one")).json()

    assert await with_new_store(uri, write) == "written"
    key_file = tmp_path / "party.sqlite.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = key_file.read_text("ascii")
    assert await with_new_store(uri, read) == {"n": 1}
    assert key_file.read_text("ascii") == key
    with pytest.raises(StorageError) as closed:  # the first store was closed after its action
        async with seen[0].session() as session:
            await session.get("thing", "one")
    assert closed.value.code is ErrorCode.STORE_BACKEND_ERROR


def test_print_store_names_the_key_file_of_a_sqlite_store(tmp_path: Path) -> None:
    out = Console(width=400, record=True)
    print_store(out, f"sqlite://{tmp_path}/party.sqlite")
    assert out.export_text().splitlines() == [
        f"store          sqlite://{tmp_path}/party.sqlite",
        f"store key file {tmp_path}/party.sqlite.key (keep it secret; or set MYDATA_STORE_KEY)",
    ]
    out = Console(width=400, record=True)
    print_store(out, "postgres://db.example/party")
    assert out.export_text().splitlines() == ["store          postgres://db.example/party"]


@dataclass(frozen=True)
class _Verification:
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    reason: str | None = None


def test_report_audit_verification_intact_and_tampered() -> None:
    out = Console(width=400, record=True)
    report_audit_verification(out, _Verification(True, 7))
    assert out.export_text().strip() == "audit log intact: 7 entries, chain verified"
    out = Console(width=400, record=True)
    with pytest.raises(typer.Exit) as exited:
        report_audit_verification(out, _Verification(False, 3, 4, "hashMismatch"))
    assert exited.value.exit_code == 1
    assert out.export_text().strip() == (
        "audit log TAMPERED: hashMismatch at entry 4 (3 entries verified before it)"
    )
