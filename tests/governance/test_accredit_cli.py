"""`mydata operator accredit -o FILE`: a file that cannot be written is refused before the
accreditation is issued (it used to be issued, put on the trust list, and the command then
failed on the file without naming the accreditation, so a retry issued a second one)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.governance.services import env_for, mydata

ROLE = "AccreditedHealthcareProvider"
#: A well-formed did:key (the did:key test vectors' first).
SUBJECT = "did:key:z6MkpTHR8VNsBxYAAWHut2Geadd9jSwuBV8xRoAnwWsdvktH"


@pytest.mark.parametrize("where", ["missing-folder/acc.json", "a-folder"])
def test_an_unwritable_output_is_refused_before_anything_is_issued(
    tmp_path: Path, where: str
) -> None:
    env = env_for(tmp_path / "operator")
    mydata("operator", "init", "--base-url", "https://trust.example.org", env=env)
    (tmp_path / "a-folder").mkdir()
    refused = mydata(
        "operator", "accredit", SUBJECT, "--role", ROLE, "-o", str(tmp_path / where),
        env=env, check=False,
    )  # fmt: skip
    assert refused.returncode == 2, refused.stderr
    assert "nothing was issued" in " ".join(refused.stderr.split())
    assert SUBJECT not in mydata("operator", "list", env=env).stdout  # none was issued

    written = tmp_path / "acc.json"
    done = mydata("operator", "accredit", SUBJECT, "--role", ROLE, "-o", str(written), env=env)
    assert "accredited" in done.stdout
    assert json.loads(written.read_text())["credentialSubject"]["id"] == SUBJECT
    assert mydata("operator", "list", env=env).stdout.count(SUBJECT) == 1
