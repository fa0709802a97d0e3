"""The layering rule of DESIGN.md section 4, checked on the source: parties import only agent."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PARTIES = ("issuer", "wallet", "verifier", "governance")
ALLOWED: dict[str, set[str]] = {
    "agent": set(),
    "issuer": {"agent"},
    "wallet": {"agent"},
    "verifier": {"agent"},
    "governance": {"agent"},
}
PROJECT = {"agent", "mydata", *PARTIES}


def _project_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & PROJECT


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_the_design_allows(package: str) -> None:
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = _project_imports(path) - ALLOWED[package] - {package}
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert offenders == []


#: Native and crypto libraries, each confined to its adapter modules (STYLE.md item 10).
CONFINED: dict[str, set[str]] = {
    "aries_askar": {"agent/keys/askar.py", "agent/storage/askar.py", "agent/messaging/_askar.py"},
    "nacl": {"agent/keys/ed25519.py", "agent/keys/convert.py"},
    "peerdid": set(),  # used by tests only, as an oracle (docs/decisions/0003)
    "PIL": {"verifier/qrimage.py"},  # image decoders: hostile input, bounded there
    "zxingcpp": {"verifier/qrimage.py"},
}


@pytest.mark.parametrize("library", sorted(CONFINED))
def test_native_library_is_confined_to_its_adapters(library: str) -> None:
    importers = set()
    for path in sorted(ROOT.glob("*/**/*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.split("/")[0] not in PROJECT:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(name.split(".")[0] == library for name in names):
                importers.add(relative)
    assert importers <= CONFINED[library], sorted(importers - CONFINED[library])
