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
shipped and therefore refused. In strict mode an ``@vocab`` is honoured only when a pinned
context other than the VC base contexts declares it (the examples context maps everything to
``https://www.w3.org/ns/credentials/examples#``: a document that names that context asks for
it, and its types and terms expand to absolute IRIs there). Ignored in strict mode, so that a
term expanding only through them is reported as undefined like a dropped one: an ``@vocab`` of
an inline context, an ``@vocab`` of the VC 1.1 or 2.0 base context, and any ``@vocab`` that is
the issuer-dependent IRI. ``strict=False`` accepts every ``@vocab`` (jsonld.js safe-mode
semantics); the ``eddsa-rdfc-2022`` suite uses that mode, because canonicalisation must
reproduce what other implementations sign.

:func:`check_terms` remembers the *shapes* it accepted (see :func:`_shape`): the contexts, the
keys at every path, the ``type`` values, the strings that are terms of a pinned context, and
for every other value only what expansion can tell apart (an absolute IRI, a blank node, other
text, a number, ``true``/``false``/``null``). A document of an accepted shape expands the same
way, so it is accepted without running pyld again; a new shape (a new key, a new type, a
relative IRI where an absolute one was) is expanded in full. Documents with an inline context
are never cached.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any

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
#: The VC base contexts, whose ``@vocab`` (if a copy ever had one) strict mode ignores.
_BASE_CONTEXTS = frozenset(
    {"https://www.w3.org/ns/credentials/v2", "https://www.w3.org/2018/credentials/v1"}
)
#: The draft VC 2.0 catch-all vocabulary: never honoured in strict mode, wherever declared.
_ISSUER_DEPENDENT_VOCAB = "https://www.w3.org/ns/credentials/issuer-dependent#"
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


def _strip_vocab(context: JSON, *, only_issuer_dependent: bool = False) -> JSON:
    """``context`` without its ``@vocab`` entries, including those in scoped contexts; with
    ``only_issuer_dependent``, only those whose value is :data:`_ISSUER_DEPENDENT_VOCAB`."""
    if isinstance(context, list):
        return [_strip_vocab(item, only_issuer_dependent=only_issuer_dependent) for item in context]
    if isinstance(context, dict):
        stripped: JSONObject = {}
        for key, value in context.items():
            if key == "@vocab" and (not only_issuer_dependent or value == _ISSUER_DEPENDENT_VOCAB):
                continue
            if isinstance(value, dict) and "@context" in value:
                scoped = _strip_vocab(
                    value["@context"], only_issuer_dependent=only_issuer_dependent
                )
                value = {**value, "@context": scoped}
            stripped[key] = value
        return stripped
    return context


def _make_loader(strict: bool) -> Any:
    def loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        document = load_context(url)
        if strict:
            # A pinned context's @vocab is honoured, except the base contexts' (module
            # docstring) and the draft issuer-dependent vocabulary wherever it appears.
            stripped = _strip_vocab(
                document.get("@context"), only_issuer_dependent=url not in _BASE_CONTEXTS
            )
            document = {"@context": stripped}
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
    from pyld.context_resolver import ContextResolver  # type: ignore[import-untyped,unused-ignore]

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


def _contexts_all_known(document: JSON) -> bool:
    """Whether every ``@context`` entry is a pinned URL, ``null`` or an object: the usual case,
    decided without building the JSON paths that an error names."""
    stack: list[JSON] = [document]
    while stack:
        node = stack.pop()
        if type(node) is dict:
            for key, value in node.items():
                if key == "@context":
                    for entry in value if type(value) is list else [value]:
                        if entry is None or type(entry) is dict:
                            continue
                        if type(entry) is not str or entry not in KNOWN_CONTEXTS:
                            return False
                elif type(value) is dict or type(value) is list:
                    stack.append(value)
        elif type(node) is list:
            stack.extend(item for item in node if type(item) is dict or type(item) is list)
    return True


def check_contexts(document: JSONObject) -> None:
    """Check that every ``@context`` entry is a shipped URL or an inline object.

    :raises ContextError: ``contextNotAllowed`` with the path of the first unknown entry; the
        entry itself is named only when it is a URL (anything else might be a claim).
    """
    if _contexts_all_known(document):
        return
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
    # pyld (and the requests and lxml it imports) loads on first use: a fifth of a service's
    # start-up, and a verifier that has seen a credential's shape never expands it again.
    from pyld import jsonld  # type: ignore[import-untyped,unused-ignore]

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


#: How many accepted shapes :func:`check_terms` remembers (oldest forgotten first).
_SHAPE_CACHE_SIZE = 2048
_accepted_shapes: dict[bytes, None] = {}
#: A large integer pyld may fail on (OverflowError): such numbers stay in the shape verbatim.
_SAFE_INTEGER = 2**53
_ID_OR_VALUE = frozenset({"@id", "@value"})


