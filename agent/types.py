"""Type aliases shared across the packages."""

from __future__ import annotations

from typing import Any, TypeAlias

__all__ = ["JSON", "JSONObject"]

#: A parsed JSON value. Kept loose on purpose: JSON-LD documents are open-world.
JSON: TypeAlias = Any
#: A parsed JSON object (a credential, a proof, a DID document).
JSONObject: TypeAlias = dict[str, Any]
