"""Search tags of stored credentials and the WQL queries over them.

Each credential has three records: the credential itself (category ``credential``, no tags),
a small *metadata* record (``credential-meta``: the :class:`wallet.holder.StoredCredential` as
JSON) with the structured tags, and a *words* record (``credential-words``, empty value) with
the free-text tags. A search is one askar ``fetch_all`` with a WQL filter on the metadata
records (for text, first one on the words records, then ``id $in`` on the metadata): askar
(SQL) does the filtering and only the matching records are decrypted, never all of them. The
credentials themselves are read only when presented. The words live apart because askar
decrypts every tag of every row it returns: a metadata row with hundreds of word tags would
make every search cost ~0.3 ms per hit instead of ~0.1 ms.

=====================  =========================  ==========================================
tag                    stored as                  query
=====================  =========================  ==========================================
``t:<type>`` = ``1``    encrypted                  ``type=`` (each W3C type, the ``vct``,
                                                  each SHC type)
``issuer``              encrypted                  ``issuer=``
``format``              encrypted                  ``format=``
``c:<system|code>``     encrypted                  ``code="http://snomed.info/sct|91936005"``
``k:<code>``            encrypted                  ``code="91936005"`` (any system)
``id``                  encrypted                  ``id $in`` after a text search
``w:<hmac>`` = ``1``    encrypted (words record)   ``text=`` (every word must occur)
``hash``                encrypted                  duplicate detection on import
``~issued``             **plaintext** YYYY-MM-DD   ``date_from=`` / ``date_to=`` (range)
``~until``              **plaintext** YYYY-MM-DD   (kept for expiry listings)
=====================  =========================  ==========================================

A long-lived process (the wallet service) loads the same tags into memory instead
(:mod:`wallet.index`, :meth:`wallet.Wallet.load_search_index`): the WQL built here is then run
on the index, and answers the same; askar is asked only whether another writer changed the
store since.

Why these choices (``docs/wallet.md`` has the longer version):

* askar encrypts tag names and values deterministically, so equality queries work on
  ciphertext, but range and ``$like`` do not (they silently return garbage;
  :mod:`agent.storage.askar` refuses them). Dates are the only range criterion, so they are the
  only plaintext tags. They reveal to someone holding the database file *when* credentials
  were issued (to the day), never what they say; codes, types, issuers and words never appear
  in plaintext.
* Free text is searched by word, not by substring: each word of the claims is tagged as
  ``w:`` plus 96 bits of HMAC-SHA-256 under a random per-wallet search secret (kept in the
  store, encrypted, and in backups). The tag has the same length whatever the word, so even
  the ciphertext length says nothing about it. Prefix and fuzzy search would need more tags
  (or an in-memory pass over decrypted summaries); not done.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

from agent.errors import InvalidInputError
from wallet._extract import text_words, word_tag

__all__ = [
    "META_CATEGORY",
    "WORDS_CATEGORY",
    "Filters",
    "build_filter",
    "credential_tags",
    "day_tag",
    "word_tags",
]

#: The record category of credential metadata, which carries the structured search tags.
META_CATEGORY: Final = "credential-meta"
#: The record category of the free-text word tags of each credential (same name as its id).
WORDS_CATEGORY: Final = "credential-words"

_TYPE: Final = "t:"
_CODE: Final = "c:"
_BARE_CODE: Final = "k:"
_ISSUED: Final = "~issued"
_UNTIL: Final = "~until"


def day_tag(value: date | datetime) -> str:
    """``YYYY-MM-DD`` (UTC for an aware datetime): what the plaintext date tags hold."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidInputError("date_from and date_to datetimes must be timezone-aware")
        value = value.astimezone(UTC).date()
    return value.isoformat()


def credential_tags(
    *,
    credential_id: str,
    types: Iterable[str],
    issuer: str | None,
    format: str,
    codes: Iterable[str],
    issued: datetime | None,
    valid_until: datetime | None,
    content_hash: str,
) -> dict[str, str]:
    """The tags of one credential's metadata record (see the module docstring)."""
    tags: dict[str, str] = {"id": credential_id, "format": format, "hash": content_hash}
    if issuer:
        tags["issuer"] = issuer
    for value in types:
        tags[_TYPE + value] = "1"
    for code in codes:
        tags[_CODE + code] = "1"
        tags[_BARE_CODE + code.rpartition("|")[2]] = "1"
    if issued is not None:
        tags[_ISSUED] = day_tag(issued)
    if valid_until is not None:
        tags[_UNTIL] = day_tag(valid_until)
    return tags


def word_tags(words: Iterable[str], secret: bytes) -> dict[str, str]:
    """The tags of one credential's words record: ``w:<hmac>`` = ``1`` per word."""
    return {word_tag(secret, word): "1" for word in words}


@dataclass(frozen=True, slots=True)
class Filters:
    """The WQL of a search: on the metadata records, and on the words records (``None``: no
    criterion there)."""

    meta: dict[str, Any] | None
    words: dict[str, Any] | None


def _conjunction(clauses: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def build_filter(
    *,
    secret: bytes,
    type: str | None = None,
    issuer: str | None = None,
    code: str | None = None,
    text: str | None = None,
    date_from: date | datetime | None = None,
    date_to: date | datetime | None = None,
    format: str | None = None,
) -> Filters:
    """The WQL filters for a search; both ``None`` when no criterion is given (everything).

    Criteria combine with AND. ``date_from``/``date_to`` bound the issuance day, inclusive.

    :raises InvalidInputError: ``text`` has no searchable word, or a naive datetime.
    """
    clauses: list[dict[str, Any]] = []
    if type is not None:
        clauses.append({_TYPE + type: "1"})
    if issuer is not None:
        clauses.append({"issuer": issuer})
    if format is not None:
        clauses.append({"format": str(format)})
    if code is not None:
        clauses.append({(_CODE if "|" in code else _BARE_CODE) + code: "1"})
    word_clauses: list[dict[str, Any]] = []
    if text is not None:
        words = list(dict.fromkeys(text_words(text)))
        if not words:
            raise InvalidInputError("the search text has no word of two or more letters or digits")
        word_clauses.extend({word_tag(secret, word): "1"} for word in words)

    if date_from is not None:
        clauses.append({_ISSUED: {"$gte": day_tag(date_from)}})
    if date_to is not None:
        clauses.append({_ISSUED: {"$lte": day_tag(date_to)}})
    return Filters(_conjunction(clauses), _conjunction(word_clauses))
