"""A malformed --phrase is refused for what it is (not the recovery phrase format, shown),
before any wallet or vault is opened (exit 1, as the other phrase errors); not "does not open
this backup"."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.errors import ErrorCode
from mydata.cli import build_app
from wallet.backup import generate_recovery_phrase, normalise_recovery_phrase
from wallet.errors import BackupError


def _run(*args: str, home: Path) -> tuple[int, str]:
    result = CliRunner().invoke(
        build_app(),
        list(args),
        env={"MYDATA_HOME": str(home), "MYDATA_PASSPHRASE": "correct horse battery staple"},
    )
    return result.exit_code, " ".join((result.stdout + result.stderr).split())


def test_backup_with_a_malformed_phrase(tmp_path: Path) -> None:
    out = tmp_path / "w.backup"
    code, said = _run("wallet", "backup", str(out), "--phrase", "hello", home=tmp_path)
    assert code == 1, said
    assert "not a recovery phrase" in said
    assert "XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX" in said
    assert "does not open" not in said
    assert not out.exists()
    assert not list(tmp_path.glob("*.sqlite*"))  # the wallet was not even opened


def test_restore_with_a_malformed_phrase(tmp_path: Path) -> None:
    backup = tmp_path / "w.backup"
    backup.write_bytes(b"whatever")
    target = tmp_path / "new.sqlite"
    code, said = _run(
        "wallet", "restore", str(backup), "--phrase", "hello", "--store", str(target),
        home=tmp_path,
    )  # fmt: skip
    assert code == 1, said
    assert "not a recovery phrase" in said
    assert not target.exists()


def test_a_mistyped_check_character_is_named() -> None:
    phrase = generate_recovery_phrase()
    last = phrase[-1]
    wrong = phrase[:-1] + ("1" if last != "1" else "2")
    with pytest.raises(BackupError) as caught:
        normalise_recovery_phrase(wrong)
    assert caught.value.code is ErrorCode.BACKUP_WRONG_PHRASE
    assert "typing mistake" in caught.value.message
