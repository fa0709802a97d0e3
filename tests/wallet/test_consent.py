"""Consent records: one per presentation, signed by the citizen, withdrawn, receipted, chained."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta

import pytest

from agent.errors import ErrorCode, ProofError
from agent.protocols.notification import NoticeKind, build_notice, parse_notice
from tests.wallet.conftest import Hospital
from tests.wallet.test_present import ER, TWO_FIELDS, _sd_allergy
from wallet import (
    ConsentError,
    ConsentStatus,
    Presentation,
    Wallet,
    consent_history,
    get_consent,
    list_consents,
    plan_presentation,
    present,
    record_receipt,
    verify_consent,
    verify_history,
    withdraw,
)
from wallet.consent import LOG_CATEGORY


async def _present(wallet: Wallet, hospital: Hospital, now: datetime) -> Presentation:
    if not await wallet.list():
        await _sd_allergy(wallet, hospital, now)
    plan = await plan_presentation(wallet, TWO_FIELDS, verifier=ER, purpose="emergency care")
    return await present(wallet, plan, nonce="n", audience=ER.id, retention="P7D")


async def test_each_presentation_records_a_signed_consent(
    wallet: Wallet, hospital: Hospital, now: datetime
) -> None:
    first = await _present(wallet, hospital, now)
    second = await _present(wallet, hospital, now)
    consents = await list_consents(wallet)
    assert [c.id for c in consents] == [first.consent.id, second.consent.id]
    record = first.consent.document
    assert record["issuer"] == await wallet.holder_did()
    assert record["recipient"] == {"id": ER.id, "name": ER.name}
    assert record["purpose"] == "emergency care"
    assert record["legalBasis"] == "consent"
    assert record["retention"] == "P7D"
    assert record["dataCategories"] == ["https://w3id.org/health-mydata/vct/AllergyIntolerance/v1"]
    assert record["fields"][0]["fields"] == ["/allergy/code", "/allergy/criticality"]
    assert record["presentationDigest"] == first.digest
    assert first.consent.status is ConsentStatus.ACTIVE
    await verify_consent(wallet, record)
    altered = copy.deepcopy(record)
    altered["retention"] = "P99Y"
    with pytest.raises(ProofError):
        await verify_consent(wallet, altered)
    assert await verify_history(wallet) == 2


async def test_withdraw_and_receipt(wallet: Wallet, hospital: Hospital, now: datetime) -> None:
    presentation = await _present(wallet, hospital, now)
    consent_id = presentation.consent.id
    body = await withdraw(wallet, consent_id)
    assert body["kind"] == "consent-withdrawn"
    assert body["consent_id"] == consent_id
    message = build_notice(body, clock=lambda: now, from_=await wallet.holder_did(), to=[ER.id])
    assert parse_notice(message).kind is NoticeKind.CONSENT_WITHDRAWN
    state = await get_consent(wallet, consent_id)
    assert state.status is ConsentStatus.WITHDRAWN
    assert state.withdrawal is not None
    await verify_consent(wallet, state.withdrawal)
    with pytest.raises(ConsentError) as again:
        await withdraw(wallet, consent_id)
    assert again.value.code is ErrorCode.CONSENT_NOT_ACTIVE
    assert await list_consents(wallet, status=ConsentStatus.ACTIVE) == []

    # The recipient's deletion receipt, on the withdrawal's thread.
    receipt = build_notice(
        {
            "kind": "deletion-receipt",
            "occurred_at": "2026-11-29T06:00:00Z",
            "consent_id": consent_id,
            "deleted": ["allergy"],
        },
        clock=lambda: now + timedelta(seconds=5),
        thid=message["id"],
        from_=ER.id,
        to=[await wallet.holder_did()],
    )
    kept = await record_receipt(wallet, receipt)
    assert kept.receipt is not None
    assert kept.receipt["deleted"] == ["allergy"]
    assert (await get_consent(wallet, consent_id)).receipt == kept.receipt
    events = [e.event for e in await consent_history(wallet)]
    assert events == ["given", "withdrawn", "receipt"]
    assert await verify_history(wallet) == 3


async def test_receipt_must_fit_a_withdrawn_consent(
    wallet: Wallet, hospital: Hospital, now: datetime
) -> None:
    presentation = await _present(wallet, hospital, now)
    consent_id = presentation.consent.id

    def receipt(cid: str, sender: str = ER.id) -> dict[str, object]:
        return build_notice(
            {
                "kind": "deletion-receipt",
                "occurred_at": "2026-11-29T06:00:00Z",
                "consent_id": cid,
                "deleted": [],
            },
            clock=lambda: now,
            from_=sender,
        )

    with pytest.raises(ConsentError) as early:
        await record_receipt(wallet, receipt(consent_id))  # not withdrawn yet
    assert early.value.code is ErrorCode.CONSENT_RECEIPT_MISMATCH
    await withdraw(wallet, consent_id)
    with pytest.raises(ConsentError) as stranger:
        await record_receipt(wallet, receipt(consent_id, "did:web:someone.else"))
    assert stranger.value.code is ErrorCode.CONSENT_RECEIPT_MISMATCH
    with pytest.raises(ConsentError) as unknown:
        await record_receipt(wallet, receipt("urn:uuid:00000000-0000-0000-0000-000000000000"))
    assert unknown.value.code is ErrorCode.CONSENT_NOT_FOUND
    withdrawn = build_notice(
        {
            "kind": "consent-withdrawn",
            "occurred_at": "2026-11-29T06:00:00Z",
            "consent_id": consent_id,
        },
        clock=lambda: now,
    )
    with pytest.raises(ConsentError):
        await record_receipt(wallet, withdrawn)


async def test_altered_history_is_detected(
    wallet: Wallet, hospital: Hospital, now: datetime
) -> None:
    await _present(wallet, hospital, now)
    await _present(wallet, hospital, now)
    async with wallet.store.transaction() as txn:
        record = await txn.get(LOG_CATEGORY, "000000000001")
        entry = record.json()
        entry["document"]["purpose"] = "marketing"
        await txn.replace(LOG_CATEGORY, record.name, entry, record.tags)
        await txn.commit()
    with pytest.raises(ConsentError) as caught:
        await verify_history(wallet)
    assert caught.value.code is ErrorCode.CONSENT_HISTORY_BROKEN
    assert caught.value.details == {"seq": 1}
