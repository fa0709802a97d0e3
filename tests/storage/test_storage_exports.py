"""The public surfaces of agent.storage and agent.keys: sorted and complete (STYLE 2)."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("package", ["agent.storage", "agent.keys"])
def test_all_is_sorted_and_complete(package: str) -> None:
    module = importlib.import_module(package)
    exported = list(module.__all__)
    assert exported == sorted(exported)
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, type(importlib))
    }
    public -= {"annotations"}
    assert set(exported) == public


def test_only_the_adapters_import_aries_askar() -> None:
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "agent"
    importers = set()
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(name.split(".")[0] == "aries_askar" for name in names):
                importers.add(path.relative_to(root.parent).as_posix())
    assert importers == {"agent/keys/askar.py", "agent/storage/askar.py"}
