"""`mydata wallet trust add` changes the store; a running `mydata serve wallet` reads the trusted
operators at start-up. Both `trust add` and `trust status` say when a restart is needed, instead
of 'no operator is trusted' right after an add."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.wallet_service.conftest import WalletService

OPERATOR = "did:web:operator.example"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[WalletService]:
    running = WalletService(tmp_path)
    yield running
    running.stop()


def test_status_says_a_restart_is_needed_after_trust_add(service: WalletService) -> None:
    before = service.cli("trust", "status", "--store", service.store)
    assert "no operator is trusted" in before.stdout
    assert "restart" not in before.stdout
    assert (
        json.loads(service.cli("trust", "status", "--store", service.store, "--json").stdout)[
            "restartNeeded"
        ]
        is False
    )

    added = service.cli(
        "trust",
        "add",
        "--operator",
        OPERATOR,
        "--operator-url",
        "https://operator.example",
        "--store",
        service.store,
    )
    said = " ".join(added.stdout.split())
    assert f"trusting operator {OPERATOR}" in said
    assert "uses this after it is restarted" in said

    after = service.cli("trust", "status", "--store", service.store)
    said = " ".join(after.stdout.split())
    assert "restart needed" in said
    assert OPERATOR in said
    assert "no operator is trusted" not in said
    status = json.loads(service.cli("trust", "status", "--store", service.store, "--json").stdout)
    assert status["restartNeeded"] is True
