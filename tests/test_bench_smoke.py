"""bench/ keeps working: a quick run produces every figure with its ratio (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_bench_run_writes_figures_with_ratios(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "proofs",
            "didcomm",
            "verifier",
            "--quick",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    body = json.loads((tmp_path / "latest.json").read_text())
    names = {f["name"]: f for f in body["figures"]}
    for suite in ("eddsa-jcs-2022", "eddsa-rdfc-2022"):
        for op in ("sign (add_proof)", "verify (verify_proofs)"):
            figure = names[f"{suite} {op}"]
            assert figure["seconds"] > 0
            assert figure["ratio"] is not None
            assert figure["ratio"] > 0
    assert body["proofs.credential_bytes"] > 2500
    for op in ("pack_encrypted (authcrypt)", "unpack (authcrypt)"):
        assert names[op]["ratio"] > 0
    assert body["didcomm.envelope_bytes"] > 1500
    for name in (
        "sd-jwt 0.10.4 SDJWTVerifier, same bytes",
        "verify_sd_jwt (agent)",
        "verify_sd_jwt_presentation (verifier pipeline)",
        "verify_sd_jwt vs the reference",
        "verify_sd_jwt_presentation (pipeline), EdDSA",
        "verify_presentation (format..credentials)",
        "decode + offline verify (helpers.verify_card)",
        "decode + verify_sd_jwt_presentation (er scan)",
    ):
        assert names[name]["ratio"] > 0, name
    assert body["verifier.card_disclosures"] == 6


def test_unknown_group_is_a_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench", "nonsense"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "unknown group" in result.stderr
