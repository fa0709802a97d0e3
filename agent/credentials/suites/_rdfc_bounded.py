"""pyld's RDFC-1.0 canonicaliser with a work budget, for :mod:`.eddsa_rdfc_2022`.

A module of its own so that pyld is imported only when RDF is first canonicalised.
"""

from __future__ import annotations

from typing import Any

from pyld.canon import URDNA2015  # type: ignore[import-untyped,unused-ignore]
from pyld.identifier_issuer import IdentifierIssuer  # type: ignore[import-untyped,unused-ignore]

__all__ = ["BoundedURDNA2015", "Budget", "TooComplex"]


class TooComplex(Exception):
    """Raised inside the canonicaliser when the work budget is spent."""


class Budget:
    __slots__ = ("left",)

    def __init__(self, steps: int) -> None:
        self.left = steps

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise TooComplex


class CountingIssuer(IdentifierIssuer):  # type: ignore[misc,unused-ignore]
    """An identifier issuer whose copies (one per permutation RDFC tries) spend the budget."""

    def __init__(self, prefix: str, budget: Budget) -> None:
        super().__init__(prefix)
        self.budget = budget

    @classmethod
    def adopt(cls, issuer: Any, budget: Budget) -> CountingIssuer:
        clone = cls(issuer.prefix, budget)
        clone.counter = issuer.counter
        clone.existing = dict(issuer.existing)
        clone.order = list(issuer.order)
        return clone

    def __deepcopy__(self, memo: dict[int, Any]) -> CountingIssuer:
        # The state is str -> str and a list of str: shallow copies equal deep ones.
        self.budget.spend()
        return CountingIssuer.adopt(self, self.budget)


class BoundedURDNA2015(URDNA2015):  # type: ignore[misc,unused-ignore]
    """pyld's RDFC-1.0 (URDNA2015) with every N-degree step counted against a budget.

    The output is pyld's, unchanged: only ``hash_n_degree_quads`` is wrapped, and the issuer it
    receives is swapped for a :class:`CountingIssuer` holding the same state.
    """

    def __init__(self, budget: Budget) -> None:
        super().__init__()
        self._budget = budget

    def hash_n_degree_quads(self, id_: str, issuer: Any) -> Any:
        self._budget.spend()
        if not isinstance(issuer, CountingIssuer):
            issuer = CountingIssuer.adopt(issuer, self._budget)
        return super().hash_n_degree_quads(id_, issuer)
