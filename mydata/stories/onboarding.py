"""Story 1, onboarding: a new hospital makes its keys and did:web, proves control of the DID to
the public operator (DID-auth) and applies for accreditation; the operator approves; the
hospital fetches and keeps its accreditation and starts its service; ``mydata selftest``'s
checks pass; verifiers load the operator's signed trust list.

The hospital's side is :mod:`issuer.accreditation` (what ``mydata hospital init --operator``
runs), the operator's its HTTP API (:mod:`governance.api`), the self-test
:func:`governance.selftest.run_selftest`.
"""

from __future__ import annotations

from rich.table import Table

from governance.selftest import run_selftest
from issuer.accreditation import HOSPITAL_ROLE, fetch_accreditation, register_with_operator
from issuer.hospital import Hospital
from mydata.stories.narrate import Narrator, Shared
from mydata.stories.sync import fetch_trust
from mydata.stories.world import LOOPBACK, World

__all__ = ["run"]

HOSPITAL_TITLE = "Demo General"


async def run(world: World, out: Narrator, shared: Shared) -> None:
    out.begin(1, "Onboarding: keys and DID, accreditation by the operator, a self-test")
    operator = world["operator"]
    shared.operator_did = operator.info["did"]
    out.says("operator", f"root DID [cyan]{shared.operator_did}[/] at {operator.url}")

    async def onboard(hospital: Hospital) -> None:
        out.says("hospital", f"new keys in its encrypted store; DID [cyan]{hospital.did}[/]")
        link = await register_with_operator(
            hospital, operator.url, http=world.http, name=HOSPITAL_TITLE
        )
        out.says(
            "hospital",
            f"applies as {HOSPITAL_ROLE}, signing the operator's challenge with its DID "
            f"(DID-auth): registration {link.registration_id[:8]}... is {link.state}",
        )
        pending = await operator.call("GET", "/admin/registrations", params={"state": "pending"})
        (mine,) = [r for r in pending if r["id"] == link.registration_id]
        out.says("operator", f"reviews {mine['name']} ({mine['did']}), and approves")
        approved = await operator.call(
            "POST", f"/admin/registrations/{link.registration_id}/approve", json={"validDays": 365}
        )
        accreditation = approved["accreditation"]
        shared.accreditation_id = accreditation["id"]
        out.decision(
            "operator",
            "ACCEPTED",
            f"{HOSPITAL_TITLE} accredited as {HOSPITAL_ROLE} until "
            f"{accreditation['validUntil'][:10]}",
        )
        kept = await fetch_accreditation(hospital, http=world.http, insecure_http_hosts=LOOPBACK)
        out.expect(kept.credential is not None, "the hospital fetched its accreditation")
        out.says("hospital", "fetches its accreditation, checks it and keeps it; starts serving")

    hospital = await world.start_hospital(title=HOSPITAL_TITLE, onboard=onboard)
    out.detail(f"did.json at {hospital.url}/.well-known/did.json, accreditation at /accreditation")

    report = await run_selftest(
        hospital.url,
        http=world.http,
        operators=[shared.operator_did],
        token=world.token,
        insecure_http_hosts=LOOPBACK,
    )
    table = Table("check", "result", "detail", title="mydata selftest " + hospital.url)
    for check in report.checks:
        table.add_row(check.name, str(check.outcome), check.message)
    out.table(table)
    out.expect(report.passed, "every self-test check passes")
    out.decision(
        "selftest", "PASSED" if report.passed else "FAILED", f"the deployment at {hospital.url}"
    )

    shared.trust_cache = world.workdir / "trust.json"
    registry = await fetch_trust(
        world.http, operator.url, shared.operator_did, insecure_http_hosts=LOOPBACK
    )
    registry.save(shared.trust_cache)
    trusted = await registry.check_issuer(hospital.info["did"])
    out.says("verifiers", "load the operator's signed trust list and the accreditation it names")
    out.expect(trusted.trusted, "verifiers trusting the operator trust the hospital")
    out.decision(
        "verifiers",
        "ACCEPTED" if trusted.trusted else "REJECTED",
        f"{hospital.info['did']} as an issuer of health credentials: {trusted.reason}",
    )
