"""Shared fixtures: spec vectors, stores on SQLite files and (when configured) PostgreSQL."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

VECTORS = Path(__file__).parent / "vectors"

#: The URL of a PostgreSQL database the tests may use; .ci/run sets it. Each test derives a
#: database of its own from it (askar creates it, and drops it when the test removes the store).
POSTGRES_URL = os.environ.get("MYDATA_TEST_POSTGRES_URL", "")


def load_vector(*parts: str) -> Any:
    """A vector file under tests/vectors/, parsed when it is JSON."""
    path = VECTORS.joinpath(*parts)
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix in {".json", ".jsonld"} else text


@pytest.fixture
def postgres_url() -> str:
    """A URL for a fresh PostgreSQL database of this test's own, or a skip with the reason."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need MYDATA_TEST_POSTGRES_URL (.ci/run sets it)")
    base, _, _ = POSTGRES_URL.rpartition("/")
    return f"{base}/mydata_test_{uuid.uuid4().hex[:12]}"
