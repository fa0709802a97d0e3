"""agent.observability.StartupReport: a start-up refused with a typed error is one clear
line; any other start-up failure (a bug) keeps its traceback; a good start-up passes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi import FastAPI

from agent.errors import ErrorCode, InvalidInputError
from agent.observability import StartupReport


def _app(failure: BaseException | None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if failure is not None:
            raise failure
        yield

    return FastAPI(lifespan=lifespan)


async def _start(app: Any) -> tuple[list[dict[str, Any]], BaseException | None]:
    """Drive the ASGI lifespan start-up as uvicorn does: the messages the app sent, and what
    it raised (uvicorn ignores that once a start-up failure was sent)."""
    sent: list[dict[str, Any]] = []
    incoming = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict[str, Any]:
        return next(incoming)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    try:
        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    except Exception as exc:
        return sent, exc
    return sent, None


async def test_a_typed_refusal_is_reported_as_its_message() -> None:
    refusal = InvalidInputError(
        "this store holds no hospital: run 'mydata hospital init' first",
        code=ErrorCode.STORE_NOT_FOUND,
    )
    sent, raised = await _start(StartupReport(_app(refusal)))
    assert raised is refusal
    assert sent == [
        {
            "type": "lifespan.startup.failed",
            "message": "the service did not start: storeNotFound: this store holds no "
            "hospital: run 'mydata hospital init' first",
        }
    ]


@pytest.mark.parametrize("bug", [RuntimeError("a bug"), KeyError("state")])
async def test_any_other_failure_keeps_its_traceback(bug: Exception) -> None:
    sent, raised = await _start(StartupReport(_app(bug)))
    assert raised is bug
    assert [m["type"] for m in sent] == ["lifespan.startup.failed"]
    assert "Traceback" in sent[0]["message"]
    assert type(bug).__name__ in sent[0]["message"]


async def test_a_good_start_up_passes_through() -> None:
    app = _app(None)
    report = StartupReport(app)
    sent, raised = await _start(report)
    assert raised is None
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert report.state is app.state
