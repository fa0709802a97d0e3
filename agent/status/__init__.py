"""Bitstring Status List services: index allocation for issuers, list checking for verifiers.

The codec, the documents and the validation rules are pure functions in
:mod:`agent.credentials.status_list`; this package adds the store (:mod:`.allocator`) and the
network (:mod:`.checker`).
"""

from agent.status.allocator import (
    ALLOCATABLE_PURPOSES,
    HEAD_CATEGORY,
    LIST_CATEGORY,
    EncodedList,
    ReservedIndexes,
    StatusListAllocator,
)
from agent.status.checker import DEFAULT_MAX_LIST_BYTES, DEFAULT_TIMEOUT, StatusChecker

__all__ = [
    "ALLOCATABLE_PURPOSES",
    "DEFAULT_MAX_LIST_BYTES",
    "DEFAULT_TIMEOUT",
    "HEAD_CATEGORY",
    "LIST_CATEGORY",
    "EncodedList",
    "ReservedIndexes",
    "StatusChecker",
    "StatusListAllocator",
]
