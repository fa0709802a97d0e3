"""What a presentation would send, to whom, for what: shown to the citizen before agreeing.

A :class:`PresentationPlan` is made by :func:`wallet.present.plan_presentation` from a
verifier's DCQL query; nothing leaves the wallet until :func:`wallet.present.present` is called
with it. The plan holds the exact claims the verifier will see (``shown``), so a user interface
can display them; it is not logged or stored (the consent record keeps the field paths only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent.credentials.sd_jwt import ClaimPath
from wallet.holder import CredentialFormat, StoredCredential

__all__ = ["PlannedCredential", "PresentationPlan", "Recipient"]


@dataclass(frozen=True, slots=True)
class Recipient:
    """The party a presentation goes to: its DID and a name a person recognises."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class PlannedCredential:
    """One credential of a plan and exactly what of it the verifier will see.

    :param query_id: the DCQL Credential Query it answers.
    :param credential: the stored credential.
    :param requested: the claims asked for (JSON Pointers; ``*`` is every element).
    :param disclosed: the selectively disclosable claims that will be revealed, each as a JSON
        Pointer; for SD-JWT the minimum that answers the query (plus the containers a
        Disclosure needs). Empty for a W3C credential, which goes whole.
    :param always_shown: claims the verifier sees whatever is chosen (the issuer-signed part:
        ``iss``, ``vct``, ``iat``, ``cnf``, ...); for W3C ``["/"]``, the whole credential.
    :param whole_credential: ``True`` when the format cannot disclose selectively (W3C VC with
        ``eddsa-jcs-2022``): everything in it goes.
    :param shown: the claims as the verifier will see them.
    :param disclose_paths: the claim paths passed to the SD-JWT holder (internal).
    """

    query_id: str
    credential: StoredCredential
    requested: tuple[str, ...]
    disclosed: tuple[str, ...]
    always_shown: tuple[str, ...]
    whole_credential: bool
    shown: Any
    disclose_paths: tuple[ClaimPath, ...]

    @property
    def format(self) -> CredentialFormat:
        return self.credential.format


@dataclass(frozen=True, slots=True)
class PresentationPlan:
    """Exactly what goes to whom for which purpose; see the module docstring.

    :param recipient: the verifier.
    :param purpose: why it asks, in its words, as shown to the citizen and kept in the consent.
    :param items: the credentials and fields, in the query's order.
    :param created: when the plan was made.
    """

    recipient: Recipient
    purpose: str
    items: tuple[PlannedCredential, ...]
    created: datetime

    def describe(self) -> list[str]:
        """Lines for a person: who, why, and per credential what is revealed."""
        lines = [
            f"To: {self.recipient.name} ({self.recipient.id})",
            f"Purpose: {self.purpose}",
        ]
        for item in self.items:
            lines.append(f"- {item.credential.summary} [{item.credential.format}]")
            if item.whole_credential:
                lines.append("  the whole credential (this format cannot reveal parts of it)")
            else:
                for field in item.disclosed:
                    lines.append(f"  {field}")
                lines.append(f"  always shown: {', '.join(item.always_shown)}")
        return lines
