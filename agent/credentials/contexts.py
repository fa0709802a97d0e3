"""Pinned JSON-LD contexts, a loader that never touches the network, and term checks.

Every ``@context`` URL a credential may use is shipped in ``agent/contexts/`` (sources in
``agent/contexts/SOURCES.md``) and served from memory by :func:`document_loader`. Any other URL
is refused with :class:`~agent.errors.ContextError` (``contextNotAllowed``): a remote context is
both a privacy leak (the fetch tells a server which credential is being verified) and a way to
change what a signed document means after it was signed (VC Data Model 2.0, section 5.2
https://www.w3.org/TR/vc-data-model-2.0/#contexts and section 8.2 "Content Integrity").

:func:`check_terms` is this project's "safe mode" (jsonld.js ``safe: true``; pyld 3.3 has no
such option, only an ``on_property_dropped`` hook, which this module uses): JSON-LD expansion
silently drops a property whose term no context defines, so a signature over RDF would not
cover it. Here every dropped property, and every ``@type`` or ``@id`` value that stays a
relative IRI, is a :class:`~agent.errors.ContextError` (``undefinedTerm``) naming the path.

Decision on ``@vocab`` (the ``strict`` flag, on by default): the final VC 2.0 base context
(W3C Recommendation, 15 May 2025) no longer carries the draft-era
``"@vocab": "https://www.w3.org/ns/credentials/issuer-dependent#"``; undefined terms now need
the separate ``https://www.w3.org/ns/credentials/undefined-terms/v2`` context, which is not
shipped and therefore refused. Other contexts still use a catch-all ``@vocab`` (the examples
context maps everything to ``https://www.w3.org/ns/credentials/examples#``). In strict mode
every ``@vocab`` is ignored, so a term that only expands through a catch-all vocabulary is
reported as undefined, exactly like a dropped one. ``strict=False`` accepts ``@vocab``
expansion (jsonld.js safe-mode semantics); the ``eddsa-rdfc-2022`` suite uses that mode,
because canonicalisation must reproduce what other implementations sign.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any

from pyld import jsonld  # type: ignore[import-untyped,unused-ignore]
from pyld.context_resolver import ContextResolver  # type: ignore[import-untyped,unused-ignore]

from agent.errors import ContextError, ErrorCode
from agent.jsonio import json_type
from agent.types import JSON, JSONObject

__all__ = [
    "HEALTH_V1",
    "KNOWN_CONTEXTS",
    "check_contexts",
    "check_terms",
    "document_loader",
    "expand",
    "jsonld_options",
    "load_context",
]

#: The project's own vocabulary context (``agent/contexts/health-v1.jsonld``).
HEALTH_V1 = "https://w3id.org/health-mydata/v1"

#: Context URL -> file name in ``agent/contexts/``. Nothing else is ever loaded.
KNOWN_CONTEXTS: Mapping[str, str] = {
    "https://www.w3.org/ns/credentials/v2": "credentials-v2.jsonld",
    "https://www.w3.org/2018/credentials/v1": "credentials-v1.jsonld",
    "https://www.w3.org/ns/credentials/examples/v2": "credentials-examples-v2.jsonld",
    "https://w3id.org/security/data-integrity/v2": "data-integrity-v2.jsonld",
    "https://w3id.org/security/multikey/v1": "multikey-v1.jsonld",
    "https://www.w3.org/ns/did/v1": "did-v1.jsonld",
    "https://w3id.org/security/suites/ed25519-2020/v1": "ed25519-signature-2020-v1.jsonld",
    HEALTH_V1: "health-v1.jsonld",
}

#: What pyld raises, besides JsonLdError, on input it cannot process.
_PYLD_CRASHES = (OverflowError, ValueError, TypeError, RecursionError)

_ABSOLUTE_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
# What a context URL looks like, to decide whether an unknown @context entry may be named in an
# error: a context identifier is not a claim, but anything else found there might be one.
_CONTEXT_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[!-~]{1,200}")


@cache
def _raw_context(url: str) -> str:
    """The pinned file's text, read once per process."""
    name = KNOWN_CONTEXTS[url]
    return resources.files("agent").joinpath("contexts", name).read_text(encoding="utf-8")


def load_context(url: str) -> JSONObject:
    """A fresh copy of the pinned context document for ``url``.

    :raises ContextError: (``contextNotAllowed``) when ``url`` is not in :data:`KNOWN_CONTEXTS`.
    """
    if url not in KNOWN_CONTEXTS:
        raise ContextError(
            f"JSON-LD context {url!r} is not shipped with health-mydata and is never fetched "
            "from the network; use one of the pinned contexts (agent/contexts/SOURCES.md)",
            code=ErrorCode.CONTEXT_NOT_ALLOWED,
            details={"context": url},
        )
    document: JSONObject = json.loads(_raw_context(url))
    return document


