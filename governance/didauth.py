"""DID-auth: a presentation that proves its holder controls a DID, for one challenge.

A ``VerifiablePresentation`` with no credentials, whose ``holder`` is the DID, signed with
``eddsa-jcs-2022`` for the ``authentication`` purpose with the verifier's ``challenge`` and
``domain`` (VC Data Integrity 1.0 section 2.1). The operator verifies it with
:func:`agent.credentials.verify_proofs` (``binding="holder"``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from agent.credentials import CREDENTIALS_V2_CONTEXT, add_proof
from agent.keys import Signer

__all__ = ["did_auth_presentation"]


def did_auth_presentation(
    did: str, signer: Signer, *, challenge: str, domain: str, created: datetime
) -> dict[str, Any]:
    """The DID-auth presentation of ``did``, signed by ``signer`` (a key of ``did`` listed under
    ``authentication``)."""
    document: dict[str, Any] = {
        "@context": [CREDENTIALS_V2_CONTEXT],
        "type": ["VerifiablePresentation"],
        "holder": did,
    }
    return add_proof(
        document,
        signer,
        created=created,
        proof_purpose="authentication",
        challenge=challenge,
        domain=domain,
    )
