"""Names ``mydata serve`` needs while it reads its command line, before a service's modules
(FastAPI, uvicorn: a third of a second) are imported: so that work which must precede the
service, such as opening a passphrase store (:mod:`agent.storage.opening`), can begin first.
:mod:`agent.observability` and :mod:`agent.service` re-export them.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum

__all__ = [
    "ADMIN_TOKEN_ENV",
    "NO_PASSPHRASE",
    "WALLET_PASSPHRASE_ENV",
    "LogFormat",
    "LogLevel",
    "is_loopback",
]

#: The environment variable that holds the admin bearer token.
ADMIN_TOKEN_ENV = "MYDATA_ADMIN_TOKEN"  # noqa: S105 - a variable name, not a secret
#: The wallet store's passphrase (else it is asked for); ``wallet.api.PASSPHRASE_ENV``.
WALLET_PASSPHRASE_ENV = "MYDATA_PASSPHRASE"  # noqa: S105 - a variable name, not a secret
#: What a wallet command or service says when it has no passphrase and no terminal to ask on.
NO_PASSPHRASE = (
    f"no wallet passphrase: set {WALLET_PASSPHRASE_ENV} (or run in a terminal to be asked)"
)


class LogFormat(StrEnum):
    """How :func:`agent.observability.configure_logging` writes log records."""

    JSON = "json"
    TEXT = "text"


class LogLevel(StrEnum):
    """The levels ``mydata serve --log-level`` takes (Python's, which uvicorn takes too)."""

    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    DEBUG = "debug"


def is_loopback(host: str) -> bool:
    """A host name that can only mean this machine: ``localhost`` or a name under it (RFC
    6761), or an address in 127.0.0.0/8 or ``::1`` (brackets allowed). Any other name may
    resolve to any interface."""
    name = host.lower().strip("[]")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
