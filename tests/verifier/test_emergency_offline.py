"""The emergency card verifies offline, from cached keys, status and trust, with no network;
the emergency policy shows the facts clearly, and their ages."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from agent.credentials.emergency_qr import encode_emergency_qr
from agent.credentials.token_status_list import TokenStatus
from agent.dids import DIDResolver
from agent.errors import ErrorCode
from mydata.cli import build_app
from tests.verifier.conftest import Party
from tests.verifier.world import (
    NOW,
    STATUS_URI,
    SUMMARY,
    accreditation,
    emergency_card,
    status_token,
)
from verifier.cli import emergency_lines, scan_emergency_card
from verifier.offline import export_offline_cache
from verifier.policy import EmergencyPolicy
from verifier.report import Check, VerificationReport
from verifier.sdjwt import TokenStatusCache
from verifier.trust import TrustRegistry


class _NoNetwork(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"network used: {request.url}")


async def _cache(
    hospital: Party, operator: Party, *, statuses: dict[int, int], age: timedelta
) -> dict[str, object]:
    # Built with a resolver whose client raises on any request: nothing is fetched.
    async with httpx.AsyncClient(transport=_NoNetwork()) as http:
        resolver = DIDResolver(http_client=http)
        trust = TrustRegistry({operator.did}, resolver, clock=lambda: NOW)
        await trust.add_accreditation(accreditation(operator, hospital.did), fetched_at=NOW - age)
        tokens = TokenStatusCache(offline=True, clock=lambda: NOW)
        tokens.seed(STATUS_URI, status_token(hospital, statuses), fetched_at=NOW - age)
        return export_offline_cache(token_status=tokens, trust=trust, clock=lambda: NOW)


async def test_emergency_card_offline_from_cached_data(
    hospital: Party, operator: Party, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = await _cache(hospital, operator, statuses={}, age=timedelta(hours=20))

    def no_client(*args: object, **kwargs: object) -> None:
        raise AssertionError("an HTTP client was created while offline")

    monkeypatch.setattr(httpx.AsyncClient, "__init__", no_client)
    card = encode_emergency_qr(emergency_card(hospital, status_idx=2))
    report, decision = await scan_emergency_card(card, offline_cache=cache, now=NOW)
    assert report.verified, report.to_dict()
    assert decision.accepted, decision
    assert decision.ages == {"status": 72000, "trust": 72000}
    assert any("20 h old" in w for w in decision.warnings)
    for section in (
        "bloodType",
        "allergies",
        "problems",
        "medications",
        "advanceDirective",
        "emergencyContact",
    ):
        assert decision.show[section] == SUMMARY[section]
    lines = dict(emergency_lines(decision.show))
    assert lines["Blood type"] == ["Blood group A Rh(D) positive [sct|278149003]"]
    assert lines["Allergies"] == ["Peanut - high [sct|762952008]"]
    assert lines["Emergency contact"] == ["Ola Nordmann - +4791234567"]


async def test_revoked_card_is_refused_but_unknown_status_only_warns(
    hospital: Party, operator: Party
) -> None:
    revoked = await _cache(
        hospital, operator, statuses={2: TokenStatus.INVALID}, age=timedelta(minutes=5)
    )
    card = emergency_card(hospital, status_idx=2)
    report, decision = await scan_emergency_card(card, offline_cache=revoked, now=NOW)
    assert not decision.accepted
    assert any("status failed" in r for r in decision.reasons)
    # A card whose status list is not in the cache: shown, with a warning.
    unknown = emergency_card(hospital, status_idx=2)
    empty = dict(revoked)
    empty["statusTokens"] = {}
    report, decision = await scan_emergency_card(unknown, offline_cache=empty, now=NOW)
    status = report.result(Check.STATUS)
    assert status is not None
    assert status.code == ErrorCode.STATUS_RETRIEVAL_ERROR
    assert decision.accepted
    assert any("revocation status unknown" in w for w in decision.warnings)


async def test_untrusted_hospital_card_is_refused(
    hospital: Party, operator: Party, stranger: Party
) -> None:
    cache = await _cache(hospital, operator, statuses={}, age=timedelta(0))
    report, decision = await scan_emergency_card(
        emergency_card(stranger), offline_cache=cache, now=NOW
    )
    assert not decision.accepted
    assert [str(r.check) for r in report.failed] == ["trust"]


async def test_policy_refuses_a_card_that_is_not_an_emergency_summary(
    hospital: Party, operator: Party
) -> None:
    from tests.verifier.world import CLAIM, issue

    cache = await _cache(hospital, operator, statuses={}, age=timedelta(0))
    card = issue(hospital, CLAIM, "https://w3id.org/health-mydata/vct/ClaimEvidence/v1")
    _, decision = await scan_emergency_card(card, offline_cache=cache, now=NOW)
    assert not decision.accepted
    assert "not an emergency summary" in decision.reasons[-1]
    empty = await EmergencyPolicy().decide(VerificationReport("sd-jwt", ()))
    assert empty.accepted is False


def test_er_scan_cli(hospital: Party, operator: Party, tmp_path: Path) -> None:
    import asyncio

    cache = asyncio.run(_cache(hospital, operator, statuses={}, age=timedelta(0)))
    (tmp_path / "cache.json").write_text(json.dumps(cache))
    card = encode_emergency_qr(emergency_card(hospital, iat=NOW - timedelta(days=1)))
    (tmp_path / "card.txt").write_text(card)
    runner = CliRunner()
    app = build_app()
    # The real clock is used by the CLI: the card was issued at NOW - 1 day.
    result = runner.invoke(
        app, ["er", "scan", str(tmp_path / "card.txt"), "--cache", str(tmp_path / "cache.json")]
    )
    assert result.exit_code == 0, result.output
    assert "Blood group A Rh(D) positive" in result.output
    assert "ACCEPTED" in result.output
    result = runner.invoke(
        app, ["er", "scan", card[:-5] + "0", "--cache", str(tmp_path / "cache.json")]
    )
    assert result.exit_code in (1, 2), result.output
    (tmp_path / "card.png").write_bytes(b"\x89PNG")
    result = runner.invoke(app, ["er", "scan", str(tmp_path / "card.png")])
    assert result.exit_code == 2
    assert "not a PNG, JPEG, GIF, BMP or WebP image" in " ".join(result.output.split())
    result = runner.invoke(app, ["er", "scan", "hello"])
    assert result.exit_code == 2


async def test_card_with_the_holders_key_binding(
    hospital: Party, citizen: Party, operator: Party
) -> None:
    from agent.credentials.emergency_qr import bind_emergency_card

    cache = await _cache(hospital, operator, statuses={}, age=timedelta(0))
    card = emergency_card(hospital, holder=citizen)
    bound = bind_emergency_card(
        card, citizen.signer, iat=NOW - timedelta(days=400), exp=NOW + timedelta(days=30)
    )
    report, decision = await scan_emergency_card(
        encode_emergency_qr(bound), offline_cache=cache, now=NOW
    )
    holder = report.result(Check.HOLDER)
    assert holder is not None
    assert holder.status.value == "passed", report.to_dict()
    assert decision.accepted
    report, decision = await scan_emergency_card(
        bound, offline_cache=cache, now=NOW + timedelta(days=31)
    )
    assert {str(r.check): r.code for r in report.failed} == {"holder": "RANGE_ERROR"}
    assert not decision.accepted
