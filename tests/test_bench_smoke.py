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
            "wallet",
            "--quick",
            "--out",
            str(tmp_path / "results"),
            "--json",
            str(tmp_path / "run.json"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    body = json.loads((tmp_path / "results" / "latest.json").read_text())
    assert json.loads((tmp_path / "run.json").read_text()) == body
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
    # Wallet search: the askar query and the in-memory index find the same number of hits.
    for query in ("by code", "free text, two words", "free text, one word", "type + issuer"):
        hits = body[f"wallet.search_hits.{query}"]
        for how in ("askar query", "in-memory index"):
            assert names[f"search {query} ({hits} hits), {how}"]["ratio"] > 0
    # Every issue-8 target of these groups is judged, with its measured value and bound.
    targets = {t["name"]: t for t in body["targets"]}
    for name in (
        "eddsa-jcs-2022 sign within 2x of its primitives",
        "eddsa-jcs-2022 verify within 2x of its primitives",
        "emergency QR decode + verify offline under 5 ms",
        "wallet search at 300, by code, p50 under 5 ms",
    ):
        target = targets[name]
        assert target["value"] > 0
        assert target["bound"] > 0
        assert target["met"] is (
            target["value"] >= target["bound"]
            if target["at_least"]
            else target["value"] <= target["bound"]
        )
    assert any(name.startswith("SD-JWT VC 5 of 20") for name in targets)
    assert "wanted" in result.stdout


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
