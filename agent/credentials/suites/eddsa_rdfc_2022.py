"""The ``eddsa-rdfc-2022`` cryptosuite (vc-di-eddsa 1.0, section 3.2).

https://www.w3.org/TR/vc-di-eddsa/#eddsa-rdfc-2022

* Transformation (3.2.3): RDF Dataset Canonicalization (RDFC-1.0) of the unsecured document as
  N-Quads. pyld 3.3 names the algorithm ``URDNA2015``; RDFC-1.0 is its standardised version
  and produces the same output for the SHA-256 variant (RDFC-1.0, Appendix "Changes since
  URDNA2015"). Contexts come only from :mod:`agent.credentials.contexts`, and expansion runs
  in safe mode (``strict=False``): a dropped term is an error, never silently unsigned.
* Proof configuration (3.2.5): the proof options with the document's ``@context``; the proof
  itself does not carry ``@context``.
* Hashing (3.2.4): ``sha256(canonical proof config) || sha256(canonical document)``.
* Serialization (3.2.6): Ed25519; ``proofValue`` is multibase base58btc.

Canonicalisation runs *before* the signature can be checked, on input anyone can send, and
RDFC-1.0 is exponential in the worst case (a "poison graph" of a few mutually-referencing blank
nodes keeps the N-degree hashing busy for hours; RDFC-1.0 section 4.4 asks implementations to
bound it). pyld has no bound, so this module adds three, each a
:class:`~agent.errors.CryptosuiteError` ``PROOF_TRANSFORMATION_ERROR`` whose
``details['reason']`` says which:

* ``tooManyBlankNodes``: more than ``max_blank_nodes`` distinct blank nodes in the RDF dataset
  (default :data:`DEFAULT_MAX_BLANK_NODES`; a credential here has a handful, FHIR content is a
  JSON literal);
* ``blankNodeCycle``: blank nodes that reference each other in a cycle, which JSON-LD only
  produces from explicit ``_:`` labels, never from nested objects;
* ``canonicalizationTooComplex``: the N-degree hashing took more than ``max_work`` steps
  (recursions plus permutations; default :data:`DEFAULT_MAX_WORK`), which also covers poison
  shapes without cycles (many identical sibling objects).
"""

from __future__ import annotations

import hashlib
from typing import Any

from agent.credentials import contexts
from agent.credentials.suites import _common
from agent.errors import ContextError, CryptosuiteError, ErrorCode
from agent.keys.signer import ResolvedKey, Signer
from agent.types import JSONObject

__all__ = [
    "DEFAULT_MAX_BLANK_NODES",
    "DEFAULT_MAX_WORK",
    "EddsaRdfc2022",
    "canonicalize",
    "hash_data",
]

NAME = "eddsa-rdfc-2022"

#: More distinct blank nodes than this in one document (or proof configuration) are refused
#: before canonicalisation. Room for a presentation of a dozen credentials.
DEFAULT_MAX_BLANK_NODES = 64
#: Steps of RDFC-1.0 N-degree hashing (recursive calls plus permutations tried) allowed for one
#: document; a tree-shaped credential needs none or a few, a poison graph millions.
DEFAULT_MAX_WORK = 50_000


def _transformation_error(reason: str, message: str) -> CryptosuiteError:
    return CryptosuiteError(
        f"cannot canonicalise the document as RDF: {message}",
        code=ErrorCode.PROOF_TRANSFORMATION_ERROR,
        details={"reason": reason},
    )


def _check_blank_nodes(dataset: dict[str, list[dict[str, Any]]], limit: int) -> None:
    """Refuse too many blank nodes, or blank nodes that reference each other in a cycle.

    Edges run from a quad's blank subject to its blank object, and from a blank graph name
    to the blank nodes of the quads in that graph: nested JSON objects and graph containers
    give a forest, so a cycle means explicit ``_:`` labels pointing back.
    """
    edges: dict[str, set[str]] = {}
    for graph, triples in dataset.items():
        graph_node = graph if graph.startswith("_:") else None
        if graph_node is not None:
            edges.setdefault(graph_node, set())
        for triple in triples:
            subject, obj = triple["subject"], triple["object"]
            ends = [item["value"] for item in (subject, obj) if item.get("type") == "blank node"]
            for node in ends:
                edges.setdefault(node, set())
            if subject.get("type") == "blank node" and obj.get("type") == "blank node":
                edges[subject["value"]].add(obj["value"])
            if graph_node is not None:
                edges[graph_node].update(ends)
        if len(edges) > limit:
            break
    if len(edges) > limit:
        raise _transformation_error(
            "tooManyBlankNodes",
            f"it has more than {limit} blank nodes (objects without an id); "
            "such documents are refused before canonicalisation, whose cost can explode",
        )
    # Iterative depth-first search: white (absent), grey (on the stack), black (done).
    state: dict[str, int] = {}
    for root in edges:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(edges[root]))]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                raise _transformation_error(
                    "blankNodeCycle",
                    "blank nodes reference each other in a cycle (through _: labels); "
                    "such documents are refused before canonicalisation, whose cost can explode",
                )
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(edges[child])))


