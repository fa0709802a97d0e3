"""The operator's audit log: every action leaves a chained entry; tampering is found."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from agent.errors import InvalidInputError
from agent.storage import Store
from governance import Operator
from governance.audit import GENESIS, OperatorAudit, OperatorEvent
from tests.governance.test_operator import _registered

ROLE = "AccreditedHealthcareProvider"


async def test_operator_actions_are_audited_in_a_chain(store: Store) -> None:
    operator = await Operator.init(store, base_url="https://operator.example")
    registration = await _registered(operator, store, ROLE)
    did = registration.did
    accreditation = await operator.approve(registration.id, valid_for=timedelta(days=30))
    await operator.suspend(accreditation.id)
    await operator.reinstate(accreditation.id)
    await operator.revoke(accreditation.id)

    entries = await operator.audit.entries()
    assert [e.event for e in entries] == [
        "operator.created",
        "registration.received",
        "accreditation.issued",
        "registration.approved",
        "accreditation.suspended",
        "accreditation.reinstated",
        "accreditation.revoked",
    ]
    assert entries[0].prev == GENESIS
    assert all(b.prev == a.hash for a, b in itertools.pairwise(entries))
    assert entries[2].fields == {"accreditation": accreditation.id, "subject": did, "role": ROLE}
    result = await operator.audit.verify()
    assert (result.ok, result.entries) == (True, 7)


@pytest.mark.parametrize("change", ["field", "remove-middle", "remove-last"])
async def test_tampering_is_found(store: Store, change: str) -> None:
    audit = OperatorAudit(store)
    for number in range(4):
        await audit.append(OperatorEvent.ACCREDITATION_ISSUED, accreditation=f"urn:uuid:{number}")
    async with store.transaction() as txn:
        if change == "field":
            record = await txn.get("operator-audit", "000000000002")
            data = record.json()
            data["fields"]["accreditation"] = "urn:uuid:forged"
            await txn.replace("operator-audit", "000000000002", data)
        elif change == "remove-middle":
            await txn.remove("operator-audit", "000000000002")
        else:
            await txn.remove("operator-audit", "000000000004")
        await txn.commit()
    result = await audit.verify()
    assert not result.ok
    assert result.first_bad_seq == {"field": 2, "remove-middle": 2, "remove-last": 3}[change]


async def test_fields_must_be_identifier_strings(store: Store) -> None:
    audit = OperatorAudit(store)
    with pytest.raises(InvalidInputError):
        await audit.append(OperatorEvent.ACCREDITATION_REVOKED, accreditation="x" * 5000)
    assert await audit.entries() == []
