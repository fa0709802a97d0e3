"""`mydata verify` on SD-JWT VCs and SMART Health Cards; `mydata insurer verify`."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from agent.clock import utcnow
from agent.dids import DIDResolver
from mydata.cli import build_app
from tests.verifier.conftest import Party
from tests.verifier.world import accreditation, claim_evidence, emergency_card
from verifier.offline import export_offline_cache
from verifier.trust import TrustRegistry

DATA = Path(__file__).parent / "data"


def test_verify_detects_sd_jwt_and_smart_health_cards(hospital: Party, tmp_path: Path) -> None:
    runner, app = CliRunner(), build_app()
    card = tmp_path / "card.sd-jwt"
    card.write_text(emergency_card(hospital, iat=utcnow() - timedelta(days=1)))
    result = runner.invoke(app, ["verify", str(card), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["verified"] is True

    shc = DATA / "smart-health-cards" / "example-00-d-jws.txt"
    result = runner.invoke(
        app, ["verify", str(shc), "--jwks", str(DATA / "smart-health-cards" / "jwks.json")]
    )
    assert result.exit_code == 0, result.output
    assert "ES256 signature verifies" in result.output
    result = runner.invoke(app, ["verify", str(shc)])
    assert result.exit_code == 2  # not an SD-JWT, and no JWKS given

    garbage = tmp_path / "garbage.txt"
    garbage.write_text("hello~world")
    assert runner.invoke(app, ["verify", str(garbage)]).exit_code == 2


def test_insurer_verify_flags_a_second_claim(
    hospital: Party, citizen: Party, operator: Party, tmp_path: Path
) -> None:
    async def cache() -> dict[str, object]:
        trust = TrustRegistry({operator.did}, DIDResolver())
        await trust.add_accreditation(accreditation(operator, hospital.did))
        return export_offline_cache(trust=trust)

    (tmp_path / "cache.json").write_text(json.dumps(asyncio.run(cache())))
    evidence = tmp_path / "evidence.sd-jwt"
    evidence.write_text(claim_evidence(hospital, citizen, iat=utcnow() - timedelta(days=1)))
    runner, app = CliRunner(), build_app()
    common = [
        "--claim-type",
        "institutional",
        "--store",
        str(tmp_path / "insurer.sqlite"),
        "--cache",
        str(tmp_path / "cache.json"),
    ]
    result = runner.invoke(
        app,
        ["insurer", "verify", str(evidence), "--claim-id", "c-1", *common],
        env={"MYDATA_HOME": str(tmp_path)},
    )
    assert result.exit_code == 0, result.output
    assert "ACCEPTED" in result.output
    result = runner.invoke(
        app,
        ["insurer", "verify", str(evidence), "--claim-id", "c-2", *common, "--json"],
        env={"MYDATA_HOME": str(tmp_path)},
    )
    assert result.exit_code == 1, result.output
    assert json.loads(result.output)["decision"]["flags"] == ["duplicateClaim"]
