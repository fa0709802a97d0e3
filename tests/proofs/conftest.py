"""Fixtures for the proof tests (helpers live in helpers.py)."""

from __future__ import annotations

import pytest

from tests.proofs.helpers import DidKeyResolver


@pytest.fixture
def resolver() -> DidKeyResolver:
    return DidKeyResolver()
