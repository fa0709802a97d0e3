"""`mydata serve verifier` over DIDComm: a DCQL request for one allergy field, the wallet's
consented SD-JWT answer verified and decided, then the citizen's withdrawal deletes it."""

from __future__ import annotations

from typing import Any

from tests.verifier_didcomm.conftest import World
from tests.wallet_service.conftest import PRESENT, wait_for

ALLERGY_VCT = "https://w3id.org/health-mydata/vct/AllergyIntolerance/v1"
ALLERGY_CODE_ONLY = {
    "credentials": [
        {
            "id": "allergy",
            "format": "dc+sd-jwt",
            "meta": {"vct_values": [ALLERGY_VCT]},
            "claims": [{"path": ["allergy", "code"]}],
        }
    ]
}


def _request(world: World, body: dict[str, Any]) -> dict[str, Any]:
    response = world.verifier.admin.post(
        f"/admin/connections/{world.verifier_connection}/request-presentation", json=body
    )
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _pending(world: World, thread: str) -> dict[str, Any]:
    return wait_for(  # type: ignore[no-any-return]
        "the request to reach the wallet",
        lambda: next(
            (
                r
                for r in world.wallet.admin.get("/wallet/requests").json()
                if r["thread_id"] == thread
            ),
            None,
        ),
    )


def _verifier_state(world: World, thread: str) -> str | None:
    records = world.verifier.admin.get("/admin/records", params={"protocol": PRESENT}).json()
    return next((r["state"] for r in records if r["thread_id"] == thread), None)


def test_only_the_requested_allergy_code_is_verified_kept_and_deleted_on_withdrawal(
    world: World,
) -> None:
    identity = world.verifier.admin.get("/verifier").json()
    sent = _request(world, {"dcql_query": ALLERGY_CODE_ONLY, "purpose": "emergency care"})
    thread = sent["thread_id"]
    assert sent["audience"] == identity["did"]
    assert world.verifier.admin.get(f"/admin/presentations/{thread}").status_code == 404

    pending = _pending(world, thread)
    assert pending["audience"] == identity["did"]
    assert pending["plan"]["purpose"] == "emergency care"
    [item] = pending["plan"]["items"]
    assert item["disclosed"] == ["/allergy/code"]
    approved = world.wallet.admin.post(
        f"/wallet/requests/{thread}/approve", json={"digest": pending["plan"]["digest"]}
    )
    assert approved.status_code == 200, approved.text

    wait_for("the verifier to accept", lambda: _verifier_state(world, thread) == "done")
    stored = world.verifier.admin.get(f"/admin/presentations/{thread}").json()
    assert stored["verified"] is True, stored
    assert stored["accepted"] is True, stored
    assert stored["errors"] == []
    assert stored["purpose"] == "emergency care"
    assert stored["requested"] == {"allergy": ["/allergy/code"]}
    [shown] = stored["presentations"]
    assert shown["vct"] == ALLERGY_VCT
    assert shown["disclosed"] == ["/allergy/code"]
    results = {r["check"]: r["status"] for r in shown["report"]["results"]}
    assert results["challenge"] == "passed"
    assert results["fields"] == "passed"
    assert results["holder"] == "passed"
    assert shown["report"]["warnings"] == [] or all(
        "beyond what was requested" not in w for w in shown["report"]["warnings"]
    )
    assert shown["decision"]["accepted"] is True
    assert set(shown["decision"]["show"]["allergy"]) == {"code"}
    wait_for(
        "the wallet's thread to finish (ack)",
        lambda: any(
            r["thread_id"] == thread and r["state"] == "done"
            for r in world.wallet.admin.get("/admin/records", params={"protocol": PRESENT}).json()
        ),
    )
    # Claim values never reach the verifier's log.
    code = shown["decision"]["show"]["allergy"]["code"]
    needle = code if isinstance(code, str) else str(code.get("text") or code)[:20]
    assert needle not in world.verifier.log_path.read_text()

    # Withdrawal: the verifier deletes the presentation and the receipt comes back.
    consent_id = stored["consent_id"]
    withdrawn = world.wallet.admin.post(f"/wallet/consents/{consent_id}/withdraw")
    assert withdrawn.status_code == 200, withdrawn.text
    receipt = wait_for(
        "the deletion receipt",
        lambda: world.wallet.admin.get(f"/wallet/consents/{consent_id}").json()["receipt"],
    )
    assert receipt["kind"] == "deletion-receipt"
    assert receipt["consent_id"] == consent_id
    assert receipt["deleted"] == [f"presentation:{thread}"]
    consents = world.wallet.admin.get("/wallet/consents").json()
    [listed] = [c for c in consents if c["id"] == consent_id]
    assert listed["status"] == "withdrawn"
    gone = world.verifier.admin.get(f"/admin/presentations/{thread}")
    assert gone.status_code == 404, gone.text


def test_a_malformed_query_or_unknown_role_is_refused_before_anything_is_sent(
    world: World,
) -> None:
    path = f"/admin/connections/{world.verifier_connection}/request-presentation"
    bad_query = world.verifier.admin.post(path, json={"dcql_query": {"credentials": []}})
    assert bad_query.status_code == 400, bad_query.text
    bad_role = world.verifier.admin.post(
        path, json={"dcql_query": ALLERGY_CODE_ONLY, "role": "pirate"}
    )
    assert bad_role.status_code == 400, bad_role.text
    unauthenticated = world.verifier.admin.post(
        path, json={"dcql_query": ALLERGY_CODE_ONLY}, headers={"Authorization": ""}
    )
    assert unauthenticated.status_code == 401


def test_an_emergency_role_refuses_an_allergy_credential_with_a_problem_report(
    world: World,
) -> None:
    sent = _request(
        world,
        {"dcql_query": ALLERGY_CODE_ONLY, "purpose": "emergency care", "role": "emergency"},
    )
    thread = sent["thread_id"]
    pending = _pending(world, thread)
    approved = world.wallet.admin.post(
        f"/wallet/requests/{thread}/approve", json={"digest": pending["plan"]["digest"]}
    )
    assert approved.status_code == 200, approved.text
    wait_for("the verifier to refuse", lambda: _verifier_state(world, thread) == "abandoned")
    stored = world.verifier.admin.get(f"/admin/presentations/{thread}").json()
    assert stored["verified"] is True
    assert stored["accepted"] is False
    assert stored["role"] == "emergency"
    [shown] = stored["presentations"]
    assert shown["decision"]["show"] == {}
    assert "this is not an emergency summary" in shown["decision"]["reasons"]
