"""`mydata operator audit list` refuses the limits `mydata hospital audit list` refuses:
`--limit` below 1 and `--since` below 0 are usage errors (exit 2), nothing is listed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.governance.services import env_for, mydata


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with an operator's store and a hospital's store (3 audit entries or fewer)."""
    home = tmp_path_factory.mktemp("audit-limits")
    env = env_for(home)
    mydata("operator", "init", "--base-url", "https://operator.example", env=env)
    mydata("operator", "accredit", "did:web:hospital.example", "--role",
           "AccreditedHealthcareProvider", env=env)  # fmt: skip
    mydata("hospital", "init", "--base-url", "https://hospital.example", env=env)
    return home


@pytest.mark.parametrize("party", ["operator", "hospital"])
@pytest.mark.parametrize(
    ("option", "value"), [("--limit", "0"), ("--limit", "-5"), ("--since", "-1")]
)
def test_out_of_range_options_are_refused(homes: Path, party: str, option: str, value: str) -> None:
    result = mydata(party, "audit", "list", option, value, env=env_for(homes), check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert option in result.stderr
    assert "seq" not in result.stdout  # no table


def test_the_smallest_values_are_accepted(homes: Path) -> None:
    env = env_for(homes)
    first = mydata("operator", "audit", "list", "--limit", "1", "--since", "0", env=env).stdout
    assert "operator.created" in first
    assert "accreditation.issued" not in first
    rest = mydata("operator", "audit", "list", "--since", "1", env=env).stdout
    assert "accreditation.issued" in rest
    assert "operator.created" not in rest
