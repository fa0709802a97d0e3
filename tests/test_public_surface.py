"""Each package's public surface is deliberate: ``__all__`` sorted, resolvable and complete."""

from __future__ import annotations

import importlib

import pytest

#: Packages and the modules whose whole ``__all__`` they re-export.
PACKAGES: dict[str, list[str]] = {
    "agent.credentials": [
        "agent.credentials.contexts",
        "agent.credentials.jcs",
        "agent.credentials.model",
        "agent.credentials.proofs",
        "agent.credentials.status_list",
        "agent.credentials.suites",
    ],
    "agent.credentials.jose": [],
    "agent.credentials.sd_jwt": [],
    "agent.credentials.smart_health_cards": [],
    "agent.dids": ["agent.dids.resolver"],
    "agent.messaging": [
        "agent.messaging.envelope",
        "agent.messaging.keys",
        "agent.messaging.message",
        "agent.messaging.oob",
        "agent.messaging.transport",
    ],
    "agent.protocols": [
        "agent.protocols.attachments",
        "agent.protocols.base",
        "agent.protocols.issuance",
        "agent.protocols.notification",
        "agent.protocols.presentation",
        "agent.protocols.problem_report",
        "agent.protocols.registry",
        "agent.protocols.trust_ping",
    ],
    "agent.keys": ["agent.keys.askar", "agent.keys.multikey", "agent.keys.signer"],
    "agent.storage": ["agent.storage.askar"],
    "agent.status": ["agent.status.allocator", "agent.status.checker"],
    "agent.status.publish": [],
    "verifier": ["verifier.report", "verifier.verify"],
    "issuer": ["issuer.fhir", "issuer.issue"],
    "governance": ["governance.didauth", "governance.operator"],
    "governance.api": [],
    "governance.audit": [],
    "governance.selftest": [],
    "issuer.accreditation": [],
    "agent.cliutil": [],
    "agent.errors": [],
    "agent.observability": [],
    "agent.runtime": [],
    "agent.service": [],
    "agent.requestproof": [],
    "agent.trust": [],
    "agent.trustsync": [],
    "verifier.trust": [],
    "verifier.trustsync": [],
    "wallet.trust": [],
}


def _sort_key(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: SCREAMING_CASE, then CamelCase, then the rest.
    if name.isupper():
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_all_is_sorted_and_resolvable(package: str) -> None:
    module = importlib.import_module(package)
    names = list(module.__all__)
    assert names == sorted(names, key=_sort_key)
    assert len(names) == len(set(names))
    for name in names:
        assert hasattr(module, name), f"{package}.{name} is in __all__ but not defined"


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_package_re_exports_its_modules(package: str) -> None:
    module = importlib.import_module(package)
    for source in PACKAGES[package]:
        missing = set(importlib.import_module(source).__all__) - set(module.__all__)
        assert not missing, f"{package} does not re-export {sorted(missing)} from {source}"


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_every_public_name_in_the_namespace_is_exported(package: str) -> None:
    module = importlib.import_module(package)
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, type(importlib))
        and name != "annotations"
    }
    if not hasattr(module, "__path__"):  # a module: only what it defines, not what it imports
        public = {
            name for name in public if getattr(getattr(module, name), "__module__", None) == package
        }
    assert public <= set(module.__all__), sorted(public - set(module.__all__))
