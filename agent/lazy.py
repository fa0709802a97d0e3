"""Lazy re-exports for a package's ``__init__`` (PEP 562): each public name is imported from
its submodule on first use, so a service loads only what it runs (start-up time,
docs/performance.md).

A package lists its names twice on purpose: under ``if typing.TYPE_CHECKING:`` as ordinary
imports (what mypy and readers see) and in the ``sources`` table given here (what runs);
``tests/startup/test_startup_imports.py`` checks that the two agree.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, namespace: MutableMapping[str, Any], sources: Mapping[str, tuple[str, ...]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package`` whose globals are ``namespace``.

    :param sources: submodule name -> the public names it provides. A submodule's own name
        resolves to the submodule (``package.sub`` before anyone imported it).
    """
    module_of = {name: module for module, names in sources.items() for name in names}

    def getattr_(name: str) -> Any:
        if name in sources:  # a submodule not imported yet
            return importlib.import_module(f"{package}.{name}")
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value  # later lookups are plain attribute reads
        return value

    def dir_() -> list[str]:
        return sorted({*namespace, *module_of})

    return getattr_, dir_
