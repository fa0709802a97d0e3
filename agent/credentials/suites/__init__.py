"""Data Integrity cryptosuites by name (VC Data Integrity 1.0, section 3).

:func:`get_suite` is the only way other modules obtain a suite, so the set of accepted
suites is explicit and a proof naming any other suite fails with ``unsupportedCryptosuite``.
"""

from __future__ import annotations

from collections.abc import Mapping

from agent.credentials.suites.base import Cryptosuite
from agent.credentials.suites.eddsa_jcs_2022 import EddsaJcs2022
from agent.credentials.suites.eddsa_rdfc_2022 import EddsaRdfc2022
from agent.errors import CryptosuiteError, ErrorCode

__all__ = ["SUITES", "Cryptosuite", "EddsaJcs2022", "EddsaRdfc2022", "get_suite"]

#: Every suite this project implements, by ``cryptosuite`` name.
SUITES: Mapping[str, Cryptosuite] = {
    suite.name: suite for suite in (EddsaJcs2022(), EddsaRdfc2022())
}


def get_suite(name: object) -> Cryptosuite:
    """The suite called ``name``.

    :raises CryptosuiteError: (``unsupportedCryptosuite``) for any other name.
    """
    suite = SUITES.get(name) if isinstance(name, str) else None
    if suite is None:
        raise CryptosuiteError(
            f"cryptosuite {name!r} is not supported; supported: {', '.join(sorted(SUITES))}",
            code=ErrorCode.UNSUPPORTED_CRYPTOSUITE,
            details={"cryptosuite": name},
        )
    return suite