@cache
def _pinned_vocabulary() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """From every pinned context, scoped ones included: the terms they define, the terms that
    alias ``@id``, and the terms that alias another keyword (``@type``, ...)."""
    terms: set[str] = set()
    id_aliases: set[str] = set()
    keyword_aliases: set[str] = set()

    def walk(context: JSON) -> None:
        if isinstance(context, list):
            for item in context:
                walk(item)
        elif isinstance(context, dict):
            for term, definition in context.items():
                terms.add(term)
                target = definition.get("@id") if isinstance(definition, dict) else definition
                if isinstance(target, str) and target.startswith("@"):
                    (id_aliases if target == "@id" else keyword_aliases).add(term)
                if isinstance(definition, dict) and "@context" in definition:
                    walk(definition["@context"])

    for url in KNOWN_CONTEXTS:
        walk(load_context(url).get("@context"))
    return frozenset(terms), frozenset(id_aliases), frozenset(keyword_aliases)


class _NotCacheable(Exception):
    """The document has an inline context, or a value that is not JSON."""


def _shape_key(document: JSONObject, strict: bool) -> bytes | None:
    """The digest of ``document``'s *shape*, or ``None`` when it is not cacheable (an inline
    context anywhere, nesting too deep to walk, a value that is not JSON).

    The shape is what pyld expansion and :func:`expand`'s checks can depend on: every key, in
    order; the ``@context`` values (all pinned URLs: no other term can alias a keyword); the
    values of ``@type`` and its aliases and of other keywords but ``@id``/``@value``; strings
    that are terms of a pinned context (an ``@vocab``-typed property expands them as terms) or
    start with ``@``. Every other string is reduced to its class (absolute IRI, blank node id,
    anything else); a number to ``int`` or ``float`` unless pyld could fail on it (a large
    integer, a non-finite float). The token stream is unambiguous (see the comment below).
    """
    terms, _, keyword_aliases = _pinned_vocabulary()
    absolute = _ABSOLUTE_IRI.match
    # Two streams: one tag character per token, and the texts the tags "k" (key), "v"
    # (verbatim string), "c" (context URL), "N" (large integer) and "F" (non-finite float)
    # carry. The texts are hashed as one JSON array, so the pair is unambiguous. Strings, the
    # common leaf, are classified inline rather than by a call per value (2x faster).
    tags: list[str] = ["s" if strict else "l"]
    texts: list[str] = []
    tag = tags.append
    text = texts.append

    # Values are typed Any here on purpose: ``typing.cast`` is a function call per value.
    def scalar(value: Any) -> None:
        kind = type(value)
        if value is None or kind is bool:
            tag("n" if value is None else "t" if value else "f")
        elif kind is int:
            if -_SAFE_INTEGER < value < _SAFE_INTEGER:
                tag("i")
            else:
                tag("N")
                text(str(value))
        elif kind is float:
            if value - value == 0.0:
                tag("d")
            else:
                tag("F")
                text(repr(value))
        else:
            raise _NotCacheable

    def array(node: list[Any], verbatim: bool) -> None:
        tag("[")
        for item in node:
            kind = type(item)
            if kind is str:
                if verbatim or item in terms or item[:1] == "@":
                    tag("v")
                    text(item)
                elif item[:2] == "_:":
                    tag("B")
                else:
                    tag("I" if absolute(item) else "T")
            elif kind is dict:
                obj(item)
            elif kind is list:
                array(item, verbatim)
            else:
                scalar(item)
        tag("]")

    def obj(node: dict[str, Any]) -> None:
        tag("{")
        for key, value in node.items():
            tag("k")
            text(key)
            if key == "@context":
                for entry in value if type(value) is list else [value]:
                    if type(entry) is not str:
                        raise _NotCacheable
                    tag("c")
                    text(entry)
                tag(";")
                continue
            kind = type(value)
            if kind is str:
                if (
                    value in terms
                    or value[:1] == "@"
                    or key in keyword_aliases
                    or (key[:1] == "@" and key not in _ID_OR_VALUE)
                ):
                    tag("v")
                    text(value)
                elif value[:2] == "_:":
                    tag("B")
                else:
                    tag("I" if absolute(value) else "T")
            elif kind is dict:
                obj(value)
            elif kind is list:
                verbatim = key in keyword_aliases or (key[:1] == "@" and key not in _ID_OR_VALUE)
                array(value, verbatim)
            else:
                scalar(value)
        tag("}")

    try:
        obj(document)
        data = "".join(tags) + json.dumps(texts)
    except (_NotCacheable, RecursionError):
        return None
    return hashlib.sha256(data.encode("ascii")).digest()


def check_terms(document: JSONObject, *, strict: bool = True) -> None:
    """Check that every ``@context`` entry is pinned (:func:`check_contexts`, whose errors come
    first) and every term of ``document`` is defined by its pinned contexts.

    A document of a shape accepted before is accepted at once (module docstring); anything
    else is expanded in full, and its shape remembered when it passes.

    :raises ContextError: see :func:`expand`.
    """
    key = _shape_key(document, strict)
    if key is not None and key in _accepted_shapes:
        return
    expand(document, strict=strict)
    if key is not None:
        if len(_accepted_shapes) >= _SHAPE_CACHE_SIZE:
            del _accepted_shapes[next(iter(_accepted_shapes))]
        _accepted_shapes[key] = None
