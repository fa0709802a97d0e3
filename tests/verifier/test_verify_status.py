"""The status check: revoked or suspended credentials fail; offline status states its age."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.credentials import add_proof
from agent.dids import DIDResolver
from agent.status import StatusChecker, StatusListAllocator
from agent.storage import Store
from issuer.issue import issue_credential, record_credential
from tests.verifier.conftest import Party
from tests.verifier.test_verify import NOW, SAMPLE
from verifier.report import Check, CheckStatus
from verifier.verify import verify_credential

BASE = "https://hospital.example/status"


async def _issue_with_status(
    store: Store, hospital: Party, citizen: Party
) -> tuple[StatusListAllocator, dict[str, Any], dict[str, Any], tuple[str, int], tuple[str, int]]:
    allocator = StatusListAllocator(store, issuer=hospital.did, base_url=BASE)
    revocation = await allocator.allocate("revocation")
    suspension = await allocator.allocate("suspension")
    unsigned = record_credential(
        json.loads(SAMPLE.read_text()),
        issuer=hospital.did,
        subject=citizen.did,
        valid_from=NOW - timedelta(days=1),
    )
    unsigned["credentialStatus"] = [
        allocator.entry(*revocation, "revocation"),
        allocator.entry(*suspension, "suspension"),
    ]
    credential = issue_credential(unsigned, hospital.signer, created=NOW - timedelta(days=1))
    return allocator, credential, unsigned, revocation, suspension


async def _checker(
    allocator: StatusListAllocator,
    hospital: Party,
    resolver: DIDResolver,
    lists: list[tuple[str, str]],
    fetched_at: Any,
) -> StatusChecker:
    checker = StatusChecker(None, resolver, offline=True, clock=lambda: NOW)
    for list_id, purpose in lists:
        unsigned = await allocator.list_credential(
            list_id, purpose, valid_from=NOW - timedelta(days=2)
        )
        signed = add_proof(unsigned, hospital.signer, created=NOW - timedelta(days=2))
        await checker.seed(allocator.list_url(list_id), signed, fetched_at=fetched_at)
    return checker


@pytest.mark.parametrize(
    ("purpose", "code"),
    [("revocation", "credentialRevoked"), ("suspension", "credentialSuspended")],
)
async def test_revoked_or_suspended_credential_fails_the_status_check(
    stores: tuple[Store, Store],
    hospital: Party,
    citizen: Party,
    resolver: DIDResolver,
    purpose: str,
    code: str,
) -> None:
    allocator, credential, _, revocation, suspension = await _issue_with_status(
        stores[0], hospital, citizen
    )
    lists = [(revocation[0], "revocation"), (suspension[0], "suspension")]
    checker = await _checker(allocator, hospital, resolver, lists, NOW)
    report = await verify_credential(credential, resolver=resolver, now=NOW, status_checker=checker)
    assert report.verified, report.to_dict()

    target = revocation if purpose == "revocation" else suspension
    await allocator.set_status(*target, purpose, True)
    checker = await _checker(allocator, hospital, resolver, lists, NOW)
    report = await verify_credential(credential, resolver=resolver, now=NOW, status_checker=checker)
    assert [str(r.check) for r in report.failed] == ["status"]
    status = report.result(Check.STATUS)
    assert status is not None
    assert status.code == code


async def test_offline_status_reports_its_age(
    stores: tuple[Store, Store], hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    allocator, credential, _, revocation, suspension = await _issue_with_status(
        stores[0], hospital, citizen
    )
    lists = [(revocation[0], "revocation"), (suspension[0], "suspension")]
    checker = await _checker(allocator, hospital, resolver, lists, NOW - timedelta(hours=5))
    report = await verify_credential(credential, resolver=resolver, now=NOW, status_checker=checker)
    status = report.result(Check.STATUS)
    assert status is not None
    assert status.status is CheckStatus.PASSED
    assert "fetched 5 h 0 min ago" in status.message


async def test_status_entry_without_a_checker_is_a_warning(
    stores: tuple[Store, Store], hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    _, credential, _, _, _ = await _issue_with_status(stores[0], hospital, citizen)
    report = await verify_credential(credential, resolver=resolver, now=NOW)
    assert report.verified
    assert report.warnings
    status = report.result(Check.STATUS)
    assert status is not None
    assert status.status is CheckStatus.SKIPPED


async def test_unknown_status_list_fails_with_a_retrieval_error(
    stores: tuple[Store, Store],
    hospital: Party,
    citizen: Party,
    resolver: DIDResolver,
    tmp_path: Path,
) -> None:
    _, credential, _, _, _ = await _issue_with_status(stores[0], hospital, citizen)
    checker = StatusChecker(None, resolver, offline=True, clock=lambda: NOW)
    report = await verify_credential(credential, resolver=resolver, now=NOW, status_checker=checker)
    status = report.result(Check.STATUS)
    assert status is not None
    assert status.status is CheckStatus.FAILED
    assert status.code == "STATUS_RETRIEVAL_ERROR"
