"""Which party a store belongs to, so that one party's ``init`` does not move into another's.

Each party marks its store with records only it writes: its identity record (the hospital's
and the operator's ``<party>/identity``, the wallet's ``wallet/identity``, the verifier's
``verifier_identity``) or, for stores without one, its own records (an insurer's claim
evidence, a wallet service's trusted operators). ``mydata hospital init`` on the operator's
store would otherwise add a second identity beside the operator's, in a store the operator's
service serves and backs up; refusing is the only safe answer.

Shared by the hospital's and the operator's ``init`` (:func:`agent.identity.create_identity`
makes their identities), so it lives in ``agent``, which both may import.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from agent.errors import InvalidInputError
from agent.storage import Store
from agent.storeconfig import STORE_KEY_ENV, key_file_for

__all__ = [
    "STORE_MARKERS",
    "keyless_store",
    "keyless_store_refusal",
    "refuse_other_party",
    "store_owner",
]

#: ``(record category, party)``: a store holding a record of the category belongs to the party.
STORE_MARKERS: Final = (
    ("hospital", "a hospital (mydata hospital init)"),
    ("operator", "the operator (mydata operator init)"),
    ("wallet", "a wallet (mydata wallet init)"),
    ("wallet_trust_operator", "a wallet service (its DIDComm agent store)"),
    ("verifier_identity", "a verifier (mydata serve verifier)"),
    ("insurer_claim_evidence", "an insurer (mydata insurer verify)"),
)


async def store_owner(store: Store, *, ignore: str | None = None) -> str | None:
    """The party ``store`` belongs to (as :data:`STORE_MARKERS` names it), or ``None`` when it
    holds no party's records. ``ignore`` is a marker category not to count (the caller's own).
    """
    async with store.session() as session:
        for category, party in STORE_MARKERS:
            if category != ignore and await session.count(category):
                return party
    return None


async def refuse_other_party(store: Store, *, party: str, own: str, command: str) -> None:
    """Refuse to make ``party`` in a store another party owns.

    :param own: the caller's own marker category (its identity record's).
    :param command: the command that makes a store of its own, for the message.
    :raises InvalidInputError: the store belongs to another party (``details['owner']``).
    """
    owner = await store_owner(store, ignore=own)
    if owner is not None:
        raise InvalidInputError(
            f"this store belongs to {owner}; {party} needs a store of its own: give "
            f"'{command}' another --store (nothing was written)",
            details={"owner": owner},
        )


def keyless_store_refusal(uri: str, *, party: str, command: str) -> str | None:
    """Why ``command`` may not make ``party``'s store at ``uri`` (:func:`keyless_store`), or
    ``None`` when it may."""
    if not keyless_store(uri):
        return None
    return (
        f"{uri} exists but has no key file beside it and MYDATA_STORE_KEY is not set: it is not "
        f"{party}'s store (a wallet's opens with its passphrase); give '{command}' another "
        "--store (nothing was written)"
    )


def keyless_store(uri: str) -> bool:
    """Whether ``uri`` is an existing SQLite store with neither a key file beside it nor
    ``MYDATA_STORE_KEY``: an ``init`` would write a new key file beside someone else's store
    (a wallet's, encrypted with its passphrase) and then fail to open it. Nothing else can open
    it with a new key, so the ``init`` is refused before it writes anything."""
    if os.environ.get(STORE_KEY_ENV):
        return False
    key_file = key_file_for(uri)
    return (
        key_file is not None
        and Path(uri.removeprefix("sqlite://")).exists()
        and not key_file.exists()
    )
