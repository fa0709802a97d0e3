"""The state machines of the built-in protocols (private; imported lazily by RecordRepository)."""

from __future__ import annotations

from agent.protocols.base import StateMachine


def builtin_machines() -> tuple[StateMachine, ...]:
    from agent.protocols.issuance import HOLDER, ISSUER
    from agent.protocols.notification import NOTIFICATION_RECIPIENT
    from agent.protocols.presentation import PROVER, VERIFIER

    return (ISSUER, HOLDER, VERIFIER, PROVER, NOTIFICATION_RECIPIENT)
