"""A service stopped while a background batch job runs: the job is cancelled and awaited before
the store closes, no store call is left to call back into a closed event loop, and posting the
same job again after a restart finishes it with exactly one credential per patient."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from aries_askar.bindings import get_library

from agent.storage import generate_raw_key
from tests.operations.conftest import ADMIN_TOKEN, allergy_resource, build_app, provision

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PATIENTS = 1500


def _pending_on(loop: asyncio.AbstractEventLoop) -> int:
    """askar calls made on ``loop`` whose callbacks have not arrived."""
    callbacks = get_library().loaded._callbacks
    return sum(1 for entry in list(callbacks.values()) if entry[0] is loop)


async def test_a_batch_in_flight_stops_with_the_service_and_resumes(tmp_path: Path) -> None:
    key = generate_raw_key()
    await provision("hospital", tmp_path, key)
    resource = allergy_resource()
    patients = [
        {"key": f"p{i}", "subject": "did:example:citizen", "fhir": resource}
        for i in range(PATIENTS)
    ]
    body = {"jobId": "ward-9", "patients": patients}

    app = build_app("hospital", tmp_path, key)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://h.test") as client:
            started = await client.post("/batches", json=body, headers=ADMIN)
            assert started.status_code == 202, started.text
            tasks = set(app.state.background_tasks)
            assert len(tasks) == 1
            await asyncio.sleep(0.3)  # the job is issuing now
            first = (await client.get("/batches/ward-9", headers=ADMIN)).json()
    # The lifespan has ended: the job was cancelled and awaited, nothing is pending on the loop.
    (task,) = tasks
    assert task.cancelled()
    assert not app.state.background_tasks
    assert _pending_on(asyncio.get_running_loop()) == 0
    assert first["state"] == "running", first
    assert first["done"] < PATIENTS, first

    again = build_app("hospital", tmp_path, key)
    async with again.router.lifespan_context(again):
        transport = httpx.ASGITransport(app=again)
        async with httpx.AsyncClient(transport=transport, base_url="http://h.test") as client:
            before = (await client.get("/batches/ward-9", headers=ADMIN)).json()
            assert before["state"] != "done", before
            assert before["done"] < PATIENTS, before
            resumed = await client.post("/batches", json=body, headers=ADMIN)
            assert resumed.status_code == 202, resumed.text
            (job,) = again.state.background_tasks
            await asyncio.wait_for(job, 120)
            state = (await client.get("/batches/ward-9", headers=ADMIN)).json()
            finished = {
                "jobId": "ward-9",
                "state": "done",
                "done": PATIENTS,
                "total": PATIENTS,
                "issued": PATIENTS,
                "failed": 0,
                "error": None,
            }
            assert state == finished
            ids: list[str] = []
            for offset in range(0, PATIENTS, 1000):
                page = await client.get(
                    "/batches/ward-9/credentials",
                    params={"offset": offset, "limit": 1000},
                    headers=ADMIN,
                )
                ids += [c["id"] for c in page.json()["credentials"]]
            assert len(ids) == PATIENTS
            assert len(set(ids)) == PATIENTS
