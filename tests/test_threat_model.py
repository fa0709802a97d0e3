"""docs/threat-model.md: every test a row names exists (the suite runs them all)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "threat-model.md"
REFERENCE = re.compile(r"(tests/[\w/]+\.py)::\s*(test_\w+)(?:\[([^\]]+)\])?")


def test_every_named_test_exists() -> None:
    text = DOC.read_text("utf-8")
    references = REFERENCE.findall(text)
    assert len(references) > 50
    missing = []
    for path, name, case in references:
        source = ROOT / path
        if not source.exists() or not re.search(rf"def {name}\(", source.read_text("utf-8")):
            missing.append(f"{path}::{name}")
        elif (
            path == "tests/scenarios/test_scenarios.py"
            and case
            and not (ROOT / "tests" / "scenarios" / case / "scenario.json").exists()
        ):
            missing.append(f"{path}::{name}[{case}]")
    assert not missing, missing


def test_every_flow_has_a_table_and_open_gaps_are_listed() -> None:
    text = DOC.read_text("utf-8")
    for flow in (
        "Issuance",
        "Storage in the wallet",
        "Presentation",
        "Emergency",
        "Claim",
        "Backup and restore",
        "Operator trust",
        "Admin APIs",
    ):
        assert f"## {flow}" in text, flow
    rows_open = text.split("## Open gaps")[0].count("**OPEN**")
    listed = len(re.findall(r"^\d+\. ", text.split("## Open gaps")[1], re.MULTILINE))
    assert rows_open <= listed, "an OPEN row is missing from the list of open gaps"