def canonicalize(
    document: JSONObject,
    *,
    code: ErrorCode,
    max_blank_nodes: int = DEFAULT_MAX_BLANK_NODES,
    max_work: int = DEFAULT_MAX_WORK,
) -> str:
    """RDFC-1.0 canonical N-Quads of ``document`` using only the pinned contexts.

    :param max_blank_nodes: refuse a document with more distinct blank nodes.
    :param max_work: refuse a document whose N-degree hashing needs more steps.
    :raises CryptosuiteError: ``code`` for a term that would be dropped or any JSON-LD error
        (the :class:`~agent.errors.ContextError` is chained as ``__cause__``);
        ``PROOF_TRANSFORMATION_ERROR`` with ``details['reason']`` ``tooManyBlankNodes``,
        ``blankNodeCycle`` or ``canonicalizationTooComplex`` for a document whose
        canonicalisation would be too costly (see the module docstring).
    """
    # pyld (and the requests and lxml it imports) is loaded on first use: most processes never
    # canonicalise RDF, and it is a fifth of a service's start-up.
    from pyld import jsonld  # type: ignore[import-untyped,unused-ignore]

    from agent.credentials.suites._rdfc_bounded import BoundedURDNA2015, Budget, TooComplex

    try:
        expanded = contexts.expand(document, strict=False)
        # The options jsonld.normalize would pass to to_rdf; the canonicalisation itself is
        # run here so that it can be bounded.
        options: dict[str, Any] = {
            **contexts.jsonld_options(strict=False),
            "algorithm": "URDNA2015",
            "extractAllScripts": True,
            "processingMode": "json-ld-1.1",
            "produceGeneralizedRdf": False,
        }
        dataset = jsonld.JsonLdProcessor().to_rdf(expanded, options)
        _check_blank_nodes(dataset, max_blank_nodes)
        try:
            nquads: str = BoundedURDNA2015(Budget(max_work)).main(
                dataset, {"format": "application/n-quads"}
            )
        except TooComplex:
            raise _transformation_error(
                "canonicalizationTooComplex",
                f"canonicalising its blank nodes needs more than {max_work} steps; such "
                "documents (many identical or interlinked objects without an id) are refused",
            ) from None
    except ContextError as exc:
        raise CryptosuiteError(
            f"cannot canonicalise the document as RDF: {exc.message}",
            code=code,
            details=exc.details,
        ) from exc
    except jsonld.JsonLdError as exc:
        raise CryptosuiteError(
            f"cannot canonicalise the document as RDF: {exc.type}", code=code
        ) from exc
    except (OverflowError, ValueError, TypeError, RecursionError) as exc:
        # pyld's own failures on hostile input (an integer too large for a double).
        raise CryptosuiteError(
            f"cannot canonicalise the document as RDF: {type(exc).__name__}", code=code
        ) from exc
    return nquads


def hash_data(
    document: JSONObject,
    proof_config: JSONObject,
    *,
    code: ErrorCode,
    max_blank_nodes: int = DEFAULT_MAX_BLANK_NODES,
    max_work: int = DEFAULT_MAX_WORK,
) -> bytes:
    """sha256(RDFC(proof config with the document's @context)) || sha256(RDFC(document)).

    ``proof_config`` must not contain ``proofValue``; its ``@context`` is replaced by the
    document's (3.2.5 step 4). The limits are those of :func:`canonicalize`.
    """
    _common.check_proof_config(proof_config, NAME, code)
    config = {key: value for key, value in proof_config.items() if key != "@context"}
    if "@context" in document:
        config["@context"] = document["@context"]
    limits = {"max_blank_nodes": max_blank_nodes, "max_work": max_work}
    config_nquads = canonicalize(config, code=code, **limits)
    config_hash = hashlib.sha256(_utf8(config_nquads, code)).digest()
    transformation = ErrorCode.PROOF_TRANSFORMATION_ERROR
    document_nquads = canonicalize(document, code=transformation, **limits)
    return config_hash + hashlib.sha256(_utf8(document_nquads, transformation)).digest()


def _utf8(nquads: str, code: ErrorCode) -> bytes:
    try:
        return nquads.encode("utf-8")
    except UnicodeEncodeError:
        raise CryptosuiteError(
            "cannot canonicalise the document as RDF: a string holds a lone surrogate, "
            "which is not valid UTF-8",
            code=code,
        ) from None


class EddsaRdfc2022:
    """``eddsa-rdfc-2022``: RDFC-1.0 canonicalisation, SHA-256, Ed25519.

    :param max_blank_nodes: see :func:`canonicalize`.
    :param max_work: see :func:`canonicalize`.
    """

    def __init__(
        self, *, max_blank_nodes: int = DEFAULT_MAX_BLANK_NODES, max_work: int = DEFAULT_MAX_WORK
    ) -> None:
        self._limits = {"max_blank_nodes": max_blank_nodes, "max_work": max_work}

    @property
    def name(self) -> str:
        return NAME

    def create_proof(self, document: JSONObject, options: JSONObject, signer: Signer) -> JSONObject:
        """vc-di-eddsa 3.2.1 Create Proof.

        :raises CryptosuiteError: ``PROOF_GENERATION_ERROR`` for bad options or terms the
            contexts do not define.
        """
        proof = {key: value for key, value in options.items() if key != "proofValue"}
        data = hash_data(document, proof, code=ErrorCode.PROOF_GENERATION_ERROR, **self._limits)
        proof["proofValue"] = _common.sign(signer, data)
        return proof

    def verify_proof(
        self, document: JSONObject, proof: JSONObject, public_key: ResolvedKey
    ) -> None:
        """vc-di-eddsa 3.2.2 Verify Proof.

        :raises CryptosuiteError: ``MALFORMED_PROOF_ERROR`` for a malformed proof,
            ``PROOF_TRANSFORMATION_ERROR`` when the document cannot be canonicalised, or
            would cost too much to (``details['reason']``, see :func:`canonicalize`).
        :raises agent.errors.SignatureError: the signature does not verify.
        """
        options = {key: value for key, value in proof.items() if key != "proofValue"}
        data = hash_data(document, options, code=ErrorCode.MALFORMED_PROOF_ERROR, **self._limits)
        _common.verify(proof, public_key, data)