def _strip_vocab(context: JSON) -> JSON:
    """``context`` with every ``@vocab`` removed, including those in scoped contexts."""
    if isinstance(context, list):
        return [_strip_vocab(item) for item in context]
    if isinstance(context, dict):
        stripped: JSONObject = {}
        for key, value in context.items():
            if key == "@vocab":
                continue
            if isinstance(value, dict) and "@context" in value:
                value = {**value, "@context": _strip_vocab(value["@context"])}
            stripped[key] = value
        return stripped
    return context


def _make_loader(strict: bool) -> Any:
    def loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        document = load_context(url)
        if strict:
            document = {"@context": _strip_vocab(document.get("@context"))}
        return {
            "contentType": "application/ld+json",
            "contextUrl": None,
            "documentUrl": url,
            "document": document,
        }

    return loader


#: The pyld ``documentLoader``: serves the pinned copies and raises for anything else.
document_loader = _make_loader(strict=False)
_strict_loader = _make_loader(strict=True)


@cache
def _resolver(strict: bool) -> Any:
    """A context resolver with its own cache, so pinned contexts are parsed once per process.

    pyld's default resolver shares one cache keyed by URL across all loaders in the process;
    a private cache keeps the ``@vocab``-stripped (strict) copies apart from the real ones and
    from any other pyld user.
    """
    from cachetools import LRUCache  # pyld's own dependency

    return ContextResolver(LRUCache(maxsize=64), _strict_loader if strict else document_loader)


def jsonld_options(*, strict: bool = False) -> dict[str, Any]:
    """pyld options that load contexts only through the pinned loader (and its cache).

    ``base`` is ``None`` so that a relative IRI stays relative and is reported; pyld would
    otherwise resolve it against ``http://example.org/base/``.
    """
    return {
        "documentLoader": _strict_loader if strict else document_loader,
        "contextResolver": _resolver(strict),
        "base": None,
    }


