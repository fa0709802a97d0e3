"""What the wallet reads out of a credential's claims to tag, summarise and search it.

Private: used by :mod:`wallet.holder` (on import) and :mod:`wallet.search` (for queries).
Everything returned here is health data and is only ever stored encrypted (record values) or
as keyed hashes (search words); see ``docs/wallet.md``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterator
from typing import Any, Final

__all__ = ["MAX_CODES", "MAX_WORDS", "fhir_codes", "text_words", "word_tag", "words_of"]

#: At most this many codes and words are tagged per credential (a bundle can hold thousands).
MAX_CODES: Final = 256
MAX_WORDS: Final = 512
_WORD: Final = re.compile(r"[^\W_]{2,40}")
_MAX_DEPTH: Final = 64


def _walk(value: Any, depth: int = 0) -> Iterator[Any]:
    if depth > _MAX_DEPTH:
        return
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, depth + 1)


def fhir_codes(claims: Any) -> list[str]:
    """Every FHIR ``Coding`` (an object with string ``system`` and ``code``) found anywhere in
    ``claims``, as ``system|code``, in order of appearance, without repeats."""
    found: dict[str, None] = {}
    for node in _walk(claims):
        if isinstance(node, dict):
            system, code = node.get("system"), node.get("code")
            if isinstance(system, str) and isinstance(code, str) and system and code:
                found.setdefault(f"{system}|{code}", None)
                if len(found) >= MAX_CODES:
                    break
    return list(found)


def text_words(text: str) -> list[str]:
    """The search words of a text: NFKC, case-folded, runs of letters or digits of 2 to 40."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _WORD.findall(folded)


def words_of(claims: Any, *extra: str) -> list[str]:
    """The distinct search words of every string in ``claims`` (and ``extra``), at most
    :data:`MAX_WORDS`. Long opaque strings (base64, hashes) are skipped."""
    found: dict[str, None] = {}
    strings = [*extra, *(n for n in _walk(claims) if isinstance(n, str))]
    for text in strings:
        if len(text) > 2000 or (len(text) > 40 and " " not in text):
            continue
        for word in text_words(text):
            found.setdefault(word, None)
            if len(found) >= MAX_WORDS:
                return list(found)
    return list(found)


def word_tag(secret: bytes, word: str) -> str:
    """The tag name of a search word: ``w:`` and 96 bits of HMAC-SHA-256 under the wallet's
    search secret, base32. Fixed length, so the encrypted tag does not reveal the word's
    length; keyed, so the same word gives unrelated tags in two wallets."""
    mac = hmac.new(secret, word.encode("utf-8"), hashlib.sha256).digest()[:12]
    return "w:" + _b32(mac)


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()
