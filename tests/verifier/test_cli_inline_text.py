"""The "file or text" arguments of `mydata er scan`, `mydata insurer verify` and `mydata verify`:
a card's QR text, an SD-JWT or a JSON document given inline is the text, however long (a card
of ~1,600 characters was taken for a file name: "File name too long"); a file is still read."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from agent.clock import utcnow
from agent.errors import ErrorCode, InvalidInputError
from mydata.cli import build_app
from tests.verifier.conftest import Party
from tests.verifier.test_qr_image import _cache, _card
from tests.verifier.world import claim_evidence, emergency_card
from verifier.cli import looks_like_inline_text, read_card_text, read_text_argument

MYDATA = Path(sys.executable).with_name("mydata")


def _run(*args: str, home: Path) -> Result:
    result = CliRunner().invoke(build_app(), list(args), env={"MYDATA_HOME": str(home)})
    assert isinstance(result.exception, SystemExit | None), result.exception
    assert "Traceback" not in result.output
    assert "File name too long" not in result.output
    return result


@pytest.fixture
def cache(hospital: Party, operator: Party, tmp_path: Path) -> Path:
    path = tmp_path / "cache.json"
    path.write_text(json.dumps(asyncio.run(_cache(hospital, operator))))
    return path


def test_the_inline_forms_are_told_from_file_names() -> None:
    card = "HM1:" + "0123456789" * 160
    for text in [
        card,
        f"  {card}\n",
        "HM2:0123",  # a later version: refused as that version, not looked for as a file
        "shc:/5676290952432060346029243740",
        "eyJhbGciOiJFZERTQSJ9.eyJpc3MiOiJ4In0.c2ln~WyJzYWx0Il0~",
        "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln",
        '{"type": ["VerifiablePresentation"]}',
    ]:
        assert looks_like_inline_text(text), text
    for name in [
        "card.txt",
        "card.sd-jwt",
        "my.card.txt",  # three dot-separated parts, but no JOSE header
        "./HM1:0123",  # a file named like a card, given as a path
        "/tmp/cards/card.png",
        "~/evidence.sd-jwt",
        "-",
    ]:
        assert not looks_like_inline_text(name), name


def test_text_too_long_for_a_file_name_is_text(tmp_path: Path) -> None:
    # Not an inline form, but 300 characters in one path component: ENAMETOOLONG, so text.
    garbage = "x" * 300
    assert read_text_argument(garbage, "the evidence") == garbage
    assert read_card_text(garbage) == garbage
    # A short name that is no file is an error naming it, and what the text could have been.
    with pytest.raises(InvalidInputError) as caught:
        read_text_argument(str(tmp_path / "nothere.sd-jwt"), "the evidence", text="an SD-JWT")
    assert caught.value.code is ErrorCode.PARSING_ERROR
    assert "No such file or directory, and the argument is not an SD-JWT either" in str(
        caught.value.message
    )
    # A file named like a card is read when given as ./NAME.
    (tmp_path / "HM1:card").write_text("HM1:0123\n")
    previous = Path.cwd()
    os.chdir(tmp_path)
    try:
        assert read_card_text("./HM1:card") == "HM1:0123"
        assert read_card_text("HM1:card") == "HM1:card"
    finally:
        os.chdir(previous)


def test_er_scan_takes_a_typical_card_inline_as_from_a_file(
    hospital: Party, citizen: Party, cache: Path, tmp_path: Path
) -> None:
    card = _card(hospital, citizen).payload_text
    assert card.startswith("HM1:")
    assert 1_200 <= len(card) < 4_096, len(card)  # a typical card: between 256 and 4095
    inline = _run("er", "scan", card, "--cache", str(cache), home=tmp_path)
    assert inline.exit_code == 0, inline.output
    assert "ACCEPTED" in inline.output
    assert "Peanut - high" in inline.output
    # Copied with the newline a QR reader or a shell may add.
    padded = _run("er", "scan", f"{card}\n", "--cache", str(cache), home=tmp_path)
    assert padded.exit_code == 0, padded.output
    saved = tmp_path / "card.txt"
    saved.write_text(card)
    from_file = _run("er", "scan", str(saved), "--cache", str(cache), home=tmp_path)
    assert from_file.exit_code == 0, from_file.output
    assert from_file.output == inline.output
    # One changed digit: a verdict or a decoding error about the card, not about a file.
    broken = card[:-5] + ("1" if card[-5] == "0" else "0") + card[-4:]
    result = _run("er", "scan", broken, "--cache", str(cache), home=tmp_path)
    assert result.exit_code in (1, 2), result.output
    assert "cannot read" not in result.output


def test_er_scan_inline_as_the_real_command(
    hospital: Party, citizen: Party, cache: Path, tmp_path: Path
) -> None:
    """docs/verifier.md's first example, `mydata er scan "HM1:..." --cache FILE`, as a shell
    runs it (argv, not a test runner)."""
    card = _card(hospital, citizen).payload_text
    result = subprocess.run(
        [str(MYDATA), "er", "scan", card, "--cache", str(cache)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "MYDATA_HOME": str(tmp_path), "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ACCEPTED" in result.stdout
    assert "File name too long" not in result.stderr


def test_er_scan_takes_a_plain_sd_jwt_inline(hospital: Party, cache: Path, tmp_path: Path) -> None:
    sd_jwt = emergency_card(hospital, status_idx=2, iat=utcnow() - timedelta(days=1))
    assert len(sd_jwt) > 1_000
    result = _run("er", "scan", sd_jwt, "--cache", str(cache), home=tmp_path)
    assert result.exit_code == 0, result.output
    assert "ACCEPTED" in result.output


def test_er_scan_errors_name_the_file_or_the_text(tmp_path: Path) -> None:
    missing = _run("er", "scan", str(tmp_path / "card.txt"), home=tmp_path)
    assert missing.exit_code == 2
    flat = " ".join(missing.output.split())
    assert "cannot read the card" in flat
    assert "is not a card's text (HM1:... or an SD-JWT) either" in flat
    not_a_card = _run("er", "scan", "HM1:" + "9" * 1_500, home=tmp_path)
    assert not_a_card.exit_code == 2
    assert "cannot read" not in not_a_card.output


def test_insurer_verify_takes_the_sd_jwt_inline_or_from_a_file(
    hospital: Party, citizen: Party, cache: Path, tmp_path: Path
) -> None:
    evidence = claim_evidence(hospital, citizen, iat=utcnow() - timedelta(days=1))
    assert 256 <= len(evidence) < 4_096, len(evidence)
    common = [
        "--claim-type",
        "institutional",
        "--store",
        str(tmp_path / "insurer.sqlite"),
        "--cache",
        str(cache),
    ]
    inline = _run("insurer", "verify", evidence, "--claim-id", "C-1", *common, home=tmp_path)
    assert inline.exit_code == 0, inline.output
    assert "ACCEPTED" in inline.output
    assert "(inline text)" in inline.output
    assert evidence[:40] not in inline.output  # the title names no credential text
    # The same evidence from a file, for another claim: read, and flagged as a duplicate.
    saved = tmp_path / "evidence.sd-jwt"
    saved.write_text(evidence + "\n")
    result = _run(
        "insurer", "verify", str(saved), "--claim-id", "C-2", *common, "--json", home=tmp_path
    )
    assert result.exit_code == 1, result.output
    assert json.loads(result.output)["decision"]["flags"] == ["duplicateClaim"]


def test_insurer_verify_inline_json_and_unreadable_files(cache: Path, tmp_path: Path) -> None:
    common = ["--claim-type", "institutional", "--claim-id", "C-9", "--cache", str(cache)]
    store = ["--store", str(tmp_path / "insurer.sqlite")]
    not_a_vp = _run(
        "insurer", "verify", '{"type": ["VerifiablePresentation"]}', *common, *store, home=tmp_path
    )
    assert not_a_vp.exit_code in (1, 2), not_a_vp.output
    assert "cannot read" not in not_a_vp.output
    binary = tmp_path / "evidence.bin"
    binary.write_bytes(bytes(range(128, 256)))
    result = _run("insurer", "verify", str(binary), *common, *store, home=tmp_path)
    assert result.exit_code == 2
    assert "is not UTF-8 text (an SD-JWT or a presentation's JSON)" in " ".join(
        result.output.split()
    )
    missing = _run("insurer", "verify", str(tmp_path / "no.sd-jwt"), *common, *store, home=tmp_path)
    assert missing.exit_code == 2
    assert "cannot read the evidence" in " ".join(missing.output.split())


def test_verify_takes_an_sd_jwt_or_json_inline(hospital: Party, tmp_path: Path) -> None:
    card = emergency_card(hospital, iat=utcnow() - timedelta(days=1))
    result = _run("verify", card, "--json", home=tmp_path)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["verified"] is True
    human = _run("verify", card, home=tmp_path)
    assert human.exit_code == 0, human.output
    assert "(inline text)" in human.output
    saved = tmp_path / "card.sd-jwt"
    saved.write_text(card)
    assert _run("verify", str(saved), "--json", home=tmp_path).exit_code == 0
    neither = _run("verify", '{"type": "Something"}', "--json", home=tmp_path)
    assert neither.exit_code == 2
    assert json.loads(neither.output)["error"]["code"] == "PARSING_ERROR"
    missing = _run("verify", str(tmp_path / "nothere.json"), "--json", home=tmp_path)
    assert missing.exit_code == 2
    assert "cannot read the document" in json.loads(missing.output)["error"]["message"]


def _run_stdin(*args: str, home: Path, stdin: str) -> Result:
    result = CliRunner().invoke(
        build_app(), list(args), env={"MYDATA_HOME": str(home)}, input=stdin
    )
    assert isinstance(result.exception, SystemExit | None), result.exception
    assert "Traceback" not in result.output
    return result


def test_er_scan_and_insurer_verify_read_standard_input(
    hospital: Party, citizen: Party, cache: Path, tmp_path: Path
) -> None:
    """``-``: a card or evidence piped in stays out of the process list and the shell's
    history, where a command-line argument is visible to every local user (review)."""
    card = _card(hospital, citizen).payload_text
    scanned = _run_stdin("er", "scan", "-", "--cache", str(cache), home=tmp_path, stdin=card)
    assert scanned.exit_code == 0, scanned.output
    assert "ACCEPTED" in scanned.output
    evidence = claim_evidence(hospital, citizen, iat=utcnow() - timedelta(days=1))
    verified = _run_stdin(
        "insurer", "verify", "-", "--claim-type", "institutional", "--claim-id", "C-7",
        "--store", str(tmp_path / "insurer.sqlite"), "--cache", str(cache),
        home=tmp_path, stdin=evidence + "\n",
    )  # fmt: skip
    assert verified.exit_code == 0, verified.output
    assert "ACCEPTED" in verified.output


def test_an_unreadable_argument_is_not_echoed_whole(tmp_path: Path) -> None:
    pasted = '"' + "x" * 200  # a credential pasted with a stray quote: taken for a file name
    result = _run("er", "scan", pasted, home=tmp_path)
    assert result.exit_code == 2
    assert "cannot read the card" in " ".join(result.output.split())
    assert "x" * 60 not in result.output.replace("\n", "")


def test_one_rule_for_every_file_or_text_command() -> None:
    """``wallet import`` and the verifier commands tell text from a file name by one rule
    (agent.cliutil), ASCII base64url only (it was implemented twice, differently: review)."""
    import wallet.cli
    from agent.cliutil import looks_like_inline_text as shared
    from agent.cliutil import shown_argument

    assert looks_like_inline_text is shared
    assert wallet.cli.looks_like_inline_text is shared
    assert shared("HM1:0123")
    assert shared("eyJhbGciOiJFZERTQSJ9.e30.c2ln")
    assert not shared("eyJhbGciOiJFZERTQSJ9.é30.c2ln")  # not base64url: a file name
    assert shown_argument("a" * 120) == "a" * 120
    assert shown_argument("a" * 121) == "a" * 40 + "..."