def _context_values(document: JSON) -> Iterator[tuple[str, JSON]]:
    """Every ``@context`` value in ``document``, with its JSON path."""
    stack: list[tuple[str, JSON]] = [("$", document)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "@context":
                    yield f"{path}.@context", value
                else:
                    stack.append((f"{path}.{key}", value))
        elif isinstance(node, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(node))


def check_contexts(document: JSONObject) -> None:
    """Check that every ``@context`` entry is a shipped URL or an inline object.

    :raises ContextError: ``contextNotAllowed`` with the path of the first unknown entry; the
        entry itself is named only when it is a URL (anything else might be a claim).
    """
    for path, value in _context_values(document):
        entries = value if isinstance(value, list) else [value]
        for index, entry in enumerate(entries):
            if entry is None or isinstance(entry, dict):
                continue
            if not isinstance(entry, str) or entry not in KNOWN_CONTEXTS:
                where = f"{path}[{index}]" if isinstance(value, list) else path
                if isinstance(entry, str) and _CONTEXT_URL.fullmatch(entry):
                    what = f"@context entry {entry} at {where} is not a pinned context"
                    details: dict[str, Any] = {"path": where, "context": entry}
                else:
                    # Not a URL: it could be anything, so only its JSON type is reported.
                    what = (
                        f"@context entry at {where} is a JSON {json_type(entry)} that is not a "
                        "pinned context URL"
                    )
                    details = {"path": where, "type": json_type(entry)}
                raise ContextError(
                    f"{what}; health-mydata never fetches contexts from the network",
                    code=ErrorCode.CONTEXT_NOT_ALLOWED,
                    details=details,
                )


def _find_key_paths(document: JSON, key: str) -> list[str]:
    found: list[str] = []
    stack: list[tuple[str, JSON]] = [("$", document)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            for name, value in node.items():
                if name == "@context":
                    continue
                if name == key:
                    found.append(f"{path}.{name}")
                stack.append((f"{path}.{name}", value))
        elif isinstance(node, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(node))
    return sorted(found)


def _context_error_from(exc: BaseException) -> ContextError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ContextError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _relative_iris(expanded: JSON) -> Iterator[tuple[str, str]]:
    """``(keyword, value)`` for every ``@type``/``@id`` that expansion left relative."""
    stack: list[JSON] = [expanded]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            if "@value" in node:
                continue  # A literal: its @type is a datatype IRI, checked below.
            for key, value in node.items():
                if key == "@type":
                    for item in value if isinstance(value, list) else [value]:
                        if isinstance(item, str) and not _ABSOLUTE_IRI.match(item):
                            yield key, item
                elif key == "@id":
                    if (
                        isinstance(value, str)
                        and not value.startswith("_:")
                        and not _ABSOLUTE_IRI.match(value)
                    ):
                        yield key, value
                else:
                    stack.append(value)


def expand(document: JSONObject, *, strict: bool = True) -> list[JSONObject]:
    """Expand ``document`` with the pinned contexts, refusing anything that would be lost.

    See the module docstring for what ``strict`` changes. JSON-LD 1.1 expansion:
    https://www.w3.org/TR/json-ld11-api/#expansion-algorithm

    :raises ContextError: ``contextNotAllowed`` for an unknown context URL; ``undefinedTerm``
        for a property no context defines (``details['terms']`` and ``details['paths']``) or a
        ``@type``/``@id`` left as a relative IRI (``details['paths']`` where the values occur,
        never the values); ``MALFORMED_VALUE_ERROR`` for any other JSON-LD error (for example
        an attempt to redefine a protected term).
    """
    check_contexts(document)
    source = document
    if strict:
        source = copy.deepcopy(document)
        for node in _nodes_with_context(source):
            node["@context"] = _strip_vocab(node["@context"])
    dropped: list[str] = []

    def on_dropped(term: str | None) -> None:
        dropped.append(term if term is not None else "<null>")

    processor = jsonld.JsonLdProcessor(on_property_dropped=on_dropped)
    try:
        expanded: list[JSONObject] = processor.expand(source, jsonld_options(strict=strict))
    except jsonld.JsonLdError as exc:
        cause = _context_error_from(exc)
        if cause is not None:
            raise cause from exc
        raise ContextError(
            f"the document is not valid JSON-LD with the pinned contexts: {exc.type}",
            code=ErrorCode.MALFORMED_VALUE_ERROR,
            details={"jsonld_error": str(getattr(exc, "code", None) or exc.type)},
        ) from exc
    except _PYLD_CRASHES as exc:
        # pyld fails this way on some hostile input (an integer too large for a double raises
        # OverflowError); that is a document we cannot read, not a bug of ours.
        raise ContextError(
            "the document is not valid JSON-LD with the pinned contexts: it holds a value "
            f"JSON-LD processing cannot represent ({type(exc).__name__})",
            code=ErrorCode.MALFORMED_VALUE_ERROR,
            details={"jsonld_error": type(exc).__name__},
        ) from exc
    if dropped:
        terms = sorted(set(dropped))
        paths = [p for term in terms for p in _find_key_paths(document, term)]
        raise ContextError(
            f"term(s) {', '.join(terms)} at {', '.join(paths) or 'unknown path'} are not defined "
            "by any @context of the document; define them in a context (for health data: "
            f"{HEALTH_V1}) instead of relying on a catch-all @vocab",
            code=ErrorCode.UNDEFINED_TERM,
            details={"terms": terms, "paths": paths},
        )
    relative = sorted(set(_relative_iris(expanded)))
    if relative:
        # The values themselves are not repeated (an identifier can be personal data): the
        # paths in the document where they occur are.
        wanted = {value for _, value in relative}
        paths = _find_value_paths(document, wanted) or ["unknown path"]
        keywords = sorted({keyword for keyword, _ in relative})
        raise ContextError(
            f"the {' / '.join(keywords)} value(s) at {', '.join(paths)} did not expand to "
            "absolute IRIs: a type that no @context defines, or an identifier that is not a URL",
            code=ErrorCode.UNDEFINED_TERM,
            details={"paths": paths, "keywords": keywords},
        )
    return expanded


def _find_value_paths(document: JSON, values: set[str]) -> list[str]:
    """The JSON paths of the string values in ``values`` (outside ``@context``), sorted."""
    found: list[str] = []
    stack: list[tuple[str, JSON]] = [("$", document)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            if node in values:
                found.append(path)
        elif isinstance(node, dict):
            stack.extend(
                (f"{path}.{name}", value) for name, value in node.items() if name != "@context"
            )
        elif isinstance(node, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(node))
    return sorted(found)


def _nodes_with_context(document: JSON) -> Iterator[JSONObject]:
    stack: list[JSON] = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "@context" in node:
                yield node
            stack.extend(value for key, value in node.items() if key != "@context")
        elif isinstance(node, list):
            stack.extend(node)


def check_terms(document: JSONObject, *, strict: bool = True) -> None:
    """Check that every term of ``document`` is defined by its pinned contexts.

    :raises ContextError: see :func:`expand`.
    """
    expand(document, strict=strict)
